"""``circuitsim-app``: a local web page for teaching with circuitsim.

A teacher picks a condition, moves sliders for pathway strengths and modulators, switches DBS or
TMS on, presses Run and sees the circuit's answer within seconds (raster, rates, synchrony,
spectra, EMG, an animated head). Every run is an ordinary run folder, and the page shows the
``circuitsim ...`` command that reproduces it. See :mod:`circuitsim.app.server` for the API.

    circuitsim-app                      # http://127.0.0.1:8050/, runs in outputs/app/
    circuitsim-app --port 9000 --out-dir class_runs --figures
"""

from __future__ import annotations

import argparse
import logging
import sys
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
    try:
        server = make_server(args.host, args.port, args.out_dir, fixed, args.max_duration)
    except OSError as err:
        logger.error("cannot serve on %s:%s: %s (use --port to pick another port)", args.host, args.port, err)
        sys.exit(1)
    logger.info("circuitsim-app: open %s (runs in %s; Ctrl-C stops)", server.url, server.app.out_dir)
    if args.open:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("stopped")
    finally:
        server.server_close()


__all__ = ["main", "parse_args"]
