"""Spike-train statistics for populations of neurons.

Data convention
---------------
A population's spikes are given as ``trains``: a list with one 1-D array of
spike times **in seconds** per neuron.  Functions that need an observation
window take ``duration`` (s) and an optional ``t_start`` (s); the analysed
window is the half-open interval ``[t_start, t_start + duration)``.
All scalar results are returned as plain Python ``float``; ``nan`` is returned
where a measure is undefined (documented per function).

Binning
-------
Binned measures use ``n_bins = floor(duration / bin_size)`` bins of width
``bin_size`` starting at ``t_start`` (a trailing partial bin is dropped).  A
relative tolerance of 1e-9 bins is applied so that spike times lying exactly on
a bin edge (common with clock-driven simulators such as Brian2, whose spike
times are multiples of ``dt``) are assigned to the bin that starts there,
independently of floating-point round-off.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from scipy import special
from scipy.ndimage import gaussian_filter1d

from circuitsim.checks import as_trains as _check_trains
from circuitsim.checks import finite_float, nonnegative_float, positive_float

logger = logging.getLogger(__name__)

__all__ = [
    "trains_from_indices",
    "mean_rate_hz",
    "cv_isi",
    "poisson_surprise",
    "poisson_surprise_bursts",
    "burst_fraction",
    "pause_fraction",
    "synchrony_chi",
    "spike_count_correlation",
    "population_rate",
]

_EDGE_TOL = 1e-9  # in units of bins


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
class CheckedTrains(list):
    """Trains known to be valid (a list of sorted, finite float64 arrays), as
    :func:`trains_from_indices` returns them: the measures below take them as they are instead of
    checking and copying every train again (a run computes five measures of every population)."""


def as_trains(trains, name: str = "trains") -> list:
    """:func:`circuitsim.checks.as_trains`, except for :class:`CheckedTrains`, returned as they are."""
    if type(trains) is CheckedTrains:
        return trains
    return _check_trains(trains, name)


def _window(duration, t_start) -> tuple[float, float]:
    duration = positive_float(duration, "duration (s)")
    t_start = finite_float(t_start, "t_start (s)")
    return t_start, t_start + duration


def _n_bins(duration: float, bin_size: float, what: str = "bin_size") -> int:
    n = int(math.floor(duration / bin_size + _EDGE_TOL))
    if n < 1:
        raise ValueError(
            f"{what} ({bin_size} s) is longer than duration ({duration} s): "
            "no complete bin fits in the analysed window"
        )
    return n


def _bin_index(t: np.ndarray, t_start: float, bin_size: float, n_bins: int):
    idx = np.floor((t - t_start) / bin_size + _EDGE_TOL).astype(np.int64)
    keep = (idx >= 0) & (idx < n_bins)
    return idx[keep]


def _bin_counts(trains, t_start: float, duration: float, bin_size: float) -> np.ndarray:
    """Return an (n_neurons, n_bins) float array of spike counts."""
    n_bins = _n_bins(duration, bin_size)
    sizes = np.fromiter((tr.size for tr in trains), dtype=np.int64, count=len(trains))
    if not sizes.sum():
        return np.zeros((len(trains), n_bins), dtype=float)
    t = np.concatenate(trains)
    neuron = np.repeat(np.arange(len(trains), dtype=np.int64), sizes)
    idx = np.floor((t - t_start) / bin_size + _EDGE_TOL).astype(np.int64)   # as _bin_index
    keep = (idx >= 0) & (idx < n_bins)
    flat = np.bincount(neuron[keep] * n_bins + idx[keep], minlength=len(trains) * n_bins)
    return flat.reshape(len(trains), n_bins).astype(float)


def _in_window(tr: np.ndarray, t0: float, t1: float) -> np.ndarray:
    return tr[(tr >= t0) & (tr < t1)]


# ---------------------------------------------------------------------------
# conversion
# ---------------------------------------------------------------------------
def trains_from_indices(i, t, n) -> list[np.ndarray]:
    """Convert (neuron index, spike time) arrays into per-neuron spike trains.

    This is the format produced by a Brian2 ``SpikeMonitor`` (``mon.i``,
    ``mon.t``); pass ``t`` in seconds (``np.asarray(mon.t)`` or ``mon.t_``).

    Parameters
    ----------
    i : array_like of int
        Neuron index of each spike, ``0 <= i < n``.
    t : array_like of float
        Spike time of each spike (s); same length as ``i``.
    n : int
        Number of neurons in the population (neurons without spikes get an
        empty array).

    Returns
    -------
    list of numpy.ndarray
        ``n`` sorted float64 arrays of spike times (s).

    Raises
    ------
    ValueError
        If the lengths differ, ``n`` is not a positive integer, indices are not
        integers or out of range, or times are not finite.
    """
    try:
        n_int = int(n)
    except (TypeError, ValueError):
        raise ValueError(f"n must be a positive integer, got {n!r}") from None
    if n_int != n or n_int < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    i_arr = np.asarray(i)
    t_arr = np.asarray(t, dtype=float)
    if i_arr.ndim != 1 or t_arr.ndim != 1:
        raise ValueError(
            f"i and t must be 1-D, got shapes {i_arr.shape} and {t_arr.shape}"
        )
    if i_arr.shape[0] != t_arr.shape[0]:
        raise ValueError(
            f"i and t must have the same length, got {i_arr.shape[0]} and {t_arr.shape[0]}"
        )
    if i_arr.size == 0:
        return CheckedTrains(np.zeros(0, dtype=float) for _ in range(n_int))
    if not np.issubdtype(i_arr.dtype, np.integer):
        i_float = np.asarray(i_arr, dtype=float)
        if not np.all(np.isfinite(i_float)) or np.any(i_float != np.round(i_float)):
            raise ValueError("neuron indices i must be integers")
        i_arr = i_float.astype(np.int64)
    i_arr = i_arr.astype(np.int64)
    if i_arr.min() < 0 or i_arr.max() >= n_int:
        raise ValueError(
            f"neuron indices must lie in [0, {n_int - 1}], got range "
            f"[{i_arr.min()}, {i_arr.max()}]"
        )
    if not np.all(np.isfinite(t_arr)):
        raise ValueError("spike times t contain non-finite values")
    order = np.lexsort((t_arr, i_arr))
    t_sorted = t_arr[order]
    counts = np.bincount(i_arr, minlength=n_int)
    splits = np.cumsum(counts)[:-1]
    return CheckedTrains(np.array(a, dtype=float) for a in np.split(t_sorted, splits))


def _is_index_form(spikes) -> bool:
    if not isinstance(spikes, tuple) or len(spikes) not in (2, 3):
        return False
    first = np.asarray(spikes[0])
    return first.ndim == 1 and np.issubdtype(first.dtype, np.integer)


# ---------------------------------------------------------------------------
# firing rate and regularity
# ---------------------------------------------------------------------------
def mean_rate_hz(trains, duration, t_start=0.0) -> float:
    """Population-averaged mean firing rate.

    The rate of each neuron is its spike count in ``[t_start, t_start +
    duration)`` divided by ``duration``; the function returns the mean over all
    neurons (silent neurons included), i.e. total spikes / (N * duration).

    Parameters
    ----------
    trains : list of array_like
        Spike times (s), one array per neuron.
    duration : float
        Length of the analysed window (s), > 0.
    t_start : float, optional
        Start of the analysed window (s). Default 0.

    Returns
    -------
    float
        Mean firing rate per neuron (Hz).

    References
    ----------
    Dayan P, Abbott LF (2001) *Theoretical Neuroscience*, MIT Press, ch. 1.
    """
    trains = as_trains(trains)
    t0, t1 = _window(duration, t_start)
    every = np.concatenate(trains) if trains else np.zeros(0)
    total = int(np.count_nonzero((every >= t0) & (every < t1)))
    return float(total / (len(trains) * (t1 - t0)))


def cv_isi(trains, min_spikes=3) -> float:
    """Mean coefficient of variation of the inter-spike intervals.

    For every neuron with at least ``min_spikes`` spikes the ISI CV is
    ``std(ISI) / mean(ISI)`` with the population standard deviation (ddof=0,
    as in ``scipy.stats.variation`` / ``elephant.statistics.cv``).  The result
    is the unweighted mean over those neurons.  A Poisson process has CV = 1,
    a perfectly periodic train CV = 0, a gamma process of shape ``k`` CV =
    1/sqrt(k).

    Parameters
    ----------
    trains : list of array_like
        Spike times (s), one array per neuron (whole trains are used).
    min_spikes : int, optional
        Minimum number of spikes (>= 3, i.e. at least two ISIs) for a neuron
        to be included. Default 3.

    Returns
    -------
    float
        Mean ISI CV; ``nan`` if no neuron has ``min_spikes`` spikes (or all
        qualifying neurons have a zero mean ISI).

    References
    ----------
    Softky WR, Koch C (1993) The highly irregular firing of cortical cells is
    inconsistent with temporal integration of random EPSPs. J Neurosci
    13:334-350.
    """
    trains = as_trains(trains)
    min_spikes = _min_spikes(min_spikes, lowest=3)
    cvs = []
    for tr in trains:
        if tr.size < min_spikes:
            continue
        isi = np.diff(tr)
        m = isi.mean()
        if m <= 0:
            continue
        cvs.append(isi.std() / m)
    if not cvs:
        return float("nan")
    return float(np.mean(cvs))


def _min_spikes(value, lowest: int) -> int:
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"min_spikes must be an integer, got {value!r}") from None
    if v != value or v < lowest:
        raise ValueError(f"min_spikes must be an integer >= {lowest}, got {value!r}")
    return v


# ---------------------------------------------------------------------------
# bursts: Poisson surprise (Legendy & Salcman 1985)
# ---------------------------------------------------------------------------
def poisson_surprise(n_spikes, interval, rate) -> float:
    """Poisson surprise of ``n_spikes`` spikes falling in ``interval`` seconds.

    ``S = -log10 P``, where ``P = P(N >= n_spikes)`` for a Poisson count ``N``
    with mean ``rate * interval`` (Legéndy & Salcman 1985, eq. 1:
    ``P = exp(-rT) * sum_{i >= n} (rT)^i / i!``).  ``P`` is evaluated as the
    regularized lower incomplete gamma function; for extremely small ``P``
    (< 1e-250) the logarithm is evaluated directly from the series to avoid
    underflow.

    Parameters
    ----------
    n_spikes : int
        Number of spikes in the candidate burst (>= 1).
    interval : float
        Time from the first to the last spike of the candidate (s), >= 0.
    rate : float
        Mean firing rate of the neuron (Hz), > 0.

    Returns
    -------
    float
        Surprise value (``inf`` if ``interval`` is 0).

    References
    ----------
    Legéndy CR, Salcman M (1985) Bursts and recurrences of bursts in the spike
    trains of spontaneously active striate cortex neurons. J Neurophysiol
    53:926-939.
    """
    n = int(n_spikes)
    if n < 1 or n != n_spikes:
        raise ValueError(f"n_spikes must be a positive integer, got {n_spikes!r}")
    interval = nonnegative_float(interval, "interval (s)")
    rate = positive_float(rate, "rate (Hz)")
    return _surprise(n, rate * interval)


def _surprise(n: int, lam: float) -> float:
    if lam <= 0.0:
        return math.inf
    p = float(special.gammainc(n, lam))  # P(N >= n), N ~ Poisson(lam)
    if p > 1e-250:
        return -math.log10(p)
    # log P = -lam + n log lam - log n! + log sum_k lam^k n!/(n+k)!
    term, acc = 1.0, 1.0
    for k in range(1, 10000):
        term *= lam / (n + k)
        acc += term
        if term < 1e-17 * acc:
            break
    log_p = -lam + n * math.log(lam) - math.lgamma(n + 1) + math.log(acc)
    return -log_p / math.log(10.0)


def poisson_surprise_bursts(
    spike_times,
    rate=None,
    surprise_threshold=3.0,
    seed_isi_factor=0.5,
    max_isi_factor=1.0,
    look_ahead=10,
    min_burst_spikes=3,
) -> list[tuple[int, int, float]]:
    """Detect bursts in one spike train with the Poisson-surprise method.

    Implementation of Legéndy & Salcman (1985) as used for pallidal recordings
    (e.g. Wichmann & Soares 2006):

    1. ``rate`` defaults to the train's mean rate, 1 / mean(ISI).
    2. Seed: ``min_burst_spikes`` (default 3) consecutive spikes whose ISIs are
       all shorter than ``seed_isi_factor`` x mean ISI (default 0.5).
    3. Extension: later spikes are appended while the surprise increases; up to
       ``look_ahead`` (default 10) further spikes are tried beyond the current
       best end before stopping.  Extension never crosses an ISI
       >= ``max_isi_factor`` x mean ISI (default 1.0, i.e. a burst never
       contains an ISI longer than the mean ISI).
    4. Trimming: leading spikes are removed if this increases the surprise;
       all start positions leaving at least ``min_burst_spikes`` spikes are
       evaluated and the one with maximal surprise is kept (so that, unlike a
       purely greedy removal, a single loose leading spike cannot block the
       trimming).
    5. The burst is accepted if its surprise ``S >= surprise_threshold``
       (default 3, i.e. P < 1e-3 under the Poisson null).  The search then
       resumes after the burst's last spike; after a rejected seed it resumes
       at the next spike.

    The surprise of ``n`` spikes spanning ``T`` seconds is
    ``S = -log10 P(N >= n | Poisson(rate * T))`` (see :func:`poisson_surprise`).

    Parameters
    ----------
    spike_times : array_like
        Sorted spike times of one neuron (s).
    rate : float, optional
        Reference firing rate (Hz). Default: 1 / mean ISI of the train.
    surprise_threshold : float, optional
        Minimum surprise for acceptance. Default 3.
    seed_isi_factor : float, optional
        Seed ISI threshold relative to the mean ISI. Default 0.5.
    max_isi_factor : float, optional
        Longest ISI allowed inside a burst, relative to the mean ISI.
        Default 1.0.
    look_ahead : int, optional
        Number of spikes tried beyond the best end during extension.
        Default 10.
    min_burst_spikes : int, optional
        Minimum number of spikes in a burst (>= 3). Default 3.

    Returns
    -------
    list of (int, int, float)
        ``(first_index, last_index, surprise)`` for each burst; indices refer
        to ``spike_times`` and are inclusive.  Empty if the train has fewer
        than ``min_burst_spikes`` spikes.

    References
    ----------
    Legéndy CR, Salcman M (1985) J Neurophysiol 53:926-939.
    Wichmann T, Soares J (2006) Neuronal firing before and after burst
    discharges in the monkey basal ganglia is predictably patterned in the
    normal state and altered in parkinsonism. J Neurophysiol 95:2120-2133.
    """
    t = as_trains([spike_times], "spike_times")[0]
    params = _burst_params(surprise_threshold, seed_isi_factor, max_isi_factor, look_ahead, min_burst_spikes)
    return _detect_bursts(t, rate, *params)


def _burst_params(surprise_threshold, seed_isi_factor, max_isi_factor, look_ahead, min_burst_spikes) -> tuple:
    """The checked parameters of :func:`poisson_surprise_bursts` (checked once per population)."""
    surprise_threshold = finite_float(surprise_threshold, "surprise_threshold")
    seed_isi_factor = positive_float(seed_isi_factor, "seed_isi_factor")
    max_isi_factor = positive_float(max_isi_factor, "max_isi_factor")
    if max_isi_factor < seed_isi_factor:
        raise ValueError(
            f"max_isi_factor ({max_isi_factor}) must be >= seed_isi_factor "
            f"({seed_isi_factor})"
        )
    look_ahead = int(look_ahead)
    if look_ahead < 0:
        raise ValueError(f"look_ahead must be >= 0, got {look_ahead}")
    min_burst_spikes = _min_spikes(min_burst_spikes, lowest=3)
    return surprise_threshold, seed_isi_factor, max_isi_factor, look_ahead, min_burst_spikes


def _detect_bursts(t, rate, surprise_threshold, seed_isi_factor, max_isi_factor, look_ahead,
                   min_burst_spikes) -> list[tuple[int, int, float]]:
    """:func:`poisson_surprise_bursts` of a checked train ``t`` with checked parameters."""
    n = t.size
    if n < min_burst_spikes:
        return []
    isi = np.diff(t)
    mean_isi = float(isi.mean())
    if mean_isi <= 0.0:
        return []
    if rate is None:
        rate = 1.0 / mean_isi
    rate = positive_float(rate, "rate (Hz)")
    seed_thr = seed_isi_factor * mean_isi
    cap = max_isi_factor * mean_isi

    # spike k can start a seed if the (min_burst_spikes - 1) ISIs after it
    # are all short
    short = isi < seed_thr
    m = min_burst_spikes - 1
    if short.size < m:
        return []
    window = np.convolve(short.astype(np.int64), np.ones(m, dtype=np.int64), "valid")
    seed_starts = np.flatnonzero(window == m)

    def surprise(a: int, b: int) -> float:
        return _surprise(b - a + 1, rate * (t[b] - t[a]))

    bursts: list[tuple[int, int, float]] = []
    pos = 0  # first spike index allowed to start the next burst
    s_ptr = 0
    while s_ptr < seed_starts.size:
        k = int(seed_starts[s_ptr])
        if k < pos:
            s_ptr += 1
            continue
        start, end = k, k + m
        best = surprise(start, end)
        j = end
        while j + 1 < n and isi[j] < cap and (j + 1 - end) <= look_ahead:
            j += 1
            s = surprise(start, j)
            if s > best:
                best, end = s, j
        first = start
        for a in range(first + 1, end - min_burst_spikes + 2):
            s = surprise(a, end)
            if s > best:
                best, start = s, a
        if best >= surprise_threshold:
            bursts.append((start, end, float(best)))
            pos = end + 1
        else:
            pos = k + 1
        s_ptr += 1
    return bursts


def burst_fraction(
    trains,
    surprise_threshold=3.0,
    min_spikes=10,
    seed_isi_factor=0.5,
    max_isi_factor=1.0,
    look_ahead=10,
) -> float:
    """Fraction of spikes that belong to Poisson-surprise bursts.

    Bursts are detected per neuron with :func:`poisson_surprise_bursts`
    (Legéndy & Salcman 1985, as applied to pallidal neurons by Wichmann &
    Soares 2006), using each neuron's own mean rate (1 / mean ISI) as the
    Poisson reference.  Defaults: seed = 3 spikes with ISIs < 0.5 x mean ISI,
    extension while surprise increases (look-ahead 10 spikes, no ISI >= mean
    ISI inside a burst), acceptance at surprise >= 3.

    For each neuron with at least ``min_spikes`` spikes the fraction
    ``spikes in bursts / spikes`` is computed; the function returns the
    unweighted mean over those neurons.  A Poisson train gives a small value
    (only chance clusters reach the threshold); trains made of high-frequency
    bursts give values near 1.

    Parameters
    ----------
    trains : list of array_like
        Spike times (s), one array per neuron (whole trains are used).
    surprise_threshold : float, optional
        Minimum Poisson surprise of an accepted burst. Default 3.
    min_spikes : int, optional
        Neurons with fewer spikes are skipped (their mean ISI is too poorly
        estimated). Default 10.
    seed_isi_factor, max_isi_factor, look_ahead : optional
        See :func:`poisson_surprise_bursts`.

    Returns
    -------
    float
        Mean fraction of spikes in bursts, in [0, 1]; ``nan`` if no neuron has
        ``min_spikes`` spikes.

    References
    ----------
    Legéndy CR, Salcman M (1985) J Neurophysiol 53:926-939.
    Wichmann T, Soares J (2006) J Neurophysiol 95:2120-2133.
    """
    trains = as_trains(trains)
    min_spikes = _min_spikes(min_spikes, lowest=3)
    params = _burst_params(surprise_threshold, seed_isi_factor, max_isi_factor, look_ahead, 3)
    fractions = []
    for tr in trains:
        if tr.size < min_spikes:
            continue
        bursts = _detect_bursts(tr, None, *params)
        in_burst = sum(b - a + 1 for a, b, _ in bursts)
        fractions.append(in_burst / tr.size)
    if not fractions:
        return float("nan")
    return float(np.mean(fractions))


# ---------------------------------------------------------------------------
# pauses
# ---------------------------------------------------------------------------
def pause_fraction(
    trains,
    duration,
    t_start=0.0,
    isi_factor=5.0,
    min_pause_s=0.1,
    min_spikes=3,
    include_edges=True,
) -> float:
    """Fraction of the recording time that neurons spend in pauses.

    Rule (per neuron, spikes restricted to ``[t_start, t_start + duration)``):
    an inter-spike interval is a *pause* if it is longer than
    ``max(isi_factor * mean_ISI, min_pause_s)`` (defaults: 5 x the neuron's
    mean ISI and at least 0.1 s).  With ``include_edges`` the silent intervals
    between ``t_start`` and the first spike and between the last spike and
    the end of the window are judged with the same rule.  The neuron's pause
    fraction is the summed pause length divided by ``duration``; the function
    returns the mean over neurons with at least ``min_spikes`` spikes.

    This is a simple ISI-threshold approximation of the long, isolated pauses
    of high-frequency-discharge GPe neurons described by Elias et al. (2007),
    who detected them with a surprise-maximising algorithm (mean pause
    0.62 s, ~13 pauses/min).  For a Poisson train in which the relative
    criterion dominates, the expected value is ``(k + 1) exp(-k)`` with
    ``k = isi_factor`` (about 0.04 for k = 5); for high-rate neurons the 0.1 s
    floor dominates and the Poisson expectation is much smaller.

    Parameters
    ----------
    trains : list of array_like
        Spike times (s), one array per neuron.
    duration : float
        Length of the analysed window (s), > 0.
    t_start : float, optional
        Start of the analysed window (s). Default 0.
    isi_factor : float, optional
        Pause threshold relative to the neuron's mean ISI. Default 5.
    min_pause_s : float, optional
        Absolute minimum pause length (s). Default 0.1.
    min_spikes : int, optional
        Neurons with fewer spikes in the window are skipped (>= 3). Default 3.
    include_edges : bool, optional
        Whether leading/trailing silent intervals can count as pauses.
        Default True.

    Returns
    -------
    float
        Mean fraction of time in pauses, in [0, 1]; ``nan`` if no neuron has
        ``min_spikes`` spikes in the window.

    References
    ----------
    Elias S, Joshua M, Goldberg JA, Heimer G, Arkadir D, Morris G, Bergman H
    (2007) Statistical properties of pauses of the high-frequency discharge
    neurons in the external segment of the globus pallidus. J Neurosci
    27:2525-2538.
    """
    trains = as_trains(trains)
    t0, t1 = _window(duration, t_start)
    dur = t1 - t0
    isi_factor = positive_float(isi_factor, "isi_factor")
    min_pause_s = nonnegative_float(min_pause_s, "min_pause_s")
    min_spikes = _min_spikes(min_spikes, lowest=3)
    fractions = []
    for tr in trains:
        s = _in_window(tr, t0, t1)
        if s.size < min_spikes:
            continue
        isi = np.diff(s)
        thr = max(isi_factor * float(isi.mean()), min_pause_s)
        intervals = isi
        if include_edges:
            intervals = np.concatenate([[s[0] - t0], isi, [t1 - s[-1]]])
        paused = float(intervals[intervals > thr].sum())
        fractions.append(min(paused / dur, 1.0))
    if not fractions:
        return float("nan")
    return float(np.mean(fractions))


# ---------------------------------------------------------------------------
# synchrony and correlations
# ---------------------------------------------------------------------------
def synchrony_chi(trains, duration, bin_size=0.005, t_start=0.0, kernel_sd=None) -> float:
    """Golomb's population synchrony measure chi.

    Each neuron's activity ``V_i(t)`` is its spike count in bins of
    ``bin_size`` (optionally smoothed with a Gaussian kernel of standard
    deviation ``kernel_sd`` seconds).  With the population average
    ``A(t) = mean_i V_i(t)``::

        chi^2 = Var_t[A] / mean_i(Var_t[V_i])

    and the function returns ``chi = sqrt(chi^2)``.  chi = 1 for identical
    trains; for N independent neurons of equal variance chi ~ 1/sqrt(N).
    Silent neurons contribute zero variance to the denominator.

    Parameters
    ----------
    trains : list of array_like
        Spike times (s), one array per neuron; at least 2 neurons.
    duration : float
        Length of the analysed window (s), > 0.
    bin_size : float, optional
        Bin width (s). Default 0.005.
    t_start : float, optional
        Start of the analysed window (s). Default 0.
    kernel_sd : float or None, optional
        Standard deviation (s) of an optional Gaussian smoothing kernel applied
        to every binned train. Default None (no smoothing).

    Returns
    -------
    float
        chi in [0, 1]; ``nan`` if every neuron has zero variance (e.g. the
        population is silent).

    References
    ----------
    Golomb D, Rinzel J (1993) Dynamics of globally coupled inhibitory neurons
    with heterogeneity. Phys Rev E 48:4810-4814.
    Golomb D (2007) Neuronal synchrony measures. Scholarpedia 2(1):1347.
    """
    trains = as_trains(trains)
    if len(trains) < 2:
        raise ValueError("synchrony_chi needs at least 2 neurons")
    t0, t1 = _window(duration, t_start)
    bin_size = positive_float(bin_size, "bin_size (s)")
    counts = _bin_counts(trains, t0, t1 - t0, bin_size)
    if counts.shape[1] < 2:
        raise ValueError(
            f"duration ({t1 - t0} s) must span at least 2 bins of {bin_size} s"
        )
    if kernel_sd is not None:
        kernel_sd = positive_float(kernel_sd, "kernel_sd (s)")
        counts = gaussian_filter1d(counts, kernel_sd / bin_size, axis=1, mode="reflect")
    denom = float(counts.var(axis=1).mean())
    if denom <= 0.0:
        return float("nan")
    num = float(counts.mean(axis=0).var())
    return float(math.sqrt(num / denom))


def spike_count_correlation(
    trains, duration, bin_size, t_start=0.0, max_pairs=None, seed=0
) -> float:
    """Mean pairwise Pearson correlation of binned spike counts.

    Spike counts are taken in bins of ``bin_size`` over the analysed window;
    for every pair of neurons the Pearson correlation coefficient of their
    count vectors is computed, and the mean over pairs is returned.  Neurons
    with zero count variance (e.g. silent) have an undefined correlation and
    are excluded.  With all pairs the mean is obtained without forming the
    N x N matrix: for z-scored counts ``z_i``, ``mean_{i != j} r_ij =
    (||sum_i z_i||^2 / B - N) / (N (N - 1))`` with ``B`` bins.

    Parameters
    ----------
    trains : list of array_like
        Spike times (s), one array per neuron.
    duration : float
        Length of the analysed window (s), > 0.
    bin_size : float
        Bin width (s), > 0.
    t_start : float, optional
        Start of the analysed window (s). Default 0.
    max_pairs : int or None, optional
        If given and smaller than the number of pairs, the mean is taken over
        this many distinct pairs drawn uniformly at random (without
        replacement) using ``numpy.random.default_rng(seed)``.
    seed : int, optional
        Seed for the pair sample. Default 0.

    Returns
    -------
    float
        Mean pairwise correlation; ``nan`` if fewer than 2 neurons have
        non-zero count variance.

    References
    ----------
    Cohen MR, Kohn A (2011) Measuring and interpreting neuronal correlations.
    Nat Neurosci 14:811-819.
    """
    trains = as_trains(trains)
    t0, t1 = _window(duration, t_start)
    bin_size = positive_float(bin_size, "bin_size (s)")
    counts = _bin_counts(trains, t0, t1 - t0, bin_size)
    n_bins = counts.shape[1]
    if n_bins < 2:
        raise ValueError(
            f"duration ({t1 - t0} s) must span at least 2 bins of {bin_size} s"
        )
    sd = counts.std(axis=1)
    valid = sd > 0
    n_excluded = int(np.count_nonzero(~valid))
    if n_excluded:
        logger.debug("spike_count_correlation: %d zero-variance neurons excluded", n_excluded)
    z = counts[valid]
    n = z.shape[0]
    if n < 2:
        return float("nan")
    z = (z - z.mean(axis=1, keepdims=True)) / sd[valid][:, None]
    n_pairs = n * (n - 1) // 2
    if max_pairs is not None:
        max_pairs = int(max_pairs)
        if max_pairs < 1:
            raise ValueError(f"max_pairs must be a positive integer, got {max_pairs}")
    if max_pairs is None or max_pairs >= n_pairs:
        s = z.sum(axis=0)
        mean_r = (float(s @ s) / n_bins - n) / (n * (n - 1))
        return float(mean_r)
    rng = np.random.default_rng(seed)
    chosen = np.zeros(0, dtype=np.int64)
    while chosen.size < max_pairs:
        k = 2 * (max_pairs - chosen.size) + 16
        a = rng.integers(0, n, size=k)
        b = rng.integers(0, n, size=k)
        ok = a != b
        lo = np.minimum(a[ok], b[ok])
        hi = np.maximum(a[ok], b[ok])
        chosen = np.union1d(chosen, lo * n + hi)
    chosen = rng.permutation(chosen)[:max_pairs]
    ia, ib = np.divmod(chosen, n)
    r = np.einsum("ij,ij->i", z[ia], z[ib]) / n_bins
    return float(r.mean())


# ---------------------------------------------------------------------------
# population rate
# ---------------------------------------------------------------------------
def population_rate(spikes, duration, dt_bin, t_start=0.0, n_neurons=None):
    """Binned population firing rate (Hz per neuron).

    ``rate[k] = (spikes of all neurons in bin k) / (N * dt_bin)`` for bins
    ``[t_start + k dt_bin, t_start + (k + 1) dt_bin)``, i.e. the
    peri-stimulus-time-histogram estimate of the instantaneous mean rate
    (Dayan & Abbott 2001, ch. 1).

    Parameters
    ----------
    spikes : list of array_like, or tuple (i, t) / (i, t, n)
        Either per-neuron spike trains (s), or a *tuple* of a Brian2-style
        integer neuron-index array and a spike-time array (s), optionally
        followed by the population size.  In the index form the population
        size must be given (third tuple element or ``n_neurons``).
    duration : float
        Length of the analysed window (s), > 0.
    dt_bin : float
        Bin width (s), > 0; the output sampling rate is ``1 / dt_bin``.
    t_start : float, optional
        Start of the analysed window (s). Default 0.
    n_neurons : int, optional
        Population size for the (i, t) form; for trains it defaults to
        ``len(trains)`` and, if given, must match.

    Returns
    -------
    rate : numpy.ndarray
        Population rate (Hz) in each of ``floor(duration / dt_bin)`` bins.
    fs : float
        Sampling rate of ``rate`` (Hz), ``1 / dt_bin``.

    References
    ----------
    Dayan P, Abbott LF (2001) *Theoretical Neuroscience*, MIT Press, ch. 1.
    """
    t0, t1 = _window(duration, t_start)
    dt_bin = positive_float(dt_bin, "dt_bin (s)")
    n_bins = _n_bins(t1 - t0, dt_bin, "dt_bin")
    if _is_index_form(spikes):
        i_arr = np.asarray(spikes[0])
        t_arr = np.asarray(spikes[1], dtype=float)
        n = spikes[2] if len(spikes) == 3 else n_neurons
        if n is None:
            raise ValueError(
                "population_rate with (i, t) input needs the population size: "
                "pass (i, t, n) or n_neurons=n"
            )
        if n_neurons is not None and int(n_neurons) != int(n):
            raise ValueError(f"n_neurons ({n_neurons}) disagrees with tuple n ({n})")
        n = int(n)
        if n < 1:
            raise ValueError(f"population size must be >= 1, got {n}")
        if i_arr.shape != t_arr.shape or t_arr.ndim != 1:
            raise ValueError(
                f"i and t must be 1-D of equal length, got shapes {i_arr.shape} and {t_arr.shape}"
            )
        if i_arr.size and (i_arr.min() < 0 or i_arr.max() >= n):
            raise ValueError(f"neuron indices must lie in [0, {n - 1}]")
        if not np.all(np.isfinite(t_arr)):
            raise ValueError("spike times t contain non-finite values")
        all_t = t_arr
    else:
        trains = as_trains(spikes, "spikes")
        n = len(trains)
        if n_neurons is not None and int(n_neurons) != n:
            raise ValueError(
                f"n_neurons ({n_neurons}) disagrees with the number of trains ({n})"
            )
        all_t = np.concatenate(trains) if n else np.zeros(0)
    idx = _bin_index(all_t, t0, dt_bin, n_bins)
    counts = np.bincount(idx, minlength=n_bins).astype(float)
    return counts / (n * dt_bin), 1.0 / dt_bin
