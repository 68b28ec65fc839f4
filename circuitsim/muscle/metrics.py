"""Clinical-style metrics of the muscle readout.

Co-contraction index (Falconer & Winter 1985)
    ``CCI = 2 * sum_t min(a_t, b_t) / sum_t (a_t + b_t)``
    for non-negative EMG envelopes ``a`` and ``b`` of an antagonist pair: the
    common (overlapping) area of the two envelopes relative to their mean
    area.  ``CCI = 1`` for identical envelopes, ``0`` when one muscle is silent.
    Using the ratio of areas (rather than the mean over time of the pointwise
    ratio) follows Falconer & Winter and is robust to instants where both
    envelopes are near zero.  The sums run only over the samples in which at
    least one muscle is *active* (its envelope above the activity threshold,
    i.e. above the noise floor that the caller subtracted); when that time is
    shorter than ``min_active_s`` the index is undefined (``None``): two
    relaxed muscles neither co-contract nor fail to.

Band power
    Welch power spectral density (``scipy.signal.welch``, Hann window, 50 %
    overlap, 1 s segments by default) integrated over ``[low, high)`` Hz,
    optionally of the full-wave rectified signal and optionally relative to
    the power in a reference band.

Dystonia severity score (see :func:`severity_score`)
    Weighted mean of three sub-scores in [0, 1]: sustained co-contraction,
    postural deviation (saturating at a TWSTRS-like maximal rotation), and
    tremor (relative 3-8 Hz EMG power).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks, welch

from circuitsim.checks import as_1d_float, as_band, float_in_range, nonnegative_float, positive_float

__all__ = [
    "SeverityParams",
    "co_contraction_index",
    "emg_band_power",
    "head_angle_summary",
    "severity_subscores",
    "severity_score",
]

logger = logging.getLogger(__name__)


def co_contraction_index(env_a: np.ndarray, env_b: np.ndarray, *, fs: float | None = None,
                         active_threshold: float = 0.0, min_active_s: float = 0.0) -> float | None:
    """Co-contraction index of two EMG envelopes (Falconer & Winter 1985), over active time.

    ``CCI = 2 * sum(min(a, b)) / sum(a + b)`` over the samples where ``a`` or ``b`` exceeds
    ``active_threshold``, in [0, 1].

    Parameters
    ----------
    env_a, env_b : array_like
        Non-negative envelopes of the two antagonists, same length, same
        sampling and same units (normalise beforehand if the muscles'
        recordings are not comparable), usually with the noise floor already
        subtracted.
    fs : float, optional
        Sampling rate in Hz; needed only when ``min_active_s > 0``.
    active_threshold : float, optional
        A muscle counts as active in a sample where its envelope is above this
        level (same unit as the envelopes).  Default 0: any envelope above the
        subtracted noise floor.
    min_active_s : float, optional
        Least active time (s) for the index to be defined.  Default 0.

    Returns
    -------
    float or None
        1 for identical envelopes, 0 when one envelope is zero everywhere;
        ``None`` when neither muscle is active for at least ``min_active_s``
        (for ``min_active_s = 0``: in no sample).

    Raises
    ------
    ValueError
        If the envelopes differ in length, are empty, not finite, or negative.
    """
    a = as_1d_float(env_a, "env_a", allow_empty=False)
    b = as_1d_float(env_b, "env_b", allow_empty=False)
    if a.shape != b.shape:
        raise ValueError(f"env_a and env_b must have the same length, got {a.size} and {b.size}")
    if np.any(a < 0.0):
        raise ValueError("env_a must be non-negative (an envelope)")
    if np.any(b < 0.0):
        raise ValueError("env_b must be non-negative (an envelope)")
    active_threshold = nonnegative_float(active_threshold, "active_threshold")
    min_active_s = nonnegative_float(min_active_s, "min_active_s")
    active = (a > active_threshold) | (b > active_threshold)
    n_active = int(np.count_nonzero(active))
    if min_active_s > 0.0:
        if fs is None:
            raise ValueError("fs is needed when min_active_s > 0")
        fs = positive_float(fs, "fs")
        if n_active < min_active_s * fs:
            return None
    if n_active == 0:
        return None
    a, b = a[active], b[active]
    total = float(np.sum(a + b))
    if total <= 0.0:
        return None
    return float(min(1.0, 2.0 * np.sum(np.minimum(a, b)) / total))


def emg_band_power(
    emg: np.ndarray,
    fs: float,
    band: tuple[float, float],
    *,
    relative_to: tuple[float, float] | None = None,
    rectify: bool = False,
    segment_s: float = 1.0,
) -> float:
    """Power of a signal in a frequency band (Welch estimate).

    Parameters
    ----------
    emg : array_like
        Signal (e.g. EMG in V), 1-D.
    fs : float
        Sampling rate in Hz.
    band : (float, float)
        ``(low_hz, high_hz)``; bins with ``low <= f < high`` are summed.
    relative_to : (float, float), optional
        If given, return ``P(band) / P(relative_to)`` (dimensionless; NaN if
        the reference power is 0).
    rectify : bool, optional
        If True the signal is full-wave rectified (``|x|``) first; the mean
        is always removed (Welch ``detrend="constant"``).
    segment_s : float, optional
        Welch segment length in seconds (default 1 s -> 1 Hz resolution);
        shortened to the signal length if needed.

    Returns
    -------
    float
        Band power in signal units squared (V^2), or the ratio if
        ``relative_to`` is given.
    """
    fs = positive_float(fs, "fs")
    x = as_1d_float(emg, "emg", allow_empty=False)
    low, high = as_band(band, "band", nyquist=fs / 2.0)
    segment_s = positive_float(segment_s, "segment_s")
    if relative_to is not None:
        rlow, rhigh = as_band(relative_to, "relative_to", nyquist=fs / 2.0)
    if x.size < 8:
        raise ValueError(f"emg is too short for a spectral estimate ({x.size} samples)")
    if rectify:
        x = np.abs(x)
    nperseg = int(min(x.size, max(8, round(segment_s * fs))))
    f, pxx = welch(x, fs=fs, nperseg=nperseg, detrend="constant")
    df = f[1] - f[0]
    p_band = float(np.sum(pxx[(f >= low) & (f < high)]) * df)
    if relative_to is None:
        return p_band
    p_ref = float(np.sum(pxx[(f >= rlow) & (f < rhigh)]) * df)
    if p_ref <= 0.0:
        return float("nan")
    return p_band / p_ref


def head_angle_summary(
    angle_rad: np.ndarray,
    threshold_deg: float = 5.0,
    fs_hz: float | None = None,
    jerk_velocity_deg_s: float = 30.0,
    jerk_min_interval_s: float = 0.1,
) -> dict[str, float]:
    """Summary of the head angle in degrees.

    Parameters
    ----------
    angle_rad : array_like
        Head yaw angle over time (rad), positive = rotation to the left.
    threshold_deg : float, optional
        Deviation (deg) counted as abnormal for ``frac_beyond``.  Default 5 deg
        (estimate of a clinically visible rotation; TWSTRS rates rotation in
        quarters of the 90 deg range, Consky & Lang 1994).
    fs_hz : float, optional
        Sampling rate of ``angle_rad`` (Hz).  Needed for ``jerks_per_s``; without it
        that key is absent.
    jerk_velocity_deg_s : float, optional
        Least peak angular speed (deg/s) of a jerk.  Default 30 deg/s (model choice:
        an order of magnitude above the drift of a steady voluntary hold, far below a
        voluntary head turn's 100-300 deg/s).
    jerk_min_interval_s : float, optional
        Least time between two counted jerks (s).  Default 0.1 s (model choice: a
        twitch's rise and fall are one jerk).

    Returns
    -------
    dict
        ``mean``: signed mean angle (deg; positive = left);
        ``peak``: maximal absolute angle (deg);
        ``frac_beyond``: fraction of samples with ``|angle| > threshold_deg``;
        ``jerks_per_s`` (with ``fs_hz``): phasic head movements, the rate of peaks of the
        angular speed above ``jerk_velocity_deg_s`` at least ``jerk_min_interval_s`` apart.
    """
    a = np.degrees(as_1d_float(angle_rad, "angle_rad", allow_empty=False))
    threshold_deg = nonnegative_float(threshold_deg, "threshold_deg")
    out = {
        "mean": float(np.mean(a)),
        "peak": float(np.max(np.abs(a))),
        "frac_beyond": float(np.mean(np.abs(a) > threshold_deg)),
    }
    if fs_hz is not None:
        fs_hz = positive_float(fs_hz, "fs_hz")
        jerk_velocity_deg_s = positive_float(jerk_velocity_deg_s, "jerk_velocity_deg_s")
        jerk_min_interval_s = nonnegative_float(jerk_min_interval_s, "jerk_min_interval_s")
        out["jerks_per_s"] = _jerk_rate(a, fs_hz, jerk_velocity_deg_s, jerk_min_interval_s)
    return out


def _jerk_rate(angle_deg: np.ndarray, fs_hz: float, velocity_deg_s: float, min_interval_s: float) -> float:
    """Peaks of |d angle / dt| above ``velocity_deg_s``, at least ``min_interval_s`` apart, per second."""
    if angle_deg.size < 3:
        return 0.0
    speed = np.abs(np.gradient(angle_deg) * fs_hz)
    peaks, _ = find_peaks(speed, height=velocity_deg_s, distance=max(1, int(round(min_interval_s * fs_hz))))
    return float(peaks.size / (angle_deg.size / fs_hz))


@dataclass(frozen=True)
class SeverityParams:
    """Parameters of the dystonia severity score.

    Parameters
    ----------
    weight_co_contraction, weight_posture, weight_tremor : float
        Non-negative weights of the three sub-scores (not all zero).
        Default 1 each (model choice: equal weighting).
    cc_floor : float
        Co-contraction index regarded as normal (sub-score 0 at or below).
        Default 0.3 (estimate; antagonist neck muscles co-activate moderately
        in healthy postural control).
    max_angle_deg : float
        Mean absolute rotation at which the posture sub-score saturates at 1.
        Default 90 deg (maximal rotation category of the TWSTRS, Consky &
        Lang 1994).
    tremor_floor : float
        Relative 3-8 Hz power of the rectified EMG regarded as normal
        (sub-score 0 at or below).  Default 0.1 (estimate: the 3-8 Hz share of
        1-100 Hz power of rectified EMG with unmodulated drive in this model
        is about 0.05-0.1).
    tremor_ceiling : float
        Relative 3-8 Hz power at which the tremor sub-score saturates.
        Default 0.5 (estimate: half of the low-frequency envelope power
        concentrated in the tremor band).
    """

    weight_co_contraction: float = 1.0  # model choice
    weight_posture: float = 1.0  # model choice
    weight_tremor: float = 1.0  # model choice
    cc_floor: float = 0.3  # estimate
    max_angle_deg: float = 90.0  # TWSTRS, Consky & Lang 1994
    tremor_floor: float = 0.1  # estimate (model calibration)
    tremor_ceiling: float = 0.5  # estimate

    def __post_init__(self) -> None:
        w = {n: nonnegative_float(getattr(self, n), n)
             for n in ("weight_co_contraction", "weight_posture", "weight_tremor")}
        if sum(w.values()) <= 0.0:
            raise ValueError(
                "weight_co_contraction, weight_posture and weight_tremor must not all be 0")
        vals = dict(w)
        vals["cc_floor"] = float_in_range(self.cc_floor, "cc_floor", 0.0, 1.0, high_inclusive=False)
        vals["max_angle_deg"] = positive_float(self.max_angle_deg, "max_angle_deg")
        vals["tremor_floor"] = float_in_range(self.tremor_floor, "tremor_floor", 0.0, 1.0,
                                           high_inclusive=False)
        vals["tremor_ceiling"] = float_in_range(self.tremor_ceiling, "tremor_ceiling", 0.0, 1.0,
                                             low_inclusive=False)
        if not vals["tremor_ceiling"] > vals["tremor_floor"]:
            raise ValueError(
                f"tremor_ceiling ({vals['tremor_ceiling']}) must exceed "
                f"tremor_floor ({vals['tremor_floor']})"
            )
        for name, val in vals.items():
            object.__setattr__(self, name, val)


def _clip01(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def severity_subscores(
    co_contraction: float,
    head_angle_deg_mean_abs: float,
    tremor_rel_power: float,
    params: SeverityParams = SeverityParams(),
) -> dict[str, float]:
    """The three sub-scores of :func:`severity_score`, each in [0, 1].

    Returns
    -------
    dict
        ``co_contraction``, ``posture`` and ``tremor`` sub-scores.
    """
    vals = {}
    for name, value, hi in (
        ("co_contraction", co_contraction, 1.0),
        ("head_angle_deg_mean_abs", head_angle_deg_mean_abs, math.inf),
        ("tremor_rel_power", tremor_rel_power, 1.0),
    ):
        if value is None:  # undefined, e.g. the co-contraction of two relaxed muscles
            vals[name] = None
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            raise ValueError(f"{name} must be a real number, got {value!r}")
        value = float(value)
        if math.isnan(value):
            logger.debug("severity_score: %s is NaN, sub-score set to 0", name)
            vals[name] = None
            continue
        vals[name] = float_in_range(value, name, 0.0, hi)
    cc, ang, tr = (vals["co_contraction"], vals["head_angle_deg_mean_abs"],
                   vals["tremor_rel_power"])
    s_cc = 0.0 if cc is None else _clip01((cc - params.cc_floor) / (1.0 - params.cc_floor))
    s_post = 0.0 if ang is None else _clip01(ang / params.max_angle_deg)
    s_tr = 0.0 if tr is None else _clip01(
        (tr - params.tremor_floor) / (params.tremor_ceiling - params.tremor_floor))
    return {"co_contraction": s_cc, "posture": s_post, "tremor": s_tr}


def severity_score(
    co_contraction: float,
    head_angle_deg_mean_abs: float,
    tremor_rel_power: float,
    params: SeverityParams = SeverityParams(),
) -> float:
    """Dystonia severity score in [0, 1].

    Formula (copy-ready)::

        S_cc   = clip((CCI - cc_floor) / (1 - cc_floor), 0, 1)
        S_post = clip(|theta|_mean_deg / max_angle_deg, 0, 1)
        S_trem = clip((P_3-8 - tremor_floor) / (tremor_ceiling - tremor_floor), 0, 1)
        severity = (w_cc * S_cc + w_post * S_post + w_trem * S_trem)
                   / (w_cc + w_post + w_trem)

    where ``CCI`` is the Falconer & Winter co-contraction index of the
    antagonist pair, ``|theta|_mean_deg`` the absolute value of the mean head
    rotation in degrees (TWSTRS-like: 90 deg = maximal rotation, Consky & Lang
    1994) and ``P_3-8`` the 3-8 Hz power of the rectified EMG relative to its
    1-100 Hz power.  Defaults: ``cc_floor = 0.3``, ``max_angle_deg = 90``,
    ``tremor_floor = 0.1``, ``tremor_ceiling = 0.5``, all weights 1.  The score
    is non-decreasing in each input and strictly increasing inside the
    non-saturated range of a sub-score with non-zero weight.  A NaN or None
    input (e.g. tremor power of a silent muscle, or the co-contraction index of
    two relaxed muscles) contributes a sub-score of 0.

    Parameters
    ----------
    co_contraction : float or None
        Co-contraction index in [0, 1]; None when undefined (no active muscle).
    head_angle_deg_mean_abs : float
        Absolute mean head rotation in degrees (>= 0).
    tremor_rel_power : float
        Relative 3-8 Hz EMG power in [0, 1].
    params : SeverityParams
        Floors, ceilings and weights.

    Returns
    -------
    float
        Severity in [0, 1] (0 = no sign of dystonia, 1 = maximal).
    """
    s = severity_subscores(co_contraction, head_angle_deg_mean_abs, tremor_rel_power, params)
    w_cc, w_post, w_tr = params.weight_co_contraction, params.weight_posture, params.weight_tremor
    score = (w_cc * s["co_contraction"] + w_post * s["posture"] + w_tr * s["tremor"]) / (
        w_cc + w_post + w_tr)
    return _clip01(score)
