"""Tests of the head-yaw model (circuitsim.muscle.posture)."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from circuitsim.muscle import HeadParams, head_angle, steady_state_angle

DT = 1.0 / 2000.0


def test_equal_forces_keep_head_at_zero():
    rng = np.random.default_rng(0)
    f = 30.0 + 5.0 * rng.standard_normal(4000)
    theta = head_angle(f, f.copy(), DT)
    assert np.max(np.abs(theta)) == 0.0


@pytest.mark.parametrize("left, right, sign", [(40.0, 10.0, +1), (10.0, 40.0, -1)])
def test_unequal_forces_rotate_towards_stronger_side(left, right, sign):
    p = HeadParams()
    n = int(5.0 / DT)
    theta = head_angle(np.full(n, left), np.full(n, right), DT, p)
    expected = p.moment_arm_m * (left - right) / p.stiffness_nm_per_rad
    assert np.sign(theta[-1]) == sign  # positive = rotation to the left
    assert theta[-1] == pytest.approx(expected, rel=1e-3)
    assert steady_state_angle(left, right, p) == pytest.approx(expected)


def test_matches_reference_ode_solution():
    p = HeadParams(damping_nms_per_rad=0.05)  # under-damped: a stricter check
    T = 3.0
    n = int(T / DT)
    t = np.arange(n) * DT
    fl = 20.0 + 10.0 * np.sin(2 * np.pi * 1.5 * t)
    fr = np.full(n, 12.0)
    theta = head_angle(fl, fr, DT, p)

    def rhs(tt, y):
        tau = p.moment_arm_m * (20.0 + 10.0 * np.sin(2 * np.pi * 1.5 * tt) - 12.0)
        return [y[1], (tau - p.damping_nms_per_rad * y[1] - p.stiffness_nm_per_rad * y[0])
                / p.inertia_kg_m2]

    sol = solve_ivp(rhs, (0, T), [0.0, 0.0], t_eval=t, rtol=1e-9, atol=1e-12, max_step=1e-3)
    # zero-order hold delays the input by dt/2 on average: tolerance of a few dt
    assert np.max(np.abs(theta - sol.y[0])) < 0.01 * np.max(np.abs(sol.y[0]))


def test_stable_for_coarse_step_and_starts_at_rest():
    p = HeadParams()
    theta = head_angle(np.full(200, 50.0), np.zeros(200), 0.05, p)  # dt of 50 ms
    assert np.all(np.isfinite(theta))
    assert theta[0] == 0.0
    assert theta[-1] == pytest.approx(steady_state_angle(50.0, 0.0, p), rel=1e-3)


def test_head_params_defaults_and_validation():
    p = HeadParams()
    assert 0.011 <= p.inertia_kg_m2 <= 0.020
    assert 0.3 < p.damping_ratio < 1.5
    with pytest.raises(ValueError, match="inertia_kg_m2"):
        HeadParams(inertia_kg_m2=0.0)
    with pytest.raises(ValueError, match="stiffness_nm_per_rad"):
        HeadParams(stiffness_nm_per_rad=-1.0)
    with pytest.raises(ValueError, match="damping_nms_per_rad"):
        HeadParams(damping_nms_per_rad=-0.1)
    with pytest.raises(ValueError, match="force_left"):
        head_angle(np.ones(10), np.ones(11), DT)
    with pytest.raises(ValueError, match="dt"):
        head_angle(np.ones(10), np.ones(10), 0.0)
