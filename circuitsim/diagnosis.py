"""Diagnosis of virtual patients from their measures: cross-validated classifiers, permutation
tests, detection against the disease dose, responder rates.

Every classifier is a scikit-learn pipeline: missing values replaced by the training fold's
median, features standardised on the training fold, then a linear model (L2-regularised
logistic regression, ``C = 1``; ``model="forest"``: a random forest of 100 trees as a non-linear
check). Cross-validation is by patient: each patient is one sample (or, with ``groups``, all of
a patient's rows stay in one fold), stratified by class, with ``min(folds, smallest class)``
folds, so a patient is never in the training and the test set at once. Reported:

* ``accuracy`` and ``balanced_accuracy`` (mean recall over classes; chance = 1 / number of
  classes whatever the class sizes) of the cross-validated predictions;
* ``confusion_matrix`` (rows: true class, columns: predicted, in the order of ``labels``);
* ``p_value`` of a label-permutation test (``sklearn.model_selection.permutation_test_score``,
  balanced accuracy, ``n_permutations`` shufflings of the labels within the same folds; Ojala &
  Garriga 2010, J Mach Learn Res 11:1833): the fraction of shufflings that score at least as well,
  with the (n + 1) correction, so the smallest possible value is 1 / (n_permutations + 1);
* ``features``: the features that carry the decision, ranked by the absolute standardised
  coefficient of the model fitted on all patients (largest over classes for more than two), or by
  the forest's impurity importance.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

#: a responder improves by at least this fraction of the pre-treatment severity: the issue's
#: definition, a model choice (a published source for 25 % could not be verified; see
#: docs/guide/patients.md, "The responder threshold")
RESPONDER_IMPROVEMENT = 0.25


def _pipeline(model: str, seed: int):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if model == "logistic":
        clf = LogisticRegression(C=1.0, max_iter=5000)
    elif model == "forest":
        clf = RandomForestClassifier(n_estimators=100, random_state=seed)
    else:
        raise ValueError(f"model: choose logistic or forest (got {model!r})")
    return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(), clf)


def _folds(y: np.ndarray, groups: Optional[np.ndarray], folds: int, seed: int):
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    _, counts = np.unique(y, return_counts=True)
    k = int(min(folds, counts.min()))
    if k < 2:
        raise ValueError(f"cross-validation needs at least 2 patients in every class (smallest class: {counts.min()})")
    if groups is None:
        return StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)


def _group_permutations(pipe, X, y, groups, cv, n_permutations: int, seed: int):
    """Label permutation by patient: scikit-learn's permutation_test_score shuffles labels only
    within a group, which leaves a patient's rows (one label) as they were; here the patients'
    labels are shuffled among the patients."""
    from sklearn.model_selection import cross_val_score

    rng = np.random.default_rng(seed)
    score = np.mean(cross_val_score(pipe, X, y, groups=groups, cv=cv, scoring="balanced_accuracy"))
    ids = list(dict.fromkeys(groups.tolist()))
    label = {gid: y[groups == gid][0] for gid in ids}
    if any(len(set(y[groups == gid])) > 1 for gid in ids):
        raise ValueError("groups: every row of a patient must have the same label")
    scores = []
    for _ in range(n_permutations):
        shuffled = dict(zip(ids, rng.permutation([label[gid] for gid in ids])))
        yp = np.array([shuffled[gid] for gid in groups.tolist()])
        scores.append(np.mean(cross_val_score(pipe, X, yp, groups=groups, cv=cv, scoring="balanced_accuracy")))
    scores = np.array(scores)
    return scores, float((np.sum(scores >= score) + 1) / (n_permutations + 1))


def classify(X: np.ndarray, y: Sequence[Any], feature_names: Optional[Sequence[str]] = None,
             groups: Optional[Sequence[Any]] = None, model: str = "logistic", folds: int = 5,
             n_permutations: int = 200, seed: int = 0, top: int = 10) -> Dict[str, Any]:
    """Cross-validated classification of ``y`` from ``X`` (rows = samples); see the module doc."""
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix
    from sklearn.model_selection import cross_val_predict, permutation_test_score

    X = np.asarray(X, dtype=float)
    y = np.asarray([str(v) for v in y])
    if X.ndim != 2 or X.shape[0] != y.size:
        raise ValueError(f"X must be samples x features with one label per sample (X {X.shape}, {y.size} labels)")
    names = list(feature_names) if feature_names is not None else [f"x{k}" for k in range(X.shape[1])]
    labels = sorted(set(y))
    if len(labels) < 2:
        raise ValueError(f"classification needs two classes or more (got {labels})")
    g = None if groups is None else np.asarray(groups)
    cv = _folds(y, g, folds, seed)
    pipe = _pipeline(model, seed)
    pred = cross_val_predict(pipe, X, y, cv=cv, groups=g)
    if g is None:
        _, perm_scores, p_value = permutation_test_score(pipe, X, y, cv=cv, n_permutations=n_permutations,
                                                         scoring="balanced_accuracy", random_state=seed)
    else:
        perm_scores, p_value = _group_permutations(pipe, X, y, g, cv, n_permutations, seed)
    pipe.fit(X, y)
    clf = pipe[-1]
    if model == "logistic":
        weight = np.abs(np.atleast_2d(clf.coef_)).max(axis=0)
    else:
        weight = clf.feature_importances_
    order = np.argsort(-weight, kind="stable")[:top]
    _, counts = np.unique(y, return_counts=True)
    return {
        "model": model, "n": int(y.size), "n_per_class": dict(zip(labels, map(int, counts))),
        "n_features": int(X.shape[1]), "folds": int(cv.get_n_splits()),
        "accuracy": float(np.mean(pred == y)),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
        "chance": 1.0 / len(labels),
        "p_value": float(p_value), "n_permutations": int(n_permutations),
        "permutation_balanced_accuracy": {"mean": float(np.mean(perm_scores)),
                                          "p95": float(np.percentile(perm_scores, 95))},
        "labels": labels,
        "confusion_matrix": confusion_matrix(y, pred, labels=labels).tolist(),
        "features": [{"name": names[k], "weight": float(weight[k])} for k in order],
    }


def detection_by_dose(rows: Sequence[Mapping[str, Any]], feature_sets: Mapping[str, Sequence[str]],
                      healthy: Sequence[Mapping[str, Any]], alpha: float = 0.05, **options: Any) -> Dict[str, Any]:
    """At each dose, healthy patients against the patients at that dose, from each feature set.

    ``rows``: the patients' rows of the dose sweep (``dose`` and the features); ``healthy``: the
    healthy patients' rows. Returns ``{"doses": [...], "<set>": {"balanced_accuracy": [...],
    "p_value": [...], "lowest_dose_detected": dose or None}}``, detected = permutation p < alpha.
    """
    doses = sorted({float(r["dose"]) for r in rows})
    out: Dict[str, Any] = {"doses": doses, "alpha": alpha}
    for name, features in feature_sets.items():
        acc, p = [], []
        for d in doses:
            sick = [r for r in rows if float(r["dose"]) == d]
            data = list(healthy) + sick
            X = np.array([[_num(r.get(f)) for f in features] for r in data])
            y = ["healthy"] * len(healthy) + ["dystonia"] * len(sick)
            res = classify(X, y, features, **options)
            acc.append(res["balanced_accuracy"])
            p.append(res["p_value"])
        detected = [d for d, pv in zip(doses, p) if pv < alpha]
        out[name] = {"features": list(features), "balanced_accuracy": acc, "p_value": p,
                     "lowest_dose_detected": min(detected) if detected else None}
    return out


def _num(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return float("nan")
    return f if math.isfinite(f) else float("nan")


def binomial_ci(k: int, n: int, level: float = 0.95) -> List[float]:
    """Exact (Clopper-Pearson) confidence interval of a proportion k / n."""
    from scipy.stats import binomtest

    if n == 0:
        return [float("nan"), float("nan")]
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="exact")
    return [float(ci.low), float(ci.high)]


def improvement(before: float, after: float) -> float:
    """Relative improvement (before - after) / before of a severity score; NaN where before <= 0."""
    before, after = _num(before), _num(after)
    if not (before > 0) or math.isnan(after):
        return float("nan")
    return (before - after) / before


def responder_rate(before: Sequence[float], after: Sequence[float],
                   threshold: float = RESPONDER_IMPROVEMENT) -> Dict[str, Any]:
    """Responders (improvement >= threshold) among the patients with a pre-treatment severity > 0."""
    imp = np.array([improvement(b, a) for b, a in zip(before, after)])
    ok = np.isfinite(imp)
    k, n = int(np.sum(imp[ok] >= threshold)), int(ok.sum())
    return {"threshold": threshold, "n": n, "n_not_evaluable": int((~ok).sum()), "responders": k,
            "rate": k / n if n else float("nan"), "ci95": binomial_ci(k, n),
            "improvement_median": float(np.median(imp[ok])) if n else float("nan")}
