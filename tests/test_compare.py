import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from circuitsim.compare import comparison_table, flatten_metrics, main
from circuitsim.io import results as rio


def _write(folder, gpi_rate, selectivity):
    res = rio.Result(metrics={"populations": {"gpi": {"rate_hz": gpi_rate, "cv_isi": 0.2}},
                              "channels": {"selectivity": selectivity, "commanded": "left"},
                              "run": {"seed": 0, "duration_s": 1.0, "condition": "x"}},
                     config={}, spikes={"gpi": (np.array([0], np.int32), np.array([0.5]))}, sizes={"gpi": 1},
                     channels={"gpi": np.array([0])})
    rio.prepare_folder(folder)
    rio.write_data(folder, res)
    rio.finish(folder, res)


def test_flatten_keeps_numbers_and_nulls():
    flat = flatten_metrics({"a": {"b": 1, "c": None, "d": "text", "e": [1, 2]}, "f": 2.5, "g": True})
    assert flat["a.b"] == 1.0 and np.isnan(flat["a.c"]) and flat["f"] == 2.5
    assert "a.d" not in flat and "a.e" not in flat and "g" not in flat


def test_compare_command_writes_differences(tmp_path):
    _write(tmp_path / "a", 80.0, 1.0)
    _write(tmp_path / "b", 60.0, 0.25)
    assert main([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "cmp")]) == 0
    rows = {r["metric"]: r for r in csv.DictReader(open(tmp_path / "cmp" / "compare.csv"))}
    assert float(rows["populations.gpi.rate_hz"]["diff1"]) == pytest.approx(-20.0)
    assert float(rows["channels.selectivity"]["diff1"]) == pytest.approx(-0.75)
    assert (tmp_path / "cmp" / "compare.png").stat().st_size > 5000
    assert "populations.gpi.rate_hz" in (tmp_path / "cmp" / "compare.md").read_text()


def test_compare_refuses_incomplete_runs(tmp_path):
    _write(tmp_path / "a", 80.0, 1.0)
    (tmp_path / "killed").mkdir()
    exe = Path(sys.executable).parent / "circuitsim-compare"
    out = subprocess.run([str(exe), str(tmp_path / "a"), str(tmp_path / "killed"), "--out", str(tmp_path / "c")],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "incomplete run" in out.stderr
    assert not (tmp_path / "c").exists()
