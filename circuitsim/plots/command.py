"""``circuitsim-plot RUN [RUN ...]``: draw a finished run folder's figures on request.

A run draws its figures after ``metrics.json`` (in a background process, see
:mod:`circuitsim.plots.background`), and a sweep may leave them out (``readout.plots=[]``). This
command draws them again from what the folder stores: the spikes, rates, LFP proxies, the muscle
series and its motor units' spikes (``muscle.npz``), and ``metrics.json``. The spectra are
computed again from the stored LFP proxies by the run's own function and settings. The figures are
the ones the live run draws from the same numbers. ``stim.png`` is not redrawn: the stimuli's
recordings are not stored.

    circuitsim-plot outputs/2026-12-07/10-00-00                # the run's own readout.plots
    circuitsim-plot sweep/0 sweep/1 --figures raster,muscle    # some figures of several runs
    circuitsim-plot RUN --out figs/                            # into another folder

Exit status 0 when every folder was drawn, 2 (one line on stderr per folder) when a folder does
not exist, holds no finished run, or a figure name is unknown.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

EXIT_BAD_INPUT = 2
#: figures that can be drawn from a folder (``stim`` needs the stimuli's recordings, not stored)
FROM_FOLDER = ("raster", "rates", "spectra", "channels", "muscle", "summary")


def _figure_names(text: Optional[str]) -> Optional[List[str]]:
    if text is None:
        return None
    from circuitsim.spec import PLOTS

    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in PLOTS]
    if unknown:
        raise ValueError(f"--figures: unknown figure {unknown[0]!r}; choose from {', '.join(FROM_FOLDER)}")
    return names


def _add_spectra(result) -> bool:
    """The regions' LFP spectra as the run computed them (its spec's transient and segment, read
    from its spec.json)."""
    from circuitsim.io.run_spec import run_spec
    from circuitsim.metrics import lfp_spectra

    if not result.lfp:
        return False
    try:
        spec = run_spec(result)
    except Exception as err:   # an older folder without spec.json whose config no longer validates
        logging.getLogger("circuitsim").warning("%s: spectra not redrawn: no spec.json and its config.yaml "
                                                "does not validate (%s)", result.folder, err)
        return False
    result.spectra = lfp_spectra(spec, result)
    return True


def plot_folder(folder: Path | str, names: Optional[Sequence[str]] = None,
                out: Optional[Path | str] = None) -> Tuple[List[str], Dict[str, str]]:
    """Draw ``names`` (default: the run's ``readout.plots``) of the finished run in ``folder`` into
    ``out`` (default: the folder itself); returns the names written and, for each figure left out,
    why.

    Raises :class:`circuitsim.errors.ResultError` for a missing folder or one without a finished run.
    """
    from circuitsim.io.results import load_result
    from circuitsim.plots import _muscle_readout, _write

    result = load_result(folder)
    if names is None:
        names = ((result.config.get("readout") or {}).get("plots")) or list(FROM_FOLDER)
    skipped: Dict[str, str] = {}
    for name in names:
        if name == "stim":
            if (result.spec or {}).get("stimuli"):
                skipped[name] = "the stimuli's recordings are not stored in a run folder"
        elif name == "spectra" and not _add_spectra(result):
            skipped[name] = "no LFP proxies stored, or no spec.json and a config that no longer validates"
        elif name == "muscle" and _muscle_readout(result) is None:
            skipped[name] = "no muscle readout stored with its motor units (readout off, or an older folder)"
        elif name in ("raster", "channels") and not result.spikes:
            skipped[name] = "no spikes stored"
    wanted = [n for n in names if n in FROM_FOLDER and n not in skipped]
    target = Path(out) if out is not None else Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    _write(target, result, wanted)
    return wanted, skipped


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console script ``circuitsim-plot``."""
    parser = argparse.ArgumentParser(prog="circuitsim-plot", description=__doc__.split("\n\n")[0].strip("`: "))
    parser.add_argument("runs", nargs="+", metavar="RUN", help="a finished run folder (holds metrics.json)")
    parser.add_argument("--figures", default=None,
                        help=f"comma-separated figures (default: the run's readout.plots); of {', '.join(FROM_FOLDER)}")
    parser.add_argument("--out", default=None, help="write the figures here instead of into each run folder "
                                                    "(one run only)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="circuitsim-plot: %(message)s")
    try:
        names = _figure_names(args.figures)
    except ValueError as err:
        print(f"circuitsim-plot: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.out is not None and len(args.runs) > 1:
        print("circuitsim-plot: --out takes one run folder; drop --out to draw each run into its own folder",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    from circuitsim.errors import ResultError

    status = 0
    for run in args.runs:
        try:
            written, skipped = plot_folder(run, names, args.out)
        except ResultError as err:
            print(f"circuitsim-plot: {' '.join(str(err).split())}", file=sys.stderr)
            status = EXIT_BAD_INPUT
            continue
        target = args.out or run
        print(f"{run}: {', '.join(f'{n}.png' for n in written) or 'no figure'} in {target}")
        for name, why in skipped.items():
            print(f"{run}: {name}.png not drawn: {why}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
