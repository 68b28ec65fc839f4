"""treatment=botulinum_toxin: chemodenervation of a fraction of the injected muscle's motor units
lowers that muscle's force and EMG by about that fraction and leaves the other muscle as it was."""

import numpy as np
import pytest

from circuitsim import compose, simulate
from circuitsim.errors import ConfigError
from circuitsim.muscle import MuscleParams, muscle_readout
from circuitsim.muscle.pool import denervated_units
from circuitsim.spec import build_spec

BASE = {"pool": {"drive_offset_hz": 12.0, "full_drive_hz": 24.0}}   # configs/readout/default.yaml


def _spikes(rate_hz, seed, n=15, duration=2.0):
    rng = np.random.default_rng(seed)
    return [np.sort(rng.uniform(0, duration, rng.poisson(rate_hz * duration))) for _ in range(n)]


def _readout(fraction, seed):
    params = MuscleParams.from_dict({**BASE, "denervated_muscles": ["rotator_right"],
                                     "denervated_fraction": fraction})
    spikes = {"rotator_left": _spikes(14, seed), "rotator_right": _spikes(22, seed + 100)}
    return muscle_readout(spikes, 15, 2.0, np.random.default_rng(seed), params=params).metrics


@pytest.mark.parametrize("n_units", [7, 120])
@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.5, 1.0])
def test_denervated_units_are_the_fraction_spread_over_the_pool(n_units, fraction):
    units = denervated_units(n_units, fraction)
    assert len(units) == int(np.floor(n_units * fraction + 1e-9)) and len(set(units)) == len(units)
    if 0 < fraction < 1 and n_units == 120:   # small and large units alike
        assert units.min() < 0.2 * n_units and units.max() > 0.8 * n_units


@pytest.mark.parametrize("seed", [10, 11])
@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.8])
def test_force_and_emg_of_the_injected_muscle_fall_by_the_fraction(seed, fraction):
    before, after = _readout(0.0, seed), _readout(fraction, seed)
    assert after["rotator_left"] == before["rotator_left"]          # not injected: bit for bit the same
    force = after["rotator_right"]["mean_force"] / before["rotator_right"]["mean_force"]
    assert force == pytest.approx(1 - fraction, abs=0.06)
    # EMG power (the MUAP trains add incoherently, so power, not amplitude, scales with the units)
    power = (after["rotator_right"]["emg_rms"] / before["rotator_right"]["emg_rms"]) ** 2
    assert power == pytest.approx(1 - fraction, abs=0.15)


def test_preset_injects_the_dystonic_side_and_refuses_a_circuit_without_one():
    spec = build_spec(compose(["condition=dystonia_bg", "side=right", "treatment=botulinum_toxin"]))
    assert spec.readout.muscle.params["denervated_muscles"] == ["rotator_right"]
    assert "denervated_muscles" not in build_spec(compose(["condition=dystonia_bg"])).readout.muscle.params
    with pytest.raises(ConfigError, match="denervated_muscles.*side=left or side=right"):
        build_spec(compose(["treatment=botulinum_toxin"]))
    with pytest.raises(ConfigError, match="denervated_fraction"):
        build_spec(compose(["condition=dystonia_bg", "treatment=botulinum_toxin",
                            "readout.muscle.params.denervated_fraction=1.5"]))


@pytest.mark.slow
def test_simulated_torticollis_loses_force_in_the_injected_muscle():
    run = ["condition=dystonia_bg", "side=right", "sim.duration=1.2s", "sim.seed=10", "readout.plots=[]",
           "sim.progress=false"]
    before = simulate(compose(run)).metrics["muscle"]
    after = simulate(compose(run + ["treatment=botulinum_toxin"])).metrics["muscle"]
    assert before["rotator_right"]["mean_force"] > 5.0          # the torticollis holds the head right
    assert after["rotator_left"] == before["rotator_left"]
    ratio = after["rotator_right"]["mean_force"] / before["rotator_right"]["mean_force"]
    assert ratio == pytest.approx(0.5, abs=0.08)
    assert abs(after["head_angle_deg"]["mean"]) < abs(before["head_angle_deg"]["mean"])
