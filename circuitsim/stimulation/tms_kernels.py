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
    difference-of-exponentials kernel (peak 1) of the time since the pulse. A fibre's
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
        tr, td = fac["tau_rise"], fac["tau_decay"]
        t_peak = tr * td / (td - tr) * math.log(td / tr)
        norm = math.exp(-t_peak / td) - math.exp(-t_peak / tr)
        g = np.zeros_like(t)
        for p in np.flatnonzero(frac > 1e-6):
            s = np.clip(t - table.time[p], 0, None)
            g += frac[p] * fac["gain"] * (np.exp(-s / td) - np.exp(-s / tr)) / norm
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
        tr, td = gb["tau_rise"], gb["tau_decay"]
        t_peak = tr * td / (td - tr) * math.log(td / tr)
        norm = math.exp(-t_peak / td) - math.exp(-t_peak / tr)
        g = out.setdefault(gb["population"], np.zeros_like(t))
        for p in np.flatnonzero((table.site == sname) & (frac > 0)):
            s = np.clip(t - table.time[p], 0, None)
            g += frac[p] * gb["conductance"] * (np.exp(-s / td) - np.exp(-s / tr)) / norm
    return out


def gabab_trace(params: Mapping[str, Any], duration: float, step: float) -> Dict[str, np.ndarray]:
    """The ``gabab`` node's :func:`slow_trace` (slow inhibition: cortical silent period, LICI)."""
    return slow_trace(params, duration, step, "gabab")
