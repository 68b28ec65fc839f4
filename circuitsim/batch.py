"""Batched sweeps: K parameter points of one circuit structure simulated as one Brian2 network.

The network holds K unconnected copies of the circuit, each with its own parameters (weights,
neuron parameters, background, modulators, motor command: all per-neuron or per-synapse data),
its own connectivity and initial state (drawn from its own seed, exactly as a single run draws
them) and its own random stream (the counter-based ``cs_poisson`` keyed by the copy's seed and
the neuron's index *within its copy*). Each copy occupies a whole number of ``NEURON_BLOCK``
neurons, so vectorised loops treat its neurons exactly as in a run of its own. The results are
split into K ordinary :class:`~circuitsim.io.results.Result` objects (and run folders); a copy's
spike trains are bitwise identical to the same point run alone with :func:`circuitsim.simulate`
on the same device.

For small circuits, where the per-time-step overhead dominates, this is several times faster
than K separate runs.

>>> from circuitsim import compose
>>> from circuitsim.batch import simulate_batch
>>> cfgs = [compose([f"circuit.pathways.stn_gpe.weight_scale={w}"]) for w in (0.5, 1.0, 1.5)]
>>> results = simulate_batch(cfgs, out_dirs=["b/0", "b/1", "b/2"])     # doctest: +SKIP

Command line (a cartesian product of comma-separated values, like Hydra's basic sweeper; each
point becomes ``<out>/<n>/`` with ``.hydra/overrides.yaml``, so ``circuitsim-collect <out>``
reads the sweep)::

    python -m circuitsim.batch --out sweep circuit.pathways.stn_gpe.weight_scale=0.5,1,1.5 sim.seed=0,1

Limits: every point must share the structure: population sizes (``circuit.scale``, ``n``),
channels, receptor kinetics, ``sim.duration``, ``sim.dt``, ``sim.device``, ``sim.threads`` and
the LFP readout; ``p_scale`` and ``enabled`` may differ (each copy has its own synapses). Stimuli
other than ``cortical_command`` (the task's motor command), e.g. DBS or TMS, are not supported in
batches: run those points with :func:`circuitsim.simulate`.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import multiprocessing
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from circuitsim import api
from circuitsim import device as devices
from circuitsim.circuit.builder import build_network, padded_size
from circuitsim.circuit.connectivity import Connections, connect_all
from circuitsim.circuit.layout import make_layout
from circuitsim.errors import ConfigError
from circuitsim.io import results as rio
from circuitsim.io.results import Result
from circuitsim.plugins import STIMULI
from circuitsim.spec import Population, RunSpec, build_spec

logger = logging.getLogger(__name__)

PAD = "pad"


def _prefix(k: int, name: str) -> str:
    return f"b{k}_{name}"


def _check_compatible(specs: Sequence[RunSpec]) -> None:
    first = specs[0]
    batchable = STIMULI.batchable()   # kinds whose parameters are per-neuron data (circuitsim.plugins)
    for k, spec in enumerate(specs):
        where = f"point {k}"
        for name, stim in spec.stimuli.items():
            if stim["kind"] not in batchable:
                path = "task.command" if name == "task" else f"stim.{name}"
                raise ConfigError(path, f"a batched sweep cannot hold a {stim['kind']!r} stimulus ({where}); "
                                        f"batches support only {', '.join(batchable)}. Run this "
                                        "point with circuitsim.simulate() or a Hydra sweep")
        checks = {
            "sim.duration": (spec.sim.duration, first.sim.duration),
            "sim.dt": (spec.sim.dt, first.sim.dt),
            "sim.device": (spec.sim.device, first.sim.device),
            "sim.threads": (spec.sim.threads, first.sim.threads),
            "sim.vectorize": (spec.sim.vectorize, first.sim.vectorize),
            "circuit.channels": (spec.channels, first.channels),
            "circuit.populations": ([(p.name, p.n, p.channelled) for p in spec.populations.values()],
                                    [(p.name, p.n, p.channelled) for p in first.populations.values()]),
            "circuit.receptors": ({r.name: (r.tau, r.E) for r in spec.receptors.values()},
                                  {r.name: (r.tau, r.E) for r in first.receptors.values()}),
            "readout.lfp_neurons": (spec.readout.lfp_neurons, first.readout.lfp_neurons),
            "readout.lfp_dt": (spec.readout.lfp_dt, first.readout.lfp_dt),
        }
        for path, (mine, theirs) in checks.items():
            if mine != theirs:
                raise ConfigError(path, f"every point of a batch must share the circuit's structure; {where} "
                                        f"differs from point 0 ({mine!r} vs {theirs!r}); split the sweep into "
                                        "batches of equal structure")


class _CopyRng:
    """Stands in for the initial-state generator of :func:`build_network` in a batch: the
    builder draws once per population in order; each draw is served by that copy's own
    generator (the one :func:`circuitsim.simulate` would use), padding neurons start at rest."""

    def __init__(self, owners: List[Optional[int]], rngs: List[np.random.Generator]) -> None:
        self.owners, self.rngs, self.calls = list(owners), rngs, 0

    def uniform(self, low: float, high: float, size: int) -> np.ndarray:
        owner = self.owners[self.calls]
        self.calls += 1
        return np.full(size, low) if owner is None else self.rngs[owner].uniform(low, high, size)


def _combined_spec(specs: Sequence[RunSpec], n_real: int, n_block: int) -> tuple[RunSpec, List[Optional[int]]]:
    first = specs[0]
    template = next(iter(first.populations.values()))
    populations: Dict[str, Population] = {}
    owners: List[Optional[int]] = []
    pathways, stimuli = {}, {}
    for k, spec in enumerate(specs):
        for name, pop in spec.populations.items():
            populations[_prefix(k, name)] = replace(pop, name=_prefix(k, name))
            owners.append(k)
        if n_block > n_real:   # padding neurons of this copy (as the builder pads a single run)
            params = dict(template.params, I_bias=0.0)
            populations[_prefix(k, PAD)] = Population(
                name=_prefix(k, PAD), region=PAD, n_per_channel=n_block - n_real, channelled=False,
                n_channels=len(first.channels), params=params, bg_rate=0.0, bg_weight=0.0,
                bg_receptor="ampa", target_low=0.0, target_high=0.0, target_source="")
            owners.append(None)
        for name, pw in spec.pathways.items():
            pathways[_prefix(k, name)] = replace(pw, name=_prefix(k, name), source=_prefix(k, pw.source),
                                                 target=_prefix(k, pw.target))
        for name, stim in spec.stimuli.items():
            stimuli[_prefix(k, name)] = dict(stim, population=_prefix(k, stim["population"]))
    combined = replace(first, populations=populations, pathways=pathways, stimuli=stimuli, task=None)
    return combined, owners


def simulate_batch(cfgs: Sequence[Any], out_dirs: Optional[Sequence[str | Path]] = None,
                   overwrite: bool = False, workers: Optional[int] = None) -> List[Result]:
    """Simulate the points ``cfgs`` (composed configs of one circuit structure) in one network.

    Parameters
    ----------
    cfgs : sequence of DictConfig or dict
        One composed config per point (see :func:`circuitsim.compose`).
    out_dirs : sequence of paths, optional
        One run folder per point (as :func:`circuitsim.simulate` writes them).
    workers : int, optional
        Processes that compute the points' measures and write their folders after the one
        simulation (forked; default: the CPUs this process may use; 1: all in this process).

    Returns
    -------
    list of Result
        One per point, in order; ``metrics["run"]["batch"]`` holds ``size`` and ``index``, and
        ``run.sim_s`` is the whole batch's simulation time.

    Raises
    ------
    circuitsim.errors.ConfigError
        For an invalid config, or points that do not share one structure, before any code is
        generated.
    """
    t_start = time.perf_counter()
    if not cfgs:
        return []
    if out_dirs is not None and len(out_dirs) != len(cfgs):
        raise ValueError(f"{len(out_dirs)} output folders for {len(cfgs)} points")
    specs = [build_spec(cfg) for cfg in cfgs]
    configs = [api._plain_config(cfg) for cfg in cfgs]
    _check_compatible(specs)
    folders = [rio.prepare_folder(d, overwrite=overwrite) for d in out_dirs] if out_dirs is not None else None
    if folders:   # what each run is, for circuitsim-collect (the command line's .hydra/overrides.yaml wins)
        from circuitsim.io.collect import record_run

        for folder, config in zip(folders, configs):
            record_run(folder, config)

    layout = make_layout(specs[0])
    n_real = layout.n
    n_block = padded_size(n_real)
    combined, owners = _combined_spec(specs, n_real, n_block)
    combined_layout = make_layout(combined)
    connections: Dict[str, Connections] = {}
    for k, spec in enumerate(specs):
        offset = k * n_block
        for name, con in connect_all(spec, layout, spec.sim.seed).items():
            connections[_prefix(k, name)] = Connections(con.i + offset, con.j + offset)
    rng = _CopyRng(owners, [api._initial_state_rng(spec.sim.seed) for spec in specs])
    seeds = np.repeat([spec.sim.seed for spec in specs], n_block)
    index = np.tile(np.arange(n_block), len(specs))
    logger.info("batch of %d points: %d neurons each (%d with padding), %d in the network; device %s, %.3g s",
                len(specs), n_real, n_block, n_block * len(specs), combined.sim.device, combined.sim.duration)
    with devices.selected_device(combined):
        built = build_network(combined, combined_layout, connections, rng, rng_keys=(seeds, index))
        if rng.calls != len(owners):
            raise RuntimeError("the builder drew initial states in an unexpected order; batch identity is lost")
        raw, times = devices.run(built.net, combined, built.namespace, built.n_synapses, lambda: api.read_raw(built))

    jobs = []
    for k, spec in enumerate(specs):
        lo, hi = k * n_block, k * n_block + n_real
        mask = (raw["i"] >= lo) & (raw["i"] < hi)
        raw_k = {"i": raw["i"][mask] - lo, "t": raw["t"][mask], "stim_data": {}}
        if "I_exc" in raw:
            raw_k["I_exc"], raw_k["I_inh"] = raw["I_exc"], raw["I_inh"]
        lfp_k = {name: built.lfp_neurons[_prefix(k, name)] for name in spec.populations
                 if _prefix(k, name) in built.lfp_neurons}
        n_syn_k = {name: built.n_synapses.get(_prefix(k, name), 0) for name in spec.pathways}
        extra = {"batch": {"size": len(specs), "index": k, "neurons_in_network": n_block * len(specs)}}
        jobs.append((spec, configs[k], layout, raw_k, lfp_k, n_syn_k, times, t_start,
                     folders[k] if folders else None, extra))
    return _finish_all(jobs, workers)


#: The points' post-run work (measures, run folders), shared with forked workers (see _finish_all).
_JOBS: List[tuple] = []


def _finish(k: int) -> Result:
    spec, config, layout, raw, lfp, n_syn, times, t_start, folder, extra = _JOBS[k]
    return api.finish_run(spec, config, layout, raw, lfp, n_syn, times, t_start, folder, run_extra=extra)


def _finish_in_worker(k: int) -> Optional[Result]:
    """:func:`_finish` in a forked worker; None where it failed (the caller then reruns the point
    in its own process, so that the error reaches the user as itself: circuitsim's exceptions
    do not all survive pickling)."""
    try:
        return _finish(k)
    except Exception:   # noqa: BLE001  (reraised by the rerun)
        return None


def _finish_all(jobs: List[tuple], workers: Optional[int]) -> List[Result]:
    """Each point's measures and run folder (:func:`circuitsim.api.finish_run`): the first in
    this process (it imports what the measures need), the others in up to ``workers`` forked
    processes (default: the CPUs this process may use), in order. The points are independent and
    each is computed as in a single run, so the results are the same (``tests/test_batch_finish.py``)."""
    global _JOBS
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    _JOBS = jobs
    try:
        results = [_finish(0)] if jobs else []
        rest = range(1, len(jobs))
        if workers <= 1 or len(rest) < 2 or "fork" not in multiprocessing.get_all_start_methods():
            return results + [_finish(k) for k in rest]
        with multiprocessing.get_context("fork").Pool(min(workers, len(rest))) as pool:
            done = pool.map(_finish_in_worker, rest, chunksize=1)
        return results + [r if r is not None else _finish(k) for k, r in zip(rest, done)]
    finally:
        _JOBS = []


def _value_override(override: Any) -> bool:
    """Whether Hydra applies ``override`` to the composed config (a plain ``a.b=value`` of a
    config value), rather than choosing a config group's option or editing Hydra's own node: a
    key with a dot and no ``/`` or ``@`` names no config group (groups are folders), and ``+``,
    ``++``, ``~`` and sweeps take the slow path."""
    key = override.key_or_group
    return (not (override.is_delete() or override.is_add() or override.is_force_add())
            and not override.is_hydra_override() and not override.is_sweep_override()
            and override.package is None and "." in key and "/" not in key and "@" not in key)


def compose_points(points: Sequence[Sequence[str]]) -> List[Any]:
    """``[compose(overrides) for overrides in points]``, with Hydra's composition done once per
    distinct set of the points' other overrides: the plain value overrides (``a.b=value``, what
    a sweep varies) are applied to a copy of it in their order, by Hydra's own function for
    that step, as Hydra applies them after composing the defaults. The same configs
    (``tests/test_batch_compose.py``), and the same errors for a key the config lacks; a point of
    16 costs milliseconds instead of a Hydra composition (0.3-2 s)."""
    import copy

    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    bases: Dict[tuple, Any] = {}
    out = []
    for overrides in points:
        parsed = parser.parse_overrides(list(overrides))
        values = [p for p in parsed if _value_override(p)]
        rest = tuple(o for o, p in zip(overrides, parsed) if not _value_override(p))
        if rest not in bases:
            bases[rest] = api.compose(list(rest))
        cfg = copy.deepcopy(bases[rest])
        ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
        out.append(cfg)
    return out


# ----------------------------------------------------------------------------------- command line


def _grid(overrides: Sequence[str]) -> List[List[str]]:
    """Cartesian product of ``key=a,b,c`` overrides (Hydra basic-sweeper style, no ranges)."""
    axes = []
    for ov in overrides:
        key, _, values = ov.partition("=")
        axes.append([f"{key}={v}" for v in values.split(",")] if "," in values and not values.startswith("[")
                    else [ov])
    return [list(p) for p in itertools.product(*axes)]


def main(argv: Optional[Sequence[str]] = None) -> int:
    import yaml

    parser = argparse.ArgumentParser(prog="python -m circuitsim.batch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="sweep folder; point n is written to <out>/<n>/")
    parser.add_argument("--batch-size", type=int, default=16, help="points per network (default 16)")
    parser.add_argument("overrides", nargs="*", help="config overrides; comma-separated values are swept")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
    points = _grid(args.overrides)
    out = Path(args.out)
    for start in range(0, len(points), max(1, args.batch_size)):
        chunk = points[start:start + args.batch_size]
        dirs = [out / str(start + n) for n in range(len(chunk))]
        for d, ovs in zip(dirs, chunk):
            (d / ".hydra").mkdir(parents=True, exist_ok=True)
            (d / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(list(ovs)))
        simulate_batch(compose_points(chunk), out_dirs=dirs)
    logger.info("%d points in %s", len(points), out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
