"""``circuitsim-app``: a local web page for teaching with circuitsim.

A teacher picks a condition, moves sliders for pathway strengths and modulators, switches DBS or
TMS on, presses Run and sees the circuit's answer within seconds (raster, rates, synchrony,
spectra, EMG, an animated head). Every run is an ordinary run folder, and the page shows the
``circuitsim ...`` command that reproduces it. See :mod:`circuitsim.app.server` for the API.

    circuitsim-app                      # http://127.0.0.1:8050/, runs in outputs/app/
    circuitsim-app --port 9000 --out-dir class_runs --figures

The page is safe by default (see :mod:`circuitsim.app.server` and docs/app.md): it listens on
127.0.0.1 only, answers only requests from its own page, and lets the form set only the
simulation's own settings. Ctrl-C (SIGINT) or SIGTERM stops it cleanly: the running job's
process group is stopped (the compiled program included), queued jobs are dropped, and the
command exits with status 0, without a traceback.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import webbrowser
from typing import List, Optional

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8050


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="circuitsim-app",
        description="Serve circuitsim's interactive teaching page on this machine.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: only this machine can connect)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any free port)")
    parser.add_argument("--out-dir", default="outputs/app", help="folder of the run folders (default outputs/app)")
    parser.add_argument("--figures", action="store_true",
                        help="also write circuitsim's PNG figures into every run folder (slower: a few seconds per run)")
    parser.add_argument("--set", dest="fixed", action="append", default=[], metavar="KEY=VALUE",
                        help="an override added to every run, e.g. --set sim.device=runtime (repeatable)")
    parser.add_argument("--max-duration", type=float, default=60.0, metavar="SECONDS",
                        help="longest biological time one run from the page may simulate (default 60 s; "
                             "some TMS protocols need more)")
    parser.add_argument("--max-wall", type=float, default=900.0, metavar="SECONDS",
                        help="wall-clock limit of one run from the page, compilation included (default 900 s; "
                             "0 = none); a run still going is stopped and shown as failed")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="another host name the page may be opened under (besides localhost and IP "
                             "addresses), e.g. the machine's name when serving with --host 0.0.0.0 (repeatable)")
    parser.add_argument("--open", action="store_true", help="open the page in the default web browser")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    """Console script ``circuitsim-app``."""
    args = parse_args(argv)
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO),
                        format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
    from circuitsim.app.server import make_server

    fixed = ([] if args.figures else ["readout.plots=[]"]) + list(args.fixed)
    if args.max_wall < 0 or args.max_wall != args.max_wall:
        logger.error("--max-wall must be a number of seconds >= 0 (0 = no limit), got %s", args.max_wall)
        sys.exit(2)
    try:
        server = make_server(args.host, args.port, args.out_dir, fixed, args.max_duration,
                             allow_hosts=args.allow_host, max_wall_s=args.max_wall)
    except OSError as err:
        logger.error("cannot serve on %s:%s: %s (use --port to pick another port)", args.host, args.port, err)
        sys.exit(1)

    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        if stopping.is_set():
            return
        stopping.set()
        logger.info("stopping (%s)", signal.Signals(signum).name)
        threading.Thread(target=server.shutdown, name="circuitsim-app-shutdown", daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    logger.info("circuitsim-app: open %s (runs in %s; Ctrl-C stops)", server.url, server.app.out_dir)
    if args.open:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    finally:
        server.server_close()   # stops the running job's processes and the worker
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    logger.info("stopped")


__all__ = ["main", "parse_args"]
