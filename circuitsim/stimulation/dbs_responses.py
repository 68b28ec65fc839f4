"""What a microelectrode would record during DBS: the target's and its efferents' firing, and the
depression of the stimulated synapses (metrics added to ``metrics.stim.<name>``).

``target_rate_before_hz`` / ``target_rate_during_hz`` / ``target_rate_ratio``
    mean rate of the target's somata that the pulses do **not** excite directly (the neurons a
    microelectrode near the contact records between pulses: Dostrovsky et al. 2000, J
    Neurophysiol 84:570; Chiken & Nambu 2013, J Neurosci 33:2268), before stimulation (from the
    end of ``sim.transient`` to ``start``, when that is at least :data:`MIN_WINDOW` long) and during
    it (from ``start`` + :data:`SETTLE` to ``stop``); NaN where a window is missing.
``activated_rate_during_hz``
    rate of the directly excited somata during stimulation (they follow the pulses).
``efferent_rate_before_hz_<pop>`` / ``efferent_rate_during_hz_<pop>`` / ``efferent_rate_ratio_<pop>``
    the same for every population the stimulated efferent axons project to (for GPi, the motor
    thalamus: Anderson et al. 2003, J Neurophysiol 89:1150, GPi stimulation in awake monkeys
    inhibits most pallidal-receiving thalamic neurons).
``release_efficacy`` / ``release_efficacy_expected``
    resources ``x`` of the active stimulated synapses at the last pulse (relative to a rested
    synapse, :mod:`~circuitsim.stimulation.dbs_synapses`), read from the simulated synapses, and
    the Tsodyks-Markram steady state at the stimulation frequency; 1 without depression.

Closed-loop stimuli get none of the window rates (stimulation is not on for a fixed window).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

import numpy as np

from circuitsim.stimulation.dbs_synapses import steady_state_efficacy

#: time after the stimulation start left out of the "during" window (s): the synapses' depression
#: settles within a few pulses, the network within about a hundred milliseconds (model choice)
SETTLE = 0.1
#: the shortest window a rate is computed over (s)
MIN_WINDOW = 0.1


def _rate(i: np.ndarray, t: np.ndarray, cells: np.ndarray, t0: float, t1: float) -> float:
    if cells.size == 0 or t1 - t0 < MIN_WINDOW - 1e-12:
        return float("nan")
    sel = (t >= t0) & (t < t1) & np.isin(i, cells)
    return float(sel.sum() / cells.size / (t1 - t0))


def response_metrics(spec, result, params: Mapping[str, Any], data: Mapping[str, Any]) -> Dict[str, Any]:
    """The recorded-like responses of one DBS stimulus (see the module docstring)."""
    out: Dict[str, Any] = {}
    dep = params["synaptic_depression"]   # validated: the schema's defaults filled in
    res = data.get("resources") or {}
    if dep["enabled"] and params["frequency"] > 0:
        out["release_efficacy"] = float(np.mean(list(res.values())) / (1.0 - dep["U"])) if res else float("nan")
        out["release_efficacy_expected"] = steady_state_efficacy(params["frequency"], dep["U"], dep["tau_rec"])
    else:
        out["release_efficacy"] = out["release_efficacy_expected"] = 1.0
    if params["controller"] is not None or params["frequency"] <= 0:
        return out
    before = (spec.sim.transient, params["start"])
    during = (params["start"] + SETTLE, params["stop"])
    target = params["target"]
    if target in result.spikes:
        i, t = (np.asarray(x) for x in result.spikes[target])
        n = result.sizes[target]
        thr = data.get("soma_thresholds")
        activated = np.asarray(thr) < params["amplitude"] if thr is not None else np.zeros(n, bool)
        quiet, driven = np.flatnonzero(~activated), np.flatnonzero(activated)
        out["target_rate_before_hz"] = _rate(i, t, quiet, *before)
        out["target_rate_during_hz"] = _rate(i, t, quiet, *during)
        out["target_rate_ratio"] = out["target_rate_during_hz"] / out["target_rate_before_hz"] \
            if out["target_rate_before_hz"] > 0 else float("nan")
        out["activated_rate_during_hz"] = _rate(i, t, driven, *during)
    if "efferent_axons" in params["elements"]:
        for pop in dict.fromkeys(params["efferent_targets"]):
            if pop == target or pop not in result.spikes:
                continue
            i, t = (np.asarray(x) for x in result.spikes[pop])
            cells = np.arange(result.sizes[pop])
            b, d = _rate(i, t, cells, *before), _rate(i, t, cells, *during)
            out[f"efferent_rate_before_hz_{pop}"] = b
            out[f"efferent_rate_during_hz_{pop}"] = d
            out[f"efferent_rate_ratio_{pop}"] = d / b if b > 0 else float("nan")
    return out
