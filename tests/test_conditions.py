"""Dystonic and parkinsonian circuits against the healthy one, on real simulations.

Each effect must point the way the literature reports (shared/reference/literature.md) and be
larger than the spread over seeds: |mean(condition) - mean(healthy)| > max(range over seeds).
The effects come from the overrides in configs/condition/; no code knows a condition's name.
"""

from pathlib import Path

import numpy as np
import pytest

from circuitsim import compose, simulate

SEEDS = (0, 1, 2)
DYSTONIA = ("dystonia_bg", "dystonia_cerebellar", "dystonia_network")
COMMON = ["sim.duration=2.5s", "sim.progress=false", "readout.plots=[]"]


def _runs(condition, task):
    return [simulate(compose([f"condition={condition}", f"task={task}", f"sim.seed={s}"] + COMMON)).metrics
            for s in SEEDS]


def _get(metrics, key):
    node = metrics
    for part in key.split("."):
        node = node[part]
    return np.nan if node is None else float(node)


def _values(runs, key):
    return np.array([_get(m, key) for m in runs])


def _low_freq(runs, region="gpi"):
    return _values(runs, f"lfp.{region}.power_4_10hz")


def assert_shift(healthy, condition, direction, what):
    """``condition`` differs from ``healthy`` in ``direction`` (+1 up, -1 down) by more than the seed spread."""
    diff = np.mean(condition) - np.mean(healthy)
    spread = max(np.ptp(healthy), np.ptp(condition))
    assert direction * diff > spread, (f"{what}: healthy {np.round(healthy, 3)}, condition {np.round(condition, 3)}; "
                                       f"difference {diff:+.3g} does not exceed the seed spread {spread:.3g} "
                                       f"in the expected direction ({'+' if direction > 0 else '-'})")


@pytest.fixture(scope="module")
def turning():
    return {c: _runs(c, "turn_left") for c in ("healthy",) + DYSTONIA}


@pytest.fixture(scope="module")
def resting():
    return {c: _runs(c, "rest") for c in ("healthy", "parkinsonian")}


def test_every_condition_composes():
    for c in ("healthy", "parkinsonian") + DYSTONIA:
        cfg = compose([f"condition={c}"])
        assert cfg.condition_name == c


def test_no_code_special_cases_a_condition():
    src = Path(__file__).resolve().parents[1] / "circuitsim"
    for path in src.rglob("*.py"):
        text = path.read_text().lower()
        for name in ("dystonia_", "parkinsonian"):
            assert name not in text, f"{path} mentions {name}"


@pytest.mark.slow
@pytest.mark.parametrize("condition", DYSTONIA)
def test_dystonia_pallidal_output(turning, condition):
    h, c = turning["healthy"], turning[condition]
    assert_shift(_values(h, "populations.gpi.rate_hz"), _values(c, "populations.gpi.rate_hz"), -1, "GPi rate")
    assert_shift(_values(h, "populations.gpi.cv_isi"), _values(c, "populations.gpi.cv_isi"), +1, "GPi ISI CV")
    assert_shift(_values(h, "populations.gpi.burst_fraction"), _values(c, "populations.gpi.burst_fraction"), +1,
                 "GPi burst fraction")
    assert_shift(_low_freq(h), _low_freq(c), +1, "GPi LFP 4-10 Hz relative power")


@pytest.mark.slow
@pytest.mark.parametrize("condition", DYSTONIA)
def test_dystonia_channels_less_selective(turning, condition):
    assert_shift(_values(turning["healthy"], "channels.selectivity"), _values(turning[condition], "channels.selectivity"),
                 -1, "channel selectivity")


@pytest.mark.slow
@pytest.mark.parametrize("condition", DYSTONIA)
def test_dystonia_muscles_co_contract(turning, condition):
    h, c = turning["healthy"], turning[condition]
    assert_shift(_values(h, "muscle.co_contraction_index"), _values(c, "muscle.co_contraction_index"), +1,
                 "co-contraction index")
    assert_shift(_values(h, "muscle.severity_score"), _values(c, "muscle.severity_score"), +1, "severity score")


@pytest.mark.slow
def test_parkinsonian_gpi_rate_and_beta(resting):
    h, p = resting["healthy"], resting["parkinsonian"]
    assert_shift(_values(h, "populations.gpi.rate_hz"), _values(p, "populations.gpi.rate_hz"), +1, "GPi rate")
    for region in ("stn", "gpi"):
        key = f"lfp.{region}.band_power.beta"
        assert_shift(_values(h, key), _values(p, key), +1, f"{region.upper()} beta power")
