"""experiments/desynchrony: weakening the links between the loops, and stimulation at the weakest step."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from circuitsim import compose, load_result
from circuitsim.experiments import RUN_DEFAULTS
from circuitsim.spec import build_spec
from circuitsim.experiments import load_experiment

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "desynchrony" / "run.py"


def _load():
    return load_experiment(SCRIPT)


def test_every_full_point_composes_and_weakens_its_pathways():
    """The full variant's configs are valid, and a point's scale reaches its pathways' weights."""
    exp = _load()
    points = exp.points(exp.FULL)
    assert len({p.label for p in points}) == len(points)
    base = [*RUN_DEFAULTS, *exp.BASE, f"sim.duration={exp.FULL['duration_s']:g}*second"]
    intact = build_spec(compose(base)).pathways
    for point in points:
        spec = build_spec(compose([*base, *point.overrides]))
        if point.factors["weakened"] != "none" and point.factors["condition"] == "healthy":
            for name in exp.SERIES[point.factors["weakened"]]["pathways"]:
                assert spec.pathways[name].weight == pytest.approx(intact[name].weight * point.factors["scale"])
                assert spec.pathways[name].p == intact[name].p  # same connections, only weaker


def test_unknown_series_is_refused():
    exp = _load()
    with pytest.raises(ValueError, match="bg_cb_links"):
        exp.points({**exp.QUICK, "series": ["nope"]})


@pytest.mark.slow
def test_quick_variant(tmp_path):
    exp = _load()
    exp.main(["--quick", "--out", str(tmp_path)])
    for name in ("table.md", "table.csv", "runs.csv", "desynchrony.png"):
        assert (tmp_path / name).is_file(), name
    with open(tmp_path / "runs.csv") as fh:
        rows = list(csv.DictReader(fh))
    points = exp.points(exp.QUICK)
    assert len(rows) == len(points) * len(exp.QUICK["seeds"])
    with open(tmp_path / "table.csv") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == len(points)

    coherence_cols = [c for c in rows[0] if c.startswith("coh_")]
    assert len(coherence_cols) == len(exp.PAIRS) * len(exp.BANDS)
    for row in rows:
        assert float(row["duration_s"]) == exp.QUICK["duration_s"]  # the stim preset's own duration is overridden
        for col in coherence_cols:
            assert 0.0 <= float(row[col]) <= 1.0, (row["folder"], col, row[col])
        for col in [c for c in row if c.startswith(("sync_", "rate_"))] + ["dist_intact"]:
            assert math.isfinite(float(row[col])), (row["folder"], col)

    by_point = {(r["weakened"], float(r["scale"]), r["stim"]): r for r in rows}
    intact = by_point[("none", 1.0, "none")]
    weakest = by_point[("bg_cb_links", 0.0, "none")]
    stimulated = by_point[("bg_cb_links", 0.0, "dbs_gpi")]

    # the experiment's coherence is computed as metrics.json computes its own pairs
    for row in rows:
        metrics = json.loads((Path(row["folder"]) / "metrics.json").read_text())
        for pair in ("gpi__ctx", "gpi__dcn", "gpi__thal", "stn__gpe"):
            for band in ("theta", "alpha", "beta"):
                assert float(row[f"coh_{pair}_{band}"]) == pytest.approx(metrics["coherence"][pair][band], abs=1e-9)

    # the weakening changes weights, never the connections ...
    syn = {k: load_result(r["folder"]).metrics["run"]["synapses_per_pathway"] for k, r in by_point.items()}
    for name in exp.SERIES["bg_cb_links"]["pathways"]:
        counts = {s[name] for s in syn.values()}
        assert len(counts) == 1 and counts.pop() > 0, name
    # ... and it takes effect: CM/Pf loses its dentate drive (about half its rate, far beyond seed spread)
    assert float(weakest["rate_thal_cm"]) < float(intact["rate_thal_cm"])
    # pallidal DBS entrains its target: GPi spikes become more synchronous than in the unstimulated circuit
    assert float(stimulated["sync_gpi"]) > float(weakest["sync_gpi"])
    assert "dbs_gpi" in load_result(stimulated["folder"]).metrics.get("stim", {})
