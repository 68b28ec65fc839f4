"""Tests of the motoneuron pool (circuitsim.muscle.pool)."""

import numpy as np
import pytest

from circuitsim.muscle import (
    PoolParams,
    corticospinal_drive,
    excitation_from_drive,
    firing_rates,
    full_recruitment_drive,
    max_excitation,
    peak_rates,
    recruitment_thresholds,
    simulate_pool,
)
from circuitsim.muscle.pool import effective_drive

DT = 1.0 / 2000.0


def test_recruitment_thresholds_exponential_30_fold():
    p = PoolParams()
    rte = recruitment_thresholds(p)
    assert rte.shape == (120,)
    assert np.all(np.diff(rte) > 0)
    assert rte[-1] / rte[0] == pytest.approx(30.0 ** (119 / 120), rel=1e-12)
    assert rte[-1] == pytest.approx(30.0)
    # exponential spread: constant ratio between neighbours
    ratios = rte[1:] / rte[:-1]
    assert np.allclose(ratios, ratios[0])


def test_peak_rates_and_max_excitation():
    p = PoolParams()
    pfr = peak_rates(p)
    assert pfr[-1] == pytest.approx(25.0)
    assert 34.0 < pfr[0] < 35.0
    assert max_excitation(p) == pytest.approx(30.0 + 17.0)
    assert full_recruitment_drive(p) == pytest.approx(40.0 * 30.0 / 47.0)


def test_corticospinal_drive_steady_rate():
    rng = np.random.default_rng(1)
    n, rate, T = 200, 15.0, 3.0
    spikes = [np.sort(rng.uniform(0, T, rng.poisson(rate * T))) for _ in range(n)]
    d = corticospinal_drive(spikes, n, T, DT, tau_s=0.02)
    assert d.shape == (int(T / DT),)
    assert np.mean(d[int(0.2 / DT):]) == pytest.approx(rate, rel=0.05)
    # flat array input is equivalent
    d2 = corticospinal_drive(np.concatenate(spikes), n, T, DT, tau_s=0.02)
    np.testing.assert_allclose(d, d2)


def test_corticospinal_drive_single_spike_is_unit_area_exponential():
    d = corticospinal_drive([np.array([0.1])], 1, 1.0, DT, tau_s=0.01)
    # area of the drive = number of spikes per neuron
    assert np.sum(d) * DT == pytest.approx(1.0, rel=1e-3)
    k = int(0.1 / DT)
    assert d[k - 1] == 0.0
    assert d[k + int(0.01 / DT)] / d[k] == pytest.approx(np.exp(-1.0), rel=1e-6)


@pytest.mark.parametrize("jitter, ramp_s", [(0.0, 10.0), (0.01, 40.0)])
def test_recruitment_order_follows_threshold(jitter, ramp_s):
    # the Fuglevand et al. (1993) core: no slow (PIC) part, whose lag would delay recruitment on a ramp
    p = PoolParams(recruitment_jitter_s=jitter, pic_gain=1.0)
    dt = 1e-3
    t = np.arange(int(ramp_s / dt)) * dt
    drive = p.full_drive_hz * t / ramp_s  # slow ramp 0 -> full drive
    trains = simulate_pool(drive, dt, p, np.random.default_rng(3))
    first = np.array([tr[0] if tr.size else np.inf for tr in trains])
    assert np.all(np.isfinite(first)), "every unit must be recruited by the full drive"
    assert np.all(np.diff(first) > 0), "units must be recruited in order of threshold"
    # recruitment happens when E(t) crosses RTE_i (plus the recruitment latency)
    expected = recruitment_thresholds(p) / max_excitation(p) * ramp_s
    assert np.all(first >= expected - dt)
    assert np.all(first <= expected + jitter + dt)
    if jitter > 0:
        assert np.std(first - expected) > jitter / 10  # the latency is really random


@pytest.mark.parametrize("cv", [0.0, 0.2])
def test_firing_rates_within_min_and_peak(cv):
    p = PoolParams(isi_cv=cv)
    pfr = peak_rates(p)
    T = 4.0
    rng = np.random.default_rng(5)
    for level in (5.0, 15.0, 30.0, 60.0):  # includes a drive above full_drive_hz
        drive = np.full(int(T / DT), level)
        trains = simulate_pool(drive, DT, p, rng)
        expected = firing_rates(excitation_from_drive(level, p), p)
        for i, tr in enumerate(trains):
            if expected[i] == 0.0:
                assert tr.size == 0
                continue
            # count-based rate over the steady state (skip the first ISI)
            rate = (tr.size - 1) / (tr[-1] - tr[0])
            tol = 1e-6 if cv == 0.0 else 0.12
            assert p.min_rate_hz * (1 - tol) <= rate <= pfr[i] * (1 + tol)
            assert rate == pytest.approx(expected[i], rel=0.002 if cv == 0.0 else 0.12)


def test_regular_isi_without_variability_and_cv_with():
    p0 = PoolParams(isi_cv=0.0)
    drive = np.full(int(4.0 / DT), 10.0)
    tr0 = simulate_pool(drive, DT, p0, np.random.default_rng(0))[0]
    isi0 = np.diff(tr0)
    assert np.allclose(isi0, isi0[0], rtol=1e-9)
    p = PoolParams(isi_cv=0.2)
    tr = simulate_pool(np.full(int(20.0 / DT), 10.0), DT, p, np.random.default_rng(0))[0]
    isi = np.diff(tr)
    assert np.std(isi) / np.mean(isi) == pytest.approx(0.2, abs=0.03)


def test_no_drive_no_spikes_and_reproducible():
    p = PoolParams()
    trains = simulate_pool(np.zeros(2000), DT, p, np.random.default_rng(0))
    assert all(tr.size == 0 for tr in trains)
    drive = np.full(4000, 12.0)
    a = simulate_pool(drive, DT, p, np.random.default_rng(42))
    b = simulate_pool(drive, DT, p, np.random.default_rng(42))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert all(np.all((tr >= 0) & (tr < 4000 * DT)) for tr in a)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"n_units": 0}, "n_units"),
        ({"n_units": 12.5}, "n_units"),
        ({"recruitment_range": 0.5}, "recruitment_range"),
        ({"min_rate_hz": -8.0}, "min_rate_hz"),
        ({"peak_rate_last_hz": 5.0}, "peak_rate_last_hz"),
        ({"isi_cv": -0.1}, "isi_cv"),
        ({"gain_hz_per_unit": 0.0}, "gain_hz_per_unit"),
        ({"full_drive_hz": float("nan")}, "full_drive_hz"),
        ({"pic_gain": 0.5}, "pic_gain"),
        ({"pic_tau_s": 0.0}, "pic_tau_s"),
    ],
)
def test_pool_params_validation(kwargs, field):
    with pytest.raises(ValueError, match=field):
        PoolParams(**kwargs)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="n_neurons"):
        corticospinal_drive([np.array([0.1])], 0, 1.0, DT)
    with pytest.raises(ValueError, match="dt"):
        corticospinal_drive([np.array([0.1])], 1, 1.0, -DT)
    with pytest.raises(ValueError, match="tau_s"):
        corticospinal_drive([np.array([0.1])], 1, 1.0, DT, tau_s=0.0)
    with pytest.raises(ValueError, match="drive"):
        simulate_pool(np.array([1.0, -1.0]), DT, PoolParams(), np.random.default_rng(0))
    with pytest.raises(ValueError, match="dt"):
        simulate_pool(np.ones(10), 0.05, PoolParams(), np.random.default_rng(0))
    with pytest.raises(ValueError, match="rng"):
        simulate_pool(np.ones(10), DT, PoolParams(), None)


def test_spike_trains_before_a_change_do_not_depend_on_it():
    """Two drives equal up to 1 s (then one rises): each unit's spikes before 1 s are identical.
    Randomness is drawn per unit, in spike order, from streams of a fixed number, so what a run
    does later (a stimulus train, a command) cannot reach back into earlier muscle output."""
    n = int(2.0 / DT)
    base = np.full(n, 12.0)
    later = base.copy()
    later[int(1.0 / DT):] = 30.0            # more units recruited and faster firing after 1 s
    a = simulate_pool(base, DT, PoolParams(), np.random.default_rng(7))
    b = simulate_pool(later, DT, PoolParams(), np.random.default_rng(7))
    assert sum(x.size for x in b) > 1.3 * sum(x.size for x in a)     # the change is real
    n_before = 0
    for ta, tb in zip(a, b):
        np.testing.assert_array_equal(ta[ta < 1.0], tb[tb < 1.0])
        n_before += int(np.sum(ta < 1.0))
    assert n_before > 100


def test_effective_drive_keeps_a_sustained_drive_and_weakens_a_brief_volley():
    """A constant drive passes unchanged (the sustained map is Fuglevand's); the peak of a
    synchronous volley (one spike per neuron, as a strong TMS pulse) reaches the pool with about
    1 / pic_gain of its height above the offset, because the slow (PIC) part hardly follows it."""
    p = PoolParams(drive_offset_hz=12.0, full_drive_hz=24.0, pic_gain=12.0)   # the circuit's readout
    steady = np.full(4000, 20.0)
    np.testing.assert_allclose(effective_drive(steady, DT, p), steady)
    background = [np.sort(np.random.default_rng(k).uniform(0, 1.0, 4)) for k in range(50)]
    volley = [np.append(b, 0.5 + 1e-3 * k / 50) for k, b in enumerate(background)]
    d = corticospinal_drive([np.sort(v) for v in volley], 50, 1.0, DT)
    k = int(0.5 / DT)
    peak = d[k:k + int(0.01 / DT)].max()
    eff = effective_drive(d, DT, p)[k:k + int(0.01 / DT)].max()
    assert peak > 40.0                                       # far above full recruitment when sustained
    assert eff - 12.0 < 2.0 * (peak - 12.0) / p.pic_gain     # the volley's gain is near 1 / pic_gain
    # Fuglevand's pool (the default) takes the drive as it is
    np.testing.assert_allclose(effective_drive(d, DT, PoolParams(drive_offset_hz=12.0, full_drive_hz=24.0)), d)


def test_volley_recruits_gradually_with_its_size():
    """Brief volleys of growing size recruit growing numbers of units, over a wide range of
    volley sizes (a graded MEP, Devanne et al. 1997), where without the slow part (pic_gain 1)
    the pool goes from a few units to all of them over a far narrower range."""
    def recruited(fraction, gain):
        p = PoolParams(drive_offset_hz=12.0, full_drive_hz=24.0, pic_gain=gain)
        n = 100
        rng = np.random.default_rng(1)
        spikes = [np.sort(rng.uniform(0, 0.6, 2)) for _ in range(n)]            # ~3 Hz background
        for i in range(int(round(fraction * n))):
            spikes[i] = np.sort(np.append(spikes[i], 0.4 + rng.uniform(0, 0.003)))
        d = corticospinal_drive(spikes, n, 0.6, DT)
        trains = simulate_pool(d, DT, p, np.random.default_rng(2))
        return sum(bool(np.any((t > 0.4) & (t < 0.45))) for t in trains)
    sizes = (0.2, 0.4, 0.6, 0.8, 1.0)
    graded = [recruited(f, 12.0) for f in sizes]
    steep = [recruited(f, 1.0) for f in sizes]
    assert all(b >= a for a, b in zip(graded, graded[1:])), graded
    assert 0 < graded[1] < graded[-1] < 120, graded        # neither none nor all over the range
    assert steep[2] == 120 and graded[2] < 0.5 * 120, (steep, graded)   # Fuglevand's map alone: all by 60 %
