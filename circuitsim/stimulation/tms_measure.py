"""TMS measures on a finished run: the MEP of each test pulse (amplitude, presence, latency),
the cortical silent period and the motor-threshold fit (the EMG analysis itself is
:mod:`circuitsim.muscle.evoked`, beside the muscle readout), the evoked cortical volley, the paired-pulse
ratios and after-effects summarised into ``metrics["tms"]`` (the ``tms`` measure). Running a
threshold preset over seeds is :func:`circuitsim.drivers.measure_motor_threshold` (above the API).

How each measure is defined is described in :mod:`circuitsim.stimulation.tms`."""

from __future__ import annotations

import logging
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from circuitsim.muscle.evoked import fit_motor_threshold, mep_measures, silent_period  # noqa: F401  (re-exported)
from circuitsim.plugins import register
from circuitsim.stimulation.protocols import PulseTable

logger = logging.getLogger("circuitsim.stimulation.tms")


def _mean(x) -> float:
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else float("nan")


def _sem(x) -> float:
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    return float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else float("nan")


def analyse(params: Mapping[str, Any], readout: Any, rmt: Optional[float] = None) -> Dict[str, Any]:
    """Per-muscle, per-pulse MEP table and the summary measures of one TMS stimulus.

    ``readout`` is the :class:`~circuitsim.muscle.MuscleReadout` (its ``time`` on the run clock).
    """
    table = PulseTable.from_dict(params["pulses"])
    measure = params["measure"]
    mso = np.asarray(params["intensity_mso"], float)
    fs = readout.fs_hz
    t0 = float(readout.time[0]) if readout.time.size else 0.0
    test = np.flatnonzero(table.role == "test")
    per_muscle: Dict[str, Any] = {}
    for muscle in readout.muscles:
        emg = readout.emg[muscle]
        m = mep_measures(emg, fs, t0, table.time[test], measure)
        active = m["pre_mean_rect_v"] > measure["active_level"]
        sp = np.full(test.size, np.nan)
        for k in np.flatnonzero(active):
            sp[k] = silent_period(emg, fs, t0, table.time[test[k]], measure["window"][1], measure)
        m["active"] = active
        m["silent_period_s"] = sp
        per_muscle[muscle] = m
    return {"test_index": test, "per_muscle": per_muscle, "table": table, "mso": mso}


def _test_conditions(table: PulseTable, test: np.ndarray) -> np.ndarray:
    """The condition name of each test pulse (``single``, ``unconditioned``, ``isi_<x>ms``, ...)."""
    return np.array([table.conditions[c] for c in table.condition[test]], dtype=object)


def _around_trains(blocks: Sequence[Mapping[str, Any]], table: PulseTable,
                   test: np.ndarray) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """Masks over the test pulses: in blocks before the protocol's first train (or theta burst)
    and after its last; None when the protocol has no train."""
    trains = [b for b, blk in enumerate(blocks) if blk["type"] in ("train", "theta_burst")]
    if not trains:
        return None
    blk = table.block[test]
    return blk < min(trains), blk > max(trains)


def _paired_kind(block: Mapping[str, Any], isi: float) -> str:
    """What a paired-pulse ratio measures: CBI when the conditioning pulse is at another site;
    over m1 SICI at 1-6 ms (Kujirai et al. 1993), ICF at 6-30 ms (Kujirai et al. 1993; Ziemann
    2004), LICI at 50-300 ms (Valls-Sole et al. 1992)."""
    if block["conditioning_site"] != block["site"]:
        return "cbi"
    return "sici" if isi <= 6e-3 else ("icf" if isi < 50e-3 else "lici")


def _summary(params: Mapping[str, Any], an: Mapping[str, Any]) -> Dict[str, Any]:
    table: PulseTable = an["table"]
    test = an["test_index"]
    cond_name = _test_conditions(table, test)
    mso = an["mso"][test]
    blocks = params["protocol"]
    block_type = np.array([blocks[b]["type"] for b in table.block[test]], dtype=object)
    muscles = list(an["per_muscle"])
    tms: Dict[str, Any] = {"per_muscle": {}}
    amp_all, lat_all, sp_all = [], [], []
    ratios: Dict[str, List[float]] = {}
    ratio_sem: Dict[str, List[float]] = {}
    mt_x, mt_y = [], []
    pre_post: List[float] = []
    around = _around_trains(blocks, table, test)
    for muscle in muscles:
        m = an["per_muscle"][muscle]
        rest = ~m["active"]
        base = np.isin(cond_name, ("single", "unconditioned")) & rest
        levels = np.unique(np.round(mso[base & (block_type == "single")], 6))
        pm: Dict[str, Any] = {}
        if levels.size >= 3:   # an intensity series: the motor threshold
            sel = base & (block_type == "single")
            mt = fit_motor_threshold(mso[sel], m["present"][sel])
            pm["motor_threshold_mso"] = mt["threshold"]
            pm["motor_threshold_slope_mso"] = mt["slope"]
            pm["mep_probability"] = {f"{lv:g}": float(np.mean(m["present"][sel & np.isclose(mso, lv)])) for lv in levels}
            mt_x += list(mso[sel])
            mt_y += list(m["present"][sel])
            top = sel & np.isclose(mso, levels.max())
            pm["mep_amplitude_mv"] = _mean(m["amplitude_v"][top]) * 1e3
        elif np.any(base):
            pm["mep_amplitude_mv"] = _mean(m["amplitude_v"][base]) * 1e3
            pm["mep_amplitude_sem_mv"] = _sem(m["amplitude_v"][base]) * 1e3
            pm["mep_present_fraction"] = float(np.mean(m["present"][base]))
        if "mep_amplitude_mv" in pm:
            amp_all.append(pm["mep_amplitude_mv"])
        lat = m["latency_s"][base & m["present"]]
        if lat.size:
            pm["mep_latency_ms"] = _mean(lat) * 1e3
            lat_all.append(pm["mep_latency_ms"])
        sp = m["silent_period_s"][m["active"]]
        if np.any(np.isfinite(sp)):
            pm["silent_period_ms"] = _mean(sp) * 1e3
            pm["n_active_trials"] = int(np.sum(m["active"]))
            pm["mep_amplitude_active_mv"] = _mean(m["amplitude_v"][m["active"]]) * 1e3
            sp_all.append(pm["silent_period_ms"])
        # paired pulses: conditioned / unconditioned, per block (pulses at rest only)
        for b, block in enumerate(blocks):
            if block["type"] != "paired" or not block["unconditioned"]:
                continue
            inb = (table.block[test] == b) & rest
            unc = m["amplitude_v"][inb & (cond_name == "unconditioned")]
            if not unc.size or not np.isfinite(_mean(unc)) or _mean(unc) <= 0:
                continue
            for isi in block["isi"]:
                label = f"isi_{isi * 1e3:g}ms"
                con = m["amplitude_v"][inb & (cond_name == label)]
                if not con.size:
                    continue
                r = _mean(con) / _mean(unc)
                kind = _paired_kind(block, isi)
                pm.setdefault("paired", {})[f"{kind}_{label}"] = {
                    "ratio": r, "conditioned_mv": _mean(con) * 1e3, "unconditioned_mv": _mean(unc) * 1e3,
                    "conditioned_sem_mv": _sem(con) * 1e3, "unconditioned_sem_mv": _sem(unc) * 1e3,
                    "n": int(con.size)}
                ratios.setdefault(kind, []).append(r)
        # after-effects: single-pulse blocks before and after a train
        if around is not None:
            pre = m["amplitude_v"][around[0] & base]
            post = m["amplitude_v"][around[1] & base]
            if pre.size and post.size and _mean(pre) > 0:
                pm["mep_pre_mv"] = _mean(pre) * 1e3
                pm["mep_post_mv"] = _mean(post) * 1e3
                pm["mep_post_pre_ratio"] = _mean(post) / _mean(pre)
                pre_post.append(pm["mep_post_pre_ratio"])
        tms["per_muscle"][muscle] = pm
    if amp_all:
        tms["mep_amplitude_mv"] = _mean(amp_all)
    if lat_all:
        tms["mep_latency_ms"] = _mean(lat_all)
    if sp_all:
        tms["silent_period_ms"] = _mean(sp_all)
    for kind in ("sici", "icf", "lici", "cbi"):
        if kind in ratios:
            tms[f"{kind}_ratio"] = _mean(ratios[kind])
    if mt_x:
        fit = fit_motor_threshold(mt_x, mt_y)
        tms["motor_threshold"] = fit["threshold"]
        tms["motor_threshold_unit"] = "%MSO"
        tms["motor_threshold_trials"] = fit["n_trials"]
    if pre_post:
        tms["mep_post_pre_ratio"] = _mean(pre_post)
    return tms


def _volley_summary(params: Mapping[str, Any], table: "PulseTable", test: np.ndarray,
                    volley: np.ndarray) -> Dict[str, Any]:
    """The evoked volley over the single (and unconditioned) test pulses, and before against after
    the protocol's trains; needs only the spikes, not the muscle readout."""
    out: Dict[str, Any] = {}
    single = np.isin(_test_conditions(table, test), ("single", "unconditioned"))
    if np.any(single):
        out["volley_per_cell"] = _mean(volley[single])
    around = _around_trains(params["protocol"], table, test)
    if around is not None:
        pre, post = volley[around[0] & single], volley[around[1] & single]
        if pre.size and post.size:
            out["volley_pre_per_cell"], out["volley_post_per_cell"] = _mean(pre), _mean(post)
            if _mean(pre) > 0:
                out["volley_post_pre_ratio"] = _mean(post) / _mean(pre)
    return out


def evoked_volley(spike_times: np.ndarray, n_cells: int, pulse_times: Sequence[float], window: float) -> np.ndarray:
    """Spikes per cell evoked by each pulse: the count in ``[t, t + window)`` less the count in
    ``[t - window, t)`` (the spontaneous expectation), divided by ``n_cells``."""
    t = np.sort(np.asarray(spike_times, float))
    p = np.asarray(pulse_times, float)
    after = np.searchsorted(t, p + window, "left") - np.searchsorted(t, p, "left")
    before = np.searchsorted(t, p, "left") - np.searchsorted(t, p - window, "left")
    return (after - before) / max(1, int(n_cells))


def _plasticity_summary(plastic: Mapping[str, Any], table: PulseTable) -> Dict[str, Any]:
    """Weights of the plastic pathways (without the traces): overall change, and the relative
    change of the sampled mean weight across the train blocks against an equally long stretch
    just before them (the protocol's own effect against the spontaneous drift)."""
    out = {}
    trains = np.flatnonzero(table.role == "train")
    for pathway, d in plastic.items():
        s = {k: v for k, v in d.items() if not k.startswith("trace")}
        t = np.asarray(d.get("trace_t_s", []), float)
        w = np.asarray(d.get("trace_mean_ns", d.get("trace_mean", [])), float)   # pathways in nS, fibres relative
        if trains.size and t.size > 2:
            a, b = float(table.time[trains].min()), float(table.time[trains].max()) + 0.05

            def at(x):
                return float(np.interp(x, t, w))

            s["relative_change_during_trains"] = at(b) / at(a) - 1.0 if at(a) > 0 else float("nan")
            if a - (b - a) >= t[0]:
                s["relative_change_before_trains"] = at(a) / at(a - (b - a)) - 1.0 if at(a - (b - a)) > 0 else float("nan")
        out[pathway] = s
    return out


@register("tms").measure
def measure_tms(spec, result, name: str, params: Mapping[str, Any]) -> Dict[str, Any]:
    table = PulseTable.from_dict(params["pulses"])
    data = result.extra.get("stim_data", {}).get(name, {})
    out: Dict[str, Any] = {
        "n_pulses": len(table), "n_test_pulses": int(np.sum(table.role == "test")),
        "protocol_span_s": float(table.time.max()) if len(table) else 0.0,
        "rmt_mso": params["rmt"],
        "intensity_mso": {"min": float(min(params["intensity_mso"])), "max": float(max(params["intensity_mso"]))},
    }
    fr = data.get("fractions", {})
    if fr:   # mean over the pulses at each element's site
        out["activated_fraction"] = {}
        for key, values in fr.items():
            at_site = table.site == key.split(".", 1)[0]
            if np.any(at_site):
                out["activated_fraction"][key] = float(np.mean(np.asarray(values)[at_site]))
    if "plasticity" in data:
        out["plasticity"] = _plasticity_summary(data["plasticity"], table)
    test = np.flatnonzero(table.role == "test")
    pop = params["measure"]["volley_population"]
    volley = (evoked_volley(result.spikes[pop][1], result.sizes[pop], table.time[test],
                            params["measure"]["volley_window"]) if pop in result.spikes else None)
    readout = result.extra.get("muscle")
    tms: Dict[str, Any] = {}
    if readout is None:
        logger.warning("stim.%s: the muscle readout is off, so no MEP can be measured (the evoked volley "
                       "still is)", name)
        result.extra.setdefault("tms", {})[name] = {"test_index": test, "table": table, "volley": volley}
    else:
        an = analyse(params, readout)
        an["volley"] = volley
        result.extra.setdefault("tms", {})[name] = an
        tms = _summary(params, an)
    if volley is not None:
        tms.update(_volley_summary(params, table, test, volley))
    if tms:
        if "tms" in result.metrics:
            logger.warning("more than one TMS stimulus: metrics['tms'] holds the last (%s)", name)
        result.metrics["tms"] = tms
    return out
