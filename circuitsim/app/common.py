"""What the teaching page's server modules share: limits, file reading and writing, request checks
and stopping a job's process group (:mod:`circuitsim.app.server` serves the page,
:mod:`circuitsim.app.jobs` runs its simulations)."""

from __future__ import annotations

import logging

import json
import os
import re
import signal
import stat
import subprocess
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any, Optional

logger = logging.getLogger(__name__)

APP_RECORD = "app.json"
#: at most this many runs wait in the queue (one more may be running)
MAX_QUEUE = 8
#: longest biological time (s) one page run may simulate by default (circuitsim-app --max-duration)
MAX_DURATION_S = 60.0
#: wall-clock limit of one page run, compilation included (s; circuitsim-app --max-wall)
MAX_WALL_S = 900.0
#: after SIGTERM, a job's process has this long to clean up before SIGKILL (s)
STOP_GRACE_S = 5.0
#: rendered views kept in memory
VIEW_CACHE = 16
#: largest request body accepted (bytes); a form is a few kB
MAX_BODY = 1 << 20
#: deepest JSON nesting accepted in a request body (a form is 2 deep)
MAX_JSON_DEPTH = 8
#: after refusing a body unread, drop at most this much of it, for at most this long (a lingering close)
LINGER_BYTES, LINGER_S = 4 << 20, 1.0
#: header a POST must carry, with the token written into the served page
TOKEN_HEADER = "X-Circuitsim-Token"
_TOKEN_META = "circuitsim-token"
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_STATIC_NAME = re.compile(r"^[A-Za-z0-9_-]+\.(html|js|css|svg|png)$")
_PROGRESS = re.compile(r"simulated ([0-9.]+) of ([0-9.]+) s")


def static_dir() -> Path:
    return Path(str(resources.files("circuitsim.app") / "static"))


def _atomic_json(path: Path, data: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def stop_process(proc: "subprocess.Popen[bytes]", grace_s: float = STOP_GRACE_S) -> None:
    """Stop a job's process group: SIGTERM (the job stops its compiled program and cleans up), then
    SIGKILL after ``grace_s`` (the compiled program dies with its parent)."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, grace_s)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            continue
    try:   # what is left of the group (e.g. a compiler started by the job) goes too
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    # SIGKILL is delivered asynchronously: return only once no member of the group still runs, so
    # that a caller (and a test) sees the job's children gone, not dying
    deadline = time.monotonic() + grace_s
    while group_running(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.01)


def group_running(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (zombies, which only wait to be reaped, do
    not count; where /proc is missing, whether the group has any member)."""
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in proc_dir.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":   # state, ppid, pgrp
            return True
    return False


def read_regular(path: Path) -> Optional[bytes]:
    """The bytes of ``path`` if it is a regular file (not a symbolic link, device or pipe), else None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return None
        return fh.read()


class RequestError(Exception):
    """A request the server refuses: HTTP status and a short message."""

    def __init__(self, status: int, message: str, path: Optional[str] = None):
        super().__init__(message)
        self.status, self.message, self.path = status, message, path


def json_depth_ok(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text nests arrays and objects at most ``limit`` deep (strings skipped).

    Checked before :func:`json.loads`, whose recursion a deeply nested body would exhaust.
    """
    depth = 0
    for token in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text):
        ch = token.group()
        if ch in "[{":
            depth += 1
            if depth > limit:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
