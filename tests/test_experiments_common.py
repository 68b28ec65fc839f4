"""Fast tests of what experiments/ share (circuitsim.experiments): no simulation."""

import csv
import math
import json
from pathlib import Path

import pytest

from circuitsim.experiments import hydra_value, lookup, markdown, summarise, write_rows, write_table

ROWS = [
    {"condition": "healthy", "seed": 0, "severity": 0.1},
    {"condition": "healthy", "seed": 1, "severity": 0.3},
    {"condition": "dystonia_bg", "seed": 0, "severity": 0.5},
    {"condition": "dystonia_bg", "seed": 1, "severity": float("nan")},
]


def test_summarise_mean_sd_per_group_skips_nan():
    table = summarise(ROWS, by=["condition"], columns=["severity"])
    assert [t["condition"] for t in table] == ["healthy", "dystonia_bg"]
    assert table[0]["severity_mean"] == pytest.approx(0.2)
    assert table[0]["severity_sd"] == pytest.approx(0.1414213, rel=1e-5)
    assert table[1]["severity_mean"] == pytest.approx(0.5)
    assert math.isnan(table[1]["severity_sd"])      # one finite value: no spread
    assert table[1]["n"] == 2


@pytest.mark.parametrize("as_str", [True, False])
def test_write_table_takes_a_str_or_a_path(tmp_path, as_str):
    """Experiment scripts pass ``args.out`` (a str from argparse); both kinds must work."""
    out = tmp_path / "nested" / "out"
    table = summarise(ROWS, by=["condition"], columns=["severity"])
    text = write_table(table, str(out) if as_str else out, by=["condition"], columns={"severity": "severity"})
    assert (out / "table.md").read_text() == text + "\n"
    with open(out / "table.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["condition"] for r in rows] == ["healthy", "dystonia_bg"]
    assert float(rows[0]["severity_mean"]) == pytest.approx(0.2)
    assert "0.2 ± 0.14" in text


def test_write_rows_keeps_every_field_in_first_seen_order(tmp_path):
    path = write_rows([{"a": 1}, {"b": 2, "a": 3}], str(tmp_path))
    assert isinstance(path, Path) and path.name == "runs.csv"
    with open(path) as fh:
        assert next(csv.reader(fh)) == ["a", "b"]


def test_lookup_and_markdown_missing_values():
    assert lookup({"a": {"b": 2}}, "a.b") == 2.0
    assert math.isnan(lookup({"a": {"b": None}}, "a.b"))
    assert math.isnan(lookup({"a": {}}, "a.b.c"))
    text = markdown([{"x": 1, "y_mean": float("nan"), "y_sd": float("nan"), "n": 1}], ["x"], {"y": "Y"})
    assert text.splitlines()[-1] == "| 1 | – | 1 |"


# ------------------------------------------------------------------- run_points: one results pipeline


def _fake_simulate(cfg, out_dir=None, overwrite=False, overrides=None):
    """Stands in for circuitsim.simulate: a finished run folder whose GPi rate is 100 x the stn_gpe
    weight scale plus the seed; a weight scale of 9 fails."""
    import numpy as np

    from circuitsim import _version
    from circuitsim.api import _plain_config
    from circuitsim.io import collect as col
    from circuitsim.io import results as rio

    w = float(cfg.circuit.pathways.stn_gpe.weight_scale)
    folder = rio.prepare_folder(out_dir, overwrite=overwrite)
    col.record_run(folder, cfg, overrides)
    if w == 9:
        rio.release_folder(folder)
        raise RuntimeError("the fake run failed")
    res = rio.Result(metrics={"run": {"seed": int(cfg.sim.seed), "duration_s": 0.3, "build_reused": True,
                                      "versions": {"source": _version.source_digest()}},
                              "populations": {"gpi": {"rate_hz": 100 * w + int(cfg.sim.seed)}}},
                     config=_plain_config(cfg), spikes={"gpi": (np.zeros(0, np.int32), np.zeros(0))},
                     sizes={"gpi": 1}, channels={"gpi": np.array([-1])})
    rio.write_data(folder, res)
    rio.finish(folder, res)
    _fake_simulate.calls += 1
    return res


def _points(*scales):
    from circuitsim.experiments import Point

    return [Point(f"w{w}", [f"circuit.pathways.stn_gpe.weight_scale={w}"], {"w": w}) for w in scales]


def test_run_points_rows_come_from_the_collected_table_and_resume(tmp_path, monkeypatch):
    import circuitsim
    from circuitsim.experiments import run_points

    monkeypatch.setattr(circuitsim, "simulate", _fake_simulate)
    _fake_simulate.calls = 0
    measures = {"gpi": "populations.gpi.rate_hz", "flag": "run.build_reused",
                "twice": lambda res: 2 * res.metrics["populations"]["gpi"]["rate_hz"]}
    rows = run_points(_points(0.5, 1.5), [0, 1], tmp_path, measures, progress=False)
    assert [(r["w"], r["seed"], r["gpi"]) for r in rows] == [(0.5, 0, 50.0), (0.5, 1, 51.0), (1.5, 0, 150.0),
                                                             (1.5, 1, 151.0)]
    assert [r["twice"] for r in rows] == [100.0, 102.0, 300.0, 302.0] and rows[0]["flag"] == 1.0
    assert _fake_simulate.calls == 4
    frame = circuitsim.collect(tmp_path / "runs", write=False)      # the same table, for anyone
    assert list(frame.job) == ["w0.5_seed0", "w0.5_seed1", "w1.5_seed0", "w1.5_seed1"]
    assert list(frame["circuit.pathways.stn_gpe.weight_scale"]) == [0.5, 0.5, 1.5, 1.5]
    assert (tmp_path / "runs" / "runs.parquet").is_file()
    assert run_points(_points(0.5, 1.5), [0, 1], tmp_path, measures, progress=False) == rows
    assert _fake_simulate.calls == 4                                 # resumed, nothing rerun


def test_run_points_reruns_a_finished_run_made_by_other_code_and_says_so(tmp_path, monkeypatch, caplog):
    """A stored run resumes only with the same circuitsim source: a changed default or equation
    leaves the composed config as it was, so the config alone would return stale results."""
    import logging

    import circuitsim
    from circuitsim import _version
    from circuitsim.experiments import run_points

    monkeypatch.setattr(circuitsim, "simulate", _fake_simulate)
    _fake_simulate.calls = 0
    measures = {"gpi": "populations.gpi.rate_hz"}
    first = run_points(_points(0.5), [0, 1], tmp_path, measures, progress=False)
    assert _fake_simulate.calls == 2
    monkeypatch.setattr(_version, "source_digest", lambda: "0123456789abcdef")   # the code changed
    with caplog.at_level(logging.WARNING, logger="circuitsim.experiments"):
        again = run_points(_points(0.5), [0, 1], tmp_path, measures, progress=False)
    assert _fake_simulate.calls == 4 and again == first                       # both rerun
    assert "2 finished run(s) are run again" in caplog.text and "w0.5_seed0" in caplog.text
    assert "another version of the circuitsim code" in caplog.text
    stored = json.loads((tmp_path / "runs" / "w0.5_seed0" / "metrics.json").read_text())
    assert stored["run"]["versions"]["source"] == "0123456789abcdef"
    run_points(_points(0.5), [0, 1], tmp_path, measures, progress=False)
    assert _fake_simulate.calls == 4                                          # same code: resumed


def test_run_points_names_a_failed_run_and_the_table_lists_it(tmp_path, monkeypatch):
    import circuitsim
    from circuitsim.experiments import run_points

    monkeypatch.setattr(circuitsim, "simulate", _fake_simulate)
    _fake_simulate.calls = 0
    with pytest.raises(RuntimeError, match="the fake run failed"):
        run_points(_points(0.5, 9), [0], tmp_path, {"gpi": "populations.gpi.rate_hz"}, progress=False)
    frame = circuitsim.collect(tmp_path / "runs", write=False)
    assert dict(zip(frame.job, frame.status)) == {"w0.5_seed0": "ok", "w9_seed0": "failed"}
    assert "the fake run failed" in frame.set_index("job").error["w9_seed0"]


def test_run_points_refuses_bad_launch_options(tmp_path):
    from circuitsim.experiments import argument_parser, launch_options, run_points

    with pytest.raises(ValueError, match="--launcher: unknown launcher 'pbs'"):
        run_points(_points(0.5), [0], tmp_path, {}, launcher="pbs")
    with pytest.raises(ValueError, match="--jobs"):
        run_points(_points(0.5), [0], tmp_path, {}, jobs=0)
    parser = argument_parser("doc", "out")
    args = parser.parse_args(["--jobs", "3", "--launcher", "slurm", "--launcher-override",
                              "hydra.launcher.partition=debug"])
    assert launch_options(args) == {"jobs": 3, "launcher": "slurm",
                                    "launcher_overrides": ["hydra.launcher.partition=debug"]}
    assert parser.parse_args([]).jobs >= 1
    with pytest.raises(SystemExit):
        parser.parse_args(["--jobs", "0"])


def test_hydra_value_writes_blocks_in_hydras_grammar_and_composes_to_them():
    """The override value experiments build protocols with (virtual_patients' cTBS train): a
    list of blocks written by hydra_value composes back to the same blocks."""
    from omegaconf import OmegaConf

    from circuitsim.schema import compose

    blocks = [{"type": "theta_burst", "site": "cerebellum", "intensity": "0%MSO", "time_scale": 0.05,
               "start": "0.5*second", "train_duration": "40*second"}]
    text = hydra_value(blocks)
    assert text == ("[{type: theta_burst, site: cerebellum, intensity: 0%MSO, time_scale: 0.05, "
                    "start: 0.5*second, train_duration: 40*second}]")
    cfg = compose(["stim=ctbs_cerebellum", f"stim.ctbs_cerebellum.protocol={text}"])
    assert OmegaConf.to_container(cfg.stim.ctbs_cerebellum.protocol) == blocks
