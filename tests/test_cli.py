"""The `circuitsim` command: runs from any directory, writes a run folder, fails clearly on bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from circuitsim.plots import background

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
    # a single run returns once metrics.json is written; its figures follow from a detached child
    # that holds the folder's writer lock until the last one is saved
    assert "figures: drawn in the background" in out.stdout + out.stderr
    assert background.wait_for_folder(folder)
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


def _one_line_refusal(out, tmp_path, fragment):
    lines = [line for line in (out.stdout + out.stderr).splitlines() if line.strip()]
    assert out.returncode == 2, out.stdout + out.stderr
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert fragment in lines[0], lines
    assert not list(tmp_path.rglob("metrics.json"))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("args, fragment", [
    # issue 21: each was silently accepted, hung or ended in a traceback
    (["+circuit.pathways.stn_gpe.wieght=2nS"], "circuit.pathways.stn_gpe.wieght: unknown key; did you mean 'weight'?"),
    (["circuit.pathways.nope_gpe.weight_scale=2"], "circuit.pathways.nope_gpe: unknown key"),
    (["circuit.scale=inf"], "circuit.scale"),
    (["sim.duration=1e400s"], "sim.duration"),
    (["circuit.populations.gpi.background.rate=1e12Hz"], "circuit.populations.gpi.background.rate"),
    (["task=turn_left", "task.command.rate=1e400Hz"], "task.command.rate"),
    (["circuit.scale=1e6"], "+sim.allow_large=true"),
    (["circuit.populations.gpi.n=1e9"], "circuit.populations.gpi.n"),
    (["condition=nope"], "condition"),
    (["cohort=quick"], "cohort: a cohort is not a simulation override; run one with python "
                       "experiments/virtual_patients/run.py --cohort"),
])
def test_bad_input_exits_2_with_one_line_naming_the_field(tmp_path, args, fragment):
    _one_line_refusal(_run([*args, f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path), tmp_path, fragment)


@pytest.mark.timeout(300)
def test_yaml_error_in_a_config_dir_is_one_line_with_file_and_line(tmp_path):
    (tmp_path / "mine" / "condition").mkdir(parents=True)
    broken = tmp_path / "mine" / "condition" / "broken.yaml"
    broken.write_text("circuit:\n  pathways:\n    stn_gpe: {weight_scale: 2\n  bad: [\n")
    out = _run([f"--config-dir={tmp_path / 'mine'}", "condition=broken", f"hydra.run.dir={tmp_path / 'run'}"],
               cwd=tmp_path)
    _one_line_refusal(out, tmp_path, f"{broken}:4:")


def test_help_lists_only_run_groups(tmp_path):
    """configs/cohort/ holds cohort files for the virtual-patients experiment, not a run's group."""
    out = _run(["--help"], cwd=tmp_path)
    assert out.returncode == 0 and "condition:" in out.stdout
    assert "cohort" not in out.stdout



@pytest.mark.timeout(600)
def test_a_run_in_a_slurm_job_waits_for_its_figures(tmp_path):
    """Slurm ends every process of a job step when its main process exits: there the command
    saves its figures before it returns (they are drawn by a child all the same)."""
    import os

    folder = tmp_path / "run"
    env = {**os.environ, "SLURM_JOB_ID": "12345"}
    out = subprocess.run([str(BIN), f"hydra.run.dir={folder}", "circuit.scale=0.25", "sim.duration=0.3s",
                          "sim.transient=0.1s", "sim.progress=false", "readout.plots=[raster,rates]"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "drawn in the background" not in out.stdout + out.stderr
    assert "slurm job 12345" in (folder / "circuitsim.log").read_text()
    assert (folder / "raster.png").stat().st_size > 1000 and (folder / "rates.png").stat().st_size > 1000


@pytest.mark.timeout(600)
def test_a_finished_run_resumes_but_not_one_made_by_other_code(tmp_path):
    """The command resumes a finished run folder made with the same config by the same code, and
    refuses (exit 2, naming the reason and the fix) one made by another version of the code,
    leaving it as it was."""
    run = tmp_path / "run"
    args = ["circuit.scale=0.25", "sim.duration=0.3s", "sim.transient=0.1s", "readout.plots=[]",
            "sim.progress=false", f"hydra.run.dir={run}"]
    first = _run(args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    again = _run(args, cwd=tmp_path)
    assert again.returncode == 0 and "resume:" in again.stdout + again.stderr, again.stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["run"]["versions"]["source"]
    metrics["run"]["versions"]["source"] = "0123456789abcdef"
    (run / "metrics.json").write_text(json.dumps(metrics))
    before = (run / "metrics.json").read_bytes()
    out = _run(args, cwd=tmp_path)
    text = out.stdout + out.stderr
    assert out.returncode == 2, text[-3000:]
    assert "another version of the circuitsim code (source 0123456789abcdef" in text and "+resume=false" in text
    assert "Traceback" not in text and (run / "metrics.json").read_bytes() == before
