"""Fast checks of the sweep tools on synthetic folders: fit loss and best config, collect's table and
its failed/incomplete rows, the resume switch."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from circuitsim import compose
from circuitsim.cli import resume_enabled
from circuitsim.fit import experiment_yaml, loss, targets_from_config
from circuitsim.io.collect import collect


def test_loss_uses_tolerances_and_penalises_missing_metrics():
    targets = {"populations.gpi.rate_hz": {"value": 80.0, "tol": 10.0}, "muscle.severity_score": {"value": 0, "tol": 1}}
    metrics = {"populations": {"gpi": {"rate_hz": 100.0}}, "muscle": {"severity_score": None}}
    value, terms = loss(metrics, targets, penalty=50)
    assert terms == {"populations.gpi.rate_hz": 4.0, "muscle.severity_score": 50}
    assert value == pytest.approx(27.0)


def test_default_targets_are_the_healthy_rate_ranges():
    targets = targets_from_config(compose())
    assert targets["populations.gpi.rate_hz"] == pytest.approx({"value": 82.5, "tol": 12.5})
    assert len(targets) == 15
    cfg = compose(["+fit=gpi_rate"])
    assert targets_from_config(cfg) == {"populations.gpi.rate_hz": {"value": 82.5, "tol": 5.0}}


def test_experiment_yaml_nests_values_and_overrides_groups():
    text = experiment_yaml(["condition=healthy", "circuit.pathways.stn_gpe.weight_scale=1.25", "sim.duration=1s"],
                           {"condition": "healthy"})
    assert text.startswith("# @package _global_")
    body = yaml.safe_load(text)
    assert body["defaults"] == [{"override /condition": "healthy"}, "_self_"]
    assert body["circuit"]["pathways"]["stn_gpe"]["weight_scale"] == 1.25 and body["sim"]["duration"] == "1s"


def test_resume_switch(monkeypatch):
    monkeypatch.delenv("CIRCUITSIM_RESUME", raising=False)
    assert resume_enabled(compose())
    assert not resume_enabled(compose(["+resume=false"]))
    monkeypatch.setenv("CIRCUITSIM_RESUME", "0")
    assert not resume_enabled(compose())
    assert resume_enabled(compose(["+resume=true"]))


def _job(sweep, n, overrides, metrics=None, log=""):
    folder = sweep / str(n)
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "circuitsim.log").write_text(log)


def test_collect_lists_every_run_with_failures(tmp_path):
    sweep = tmp_path / "sweep"
    m = lambda rate, seed: {"populations": {"gpi": {"rate_hz": rate, "cv_isi": None}}, "run": {"seed": seed}}
    _job(sweep, 0, ["condition=healthy", "circuit.pathways.stn_gpe.weight_scale=0.5", "sim.seed=0"], m(70.0, 0))
    _job(sweep, 1, ["condition=healthy", "circuit.pathways.stn_gpe.weight_scale=0.5", "sim.seed=1"], m(72.0, 1))
    _job(sweep, 2, ["condition=healthy", "circuit.pathways.stn_gpe.weight_scale=1", "sim.seed=0"], m(80.0, 0))
    _job(sweep, 3, ["condition=healthy", "circuit.pathways.stn_gpe.weight_scale=1", "sim.seed=1"], None,
         "[2026-11-22 10:00:00,000][circuitsim][INFO] - circuit: ...\n"
         "[2026-11-22 10:00:01,000][circuitsim][ERROR] - run failed: MemoryError: out of memory\nTraceback ...\n")
    _job(sweep, 10, ["condition=healthy", "circuit.pathways.stn_gpe.weight_scale=2", "sim.seed=0"], None,
         "[2026-11-22 10:00:00,000][circuitsim][INFO] - circuit: ...\n")
    table = collect(sweep)
    assert table["job"] == ["0", "1", "2", "3", "10"]
    assert table["status"] == ["ok", "ok", "ok", "failed", "incomplete"]
    assert "MemoryError: out of memory" in table["error"][3] and "no metrics.json" in table["error"][4]
    assert table["seed"] == [0.0, 1.0, 0.0, 1.0, 0.0]
    assert table["circuit.pathways.stn_gpe.weight_scale"] == [0.5, 0.5, 1.0, 1.0, 2.0]
    assert table["condition"] == ["healthy"] * 5
    assert table["populations.gpi.rate_hz"][:3] == [70.0, 72.0, 80.0] and math.isnan(table["populations.gpi.rate_hz"][3])
    assert (sweep / "runs.parquet").is_file() and (sweep / "runs.csv").is_file()
    assert (sweep / "sweep_lines.png").is_file()


def test_collect_draws_a_heat_map_for_two_parameters(tmp_path):
    sweep = tmp_path / "sweep"
    n = 0
    for a in (0.5, 1.0):
        for b in (1.0, 2.0):
            for seed in (0, 1):
                _job(sweep, n, [f"circuit.pathways.stn_gpe.weight_scale={a}", f"circuit.pathways.gpe_stn.weight_scale={b}",
                                f"sim.seed={seed}"], {"populations": {"gpi": {"rate_hz": a * b + seed}}, "run": {"seed": seed}})
                n += 1
    collect(sweep)
    assert (sweep / "sweep_heatmap.png").is_file()


def test_the_fit_group_has_a_schema_that_owns_the_penalty():
    """configs/fit/ files place FitConf: --cfg job shows the penalty, a misspelt key fails when
    composed, and a config without a fit node gets the schema's penalty (no second copy)."""
    from circuitsim.fit import penalty_from_config
    from circuitsim.schema import FitConf

    assert penalty_from_config(compose()) == FitConf.penalty == 100.0
    assert penalty_from_config({"fit": {"targets": {}}}) == FitConf.penalty
    assert penalty_from_config(compose(["+fit=gpi_rate", "fit.penalty=50"])) == 50.0
    with pytest.raises(Exception, match="penaltyy"):
        compose(["+fit=gpi_rate", "fit.penaltyy=3"])
