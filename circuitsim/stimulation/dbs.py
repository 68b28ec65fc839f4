"""Deep brain stimulation (registers the "dbs" stimulus kind).

What a pulse does (the mechanism; nothing here acts on outputs directly)
-----------------------------------------------------------------------
An electrode in the ``target`` population delivers pulses (:mod:`~circuitsim.stimulation.waveforms`:
frequency, amplitude, pulse width, monophasic cathodic or biphasic, start/stop, cycling). Three
kinds of neural element near the electrode can be excited (config ``elements``):

``somata``
    the target's cell bodies; an activated soma fires a spike at the pulse (its membrane is set
    above the spike cut-off unless it is refractory), which then acts through all its synapses.
``efferent_axons``
    the target's own axons (one per target neuron); an activated axon carries the spike
    orthodromically to every synapse of the pathways whose source is the target, with those
    pathways' weights and delays; with ``antidromic_efferent`` it also invades its soma after
    ``local_delay``.
``afferent_axons``
    the fibres of populations projecting into the target (one per source neuron with a synapse
    in the target, per pathway in ``afferent_pathways``); an activated fibre excites its synapses
    in the target after ``local_delay`` (orthodromic) and, with ``antidromic_afferent``, makes its
    source soma fire after the pathway's delay (antidromic, e.g. motor cortex through the
    hyperdirect ``ctx_e_stn`` fibres during STN DBS, Gradinaru et al. 2009, Science 324:354). The
    antidromically invaded soma's spike also reaches the soma's other targets (its collaterals).
    Limitation: it also reaches the stimulated synapses a second time, where in reality the
    orthodromic spike and refractoriness would block it.

Which elements one pulse activates follows the strength-duration relation of Weiss / Lapicque
(Ranck 1975, Brain Res 98:417)::

    I_th(pw) = I_rh * (1 + c / pw)

with chronaxie ``c`` and rheobase ``I_rh`` per element type (``excitability``; defaults in
:data:`DEFAULT_EXCITABILITY`), combined with the current-distance relation ``I_th ~ r**2``
(Stoney, Thompson & Asanuma 1968, J Neurophysiol 31:659; Ranck 1975). Elements sit uniformly in
a sphere around the electrode (model choice), each at a distance drawn once per run from the
run's seed, so element ``k`` has threshold ``I_rh * (1 + c/pw) * (r_k/R)**2`` where ``I_rh`` is
the rheobase of the farthest element (at the edge, ``r = R``). The expected activated fraction
is therefore ``min(1, (I / (I_rh * (1 + c/pw)))**1.5)``: it rises monotonically with amplitude
and pulse width, and axons (chronaxie ~30-200 us) are recruited before somata (~1-10 ms) at
clinical pulse widths (Ranck 1975; Holsheimer et al. 2000, Eur J Neurosci 12:4573; McIntyre et
al. 2004, J Neurophysiol 91:1457). The activated subset is fixed for a given amplitude; a
closed-loop controller (:mod:`~circuitsim.stimulation.closed_loop`) changing the amplitude
changes it.

A voltage-controlled amplitude (``3*volt``) is converted to current through the electrode
impedance ``impedance`` (I = V / R; resistive load, model choice: clinical DBS impedances are of
the order of 1 kOhm; the electrode-tissue capacitance discussed by Butson & McIntyre 2005, Clin
Neurophysiol 116:2490, is neglected). The same impedance gives the delivered energy, the sum
over pulses and phases of I**2 * R * width.

Axonal failure at high frequency (``axonal_failure``, off by default): each axonal terminal
transmits a pulse with probability ``1 / (1 + (f / f_half)**exponent)``, a static stand-in
(model choice) for the frequency-dependent failures of Rosenbaum et al. 2014.

Short-term depression of the stimulated synapses (``synaptic_depression``, on by default for the
afferent fibres' synapses): :mod:`~circuitsim.stimulation.dbs_synapses`. What a microelectrode
would record (target and efferent rates, release efficacy): :mod:`~circuitsim.stimulation.dbs_responses`.

Metrics (``metrics.stim.<name>``)
---------------------------------
``activated_fraction`` (over all selected elements, averaged over delivered pulses, i.e. those
with an amplitude above 0; 0 without pulses), ``activated_fraction_<element>``,
``expected_fraction_<element>``, ``n_elements_<element>``, ``charge_per_phase_nc`` (programmed
cathodic phase, nC), ``net_charge_nc``, ``energy`` (J, delivered in the run), ``energy_uj``,
``mean_power_uw``, ``n_pulses`` (delivered, amplitude > 0), ``n_pulses_scheduled``,
``frequency_hz``, ``amplitude_ma``, ``pulse_width_us``, ``p_transmit``, ``locking_activated`` / ``locking_not_activated`` (fraction of pulses followed
within ``LOCK_WINDOW`` by a spike of an activated / a non-activated target soma), and for closed
loop ``fraction_time_on``, ``mean_amplitude_ma``, ``mean_biomarker``, ``n_updates``.

Pulses reach the network through a pulse-generator group and per-synapse data (``active``,
weights, delays), so changing a DBS value changes data, not generated code
(:func:`dbs_structure` lists what does change code).
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from circuitsim.circuit.registry import (BuildContext, register_measure, register_plot, register_stimulus,
                                        register_structure)
from circuitsim.errors import ConfigError
from circuitsim.spec import (StimulusContext, check_choice, check_population, check_stimulus_keys, nonneg,
                             register_stimulus_validator, require)
from circuitsim.stimulation.dbs_synapses import (axon_synapse_code, depression_values, for_element, resources,
                                                 validate_depression)
from circuitsim.stimulation.waveforms import PulseShape, WaveformError, check_train, regular_onsets
from circuitsim.units import to_si

logger = logging.getLogger(__name__)

ELEMENTS = ("somata", "efferent_axons", "afferent_axons")
SHAPES = ("monophasic", "biphasic")
KEYS = ("target", "frequency", "amplitude", "pulse_width", "shape", "interphase_gap", "anodic_ratio",
        "anodic_width", "balanced", "start", "stop", "cycle_on", "cycle_off", "impedance", "elements",
        "excitability", "efferent_pathways", "afferent_pathways", "antidromic_efferent",
        "antidromic_afferent", "local_delay", "axonal_failure", "synaptic_depression", "controller")


@dataclass(frozen=True)
class Excitability:
    """Strength-duration parameters of one element type."""

    chronaxie: float   # s
    rheobase: float    # A, of the farthest element of the stimulated volume


#: Defaults (overridable per stimulus under ``excitability``). Chronaxies: large myelinated
#: axons 30-200 us, cell bodies about 1-10 ms (Ranck 1975); DBS chronaxies measured in patients
#: lie in the axonal range (Holsheimer et al. 2000). Rheobase of the farthest element: model
#: choice, set so that a clinical GPi setting (3 mA, 210 us) activates about half of the axons
#: and under a tenth of the somata (axons before somata: McIntyre et al. 2004).
DEFAULT_EXCITABILITY = {
    "somata": Excitability(chronaxie=1e-3, rheobase=3e-3),
    "efferent_axons": Excitability(chronaxie=100e-6, rheobase=3e-3),
    "afferent_axons": Excitability(chronaxie=100e-6, rheobase=3e-3),
}
#: Distance of the stimulated point from soma or nearby terminals, as a conduction time
#: (model choice), and the default electrode impedance (model choice, see module docstring).
DEFAULT_LOCAL_DELAY = "0.5*ms"
DEFAULT_IMPEDANCE = "1*kohm"
#: Axonal failure defaults (model choice, after Rosenbaum et al. 2014).
DEFAULT_FAILURE = {"f_half": "100*Hz", "exponent": 2.0}
#: A forced soma spike sets v to V_peak + this (numerical device: the threshold is v > V_peak).
FORCED_SPIKE_OVERSHOOT = 1e-3  # V
#: A spike within this time after a pulse counts as time-locked to it (for the locking metrics).
LOCK_WINDOW = 2e-3  # s




class _ForcedSpikeWarningFilter(logging.Filter):
    """Drop Brian2's order-of-execution warning for the forced-spike code of DBS synapses: each of
    those Synapses objects has at most one synapse per postsynaptic neuron, so the order does
    not matter."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "_overshoot" not in record.getMessage()


_brian_codegen_logger = logging.getLogger("brian2.codegen.generators.base")
if not any(isinstance(f, _ForcedSpikeWarningFilter) for f in _brian_codegen_logger.filters):
    _brian_codegen_logger.addFilter(_ForcedSpikeWarningFilter())


# ----------------------------------------------------------------------------- validation


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


def shape_from_params(params: Mapping[str, Any]) -> PulseShape:
    return PulseShape(amplitude=params["amplitude"], pulse_width=params["pulse_width"],
                      biphasic=params["biphasic"], interphase_gap=params["interphase_gap"],
                      anodic_ratio=params["anodic_ratio"], anodic_width=params["anodic_width"])


def onsets_from_params(params: Mapping[str, Any], dt: float) -> np.ndarray:
    return regular_onsets(params["frequency"], params["start"], params["stop"], dt,
                          params["cycle_on"], params["cycle_off"])


def transmission_probability(params: Mapping[str, Any]) -> float:
    """Per-pulse transmission probability of an axon terminal (1 without axonal failure)."""
    af = params["axonal_failure"]
    if not af["enabled"] or params["frequency"] == 0:
        return 1.0
    return 1.0 / (1.0 + (params["frequency"] / af["f_half"]) ** af["exponent"])


@register_stimulus_validator("dbs")
def validate_dbs(stim: Mapping[str, Any], path: str, ctx: StimulusContext) -> Dict[str, Any]:
    """Check a DBS node; SI values out. Every error names its config path, before compiling."""
    check_stimulus_keys(stim, path, KEYS)
    target = stim.get("target")
    check_population(target, f"{path}.target", ctx)
    dt = ctx.sim.dt
    impedance = _to_ohm(stim.get("impedance", DEFAULT_IMPEDANCE), f"{path}.impedance")
    require("amplitude" in stim, f"{path}.amplitude", "missing; give a current ('3*mA') or a voltage ('3*volt')")
    amplitude, amplitude_mode = _amplitude(stim["amplitude"], f"{path}.amplitude", impedance)
    frequency = nonneg(to_si(stim.get("frequency"), "rate", f"{path}.frequency"), f"{path}.frequency", "frequency")
    pulse_width = to_si(stim.get("pulse_width"), "time", f"{path}.pulse_width")
    shape_name = check_choice(stim.get("shape", "monophasic"), SHAPES, f"{path}.shape")
    gap = nonneg(to_si(stim.get("interphase_gap", "0*us"), "time", f"{path}.interphase_gap"),
                 f"{path}.interphase_gap", "gap")
    anodic_width = stim.get("anodic_width")
    anodic_width = None if anodic_width is None else to_si(anodic_width, "time", f"{path}.anodic_width")
    balanced = stim.get("balanced", False)
    require(isinstance(balanced, bool), f"{path}.balanced", "must be true or false")
    try:
        shape = PulseShape(amplitude=amplitude, pulse_width=pulse_width, biphasic=shape_name == "biphasic",
                           interphase_gap=gap, anodic_ratio=float(stim.get("anodic_ratio", 1.0)),
                           anodic_width=anodic_width)
        if balanced:
            shape.require_balanced()
        check_train(frequency, shape, dt)
    except WaveformError as err:
        raise ConfigError(f"{path}.{err.field}", err.message) from None
    start = nonneg(to_si(stim.get("start", "0*ms"), "time", f"{path}.start"), f"{path}.start", "time")
    stop = ctx.sim.duration if stim.get("stop") is None else to_si(stim["stop"], "time", f"{path}.stop")
    require(start < stop <= ctx.sim.duration + 1e-12, f"{path}.stop",
            f"must lie after start and within sim.duration ({ctx.sim.duration:g} s)")
    cycle_on = None if stim.get("cycle_on") is None else to_si(stim["cycle_on"], "time", f"{path}.cycle_on")
    cycle_off = None if stim.get("cycle_off") is None else to_si(stim["cycle_off"], "time", f"{path}.cycle_off")
    require((cycle_on is None) == (cycle_off is None), f"{path}.cycle_on", "cycling needs both cycle_on and cycle_off")
    if cycle_on is not None:
        require(cycle_on > 0, f"{path}.cycle_on", "must be positive")
        nonneg(cycle_off, f"{path}.cycle_off", "time")

    elements = stim.get("elements", list(ELEMENTS))
    require(isinstance(elements, (list, tuple)) and len(elements) > 0, f"{path}.elements",
            f"a non-empty list of {', '.join(ELEMENTS)}")
    for k, e in enumerate(elements):
        check_choice(e, ELEMENTS, f"{path}.elements[{k}]")
    require(len(set(elements)) == len(elements), f"{path}.elements", "lists an element twice")
    excitability = {}
    given = stim.get("excitability") or {}
    require(isinstance(given, Mapping), f"{path}.excitability", "a mapping element -> {chronaxie, rheobase}")
    for key in given:
        check_choice(key, ELEMENTS, f"{path}.excitability.{key}")
    for e in ELEMENTS:
        node = given.get(e) or {}
        for key in node:
            check_choice(key, ("chronaxie", "rheobase"), f"{path}.excitability.{e}.{key}")
        d = DEFAULT_EXCITABILITY[e]
        c = to_si(node["chronaxie"], "time", f"{path}.excitability.{e}.chronaxie") if "chronaxie" in node else d.chronaxie
        r = to_si(node["rheobase"], "current", f"{path}.excitability.{e}.rheobase") if "rheobase" in node else d.rheobase
        require(c > 0, f"{path}.excitability.{e}.chronaxie", "must be positive")
        require(r > 0, f"{path}.excitability.{e}.rheobase", "must be positive")
        excitability[e] = {"chronaxie": c, "rheobase": r}

    efferent_all = [p for p, pw in ctx.pathways.items() if pw.source == target]
    afferent_all = [p for p, pw in ctx.pathways.items() if pw.target == target and pw.source != target]
    efferent = _pathway_list(stim.get("efferent_pathways"), efferent_all, efferent_all,
                             f"{path}.efferent_pathways", f"an enabled pathway from {target}")
    afferent = _pathway_list(stim.get("afferent_pathways"), afferent_all, afferent_all,
                             f"{path}.afferent_pathways", f"an enabled pathway into {target} from another population")
    for e, paths in (("efferent_axons", efferent), ("afferent_axons", afferent)):
        if e in elements and not paths:
            logger.warning("%s: %s of %s selected, but there is no such pathway; nothing to stimulate there",
                           path, e, target)
    local_delay = to_si(stim.get("local_delay", DEFAULT_LOCAL_DELAY), "time", f"{path}.local_delay")
    require(local_delay >= dt * (1 - 1e-9), f"{path}.local_delay", f"must be at least sim.dt ({dt * 1e3:g} ms)")
    for key in ("antidromic_efferent", "antidromic_afferent"):
        require(isinstance(stim.get(key, key == "antidromic_afferent"), bool), f"{path}.{key}", "must be true or false")

    af = stim.get("axonal_failure") or {}
    require(isinstance(af, Mapping), f"{path}.axonal_failure", "a mapping {enabled, f_half, exponent}")
    for key in af:
        check_choice(key, ("enabled", "f_half", "exponent"), f"{path}.axonal_failure.{key}")
    f_half = to_si(af.get("f_half", DEFAULT_FAILURE["f_half"]), "rate", f"{path}.axonal_failure.f_half")
    require(f_half > 0, f"{path}.axonal_failure.f_half", "must be positive")
    exponent = float(af.get("exponent", DEFAULT_FAILURE["exponent"]))
    require(exponent > 0, f"{path}.axonal_failure.exponent", "must be positive")

    out: Dict[str, Any] = {
        "target": target, "frequency": frequency, "amplitude": amplitude, "amplitude_mode": amplitude_mode,
        "pulse_width": pulse_width, "biphasic": shape.biphasic, "interphase_gap": gap,
        "anodic_ratio": shape.anodic_ratio, "anodic_width": anodic_width, "balanced": balanced,
        "start": start, "stop": stop, "cycle_on": cycle_on, "cycle_off": cycle_off, "impedance": impedance,
        "elements": list(elements), "excitability": excitability,
        "efferent_pathways": efferent, "afferent_pathways": afferent,
        "efferent_targets": [ctx.pathways[p].target for p in efferent],
        "antidromic_efferent": bool(stim.get("antidromic_efferent", False)),
        "antidromic_afferent": bool(stim.get("antidromic_afferent", True)),
        "local_delay": local_delay,
        "axonal_failure": {"enabled": bool(af.get("enabled", False)), "f_half": f_half, "exponent": exponent},
        "synaptic_depression": validate_depression(stim.get("synaptic_depression"), f"{path}.synaptic_depression"),
        "controller": None,
    }
    if stim.get("controller") is not None:
        from circuitsim.stimulation.closed_loop import validate_controller

        out["controller"] = validate_controller(stim["controller"], f"{path}.controller", ctx, frequency)
        out["runtime_only"] = "closed-loop controller reads the network during the run (Python network_operation)"
    n_pulses = onsets_from_params(out, dt).size
    if frequency > 0 and n_pulses == 0:
        logger.warning("%s: no pulse falls between start and stop", path)
    return out


# ------------------------------------------------------------------------- mechanism


def threshold_scale(pulse_width: float, chronaxie: float) -> float:
    """Weiss / Lapicque strength-duration factor: I_th(pw) / I_rheobase = 1 + chronaxie / pw."""
    if not (pulse_width > 0 and chronaxie > 0):
        raise ValueError("pulse width and chronaxie must be positive")
    return 1.0 + chronaxie / pulse_width


def expected_fraction(amplitude: float, pulse_width: float, chronaxie: float, rheobase: float) -> float:
    """Expected activated fraction of elements uniform in a sphere, thresholds ~ r**2 (see module doc)."""
    edge = rheobase * threshold_scale(pulse_width, chronaxie)
    return float(min(1.0, max(0.0, amplitude / edge)) ** 1.5)


def element_thresholds(n: int, pulse_width: float, chronaxie: float, rheobase: float,
                       rng: np.random.Generator) -> np.ndarray:
    """Thresholds (A) of ``n`` elements at distances drawn uniformly in the stimulated sphere."""
    u = rng.random(n)              # (r/R)**3, uniform for a uniform density in the sphere
    return rheobase * threshold_scale(pulse_width, chronaxie) * u ** (2.0 / 3.0)


def _element_rng(seed: int, name: str, element: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(f"dbs:{name}:{element}".encode())]))


@dataclass
class Elements:
    """The stimulated elements of one DBS stimulus, with their thresholds (A)."""

    soma_thr: Optional[np.ndarray]                # per target neuron (local index)
    efferent_thr: Optional[np.ndarray]            # per target neuron's axon (local index)
    afferent: Dict[str, tuple]                    # pathway -> (source neurons (local), thresholds)

    def thresholds(self) -> Dict[str, np.ndarray]:
        out = {}
        if self.soma_thr is not None:
            out["somata"] = self.soma_thr
        if self.efferent_thr is not None:
            out["efferent_axons"] = self.efferent_thr
        if self.afferent:
            out["afferent_axons"] = np.concatenate([thr for _, thr in self.afferent.values()])
        return out


def draw_elements(spec, layout, connections, name: str, params: Mapping[str, Any]) -> Elements:
    """Draw every selected element's threshold from the run's seed."""
    target = params["target"]
    n = spec.populations[target].n
    pw = params["pulse_width"]
    ex = params["excitability"]

    def thr(element: str, count: int) -> np.ndarray:
        e = ex[element]
        return element_thresholds(count, pw, e["chronaxie"], e["rheobase"], _element_rng(spec.sim.seed, name, element))

    soma = thr("somata", n) if "somata" in params["elements"] else None
    eff = thr("efferent_axons", n) if "efferent_axons" in params["elements"] and params["efferent_pathways"] else None
    aff = {}
    if "afferent_axons" in params["elements"]:
        for p in params["afferent_pathways"]:
            src0 = layout.slices[spec.pathways[p].source][0]
            sources = np.unique(connections[p].i) - src0
            e = ex["afferent_axons"]
            aff[p] = (sources, element_thresholds(sources.size, pw, e["chronaxie"], e["rheobase"],
                                                  _element_rng(spec.sim.seed, name, f"afferent:{p}")))
    return Elements(soma, eff, aff)


# ----------------------------------------------------------------------------- build


#: The pulse generator: a two-row NeuronGroup whose first row fires at each pulse (the second row
#: never fires; with a single row Brian2 would compile its parameters into the program instead
#: of loading them as data). ``next_onset`` is the exact time of the next pulse; the row fires at
#: the time step nearest to it (the same rounding as waveforms.regular_onsets), then moves it on
#: by one period or, at the end of an on-period, to the start of the next cycle.
PULSE_MODEL = """
next_onset : second
cycle_start : second
t_stop : second (constant)
period : second (constant)
cycle_on : second (constant)
cycle_len : second (constant)
"""
PULSE_THRESHOLD = "next_onset < t + 0.5*dt and next_onset < t_stop - 1e-9*dt and t < t_stop - 1e-9*dt"
PULSE_RESET = """
wrap = int(next_onset + period - cycle_start >= cycle_on - 1e-9*dt)
next_onset = (next_onset + period)*(1 - wrap) + (cycle_start + cycle_len)*wrap
cycle_start = cycle_start + cycle_len*wrap
"""


def pulse_generator_values(params: Mapping[str, Any]) -> Dict[str, np.ndarray]:
    """Initial values (SI, two rows) of the pulse generator's variables for a DBS stimulus."""
    start, stop, f = params["start"], params["stop"], params["frequency"]
    period = 1.0 / f if f > 0 else stop - start
    if params["cycle_on"] is None:
        cycle_on = cycle_len = (stop - start) + 2 * period     # one on-period beyond stop: no cycling
    else:
        cycle_on, cycle_len = params["cycle_on"], params["cycle_on"] + params["cycle_off"]
    first = start if f > 0 else 0.0
    t_stop = stop if f > 0 else 0.0                             # 0 Hz: the generator never fires
    return {"next_onset": np.array([first, 0.0]), "cycle_start": np.array([first, 0.0]),
            "t_stop": np.array([t_stop, 0.0]), "period": np.array([period, period]),
            "cycle_on": np.array([cycle_on, cycle_on]), "cycle_len": np.array([cycle_len, cycle_len])}


@register_structure("dbs")
def dbs_structure(spec: Any, params: Mapping[str, Any]) -> Dict[str, Any]:
    """The DBS parameters that shape generated code or object sets; every other value is data.

    (Waveform, timing, amplitude, pulse width, excitability, delays and impedance reach the
    program as per-synapse or per-row arrays: the compile-once build cache keys DBS stimuli on
    this only, so a sweep over frequency or amplitude reuses one build.)
    """
    return {"kind": "dbs", "target": params["target"], "elements": list(params["elements"]),
            "efferent_pathways": list(params["efferent_pathways"]),
            "afferent_pathways": list(params["afferent_pathways"]),
            "antidromic_efferent": params["antidromic_efferent"],
            "antidromic_afferent": params["antidromic_afferent"],
            "axonal_failure": params["axonal_failure"]["enabled"],
            "synaptic_depression": [e for e in params["synaptic_depression"]["elements"]
                                    if params["synaptic_depression"]["enabled"]],
            "closed_loop": params["controller"] is not None}


@register_stimulus("dbs")
def build_dbs(ctx: BuildContext, name: str, params: Mapping[str, Any]) -> None:
    """Pulse generator -> Synapses onto every stimulated element; which are active at the
    amplitude is per-synapse data (``active``), set by the thresholds or, in closed loop, by the
    controller during the run."""
    from brian2 import NeuronGroup, SpikeMonitor, Synapses, second, siemens, volt

    spec = ctx.spec
    elements = draw_elements(spec, ctx.layout, ctx.connections, name, params)
    closed = params["controller"] is not None
    a_max = params["amplitude"]
    a_now = 0.0 if closed else a_max
    prefix = f"dbs_{name}"
    p_tx = transmission_probability(params)
    failure = params["axonal_failure"]["enabled"]
    ctx.namespace[f"{prefix}_overshoot"] = FORCED_SPIKE_OVERSHOOT * volt
    target = params["target"]
    t0 = ctx.layout.slices[target][0]

    gen = NeuronGroup(2, PULSE_MODEL, threshold=PULSE_THRESHOLD, reset=PULSE_RESET, name=f"{prefix}_pulses")
    for key, values in pulse_generator_values(params).items():
        setattr(gen, key, values * second)
    pulses = SpikeMonitor(gen, name=f"{prefix}_pulse_times")
    ctx.objects.extend([gen, pulses])

    synapse_objects: List[tuple] = []     # (Synapses, thresholds of its synapses)
    counts: Dict[str, int] = {}
    soma_model = "active : 1"
    spike_code = f"v_post += active*int(not_refractory_post)*(V_peak_post + {prefix}_overshoot - v_post)"

    def add(label: str, model: str, on_pre: str, i_post: np.ndarray, thr: np.ndarray, delay: np.ndarray,
            extra: Optional[Dict[str, tuple]] = None) -> None:
        counts[label] = int(thr.size)
        if not thr.size:
            return
        syn = Synapses(gen, ctx.group, model, on_pre=on_pre, name=f"{prefix}_{label}")
        syn.connect(i=np.zeros(thr.size, dtype=int), j=np.asarray(i_post, dtype=int))
        syn.active = (thr < a_now).astype(float)
        syn.delay = delay * second
        for key, (values, unit) in (extra or {}).items():
            setattr(syn, key, values * unit)
        ctx.objects.append(syn)
        synapse_objects.append((syn, thr))

    # somata of the target: forced spike at the pulse
    if elements.soma_thr is not None:
        n = elements.soma_thr.size
        add("somata", soma_model, spike_code, t0 + np.arange(n), elements.soma_thr, np.zeros(n))
    # efferent axons: the target's synapses, orthodromic; optional antidromic soma invasion
    if elements.efferent_thr is not None:
        _add_axon_synapses(add, spec, ctx, params["efferent_pathways"], elements.efferent_thr,
                           delay_of=lambda p: spec.pathways[p].delay, label="efferent", failure=failure, p_tx=p_tx,
                           depression=for_element(params["synaptic_depression"], "efferent_axons"))
        if params["antidromic_efferent"]:
            n = elements.efferent_thr.size
            add("efferent_antidromic", soma_model, spike_code, t0 + np.arange(n), elements.efferent_thr,
                np.full(n, params["local_delay"]))
    # afferent fibres: their synapses in the target (near: local delay); antidromic to their somata
    for p, (sources, thr) in elements.afferent.items():
        source = spec.pathways[p].source
        full = np.full(spec.populations[source].n, np.inf)
        full[sources] = thr
        _add_axon_synapses(add, spec, ctx, [p], full, delay_of=lambda _p: params["local_delay"],
                           label=f"afferent_{p}", failure=failure, p_tx=p_tx,
                           depression=for_element(params["synaptic_depression"], "afferent_axons"))
        if params["antidromic_afferent"]:
            add(f"antidromic_{p}", soma_model, spike_code, ctx.layout.slices[source][0] + sources, thr,
                np.full(sources.size, spec.pathways[p].delay))

    record: Dict[str, Any] = {"thresholds": elements.thresholds(), "p_transmit": p_tx, "synapses": counts}
    if elements.soma_thr is not None:
        record["soma_thresholds"] = elements.soma_thr

    trace = None
    if closed:
        def set_level(level: float) -> None:
            amplitude = level * a_max
            for syn, thr in synapse_objects:
                syn.active_ = (thr < amplitude).astype(float)

        from circuitsim.stimulation.closed_loop import build_controller

        trace = build_controller(ctx, name, params, set_level,
                                 pulse_times=lambda: np.asarray(pulses.t_[:])[np.asarray(pulses.i[:]) == 0])

    def recorder() -> Dict[str, Any]:
        out = dict(record)
        i_p, t_p = np.asarray(pulses.i[:]), np.asarray(pulses.t_[:])
        out["onsets"] = np.sort(t_p[i_p == 0])
        out["resources"] = resources(synapse_objects)
        if trace is not None:
            out["controller"] = trace.as_arrays()
        return out

    ctx.recorders[name] = recorder
    logger.info("DBS %s on %s: %g Hz, %.3g mA, %g us; stimulated elements (synapses) %s", name, target,
                params["frequency"], a_max * 1e3, params["pulse_width"] * 1e6, counts)


def _add_axon_synapses(add, spec, ctx, pathways, thr_source: np.ndarray, delay_of, label: str,
                       failure: bool, p_tx: float, depression: Mapping[str, Any]) -> None:
    """Deliver each stimulated axon's synapses of ``pathways`` (per receptor, with the pathways' weights).

    ``thr_source``: threshold of the axon of every neuron of the pathways' (common) source population.
    """
    from brian2 import siemens

    by_receptor: Dict[str, list] = {}
    for p in pathways:
        conn = ctx.connections[p]
        if conn.n == 0:
            continue
        pw = spec.pathways[p]
        s0 = ctx.layout.slices[pw.source][0]
        by_receptor.setdefault(pw.receptor, []).append(
            (conn.j, thr_source[conn.i - s0], np.full(conn.n, delay_of(p)), np.full(conn.n, pw.weight)))
    from brian2 import second

    for receptor, parts in by_receptor.items():
        j, thr, delay, w = (np.concatenate([part[k] for part in parts]) for k in range(4))
        model, on_pre = axon_synapse_code(receptor, failure, depression)
        extra = {"w_dbs": (w, siemens)}
        if failure:
            extra["p_tx"] = (np.full(j.size, p_tx), 1)
        for key, (values, unit) in depression_values(j.size, depression).items():
            extra[key] = (values, second if unit == "second" else 1)
        add(f"{label}_{receptor}", model, on_pre, j, thr, delay, extra)


# --------------------------------------------------------------------------- measure


def pulse_amplitudes(params: Mapping[str, Any], onsets: np.ndarray, data: Mapping[str, Any]) -> np.ndarray:
    """Cathodic amplitude (A) of every delivered pulse (the controller's level in closed loop)."""
    if params["controller"] is None:
        return np.full(onsets.size, params["amplitude"])
    trace = data.get("controller") or {}
    t, level = np.asarray(trace.get("t", [])), np.asarray(trace.get("level", []))
    if t.size == 0:
        return np.zeros(onsets.size)
    k = np.searchsorted(t, onsets + 1e-12, side="right") - 1
    return np.where(k >= 0, level[np.clip(k, 0, None)], 0.0) * params["amplitude"]


def _locking(spike_t: np.ndarray, spike_i: np.ndarray, onsets: np.ndarray, active: np.ndarray) -> tuple:
    """Fraction of (pulse, soma) pairs with a spike within LOCK_WINDOW, for active and inactive somata.

    ``active`` is (pulses x neurons) boolean.
    """
    n = active.shape[1]
    hit = np.zeros_like(active)
    order = np.argsort(spike_t)
    t_sorted, i_sorted = spike_t[order], spike_i[order]
    lo = np.searchsorted(t_sorted, onsets - 1e-12)
    hi = np.searchsorted(t_sorted, onsets + LOCK_WINDOW + 1e-12)
    for k in range(onsets.size):
        cells = np.unique(i_sorted[lo[k]:hi[k]])
        hit[k, cells[cells < n]] = True
    lock_a = float(hit[active].mean()) if active.any() else float("nan")
    lock_n = float(hit[~active].mean()) if (~active).any() else float("nan")
    return lock_a, lock_n


@register_measure("dbs")
def measure_dbs(spec, result, name: str, params: Mapping[str, Any]) -> Dict[str, Any]:
    data = result.extra.get("stim_data", {}).get(name, {})
    dt = spec.sim.dt
    onsets = np.asarray(data.get("onsets", onsets_from_params(params, dt)))
    shape = shape_from_params(params)
    amps = pulse_amplitudes(params, onsets, data)
    energy = float(np.sum(shape.energy(params["impedance"], amps))) if onsets.size else 0.0
    delivered = amps > 0
    on_onsets, on_amps = onsets[delivered], amps[delivered]
    out: Dict[str, Any] = {
        "target": params["target"], "n_pulses": int(on_onsets.size), "n_pulses_scheduled": int(onsets.size),
        "frequency_hz": params["frequency"], "amplitude_ma": params["amplitude"] * 1e3,
        "pulse_width_us": params["pulse_width"] * 1e6,
        "charge_per_phase_nc": shape.charge_per_phase * 1e9, "net_charge_nc": shape.net_charge * 1e9,
        "energy": energy, "energy_uj": energy * 1e6, "mean_power_uw": energy / spec.sim.duration * 1e6,
        "p_transmit": float(data.get("p_transmit", transmission_probability(params))),
    }
    thresholds = data.get("thresholds", {})
    total_n, total_active = 0, 0.0
    for element, thr in thresholds.items():
        thr = np.asarray(thr)
        frac = float(np.mean([(thr < a).mean() for a in on_amps])) if on_amps.size and thr.size else 0.0
        out[f"activated_fraction_{element}"] = frac
        out[f"n_elements_{element}"] = int(thr.size)
        out[f"expected_fraction_{element}"] = expected_fraction(
            params["amplitude"], params["pulse_width"], **params["excitability"][element])
        total_n += thr.size
        total_active += frac * thr.size
    out["activated_fraction"] = total_active / total_n if total_n else 0.0
    soma_thr = data.get("soma_thresholds")
    if soma_thr is not None and on_onsets.size:
        i, t = result.spikes[params["target"]]
        active = np.asarray(soma_thr)[None, :] < on_amps[:, None]
        out["locking_activated"], out["locking_not_activated"] = _locking(np.asarray(t), np.asarray(i),
                                                                          on_onsets, active)
    from circuitsim.stimulation.dbs_responses import response_metrics

    out.update(response_metrics(spec, result, params, data))
    trace = data.get("controller")
    if trace is not None:
        level = np.asarray(trace["level"])
        bio = np.asarray(trace["biomarker"], dtype=float)
        out["fraction_time_on"] = float(np.mean(level > 0)) if level.size else 0.0
        out["mean_amplitude_ma"] = float(np.mean(level) * params["amplitude"] * 1e3) if level.size else 0.0
        out["mean_biomarker"] = float(np.nanmean(bio)) if np.isfinite(bio).any() else float("nan")
        out["n_updates"] = int(level.size)
    return out


# ------------------------------------------------------------------------------ plot

PSTH_WINDOW = (-2e-3, 8e-3)   # s around each pulse
PSTH_BIN = 0.5e-3             # s


def _psth(t_spikes: np.ndarray, onsets: np.ndarray, n_neurons: int) -> tuple:
    edges = np.arange(PSTH_WINDOW[0], PSTH_WINDOW[1] + PSTH_BIN / 2, PSTH_BIN)
    rel = (t_spikes[None, :] - onsets[:, None]).ravel() if onsets.size and t_spikes.size else np.empty(0)
    counts, _ = np.histogram(rel, bins=edges)
    rate = counts / max(1, onsets.size) / max(1, n_neurons) / PSTH_BIN
    return edges, rate


@register_plot("dbs")
def plot_dbs(result, name: str, params: Mapping[str, Any], subfig) -> None:
    from circuitsim.stimulation.waveforms import sample_waveform

    data = result.extra.get("stim_data", {}).get(name, {})
    all_onsets = np.asarray(data.get("onsets", []))
    amps = pulse_amplitudes(params, all_onsets, data)
    onsets = all_onsets[amps > 0]           # delivered pulses
    closed = data.get("controller") is not None
    axes = subfig.subplots(1, 4 if closed else 3)
    shape = shape_from_params(params)
    subfig.suptitle(f"DBS '{name}' on {params['target']}: {params['frequency']:g} Hz, "
                    f"{params['amplitude'] * 1e3:.3g} mA, {params['pulse_width'] * 1e6:g} us "
                    f"{'biphasic' if params['biphasic'] else 'monophasic'}", fontsize=10)
    ax = axes[0]
    if onsets.size:
        shown = onsets[:3]
        t = np.linspace(shown[0] - 0.5e-3, shown[-1] + shape.duration + 1e-3, 4000)
        ax.plot((t - shown[0]) * 1e3, sample_waveform(t, shown, shape) * 1e3, lw=1)
        ax.set_xlabel("time from first pulse (ms)")
    else:
        ax.text(0.5, 0.5, "no pulses (0 Hz / off)", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylabel("current (mA)")
    ax.set_title("waveform", fontsize=9)

    target = params["target"]
    ax = axes[1]
    if onsets.size and target in result.spikes:
        i, t = (np.asarray(x) for x in result.spikes[target])
        soma_thr = data.get("soma_thresholds")
        groups = [("all", np.ones(result.sizes[target], bool))]
        if soma_thr is not None:
            act = np.asarray(soma_thr) < params["amplitude"]
            groups = [("activated somata", act), ("other somata", ~act)]
        for label, mask in groups:
            if mask.any():
                edges, rate = _psth(t[mask[i]], onsets, int(mask.sum()))
                ax.step(edges[:-1] * 1e3, rate, where="post", label=f"{label} ({int(mask.sum())})")
        ax.legend(fontsize=7)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_yscale("symlog", linthresh=10)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("time from pulse (ms)")
    ax.set_ylabel("rate (Hz per neuron)")
    ax.set_title(f"{target} around pulses", fontsize=9)

    ax = axes[2]
    downstream = [p for p in dict.fromkeys(params.get("efferent_targets", [])) if p != target]
    if onsets.size:
        for pop in downstream[:4]:
            if pop in result.spikes:
                edges, rate = _psth(np.asarray(result.spikes[pop][1]), onsets, result.sizes[pop])
                ax.step(edges[:-1] * 1e3, rate, where="post", label=pop)
        if downstream:
            ax.legend(fontsize=7)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("time from pulse (ms)")
    ax.set_title("efferent targets around pulses", fontsize=9)

    if closed:
        trace = data["controller"]
        ax = axes[3]
        ax.plot(trace["t"], trace["biomarker"], color="C0", lw=1)
        ax.set_xlabel("time (s)")
        ax.set_ylabel(params["controller"]["biomarker"], color="C0", fontsize=8)
        ax2 = ax.twinx()
        ax2.step(trace["t"], np.asarray(trace["level"]) * params["amplitude"] * 1e3, where="post", color="C3", lw=1)
        ax2.set_ylabel("amplitude (mA)", color="C3")
        ax.set_title(f"closed loop ({params['controller']['mode']})", fontsize=9)

