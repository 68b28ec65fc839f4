"""The private run folders of the standalone device and the compiled program's process.

Each run works in its own folder under ``build/runs/`` (:mod:`circuitsim.device`). Its ``owner``
file is locked (``flock``) by the Python process and inherited by the compiled program, so the
lock lasts as long as either lives: :func:`remove_stale_runs` removes only the folders whose
processes are both gone. The program gets the parent-death signal (:func:`_die_with_parent`),
is killed with its whole process group by :func:`_stop`, and its output is checked for the I/O
errors it only prints (:func:`_check_program_io`).

Split out of :mod:`circuitsim.device`, which re-exports these names; the messages keep the
``circuitsim.device`` logger.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, List, Optional

from circuitsim.build_cache import _free_mb
from circuitsim.errors import StorageError

logger = logging.getLogger("circuitsim.device")


def _peak_kb(pid: int) -> int:
    """VmHWM (peak resident memory, kB) of a running process; 0 where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


OWNER_FILE = "owner"   # "<host> <pid> lock" of the process a run folder belongs to (locked while it runs)
OWNER_LOCKED = "lock"  # (older circuitsim wrote "<host> <pid>" without a lock)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_runs(runs: Path) -> List[Path]:
    """Delete run folders left by processes that died without cleaning up (e.g. SIGKILL).

    A run folder names its owner (host and pid) in its ``owner`` file, which the owner keeps
    locked (``flock``) while it runs, and which its compiled program inherits: the folder is
    stale when the owner ran on this host and the lock is free, i.e. the Python process and its
    program are both gone. (A folder of an older circuitsim, without the lock, is stale when its
    pid is gone.) Folders of other hosts (a shared cache on a cluster) and of live processes are kept.
    """
    host, removed = socket.gethostname(), []
    for folder in runs.glob("*-*"):
        owner = folder / OWNER_FILE
        try:
            fields = owner.read_text().split()
            owner_host, pid = fields[0], int(fields[1])
        except (OSError, ValueError, IndexError):
            continue
        if owner_host != host:
            continue
        if fields[2:] == [OWNER_LOCKED]:
            try:
                fd = os.open(owner, os.O_RDONLY)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:   # held: the run (or its program) is alive
                os.close(fd)
                continue
            try:
                shutil.rmtree(folder, ignore_errors=True)
            finally:
                os.close(fd)
            removed.append(folder)
        elif len(fields) == 2 and not _alive(pid):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    if removed:
        logger.info("removed %d run folder(s) left by processes that died: %s", len(removed),
                    ", ".join(f.name for f in removed))
    return removed


def _claim_run_folder(run_dir: Path) -> int:
    """Create the run folder's owner file, locked; the returned descriptor holds the lock (and is
    passed on to the compiled program, so the lock lasts as long as either process)."""
    fd = os.open(run_dir / OWNER_FILE, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)   # before the content: a reader never sees an unlocked owner
            mark = f" {OWNER_LOCKED}"
        except OSError as err:   # a file system without flock: the owner's pid alone decides
            if err.errno not in (errno.ENOLCK, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS):
                raise
            mark = ""
        os.write(fd, f"{socket.gethostname()} {os.getpid()}{mark}\n".encode())
    except OSError:
        os.close(fd)
        raise
    return fd


PR_SET_PDEATHSIG = 1   # <linux/prctl.h>
_PRCTL: Any = None


def _die_with_parent() -> Optional[Callable[[], None]]:
    """``preexec_fn`` for the compiled program: SIGKILL when this process dies (Linux only).

    prctl is looked up here, in the parent, so that the child only makes one foreign call
    between fork and exec; if the parent died before that call, the child exits at once.
    """
    global _PRCTL
    if not sys.platform.startswith("linux"):
        return None
    if _PRCTL is None:
        try:
            prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            _PRCTL = False
            return None
        prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        prctl.restype = ctypes.c_int
        _PRCTL = prctl
    if _PRCTL is False:
        return None
    prctl, parent, sig = _PRCTL, os.getpid(), int(signal.SIGKILL)

    def setup() -> None:
        prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return setup


def _stop(proc: subprocess.Popen) -> None:
    """Kill the compiled program (its whole process group) and reap it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(OSError):
                proc.kill()
    with contextlib.suppress(Exception):
        proc.wait(timeout=30)


def _check_program_io(run_dir: Path) -> None:
    """Brian2's program only prints a line when it cannot open a file, and exits 0; a full disk
    truncates its results silently. Either is an error here, not a result."""
    try:
        with open(run_dir / "stdout.txt", "rb") as fh:
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        text = ""
    if "Error opening static array" in text:
        raise StorageError(run_dir / "static_arrays", "the run's data arrays (the compiled program could not "
                           "read them back)", OSError(errno.EIO, os.strerror(errno.EIO)))
    free = _free_mb(run_dir)
    if "Error writing output file" in text or (free is not None and free < 1):
        raise StorageError(run_dir / "results", "the simulation's results (the compiled program could not write "
                           "them all)", OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
