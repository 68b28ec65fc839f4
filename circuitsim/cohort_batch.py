"""A cohort's runs through :func:`circuitsim.batch.simulate_batch`: K patients' runs as one network.

:func:`circuitsim.cohort.run_cohort` calls :func:`run_batched` before
:func:`circuitsim.experiments.run_points`: every point a batch can hold is simulated here, written
to the folder run_points would write (``<runs>/<label>_seed<k>``, with the same config and the
same ``overrides.yaml``), so run_points then finds it finished and only reads it. What a batch
cannot hold is left to run_points, run by run:

* points with a stimulus (``stim=...``: DBS, TMS, cTBS), which batches do not support;
* a chunk whose points turn out not to share one structure (``ConfigError`` from the batch), or
  whose batch failed: logged, and run alone by run_points.

Grouping (a model-free engineering choice): points go into one batch only when they share the
run's duration and the structural changes of their condition (``topology``, ``p_scale``: the
synapse counts, part of the compiled program); chunks have ``batch_size`` points except the last
of a group, so a cohort compiles one program per group and chunk size, reused by every stage.
A copy's spike trains are bitwise identical to the same point run alone (circuitsim.batch), so
the cohort's results do not depend on ``batch_size``.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence, Tuple

logger = logging.getLogger(__name__)

STRUCTURAL_KEYS = ("topology", "p_scale")


def batchable(overrides: Sequence[str]) -> bool:
    """No stimulus beyond the task's motor command (``stim=`` other than ``none``, or ``stim.*``)."""
    for o in overrides:
        key, _, value = o.partition("=")
        if key.startswith("stim.") or (key == "stim" and value.strip() not in ("none", "")):
            return False
    return True


def structure_group(overrides: Sequence[str]) -> Tuple[str, ...]:
    """What must be equal for points to share a batch: the duration and the structural changes."""
    out = []
    for o in overrides:
        key = o.partition("=")[0]
        if key in ("sim.duration", "sim.dt", "circuit.scale") or key.rsplit(".", 1)[-1] in STRUCTURAL_KEYS:
            out.append(o)
    return tuple(sorted(out))


def chunks(jobs: Sequence[Any], size: int) -> List[List[Any]]:
    return [list(jobs[k:k + size]) for k in range(0, len(jobs), size)]


def _batch_worker(items: List[Tuple[List[str], str]]) -> Tuple[int, str]:
    """Simulate one chunk as one batch (in a worker process); (points done, error or '')."""
    from circuitsim import compose
    from circuitsim.api import _plain_config
    from circuitsim.batch import simulate_batch
    from circuitsim.io.collect import record_run

    logging.getLogger("brian2").setLevel(logging.WARNING)
    try:
        cfgs = [compose(ovs) for ovs, _ in items]
        simulate_batch(cfgs, out_dirs=[folder for _, folder in items], overwrite=True)
        for (ovs, folder), cfg in zip(items, cfgs):   # what the run is, as run_points records it
            record_run(folder, _plain_config(cfg), ovs)
        return len(items), ""
    except Exception as err:  # noqa: BLE001 - run_points runs these points alone
        return 0, f"{type(err).__name__}: {err}"


def run_batched(by_seed: Mapping[int, Sequence[Any]], runs_dir: Path, batch_size: int, jobs: int = 1,
                resume: bool = True) -> Dict[str, int]:
    """Simulate the batchable points (``{seed: [Point]}``) in chunks of ``batch_size``, ``jobs``
    processes at a time; returns counts (``batched``, ``failed``, ``left``: not batchable)."""
    from circuitsim.experiments import RUN_DEFAULTS
    from circuitsim.io import results as rio

    groups: Dict[Tuple[str, ...], List[Tuple[List[str], str]]] = {}
    left = 0
    for seed, points in sorted(by_seed.items()):
        for point in points:
            folder = runs_dir / f"{point.label}_seed{seed}"
            if resume and rio.made_by_this_code(folder):   # (False where no run finished)
                continue     # run_points then checks its config too, and reruns it alone if it differs
            overrides = [*RUN_DEFAULTS, *point.overrides, f"sim.seed={seed}"]
            if not batchable(point.overrides):
                left += 1
                continue
            groups.setdefault(structure_group(point.overrides), []).append((overrides, str(folder)))
    work = [chunk for items in groups.values() for chunk in chunks(items, batch_size)]
    done = failed = 0
    if not work:
        return {"batched": 0, "failed": 0, "left": left}
    logger.info("%d runs in %d batches of up to %d (%d structure groups), %d processes; %d runs left to single runs",
                sum(map(len, work)), len(work), batch_size, len(groups), min(jobs, len(work)), left)

    def note(chunk, n, error):
        nonlocal done, failed
        done += n
        if error:
            failed += len(chunk)
            logger.warning("a batch of %d runs failed (%s); they run alone", len(chunk), error)
        else:
            logger.info("batch of %d done (%d runs batched so far)", n, done)

    if jobs > 1 and len(work) > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, len(work)),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_batch_worker, chunk): chunk for chunk in work}
            for future in as_completed(futures):
                try:
                    n, error = future.result()
                except Exception as err:  # noqa: BLE001 - a worker that died: run_points retries alone
                    n, error = 0, f"worker died: {type(err).__name__}: {err}"
                note(futures[future], n, error)
    else:
        for chunk in work:
            note(chunk, *_batch_worker(chunk))
    return {"batched": done, "failed": failed, "left": left}
