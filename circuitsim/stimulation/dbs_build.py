"""Building a DBS stimulus into the network: a pulse generator and Synapses onto every
stimulated element (see :mod:`circuitsim.stimulation.dbs`)."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from circuitsim.circuit.registry import BuildContext
from circuitsim.stimulation.dbs_elements import draw_elements, transmission_probability
from circuitsim.stimulation.dbs_synapses import axon_synapse_code, depression_values, for_element, resources

logger = logging.getLogger("circuitsim.stimulation.dbs")

#: A forced soma spike sets v to V_peak + this (numerical device: the threshold is v > V_peak).
FORCED_SPIKE_OVERSHOOT = 1e-3  # V


class _ForcedSpikeWarningFilter(logging.Filter):
    """Drop Brian2's order-of-execution warning for the forced-spike code of DBS synapses: each of
    those Synapses objects has at most one synapse per postsynaptic neuron, so the order does
    not matter."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "_overshoot" not in record.getMessage()


_brian_codegen_logger = logging.getLogger("brian2.codegen.generators.base")
if not any(isinstance(f, _ForcedSpikeWarningFilter) for f in _brian_codegen_logger.filters):
    _brian_codegen_logger.addFilter(_ForcedSpikeWarningFilter())


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


def synapse_weights(pathway, conn, layout) -> np.ndarray:
    """The weight (S) of each synapse of a pathway as the circuit builds it: the pathway's weight
    times its target channel's factor where the pathway is lateralised (``side_scale``). A pulse
    that activates an axon releases at that axon's own synapses, so a weakened synapse stays weak
    under stimulation."""
    w = np.full(conn.n, pathway.weight)
    if pathway.channel_scale:
        w = w * np.asarray(pathway.channel_scale)[layout.channel[conn.j]]
    return w


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
            (conn.j, thr_source[conn.i - s0], np.full(conn.n, delay_of(p)), synapse_weights(pw, conn, ctx.layout)))
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
