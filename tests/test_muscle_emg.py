"""Tests of the surface EMG model (circuitsim.muscle.emg)."""

import math

import numpy as np
import pytest
from scipy.signal import welch

from circuitsim.muscle import EMGParams, emg_envelope, muap, noise_envelope_level, surface_emg

FS = 2000.0


def _single_unit(times, n_units=120, unit=0):
    trains = [np.zeros(0) for _ in range(n_units)]
    trains[unit] = np.asarray(times, dtype=float)
    return trains


def test_muap_hermite_rodriguez_shape():
    lam = 2e-3
    t = np.linspace(-0.02, 0.02, 40001)
    m = muap(t, amplitude=1e-4, width=lam)
    assert np.max(m) == pytest.approx(1e-4, rel=1e-6)
    assert t[np.argmax(m)] == pytest.approx(lam / math.sqrt(2), abs=2e-6)
    assert t[np.argmin(m)] == pytest.approx(-lam / math.sqrt(2), abs=2e-6)
    np.testing.assert_allclose(m, -m[::-1], atol=1e-15)  # antisymmetric, zero mean
    assert abs(np.sum(m)) < 1e-12


def test_single_unit_emg_spectral_lines_at_firing_rate():
    f_hz, T = 12.5, 4.0
    params = EMGParams(noise_rms_v=0.0, muap_amplitude_jitter=0.0)
    times = np.arange(0.0, T, 1.0 / f_hz) + 0.013
    emg = surface_emg(_single_unit(times), T, FS, params, np.random.default_rng(0))
    freqs = np.fft.rfftfreq(emg.size, 1.0 / FS)
    df = freqs[1]
    # raw EMG: the strongest spectral line is a harmonic of the firing rate
    spec = np.abs(np.fft.rfft(emg))
    f_peak = freqs[np.argmax(spec)]
    assert f_peak / f_hz == pytest.approx(round(f_peak / f_hz), abs=df / f_hz)
    assert f_peak > 0
    # rectified EMG: its fundamental (largest line below 1.5 f) is at the firing rate
    rect = np.abs(emg) - np.abs(emg).mean()
    rspec = np.abs(np.fft.rfft(rect))
    low = (freqs > 1.0) & (freqs < 1.5 * f_hz)
    assert freqs[low][np.argmax(rspec[low])] == pytest.approx(f_hz, abs=df)
    # energy is concentrated on the harmonics of f
    harm = np.isclose((freqs / f_hz) % 1.0, 0.0, atol=df / f_hz / 2) | np.isclose(
        (freqs / f_hz) % 1.0, 1.0, atol=df / f_hz / 2)
    assert np.sum(spec[harm] ** 2) > 0.95 * np.sum(spec ** 2)


def test_emg_amplitude_grows_with_unit_size_and_rate():
    params = EMGParams(noise_rms_v=0.0, muap_amplitude_jitter=0.0)
    T = 2.0
    times = np.arange(0.0, T, 0.05) + 0.01
    small = surface_emg(_single_unit(times, unit=0), T, FS, params, np.random.default_rng(0))
    large = surface_emg(_single_unit(times, unit=119), T, FS, params, np.random.default_rng(0))
    assert np.sqrt(np.mean(large ** 2)) > 5 * np.sqrt(np.mean(small ** 2))
    faster = surface_emg(_single_unit(np.arange(0.0, T, 0.025) + 0.01, unit=0), T, FS, params,
                         np.random.default_rng(0))
    assert np.sqrt(np.mean(faster ** 2)) == pytest.approx(
        math.sqrt(2) * np.sqrt(np.mean(small ** 2)), rel=0.05)


def test_noise_only_emg_is_bandlimited_and_matches_noise_floor():
    params = EMGParams(noise_rms_v=5e-6)
    T = 10.0
    emg = surface_emg([np.zeros(0)] * 120, T, FS, params, np.random.default_rng(1))
    freqs, p = welch(emg, fs=FS, nperseg=4000)
    in_band = (freqs > 40) & (freqs < 400)
    assert p[freqs < 5].mean() < 1e-3 * p[in_band].mean()
    assert p[freqs > 700].mean() < 1e-3 * p[in_band].mean()
    env = emg_envelope(emg, FS)
    assert env.mean() == pytest.approx(noise_envelope_level(FS, params), rel=0.05)


def test_envelope_tracks_amplitude_and_is_nonnegative():
    t = np.arange(int(4 * FS)) / FS
    rng = np.random.default_rng(2)
    carrier = rng.standard_normal(t.size)
    amp = np.where(t < 2.0, 1.0, 3.0)
    env = emg_envelope(amp * carrier, FS, cutoff_hz=6.0)
    assert np.all(env >= 0)
    ratio = env[int(3.0 * FS):int(3.8 * FS)].mean() / env[int(0.5 * FS):int(1.5 * FS)].mean()
    assert ratio == pytest.approx(3.0, rel=0.1)


def test_reproducible_with_seed():
    trains = _single_unit(np.arange(0.0, 1.0, 0.1))
    a = surface_emg(trains, 1.0, FS, EMGParams(), np.random.default_rng(7))
    b = surface_emg(trains, 1.0, FS, EMGParams(), np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)


def test_emg_validation():
    trains = _single_unit([0.1])
    with pytest.raises(ValueError, match="fs"):
        surface_emg(trains, 1.0, 500.0, EMGParams(), np.random.default_rng(0))  # too coarse
    with pytest.raises(ValueError, match="rng"):
        surface_emg(trains, 1.0, FS, EMGParams(), None)
    with pytest.raises(ValueError, match="bandpass_low_hz"):
        EMGParams(bandpass_low_hz=500.0, bandpass_high_hz=450.0)
    with pytest.raises(ValueError, match="noise_rms_v"):
        EMGParams(noise_rms_v=-1e-6)
    with pytest.raises(ValueError, match="muap_width_first_s"):
        EMGParams(muap_width_first_s=0.0)
    with pytest.raises(ValueError, match="cutoff_hz"):
        emg_envelope(np.zeros(1000), FS, cutoff_hz=1500.0)
    with pytest.raises(ValueError, match="width"):
        muap(np.zeros(3), 1.0, -1e-3)
