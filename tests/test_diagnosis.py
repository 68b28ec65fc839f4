"""The diagnosis machinery on synthetic data with a known answer (circuitsim.diagnosis)."""

import numpy as np
import pytest

from circuitsim.diagnosis import binomial_ci, classify, detection_by_dose, responder_rate


def _data(shift, n=20, features=6, seed=10):
    """Two classes of n samples; feature 2 differs by ``shift`` standard deviations, the rest are noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((2 * n, features))
    X[n:, 2] += shift
    return X, ["healthy"] * n + ["dystonia"] * n


@pytest.mark.parametrize("model", ["logistic", "forest"])
def test_separable_classes_are_found_and_the_informative_feature_ranks_first(model):
    X, y = _data(shift=4.0)
    n_perm = 39 if model == "logistic" else 19   # (a forest costs 100 trees a fit)
    res = classify(X, y, [f"f{k}" for k in range(6)], model=model, n_permutations=n_perm)
    assert res["balanced_accuracy"] >= 0.9 and res["accuracy"] >= 0.9
    assert res["p_value"] == pytest.approx(1 / (n_perm + 1))    # no shuffling does as well
    assert res["features"][0]["name"] == "f2"
    cm = np.array(res["confusion_matrix"])
    assert cm.sum() == 40 and np.trace(cm) >= 36 and res["labels"] == ["dystonia", "healthy"]


@pytest.mark.parametrize("seed", [10, 11])
def test_non_separable_classes_stay_at_chance(seed):
    X, y = _data(shift=0.0, seed=seed)
    res = classify(X, y, n_permutations=39, seed=seed)
    assert abs(res["balanced_accuracy"] - 0.5) < 0.25
    assert res["p_value"] > 0.05


def test_three_classes_and_groups_keep_a_patients_rows_together():
    rng = np.random.default_rng(13)
    groups = np.repeat(np.arange(15), 3)                # 3 rows per patient, one class per patient
    y = np.repeat(["a", "b", "c"], 5).repeat(3)
    X = rng.standard_normal((45, 4))
    X[y == "b", 0] += 5
    X[y == "c", 1] += 5
    res = classify(X, y, groups=groups, n_permutations=39)
    assert res["chance"] == pytest.approx(1 / 3)
    assert res["balanced_accuracy"] > 0.9 and res["p_value"] < 0.05
    with pytest.raises(ValueError, match="at least 2 patients"):
        classify(X[:4], ["a", "a", "a", "b"])


def test_detection_by_dose_finds_the_dose_where_classes_separate():
    rng = np.random.default_rng(14)
    healthy = [{"dose": 0.0, "m": rng.normal(), "c": rng.normal()} for _ in range(12)]
    rows = [{"dose": d, "m": rng.normal() + (6 if d >= 0.5 else 0), "c": rng.normal() + (6 if d >= 0.25 else 0)}
            for d in (0.1, 0.25, 0.5, 1.0) for _ in range(12)]
    out = detection_by_dose(rows, {"muscle": ["m"], "connectivity": ["c"]}, healthy, n_permutations=39)
    assert out["muscle"]["lowest_dose_detected"] == 0.5
    assert out["connectivity"]["lowest_dose_detected"] == 0.25
    assert out["muscle"]["p_value"][0] > 0.05


def test_responders_and_their_confidence_interval():
    res = responder_rate([1.0, 1.0, 1.0, 1.0, 0.0], [0.5, 0.8, 0.74, 1.2, 0.0])
    assert res["n"] == 4 and res["n_not_evaluable"] == 1 and res["responders"] == 2   # 50 % and 26 %
    lo, hi = res["ci95"]
    assert lo < 0.5 < hi
    assert binomial_ci(0, 10)[0] == 0.0 and binomial_ci(10, 10)[1] == 1.0
    assert binomial_ci(5, 10)[0] == pytest.approx(0.187, abs=0.001)      # Clopper-Pearson
