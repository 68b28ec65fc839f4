"""Spectral measures of continuous signals (LFP proxies, population rates).

Signals are 1-D arrays sampled at ``fs`` Hz.  Segment lengths are given in
seconds and converted to samples with ``round(segment_s * fs)``.  Band edges
are in Hz and bands are half-open, ``low <= f < high``, so that adjacent bands
(as in :data:`BANDS`) never share a frequency bin.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import signal

from circuitsim.checks import as_band, as_bands, as_signal, check_same_length, positive_float

logger = logging.getLogger(__name__)

__all__ = [
    "BANDS",
    "welch_psd",
    "after_transient",
    "psd_after_transient",
    "band_powers",
    "relative_psd",
    "coherence_bands",
    "phase_locking_value",
    "peak_frequency",
]

#: Canonical frequency bands (Hz), half-open ``[low, high)``.
BANDS: dict[str, tuple[float, float]] = {
    "delta": (1.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 80.0),
}

_MIN_SEGMENT_SAMPLES = 8


def _nperseg(fs: float, segment_s, n: int, what: str = "x") -> int:
    segment_s = positive_float(segment_s, "segment_s (s)")
    nperseg = int(round(segment_s * fs))
    if nperseg < _MIN_SEGMENT_SAMPLES:
        raise ValueError(
            f"segment_s * fs = {segment_s} s * {fs} Hz gives {nperseg} samples per "
            f"segment; need at least {_MIN_SEGMENT_SAMPLES}"
        )
    if n < nperseg:
        raise ValueError(
            f"{what} has {n} samples ({n / fs:.4g} s at {fs} Hz), shorter than one "
            f"Welch segment of {nperseg} samples (segment_s = {segment_s} s); "
            "use a shorter segment_s or a longer signal"
        )
    return nperseg


def _noverlap(nperseg: int, overlap) -> int:
    overlap = float(overlap)
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    return int(nperseg * overlap)


def _freq_axis(f, psd, need_uniform: bool) -> tuple[np.ndarray, np.ndarray]:
    f = as_signal(f, "f", min_len=1)
    psd = as_signal(psd, "psd", min_len=1)
    check_same_length([f, psd], ["f", "psd"])
    if f.size > 1 and np.any(np.diff(f) <= 0):
        raise ValueError("f must be strictly increasing")
    if need_uniform:
        if f.size < 2:
            raise ValueError("f must contain at least 2 frequencies")
        df = np.diff(f)
        if not np.allclose(df, df[0], rtol=1e-6, atol=0.0):
            raise ValueError("f must be uniformly spaced (as returned by welch_psd)")
    return f, psd


def after_transient(x, fs, transient_s) -> np.ndarray:
    """``x`` without its first ``transient_s`` seconds: the samples from ``round(transient_s * fs)`` on.

    The one transient cut of the package: every measure that skips a run's ``sim.transient``
    (metrics, the muscle readout, the teaching page, the experiments) cuts the same samples.
    """
    transient_s = float(transient_s)
    if not transient_s >= 0:
        raise ValueError(f"transient_s must be >= 0, got {transient_s}")
    return np.asarray(x)[int(round(transient_s * positive_float(fs, "fs (Hz)"))):]


def psd_after_transient(x, fs, transient_s, segment_s):
    """Welch PSD of ``x`` after its transient, as metrics.json's spectra are computed.

    Segments of ``segment_s`` seconds, at most half the analysed time (so that at least two
    segments are averaged); see :func:`welch_psd` for the rest. Returns ``(f, psd)``.
    """
    y = np.asarray(after_transient(x, fs, transient_s), dtype=float)
    return welch_psd(y, fs, segment_s=min(float(segment_s), y.size / float(fs) / 2))


def welch_psd(x, fs, segment_s=1.0, overlap=0.5, detrend="constant", window="hann"):
    """Power spectral density by Welch's averaged periodogram.

    Thin, validated wrapper around :func:`scipy.signal.welch`: the signal is
    cut into segments of ``segment_s`` seconds overlapping by ``overlap``,
    each segment is detrended (mean removed by default), tapered with a Hann
    window, and the periodograms are averaged (one-sided density scaling, so
    ``sum(psd) * df`` equals the signal variance).  The frequency resolution
    is ``1 / segment_s``.

    Parameters
    ----------
    x : array_like
        1-D signal.
    fs : float
        Sampling rate (Hz), > 0.
    segment_s : float, optional
        Segment length (s). Default 1.0 (1 Hz resolution).
    overlap : float, optional
        Fractional segment overlap in [0, 1). Default 0.5.
    detrend : {'constant', 'linear'} or False, optional
        Per-segment detrending passed to scipy. Default 'constant'.
    window : str, optional
        Window name passed to scipy. Default 'hann'.

    Returns
    -------
    f : numpy.ndarray
        Frequencies (Hz).
    psd : numpy.ndarray
        PSD in units of x**2 / Hz.

    Raises
    ------
    ValueError
        If ``fs`` is not positive, ``x`` is not a finite 1-D signal, or ``x``
        is shorter than one segment.

    References
    ----------
    Welch PD (1967) The use of fast Fourier transform for the estimation of
    power spectra. IEEE Trans Audio Electroacoust 15:70-73.
    """
    fs = positive_float(fs, "fs (Hz)")
    x = as_signal(x, "x")
    nperseg = _nperseg(fs, segment_s, x.size)
    f, psd = signal.welch(
        x,
        fs=fs,
        window=window,
        nperseg=nperseg,
        noverlap=_noverlap(nperseg, overlap),
        detrend=detrend,
        scaling="density",
    )
    return f, psd


def _per_band(f: np.ndarray, bands: dict, value) -> dict[str, float]:
    """``value(mask)`` for each band's bins ``lo <= f < hi``; NaN for a band without a bin."""
    out: dict[str, float] = {}
    for name, (lo, hi) in bands.items():
        mask = (f >= lo) & (f < hi)
        if not np.any(mask):
            logger.debug("band %r (%g-%g Hz) contains no frequency bins", name, lo, hi)
            out[name] = float("nan")
        else:
            out[name] = value(mask)
    return out


def band_powers(f, psd, bands=None, relative=True, total_range=(1.0, 100.0)) -> dict[str, float]:
    """Power in frequency bands.

    The absolute power of a band ``[low, high)`` is the rectangle-rule
    integral ``sum(psd[low <= f < high]) * df`` on the (uniform) frequency
    grid.  With ``relative=True`` (default) each band power is divided by the
    power in ``total_range`` (default ``[1, 100)`` Hz, truncated at the highest
    available frequency), so for the default :data:`BANDS`, which tile 1-80 Hz,
    the relative powers sum to at most 1.

    Parameters
    ----------
    f, psd : array_like
        Uniform frequency grid (Hz) and PSD, e.g. from :func:`welch_psd`.
    bands : dict, optional
        Mapping name -> (low_hz, high_hz). Default :data:`BANDS`.
    relative : bool, optional
        Normalise by the power in ``total_range``. Default True.
    total_range : (float, float), optional
        Reference range for relative power (Hz). Default (1, 100).

    Returns
    -------
    dict of str -> float
        Band power (PSD units x Hz, or dimensionless if relative).  A band
        containing no frequency bin (e.g. above Nyquist) gives ``nan``; all
        relative powers are ``nan`` if the total power is 0.

    References
    ----------
    Buzsáki G, Draguhn A (2004) Neuronal oscillations in cortical networks.
    Science 304:1926-1929 (band conventions).
    """
    f, psd = _freq_axis(f, psd, need_uniform=True)
    bands = as_bands(BANDS if bands is None else bands)
    df = float(f[1] - f[0])
    out = _per_band(f, bands, lambda mask: float(psd[mask].sum() * df))
    if relative:
        tlo, thi = as_band(total_range, "total_range")
        if thi > f[-1] + df:
            logger.info(
                "total_range upper edge %g Hz exceeds the highest frequency %g Hz; "
                "truncated", thi, f[-1]
            )
        tmask = (f >= tlo) & (f < thi)
        total = float(psd[tmask].sum() * df) if np.any(tmask) else 0.0
        if total <= 0.0:
            return {k: float("nan") for k in out}
        out = {k: v / total for k, v in out.items()}
    return out


def relative_psd(f, psd, total_range=(1.0, 100.0)) -> np.ndarray:
    """``psd`` divided by its power in ``total_range``, the normalisation of :func:`band_powers`.

    The area of the result over a band is that band's relative power as ``band_powers`` gives it
    (and ``metrics.json``'s ``lfp.<region>.band_power``): one normalisation for the numbers and the
    spectra drawn of them. All ``nan`` if the power in ``total_range`` is 0.
    """
    f, psd = _freq_axis(f, psd, need_uniform=True)
    total = band_powers(f, psd, {"total": total_range}, relative=False)["total"]
    if not total > 0:
        return np.full(psd.shape, np.nan)
    return psd / total


def coherence_bands(x, y, fs, bands=None, segment_s=1.0, overlap=0.5) -> dict[str, float]:
    """Mean magnitude-squared coherence in frequency bands.

    ``C_xy(f) = |P_xy(f)|^2 / (P_xx(f) P_yy(f))`` is estimated with Welch's
    method (:func:`scipy.signal.coherence`, Hann window, segments of
    ``segment_s`` seconds, mean-detrended) and averaged over the frequency bins
    of each half-open band.  Note the positive bias of the estimator for
    independent signals, roughly 1 / (number of segments).

    Parameters
    ----------
    x, y : array_like
        1-D signals of equal length sampled at ``fs``.
    fs : float
        Sampling rate (Hz).
    bands : dict, optional
        Mapping name -> (low_hz, high_hz). Default :data:`BANDS`.
    segment_s : float, optional
        Segment length (s). Default 1.0.
    overlap : float, optional
        Fractional segment overlap in [0, 1). Default 0.5.

    Returns
    -------
    dict of str -> float
        Band-averaged coherence in [0, 1]; ``nan`` for a band without bins.

    References
    ----------
    Carter GC (1987) Coherence and time delay estimation. Proc IEEE
    75:236-255.
    """
    fs = positive_float(fs, "fs (Hz)")
    x = as_signal(x, "x")
    y = as_signal(y, "y")
    check_same_length([x, y], ["x", "y"])
    bands = as_bands(BANDS if bands is None else bands)
    nperseg = _nperseg(fs, segment_s, x.size)
    f, cxy = signal.coherence(
        x, y, fs=fs, window="hann", nperseg=nperseg,
        noverlap=_noverlap(nperseg, overlap), detrend="constant",
    )
    return _per_band(f, bands, lambda mask: float(np.nanmean(cxy[mask])) if np.any(np.isfinite(cxy[mask]))
                     else float("nan"))


def phase_locking_value(x, y, fs, band, order=4, trim_s=0.0) -> float:
    """Phase-locking value between two signals in a frequency band.

    Both signals are band-passed with a zero-phase (forward-backward,
    :func:`scipy.signal.sosfiltfilt`) Butterworth filter of the given
    ``order``, their instantaneous phases are taken from the analytic signal
    (Hilbert transform), and ``PLV = |mean_t exp(i (phi_x(t) - phi_y(t)))|``.
    PLV = 1 for a constant phase difference, ~0 for independent signals
    (bias about 1 / sqrt(bandwidth * duration)).

    Parameters
    ----------
    x, y : array_like
        1-D signals of equal length sampled at ``fs``.
    fs : float
        Sampling rate (Hz).
    band : (float, float)
        Pass band (Hz) with ``0 < low < high < fs / 2``.
    order : int, optional
        Butterworth order (per pass; the effective order is doubled by
        filtfilt). Default 4.
    trim_s : float, optional
        Seconds discarded at each end after filtering to avoid edge effects.
        Default 0.

    Returns
    -------
    float
        PLV in [0, 1].

    References
    ----------
    Lachaux JP, Rodriguez E, Martinerie J, Varela FJ (1999) Measuring phase
    synchrony in brain signals. Hum Brain Mapp 8:194-208.
    """
    fs = positive_float(fs, "fs (Hz)")
    x = as_signal(x, "x")
    y = as_signal(y, "y")
    check_same_length([x, y], ["x", "y"])
    lo, hi = as_band(band)
    if lo <= 0.0 or hi >= fs / 2.0:
        raise ValueError(
            f"band must satisfy 0 < low < high < fs/2 = {fs / 2} Hz, got ({lo}, {hi})"
        )
    order = int(order)
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    trim = int(round(float(trim_s) * fs))
    if trim < 0:
        raise ValueError(f"trim_s must be >= 0, got {trim_s}")
    sos = signal.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos")
    padlen = 3 * (2 * sos.shape[0] + 1)
    if x.size <= padlen:
        raise ValueError(
            f"signals have {x.size} samples; the band-pass filter needs more than "
            f"{padlen}"
        )
    xf = signal.sosfiltfilt(sos, x)
    yf = signal.sosfiltfilt(sos, y)
    if trim:
        if 2 * trim >= x.size:
            raise ValueError(
                f"trim_s = {trim_s} s removes the whole signal ({x.size / fs} s)"
            )
        xf = xf[trim:-trim]
        yf = yf[trim:-trim]
    dphi = np.angle(signal.hilbert(xf)) - np.angle(signal.hilbert(yf))
    return float(np.abs(np.mean(np.exp(1j * dphi))))


def peak_frequency(f, psd, fmin=1.0, fmax=100.0) -> float:
    """Frequency of the PSD maximum within ``[fmin, fmax]``.

    Parameters
    ----------
    f, psd : array_like
        Frequencies (Hz, increasing) and PSD, e.g. from :func:`welch_psd`.
    fmin, fmax : float, optional
        Closed search range (Hz). Defaults 1 and 100.

    Returns
    -------
    float
        Peak frequency (Hz), resolution limited by the frequency grid; ``nan``
        if the PSD is zero everywhere in the range.

    Raises
    ------
    ValueError
        If no frequency bin lies in ``[fmin, fmax]``.

    References
    ----------
    Welch PD (1967) IEEE Trans Audio Electroacoust 15:70-73.
    """
    f, psd = _freq_axis(f, psd, need_uniform=False)
    fmin, fmax = as_band((fmin, fmax), "(fmin, fmax)")
    mask = (f >= fmin) & (f <= fmax)
    if not np.any(mask):
        raise ValueError(
            f"no frequency bins in [{fmin}, {fmax}] Hz (f spans {f[0]}-{f[-1]} Hz)"
        )
    fm, pm = f[mask], psd[mask]
    if not np.any(pm > 0):
        return float("nan")
    return float(fm[int(np.argmax(pm))])
