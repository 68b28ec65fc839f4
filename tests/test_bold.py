"""The Balloon-Windkessel BOLD signal (circuitsim.analysis.bold) on inputs with a known answer: rest,
a brief stimulus (a delayed peak and an undershoot), linearity for small drives, agreement with an
adaptive solver, and the correlation of regions that share slow or only fast fluctuations."""

import numpy as np
import pytest

from circuitsim.analysis.bold import (BalloonParams, _rhs, balloon_bold, bold_correlation, neural_drive,
                                     region_activity)


def test_rest_is_the_fixed_point():
    t, y = balloon_bold(np.zeros((500, 3)), 0.01)
    assert t[-1] == pytest.approx(5.0)
    assert np.max(np.abs(y)) < 1e-12


def test_brief_stimulus_gives_a_delayed_peak_and_an_undershoot():
    dt = 0.01
    z = np.zeros(int(30 / dt))
    z[:int(1 / dt)] = 0.1          # 1 s of 10 % more synaptic activity
    t, y = balloon_bold(z, dt)
    peak = t[np.argmax(y)]
    # the haemodynamic response lags a brief stimulus by seconds and undershoots after it
    # (Buxton et al. 1998; Friston et al. 2000)
    assert 2.5 < peak < 6.0
    assert y.max() > 0
    after = t > peak
    assert y[after].min() < -0.05 * y.max()
    assert 6.0 < t[after][np.argmin(y[after])] < 16.0
    assert abs(y[-1]) < 0.1 * y.max()          # back near rest 30 s later


def test_small_drives_are_linear_large_ones_saturate():
    dt = 0.01
    z = np.zeros(int(20 / dt))
    z[:100] = 1.0
    peaks = [balloon_bold(a * z, dt)[1].max() for a in (0.01, 0.02, 1.0, 2.0)]
    assert peaks[1] / peaks[0] == pytest.approx(2.0, rel=0.02)
    assert peaks[3] / peaks[2] < 1.8             # the balloon's nonlinearity (volume, extraction)


def test_runge_kutta_matches_an_adaptive_solver():
    from scipy.integrate import solve_ivp

    dt, p, hold = 0.01, BalloonParams(), 25
    steps = 0.2 * np.random.default_rng(10).standard_normal((16, 2))
    z = np.repeat(steps, hold, axis=0)          # the drive jumps every 0.25 s
    t, y = balloon_bold(z, dt, p)

    # scipy's adaptive solver, segment by segment between the jumps, at tight tolerance
    yy, ref = np.concatenate([np.zeros(2), np.ones(6)]), []
    for k, zk in enumerate(steps):
        t0 = k * hold * dt
        sol = solve_ivp(lambda tt, u: _rhs(u.reshape(4, 2), zk, p).ravel(), (t0, t0 + hold * dt), yy,
                        t_eval=t0 + dt * np.arange(1, hold + 1), rtol=1e-10, atol=1e-12)
        yy = sol.y[:, -1]
        v, q = sol.y.reshape(4, 2, -1)[2], sol.y.reshape(4, 2, -1)[3]
        ref.append((p.V0 * (7 * p.rho * (1 - q) + 2 * (1 - q / v) + (2 * p.rho - 0.2) * (1 - v))).T)
    ref = np.concatenate(ref)
    assert np.max(np.abs(y - ref)) < 1e-6 * np.max(np.abs(ref))


def test_neural_drive_is_relative_and_binned():
    x = np.r_[np.full(10, 2.0), np.full(10, 6.0)]
    np.testing.assert_allclose(neural_drive(x, 1000.0, 0.01), [-0.5, 0.5])
    assert np.all(neural_drive(np.zeros(40), 1000.0, 0.01) == 0)
    with pytest.raises(ValueError, match="shorter than one bin"):
        neural_drive(np.ones(5), 1000.0, 0.01)


def test_region_activity_adds_excitatory_and_inhibitory_magnitudes():
    currents = {"a": (np.array([[1.0, -2.0, 3.0], [1.0, 1.0, 1.0]]), np.array([[-1.0, 0.0, 1.0]])),
                "b": (np.array([0.5, 0.5, 0.5]), np.array([-0.5, 0.5, -0.5]))}   # a population sum (1-D)
    act = region_activity({"r1": ["a", "b"], "r2": ["c"]}, currents, skip=1)
    assert set(act) == {"r1"}                               # r2 has no recorded currents
    np.testing.assert_allclose(act["r1"], [3.0 + 0.0 + 1.0, 4.0 + 1.0 + 1.0])


def test_bold_correlation_sees_shared_slow_fluctuations_not_shared_fast_ones():
    fs, dur = 200.0, 240.0
    n = int(fs * dur)
    rng = np.random.default_rng(11)
    t = np.arange(n) / fs

    def slow():   # random steps every 2 s: within the haemodynamic pass band
        return np.repeat(rng.standard_normal(int(dur / 2)), int(2 * fs))

    common, fast = slow(), np.sin(2 * np.pi * 40 * t)
    signals = {"a": 1 + 0.2 * common + 0.05 * slow(), "b": 1 + 0.2 * common + 0.05 * slow(),
               "c": 1 + 0.2 * slow() + 0.5 * fast, "d": 1 + 0.2 * slow() + 0.5 * fast}
    c = bold_correlation(signals, fs, drive_dt=0.05)["correlation"]
    assert c["a__b"] > 0.8                     # shared slow activity: correlated BOLD
    assert abs(c["c__d"]) < 0.4                # only a shared 40 Hz rhythm: filtered out
    assert abs(c["a__c"]) < 0.4
    assert bold_correlation({k: v[:int(5 * fs)] for k, v in signals.items()}, fs) is None   # too short


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="BalloonParams.rho"):
        BalloonParams(rho=1.5)
    with pytest.raises(ValueError, match="non-finite"):
        balloon_bold(np.array([0.0, np.nan]), 0.01)


@pytest.mark.slow
def test_a_run_writes_the_bold_correlation_of_every_region_pair(monkeypatch):
    from itertools import combinations

    from circuitsim import compose, simulate
    from circuitsim.analysis import bold

    # runs of 20 s are the threshold; a 1.2 s run with the threshold lowered checks the wiring
    monkeypatch.setattr(bold, "MIN_DURATION_S", 0.5)
    run = simulate(compose(["sim.duration=1.2s", "sim.seed=10", "readout.plots=[]", "sim.progress=false"]))
    corr = run.metrics["connectivity"]["bold"]["correlation"]
    regions = list(run.lfp)
    assert set(corr) == {f"{a}__{b}" for a, b in combinations(regions, 2)}
    assert all(v is None or -1.0 <= v <= 1.0 for v in corr.values())
    assert any(v is not None for v in corr.values())
