"""The `circuitsim` command: runs from any directory, writes a run folder, fails clearly on bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent / "circuitsim"


def _run(args, cwd):
    return subprocess.run([str(BIN), *args], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_default_command_writes_a_run_folder(tmp_path):
    out = _run(["sim.seed=3", "circuit.pathways.stn_gpe.weight_scale=1.5"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    folders = [p.parent for p in (tmp_path / "outputs").rglob("metrics.json")]
    assert len(folders) == 1
    folder = folders[0]
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["run"]["seed"] == 3 and metrics["run"]["duration_s"] == pytest.approx(2.0)
    for name in ("raster.png", "rates.png", "config.yaml", "spikes.npz", ".hydra/config.yaml"):
        assert (folder / name).is_file(), name
    assert "simulated" in out.stdout + out.stderr  # progress display


@pytest.mark.parametrize("override, fragment", [
    ("sim.duration=5", "sim.duration"),
    ("circuit.pathways.stn_gpe.weight=-1*nS", "circuit.pathways.stn_gpe.weight"),
    ("circuit.pathways.nope_gpe.weight_scale=2", "nope_gpe"),
    ("circuit.populations.stn.n=-4", "circuit.populations.stn.n"),
])
def test_bad_input_exits_non_zero_naming_the_field(tmp_path, override, fragment):
    out = _run([override], cwd=tmp_path)
    assert out.returncode != 0
    assert fragment in out.stdout + out.stderr
    assert not list(tmp_path.rglob("metrics.json"))
