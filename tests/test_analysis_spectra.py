"""Tests for circuitsim.analysis.spectra."""

import math

import numpy as np
import pytest
from scipy import signal

from circuitsim.analysis import spectra as sp

FS = 1000.0


def sine(freq, duration=20.0, fs=FS, amp=1.0, phase=0.0):
    t = np.arange(int(duration * fs)) / fs
    return amp * np.sin(2 * np.pi * freq * t + phase)


def bandlimited_noise(rng, lo, hi, duration=20.0, fs=FS):
    sos = signal.butter(4, [lo, hi], btype="bandpass", fs=fs, output="sos")
    x = signal.sosfiltfilt(sos, rng.normal(size=int(duration * fs)))
    return x / x.std()


def test_bands_definition():
    assert sp.BANDS == {
        "delta": (1, 4), "theta": (4, 8), "alpha": (8, 13), "beta": (13, 30), "gamma": (30, 80)
    }


def test_welch_white_noise_parseval():
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 2.0, 60000)
    f, psd = sp.welch_psd(x, FS)
    df = f[1] - f[0]
    assert df == pytest.approx(1.0)
    assert psd.sum() * df == pytest.approx(x.var(), rel=0.05)
    # white: flat at sigma^2 / (fs/2)
    assert np.median(psd) == pytest.approx(4.0 / (FS / 2), rel=0.1)


def test_welch_detrends_offset_and_finds_sine():
    x = 5.0 + sine(23.0)
    f, psd = sp.welch_psd(x, FS, segment_s=2.0)
    assert f[1] - f[0] == pytest.approx(0.5)
    assert psd[0] < 1e-6 * psd.max()  # mean removed
    assert sp.peak_frequency(f, psd, 1, 200) == pytest.approx(23.0)


def test_welch_errors():
    with pytest.raises(ValueError, match="shorter than one Welch segment"):
        sp.welch_psd(np.zeros(500), FS, segment_s=1.0)
    with pytest.raises(ValueError, match="fs"):
        sp.welch_psd(np.zeros(5000), -1.0)
    with pytest.raises(ValueError, match="1-D"):
        sp.welch_psd(np.zeros((100, 2)), FS)
    with pytest.raises(ValueError, match="NaN"):
        sp.welch_psd(np.full(2000, np.nan), FS)
    with pytest.raises(ValueError, match="overlap"):
        sp.welch_psd(np.zeros(5000), FS, overlap=1.0)


def test_band_powers_beta_sine_dominates():
    rng = np.random.default_rng(1)
    x = sine(20.0, amp=2.0) + rng.normal(0, 1.0, 20000)
    f, psd = sp.welch_psd(x, FS)
    rel = sp.band_powers(f, psd)
    assert set(rel) == set(sp.BANDS)
    assert max(rel, key=rel.get) == "beta"
    assert rel["beta"] > 0.6
    assert all(0.0 <= v <= 1.0 for v in rel.values())
    # absolute beta power ~ sine power A^2/2 + noise share (17 Hz of 500 Hz)
    ab = sp.band_powers(f, psd, relative=False)
    assert ab["beta"] == pytest.approx(2.0 + 17.0 / 500.0, rel=0.1)


def test_band_powers_additive_and_relative_definition():
    rng = np.random.default_rng(2)
    x = rng.normal(size=30000)
    f, psd = sp.welch_psd(x, FS)
    rel = sp.band_powers(f, psd, total_range=(1, 80))
    assert sum(rel.values()) == pytest.approx(1.0, rel=1e-9)  # BANDS tile 1-80 Hz
    ab = sp.band_powers(f, psd, relative=False)
    rel100 = sp.band_powers(f, psd)  # default total (1, 100)
    total = sp.band_powers(f, psd, bands={"t": (1, 100)}, relative=False)["t"]
    for k in ab:
        assert rel100[k] == pytest.approx(ab[k] / total)
    # white noise: relative power ~ proportional to bandwidth
    assert rel100["gamma"] == pytest.approx(50.0 / 99.0, rel=0.1)


def test_band_powers_nan_and_errors():
    f = np.arange(0, 51, 1.0)  # Nyquist 50 Hz
    psd = np.ones_like(f)
    out = sp.band_powers(f, psd, bands={"high": (60, 70), "beta": (13, 30)})
    assert math.isnan(out["high"]) and out["beta"] > 0
    assert all(math.isnan(v) for v in sp.band_powers(f, np.zeros_like(f)).values())
    with pytest.raises(ValueError, match="uniformly spaced"):
        sp.band_powers(np.array([0, 1, 3, 4.0]), np.ones(4))
    with pytest.raises(ValueError, match="low < high"):
        sp.band_powers(f, psd, bands={"bad": (30, 13)})
    with pytest.raises(ValueError, match="same number of samples"):
        sp.band_powers(f, psd[:-1])


def test_coherence_independent_near_zero():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=60000), rng.normal(size=60000)
    coh = sp.coherence_bands(x, y, FS)
    assert all(v < 0.05 for v in coh.values()), coh


def test_coherence_shared_component_in_its_band():
    rng = np.random.default_rng(4)
    shared = bandlimited_noise(rng, 15, 25, duration=60.0)
    x = shared + 0.3 * rng.normal(size=shared.size)
    y = np.roll(shared, 5) + 0.3 * rng.normal(size=shared.size)  # 5 ms lag
    coh = sp.coherence_bands(x, y, FS)
    assert coh["beta"] > 0.6
    assert coh["delta"] < 0.1 and coh["gamma"] < 0.1


def test_coherence_errors():
    with pytest.raises(ValueError, match="same number of samples"):
        sp.coherence_bands(np.zeros(3000), np.zeros(2000), FS)


def test_plv_locked_vs_independent():
    rng = np.random.default_rng(5)
    x = sine(20.0) + 0.5 * rng.normal(size=20000)
    y = sine(20.0, phase=1.0) + 0.5 * rng.normal(size=20000)
    assert sp.phase_locking_value(x, y, FS, (15, 25), trim_s=0.5) > 0.9
    a = bandlimited_noise(rng, 13, 30)
    b = bandlimited_noise(rng, 13, 30)
    assert sp.phase_locking_value(a, b, FS, sp.BANDS["beta"]) < 0.15


def test_plv_errors():
    x = np.zeros(2000)
    with pytest.raises(ValueError, match="fs/2"):
        sp.phase_locking_value(x, x, FS, (400, 600))
    with pytest.raises(ValueError, match="samples"):
        sp.phase_locking_value(np.zeros(20), np.zeros(20), FS, (13, 30))
    with pytest.raises(ValueError, match="trim_s"):
        sp.phase_locking_value(x, x, FS, (13, 30), trim_s=1.5)


def test_peak_frequency_range_and_errors():
    x = sine(37.0) + 3.0 * sine(8.0)
    f, psd = sp.welch_psd(x, FS)
    assert sp.peak_frequency(f, psd, 1, 100) == pytest.approx(8.0)
    assert sp.peak_frequency(f, psd, 20, 100) == pytest.approx(37.0)
    assert math.isnan(sp.peak_frequency(f, np.zeros_like(psd), 1, 100))
    with pytest.raises(ValueError, match="no frequency bins"):
        sp.peak_frequency(f, psd, 600, 700)


def test_the_transient_cut_and_the_spectrum_after_it():
    fs = 1000.0
    t = np.arange(int(2.0 * fs)) / fs
    x = np.where(t < 0.5, 50.0, 0.0) + np.sin(2 * np.pi * 20 * t)   # a large step during the transient
    assert sp.after_transient(x, fs, 0.5).size == 1500 and sp.after_transient(x, fs, 0.0).size == 2000
    with pytest.raises(ValueError, match="transient_s must be >= 0"):
        sp.after_transient(x, fs, -0.1)
    f, psd = sp.psd_after_transient(x, fs, 0.5, segment_s=5.0)      # capped at half of the 1.5 s left
    assert f[1] - f[0] == pytest.approx(1 / 0.75)
    assert sp.peak_frequency(f, psd, 1, 100) == pytest.approx(20.0, abs=1.4)
    f_ref, psd_ref = sp.welch_psd(x[500:], fs, segment_s=0.75)
    assert np.array_equal(psd, psd_ref)


def test_relative_psd_has_the_band_powers_normalisation():
    fs = 500.0
    rng = np.random.default_rng(3)
    t = np.arange(int(4 * fs)) / fs
    f, psd = sp.welch_psd(np.sin(2 * np.pi * 20 * t) + rng.normal(size=t.size), fs, segment_s=1.0)
    rel = sp.relative_psd(f, psd)
    beta = (f >= 13) & (f < 30)
    assert rel[beta].sum() * (f[1] - f[0]) == pytest.approx(sp.band_powers(f, psd)["beta"])
    assert np.isnan(sp.relative_psd(f, np.zeros_like(psd))).all()
