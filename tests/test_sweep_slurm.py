"""`hydra/launcher=slurm` against a real single-node SLURM started on localhost (tests/slurm/cluster.py):
a 2x2 sweep as a job array, and the failure path (a crashing job and a cancelled one) that must end
the sweep with an error, not hang it, and be listed by circuitsim-collect."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "slurm"))
import cluster as local_slurm  # noqa: E402

from test_sweep_local import BIN, PARAM, POINTS, SHORT, _assert_same_spikes, _ok, _run, _table  # noqa: E402

SLURM = ["hydra/launcher=slurm", "hydra.launcher.partition=debug", "hydra.launcher.mem_gb=1",
         "hydra.launcher.timeout_min=5"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    from circuitsim.device import default_cache_dir

    root = tmp_path_factory.mktemp("slurm")
    c = local_slurm.LocalSlurm(root / "cluster")
    try:
        c.start(timeout=60)
    except local_slurm.Unavailable as err:
        pytest.skip(f"no local SLURM cluster: {err}")
    # jobs share the (node-local) build cache of the other tests
    c.env["CIRCUITSIM_CACHE"] = str(default_cache_dir())
    try:
        yield c
    finally:
        c.stop()


def test_slurm_job_array_sweep(slurm, tmp_path):
    sweep = tmp_path / "sweep"
    _ok(_run(["-m", *SLURM, *POINTS, *SHORT, f"hydra.sweep.dir={sweep}"], cwd=tmp_path, env=slurm.env,
             timeout=300))
    assert list((sweep / ".submitit").iterdir()), "no submitit logs: did the jobs go through SLURM?"
    acct = slurm.wait_accounted(lambda out: out.count("COMPLETED") >= 4)
    assert acct.count("COMPLETED") >= 4, acct
    _ok(_run([str(sweep)], cwd=tmp_path, tool="circuitsim-collect", timeout=120))
    table = _table(sweep)
    assert table["status"] == ["ok"] * 4 and table["seed"] == [0.0, 1.0, 0.0, 1.0]
    assert table[PARAM] == [0.5, 0.5, 1.0, 1.0]
    # same config and seed, run here outside any sweep: the same spikes
    _ok(_run([f"{PARAM}=1", "sim.seed=1", *SHORT, f"hydra.run.dir={tmp_path / 'single'}"], cwd=tmp_path))
    _assert_same_spikes(sweep / "3", tmp_path / "single")


def test_slurm_failed_and_cancelled_jobs_end_the_sweep_and_are_listed(slurm, tmp_path):
    sweep = tmp_path / "sweep"
    # job 0 crashes (invalid value: exits without a result), job 1 runs, job 2 is cancelled while pending
    args = [str(BIN / "circuitsim"), "-m", *SLURM, "hydra.launcher.array_parallelism=1",
            f"{PARAM}=-1,1,1.5", *SHORT, f"hydra.sweep.dir={sweep}"]
    with open(tmp_path / "sweep.log", "w") as log:
        proc = subprocess.Popen(args, cwd=tmp_path, env=slurm.env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            array = ""
            while not array:
                assert time.monotonic() < deadline and proc.poll() is None, (tmp_path / "sweep.log").read_text()
                array = slurm.run("squeue", "-h", "-o", "%F").stdout.strip().split("\n")[0]
                time.sleep(0.2)
            out = slurm.run("scancel", f"{array}_2")
            assert out.returncode == 0, out.stderr
            rc = proc.wait(timeout=240)   # submitit must see the failures through sacct, not wait forever
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    log_text = (tmp_path / "sweep.log").read_text()
    assert rc != 0, log_text[-3000:]
    slurm.wait_idle(timeout=180)
    acct = slurm.wait_accounted(lambda out: "FAILED" in out and "COMPLETED" in out, "-j", array)
    assert "FAILED" in acct and "COMPLETED" in acct, acct   # (a task cancelled while pending may not be listed)

    out = _ok(_run([str(sweep), "--no-plots"], cwd=tmp_path, tool="circuitsim-collect", timeout=120))
    table = _table(sweep)
    assert table["job"] == ["0", "1", "2"], table
    assert table["status"][0] == "failed" and "weight_scale" in table["error"][0], table["error"]
    assert table["status"][1] == "ok"
    assert table["status"][2] in ("missing", "incomplete", "failed") and table["error"][2]
    assert "run 0: failed" in out.stdout + out.stderr


def test_experiment_points_through_slurm_and_resume(slurm, tmp_path):
    """An experiment script sends its points through hydra/launcher=slurm, one SLURM job per run, and
    builds its tables from them; run again, it resumes (nothing is submitted). pathway_sensitivity's
    full variant restricted to one circuit, one pathway and one scale: 2 runs of 2 s."""
    import pandas as pd

    script = Path(__file__).resolve().parents[1] / "experiments" / "pathway_sensitivity" / "run.py"
    out = tmp_path / "exp"
    args = [sys.executable, str(script), "--out", str(out), "--circuits", "healthy", "--pathways", "gpi_thal",
            "--scales", "0.5", "--seeds", "0", "--launcher", "slurm",
            *[f"--launcher-override={o}" for o in SLURM[1:]]]
    first = subprocess.run(args, cwd=tmp_path, env=slurm.env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, (first.stdout + first.stderr)[-4000:]
    submitted = sorted(p.name for p in (out / "runs" / ".submitit").iterdir())
    assert submitted, "no submitit logs: did the runs go through SLURM?"
    acct = slurm.wait_accounted(lambda text: text.count("COMPLETED") >= 2)
    assert acct.count("COMPLETED") >= 2, acct
    runs = pd.read_parquet(out / "runs" / "runs.parquet")
    assert sorted(runs.job) == ["healthy_baseline_seed0", "healthy_gpi_thal_x0.5_seed0"]
    assert set(runs.status) == {"ok"}
    table = pd.read_csv(out / "table.csv")
    assert list(table.pathway) == ["gpi_thal"] and table["severity_x0.5_mean"].notna().all()

    again = subprocess.run(args, cwd=tmp_path, env=slurm.env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    assert sorted(p.name for p in (out / "runs" / ".submitit").iterdir()) == submitted   # nothing resubmitted
    assert "resumed" in again.stderr
