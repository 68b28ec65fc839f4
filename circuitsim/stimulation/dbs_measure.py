"""Metrics of a DBS stimulus (``metrics.stim.<name>``): pulses, charge, energy, activated
fractions, time locking, what a microelectrode records, and the closed-loop trace."""

from __future__ import annotations

from typing import Any, Dict, Mapping

import numpy as np

from circuitsim.stimulation.dbs_elements import (expected_fraction, onsets_from_params, shape_from_params,
                                                 transmission_probability)
from circuitsim.stimulation.closed_loop_laws import reversals_per_s, switches_per_s

#: A spike within this time after a pulse counts as time-locked to it (for the locking metrics).
LOCK_WINDOW = 2e-3  # s


def pulse_amplitudes(params: Mapping[str, Any], onsets: np.ndarray, data: Mapping[str, Any]) -> np.ndarray:
    """Cathodic amplitude (A) of every delivered pulse (the controller's level in closed loop).

    ``data``: the stimulus's recorded data, or (for a run read back from its folder) its metrics,
    which hold the controller trace too."""
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
        t = np.asarray(trace["t"], dtype=float)
        valid = np.isfinite(bio)
        out["switches_per_s"] = switches_per_s(t, level, valid)
        out["reversals_per_s"] = reversals_per_s(t, level, valid)
        # the trace itself (a few numbers per second), so that a run read back from its folder has it
        out["controller"] = {"t": t.tolist(), "level": level.astype(float).tolist(),
                             "biomarker": [float(b) if np.isfinite(b) else None for b in bio]}
    return out
