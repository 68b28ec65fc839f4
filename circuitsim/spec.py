"""The validated run specification.

* The ``*Conf`` dataclasses, the structured-config schemas registered in Hydra's ConfigStore,
  live in :mod:`circuitsim.schema` (re-exported here). They give every optional field its
  default and make a misspelt key fail when the config is composed.
* :class:`RunSpec` and its parts are the validated, unit-checked specification that the
  builder consumes. :func:`build_spec` is the only way to make one; it raises
  :class:`~circuitsim.errors.ConfigError` naming the config path and the allowed values, before
  any Brian2 code is generated.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import typing
from dataclasses import replace
from typing import Any, Dict, Mapping, Optional, Tuple

from circuitsim import errors
from circuitsim.errors import ConfigError, did_you_mean, unknown_key
from circuitsim.plugins import STIMULI, register
from circuitsim.schema import (  # noqa: F401  (re-exported: circuitsim.spec.SimConf, ...)
    ReceptorConf, BackgroundConf, TargetRateConf, PopulationConf, PathwayConf, ModulatorConf, CircuitConf,
    SimConf, CommandConf, TaskConf, MuscleConf, ReadoutConf, register_configs, RECEPTOR_NAMES, TOPOLOGIES,
    DEVICES, CODEGEN_TARGETS, NEURON_PARAMS, OPTIONAL_NEURON_PARAMS)
from circuitsim.spec_checks import (  # noqa: F401  (re-exported: circuitsim.spec.require, MAX_STEPS, ...)
    ALLOW_LARGE, MAX_NEURONS, MAX_POISSON_PER_STEP, MAX_STEPS, MAX_WEIGHT, _allow_large, _check_choice, _get, _nonneg,
    _plain, _require, check_choice, nonneg, require)
from circuitsim.spec_memory import available_memory, estimate_memory  # noqa: F401  (re-exported)
from circuitsim.spec_sections import PLOTS, _build_readout, _build_sim  # noqa: F401  (re-exported)
from circuitsim.spec_types import (  # noqa: F401  (re-exported: circuitsim.spec.RunSpec, ...)
    MuscleSpec, Pathway, Population, ReadoutSpec, Receptor, RunSpec, SimSpec, StimulusContext)
from circuitsim.units import to_si

logger = logging.getLogger(__name__)

# ----------------------------------------------------------------------- validation


def _channel_scale(pc: Any, path: str, side: Optional[str], channels: Tuple[str, ...],
                   target: "Population") -> Tuple[float, ...]:
    """Per-target-channel weight factors of a lateralised pathway (``side_scale``), or ()."""
    side_scale = float(_get(pc, PathwayConf, "side_scale"))
    _require(math.isfinite(side_scale) and side_scale >= 0, f"{path}.side_scale",
             f"must be a finite number >= 0 (got {side_scale})")
    if side_scale == 1.0:
        return ()
    _require(side is not None, f"{path}.side_scale",
             "acts on the channel named by circuit.side, which is null; set circuit.side (e.g. side=left)")
    _require(target.channelled, f"{path}.side_scale", "needs a channelled target population")
    return tuple(side_scale if ch == side else 1.0 for ch in channels)


#: keys a config may add to a schema node without being in the composed defaults (so stored
#: configs of earlier runs stay equal): node path -> keys. The mapping is the errors layer's, so
#: that its messages know these keys without importing this module.
OPTIONAL_KEYS: Dict[str, Tuple[str, ...]] = errors.OPTIONAL_KEYS
OPTIONAL_KEYS["sim"] = (ALLOW_LARGE,)
#: top-level keys besides the schemas: stimuli (each kind checks its own keys), the condition's
#: name, the command's control keys (+resume, +fit; circuitsim.cli) and Hydra's node
OTHER_TOP_KEYS = ("stim", "condition_name", "resume", "fit", "hydra")


def _schemas() -> Dict[str, type]:
    return {"circuit": CircuitConf, "sim": SimConf, "readout": ReadoutConf, "task": TaskConf}


def _nested(tp: Any) -> Optional[Tuple[str, type]]:
    """("node", cls) for a dataclass field type, ("map", cls) for Dict[str, dataclass], else None."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) is typing.Union and len(args) == 1:
        return _nested(args[0])
    if dataclasses.is_dataclass(tp):
        return ("node", tp)
    if typing.get_origin(tp) is dict and len(args) == 2 and dataclasses.is_dataclass(args[1]):
        return ("map", args[1])
    return None


def _check_node(node: Any, cls: type, path: str) -> None:
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls)]
    _require(isinstance(node, Mapping), path, f"must be a mapping with keys {', '.join(fields)} "
                                              f"(got {type(node).__name__})")
    known = fields + list(OPTIONAL_KEYS.get(path, ()))
    for key, value in node.items():
        kpath = f"{path}.{key}"
        if key not in known:
            raise unknown_key(kpath, key, known)
        sub = _nested(hints.get(key))
        if sub is None or value is None:
            continue
        kind, subcls = sub
        if kind == "node":
            _check_node(value, subcls, kpath)
            continue
        _require(isinstance(value, Mapping), kpath, f"must be a mapping name -> {{...}} (got {type(value).__name__})")
        for name, item in value.items():
            if item is not None:
                _check_node(item, subcls, f"{kpath}.{name}")


def check_keys(cfg: Mapping[str, Any]) -> None:
    """Refuse keys that no schema knows, wherever they come from (``+key=...``, ``++key=...``, a
    condition, task or stimulation file, a ``--config-dir`` folder), suggesting the nearest valid
    name. Stimuli (``stim.*``, ``task.command``) are checked by their kind's validator."""
    schemas = _schemas()
    for key, value in cfg.items():
        if key in schemas:
            if value is not None:
                _check_node(value, schemas[key], str(key))
        elif key not in OTHER_TOP_KEYS:
            raise unknown_key(str(key), key, list(schemas) + list(OTHER_TOP_KEYS[:2]))


def check_finite(node: Any, path: str = "") -> None:
    """Refuse a non-finite number (nan, inf) anywhere in a plain config, naming its path."""
    if isinstance(node, float) and not math.isfinite(node):
        raise ConfigError(path or "config", f"must be a finite number (got {node}); give a finite value")
    if isinstance(node, Mapping):
        for key, value in node.items():
            check_finite(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, (list, tuple)):
        for k, value in enumerate(node):
            check_finite(value, f"{path}[{k}]")


def _check_poisson_rate(rate: float, dt: float, path: str, what: str) -> None:
    limit = MAX_POISSON_PER_STEP / dt
    _require(rate <= limit, path, f"{what} {rate:.4g} Hz is above the bound of {limit:.4g} Hz "
                                  f"({MAX_POISSON_PER_STEP:g} Poisson inputs per neuron and time step at sim.dt = "
                                  f"{dt * 1e3:g} ms); use a lower rate (or params.I_bias for a constant drive)")


def _check_weight(weight: float, path: str, what: str = "effective weight") -> None:
    _require(weight <= MAX_WEIGHT, path, f"{what} {weight * 1e9:.4g} nS is above the bound of "
                                         f"{MAX_WEIGHT * 1e9:g} nS per synapse (forward Euler would become unstable); "
                                         f"use a smaller value")


def _check_time_constants(receptors: Mapping[str, Receptor], populations: Mapping[str, Population],
                          dt: float) -> None:
    """Forward Euler needs every time constant to be at least one time step."""
    msg = f"must be at least one time step (sim.dt = {dt * 1e3:g} ms) for forward Euler"
    for name, rec in receptors.items():
        _require(rec.tau >= dt * (1 - 1e-9), f"circuit.receptors.{name}.tau", msg)
    for name, pop in populations.items():
        for key in ("tau_w", "tau_h_plus", "tau_h_minus"):
            _require(pop.params[key] >= dt * (1 - 1e-9), f"circuit.populations.{name}.params.{key}", msg)
        _require(pop.params["C"] / pop.params["gL"] >= dt * (1 - 1e-9), f"circuit.populations.{name}.params.gL",
                 f"the membrane time constant C/gL {msg}")


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.3g} GiB"


def _check_memory(spec: "RunSpec", allow_large: bool) -> None:
    """Refuse a run whose memory estimate exceeds the memory available, unless allow_large."""
    if allow_large:
        return
    available = available_memory()
    if available is None:
        return
    est = estimate_memory(spec)
    if est["total"] <= available:
        return
    if est["neurons"] + est["synapses"] + est["base"] >= est["spikes"] + est["lfp"] + est["rates"]:
        largest = max(spec.populations.values(), key=lambda p: p.n)
        path = "circuit.scale" if spec.scale > 1 else f"circuit.populations.{largest.name}.n"
        fix = "a smaller circuit.scale or fewer neurons"
    else:
        path, fix = "sim.duration", "a shorter sim.duration (or several shorter runs)"
    raise ConfigError(path, f"this run would need about {_gib(est['total'])} of memory ({est['n_neurons']:.4g} "
                            f"neurons, {est['n_synapses']:.4g} synapses, {_gib(est['spikes'])} of spikes for "
                            f"{spec.sim.duration:g} s), more than the {_gib(available)} available; use {fix}, "
                            f"or add +sim.{ALLOW_LARGE}=true to run it anyway")


def _modulator_factors(modulators: Mapping[str, Any], populations: Mapping[str, Any],
                       pathways: Mapping[str, Any]) -> Tuple[Dict[str, float], Dict[str, float]]:
    """Multiplicative factors on pathway weights and background rates from all modulators."""
    w_factor = {name: 1.0 for name in pathways}
    bg_factor = {name: 1.0 for name in populations}
    for mname, mod in modulators.items():
        base = f"circuit.modulators.{mname}"
        level = float(_get(mod, ModulatorConf, "level"))
        _nonneg(level, f"{base}.level", "modulator level")
        for key, gains, known, kind in (
            ("weight_gain", w_factor, pathways, "pathway"),
            ("background_gain", bg_factor, populations, "population"),
        ):
            for target, gain in (mod.get(key) or {}).items():
                names = list(known) if target == "*" else [target]
                if target != "*" and target not in known:
                    raise ConfigError(f"{base}.{key}.{target}", f"unknown {kind} {target!r}; "
                                      f"{did_you_mean(target, known)} (known: {', '.join(known)} or '*')")
                for name in names:
                    gains[name] *= max(0.0, 1.0 + float(gain) * (level - 1.0))
                    _require(math.isfinite(gains[name]), f"{base}.{key}.{target}",
                             f"gain {gain:g} at level {level:g} gives an infinite factor; use smaller values")
    return w_factor, bg_factor


def build_spec(cfg: Any) -> RunSpec:
    """Validate a composed config and turn it into a :class:`RunSpec`.

    Parameters
    ----------
    cfg : DictConfig or dict
        The composed config with at least ``circuit`` and ``sim`` nodes.

    Raises
    ------
    ConfigError
        For the first invalid value found, naming its config path and what is allowed: an
        unknown key (with the nearest valid name), a non-finite number, a value above one of the
        bounds of this module (``MAX_*``), or a run whose memory estimate exceeds the memory
        available (:func:`estimate_memory`; ``+sim.allow_large=true`` lifts that check).
    """
    cfg = _plain(cfg)
    _require(isinstance(cfg, Mapping), "config", "must be a mapping; compose it with circuitsim.compose()")
    for key in ("circuit", "sim"):
        _require(key in cfg, key, "missing config node; compose the config with circuitsim.compose()")
        _require(isinstance(cfg[key], Mapping), key, f"must be a mapping (got {cfg[key]!r})")
    check_keys(cfg)
    check_finite(cfg)
    circuit = cfg["circuit"]
    channels = tuple(circuit.get("channels") or ())
    _require(len(channels) >= 2, "circuit.channels", "at least two motor channels are needed (e.g. [left, right])")
    _require(len(set(channels)) == len(channels), "circuit.channels", "channel names must be unique")
    scale = float(_get(circuit, CircuitConf, "scale"))
    _require(scale > 0, "circuit.scale", f"must be positive (got {scale})")

    receptors: Dict[str, Receptor] = {}
    for name, rc in (circuit.get("receptors") or {}).items():
        path = f"circuit.receptors.{name}"
        _check_choice(name, RECEPTOR_NAMES, path)
        tau = to_si(rc["tau"], "time", f"{path}.tau")
        _require(tau > 0, f"{path}.tau", "must be positive")
        sign = _check_choice(rc.get("sign"), ("excitatory", "inhibitory"), f"{path}.sign")
        receptors[name] = Receptor(name, tau, to_si(rc["E"], "voltage", f"{path}.E"), sign)
    for name in RECEPTOR_NAMES:
        _require(name in receptors, f"circuit.receptors.{name}", "missing; every receptor type needs tau, E and sign")

    pops_cfg = circuit.get("populations") or {}
    paths_cfg = circuit.get("pathways") or {}
    _require(len(pops_cfg) > 0, "circuit.populations", "no populations defined")
    w_factor, bg_factor = _modulator_factors(circuit.get("modulators") or {}, pops_cfg, paths_cfg)

    populations: Dict[str, Population] = {}
    for name, pc in pops_cfg.items():
        path = f"circuit.populations.{name}"
        _require(isinstance(name, str) and name.isidentifier(), path,
                 "population names must be identifiers (letters, digits, _)")
        n = pc.get("n")
        _require(isinstance(n, int) and not isinstance(n, bool) and n > 0, f"{path}.n",
                 f"must be a positive integer (got {n!r})")
        _require(n * scale <= MAX_NEURONS, f"{path}.n" if n > MAX_NEURONS else "circuit.scale",
                 f"{n} neurons x circuit.scale {scale:g} is above the bound of {MAX_NEURONS} neurons "
                 "(Brian2 indexes them with 32-bit integers)")
        _check_choice(_get(pc, PopulationConf, "model"), ("adex",), f"{path}.model")
        params = {}
        given = pc.get("params") or {}
        for key in given:
            if key not in NEURON_PARAMS:
                raise ConfigError(f"{path}.params.{key}", f"unknown neuron parameter; "
                                  f"{did_you_mean(key, NEURON_PARAMS)} (allowed: {', '.join(NEURON_PARAMS)})")
        for key, dim in NEURON_PARAMS.items():
            _require(key in given or key in OPTIONAL_NEURON_PARAMS, f"{path}.params.{key}", f"missing ({dim} with unit)")
            params[key] = to_si(given.get(key, OPTIONAL_NEURON_PARAMS.get(key)), dim, f"{path}.params.{key}")
        for key in ("C", "gL", "DeltaT", "tau_w", "tau_h_plus", "tau_h_minus"):
            _require(params[key] > 0, f"{path}.params.{key}", "must be positive")
        for key in ("t_ref", "a", "b", "g_T"):
            _nonneg(params[key], f"{path}.params.{key}")
        _require(params["V_peak"] > params["VT"], f"{path}.params.V_peak", "must be above VT")
        _require(params["EL"] < params["VT"], f"{path}.params.EL",
                 f"must lie below VT (EL {params['EL'] * 1e3:g} mV, VT {params['VT'] * 1e3:g} mV): initial membrane "
                 "potentials are drawn between them; for a tonically firing cell raise I_bias instead")
        bg = pc.get("background") or {}
        bg_rate = _nonneg(to_si(_get(bg, BackgroundConf, "rate"), "rate", f"{path}.background.rate"),
                          f"{path}.background.rate", "rate")
        bg_weight = _nonneg(to_si(_get(bg, BackgroundConf, "weight"), "conductance", f"{path}.background.weight"),
                            f"{path}.background.weight", "weight")
        bg_receptor = _check_choice(_get(bg, BackgroundConf, "receptor"), RECEPTOR_NAMES, f"{path}.background.receptor")
        tr = pc.get("target_rate") or {}
        low = _nonneg(to_si(_get(tr, TargetRateConf, "low"), "rate", f"{path}.target_rate.low"), f"{path}.target_rate.low", "rate")
        high = to_si(_get(tr, TargetRateConf, "high"), "rate", f"{path}.target_rate.high")
        _require(high >= low, f"{path}.target_rate.high", "must not be below target_rate.low")
        populations[name] = Population(
            name=name, region=str(pc.get("region")), n_per_channel=max(1, int(round(n * scale))),
            channelled=bool(_get(pc, PopulationConf, "channelled")), n_channels=len(channels), params=params,
            bg_rate=bg_rate * bg_factor[name], bg_weight=bg_weight, bg_receptor=bg_receptor,
            target_low=low, target_high=high, target_source=str(_get(tr, TargetRateConf, "source")),
            description=str(_get(pc, PopulationConf, "description")),
        )

    sim = _build_sim(cfg["sim"])
    n_total = sum(p.n for p in populations.values())
    _require(n_total <= MAX_NEURONS, "circuit.scale",
             f"{n_total} neurons in all are above the bound of {MAX_NEURONS} (32-bit indices)")
    _check_time_constants(receptors, populations, sim.dt)
    for name, pop in populations.items():
        _check_poisson_rate(pop.bg_rate, sim.dt, f"circuit.populations.{name}.background.rate",
                            "the background rate (after modulators)")
        _check_weight(pop.bg_weight, f"circuit.populations.{name}.background.weight", "the background weight")

    side = circuit.get("side")
    if side is not None:
        _require(side in channels, "circuit.side",
                 f"{side!r} is not a channel; choose one of {', '.join(channels)} (or null)")
    pathways: Dict[str, Pathway] = {}
    for name, pc in paths_cfg.items():
        path = f"circuit.pathways.{name}"
        src, tgt = pc.get("source"), pc.get("target")
        for role, pop in (("source", src), ("target", tgt)):
            _require(pop in populations, f"{path}.{role}",
                     f"unknown population {pop!r}; known: {', '.join(populations)}")
        _require(name == f"{src}_{tgt}", path, f"a pathway is named <source>_<target>; rename it to '{src}_{tgt}'")
        receptor = _check_choice(pc.get("receptor"), RECEPTOR_NAMES, f"{path}.receptor")
        topology = _check_choice(_get(pc, PathwayConf, "topology"), TOPOLOGIES, f"{path}.topology")
        _check_choice(_get(pc, PathwayConf, "rule"), ("random",), f"{path}.rule")
        if topology == "focal":
            _require(populations[src].channelled and populations[tgt].channelled, f"{path}.topology",
                     "'focal' needs channelled source and target populations; use 'diffuse'")
        p = float(_get(pc, PathwayConf, "p"))
        _require(0.0 <= p <= 1.0, f"{path}.p", f"a probability must lie in [0, 1] (got {p})")
        p_scale = float(_get(pc, PathwayConf, "p_scale"))
        _require(p_scale >= 0, f"{path}.p_scale", f"cannot be negative (got {p_scale})")
        _require(p * p_scale <= 1.0, f"{path}.p_scale", f"p * p_scale = {p * p_scale:g} exceeds 1")
        weight_scale = float(_get(pc, PathwayConf, "weight_scale"))
        _require(weight_scale >= 0, f"{path}.weight_scale",
                 f"cannot be negative (got {weight_scale}); the sign comes from the receptor")
        weight = _nonneg(to_si(pc.get("weight"), "conductance", f"{path}.weight"), f"{path}.weight", "weight")
        delay = to_si(_get(pc, PathwayConf, "delay"), "time", f"{path}.delay")
        _require(delay >= sim.dt * (1 - 1e-9), f"{path}.delay",
                 f"must be at least one time step (sim.dt = {sim.dt * 1e3:g} ms)")
        channel_scale = _channel_scale(pc, path, side, channels, populations[tgt])
        _check_weight(weight * weight_scale * w_factor[name], f"{path}.weight_scale" if weight_scale > 1 else f"{path}.weight",
                      f"the effective weight (weight x weight_scale {weight_scale:g} x modulators {w_factor[name]:g})")
        if not _get(pc, PathwayConf, "enabled"):
            continue
        pathways[name] = Pathway(name=name, source=src, target=tgt, receptor=receptor, p=p * p_scale,
                                 weight=weight * weight_scale * w_factor[name], delay=delay,
                                 topology=topology, ref=str(_get(pc, PathwayConf, "ref")), channel_scale=channel_scale)
    if side is not None and not any(pw.channel_scale for pw in pathways.values()):
        raise ConfigError("circuit.side", f"is {side!r}, but no enabled pathway has a side_scale other than 1, "
                          "so it would change nothing; leave it null or lateralise a pathway")

    readout = _build_readout(cfg.get("readout") or {}, channels, populations)
    _require(readout.rate_bin >= sim.dt * (1 - 1e-9), "readout.rate_bin", "must be at least sim.dt")
    _require(readout.lfp_dt >= sim.dt * (1 - 1e-9), "readout.lfp_dt", "must be at least sim.dt")
    stim_ctx = StimulusContext(populations=populations, pathways=pathways, channels=channels, sim=sim)
    stimuli: Dict[str, Any] = {}
    stim_node = cfg.get("stim") or {}
    _require(isinstance(stim_node, Mapping), "stim", "must map stimulus names to stimulus nodes (stim=<preset>, "
             "e.g. stim=dbs_gpi, or stim.<name>.kind=...)")
    for name, stim in stim_node.items():
        _require(isinstance(name, str) and name.isidentifier() and name != "task", f"stim.{name}",
                 "a stimulus name must be an identifier other than 'task'")
        stimuli[name] = _validate_stimulus(stim or {}, f"stim.{name}", stim_ctx)
    task = None
    command = (cfg.get("task") or {}).get("command")
    if command:
        task = _validate_stimulus(command, "task.command", stim_ctx)
        stimuli["task"] = task
    for name, stim in stimuli.items():
        if stim.get("kind") == "cortical_command":   # its rate and weight feed the neurons' Poisson slot
            base = "task.command" if name == "task" else f"stim.{name}"
            _check_poisson_rate(stim["rate"], sim.dt, f"{base}.rate", "the command's rate")
            _check_weight(stim["weight"], f"{base}.weight", "the command's weight")
    needs_runtime = [f"{name} ({stim['runtime_only']})" for name, stim in stimuli.items() if stim.get("runtime_only")]
    if needs_runtime and sim.device != "runtime":
        logger.warning("sim.device=%s cannot run %s; using sim.device=runtime for this run",
                       sim.device, "; ".join(needs_runtime))
        sim = replace(sim, device="runtime")
    spec = RunSpec(channels=channels, scale=scale, receptors=receptors, populations=populations,
                   pathways=pathways, sim=sim, readout=readout, stimuli=stimuli, task=task)
    _check_memory(spec, _allow_large(cfg["sim"]))
    return spec


#: stimulus kind -> its validator ``fn(stim, path, ctx) -> dict`` (a view onto the one stimulus
#: registry, :data:`circuitsim.plugins.STIMULI`; register with ``@register(kind).validator``).
STIMULUS_VALIDATORS = STIMULI.role("validator")


def register_stimulus_validator(kind: str):
    """Register ``fn(stim, path, ctx)`` as the validator of stimulus ``kind`` (``register(kind).validator``)."""
    return register(kind).validator


def _validate_stimulus(stim: Mapping[str, Any], path: str, ctx: StimulusContext) -> Dict[str, Any]:
    """Check a stimulus node with its kind's registered validator; SI values out."""
    _require(isinstance(stim, Mapping), path, "a stimulus is a mapping with at least 'kind'")
    kind = _check_choice(stim.get("kind"), STIMULI.kinds("validator"), f"{path}.kind")
    out = STIMULI[kind].validator(stim, path, ctx)
    out["kind"] = kind
    return out


def check_population(name: Any, path: str, ctx: StimulusContext) -> str:
    """Refuse a population name the circuit does not have, listing the known ones."""
    _require(name in ctx.populations, path, f"unknown population {name!r}; known: {', '.join(ctx.populations)}")
    return name


def check_stimulus_keys(stim: Mapping[str, Any], path: str, allowed: Tuple[str, ...]) -> None:
    """Refuse keys a stimulus kind does not know (typos would otherwise be ignored)."""
    for key in stim:
        if key not in allowed and key != "kind":
            what = f" for a {stim['kind']!r} stimulus" if stim.get("kind") else ""
            raise ConfigError(f"{path}.{key}", f"unknown key{what}; {did_you_mean(key, allowed)} "
                                               f"(allowed: {', '.join(allowed)})")
