"""Muscle force from motor-unit spike trains (Fuglevand et al. 1993 twitch model).

Each motor unit ``i`` (``i = 1..n``, same ordering as the pool: unit 1 has the
lowest recruitment threshold) produces, for every spike at ``t_j``, a twitch::

    f_ij(t) = g(T_i / ISI_j) * P_i * (t - t_j) / T_i * exp(1 - (t - t_j) / T_i),  t >= t_j

with

* peak twitch forces ``P_i = exp(b * i)``, ``b = ln(RP) / n`` (100-fold range,
  Fuglevand et al. 1993),
* contraction times ``T_i = T_L * RT ** (-i / n)`` (90 -> 30 ms), which equals
  Fuglevand's ``T_L * (1 / P_i) ** (1 / log_RT(RP))``,
* the non-linear gain of Fuglevand et al. (1993) for a normalised stimulus
  rate ``x = T_i / ISI_j`` (``ISI_j`` = interval preceding spike ``j``; the
  first spike of a train has gain 1)::

      g(x) = 1                                           for x <= 0.4
      g(x) = [(1 - exp(-2 x^3)) / x] / [(1 - exp(-2 * 0.4^3)) / 0.4]   for x > 0.4

  so that the mean force of a unit, proportional to ``g(x) * x``, is linear
  in its rate up to ``x = 0.4`` and a saturating sigmoid
  (``~ 1 - exp(-2 x^3)``) above it.

Force units
-----------
The output is in **newtons**.  Twitch amplitudes are scaled by one factor per
muscle so that the *mean* force with every unit firing regularly at its peak
rate ``PFR_i`` (maximal voluntary contraction, MVC) equals
``TwitchParams.max_force_n``::

    scale = max_force_n / sum_i g(T_i * PFR_i) * P_i * e * T_i * PFR_i

(``e * T_i`` is the area of a unit twitch).  Divide by ``max_force_n`` for
force in fractions of MVC.

The twitch is implemented exactly as a second-order IIR filter (its
z-transform is ``(e dt / T) a z^-1 / (1 - a z^-1)^2`` with ``a = exp(-dt/T)``),
so there is no kernel truncation and the cost is linear in the number of
samples.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.signal import lfilter

from circuitsim.checks import as_int, finite_float, float_in_range, positive_float
from .pool import PoolParams, peak_rates

__all__ = [
    "TwitchParams",
    "twitch_peak_forces",
    "contraction_times",
    "fuglevand_gain",
    "force_scale",
    "twitch",
    "muscle_force",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TwitchParams:
    """Twitch parameters of the motor units (Fuglevand et al. 1993).

    Parameters
    ----------
    peak_force_range : float
        Ratio of the largest to the smallest twitch peak force, ``RP``.
        Default 100 (Fuglevand, Winter & Patla 1993).
    contraction_time_longest_s : float
        Contraction (time-to-peak) time of the smallest unit, ``T_L``, in
        seconds.  Default 0.090 s (Fuglevand et al. 1993).
    contraction_time_range : float
        Ratio of the longest to the shortest contraction time, ``RT``.
        Default 3, i.e. 90 -> 30 ms (Fuglevand et al. 1993).
    max_force_n : float
        Mean force in newtons of the muscle when every unit fires at its peak
        rate (MVC).  Default 100 N (estimate for a lumped head-rotator muscle
        group, of the order of the maximal force of sternocleidomastoid /
        splenius capitis derived from their cross-sectional areas, e.g.
        Vasavada et al. 1998; used only as a scale).
    gain_linear_limit : float
        Normalised stimulus rate ``T / ISI`` up to which the twitch gain is
        1.  Default 0.4 (Fuglevand et al. 1993).
    """

    peak_force_range: float = 100.0  # Fuglevand et al. 1993 (RP)
    contraction_time_longest_s: float = 0.090  # Fuglevand et al. 1993 (T_L)
    contraction_time_range: float = 3.0  # Fuglevand et al. 1993 (RT, 90 -> 30 ms)
    max_force_n: float = 100.0  # estimate, cf. Vasavada et al. 1998
    gain_linear_limit: float = 0.4  # Fuglevand et al. 1993

    def __post_init__(self) -> None:
        rp = finite_float(self.peak_force_range, "peak_force_range")
        if rp < 1.0:
            raise ValueError(f"peak_force_range must be >= 1, got {rp!r}")
        tl = positive_float(self.contraction_time_longest_s, "contraction_time_longest_s")
        rt = finite_float(self.contraction_time_range, "contraction_time_range")
        if rt < 1.0:
            raise ValueError(f"contraction_time_range must be >= 1, got {rt!r}")
        fmax = positive_float(self.max_force_n, "max_force_n")
        gl = float_in_range(self.gain_linear_limit, "gain_linear_limit", 0.0, 10.0,
                         low_inclusive=False)
        for name, val in (
            ("peak_force_range", rp),
            ("contraction_time_longest_s", tl),
            ("contraction_time_range", rt),
            ("max_force_n", fmax),
            ("gain_linear_limit", gl),
        ):
            object.__setattr__(self, name, val)


def twitch_peak_forces(params: TwitchParams, n_units: int) -> np.ndarray:
    """Relative twitch peak forces ``P_i = exp(ln(RP) * i / n)``, ``i = 1..n``."""
    n_units = as_int(n_units, "n_units", minimum=1)
    b = math.log(params.peak_force_range) / n_units
    return np.exp(b * np.arange(1, n_units + 1))


def contraction_times(params: TwitchParams, n_units: int) -> np.ndarray:
    """Twitch contraction times ``T_i = T_L * RT ** (-i / n)`` in seconds."""
    n_units = as_int(n_units, "n_units", minimum=1)
    i = np.arange(1, n_units + 1)
    return params.contraction_time_longest_s * params.contraction_time_range ** (-i / n_units)


def fuglevand_gain(normalised_rate: np.ndarray, linear_limit: float = 0.4) -> np.ndarray:
    """Non-linear twitch gain ``g(T / ISI)`` of Fuglevand et al. (1993).

    Parameters
    ----------
    normalised_rate : array_like
        Normalised stimulus rate ``x = T / ISI`` (>= 0).
    linear_limit : float, optional
        ``x`` up to which the gain is 1 (default 0.4).

    Returns
    -------
    numpy.ndarray
        ``g(x)``: 1 for ``x <= linear_limit``, otherwise
        ``[(1 - exp(-2 x^3)) / x] / [(1 - exp(-2 L^3)) / L]`` with
        ``L = linear_limit``.  It is continuous, first rises above 1 and then
        falls, such that the mean force per unit time, proportional to
        ``g(x) * x``, is linear up to ``L`` and follows the sigmoid
        ``1 - exp(-2 x^3)`` above it (saturating at ``L / (1 - exp(-2 L^3))``,
        3.33 for ``L = 0.4``).
    """
    x = np.asarray(normalised_rate, dtype=float)
    lim = float(linear_limit)
    ref = (1.0 - math.exp(-2.0 * lim**3)) / lim
    with np.errstate(divide="ignore", invalid="ignore"):
        sig = (1.0 - np.exp(-2.0 * x**3)) / x / ref
    return np.where(x <= lim, 1.0, sig)


def force_scale(params: TwitchParams, pool_params: PoolParams) -> float:
    """Newtons per unit of relative twitch force ``P_i`` (see module docstring)."""
    n = pool_params.n_units
    p = twitch_peak_forces(params, n)
    t = contraction_times(params, n)
    pfr = peak_rates(pool_params)
    g = fuglevand_gain(t * pfr, params.gain_linear_limit)
    mvc_rel = float(np.sum(g * p * math.e * t * pfr))
    return params.max_force_n / mvc_rel


def twitch(t: np.ndarray, peak_force: float, contraction_time: float) -> np.ndarray:
    """Fuglevand twitch ``P * t / T * exp(1 - t / T)`` for ``t >= 0`` (0 before).

    Parameters
    ----------
    t : array_like
        Time since the spike in seconds.
    peak_force : float
        Peak force ``P`` (reached at ``t = T``).
    contraction_time : float
        Contraction time ``T`` in seconds (> 0).

    Returns
    -------
    numpy.ndarray
        Twitch force, same units as ``peak_force``.
    """
    T = positive_float(contraction_time, "contraction_time")
    t = np.asarray(t, dtype=float)
    tt = np.maximum(t, 0.0) / T
    return np.where(t >= 0.0, peak_force * tt * np.exp(1.0 - tt), 0.0)


def muscle_force(
    unit_spikes: Sequence[np.ndarray],
    duration: float,
    dt: float,
    params: TwitchParams = TwitchParams(),
    pool_params: PoolParams = PoolParams(),
    return_units: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Total muscle force from the spike trains of its motor units.

    Parameters
    ----------
    unit_spikes : sequence of array_like
        ``pool_params.n_units`` arrays of spike times (s), ordered by
        recruitment threshold (output of :func:`~circuitsim.muscle.pool.simulate_pool`).
        Spikes outside ``[0, duration)`` are ignored.
    duration : float
        Length of the output in seconds (> 0).
    dt : float
        Sampling interval of the output in seconds; must be <= 1/10 of the
        shortest contraction time (3 ms with the defaults).
    params : TwitchParams
        Twitch parameters.
    pool_params : PoolParams
        Pool parameters (number of units and peak rates, used for the MVC
        normalisation).
    return_units : bool, optional
        If True also return the per-unit forces.

    Returns
    -------
    force : numpy.ndarray
        Force in newtons on the grid ``t_k = k * dt``, shape ``(N,)`` with
        ``N = round(duration / dt)``.
    unit_forces : numpy.ndarray, optional
        Shape ``(n_units, N)``, only if ``return_units``.
    """
    duration = positive_float(duration, "duration")
    dt = positive_float(dt, "dt")
    if dt >= duration:
        raise ValueError(f"dt ({dt} s) must be smaller than duration ({duration} s)")
    n = pool_params.n_units
    if len(unit_spikes) != n:
        raise ValueError(
            f"unit_spikes has {len(unit_spikes)} trains but pool_params.n_units is {n}"
        )
    p_rel = twitch_peak_forces(params, n)
    t_c = contraction_times(params, n)
    if dt > t_c.min() / 10.0:
        raise ValueError(
            f"dt ({dt} s) is too coarse for the twitch: must be <= 1/10 of the shortest "
            f"contraction time ({t_c.min():.4g} s)"
        )
    scale = force_scale(params, pool_params)
    n_steps = int(round(duration / dt))
    total = np.zeros(n_steps)
    per_unit = np.zeros((n, n_steps)) if return_units else None
    for i, spikes in enumerate(unit_spikes):
        s = np.sort(np.asarray(spikes, dtype=float).ravel())
        if s.size == 0:
            continue
        if not np.all(np.isfinite(s)):
            raise ValueError(f"unit_spikes[{i}] contains non-finite spike times")
        isi = np.diff(s)
        gains = np.ones(s.size)
        if s.size > 1:
            with np.errstate(divide="ignore"):
                x = np.where(isi > 0, t_c[i] / np.where(isi > 0, isi, 1.0), np.inf)
            gains[1:] = np.where(np.isfinite(x), fuglevand_gain(x, params.gain_linear_limit), 0.0)
        idx = np.rint(s / dt).astype(np.int64)
        keep = (s >= 0.0) & (idx < n_steps)
        if not np.any(keep):
            continue
        impulses = np.bincount(idx[keep], weights=gains[keep], minlength=n_steps)
        a = math.exp(-dt / t_c[i])
        b = [0.0, scale * p_rel[i] * math.e * dt / t_c[i] * a]
        f_i = lfilter(b, [1.0, -2.0 * a, a * a], impulses)
        total += f_i
        if per_unit is not None:
            per_unit[i] = f_i
    if return_units:
        return total, per_unit
    return total
