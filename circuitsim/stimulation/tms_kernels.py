"""The time courses a TMS pulse sets going, computed from the protocol alone (no simulation): the
recruitment sigmoid, the slow GABA-B and NMDA conductances of a site's ``gabab`` and ``nmda``
nodes, and the fibre gain of its ``facilitation`` node (the ICF set). See
:mod:`circuitsim.stimulation.tms` for what each node stands for."""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping

import numpy as np

from circuitsim.stimulation.protocols import PulseTable


def recruited_fraction(intensity: Any, threshold: float, slope: float) -> np.ndarray:
    """Fraction of an element type recruited by a pulse of ``intensity`` (%MSO): logistic sigmoid.

    Parameters
    ----------
    intensity : float or array
        Effective pulse intensity in %MSO.
    threshold : float
        Intensity recruiting half of the elements (%MSO).
    slope : float
        Spread of element thresholds (%MSO); the fraction rises from 12 % to 88 % over
        ``threshold +/- 2 slope``.
    """
    x = (np.asarray(intensity, dtype=float) - threshold) / slope
    return 1.0 / (1.0 + np.exp(-x))


def facilitation_gain(params: Mapping[str, Any], duration: float, step: float) -> Dict[str, np.ndarray]:
    """Site -> the extra gain (0 = none) that its ``facilitation`` node (the ICF set) gives the
    fibres of its element, on a grid of ``step``: ``gain`` times the sum over the site's pulses of
    the fraction the node's sigmoid recruits at the pulse's nominal intensity times a
    difference-of-exponentials kernel (peak 1) of the time since the pulse less the node's
    ``delay`` (0 before it). A fibre's
    conductances are scaled by 1 + this at the time its spike arrives."""
    table = PulseTable.from_dict(params["pulses"])
    mso = np.asarray(params["intensity_mso"], float)
    t = np.arange(int(math.ceil(duration / step)) + 1) * step
    out: Dict[str, np.ndarray] = {}
    for sname, site in params["sites"].items():
        fac = site.get("facilitation")
        if not fac:
            continue
        frac = np.where(table.site == sname, recruited_fraction(mso, fac["threshold"], fac["slope"]), 0.0)
        g = np.zeros_like(t)
        pulses = np.flatnonzero(frac > 1e-6)
        _add_kernels(g, t, table.time[pulses] + fac["delay"], frac[pulses] * fac["gain"], fac["tau_rise"],
                     fac["tau_decay"])
        out[sname] = g
    return out


def slow_trace(params: Mapping[str, Any], duration: float, step: float, node: str = "gabab") -> Dict[str, np.ndarray]:
    """Population -> slow conductance (S) of a site's ``node`` (``gabab`` or ``nmda``) on a grid of
    ``step``: the sum over pulses of the fraction the node's own sigmoid recruits at the pulse's
    nominal intensity (without the per-pulse jitter, so the trace depends on the protocol only)
    times ``conductance`` times a difference-of-exponentials kernel (peak 1)."""
    table = PulseTable.from_dict(params["pulses"])
    mso = np.asarray(params["intensity_mso"], float)
    t = np.arange(int(math.ceil(duration / step)) + 1) * step
    out: Dict[str, np.ndarray] = {}
    for sname, site in params["sites"].items():
        gb = site.get(node)
        if not gb:
            continue
        frac = np.where(table.site == sname, recruited_fraction(mso, gb["threshold"], gb["slope"]), 0.0)
        g = out.setdefault(gb["population"], np.zeros_like(t))
        pulses = np.flatnonzero((table.site == sname) & (frac > 0))
        _add_kernels(g, t, table.time[pulses], frac[pulses] * gb["conductance"], gb["tau_rise"], gb["tau_decay"])
    return out


def gabab_trace(params: Mapping[str, Any], duration: float, step: float) -> Dict[str, np.ndarray]:
    """The ``gabab`` node's :func:`slow_trace` (slow inhibition: cortical silent period, LICI)."""
    return slow_trace(params, duration, step, "gabab")


def _add_kernels(g: np.ndarray, t: np.ndarray, times, amplitudes, tau_rise: float, tau_decay: float) -> None:
    """Add to ``g`` (on the grid ``t``) one difference-of-exponentials kernel, peak 1 times its
    amplitude, starting at each of ``times``."""
    t_peak = tau_rise * tau_decay / (tau_decay - tau_rise) * math.log(tau_decay / tau_rise)
    norm = math.exp(-t_peak / tau_decay) - math.exp(-t_peak / tau_rise)
    for t0, amp in zip(times, amplitudes):
        s = np.clip(t - t0, 0, None)
        g += amp * (np.exp(-s / tau_decay) - np.exp(-s / tau_rise)) / norm
