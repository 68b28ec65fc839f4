"""Tests for circuitsim.analysis.spiketrains (pure NumPy, no Brian2)."""

import math

import numpy as np
import pytest
from scipy import special

from circuitsim.analysis import spectra, spiketrains as st


# ---------------------------------------------------------------------------
# generators (seeded)
# ---------------------------------------------------------------------------
def poisson_train(rng, rate, duration, t_start=0.0):
    n = rng.poisson(rate * duration)
    return np.sort(rng.uniform(t_start, t_start + duration, n))


def gamma_train(rng, rate, shape, duration):
    n = int(rate * duration * 1.5) + 50
    isi = rng.gamma(shape, 1.0 / (shape * rate), n)
    t = np.cumsum(isi)
    return t[t < duration]


def inhomogeneous_poisson(rng, rate_fn, rate_max, duration):
    cand = poisson_train(rng, rate_max, duration)
    keep = rng.uniform(0, rate_max, cand.size) < rate_fn(cand)
    return cand[keep]


def bursty_train(n_bursts=250, period=0.2, n_spikes=5, intra_rate=200.0, offset=0.01):
    return np.concatenate(
        [offset + k * period + np.arange(n_spikes) / intra_rate for k in range(n_bursts)]
    )


# ---------------------------------------------------------------------------
# trains_from_indices
# ---------------------------------------------------------------------------
def test_trains_from_indices_roundtrip():
    rng = np.random.default_rng(0)
    n = 7
    trains = [poisson_train(rng, 10.0, 5.0) for _ in range(n)]
    trains[3] = np.zeros(0)  # a silent neuron
    i = np.concatenate([np.full(tr.size, k, dtype=np.int32) for k, tr in enumerate(trains)])
    t = np.concatenate(trains)
    perm = rng.permutation(t.size)  # monitor order is by time, not by neuron
    out = st.trains_from_indices(i[perm], t[perm], n)
    assert len(out) == n
    for a, b in zip(out, trains):
        np.testing.assert_array_equal(a, b)
        assert np.all(np.diff(a) >= 0)


def test_trains_from_indices_empty_and_errors():
    out = st.trains_from_indices(np.array([], dtype=int), np.array([]), 3)
    assert len(out) == 3 and all(a.size == 0 for a in out)
    with pytest.raises(ValueError, match="same length"):
        st.trains_from_indices([0, 1], [0.1], 2)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        st.trains_from_indices([0, 2], [0.1, 0.2], 2)
    with pytest.raises(ValueError, match="positive integer"):
        st.trains_from_indices([0], [0.1], 0)
    with pytest.raises(ValueError, match="integers"):
        st.trains_from_indices([0.5], [0.1], 2)


# ---------------------------------------------------------------------------
# mean rate
# ---------------------------------------------------------------------------
def test_mean_rate_poisson_population():
    rng = np.random.default_rng(1)
    trains = [poisson_train(rng, 15.0, 20.0) for _ in range(50)]
    assert st.mean_rate_hz(trains, 20.0) == pytest.approx(15.0, rel=0.03)


def test_mean_rate_window_excludes_outside_spikes():
    # 10 Hz regular from 0 to 10 s; analysing [2, 4) must see 20 spikes -> 10 Hz
    tr = np.arange(100) * 0.1 + 0.05
    assert st.mean_rate_hz([tr], 2.0, t_start=2.0) == pytest.approx(10.0)
    # silent neuron halves the population mean
    assert st.mean_rate_hz([tr, np.zeros(0)], 10.0) == pytest.approx(5.0)


@pytest.mark.parametrize("duration", [0.0, -1.0, float("nan"), float("inf")])
def test_mean_rate_bad_duration(duration):
    with pytest.raises(ValueError, match="duration"):
        st.mean_rate_hz([np.array([0.1])], duration)


def test_trains_validation_messages():
    with pytest.raises(ValueError, match="empty"):
        st.mean_rate_hz([], 1.0)
    with pytest.raises(ValueError, match="list of 1-D arrays"):
        st.mean_rate_hz(np.array([0.1, 0.2]), 1.0)
    with pytest.raises(ValueError, match="non-finite"):
        st.mean_rate_hz([np.array([0.1, np.nan])], 1.0)


# ---------------------------------------------------------------------------
# CV
# ---------------------------------------------------------------------------
def test_cv_poisson_is_one():
    rng = np.random.default_rng(2)
    trains = [poisson_train(rng, 20.0, 50.0) for _ in range(20)]
    assert st.cv_isi(trains) == pytest.approx(1.0, abs=0.05)


def test_cv_periodic_is_zero():
    trains = [np.arange(200) * 0.02 + 0.003 * k for k in range(5)]
    assert st.cv_isi(trains) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("shape", [2.0, 4.0, 16.0])
def test_cv_gamma_process(shape):
    rng = np.random.default_rng(int(shape))
    trains = [gamma_train(rng, 20.0, shape, 50.0) for _ in range(20)]
    assert st.cv_isi(trains) == pytest.approx(1.0 / math.sqrt(shape), abs=0.05)


def test_cv_undefined_and_min_spikes():
    assert math.isnan(st.cv_isi([np.array([0.1, 0.2]), np.zeros(0)]))
    # neurons below min_spikes are ignored, not counted as zero
    rng = np.random.default_rng(3)
    tr = poisson_train(rng, 20.0, 50.0)
    assert st.cv_isi([tr, np.array([0.1, 0.2])]) == pytest.approx(st.cv_isi([tr]))
    with pytest.raises(ValueError, match="min_spikes"):
        st.cv_isi([tr], min_spikes=2)


# ---------------------------------------------------------------------------
# Poisson surprise and bursts
# ---------------------------------------------------------------------------
def _reference_surprise(n, lam, n_terms=400):
    # -log10 sum_{i>=n} e^-lam lam^i / i!, summed in log space
    i = np.arange(n, n + n_terms)
    logs = i * math.log(lam) - lam - special.gammaln(i + 1)
    return -special.logsumexp(logs) / math.log(10)


@pytest.mark.parametrize(
    "n,interval,rate", [(3, 0.1, 10.0), (5, 0.02, 25.0), (12, 0.5, 5.0), (80, 0.01, 0.1)]
)
def test_poisson_surprise_matches_series(n, interval, rate):
    got = st.poisson_surprise(n, interval, rate)
    assert got == pytest.approx(_reference_surprise(n, rate * interval), rel=1e-9)
    assert got > 0


def test_poisson_surprise_errors():
    with pytest.raises(ValueError, match="n_spikes"):
        st.poisson_surprise(0, 0.1, 10.0)
    with pytest.raises(ValueError, match="rate"):
        st.poisson_surprise(3, 0.1, 0.0)
    assert st.poisson_surprise(3, 0.0, 10.0) == math.inf


def test_burst_fraction_poisson_low():
    rng = np.random.default_rng(4)
    trains = [poisson_train(rng, 30.0, 20.0) for _ in range(30)]
    assert st.burst_fraction(trains) < 0.15


def test_burst_fraction_bursty_high():
    rng = np.random.default_rng(5)
    trains = [bursty_train() + rng.uniform(0, 0.1) for _ in range(5)]
    assert st.burst_fraction(trains) > 0.9
    # jittered bursts are still bursts
    jitter = [np.sort(tr + rng.normal(0, 0.0005, tr.size)) for tr in trains]
    assert st.burst_fraction(jitter) > 0.9


def test_burst_fraction_regular_train_is_zero():
    assert st.burst_fraction([np.arange(500) * 0.02]) == 0.0


def test_bursts_embedded_in_background_are_found():
    rng = np.random.default_rng(6)
    background = poisson_train(rng, 5.0, 40.0)
    starts = np.arange(1.0, 40.0, 4.0) + rng.uniform(0, 0.5, 10)
    bursts = [s + np.arange(6) / 300.0 for s in starts]
    tr = np.sort(np.concatenate([background, *bursts]))
    found = st.poisson_surprise_bursts(tr)
    found_spans = [(tr[a], tr[b]) for a, b, _ in found]
    for s in starts:  # every inserted burst overlaps a detected one
        assert any(lo <= s + 5 / 300.0 and hi >= s for lo, hi in found_spans), s
    inserted = np.concatenate(bursts)
    detected = np.concatenate([tr[a : b + 1] for a, b, _ in found])
    precision = np.isin(detected, inserted).mean()
    recall = np.isin(inserted, detected).mean()
    assert precision > 0.8 and recall > 0.9
    assert all(s >= 3.0 for *_, s in found)


def test_burst_threshold_monotone():
    rng = np.random.default_rng(7)
    trains = [poisson_train(rng, 30.0, 20.0) for _ in range(10)]
    low = st.burst_fraction(trains, surprise_threshold=2.0)
    high = st.burst_fraction(trains, surprise_threshold=5.0)
    assert low > high


def test_burst_fraction_nan_and_errors():
    assert math.isnan(st.burst_fraction([np.array([0.1, 0.2, 0.3])]))  # < min_spikes
    with pytest.raises(ValueError, match="max_isi_factor"):
        st.poisson_surprise_bursts(np.arange(20) * 0.01, seed_isi_factor=1.0, max_isi_factor=0.5)


# ---------------------------------------------------------------------------
# pauses
# ---------------------------------------------------------------------------
def test_pause_fraction_regular_train_is_zero():
    tr = np.arange(500) * 0.02 + 0.01
    assert st.pause_fraction([tr], 10.0) == 0.0


def test_pause_fraction_inserted_gaps():
    tr = np.arange(500) * 0.02 + 0.01  # 50 Hz for 10 s
    gaps = [(2.0, 2.5), (5.0, 5.7), (8.0, 8.4)]
    keep = np.ones(tr.size, bool)
    for lo, hi in gaps:
        keep &= ~((tr > lo) & (tr < hi))
    tr = tr[keep]
    isi = np.diff(tr)
    expected = isi[isi > 0.1].sum() / 10.0  # the three gap ISIs
    assert expected == pytest.approx(sum(hi - lo for lo, hi in gaps) / 10.0, abs=0.02)
    got = st.pause_fraction([tr, np.arange(500) * 0.02 + 0.01], 10.0)
    assert got == pytest.approx(expected / 2.0, rel=1e-9)


def test_pause_fraction_poisson_matches_theory():
    # 5 Hz: threshold 5 * 0.2 s = 1 s dominates the 0.1 s floor;
    # expected time fraction in ISIs > k*mean = (k + 1) exp(-k)
    rng = np.random.default_rng(8)
    trains = [poisson_train(rng, 5.0, 100.0) for _ in range(100)]
    got = st.pause_fraction(trains, 100.0, include_edges=False)
    assert got == pytest.approx(6.0 * math.exp(-5.0), abs=0.01)


def test_pause_fraction_edges():
    tr = 2.0 + np.arange(400) * 0.02  # silent for the first 2 s of [0, 10)
    with_edges = st.pause_fraction([tr], 10.0)
    without = st.pause_fraction([tr], 10.0, include_edges=False)
    assert without == 0.0
    assert with_edges == pytest.approx(0.2, abs=1e-9)


def test_pause_fraction_undefined_and_errors():
    assert math.isnan(st.pause_fraction([np.array([0.5])], 1.0))
    with pytest.raises(ValueError, match="duration"):
        st.pause_fraction([np.arange(10) * 0.1], -1.0)
    with pytest.raises(ValueError, match="isi_factor"):
        st.pause_fraction([np.arange(10) * 0.1], 1.0, isi_factor=0)


# ---------------------------------------------------------------------------
# synchrony chi
# ---------------------------------------------------------------------------
def test_chi_independent_is_about_inverse_sqrt_n():
    rng = np.random.default_rng(9)
    n = 100
    trains = [poisson_train(rng, 20.0, 20.0) for _ in range(n)]
    chi = st.synchrony_chi(trains, 20.0)
    assert chi == pytest.approx(1.0 / math.sqrt(n), rel=0.25)


def test_chi_identical_is_one():
    rng = np.random.default_rng(10)
    tr = poisson_train(rng, 20.0, 10.0)
    assert st.synchrony_chi([tr] * 20, 10.0) == pytest.approx(1.0, abs=1e-12)


def test_chi_partial_sharing_and_smoothing():
    rng = np.random.default_rng(11)
    common = poisson_train(rng, 20.0, 20.0)
    shared = [np.sort(np.concatenate([common[rng.uniform(size=common.size) < 0.5],
                                      poisson_train(rng, 10.0, 20.0)]))
              for _ in range(50)]
    indep = [poisson_train(rng, 20.0, 20.0) for _ in range(50)]
    chi_shared = st.synchrony_chi(shared, 20.0)
    chi_indep = st.synchrony_chi(indep, 20.0)
    assert chi_indep < 0.25 < chi_shared < 0.9
    # jitter destroys exact coincidences; a kernel wider than the jitter recovers them
    jittered = [np.sort(tr + rng.normal(0, 0.004, tr.size)) for tr in shared]
    assert st.synchrony_chi(jittered, 20.0, bin_size=0.001) < chi_shared
    assert (st.synchrony_chi(jittered, 20.0, bin_size=0.001, kernel_sd=0.01)
            > st.synchrony_chi(jittered, 20.0, bin_size=0.001))


def test_chi_undefined_and_errors():
    assert math.isnan(st.synchrony_chi([np.zeros(0), np.zeros(0)], 1.0))
    with pytest.raises(ValueError, match="at least 2 neurons"):
        st.synchrony_chi([np.array([0.1])], 1.0)
    with pytest.raises(ValueError, match="bin"):
        st.synchrony_chi([np.array([0.1]), np.array([0.2])], 0.004, bin_size=0.005)


# ---------------------------------------------------------------------------
# spike-count correlation
# ---------------------------------------------------------------------------
def _correlated_population(rng, n, rate, c, duration):
    common = poisson_train(rng, c * rate, duration)
    return [np.sort(np.concatenate([common, poisson_train(rng, (1 - c) * rate, duration)]))
            for _ in range(n)]


def test_scc_independent_near_zero_and_identical_one():
    rng = np.random.default_rng(12)
    trains = [poisson_train(rng, 20.0, 50.0) for _ in range(30)]
    assert abs(st.spike_count_correlation(trains, 50.0, 0.05)) < 0.02
    assert st.spike_count_correlation([trains[0]] * 4, 50.0, 0.05) == pytest.approx(1.0)


def test_scc_matches_shared_input_theory():
    # shared Poisson fraction c gives count correlation c for any bin size
    rng = np.random.default_rng(13)
    trains = _correlated_population(rng, 20, 20.0, 0.3, 100.0)
    assert st.spike_count_correlation(trains, 100.0, 0.05) == pytest.approx(0.3, abs=0.04)


def test_scc_all_pairs_formula_matches_corrcoef_and_sampling():
    rng = np.random.default_rng(14)
    trains = _correlated_population(rng, 15, 10.0, 0.2, 30.0)
    trains.append(np.zeros(0))  # silent neuron: excluded
    counts = np.array([np.histogram(tr, bins=np.arange(0, 30.0 + 1e-9, 0.1))[0]
                       for tr in trains[:-1]])
    c = np.corrcoef(counts)
    ref = c[np.triu_indices_from(c, 1)].mean()
    assert st.spike_count_correlation(trains, 30.0, 0.1) == pytest.approx(ref, rel=1e-9)
    sampled = st.spike_count_correlation(trains, 30.0, 0.1, max_pairs=40, seed=1)
    assert sampled == pytest.approx(ref, abs=0.05)
    assert sampled == st.spike_count_correlation(trains, 30.0, 0.1, max_pairs=40, seed=1)
    assert sampled != st.spike_count_correlation(trains, 30.0, 0.1, max_pairs=40, seed=2)


def test_scc_undefined_and_errors():
    assert math.isnan(st.spike_count_correlation([np.zeros(0), np.array([0.5])], 1.0, 0.1))
    with pytest.raises(ValueError, match="bin_size"):
        st.spike_count_correlation([np.array([0.1])] * 2, 1.0, 0.0)
    with pytest.raises(ValueError, match="max_pairs"):
        st.spike_count_correlation([np.array([0.1])] * 3, 1.0, 0.1, max_pairs=0)


# ---------------------------------------------------------------------------
# population rate
# ---------------------------------------------------------------------------
def test_population_rate_oscillation_peak_at_6hz():
    rng = np.random.default_rng(15)
    f_mod, r0, duration = 6.0, 20.0, 20.0

    def rate_fn(t):
        return r0 * (1.0 + 0.5 * np.sin(2 * np.pi * f_mod * t))

    trains = [inhomogeneous_poisson(rng, rate_fn, 1.5 * r0, duration) for _ in range(100)]
    rate, fs = st.population_rate(trains, duration, 0.002)
    assert fs == pytest.approx(500.0)
    assert rate.size == 10000
    assert rate.mean() == pytest.approx(r0, rel=0.03)
    f, psd = spectra.welch_psd(rate, fs, segment_s=2.0)
    assert spectra.peak_frequency(f, psd, 1.0, 100.0) == pytest.approx(f_mod, abs=0.5)


def test_population_rate_index_form_and_edges():
    rng = np.random.default_rng(16)
    trains = [poisson_train(rng, 10.0, 2.0) for _ in range(5)]
    i = np.concatenate([np.full(tr.size, k) for k, tr in enumerate(trains)])
    t = np.concatenate(trains)
    r_list, fs1 = st.population_rate(trains, 2.0, 0.01)
    r_idx, fs2 = st.population_rate((i, t), 2.0, 0.01, n_neurons=5)
    r_idx3, _ = st.population_rate((i, t, 5), 2.0, 0.01)
    np.testing.assert_allclose(r_list, r_idx)
    np.testing.assert_allclose(r_list, r_idx3)
    assert fs1 == fs2
    # spikes on bin edges (multiples of dt, as from Brian2) go to the bin they open
    # (k * 0.1 ms grid; e.g. 5950 * 1e-4 / 0.005 = 118.99999999999999)
    steps = np.array([0, 150, 5950, 10650, 11900, 19999])
    edge = steps * 1e-4
    r, _ = st.population_rate([edge], 2.0, 0.005)
    assert np.flatnonzero(r).tolist() == (steps // 50).tolist()
    with pytest.raises(ValueError, match="population size"):
        st.population_rate((i, t), 2.0, 0.01)
    with pytest.raises(ValueError, match="dt_bin"):
        st.population_rate(trains, 2.0, -0.01)
