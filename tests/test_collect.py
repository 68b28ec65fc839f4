"""One results pipeline (issue 18): every run folder records what it is, so circuitsim-collect and
circuitsim.collect() turn any folder of runs into one table, with status rows for failed, killed
and missing runs."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import circuitsim
from circuitsim import compose, simulate
from circuitsim.io import collect as col

BIN = Path(sys.executable).parent
PARAM = "circuit.pathways.stn_gpe.weight_scale"


def _finished(folder: Path, seed: int, rate: float, overrides=None, config=None) -> Path:
    """A run folder as simulate() leaves it (record, config, metrics), without simulating."""
    import yaml

    folder.mkdir(parents=True)
    config = config or {"sim": {"seed": seed}}
    col.record_run(folder, config, overrides)
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / "metrics.json").write_text(json.dumps({"run": {"seed": seed},
                                                     "populations": {"gpi": {"rate_hz": rate}}}))
    return folder


def test_config_diff_is_what_overrides_change(default_cfg):
    cfg = compose([f"{PARAM}=1.5", "sim.seed=3"])
    assert col.config_diff(cfg) == ["sim.seed=3", f"{PARAM}=1.5"]
    assert col.config_diff(default_cfg) == ["sim.seed=0"]
    dbs = col.config_diff(compose(["stim=dbs_gpi"]))
    assert "+stim.dbs_gpi.frequency=130*Hz" in dbs


def test_every_status_and_the_recorded_parameters(tmp_path):
    runs = tmp_path / "runs"
    _finished(runs / "a_seed0", 0, 70.0, overrides=[f"{PARAM}=0.5", "sim.seed=0"])
    _finished(runs / "b_seed0", 0, 80.0, overrides=[f"{PARAM}=1.5", "sim.seed=0"])
    killed = runs / "c_seed0"            # started (its record written first), never finished
    killed.mkdir(parents=True)
    col.record_run(killed, {}, [f"{PARAM}=2", "sim.seed=0"])
    failed = runs / "d_seed0"
    failed.mkdir()
    col.record_run(failed, {}, [f"{PARAM}=-1", "sim.seed=0"])
    (failed / col.ERROR_LOG).write_text("Traceback ...\nConfigError: circuit.pathways.stn_gpe.weight_scale: must be >= 0\n")
    col.write_plan(runs, {name: [f"{PARAM}={w}", "sim.seed=0"] for name, w in
                          (("a_seed0", 0.5), ("b_seed0", 1.5), ("c_seed0", 2), ("d_seed0", -1), ("e_seed0", 3))})

    frame = circuitsim.collect(runs)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.job) == ["a_seed0", "b_seed0", "c_seed0", "d_seed0", "e_seed0"]   # the plan's order
    assert list(frame.status) == ["ok", "ok", "incomplete", "failed", "missing"]
    assert list(frame[PARAM]) == [0.5, 1.5, 2.0, -1.0, 3.0]
    assert "must be >= 0" in frame.error[3] and frame.error[4]
    assert frame["populations.gpi.rate_hz"][:2].tolist() == [70.0, 80.0]
    assert math.isnan(frame["populations.gpi.rate_hz"][2])
    on_disk = pd.read_parquet(runs / "runs.parquet")
    assert list(on_disk.status) == list(frame.status) and (runs / "runs.csv").is_file()


def test_a_folder_without_a_record_is_read_through_its_config(tmp_path, default_cfg):
    from circuitsim.api import _plain_config

    config = _plain_config(compose([f"{PARAM}=1.25", "sim.seed=4"]))
    folder = _finished(tmp_path / "old", 4, 60.0, config=config)
    (folder / col.RECORD).unlink()       # as written before runs recorded themselves
    _finished(tmp_path / "new", 0, 50.0, config=_plain_config(default_cfg))
    frame = circuitsim.collect(tmp_path, write=False)
    assert list(frame.job) == ["new", "old"]
    assert frame.set_index("job")[PARAM]["old"] == 1.25 and frame.set_index("job").seed["old"] == 4.0
    assert not (tmp_path / "runs.csv").exists()


def test_cli_on_a_folder_of_runs(tmp_path):
    _finished(tmp_path / "r1", 1, 10.0, overrides=["sim.seed=1"])
    out = subprocess.run([str(BIN / "circuitsim-collect"), str(tmp_path), "--no-plots"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert pd.read_csv(tmp_path / "runs.csv").seed.tolist() == [1.0]
    empty = tmp_path / "empty"
    empty.mkdir()
    out = subprocess.run([str(BIN / "circuitsim-collect"), str(empty)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr


@pytest.mark.slow
def test_collect_over_runs_written_by_simulate(tmp_path):
    """Acceptance of issue 18: folders written by simulate(out_dir=...) give one row per run with its
    parameters (recorded as the config's differences from the defaults)."""
    short = ["sim.duration=0.3s", "sim.progress=false", "readout.plots=[]"]
    points = [(0.5, 0), (1.5, 0), (1.5, 1)]
    results = {}
    for w, seed in points:
        folder = tmp_path / f"w{w}_s{seed}"
        results[folder.name] = simulate(compose([*short, f"{PARAM}={w}", f"sim.seed={seed}"]), out_dir=folder)
    frame = circuitsim.collect(tmp_path)
    assert len(frame) == 3 and set(frame.status) == {"ok"}
    by = frame.set_index("job")
    for w, seed in points:
        row = by.loc[f"w{w}_s{seed}"]
        assert row[PARAM] == w and row.seed == seed and row["sim.duration"] == "0.3s"
        res = results[f"w{w}_s{seed}"]
        assert row["populations.gpi.rate_hz"] == pytest.approx(res.metrics["populations"]["gpi"]["rate_hz"])
