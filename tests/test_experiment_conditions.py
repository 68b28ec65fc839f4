"""experiments/conditions/run.py: conditions side by side and against the literature.

The fast tests check the literature claims as data and the verdict rule on made-up numbers;
the slow test runs the quick variant (5 conditions x 1 seed x 2.5 s) and checks its output:
the tables are complete, the values finite, every verdict follows from the simulated numbers,
and the effects one seed resolves hold (the dystonic circuits against the healthy one).
"""

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from circuitsim.experiments import load_experiment

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "conditions" / "run.py"
#: measures a condition may leave undefined: selectivity is null when the commanded channel's
#: thalamus does not rise (in the parkinsonian circuit the command lowers both channels; a
#: dystonic circuit's torticollis to the other side can hold it down)
UNDEFINED_OK = {("parkinsonian", "selectivity"), *(((c, "selectivity") for c in
                ("dystonia_bg", "dystonia_cerebellar", "dystonia_network", "dystonia_cortical")))}


def _load():
    return load_experiment(SCRIPT)


def _csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_claims_are_valid_data():
    mod = _load()
    mod.check_claims(mod.CLAIMS)
    for claim in mod.CLAIMS:
        assert claim.source and any(ch.isdigit() for ch in claim.source), f"{claim.reported}: cite (author, year)"
    bad = mod.Claim("no_such_measure", ("healthy",), "higher", "x", "Someone 2000")
    with pytest.raises(ValueError, match="measure"):
        mod.check_claims([bad])
    with pytest.raises(ValueError, match="expect"):
        mod.check_claims([mod.Claim("gpi_rate_hz", ("healthy",), "up", "x", "Someone 2000")])


def test_verdict_rule():
    mod = _load()
    higher = mod.Claim("gpi_rate_hz", ("dystonia_bg",), "higher", "x", "Someone 2000")
    ref = np.array([10.0, 11.0, 12.0])
    assert mod.verdict(higher, np.array([15.0, 16.0, 17.0]), ref)["agrees"]          # 5 > spread 2
    within = mod.verdict(higher, np.array([12.0, 13.0, 14.0]), ref)                  # 2 = spread 2
    assert not within["agrees"] and within["why"] == "within seed spread"
    assert mod.verdict(higher, np.array([5.0]), ref)["why"] == "opposite"
    assert not mod.verdict(higher, np.array([]), ref)["agrees"]
    span = mod.Claim("gpi_rate_hz", ("healthy",), "range", "x", "Someone 2000", low=70.0, high=95.0)
    assert mod.verdict(span, np.array([80.0, 90.0]), np.array([]))["agrees"]
    assert not mod.verdict(span, np.array([96.0]), np.array([]))["agrees"]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    mod = _load()
    out = tmp_path_factory.mktemp("conditions")
    text = mod.main(["--quick", "--out", str(out)])
    return mod, out, text


@pytest.mark.slow
def test_quick_outputs_are_complete(quick):
    mod, out, text = quick
    for name in ("table.md", "table.csv", "runs.csv", "literature.csv", "conditions.png", "conditions_bars.png"):
        assert (out / name).is_file(), name
    table = _csv(out / "table.csv")
    assert [r["condition"] for r in table] == list(mod.CONDITIONS)
    for row in table:
        assert int(row["n"]) == len(mod.QUICK["seeds"])
        for col, _, _ in mod.MEASURES:
            if (row["condition"], col) not in UNDEFINED_OK:
                assert math.isfinite(float(row[f"{col}_mean"])), f"{row['condition']} {col} is not finite"
    assert (out / "table.md").read_text() == text
    for condition in mod.CONDITIONS:
        assert condition in text
    for claim in mod.CLAIMS:
        assert claim.source in text and claim.reported in text


@pytest.mark.slow
def test_quick_verdicts_follow_the_numbers(quick):
    mod, out, _ = quick
    verdicts = _csv(out / "literature.csv")
    assert len(verdicts) == sum(len(c.conditions) for c in mod.CLAIMS)
    runs = _csv(out / "runs.csv")
    for v in verdicts:
        claim = mod.CLAIMS[int(v["claim"])]
        model = [float(r[claim.measure]) for r in runs if r["condition"] == v["condition"]]
        if (v["condition"], claim.measure) in UNDEFINED_OK and not math.isfinite(float(v["model_mean"])):
            assert v["agrees"] == "False"    # an undefined measure never counts as agreeing
            continue
        assert math.isfinite(float(v["model_mean"])), f"{v['condition']}: {claim.reported} has no value"
        assert float(v["model_mean"]) == pytest.approx(np.mean(model))
        if claim.expect == "range":
            expected = claim.low <= np.mean(model) <= claim.high
        else:
            ref = [float(r[claim.measure]) for r in runs if r["condition"] == claim.versus]
            sign = 1 if claim.expect == "higher" else -1
            expected = sign * (np.mean(model) - np.mean(ref)) > max(np.ptp(model), np.ptp(ref))
        assert (v["agrees"] == "True") == expected, f"{v['condition']}: {claim.reported}"


@pytest.mark.slow
def test_quick_dystonic_circuits_differ_from_healthy(quick):
    """What one seed resolves: the margins are many times the seed-to-seed spread of tests/test_conditions.py."""
    mod, out, _ = quick
    runs = _csv(out / "runs.csv")

    def mean(condition, col):
        return np.mean([float(r[col]) for r in runs if r["condition"] == condition])

    for condition in mod.DYSTONIA:
        # turning away from the torticollis: the dystonic rotator keeps pulling against the command
        assert mean(condition, "co_contraction") > 5 * mean("healthy", "co_contraction"), condition
        assert mean(condition, "severity") > mean("healthy", "severity"), condition
        assert mean(condition, "force_right_n") > 5 * mean("healthy", "force_right_n"), condition
    for condition in ("dystonia_bg", "dystonia_network"):   # the conditions with a basal-ganglia change
        assert mean(condition, "gpi_rest_rate_hz") < mean("healthy", "gpi_rest_rate_hz"), condition
    assert mean("parkinsonian", "gpi_rest_rate_hz") > mean("healthy", "gpi_rest_rate_hz")
