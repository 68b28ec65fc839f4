"""Sweeps on this machine (issue 6): Hydra multiruns with the basic and the joblib launcher,
circuitsim-collect, resume after a kill, the Optuna fit, and bitwise-identical reruns."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

BIN = Path(sys.executable).parent
SHORT = ["sim.duration=0.3s", "sim.progress=false", "readout.plots=[]"]
POINTS = ["circuit.pathways.stn_gpe.weight_scale=0.5,1", "sim.seed=0,1"]
PARAM = "circuit.pathways.stn_gpe.weight_scale"


def _run(args, cwd, env=None, timeout=300, tool="circuitsim"):
    out = subprocess.run([str(BIN / tool), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                         env=env)
    return out


def _ok(out):
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    return out


def _spikes(folder: Path) -> dict:
    with np.load(folder / "spikes.npz") as z:
        return {k: z[k].copy() for k in z.files}


def _assert_same_spikes(a: Path, b: Path) -> None:
    sa, sb = _spikes(a), _spikes(b)
    assert sa.keys() == sb.keys()
    for k in sa:
        if k == "_run_id":   # each run's own identity (circuitsim.io.results), not its data
            assert sa[k] != sb[k]
            continue
        assert sa[k].dtype == sb[k].dtype and np.array_equal(sa[k], sb[k]), f"{a} vs {b}: {k} differs"


def _table(sweep: Path) -> dict:
    import pyarrow.parquet as pq

    return pq.read_table(sweep / "runs.parquet").to_pydict()


@pytest.fixture(scope="module")
def basic_sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("basic")
    _ok(_run(["-m", *POINTS, *SHORT, f"hydra.sweep.dir={tmp / 'sweep'}"], cwd=tmp))
    return tmp / "sweep"


@pytest.mark.slow
def test_basic_multirun_and_collect(basic_sweep):
    out = _ok(_run([str(basic_sweep)], cwd=basic_sweep, tool="circuitsim-collect", timeout=120))
    assert "4 runs (4 ok)" in out.stdout + out.stderr
    table = _table(basic_sweep)
    assert table["job"] == ["0", "1", "2", "3"]
    assert table["status"] == ["ok"] * 4 and table["error"] == [""] * 4
    assert table[PARAM] == [0.5, 0.5, 1.0, 1.0]
    assert table["sim.seed"] == [0.0, 1.0, 0.0, 1.0] and table["seed"] == [0.0, 1.0, 0.0, 1.0]
    assert table["run.seed"] == table["seed"]
    assert table["folder"] == [str(basic_sweep / str(k)) for k in range(4)]
    assert all(v > 0 for v in table["populations.gpi.rate_hz"])
    assert "lfp.gpi.band_power.beta" in table and "sim.duration" in table
    csv_header = (basic_sweep / "runs.csv").read_text().splitlines()[0].split(",")
    assert csv_header == list(table)
    assert (basic_sweep / "sweep_lines.png").stat().st_size > 1000
    # the seed is in every run folder
    for k, seed in enumerate([0, 1, 0, 1]):
        assert json.loads((basic_sweep / str(k) / "metrics.json").read_text())["run"]["seed"] == seed


@pytest.mark.slow
def test_parallel_launcher_gives_bitwise_identical_runs(basic_sweep, tmp_path):
    """Two jobs at once (joblib, separate processes, one shared build cache under its lock) reproduce
    the sequential sweep exactly, and so does a single run of the same config outside any sweep."""
    _ok(_run(["-m", *POINTS, *SHORT, "hydra/launcher=local_parallel", "hydra.launcher.n_jobs=2",
              f"hydra.sweep.dir={tmp_path / 'par'}"], cwd=tmp_path))
    for k in range(4):
        _assert_same_spikes(basic_sweep / str(k), tmp_path / "par" / str(k))
    _ok(_run([f"{PARAM}=1", "sim.seed=1", *SHORT, f"hydra.run.dir={tmp_path / 'single'}"], cwd=tmp_path))
    _assert_same_spikes(basic_sweep / "3", tmp_path / "single")


@pytest.mark.slow
def test_killed_sweep_resumes_without_recomputing(tmp_path):
    # a private build cache: the kill may hit a compilation, which must not touch the shared cache
    env = dict(os.environ, CIRCUITSIM_CACHE=str(tmp_path / "cache"))
    sweep = tmp_path / "sweep"
    args = [str(BIN / "circuitsim"), "-m", *POINTS, *SHORT, f"hydra.sweep.dir={sweep}"]
    with open(tmp_path / "first.log", "w") as log:
        proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + 240
            while not (sweep / "0" / "metrics.json").exists():
                assert proc.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "first run did not finish"
                time.sleep(0.1)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert not (sweep / "3" / "metrics.json").exists()
    finished = (sweep / "0" / "metrics.json").stat().st_mtime_ns

    _ok(_run([str(sweep), "--no-plots"], cwd=tmp_path, tool="circuitsim-collect", timeout=120))
    table = _table(sweep)
    assert table["job"] == ["0", "1", "2", "3"], table["job"]   # unstarted points are listed as missing
    assert table["status"][0] == "ok"
    assert set(table["status"][1:]) <= {"incomplete", "missing"} and all(table["error"][1:])

    out = _ok(_run(args[1:], cwd=tmp_path, env=env))
    assert "resume:" in (sweep / "0" / "circuitsim.log").read_text()
    assert (sweep / "0" / "metrics.json").stat().st_mtime_ns == finished   # not recomputed
    _ok(_run([str(sweep)], cwd=tmp_path, tool="circuitsim-collect", timeout=120))
    assert _table(sweep)["status"] == ["ok"] * 4
    # a second re-run recomputes nothing
    out = _ok(_run(args[1:], cwd=tmp_path, env=env))
    assert (out.stdout + out.stderr).count("resume:") == 4


@pytest.mark.slow
def test_fit_sweeper_improves_loss_and_writes_best_config(tmp_path):
    targets = tmp_path / "cfg" / "fit"
    targets.mkdir(parents=True)
    (targets / "toy.yaml").write_text("targets:\n  populations.gpi.rate_hz: {value: 40, tol: 5}\n")
    sweep = tmp_path / "fit"
    out = _ok(_run(["-m", "--config-dir", str(tmp_path / "cfg"), "hydra/sweeper=fit", "+fit=toy",
                    "circuit.pathways.stn_gpi.weight_scale=interval(0.0,1.5)", "hydra.sweeper.n_trials=4",
                    "hydra.sweeper.sampler.seed=4",   # first trial at a high scale, far from the target
                    *SHORT, f"hydra.sweep.dir={sweep}"], cwd=tmp_path))
    losses = [json.loads((sweep / str(k) / "fit_loss.json").read_text())["loss"] for k in range(4)]
    assert min(losses) < losses[0], losses             # the fit found a better point than its first
    rates = [json.loads((sweep / str(k) / "metrics.json").read_text())["populations"]["gpi"]["rate_hz"]
             for k in range(4)]
    assert losses == pytest.approx([((r - 40) / 5) ** 2 for r in rates])
    best = int(np.argmin(losses))
    results = (sweep / "optimization_results.yaml").read_text()
    assert f"best_value: {losses[best]}" in results.replace("'", "")
    overrides = (sweep / "best_overrides.txt").read_text().split()
    scale = [o for o in overrides if o.startswith("circuit.pathways.stn_gpi.weight_scale=")]
    assert len(scale) == 1 and "sim.duration=0.3s" in overrides
    # the best config is usable directly, as overrides and as an experiment-style file
    value = float(scale[0].split("=")[1])
    cfg = _ok(_run(["--config-dir", str(sweep), "+best=params", "--cfg", "job", "--package",
                    "circuit.pathways.stn_gpi"], cwd=tmp_path, timeout=60)).stdout
    assert f"weight_scale: {value}" in cfg
    # the table of a fit has the loss
    _ok(_run([str(sweep), "--no-plots"], cwd=tmp_path, tool="circuitsim-collect", timeout=120))
    assert _table(sweep)["loss"] == pytest.approx(losses)
