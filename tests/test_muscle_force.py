"""Tests of the twitch / force model (circuitsim.muscle.force)."""

import math

import numpy as np
import pytest

from circuitsim.muscle import (
    PoolParams,
    TwitchParams,
    contraction_times,
    fuglevand_gain,
    muscle_force,
    simulate_pool,
    twitch_peak_forces,
)
from circuitsim.muscle.force import force_scale

DT = 1.0 / 2000.0


def _single_unit(times, n_units=120):
    trains = [np.zeros(0) for _ in range(n_units)]
    trains[0] = np.asarray(times, dtype=float)
    return trains


def test_twitch_parameter_ranges():
    tp = TwitchParams()
    p = twitch_peak_forces(tp, 120)
    t = contraction_times(tp, 120)
    assert p[-1] / p[0] == pytest.approx(100.0 ** (119 / 120))
    assert p[-1] == pytest.approx(100.0)
    assert t[-1] == pytest.approx(0.030)
    assert 0.089 < t[0] <= 0.090
    assert np.all(np.diff(t) < 0)


def test_gain_is_one_below_04_and_sigmoidal_above():
    x = np.array([0.1, 0.4, 0.5, 1.0, 2.0])
    g = fuglevand_gain(x)
    assert g[0] == 1.0 and g[1] == pytest.approx(1.0)
    # above 0.4 the force per unit time g(x) * x follows the sigmoid 1 - exp(-2 x^3)
    s = 1 - np.exp(-2 * x[2:] ** 3)
    np.testing.assert_allclose(g[2:] * x[2:], 0.4 * s / (1 - math.exp(-2 * 0.4**3)))
    assert g[2] > 1.0  # supra-linear summation just above the linear range
    # mean force per unit time ~ g(x) * x saturates (sigmoid): bounded
    gx = fuglevand_gain(np.linspace(0.01, 5, 500)) * np.linspace(0.01, 5, 500)
    assert np.all(np.diff(gx) >= -1e-12)
    assert gx[-1] == pytest.approx(0.4 / (1 - math.exp(-2 * 0.4**3)), rel=1e-3)


def test_single_twitch_shape_and_peak_time():
    tp, pp = TwitchParams(), PoolParams()
    f = muscle_force(_single_unit([0.1]), 1.0, DT, tp, pp)
    T1 = contraction_times(tp, 120)[0]
    P1 = twitch_peak_forces(tp, 120)[0] * force_scale(tp, pp)
    k_peak = int(np.argmax(f))
    assert k_peak * DT == pytest.approx(0.1 + T1, abs=DT)
    assert f.max() == pytest.approx(P1, rel=1e-3)
    assert np.all(f[: int(0.1 / DT)] == 0.0)
    # analytic Fuglevand twitch
    t = np.arange(f.size) * DT - 0.1
    ana = np.where(t >= 0, P1 * t / T1 * np.exp(1 - t / T1), 0.0)
    np.testing.assert_allclose(f, ana, atol=1e-9 * P1 + 1e-12)


def test_regular_firing_force_ripple_at_firing_rate():
    f_hz = 12.5
    T = 4.0
    times = np.arange(0.0, T, 1.0 / f_hz) + 0.01
    force = muscle_force(_single_unit(times), T, DT)
    x = force[int(1.0 / DT):]  # steady state
    x = x - x.mean()
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    freqs = np.fft.rfftfreq(x.size, DT)
    assert freqs[np.argmax(spec)] == pytest.approx(f_hz, abs=0.5)


def test_doubling_excitation_increases_force():
    pp, tp = PoolParams(), TwitchParams()
    T = 2.0
    levels = [2.5, 5.0, 10.0, 20.0, 40.0]
    forces = []
    for lvl in levels:
        trains = simulate_pool(np.full(int(T / DT), lvl), DT, pp, np.random.default_rng(0))
        forces.append(muscle_force(trains, T, DT, tp, pp)[int(0.5 / DT):].mean())
    assert np.all(np.diff(forces) > 0)
    # full drive gives approximately the nominal MVC force
    assert forces[-1] == pytest.approx(tp.max_force_n, rel=0.1)


def test_mvc_normalisation_exact_without_variability():
    pp = PoolParams(isi_cv=0.0)
    tp = TwitchParams(max_force_n=50.0)
    T = 3.0
    trains = simulate_pool(np.full(int(T / DT), pp.full_drive_hz), DT, pp, np.random.default_rng(0))
    f = muscle_force(trains, T, DT, tp, pp)
    assert f[int(1.0 / DT):].mean() == pytest.approx(50.0, rel=0.02)


def test_force_validation():
    pp = PoolParams()
    with pytest.raises(ValueError, match="unit_spikes"):
        muscle_force([np.zeros(0)] * 3, 1.0, DT, TwitchParams(), pp)
    with pytest.raises(ValueError, match="dt"):
        muscle_force(_single_unit([0.1]), 1.0, 0.01, TwitchParams(), pp)
    with pytest.raises(ValueError, match="duration"):
        muscle_force(_single_unit([0.1]), -1.0, DT, TwitchParams(), pp)
    with pytest.raises(ValueError, match="peak_force_range"):
        TwitchParams(peak_force_range=0.5)
    with pytest.raises(ValueError, match="contraction_time_longest_s"):
        TwitchParams(contraction_time_longest_s=-0.09)
    with pytest.raises(ValueError, match="max_force_n"):
        TwitchParams(max_force_n=0.0)
