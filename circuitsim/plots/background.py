"""Figures drawn by a forked child process, so that a sweep's next point does not wait for them.

In a sweep the figures of one point (about 1-3 s on 2 cores) cost more than its simulation, and
none of the sweep's results depend on them. With :func:`enable` (the ``circuitsim`` command does it
in a Hydra multirun) :func:`circuitsim.plots.write_figures` forks: the child, which already holds
the finished result in memory, draws and saves the figures and exits; the parent goes on at once
(it writes ``metrics.json`` and starts the next point). The child inherits the run folder's
writer lock, so the folder stays locked until its figures are saved. At most ``max_children``
children draw at a time (a point waits for the oldest beyond that, so drawing never piles up),
and the process waits for all of them before it exits.

A single ``circuitsim`` run (no ``-m``) enables it with ``detach=True``: the command does not
wait for its figures at all. The child writes them after ``metrics.json`` is on disk, with its
standard streams on ``/dev/null`` (so a caller reading the command's output is not held up by it;
a failure goes to the run's log file), and keeps the folder's writer lock until the last figure
is saved: :func:`wait_for_folder` waits for that.

Forking is refused (figures are drawn in the process, as without :func:`enable`) where it is not
safe: not on POSIX, or with other threads running in the process (a child would inherit their
locks).
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from typing import Callable, List, Optional

logger = logging.getLogger(__name__)

_enabled = False
_max_children = 1
_children: List[int] = []
_registered = False
_detach = False


def enable(max_children: Optional[int] = None, detach: bool = False) -> None:
    """Draw later figures in forked children (at most ``max_children`` at a time; default: half
    the CPU count, at least 1). With ``detach`` the process does not wait for them when it exits."""
    global _enabled, _max_children, _registered, _detach
    _enabled = True
    _detach = detach
    _max_children = max(1, max_children if max_children is not None else (os.cpu_count() or 2) // 2)
    if not _registered:
        atexit.register(_wait_at_exit)
        _registered = True


def _wait_at_exit() -> None:
    if not _detach:
        wait()


def disable() -> None:
    """Draw figures in the process again (after waiting for the children drawing now)."""
    global _enabled, _detach
    wait()
    _enabled = _detach = False


def detached() -> bool:
    """Whether figures are drawn by children this process does not wait for (a single CLI run)."""
    return _detach and active()


def pending() -> List[int]:
    """Process ids of the children drawing now (or done and not yet reaped)."""
    return list(_children)


def active() -> bool:
    return _enabled and hasattr(os, "fork") and threading.active_count() == 1


def _collect(pid: int, block: bool) -> bool:
    """Reap child ``pid`` if it has ended (or wait for it); True if it is gone."""
    try:
        done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        done, status = pid, 0
    if not done:
        return False
    _children.remove(pid)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        logger.warning("a background figure process failed (exit status %d); the run's metrics are complete, "
                       "some of its figures may be missing", code)
    return True


def wait() -> None:
    """Wait until every figure drawn in the background is saved."""
    while _children:
        _collect(_children[0], block=True)


def run(draw: Callable[[], None]) -> bool:
    """Call ``draw()`` in a forked child; False (nothing done) where forking is not active."""
    if not active():
        return False
    for pid in list(_children):
        _collect(pid, block=False)
    while len(_children) >= _max_children:    # back-pressure: wait for the oldest
        _collect(_children[0], block=True)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:   # the child: draw, then leave without running the parent's exit handlers
        code = 0
        try:
            if _detach:
                _to_devnull()
            draw()
        except BaseException as err:   # noqa: BLE001  (reported, then the child's exit status says it)
            code = 1
            try:
                message = f"background figures failed: {type(err).__name__}: {err}"
                if _detach:
                    logger.error(message)   # the run's log file (the terminal is no longer there)
                else:
                    print(f"circuitsim: {message}", file=sys.stderr)
            except BaseException:   # noqa: BLE001
                pass
        finally:
            try:
                sys.stderr.flush()
            finally:
                os._exit(code)
    _children.append(pid)
    return True


def _to_devnull() -> None:
    """Point the standard streams at /dev/null: a detached child must not keep a caller's pipes
    open (``subprocess.run(capture_output=True)`` reads until every writer has closed them)."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def wait_for_folder(folder, timeout_s: float = 600.0) -> bool:
    """Wait until no process holds ``folder``'s writer lock (a detached child drawing its figures
    holds it until the last one is saved); False if it is still held after ``timeout_s``."""
    import fcntl
    import time

    fd = os.open(str(folder), os.O_RDONLY)
    try:
        end = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
                return True
            except BlockingIOError:
                if time.monotonic() > end:
                    return False
                time.sleep(0.05)
            except OSError:   # a file system without locks: nothing to wait for
                return True
    finally:
        os.close(fd)
