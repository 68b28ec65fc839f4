"""The ``sim`` and ``readout`` sections of the validated spec (:func:`circuitsim.spec.build_spec`
calls them): SI values, the schema's defaults, one-line errors naming the field."""

from __future__ import annotations

import math
import os
import re
from typing import Any, Mapping, Optional, Tuple

from circuitsim.errors import ConfigError, unknown_key
from circuitsim.schema import CODEGEN_TARGETS, DEVICES, MuscleConf, ReadoutConf, SimConf
from circuitsim.spec_checks import MAX_STEPS, _allow_large, _check_choice, _get, _require
from circuitsim.spec_types import MuscleSpec, Population, ReadoutSpec, SimSpec
from circuitsim.units import to_si

PLOTS = ("raster", "rates", "spectra", "channels", "muscle", "summary", "stim")



def _build_sim(sc: Mapping[str, Any]) -> SimSpec:
    dt = to_si(_get(sc, SimConf, "dt"), "time", "sim.dt")
    _require(dt > 0, "sim.dt", "must be positive")
    _require(dt <= 0.5e-3, "sim.dt", f"{dt * 1e3:g} ms is too coarse for these neuron models; use at most 0.5*ms")
    duration = to_si(_get(sc, SimConf, "duration"), "time", "sim.duration")
    _require(duration > 0, "sim.duration", "must be positive")
    steps = duration / dt
    _require(steps <= MAX_STEPS, "sim.duration", f"{duration:g} s is {steps:.4g} time steps, above the bound of "
             f"{MAX_STEPS} (sim.dt = {dt * 1e3:g} ms: at most {MAX_STEPS * dt / 3600:.3g} hours); use several shorter runs")
    _require(abs(steps - round(steps)) < 1e-6, "sim.duration",
             f"must be a whole number of time steps (sim.dt = {dt * 1e3:g} ms)")
    transient = to_si(_get(sc, SimConf, "transient"), "time", "sim.transient")
    _require(0 <= transient < duration, "sim.transient", "must be non-negative and shorter than sim.duration")
    seed = _get(sc, SimConf, "seed")
    _require(isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**31, "sim.seed",
             f"must be an integer in [0, 2**31) (got {seed!r})")
    device = _check_choice(_get(sc, SimConf, "device"), DEVICES, "sim.device")
    if device == "cuda_standalone":
        import importlib.util

        _require(importlib.util.find_spec("brian2cuda") is not None, "sim.device",
                 "cuda_standalone needs the optional package brian2cuda: pip install 'circuitsim[cuda]' "
                 "(and an NVIDIA GPU with the CUDA toolkit); or use cpp_standalone")
    target = _check_choice(_get(sc, SimConf, "codegen_target"), CODEGEN_TARGETS, "sim.codegen_target")
    threads = _get(sc, SimConf, "threads")
    _require(isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1, "sim.threads",
             f"must be a positive integer (got {threads!r})")
    cpus = os.cpu_count() or 1
    _require(threads <= cpus, "sim.threads", f"{threads} threads are more than this machine's {cpus} CPUs; "
                                             f"use at most sim.threads={cpus}")
    _allow_large(sc)
    return SimSpec(duration=duration, dt=dt, seed=seed, device=device, codegen_target=target,
                   threads=threads, build_dir=sc.get("build_dir"), transient=transient,
                   progress=bool(_get(sc, SimConf, "progress")),
                   vectorize=bool(_get(sc, SimConf, "vectorize")), max_wall_time=_max_wall_time(sc.get("max_wall_time")))


def _max_wall_time(value: Any) -> Optional[float]:
    """``sim.max_wall_time``: a positive, finite time (wall clock), or null for no limit."""
    if value is None:
        return None
    limit = to_si(value, "time", "sim.max_wall_time")
    _require(math.isfinite(limit) and limit > 0, "sim.max_wall_time",
             f"must be a positive time such as 3600*second, or null for no limit (got {value!r})")
    return limit


def _muscle_error(params: Mapping[str, Any], text: str) -> ConfigError:
    """MuscleParams' message as a ConfigError naming the field as the config wrote it."""
    from circuitsim.muscle import MuscleParams

    base = "readout.muscle.params"
    names = MuscleParams.field_names()   # flat name -> group ("" = top level)
    unknown = re.match(r"unknown MuscleParams field\(s\): ([^\s,;]+)", text)
    if unknown:
        label = unknown.group(1)
        group, _, name = label.rpartition(".")
        known = sorted({n for n, g in names.items() if g == group} | (set(names.values()) - {""} if not group else set()))
        return unknown_key(f"{base}.{label}", name, known)
    first = re.match(r"(\w+)", text)
    name = first.group(1) if first else ""
    if name in params:
        return ConfigError(f"{base}.{name}", text)
    for group, sub in params.items():
        if isinstance(sub, Mapping) and name in sub:
            return ConfigError(f"{base}.{group}.{name}", text)
    return ConfigError(base, text)


def _readout_population(name: Any, path: str, populations: Mapping[str, Population]) -> str:
    """A readout's population: one the circuit has, split into channels."""
    _require(name in populations, path, f"unknown population {name!r}; known: {', '.join(populations)}")
    _require(populations[name].channelled, path, f"{name!r} is not channelled; choose a channelled population "
             f"({', '.join(p for p, pop in populations.items() if pop.channelled)})")
    return name


def _coherence_pairs(value: Any, populations: Mapping[str, Population]) -> Tuple[Tuple[str, str], ...]:
    regions = sorted({pop.region for pop in populations.values()})
    pairs = []
    for k, pair in enumerate(value):
        path = f"readout.coherence_pairs[{k}]"
        _require(isinstance(pair, (list, tuple)) and len(pair) == 2, path, f"a pair is two regions, e.g. [gpi, ctx] (got {pair!r})")
        for name in pair:
            _require(name in regions, path, f"unknown region {name!r}; known: {', '.join(regions)}")
        pairs.append((str(pair[0]), str(pair[1])))
    return tuple(pairs)


def _build_readout(rc: Mapping[str, Any], channels: Tuple[str, ...],
                   populations: Mapping[str, Population]) -> ReadoutSpec:
    plots = tuple(_get(rc, ReadoutConf, "plots"))
    for i, name in enumerate(plots):
        _check_choice(name, PLOTS, f"readout.plots[{i}]")
    n_lfp = _get(rc, ReadoutConf, "lfp_neurons")
    _require(isinstance(n_lfp, int) and n_lfp >= 0, "readout.lfp_neurons", "must be a non-negative integer")
    segment = to_si(_get(rc, ReadoutConf, "spectrum_segment"), "time", "readout.spectrum_segment")
    _require(segment >= 0.1, "readout.spectrum_segment", "must be at least 0.1 s (4 Hz bands need it)")
    mc = rc.get("muscle") or {}
    muscles = tuple(_get(mc, MuscleConf, "muscles"))
    _require(len(muscles) == 2 == len(channels), "readout.muscle.muscles",
             "one antagonist pair is modelled: give two muscles, one per channel (left rotator first)")
    fraction = float(_get(mc, MuscleConf, "corticospinal_fraction"))
    _require(0 < fraction <= 1, "readout.muscle.corticospinal_fraction", f"must lie in (0, 1] (got {fraction})")
    params = dict(mc.get("params") or {})
    if _get(mc, MuscleConf, "enabled"):
        from circuitsim.muscle import MuscleParams

        try:
            MuscleParams.from_dict(params)
        except (ValueError, TypeError) as err:
            raise _muscle_error(params, str(err)) from None
    cs_pop = _readout_population(_get(mc, MuscleConf, "corticospinal_population"),
                                 "readout.muscle.corticospinal_population", populations)
    muscle = MuscleSpec(enabled=bool(_get(mc, MuscleConf, "enabled")), corticospinal_population=cs_pop,
                        corticospinal_fraction=fraction,
                        muscles=muscles, params=params)
    return ReadoutSpec(
        rate_bin=to_si(_get(rc, ReadoutConf, "rate_bin"), "time", "readout.rate_bin"),
        lfp_neurons=n_lfp, lfp_dt=to_si(_get(rc, ReadoutConf, "lfp_dt"), "time", "readout.lfp_dt"),
        spectrum_segment=segment, plots=plots, save_spikes=bool(_get(rc, ReadoutConf, "save_spikes")),
        coherence_pairs=_coherence_pairs(_get(rc, ReadoutConf, "coherence_pairs"), populations),
        selectivity_population=_readout_population(_get(rc, ReadoutConf, "selectivity_population"),
                                                   "readout.selectivity_population", populations),
        muscle=muscle,
    )
