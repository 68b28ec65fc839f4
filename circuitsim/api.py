"""The Python API: compose a config, simulate it, get a :class:`~circuitsim.io.results.Result`.

>>> from circuitsim import simulate, compose
>>> result = simulate(compose(["sim.duration=1s"]))      # doctest: +SKIP
>>> result.metrics["populations"]["gpi"]["rate_hz"]      # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import logging
import platform
import time
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np

from circuitsim.errors import StorageError
from circuitsim.io import results as rio
from circuitsim.io.results import Result
from circuitsim.io.specfile import spec_to_dict
from circuitsim.progress import show_progress_logs
from circuitsim.schema import compose  # noqa: F401  (re-exported: composing is the config layer's)
from circuitsim.schema import plain_config as _plain_config  # noqa: F401
from circuitsim.spec import RunSpec, build_spec

logger = logging.getLogger(__name__)

#: Imported on first use (Brian2, SciPy's signal and stats): ``import circuitsim`` and the
#: commands that only compose configs or read run folders do not pay for them. Each name is
#: also a module attribute (``circuitsim.api.build_network``), so it can be replaced in tests.
_LAZY = {
    "devices": ("circuitsim.device", None),
    "build_network": ("circuitsim.circuit.builder", "build_network"),
    "lfp_currents": ("circuitsim.circuit.builder", "lfp_currents"),
    "connect_all": ("circuitsim.circuit.connectivity", "connect_all"),
    "make_layout": ("circuitsim.circuit.layout", "make_layout"),
    "compute_metrics": ("circuitsim.metrics", "compute_metrics"),
    "population_rates": ("circuitsim.metrics", "population_rates"),
    "region_lfps": ("circuitsim.metrics", "region_lfps"),
    "lfp_spectra": ("circuitsim.metrics", "lfp_spectra"),
    "add_muscle_readout": ("circuitsim.readouts", "add_muscle_readout"),
    "add_stimulus_measures": ("circuitsim.readouts", "add_stimulus_measures"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = importlib.import_module(module)
    value = value if attr is None else getattr(value, attr)
    globals()[name] = value
    return value


def _lazy(name: str) -> Any:
    """A lazily imported name (or what replaced it in the module's namespace)."""
    return globals()[name] if name in globals() else __getattr__(name)


def _versions() -> dict:
    import brian2
    import scipy

    from circuitsim._version import __version__, source_digest

    return {"circuitsim": __version__, "source": source_digest(), "brian2": brian2.__version__,
            "numpy": np.__version__, "scipy": scipy.__version__, "python": platform.python_version()}


def _initial_state_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, 0x1A17]))


def simulate(cfg: Any, out_dir: Optional[str | Path] = None, overwrite: bool = False,
             overrides: Optional[Iterable[str]] = None) -> Result:
    """Run one simulation.

    Parameters
    ----------
    cfg : DictConfig or dict
        A composed config (see :func:`compose`).
    out_dir : path, optional
        Write the result folder here (data, figures, metrics.json last). A folder that already
        holds a finished run is refused unless ``overwrite``.
    overrides : list of str, optional
        What the folder records as the run's parameters (``overrides.yaml``, read by
        ``circuitsim-collect``); default: the config's differences from the default config.

    Raises
    ------
    circuitsim.errors.ConfigError
        For invalid config values, before any code is generated.
    """
    t_start = time.perf_counter()
    show_progress_logs()   # a notebook or plain script sees the build notice and the progress
    spec: RunSpec = build_spec(cfg)
    config = _plain_config(cfg)
    folder = rio.prepare_folder(out_dir, overwrite=overwrite) if out_dir is not None else None
    try:   # (the folder's writer lock is held until its metrics.json is written, or the run fails)
        if folder is not None:   # what the run is, for circuitsim-collect (before it runs: a killed one is listed)
            from circuitsim.io.collect import record_run

            record_run(folder, config, None if overrides is None else list(overrides))
        devices, build_network = _lazy("devices"), _lazy("build_network")
        layout = _lazy("make_layout")(spec)
        connections = _lazy("connect_all")(spec, layout, spec.sim.seed)
        logger.info("circuit: %d neurons in %d populations, %d pathways; device %s, %.3g s at dt = %.3g ms, "
                    "seed %d", layout.n, len(spec.populations), len(spec.pathways), spec.sim.device,
                    spec.sim.duration, spec.sim.dt * 1e3, spec.sim.seed)
        with devices.selected_device(spec):
            built = build_network(spec, layout, connections, _initial_state_rng(spec.sim.seed))
            raw, times = devices.run(built.net, spec, built.namespace, built.n_synapses, lambda: read_raw(built))
        return finish_run(spec, config, layout, raw, built.lfp_neurons, built.n_synapses, times, t_start, folder)
    finally:
        if folder is not None:
            rio.release_folder(folder)


def read_raw(built) -> dict:
    """Copy a run's recordings out of Brian2 (spikes of the whole group, LFP currents as bin
    averages, stimuli's)."""
    raw = {"i": np.asarray(built.spike_monitor.i[:]).copy(),
           "t": np.asarray(built.spike_monitor.t_[:]).copy()}
    raw.update(_lazy("lfp_currents")(built))   # I_exc, I_inh: mean of each LFP bin (none without a monitor)
    raw["stim_data"] = {name: record() for name, record in (built.recorders or {}).items()}
    return raw


def finish_run(spec: RunSpec, config: dict, layout, raw: dict, lfp_neurons: dict, n_synapses: dict,
               times: Any, t_start: float, folder: Optional[Path], run_extra: Optional[dict] = None) -> Result:
    """Raw recordings of one circuit -> a :class:`Result` with every measure (and its run folder).

    ``raw["i"]`` are neuron indices of ``layout``; ``raw["I_exc"]``/``raw["I_inh"]`` rows are
    addressed by ``lfp_neurons`` (population -> rows). Batched sweeps call this once per copy.
    """
    result = Result(metrics={}, config=config, rate_dt=spec.readout.rate_bin, lfp_dt=spec.readout.lfp_dt,
                    spec=spec_to_dict(spec))
    order = np.argsort(raw["i"], kind="stable")
    i_sorted, t_sorted = raw["i"][order], raw["t"][order]
    for name, pop in spec.populations.items():
        start, stop = layout.slices[name]
        lo, hi = np.searchsorted(i_sorted, [start, stop])
        t_pop = t_sorted[lo:hi]
        time_order = np.argsort(t_pop, kind="stable")
        result.spikes[name] = ((i_sorted[lo:hi] - start)[time_order].astype(np.int32), t_pop[time_order])
        result.sizes[name] = pop.n
        result.channels[name] = layout.channel[start:stop].copy()
    result.regions = spec.regions()
    # the stages in their order (circuitsim.io.result_types): recordings, rates and LFP, spectra
    # and measures, the muscle readout (which reads the GPi LFP), the stimuli's measures
    result.lfp_currents = {name: (raw["I_exc"][rows], raw["I_inh"][rows])
                           for name, rows in lfp_neurons.items() if "I_exc" in raw and rows.size}
    result.stimuli = dict(spec.stimuli)
    result.stim_data = raw["stim_data"]
    result.rates = _lazy("population_rates")(result, spec.sim.duration)
    result.lfp = _lazy("region_lfps")(spec, result)
    result.spectra = _lazy("lfp_spectra")(spec, result)
    result.metrics = _lazy("compute_metrics")(spec, result)
    _lazy("add_muscle_readout")(spec, result)
    _lazy("add_stimulus_measures")(spec, result)
    result.metrics["run"] = {
        "seed": spec.sim.seed, "duration_s": spec.sim.duration, "dt_s": spec.sim.dt,
        "transient_s": spec.sim.transient, "device": spec.sim.device, "threads": spec.sim.threads,
        "n_neurons": layout.n, "n_synapses": int(sum(n_synapses.values())),
        "synapses_per_pathway": n_synapses, "build_s": times.build_s, "sim_s": times.run_s,
        "sim_cpu_s": getattr(times, "run_cpu_s", 0.0), "sim_loop_s": getattr(times, "loop_s", 0.0),
        "sim_peak_mb": getattr(times, "peak_rss_mb", 0.0),
        "build_reused": bool(getattr(times, "reused_build", False)), "wall_s": time.perf_counter() - t_start,
        "channels": list(spec.channels), "regions": result.regions,
        "versions": _versions(), "condition": config.get("condition_name"),
        "task": spec.task["channel_name"] if spec.task else None,
    }
    result.metrics["run"].update(run_extra or {})
    if folder is not None:
        from circuitsim.plots import write_figures

        rio.write_data(folder, result)
        try:
            write_figures(folder, result, spec.readout.plots)
        except OSError as err:   # disk full while saving a figure: one line, no metrics.json
            raise StorageError(err.filename or folder, "the figures", err) from None
        result.metrics["run"]["wall_s"] = time.perf_counter() - t_start
        rio.finish(folder, result)
        logger.info("results in %s", folder)
    return result
