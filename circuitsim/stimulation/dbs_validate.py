"""Validation of a DBS stimulus node (``kind: dbs``): SI values out, every error names its
config path, before anything compiles."""

from __future__ import annotations

import logging
from dataclasses import fields
from typing import Any, Dict, List, Mapping

from circuitsim.errors import ConfigError
from circuitsim.spec import StimulusContext, check_choice, check_population, check_stimulus_keys, nonneg, require
from circuitsim.schema import with_defaults
from circuitsim.stimulation.dbs_elements import ELEMENTS, onsets_from_params
from circuitsim.stimulation.dbs_schema import AxonalFailureConf, DbsConf, ExcitabilityConf
from circuitsim.stimulation.dbs_synapses import validate_depression
from circuitsim.stimulation.waveforms import PulseShape, WaveformError, check_train
from circuitsim.units import to_si

logger = logging.getLogger("circuitsim.stimulation.dbs")

SHAPES = ("monophasic", "biphasic")
#: the keys of a DBS node: the schema's (circuitsim.stimulation.dbs_schema.DbsConf)
KEYS = tuple(f.name for f in fields(DbsConf) if f.name != "kind")


def _to_ohm(value: Any, path: str) -> float:
    """An impedance such as '1*kohm', in ohm."""
    ohm = to_si(value, "resistance", path)
    require(ohm > 0, path, "must be positive")
    return ohm


def _amplitude(value: Any, path: str, impedance: float) -> tuple[float, str]:
    """Current in A from a current ('3*mA') or a voltage ('3*volt', through the impedance)."""
    try:
        return nonneg(to_si(value, "current", path), path, "amplitude"), "current"
    except ConfigError:
        pass
    try:
        volts = to_si(value, "voltage", path)
    except ConfigError:
        raise ConfigError(path, f"{value!r} is neither a current ('3*mA') nor a voltage ('3*volt')") from None
    nonneg(volts, path, "amplitude")
    return volts / impedance, "voltage"


def _pathway_list(value: Any, default: List[str], allowed: List[str], path: str, what: str) -> List[str]:
    if value is None:
        return default
    require(isinstance(value, (list, tuple)), path, f"a list of pathway names ({what})")
    for k, p in enumerate(value):
        require(p in allowed, f"{path}[{k}]", f"{p!r} is not {what}; choose from {', '.join(allowed) or 'none'}")
    return list(value)



def validate_dbs(stim: Mapping[str, Any], path: str, ctx: StimulusContext) -> Dict[str, Any]:
    """Check a DBS node; SI values out. Every error names its config path, before compiling.
    A key the node leaves out takes the schema's default (:class:`DbsConf`)."""
    check_stimulus_keys(stim, path, KEYS)
    stim = with_defaults(stim, DbsConf)
    target = stim.get("target")
    check_population(target, f"{path}.target", ctx)
    dt = ctx.sim.dt
    impedance = _to_ohm(stim["impedance"], f"{path}.impedance")
    require("amplitude" in stim, f"{path}.amplitude", "missing; give a current ('3*mA') or a voltage ('3*volt')")
    amplitude, amplitude_mode = _amplitude(stim["amplitude"], f"{path}.amplitude", impedance)
    frequency = nonneg(to_si(stim.get("frequency"), "rate", f"{path}.frequency"), f"{path}.frequency", "frequency")
    pulse_width = to_si(stim.get("pulse_width"), "time", f"{path}.pulse_width")
    shape_name = check_choice(stim["shape"], SHAPES, f"{path}.shape")
    gap = nonneg(to_si(stim["interphase_gap"], "time", f"{path}.interphase_gap"),
                 f"{path}.interphase_gap", "gap")
    anodic_width = stim["anodic_width"]
    anodic_width = None if anodic_width is None else to_si(anodic_width, "time", f"{path}.anodic_width")
    balanced = stim["balanced"]
    require(isinstance(balanced, bool), f"{path}.balanced", "must be true or false")
    try:
        shape = PulseShape(amplitude=amplitude, pulse_width=pulse_width, biphasic=shape_name == "biphasic",
                           interphase_gap=gap, anodic_ratio=float(stim["anodic_ratio"]),
                           anodic_width=anodic_width)
        if balanced:
            shape.require_balanced()
        check_train(frequency, shape, dt)
    except WaveformError as err:
        raise ConfigError(f"{path}.{err.field}", err.message) from None
    start = nonneg(to_si(stim["start"], "time", f"{path}.start"), f"{path}.start", "time")
    stop = ctx.sim.duration if stim["stop"] is None else to_si(stim["stop"], "time", f"{path}.stop")
    require(start < stop <= ctx.sim.duration + 1e-12, f"{path}.stop",
            f"must lie after start and within sim.duration ({ctx.sim.duration:g} s)")
    cycle_on = None if stim["cycle_on"] is None else to_si(stim["cycle_on"], "time", f"{path}.cycle_on")
    cycle_off = None if stim["cycle_off"] is None else to_si(stim["cycle_off"], "time", f"{path}.cycle_off")
    require((cycle_on is None) == (cycle_off is None), f"{path}.cycle_on", "cycling needs both cycle_on and cycle_off")
    if cycle_on is not None:
        require(cycle_on > 0, f"{path}.cycle_on", "must be positive")
        nonneg(cycle_off, f"{path}.cycle_off", "time")

    elements = stim["elements"]
    require(isinstance(elements, (list, tuple)) and len(elements) > 0, f"{path}.elements",
            f"a non-empty list of {', '.join(ELEMENTS)}")
    for k, e in enumerate(elements):
        check_choice(e, ELEMENTS, f"{path}.elements[{k}]")
    require(len(set(elements)) == len(elements), f"{path}.elements", "lists an element twice")
    excitability = {}
    given = stim["excitability"]
    require(isinstance(given, Mapping), f"{path}.excitability", "a mapping element -> {chronaxie, rheobase}")
    for key in given:
        check_choice(key, ELEMENTS, f"{path}.excitability.{key}")
    for e in ELEMENTS:
        node = given[e]
        require(isinstance(node, Mapping), f"{path}.excitability.{e}", "a mapping {chronaxie, rheobase}")
        for key in node:
            check_choice(key, [f.name for f in fields(ExcitabilityConf)], f"{path}.excitability.{e}.{key}")
        c = to_si(node["chronaxie"], "time", f"{path}.excitability.{e}.chronaxie")
        r = to_si(node["rheobase"], "current", f"{path}.excitability.{e}.rheobase")
        require(c > 0, f"{path}.excitability.{e}.chronaxie", "must be positive")
        require(r > 0, f"{path}.excitability.{e}.rheobase", "must be positive")
        excitability[e] = {"chronaxie": c, "rheobase": r}

    efferent_all = [p for p, pw in ctx.pathways.items() if pw.source == target]
    afferent_all = [p for p, pw in ctx.pathways.items() if pw.target == target and pw.source != target]
    efferent = _pathway_list(stim["efferent_pathways"], efferent_all, efferent_all,
                             f"{path}.efferent_pathways", f"an enabled pathway from {target}")
    afferent = _pathway_list(stim["afferent_pathways"], afferent_all, afferent_all,
                             f"{path}.afferent_pathways", f"an enabled pathway into {target} from another population")
    for e, paths in (("efferent_axons", efferent), ("afferent_axons", afferent)):
        if e in elements and not paths:
            logger.warning("%s: %s of %s selected, but there is no such pathway; nothing to stimulate there",
                           path, e, target)
    local_delay = to_si(stim["local_delay"], "time", f"{path}.local_delay")
    require(local_delay >= dt * (1 - 1e-9), f"{path}.local_delay", f"must be at least sim.dt ({dt * 1e3:g} ms)")
    for key in ("antidromic_efferent", "antidromic_afferent"):
        require(isinstance(stim[key], bool), f"{path}.{key}", "must be true or false")

    af = stim["axonal_failure"]
    require(isinstance(af, Mapping), f"{path}.axonal_failure", "a mapping {enabled, f_half, exponent}")
    for key in af:
        check_choice(key, [f.name for f in fields(AxonalFailureConf)], f"{path}.axonal_failure.{key}")
    require(isinstance(af["enabled"], bool), f"{path}.axonal_failure.enabled", "must be true or false")
    f_half = to_si(af["f_half"], "rate", f"{path}.axonal_failure.f_half")
    require(f_half > 0, f"{path}.axonal_failure.f_half", "must be positive")
    try:
        exponent = float(af["exponent"])
    except (TypeError, ValueError):
        exponent = float("nan")
    require(exponent > 0, f"{path}.axonal_failure.exponent", "must be positive")

    out: Dict[str, Any] = {
        "target": target, "frequency": frequency, "amplitude": amplitude, "amplitude_mode": amplitude_mode,
        "pulse_width": pulse_width, "biphasic": shape.biphasic, "interphase_gap": gap,
        "anodic_ratio": shape.anodic_ratio, "anodic_width": anodic_width, "balanced": balanced,
        "start": start, "stop": stop, "cycle_on": cycle_on, "cycle_off": cycle_off, "impedance": impedance,
        "elements": list(elements), "excitability": excitability,
        "efferent_pathways": efferent, "afferent_pathways": afferent,
        "efferent_targets": [ctx.pathways[p].target for p in efferent],
        "antidromic_efferent": stim["antidromic_efferent"], "antidromic_afferent": stim["antidromic_afferent"],
        "local_delay": local_delay,
        "axonal_failure": {"enabled": af["enabled"], "f_half": f_half, "exponent": exponent},
        "synaptic_depression": validate_depression(stim["synaptic_depression"], f"{path}.synaptic_depression"),
        "controller": None,
    }
    if stim["controller"]:   # {} or null: open loop
        from circuitsim.stimulation.closed_loop import validate_controller

        out["controller"] = validate_controller(stim["controller"], f"{path}.controller", ctx, frequency)
        out["runtime_only"] = "closed-loop controller reads the network during the run (Python network_operation)"
    n_pulses = onsets_from_params(out, dt).size
    if frequency > 0 and n_pulses == 0:
        logger.warning("%s: no pulse falls between start and stop", path)
    return out
