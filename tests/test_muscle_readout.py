"""End-to-end tests of circuitsim.muscle.readout.muscle_readout."""

import math

import numpy as np
import pytest

from circuitsim.muscle import MuscleParams, MuscleReadout, PoolParams, muscle_readout

N_NEURONS = 50


def _poisson(rng, rate_fn, rate_max, n, T):
    """Inhomogeneous Poisson spike trains by thinning."""
    out = []
    for _ in range(n):
        t = np.sort(rng.uniform(0.0, T, rng.poisson(rate_max * T)))
        out.append(t[rng.uniform(0.0, rate_max, t.size) < rate_fn(t)])
    return out


def _channels(seed, T, left_hz=20.0, right_hz=2.0, names=("left_rot", "right_rot")):
    rng = np.random.default_rng(seed)
    return {
        names[0]: _poisson(rng, lambda t: np.full(t.shape, left_hz), left_hz, N_NEURONS, T),
        names[1]: _poisson(rng, lambda t: np.full(t.shape, right_hz), right_hz, N_NEURONS, T),
    }


@pytest.fixture(scope="module")
def result():
    T = 2.0
    return muscle_readout(_channels(0, T), N_NEURONS, T, np.random.default_rng(1))


def test_metric_keys_exact(result):
    m = result.metrics
    assert set(m) == {"left_rot", "right_rot", "co_contraction_index", "head_angle_deg",
                      "lfp_emg_coherence", "severity_score"}
    for name in ("left_rot", "right_rot"):
        assert set(m[name]) == {"mean_force", "emg_rms", "tremor_power", "alpha_power",
                                "beta_power", "active_fraction"}
        assert 0.0 <= m[name]["active_fraction"] <= 1.0
        for v in m[name].values():
            assert isinstance(v, float) and math.isfinite(v)
    assert set(m["head_angle_deg"]) == {"mean", "peak", "frac_beyond", "jerks_per_s"}
    assert set(m["lfp_emg_coherence"]) == {"theta", "alpha"}
    assert all(math.isnan(v) for v in m["lfp_emg_coherence"].values())  # no LFP given
    assert 0.0 <= m["co_contraction_index"] <= 1.0
    assert 0.0 <= m["severity_score"] <= 1.0


def test_driven_side_stronger_and_head_turns_towards_it(result):
    m = result.metrics
    assert m["left_rot"]["active_fraction"] > m["right_rot"]["active_fraction"]
    assert m["left_rot"]["mean_force"] > 5 * m["right_rot"]["mean_force"]
    assert m["left_rot"]["emg_rms"] > m["right_rot"]["emg_rms"]
    assert m["head_angle_deg"]["mean"] > 5.0  # positive = towards the (stronger) left rotator
    assert m["head_angle_deg"]["peak"] >= m["head_angle_deg"]["mean"]
    assert 0.0 < m["co_contraction_index"] < 0.8


def test_time_series_shapes_and_rates(result):
    assert isinstance(result, MuscleReadout)
    n = int(round(2.0 * result.fs_hz))
    assert result.time.shape == (n,)
    assert result.head_angle.shape == (n,)
    for name in result.muscles:
        for series in (result.drive, result.force, result.emg, result.envelope):
            assert series[name].shape == (n,)
        assert len(result.unit_spikes[name]) == PoolParams().n_units
    assert set(result.sampling_rates.values()) == {result.fs_hz}
    assert result["force"] is result.force
    # the drive is the corticospinal rate in Hz per neuron
    assert np.mean(result.drive["left_rot"][400:]) == pytest.approx(20.0, rel=0.15)
    assert result.coherence_muscle == "left_rot"


def test_order_defines_sides():
    T = 1.0
    ch = _channels(3, T, left_hz=2.0, right_hz=20.0, names=("a", "b"))
    r = muscle_readout(ch, {"a": N_NEURONS, "b": N_NEURONS}, T, np.random.default_rng(0))
    assert r.muscles == ("a", "b")
    assert r.metrics["head_angle_deg"]["mean"] < 0  # stronger second (right) rotator


def test_lfp_emg_coherence_detects_shared_tremor_rhythm():
    T, f_trem = 6.0, 6.0
    rng = np.random.default_rng(11)
    left = _poisson(rng, lambda t: 20.0 * (1 + 0.8 * np.sin(2 * np.pi * f_trem * t)), 36.0,
                    N_NEURONS, T)
    right = _poisson(rng, lambda t: np.full(t.shape, 2.0), 2.0, N_NEURONS, T)
    lfp_fs = 1000.0
    tl = np.arange(int(T * lfp_fs)) / lfp_fs
    lfp = np.sin(2 * np.pi * f_trem * tl) + rng.standard_normal(tl.size)
    r = muscle_readout({"L": left, "R": right}, N_NEURONS, T, np.random.default_rng(2),
                       lfp=lfp, lfp_fs=lfp_fs)
    coh = r.metrics["lfp_emg_coherence"]
    assert 0.0 <= coh["alpha"] <= 1.0
    assert coh["theta"] > 0.4
    assert coh["theta"] > 2 * coh["alpha"]
    # the tremor shows up in the relative 3-8 Hz EMG power of the driven muscle
    flat = muscle_readout(_channels(11, T, names=("L", "R")), N_NEURONS, T,
                          np.random.default_rng(2))
    assert r.metrics["L"]["tremor_power"] > 2 * flat.metrics["L"]["tremor_power"]
    assert r.metrics["severity_score"] > flat.metrics["severity_score"]


def test_co_contraction_with_equal_drive():
    T = 2.0
    r = muscle_readout(_channels(5, T, left_hz=15.0, right_hz=15.0), N_NEURONS, T,
                       np.random.default_rng(4))
    assert r.metrics["co_contraction_index"] > 0.8
    assert abs(r.metrics["head_angle_deg"]["mean"]) < 3.0


def test_reproducible_with_same_seed():
    T = 1.0
    ch = _channels(7, T)
    a = muscle_readout(ch, N_NEURONS, T, np.random.default_rng(9))
    b = muscle_readout(ch, N_NEURONS, T, np.random.default_rng(9))
    np.testing.assert_array_equal(a.emg["left_rot"], b.emg["left_rot"])
    assert a.metrics["severity_score"] == b.metrics["severity_score"]


def test_params_from_dict():
    p = MuscleParams.from_dict({"n_units": 60, "max_force_n": 80.0, "head": {"moment_arm_m": 0.02},
                                "emg.noise_rms_v": 1e-6, "fs_hz": 4000.0,
                                "tremor_band_hz": [4.0, 7.0]})
    assert p.pool.n_units == 60 and isinstance(p.pool.n_units, int)
    assert p.twitch.max_force_n == 80.0
    assert p.head.moment_arm_m == 0.02
    assert p.emg.noise_rms_v == 1e-6
    assert p.fs_hz == 4000.0
    assert p.tremor_band_hz == (4.0, 7.0)
    assert MuscleParams.from_dict({}) == MuscleParams()
    assert MuscleParams.from_dict(MuscleParams().to_dict()) == MuscleParams()
    with pytest.raises(ValueError, match="bogus_field"):
        MuscleParams.from_dict({"bogus_field": 1.0})
    with pytest.raises(ValueError, match="pool.not_a_field"):
        MuscleParams.from_dict({"pool": {"not_a_field": 1.0}})
    with pytest.raises(ValueError, match="min_rate_hz"):
        MuscleParams.from_dict({"min_rate_hz": -1.0})
    with pytest.raises(ValueError, match="fs_hz"):
        MuscleParams.from_dict({"fs_hz": 600.0})


def test_readout_input_validation():
    T = 0.5
    ch = _channels(1, T)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="exactly two"):
        muscle_readout({"a": ch["left_rot"]}, N_NEURONS, T, rng)
    with pytest.raises(ValueError, match="exactly two"):
        muscle_readout({**ch, "c": ch["left_rot"]}, N_NEURONS, T, rng)
    with pytest.raises(ValueError, match="n_neurons_per_channel"):
        muscle_readout(ch, 0, T, rng)
    with pytest.raises(ValueError, match="duration"):
        muscle_readout(ch, N_NEURONS, -1.0, rng)
    with pytest.raises(ValueError, match="lfp_fs"):
        muscle_readout(ch, N_NEURONS, T, rng, lfp=np.zeros(500))
    with pytest.raises(ValueError, match="rng"):
        muscle_readout(ch, N_NEURONS, T, None)


def test_silent_muscles_do_not_co_contract():
    T = 1.0
    silent = {"a": [np.zeros(0)] * 10, "b": [np.zeros(0)] * 10}
    r = muscle_readout(silent, 10, T, np.random.default_rng(0))
    # two relaxed muscles (EMG at the noise floor): the index is undefined, and so costs no severity
    assert r.metrics["co_contraction_index"] is None
    assert r.metrics["a"]["active_fraction"] < 0.01
    assert r.metrics["severity_score"] < 0.05
    assert r.metrics["a"]["mean_force"] == 0.0
    assert r.metrics["head_angle_deg"]["peak"] == 0.0
    # noise-free recording of a silent muscle: relative powers undefined (NaN), score still valid
    p = MuscleParams.from_dict({"noise_rms_v": 0.0})
    r = muscle_readout({"a": [np.zeros(0)] * 10, "b": [np.array([0.1, 0.2])] * 10}, 10, T,
                       np.random.default_rng(0), params=p)
    assert math.isnan(r.metrics["a"]["tremor_power"])
    assert r.metrics["head_angle_deg"]["mean"] < 0
    assert 0.0 <= r.metrics["severity_score"] <= 1.0


def test_tremor_of_a_relaxed_agonist_costs_no_severity():
    """A few twitches over the noise have a 3-8 Hz spectrum, but a relaxed muscle has no tremor."""
    T = 5.0
    rng = np.random.default_rng(3)
    # 10 cells, each firing once in a volley every 2.5 s: brief recruitment, relaxed in between
    volleys = [np.arange(0.3, T, 2.5) + rng.uniform(0, 0.01, 2) for _ in range(10)]
    ch = {"a": volleys, "b": [np.zeros(0)] * 10}
    p = MuscleParams.from_dict({"drive_offset_hz": 0.0})
    r = muscle_readout(ch, 10, T, np.random.default_rng(0), params=p)
    m = r.metrics
    assert m["a"]["active_fraction"] < p.tremor_min_active_fraction
    assert m["a"]["mean_force"] > 0.0            # the volleys did recruit units
    relaxed = MuscleParams.from_dict({"drive_offset_hz": 0.0, "tremor_min_active_fraction": 0.0})
    m_all = muscle_readout(ch, 10, T, np.random.default_rng(0), params=relaxed).metrics
    assert m_all["severity_score"] > m["severity_score"]   # the tremor part is what the rule removes
