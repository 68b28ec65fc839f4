"""Evoked EMG responses to a stimulus: the MEP of each pulse (amplitude, presence, latency), the
cortical silent period after a pulse in an active muscle, and the logistic fit of the motor
threshold. Pure signal analysis of one muscle's EMG (volts, a sampling rate and a start time) and
the validated ``measure`` settings; the TMS kind's measure
(:mod:`circuitsim.stimulation.tms_measure`) applies them to a run."""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Sequence

import numpy as np

__all__ = ["mep_measures", "silent_period", "fit_motor_threshold"]


def _window(x: np.ndarray, fs: float, t0: float, a: float, b: float) -> np.ndarray:
    i0 = max(0, int(round((a - t0) * fs)))
    i1 = max(i0, min(x.size, int(round((b - t0) * fs))))
    return x[i0:i1]


def mep_measures(emg: np.ndarray, fs: float, t0: float, pulse_times: Sequence[float],
                 measure: Mapping[str, Any]) -> Dict[str, np.ndarray]:
    """MEP of each pulse in one muscle's EMG.

    Parameters
    ----------
    emg : EMG in volts, sample ``k`` at ``t0 + k / fs`` (run clock, no conduction delay)
    pulse_times : pulse times (s, run clock)
    measure : validated ``measure`` node (SI)

    Returns
    -------
    dict of arrays (one value per pulse): ``amplitude_v`` (peak-to-peak in the window),
    ``background_v`` (peak-to-peak of the pre-stimulus window of the same length, ending
    ``pre_gap`` before the pulse), ``present``,
    ``latency_s`` (onset + conduction delay; NaN when absent), ``pre_mean_rect_v``.
    """
    w0, w1 = measure["window"]
    n = len(pulse_times)
    out = {k: np.full(n, np.nan) for k in ("amplitude_v", "background_v", "latency_s", "pre_mean_rect_v", "pre_sd_v")}
    out["present"] = np.zeros(n, bool)
    for k, tp in enumerate(pulse_times):
        post = _window(emg, fs, t0, tp + w0, tp + w1)
        gap = measure["pre_gap"]
        pre = _window(emg, fs, t0, tp - gap - (w1 - w0), tp - gap)
        pre_long = _window(emg, fs, t0, tp - gap - measure["pre_window"], tp - gap)
        if post.size < 2 or pre.size < 2:
            continue
        amp = float(post.max() - post.min())
        bg = float(pre.max() - pre.min())
        sd = float(np.std(pre_long)) if pre_long.size > 1 else 0.0
        out["amplitude_v"][k] = amp
        out["background_v"][k] = bg
        out["pre_sd_v"][k] = sd
        out["pre_mean_rect_v"][k] = float(np.mean(np.abs(pre_long))) if pre_long.size else np.nan
        present = amp >= measure["criterion"] and amp >= measure["background_factor"] * bg
        out["present"][k] = present
        if present:
            thr = max(measure["criterion"] / 2, measure["onset_sd"] * sd)
            above = np.flatnonzero(np.abs(post) > thr)
            if above.size:
                out["latency_s"][k] = w0 + above[0] / fs + measure["conduction_delay"]
    return out


def silent_period(emg: np.ndarray, fs: float, t0: float, pulse_time: float, mep_end: float,
                  measure: Mapping[str, Any]) -> float:
    """Cortical silent period (s) after one pulse in an active muscle: from the stimulus (plus the
    conduction delay) to the return of EMG, measured on the 10-ms moving mean of the rectified
    EMG against ``silent_fraction`` of its pre-stimulus mean (Hupfeld et al. 2020 review the
    conventions); 0 when the EMG does not fall below that level after the MEP; NaN if the
    record ends first."""
    rect = np.abs(emg)
    pre = _window(rect, fs, t0, pulse_time - measure["pre_gap"] - measure["pre_window"], pulse_time - measure["pre_gap"])
    if pre.size < 2:
        return float("nan")
    level = measure["silent_fraction"] * float(pre.mean())
    seg = _window(rect, fs, t0, pulse_time + mep_end, pulse_time + mep_end + measure["silent_max"])
    box = max(1, int(round(0.01 * fs)))
    if seg.size < box + 1:
        return float("nan")
    smooth = np.convolve(seg, np.ones(box) / box, mode="valid")   # value k: mean of seg[k:k+box]
    if smooth[0] >= level:
        return 0.0
    run = max(1, int(round(measure["silent_resume"] * fs)))
    above = smooth >= level
    for k in range(above.size - run + 1):
        if above[k] and np.all(above[k:k + run]):
            return float(mep_end + k / fs)   # from the stimulus, on the muscle's clock
    return float("nan")


def fit_motor_threshold(intensity: Sequence[float], present: Sequence[float]) -> Dict[str, float]:
    """Logistic fit (maximum likelihood) of P(MEP) against intensity; the 50 % point is the motor
    threshold (Rossini et al. 2015: MEP >= 50 uV in half of the trials). ``present``: whether each
    trial had an MEP, or its probability (0-1; e.g. predicted from another measure).

    Returns ``{"threshold", "slope", "n_trials"}`` (intensity units as given); the threshold is
    NaN when no trial or every trial had an MEP.
    """
    from scipy.optimize import minimize

    x = np.asarray(intensity, float)
    y = np.asarray(present, float)
    res = {"threshold": float("nan"), "slope": float("nan"), "n_trials": int(x.size)}
    if x.size == 0 or y.min() == y.max():
        return res
    # start: midpoint between the mean intensity of the trials without and with an MEP
    binary = np.all((y == 0) | (y == 1))
    x0 = 0.5 * (x[y == 0].mean() + x[y == 1].mean()) if binary else \
        0.5 * (np.average(x, weights=1 - y) + np.average(x, weights=y))
    s0 = max(np.ptp(x) / 10, 1e-3)

    def nll(p):
        m, log_s = p
        z = np.clip((x - m) / np.exp(log_s), -50, 50)
        pr = np.clip(1 / (1 + np.exp(-z)), 1e-9, 1 - 1e-9)
        return -np.sum(y * np.log(pr) + (1 - y) * np.log(1 - pr))

    fit = minimize(nll, [x0, math.log(s0)], method="Nelder-Mead")
    m, log_s = fit.x
    m = float(np.clip(m, x.min() - np.ptp(x), x.max() + np.ptp(x)))
    return {"threshold": m, "slope": float(math.exp(log_s)), "n_trials": int(x.size)}
