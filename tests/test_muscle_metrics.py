"""Tests of the clinical metrics (circuitsim.muscle.metrics)."""

import itertools

import numpy as np
import pytest

from circuitsim.muscle import (
    SeverityParams,
    co_contraction_index,
    emg_band_power,
    head_angle_summary,
    severity_score,
    severity_subscores,
)


def test_cci_identical_envelopes_is_one():
    env = np.abs(np.sin(np.linspace(0, 10, 1000))) + 0.1
    assert co_contraction_index(env, env.copy()) == pytest.approx(1.0)


def test_cci_one_silent_is_zero():
    env = np.abs(np.sin(np.linspace(0, 10, 1000))) + 0.1
    assert co_contraction_index(env, np.zeros_like(env)) == 0.0
    assert co_contraction_index(np.zeros_like(env), env) == 0.0


def test_cci_undefined_when_both_relaxed():
    assert co_contraction_index(np.zeros(10), np.zeros(10)) is None
    # below the activity threshold counts as relaxed
    assert co_contraction_index(np.full(10, 0.2), np.full(10, 0.1), active_threshold=0.5) is None


def test_cci_counts_only_active_time():
    # 1 s of co-contraction (a = b = 1) then 9 s with both relaxed: the rest does not dilute it
    fs = 100.0
    a = np.concatenate([np.ones(100), np.zeros(900)])
    assert co_contraction_index(a, a.copy(), fs=fs, min_active_s=0.5) == pytest.approx(1.0)
    # half a second of activity of one muscle, with the other relaxed: 0, not undefined
    b = np.concatenate([np.ones(50), np.zeros(950)])
    assert co_contraction_index(b, np.zeros_like(b), fs=fs, min_active_s=0.5) == 0.0
    # too little active time: undefined
    assert co_contraction_index(b, b.copy(), fs=fs, min_active_s=0.6) is None
    # a noise floor of 0.3 (the threshold): samples below it in both muscles are left out
    c = np.concatenate([np.full(100, 1.0), np.full(900, 0.2)])
    d = np.concatenate([np.full(100, 0.5), np.full(900, 0.2)])
    assert co_contraction_index(c, d, active_threshold=0.3) == pytest.approx(2 * 0.5 / 1.5)
    with pytest.raises(ValueError, match="fs"):
        co_contraction_index(a, a, min_active_s=0.1)


def test_severity_of_undefined_cci_is_zero_subscore():
    s = severity_subscores(None, 0.0, 0.0)
    assert s["co_contraction"] == 0.0
    assert severity_score(None, 0.0, 0.0) == 0.0
    assert severity_score(None, 45.0, 0.0) == pytest.approx(0.5 / 3)


def test_cci_known_value_and_symmetry():
    a = np.full(100, 1.0)
    b = np.full(100, 0.5)
    assert co_contraction_index(a, b) == pytest.approx(2 * 0.5 / 1.5)
    assert co_contraction_index(a, b) == co_contraction_index(b, a)
    # alternating activation (reciprocal inhibition) gives 0
    on = np.tile([1.0, 0.0], 50)
    assert co_contraction_index(on, 1.0 - on) == 0.0


def test_cci_validation():
    with pytest.raises(ValueError, match="env_a"):
        co_contraction_index(-np.ones(5), np.ones(5))
    with pytest.raises(ValueError, match="same length"):
        co_contraction_index(np.ones(5), np.ones(6))


def test_band_power_of_sinusoid():
    fs = 1000.0
    t = np.arange(int(4 * fs)) / fs
    x = 2.0 * np.sin(2 * np.pi * 6.0 * t) + 0.5 * np.sin(2 * np.pi * 40.0 * t)
    assert emg_band_power(x, fs, (3.0, 8.0)) == pytest.approx(2.0, rel=0.05)  # A^2/2
    rel = emg_band_power(x, fs, (3.0, 8.0), relative_to=(1.0, 100.0))
    assert rel == pytest.approx(2.0 / (2.0 + 0.125), rel=0.02)
    assert emg_band_power(x, fs, (15.0, 30.0), relative_to=(1.0, 100.0)) < 0.01
    with pytest.raises(ValueError, match="band"):
        emg_band_power(x, fs, (8.0, 3.0))


def test_band_power_rectified_amplitude_modulation():
    fs = 2000.0
    t = np.arange(int(4 * fs)) / fs
    rng = np.random.default_rng(0)
    carrier = rng.standard_normal(t.size)
    modulated = (1 + 0.8 * np.sin(2 * np.pi * 5.0 * t)) * carrier
    rel_mod = emg_band_power(modulated, fs, (3, 8), relative_to=(1, 100), rectify=True)
    rel_flat = emg_band_power(carrier, fs, (3, 8), relative_to=(1, 100), rectify=True)
    assert rel_mod > 5 * rel_flat


def test_head_angle_summary():
    ang = np.radians(np.concatenate([np.full(75, 20.0), np.full(25, -40.0)]))
    s = head_angle_summary(ang, threshold_deg=30.0)
    assert set(s) == {"mean", "peak", "frac_beyond"}
    assert s["mean"] == pytest.approx(0.75 * 20 - 0.25 * 40)
    assert s["peak"] == pytest.approx(40.0)
    assert s["frac_beyond"] == pytest.approx(0.25)


def test_jerks_count_fast_head_movements_not_a_steady_hold():
    """jerks_per_s counts the peaks of the angular speed above the threshold: a slow hold has none,
    a 20 deg posture with five 0.1 s, 8 deg twitches in 2 s has 2.5 per second."""
    fs = 1000.0
    t = np.arange(0, 2.0, 1 / fs)
    hold = 20.0 + 2.0 * np.sin(2 * np.pi * 0.5 * t)          # 6 deg/s at most
    twitches = hold.copy()
    for t0 in (0.2, 0.6, 1.0, 1.4, 1.8):
        k = (t >= t0) & (t < t0 + 0.1)
        twitches[k] += 8.0 * np.sin(np.pi * (t[k] - t0) / 0.1)   # up to 250 deg/s
    assert head_angle_summary(np.radians(hold), fs_hz=fs)["jerks_per_s"] == 0.0
    # the fastest rise and fall of a twitch are under 0.1 s apart: one jerk each
    assert head_angle_summary(np.radians(twitches), fs_hz=fs)["jerks_per_s"] == pytest.approx(2.5)
    assert "jerks_per_s" not in head_angle_summary(np.radians(hold))
    with pytest.raises(ValueError, match="jerk_velocity_deg_s"):
        head_angle_summary(np.radians(hold), fs_hz=fs, jerk_velocity_deg_s=0.0)


def test_severity_bounds_and_extremes():
    assert severity_score(0.0, 0.0, 0.0) == 0.0
    assert severity_score(1.0, 90.0, 1.0) == pytest.approx(1.0)
    assert severity_score(1.0, 500.0, 1.0) == pytest.approx(1.0)  # saturates
    rng = np.random.default_rng(0)
    for _ in range(200):
        s = severity_score(rng.uniform(), rng.uniform(0, 180), rng.uniform())
        assert 0.0 <= s <= 1.0


def test_severity_increases_with_each_subscore():
    base = dict(co_contraction=0.5, head_angle_deg_mean_abs=30.0, tremor_rel_power=0.2)
    s0 = severity_score(**base)
    for key, bigger in (("co_contraction", 0.8), ("head_angle_deg_mean_abs", 60.0),
                        ("tremor_rel_power", 0.4)):
        assert severity_score(**{**base, key: bigger}) > s0, key
    # monotone on a grid
    grid = np.linspace(0, 1, 11)
    for c, a, tr in itertools.product(grid, grid * 90, grid):
        s = severity_score(c, a, tr)
        assert severity_score(min(c + 0.1, 1.0), a, tr) >= s
        assert severity_score(c, a + 9.0, tr) >= s
        assert severity_score(c, a, min(tr + 0.1, 1.0)) >= s


def test_severity_formula_and_weights():
    p = SeverityParams(weight_co_contraction=2.0, weight_posture=1.0, weight_tremor=1.0)
    sub = severity_subscores(0.65, 45.0, 0.3, p)
    assert sub["co_contraction"] == pytest.approx((0.65 - 0.3) / 0.7)
    assert sub["posture"] == pytest.approx(0.5)
    assert sub["tremor"] == pytest.approx((0.3 - 0.1) / 0.4)
    expected = (2 * sub["co_contraction"] + sub["posture"] + sub["tremor"]) / 4
    assert severity_score(0.65, 45.0, 0.3, p) == pytest.approx(expected)
    # NaN (e.g. silent muscle) contributes 0
    assert severity_score(0.65, 45.0, float("nan"), p) == pytest.approx(
        (2 * sub["co_contraction"] + sub["posture"]) / 4)


def test_severity_validation():
    with pytest.raises(ValueError, match="co_contraction"):
        severity_score(1.5, 0.0, 0.0)
    with pytest.raises(ValueError, match="head_angle_deg_mean_abs"):
        severity_score(0.5, -3.0, 0.0)
    with pytest.raises(ValueError, match="tremor_rel_power"):
        severity_score(0.5, 3.0, -0.1)
    with pytest.raises(ValueError, match="max_angle_deg"):
        SeverityParams(max_angle_deg=0.0)
    with pytest.raises(ValueError, match="tremor_ceiling"):
        SeverityParams(tremor_floor=0.5, tremor_ceiling=0.4)
    with pytest.raises(ValueError, match="weight"):
        SeverityParams(weight_co_contraction=0, weight_posture=0, weight_tremor=0)
