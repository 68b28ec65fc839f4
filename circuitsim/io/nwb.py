"""A run in the formats neuroscience shares: NWB files (``circuitsim-export``) and Neo objects.

NWB (Neurodata Without Borders, https://nwb.org; the format DANDI archives) through pynwb,
optional extra ``pip install circuitsim[nwb]``::

    circuitsim-export RUN_FOLDER [--out FILE.nwb]     # default RUN_FOLDER/run.nwb
    circuitsim-export SWEEP_FOLDER                    # one run.nwb in every run folder below it

What a file holds (:func:`to_nwb`; ``Result.to_nwb(path)`` is the same):

- ``units``: one row per neuron of the circuit (silent ones too), with columns ``population``,
  ``region``, ``channel`` (-1: not channelled) and ``neuron_index`` (within its population, as
  in ``spikes.npz``); ``spike_times`` in s. Only when the run kept its spikes
  (``readout.save_spikes``).
- ``processing/circuit``: the population rates (``rate_<population>``, Hz per neuron, bins of
  ``readout.rate_bin``) and the LFP proxies (``lfp_<region>``, the Mazzoni et al. 2015
  weighted sum of synaptic currents, in A: a proxy, not a potential).
- ``processing/muscle``: head angle (rad, positive = left) and per muscle the corticospinal
  drive (Hz per neuron), force (N), surface EMG (V) and its envelope (V).
- ``intervals/<stimulus>_pulses``: the pulses of every DBS or TMS stimulus (start and end of
  each pulse, s; amplitude in A for DBS, intensity and role for TMS). For closed-loop DBS these
  are the scheduled pulses; the controller's per-pulse amplitude is only known to a Result still
  in memory (a run folder does not store it).
- metadata: ``session_description`` (condition, task, stimuli), ``notes`` (YAML: seed, package
  versions and the resolved config), ``source_script`` (the circuitsim and Brian2 versions),
  ``session_start_time`` (when the run finished: the time of its ``metrics.json``).

Neo (https://neo.readthedocs.io; what Elephant analyses): :func:`to_neo` (``Result.to_neo()``)
gives a ``neo.Block`` with one ``Segment`` holding a ``neo.SpikeTrain`` per neuron (in s, from 0
to the run's duration, annotated with population, region, channel and neuron index) and the
population rates as ``neo.AnalogSignal``; ``block.groups`` has one group per population.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from circuitsim.errors import ResultError
from circuitsim.io.nwb_file import (DEFAULT_NAME, SUBJECT, build_nwbfile, pulse_tables, to_neo,  # noqa: F401
                                    to_nwb)
from circuitsim.io.results import METRICS, load_result

logger = logging.getLogger(__name__)


def run_folders(folder: Path) -> List[Path]:
    """The finished run folders at or below ``folder`` (those holding metrics.json)."""
    if (folder / METRICS).is_file():
        return [folder]
    return sorted({p.parent for p in folder.rglob(METRICS) if ".submitit" not in p.parts})


def export(folder: str | Path, out: Optional[str | Path] = None) -> List[Path]:
    """Export a run folder (to ``out``, default ``<folder>/run.nwb``) or every run below a sweep folder
    (to ``<run>/run.nwb`` each; ``out`` is then a folder mirroring the sweep's layout)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ResultError(f"{folder}: no such folder; give a run folder (with metrics.json) or a sweep folder")
    runs = run_folders(folder)
    if not runs:
        raise ResultError(f"{folder}: not a run folder (no metrics.json in it or below it); give the folder a "
                          f"finished run was written to")
    written = []
    single = runs == [folder]
    for run in runs:
        if single:
            target = Path(out) if out is not None else run / DEFAULT_NAME
        else:
            target = (Path(out) / run.relative_to(folder) / DEFAULT_NAME) if out is not None else run / DEFAULT_NAME
        written.append(to_nwb(load_result(run), target))
        logger.info("wrote %s", target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="circuitsim-export", description=__doc__.split("\n\n")[0],
                                     epilog="See docs/data.md.")
    parser.add_argument("folder", help="a run folder (holding metrics.json) or a folder of runs (a sweep)")
    parser.add_argument("--out", default=None,
                        help=f"NWB file to write (default: <run>/{DEFAULT_NAME}); for a sweep, a folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        written = export(args.folder, args.out)
    except ResultError as err:
        print(f"circuitsim-export: {err}", file=sys.stderr)
        return 2
    print(f"circuitsim-export: wrote {len(written)} NWB file{'s' if len(written) != 1 else ''}"
          + (f": {written[0]}" if len(written) == 1 else f" below {args.folder}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
