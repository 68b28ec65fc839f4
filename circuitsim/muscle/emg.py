"""Surface EMG from motor-unit spike trains.

The surface EMG is the sum over motor units of each unit's spike train
convolved with its motor unit action potential (MUAP), plus white measurement
noise, band-passed like an EMG amplifier.

MUAP shape
----------
First-order Hermite-Rodriguez function (Lo Conte, Merletti & Sandri 1994),
normalised so that ``amplitude`` is the peak value::

    muap(t) = amplitude * sqrt(2 e) * (t / lam) * exp(-(t / lam)^2)

It is biphasic and antisymmetric about the spike time, with extrema
``+/- amplitude`` at ``t = +/- lam / sqrt(2)`` and a spectrum peaking at
``f = 1 / (pi * sqrt(2) * lam)`` (about 75 Hz for ``lam = 3 ms``, 113 Hz for
``lam = 2 ms``), i.e. in the usual surface-EMG range.  Conduction delay from
the endplate to the electrode is ignored (the MUAP is centred on the spike).

Unit-to-unit scaling (unit ``i = 1..n`` in recruitment order):

* amplitude ``A_i = muap_amplitude_v * RA ** (i / n) * J_i`` with
  ``RA = muap_amplitude_range`` and a log-normal factor ``J_i`` (sigma
  ``muap_amplitude_jitter``, drawn from ``rng``) standing in for the random
  depth of each unit below the electrode;
* width ``lam_i`` linear from ``muap_width_first_s`` (small, slow-conducting
  units) to ``muap_width_last_s`` (large, fast-conducting units).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.signal import butter, oaconvolve, sosfiltfilt, sosfreqz

from circuitsim.checks import as_1d_float, as_int, nonnegative_float, positive_float

__all__ = [
    "EMGParams",
    "muap",
    "muap_amplitudes",
    "muap_widths",
    "surface_emg",
    "emg_envelope",
    "noise_envelope_level",
]

logger = logging.getLogger(__name__)

_SQRT_2E = math.sqrt(2.0 * math.e)


@dataclass(frozen=True)
class EMGParams:
    """Surface-EMG parameters.

    Parameters
    ----------
    muap_amplitude_v : float
        Peak amplitude (V) of the smallest unit's MUAP before jitter.
        Default 20 uV (estimate; surface MUAPs are tens to a few hundred uV,
        e.g. Merletti & Parker 2004).
    muap_amplitude_range : float
        Ratio of the largest to the smallest MUAP amplitude.  Default 10
        (estimate; surface MUAP amplitudes span about an order of magnitude
        while twitch forces span two, the rest being absorbed by depth,
        cf. Fuglevand et al. 1992).
    muap_amplitude_jitter : float
        Standard deviation of the natural log of a per-unit amplitude factor
        (random depth).  Default 0.3 (estimate).
    muap_width_first_s : float
        Hermite-Rodriguez scale ``lam`` (s) of the smallest unit.  Default
        3 ms (estimate, gives a ~15 ms surface MUAP, cf. Lo Conte et al. 1994).
    muap_width_last_s : float
        ``lam`` (s) of the largest unit.  Default 2 ms (estimate; faster
        conduction in large units shortens the MUAP).
    noise_rms_v : float
        RMS (V) of white measurement noise added before band-pass filtering.
        Default 5 uV (estimate of electrode + amplifier noise, of the order
        reported by De Luca et al. 2010).
    bandpass_low_hz : float
        High-pass corner (Hz).  Default 20 Hz (De Luca et al. 2010).
    bandpass_high_hz : float
        Low-pass corner (Hz).  Default 450 Hz (standard surface-EMG bandwidth,
        Merletti & Parker 2004).
    filter_order : int
        Butterworth order of the band-pass (applied forward and backward, so
        the effective order doubles and the phase is zero).  Default 4.
    envelope_cutoff_hz : float
        Low-pass corner (Hz) of the linear envelope.  Default 6 Hz (Winter
        2009, linear envelope of rectified EMG).
    """

    muap_amplitude_v: float = 20e-6  # estimate, cf. Merletti & Parker 2004
    muap_amplitude_range: float = 30.0  # estimate, cf. Milner-Brown & Stein 1975
    muap_amplitude_jitter: float = 0.3  # estimate
    muap_width_first_s: float = 3e-3  # estimate, cf. Lo Conte et al. 1994
    muap_width_last_s: float = 2e-3  # estimate
    noise_rms_v: float = 5e-6  # estimate, cf. De Luca et al. 2010
    bandpass_low_hz: float = 20.0  # De Luca et al. 2010
    bandpass_high_hz: float = 450.0  # Merletti & Parker 2004
    filter_order: int = 4
    envelope_cutoff_hz: float = 6.0  # Winter 2009

    def __post_init__(self) -> None:
        vals = {
            "muap_amplitude_v": positive_float(self.muap_amplitude_v, "muap_amplitude_v"),
            "muap_amplitude_range": positive_float(
                self.muap_amplitude_range, "muap_amplitude_range"),
            "muap_amplitude_jitter": nonnegative_float(
                self.muap_amplitude_jitter, "muap_amplitude_jitter"),
            "muap_width_first_s": positive_float(self.muap_width_first_s, "muap_width_first_s"),
            "muap_width_last_s": positive_float(self.muap_width_last_s, "muap_width_last_s"),
            "noise_rms_v": nonnegative_float(self.noise_rms_v, "noise_rms_v"),
            "bandpass_low_hz": positive_float(self.bandpass_low_hz, "bandpass_low_hz"),
            "bandpass_high_hz": positive_float(self.bandpass_high_hz, "bandpass_high_hz"),
            "envelope_cutoff_hz": positive_float(self.envelope_cutoff_hz, "envelope_cutoff_hz"),
        }
        if vals["muap_amplitude_range"] < 1.0:
            raise ValueError(
                f"muap_amplitude_range must be >= 1, got {vals['muap_amplitude_range']!r}")
        if not vals["bandpass_low_hz"] < vals["bandpass_high_hz"]:
            raise ValueError(
                f"bandpass_low_hz ({vals['bandpass_low_hz']}) must be below "
                f"bandpass_high_hz ({vals['bandpass_high_hz']})"
            )
        vals["filter_order"] = as_int(self.filter_order, "filter_order", minimum=1)
        if vals["filter_order"] > 10:
            raise ValueError(f"filter_order must be <= 10, got {vals['filter_order']}")
        for name, val in vals.items():
            object.__setattr__(self, name, val)


def muap(t: np.ndarray, amplitude: float = 1.0, width: float = 2e-3) -> np.ndarray:
    """First-order Hermite-Rodriguez MUAP (Lo Conte et al. 1994).

    ``muap(t) = amplitude * sqrt(2 e) * (t / width) * exp(-(t / width)^2)``

    Parameters
    ----------
    t : array_like
        Time relative to the motor-unit spike, in seconds.
    amplitude : float, optional
        Peak value (V) reached at ``t = width / sqrt(2)`` (minimum
        ``-amplitude`` at ``-width / sqrt(2)``).
    width : float, optional
        Scale parameter ``lam`` in seconds (> 0).  The waveform is
        negligible (< 0.1 % of peak) beyond ``|t| > 3.5 * width``.

    Returns
    -------
    numpy.ndarray
        MUAP values in the units of ``amplitude``.
    """
    width = positive_float(width, "width")
    u = np.asarray(t, dtype=float) / width
    return amplitude * _SQRT_2E * u * np.exp(-u * u)


def muap_amplitudes(n_units: int, params: EMGParams, rng: np.random.Generator) -> np.ndarray:
    """Per-unit MUAP peak amplitudes in volts (see module docstring)."""
    n_units = as_int(n_units, "n_units", minimum=1)
    i = np.arange(1, n_units + 1)
    base = params.muap_amplitude_v * params.muap_amplitude_range ** (i / n_units)
    if params.muap_amplitude_jitter > 0.0:
        base = base * np.exp(params.muap_amplitude_jitter * rng.standard_normal(n_units))
    return base


def muap_widths(n_units: int, params: EMGParams) -> np.ndarray:
    """Per-unit Hermite-Rodriguez widths ``lam_i`` in seconds (linear in unit index)."""
    n_units = as_int(n_units, "n_units", minimum=1)
    if n_units == 1:
        return np.array([params.muap_width_first_s])
    return np.linspace(params.muap_width_first_s, params.muap_width_last_s, n_units)


def _check_fs_for_emg(fs: float, params: EMGParams) -> None:
    min_width = min(params.muap_width_first_s, params.muap_width_last_s)
    if 1.0 / fs > min_width / 2.0:
        raise ValueError(
            f"fs ({fs} Hz) is too low for the MUAP: the sampling interval must be <= "
            f"half the narrowest MUAP width ({min_width} s), i.e. fs >= {2.0 / min_width:g} Hz"
        )
    if params.bandpass_high_hz >= fs / 2.0:
        raise ValueError(
            f"fs ({fs} Hz) is too low for bandpass_high_hz ({params.bandpass_high_hz} Hz): "
            f"it must lie below the Nyquist frequency fs/2"
        )


def surface_emg(
    unit_spikes: Sequence[np.ndarray],
    duration: float,
    fs: float = 2000.0,
    params: EMGParams = EMGParams(),
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Raw surface EMG (volts) of one muscle.

    ``emg = BP( sum_i (s_i * muap_i) + noise )`` where ``s_i`` is unit ``i``'s
    spike train (impulses at the nearest sample), ``muap_i`` its
    Hermite-Rodriguez MUAP, ``noise`` white Gaussian with RMS
    ``params.noise_rms_v`` and ``BP`` a zero-phase Butterworth band-pass
    ``[bandpass_low_hz, bandpass_high_hz]`` (``scipy.signal.sosfiltfilt``).

    Parameters
    ----------
    unit_spikes : sequence of array_like
        One array of spike times (s) per motor unit, in recruitment order
        (unit 0 = smallest).  Spikes outside ``[0, duration)`` are ignored.
    duration : float
        Length of the record in seconds.
    fs : float, optional
        Sampling rate in Hz (default 2000).  Must satisfy
        ``1 / fs <= min(MUAP width) / 2`` and ``fs / 2 > bandpass_high_hz``.
    params : EMGParams
        EMG parameters.
    rng : numpy.random.Generator
        Source of the amplitude jitter and the measurement noise.  Required.

    Returns
    -------
    numpy.ndarray
        Band-passed EMG in volts, shape ``(round(duration * fs),)``, sample
        ``k`` at time ``k / fs``.
    """
    if rng is None or not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator")
    duration = positive_float(duration, "duration")
    fs = positive_float(fs, "fs")
    _check_fs_for_emg(fs, params)
    n_samples = int(round(duration * fs))
    n_units = len(unit_spikes)
    if n_units < 1:
        raise ValueError("unit_spikes must contain at least one spike train")
    min_len = 3 * (2 * params.filter_order + 1) + 1
    if n_samples < min_len:
        raise ValueError(
            f"duration ({duration} s) is too short for the band-pass filter at fs={fs} Hz "
            f"(need at least {min_len} samples)"
        )
    amps = muap_amplitudes(n_units, params, rng)
    widths = muap_widths(n_units, params)

    signal = np.zeros(n_samples)
    for i, spikes in enumerate(unit_spikes):
        s = np.asarray(spikes, dtype=float).ravel()
        if s.size == 0:
            continue
        if not np.all(np.isfinite(s)):
            raise ValueError(f"unit_spikes[{i}] contains non-finite spike times")
        idx = np.rint(s * fs).astype(np.int64)
        idx = idx[(s >= 0.0) & (idx < n_samples)]
        if idx.size == 0:
            continue
        half = int(math.ceil(4.0 * widths[i] * fs))
        kernel = muap(np.arange(-half, half + 1) / fs, amps[i], widths[i])
        train = np.bincount(idx, minlength=n_samples).astype(float)
        full = oaconvolve(train, kernel, mode="full")
        signal += full[half:half + n_samples]
    if params.noise_rms_v > 0.0:
        signal += params.noise_rms_v * rng.standard_normal(n_samples)
    sos = butter(
        params.filter_order,
        [params.bandpass_low_hz, params.bandpass_high_hz],
        btype="bandpass",
        fs=fs,
        output="sos",
    )
    # odd-extension padding of ~3 periods of the high-pass corner keeps the
    # edge transients of the high-pass out of the record
    padlen = min(n_samples - 1, int(math.ceil(3.0 * fs / params.bandpass_low_hz)))
    return sosfiltfilt(sos, signal, padlen=padlen)


def emg_envelope(
    emg: np.ndarray,
    fs: float,
    cutoff_hz: float = 6.0,
    order: int = 4,
) -> np.ndarray:
    """Linear envelope: full-wave rectification then zero-phase low-pass.

    ``env = max(LP(|emg - mean(emg)|), 0)`` with ``LP`` a Butterworth low-pass
    of the given order and corner ``cutoff_hz`` applied forward and backward
    (Winter 2009).  Small negative undershoots of the filter are clipped to 0
    so the envelope is a valid non-negative activity measure.

    Parameters
    ----------
    emg : array_like
        Raw (band-passed) EMG, 1-D.
    fs : float
        Sampling rate in Hz.
    cutoff_hz : float, optional
        Low-pass corner in Hz (default 6 Hz); must be below ``fs / 2``.
    order : int, optional
        Butterworth order (default 4).

    Returns
    -------
    numpy.ndarray
        Envelope, same shape and units as ``emg``.
    """
    fs = positive_float(fs, "fs")
    cutoff_hz = positive_float(cutoff_hz, "cutoff_hz")
    order = as_int(order, "order", minimum=1)
    if cutoff_hz >= fs / 2.0:
        raise ValueError(f"cutoff_hz ({cutoff_hz} Hz) must be below fs/2 ({fs / 2.0} Hz)")
    x = as_1d_float(emg, "emg", allow_empty=False)
    min_len = 3 * (2 * ((order + 1) // 2) + 1) + 1
    if x.size < min_len:
        raise ValueError(f"emg is too short for the envelope filter (need >= {min_len} samples)")
    rect = np.abs(x - x.mean())
    sos = butter(order, cutoff_hz, btype="lowpass", fs=fs, output="sos")
    return np.maximum(sosfiltfilt(sos, rect), 0.0)


def noise_envelope_level(fs: float, params: EMGParams = EMGParams()) -> float:
    """Expected mean of the rectified, band-passed measurement noise (V).

    For white Gaussian noise of RMS ``sigma`` (``params.noise_rms_v``) passed
    through the zero-phase band-pass of :func:`surface_emg` (power gain
    ``|H(f)|^4``), the filtered noise has standard deviation
    ``sigma_bp = sigma * sqrt(mean_{0<=f<=fs/2} |H(f)|^4)`` and its full-wave
    rectified mean (= the DC level of its linear envelope) is
    ``sigma_bp * sqrt(2 / pi)``.  The readout subtracts this level from the
    envelopes before computing the co-contraction index, so that two silent
    muscles (identical noise envelopes) are not mistaken for co-contraction.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    params : EMGParams
        EMG parameters (noise RMS and band-pass).

    Returns
    -------
    float
        Expected noise envelope level in volts.
    """
    fs = positive_float(fs, "fs")
    _check_fs_for_emg(fs, params)
    if params.noise_rms_v == 0.0:
        return 0.0
    sos = butter(params.filter_order, [params.bandpass_low_hz, params.bandpass_high_hz],
                 btype="bandpass", fs=fs, output="sos")
    _, h = sosfreqz(sos, worN=8192, fs=fs)
    sigma_bp = params.noise_rms_v * math.sqrt(float(np.mean(np.abs(h) ** 4)))
    return sigma_bp * math.sqrt(2.0 / math.pi)
