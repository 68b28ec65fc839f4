"""Progress of builds and runs, through Python's logging (never straight to file descriptor 1).

The compiled program prints Brian2's progress lines ("0.5 s (25%) simulated in 1s, ...") into its
own output file; :class:`ProgramProgress` reads them while the program runs and logs each as
``simulated <t> of <T> s (<p>%), <w> s wall`` on the ``circuitsim.device`` logger, the same line the
runtime device logs. A notebook, the teaching page and a Hydra log file all see it.

When nothing has configured logging (a notebook or a plain script: the root logger has no
handler), :func:`show_progress_logs` gives the ``circuitsim`` logger a handler on stderr at INFO, so
a first build of up to a minute is not silent. Under Hydra, pytest or an application that sets up
logging itself nothing is changed.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from pathlib import Path
from typing import Optional

logger = logging.getLogger("circuitsim.device")

#: Brian2's standalone progress line (brian2/devices/cpp_standalone/device.py, report_progress)
BRIAN2_LINE = re.compile(r"^\s*([0-9.eE+-]+) s \((\d+)%\) simulated in")
#: the line circuitsim logs (the teaching page reads it: circuitsim.app.server._PROGRESS)
MESSAGE = "simulated %.2f of %.2f s (%3.0f%%), %.1f s wall"

_handler: Optional[logging.Handler] = None


class ProgramProgress:
    """Turns the progress lines a running program writes into ``path`` into log messages."""

    def __init__(self, path: Path, duration_s: float):
        self.path = Path(path)
        self.duration = float(duration_s)
        self.offset = 0
        self.partial = ""
        self.start = time.perf_counter()

    def poll(self) -> None:
        """Log the complete lines written since the last call (cheap when nothing is new)."""
        try:
            if self.path.stat().st_size <= self.offset:
                return
            with open(self.path, "r", errors="replace") as fh:
                fh.seek(self.offset)
                text = fh.read()
                self.offset = fh.tell()
        except OSError:
            return
        lines = (self.partial + text).split("\n")
        self.partial = lines.pop()
        for line in lines:
            self.line(line)

    def line(self, line: str) -> None:
        match = BRIAN2_LINE.match(line)
        if match is None:
            if line.strip():
                logger.debug("program: %s", line.strip())
            return
        done = float(match.group(1))
        pct = 100.0 * done / self.duration if self.duration > 0 else float(match.group(2))
        logger.info(MESSAGE, done, self.duration, pct, time.perf_counter() - self.start)


def show_progress_logs() -> None:
    """Show circuitsim's INFO messages on stderr when nothing has configured logging (idempotent)."""
    global _handler
    package = logging.getLogger("circuitsim")
    if _handler is not None or logging.getLogger().handlers or package.handlers:
        return
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(logging.Formatter("circuitsim: %(message)s"))
    _handler.addFilter(lambda record: not logging.getLogger().handlers)   # logging set up later: theirs
    package.addHandler(_handler)
    if package.level == logging.NOTSET:
        package.setLevel(logging.INFO)
