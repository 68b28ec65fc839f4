"""One run of the teaching page, in a process of its own.

The page's server (:mod:`circuitsim.app.server`) starts this module for each job::

    python -m circuitsim.app.worker --fd N --folder RUN_FOLDER   < {"overrides": [...]}

in a new session (process group), reads the overrides (already validated by the server) as JSON
on stdin, composes the config and calls :func:`circuitsim.api.simulate` into ``RUN_FOLDER``.
It reports on file descriptor ``N``, one JSON object per line: ``{"log": message}`` for each
INFO message of circuitsim's loggers (the page's status line and progress), then
``{"state": "done"}`` or ``{"state": "failed", "error": {kind, path, message}}``.

A process of its own is what makes a job stoppable: the server cancels a job, or ends one that
runs past its wall-clock limit, by sending SIGTERM to this process group (this module turns it
into :class:`Stopped`, so the simulation's clean-up runs and the compiled program is stopped),
then SIGKILL after a grace period (the compiled program also dies with its parent). A run that
hangs in Python cannot block the page's queue either.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import traceback
from typing import Any, Dict, List, Optional

MESSAGE_CHARS = 300


class Stopped(BaseException):
    """SIGTERM: the server cancelled the job or it ran past its wall-clock limit."""


class _PipeLog(logging.Handler):
    """Sends each log message (its first line) to the server as ``{"log": ...}``."""

    def __init__(self, send):
        super().__init__(level=logging.INFO)
        self.send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:   # a bad log call must not break the run
            return
        if message:
            self.send({"log": message.splitlines()[0][:MESSAGE_CHARS]})


def _stop(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)   # one Stopped is enough; SIGKILL follows if needed
    raise Stopped()


def run(overrides: List[str], folder: str, send) -> int:
    from circuitsim.api import compose, simulate
    from circuitsim.errors import CircuitsimError

    try:
        cfg = compose(overrides)
        simulate(cfg, out_dir=folder)
    except Stopped:
        send({"state": "stopped"})
        return 143
    except CircuitsimError as err:
        send({"state": "failed", "error": {"kind": "config", "path": getattr(err, "path", None),
                                          "message": str(getattr(err, "message", None) or err)[:2000]}})
        return 1
    except Exception as err:   # the details go to stderr (the server's log); the page gets one line
        traceback.print_exc()
        first = (str(err).strip().splitlines() or [""])[0]
        send({"state": "failed", "error": {"kind": "error", "path": None,
                                          "message": f"{type(err).__name__}: {first}"[:MESSAGE_CHARS]}})
        return 1
    send({"state": "done"})
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # the server decides when a job stops
    parser = argparse.ArgumentParser(prog="python -m circuitsim.app.worker")
    parser.add_argument("--fd", type=int, required=True, help="file descriptor for the reports")
    parser.add_argument("--folder", required=True, help="the run folder")
    args = parser.parse_args(argv)
    out = os.fdopen(args.fd, "w", buffering=1)

    def send(message: Dict[str, Any]) -> None:
        try:
            out.write(json.dumps(message, default=str) + "\n")
            out.flush()
        except (OSError, ValueError):   # the server is gone: keep running to the clean-up
            pass

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
    circuitsim_logger = logging.getLogger("circuitsim")
    circuitsim_logger.setLevel(logging.INFO)
    circuitsim_logger.addHandler(_PipeLog(send))
    try:
        request = json.load(sys.stdin)
        overrides = [str(o) for o in request["overrides"]]
        return run(overrides, args.folder, send)
    except Stopped:
        send({"state": "stopped"})
        return 143
    except (ValueError, KeyError, TypeError) as err:
        send({"state": "failed", "error": {"kind": "error", "path": None, "message": f"bad job request: {err}"}})
        return 2


if __name__ == "__main__":
    sys.exit(main())
