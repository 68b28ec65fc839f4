"""Reliability (issue 21, parts 3-6 and 8; issue 18, part 5): one writer per run folder, run ids
that keep a folder from mixing two runs, no orphaned compiled programs, a cache that heals,
clear I/O errors, and output files that follow the umask.

The fast tests drive the result-folder and cache-check code directly (fake builds, monkeypatched
writes); the slow ones run the real compiled program (the structure the identity tests use).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from circuitsim import compose, device, load_result, simulate
from circuitsim._version import source_digest
from circuitsim.errors import ResultBusyError, ResultError, StorageError
from circuitsim.io import results as rio

BIN = Path(sys.executable).parent / "circuitsim"
REPO = Path(__file__).resolve().parents[1]
# the small circuit of tests/test_performance_identity.py: its program is compiled once and shared
BASE = ["circuit.scale=0.25", "sim.duration=0.4s", "sim.transient=0.1s", "sim.progress=false",
        "readout.plots=[]", "readout.muscle.enabled=false", "task=turn_left",
        "task.command.start=0.15s", "task.command.stop=0.3s"]
LONG = ["sim.duration=600s", "sim.transient=0.1s"]   # a run that is still going when the test stops it


def _fake_result(seed: int = 1, lfp: bool = False) -> rio.Result:
    res = rio.Result(metrics={"populations": {"a": {"rate_hz": 1.0}},
                              "run": {"seed": seed, "duration_s": 1.0, "versions": {"source": source_digest()}}},
                     config={"sim": {"seed": seed}},
                     spikes={"a": (np.array([0, 1], np.int32), np.array([0.1, 0.2 + seed]))},
                     sizes={"a": 2}, rates={"a": np.ones(10) * seed}, rate_dt=0.1,
                     channels={"a": np.array([-1, -1])})
    if lfp:
        res.lfp = {"stn": np.zeros(5)}
    return res


def _write(folder: Path, res: rio.Result, overwrite: bool = False) -> Path:
    folder = rio.prepare_folder(folder, overwrite=overwrite)
    rio.write_data(folder, res)
    rio.finish(folder, res)
    return folder


def _holder(folder: Path) -> subprocess.Popen:
    """Another process that takes the folder's writer lock and keeps it until its stdin closes."""
    code = textwrap.dedent(f"""
        import sys
        from circuitsim.io import results as rio
        rio.prepare_folder({str(folder)!r})
        print("locked", flush=True)
        sys.stdin.read()
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def _release(proc: subprocess.Popen) -> None:
    proc.stdin.close()
    proc.wait(timeout=60)


# ------------------------------------------------------------------------- umask (issue 18.5, 21.8)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_output_files_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        folder = _write(tmp_path / "run", _fake_result(lfp=True))
    finally:
        os.umask(old)
    for name in (rio.METRICS, rio.CONFIG, rio.SPIKES, rio.RATES, rio.LFP):
        assert stat.S_IMODE((folder / name).stat().st_mode) == mode, name


def test_stat_prints_644_under_umask_022(tmp_path):
    """The acceptance check of issue 18, with the tool a user would run."""
    old = os.umask(0o022)
    try:
        folder = _write(tmp_path / "run", _fake_result())
    finally:
        os.umask(old)
    for name in (rio.METRICS, rio.CONFIG, rio.SPIKES):
        out = subprocess.run(["stat", "-c", "%a", str(folder / name)], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "644", name


# ------------------------------------------------------------------------- one writer per folder


def test_a_second_writer_is_refused_while_the_first_writes(tmp_path):
    folder = tmp_path / "run"
    holder = _holder(folder)
    try:
        with pytest.raises(ResultBusyError, match="another run is writing into this folder"):
            rio.prepare_folder(folder)
        with pytest.raises(ResultBusyError):
            simulate(compose(BASE), out_dir=folder)   # refused before anything is built
        assert not rio.is_complete(folder) and not (folder / rio.CONFIG).exists()
    finally:
        _release(holder)
    _write(folder, _fake_result())   # the first writer is gone: the folder is free again
    assert rio.is_complete(folder)


def test_cli_refuses_a_second_writer_with_exit_2_and_one_line(tmp_path):
    folder = tmp_path / "run"
    holder = _holder(folder)
    try:
        out = subprocess.run([str(BIN), f"hydra.run.dir={folder}", *BASE], cwd=tmp_path, capture_output=True,
                             text=True, timeout=600)
    finally:
        _release(holder)
    assert out.returncode == 2, out.stderr[-2000:]
    text = out.stdout + out.stderr
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if "another run is writing" in line]
    assert len(lines) == 1 and str(folder) in lines[0]
    assert not rio.is_complete(folder)


def test_a_file_system_without_locks_runs_with_one_warning(tmp_path, monkeypatch, caplog):
    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(rio.fcntl, "flock", no_locks)
    monkeypatch.setattr(rio, "_WARNED_NO_LOCKS", [])
    caplog.set_level(logging.WARNING, logger="circuitsim.io.results")
    for name in ("a", "b"):
        _write(tmp_path / name, _fake_result())
    assert rio.is_complete(tmp_path / "a") and rio.is_complete(tmp_path / "b")
    assert len([r for r in caplog.records if "cannot lock folders" in r.getMessage()]) == 1


def test_every_file_carries_the_run_id(tmp_path):
    res = _fake_result(lfp=True)
    folder = _write(tmp_path / "run", res)
    assert json.loads((folder / rio.METRICS).read_text())["run"]["run_id"] == res.run_id
    assert (folder / rio.CONFIG).read_text().splitlines()[0] == f"# circuitsim run_id: {res.run_id}"
    for name in (rio.SPIKES, rio.RATES, rio.LFP):
        with np.load(folder / name) as z:
            assert str(z[rio.RUN_ID_KEY]) == res.run_id, name
    back = load_result(folder)
    assert back.run_id == res.run_id and set(back.rates) == {"a"} and set(back.lfp) == {"stn"}


@pytest.mark.parametrize("name", [rio.CONFIG, rio.SPIKES, rio.RATES, rio.LFP])
def test_load_result_refuses_a_folder_with_files_of_two_runs(tmp_path, name):
    """The folder of issue 21: metrics.json from one run, a data file from another."""
    first = _write(tmp_path / "first", _fake_result(1, lfp=True))
    second = _write(tmp_path / "second", _fake_result(2, lfp=True))
    shutil.copy(second / name, first / name)
    with pytest.raises(ResultError, match=f"{name} is from another run than metrics.json") as err:
        load_result(first)
    assert "\n" not in str(err.value)


def test_a_data_file_without_run_id_beside_newer_metrics_is_refused(tmp_path):
    folder = _write(tmp_path / "run", _fake_result())
    np.savez(folder / rio.RATES, a=np.ones(3), _dt=np.array(0.1))   # e.g. left by an older writer
    with pytest.raises(ResultError, match="rates.npz is from another run"):
        load_result(folder)


def test_folders_of_older_versions_without_run_ids_still_load(tmp_path):
    folder = _write(tmp_path / "run", _fake_result())
    metrics = json.loads((folder / rio.METRICS).read_text())
    del metrics["run"]["run_id"]
    (folder / rio.METRICS).write_text(json.dumps(metrics))
    (folder / rio.CONFIG).write_text("sim:\n  seed: 1\n")
    for name in (rio.SPIKES, rio.RATES):
        with np.load(folder / name) as z:
            arrays = {k: z[k] for k in z.files if k != rio.RUN_ID_KEY}
        np.savez(folder / name, **arrays)
    assert load_result(folder).sizes == {"a": 2}


def test_overwriting_a_finished_run_leaves_none_of_its_files(tmp_path):
    folder = _write(tmp_path / "run", _fake_result(1, lfp=True))
    second = _fake_result(2, lfp=False)
    _write(folder, second, overwrite=True)
    assert not (folder / rio.LFP).exists()   # the first run's LFP is not passed off as the second's
    back = load_result(folder)
    assert back.run_id == second.run_id and back.metrics["run"]["seed"] == 2


def test_a_killed_runs_data_do_not_mix_with_the_next_run(tmp_path):
    folder = rio.prepare_folder(tmp_path / "run")
    rio.write_data(folder, _fake_result(1, lfp=True))   # killed before its metrics.json
    rio.release_folder(folder)
    second = _fake_result(2)
    _write(folder, second)
    assert not (folder / rio.LFP).exists()
    assert load_result(folder).run_id == second.run_id


# ------------------------------------------------------------------------- disk full


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_disk_full_while_writing_data_is_one_line_and_nothing_looks_finished(tmp_path, monkeypatch):
    folder = rio.prepare_folder(tmp_path / "run")
    monkeypatch.setattr(rio, "_write_npz", _enospc)   # every .npz is written through it
    with pytest.raises(StorageError) as err:
        rio.write_data(folder, _fake_result())
    message = str(err.value)
    assert "\n" not in message
    assert str(folder / rio.SPIKES) in message and "spike times" in message and "No space left" in message
    assert not rio.is_complete(folder)
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]   # no half-written file
    assert not (folder / rio.SPIKES).exists()


def test_disk_full_while_writing_metrics_leaves_no_metrics(tmp_path, monkeypatch):
    folder = rio.prepare_folder(tmp_path / "run")
    res = _fake_result()
    rio.write_data(folder, res)
    real_fdopen = os.fdopen

    class FullFile:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name):
            return getattr(self.fh, name)

    monkeypatch.setattr(rio.os, "fdopen", lambda fd, mode: FullFile(real_fdopen(fd, mode)))
    with pytest.raises(StorageError, match=r"could not write the run's metrics to .*metrics\.json: No space left"):
        rio.finish(folder, res)
    assert not rio.is_complete(folder)
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.undo()
    _write(folder, _fake_result())   # the failed writer gave up its lock


# ------------------------------------------------------------------------- the cache heals (fake builds)


def _fake_build(build_dir: Path, key: str, program: bytes = None) -> Path:
    """A build folder as _build leaves it, with a real ELF program (a copy of `true`)."""
    build_dir.mkdir(parents=True, exist_ok=True)
    (build_dir / "code_objects").mkdir(exist_ok=True)
    (build_dir / "main.cpp").write_text("int main() { return 0; }\n")
    (build_dir / "code_objects" / "x.cpp").write_text("// generated\n")
    (build_dir / "makefile").write_text("all:\n")
    main = build_dir / "main"
    if program is None:
        shutil.copy(shutil.which("true"), main)
    else:
        main.write_bytes(program)
    main.chmod(0o755)
    manifest = {"key": key, "static_arrays": {}, "function_arrays": [],
                "program_sha256": device._sha256(main), "sources_sha256": device._sources_sha256(build_dir)}
    (build_dir / device.COMPLETE_MARKER).write_text(json.dumps(manifest))
    return build_dir


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


CORRUPTIONS = {
    "truncated program": lambda b: _truncate(b / "main"),
    "empty program": lambda b: (b / "main").write_bytes(b""),
    "program not executable": lambda b: (b / "main").chmod(0o644),
    "program missing": lambda b: (b / "main").unlink(),
    "program changed": lambda b: (b / "main").write_bytes((b / "main").read_bytes() + b"\0"),
    "source changed": lambda b: (b / "code_objects" / "x.cpp").write_text("// edited\n"),
    "garbage manifest": lambda b: (b / device.COMPLETE_MARKER).write_bytes(b"\x00\xffnot json{"),
    "empty manifest": lambda b: (b / device.COMPLETE_MARKER).write_text(""),
    "list manifest": lambda b: (b / device.COMPLETE_MARKER).write_text("[]"),
    "manifest without arrays": lambda b: (b / device.COMPLETE_MARKER).write_text('{"key": "k1"}'),
}


def test_an_intact_build_passes_its_check(tmp_path):
    build = _fake_build(tmp_path / "k1", "k1")
    assert device._check_build(build, "k1")[0] == device.OK
    assert device._check_build(build, "k2")[0] == device.OTHER
    assert device._check_build(tmp_path / "none", "k1")[0] == device.ABSENT


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_a_damaged_build_fails_its_check(tmp_path, corruption):
    build = _fake_build(tmp_path / "k1", "k1")
    CORRUPTIONS[corruption](build)
    state, why, _ = device._check_build(build, "k1")
    assert state == device.BROKEN and why


def test_a_build_of_an_older_version_is_adopted_only_if_its_program_is_intact(tmp_path):
    build = _fake_build(tmp_path / "k1", "k1")
    manifest = json.loads((build / device.COMPLETE_MARKER).read_text())
    for field in ("program_sha256", "sources_sha256"):
        del manifest[field]
    (build / device.COMPLETE_MARKER).write_text(json.dumps(manifest))
    assert device._check_build(build, "k1")[0] == device.LEGACY
    _truncate(build / "main")
    assert device._check_build(build, "k1")[0] == device.BROKEN


class _Spec:
    """The parts of a RunSpec that _ensure_build reads."""

    def __init__(self, build_dir=None):
        self.sim = type("Sim", (), {"build_dir": build_dir})()


@pytest.mark.parametrize("corruption", ["truncated program", "garbage manifest", "list manifest",
                                        "program not executable", "source changed"])
@pytest.mark.parametrize("explicit", [False, True])
def test_a_damaged_build_is_rebuilt_in_a_fresh_folder_with_one_warning(tmp_path, monkeypatch, caplog,
                                                                       corruption, explicit):
    build = _fake_build(tmp_path / "build" / "k1", "k1")
    CORRUPTIONS[corruption](build)
    (build / "sentinel").write_text("a file of the broken folder")
    builds = []

    def fake_build(net, spec, build_dir, namespace, report, key):
        assert not build_dir.exists() or not any(build_dir.iterdir()), "built on top of the broken folder"
        builds.append(build_dir)
        _fake_build(build_dir, key)
        return {}

    monkeypatch.setattr(device, "_build", fake_build)
    caplog.set_level(logging.WARNING, logger="circuitsim.device")
    times = device.DeviceTimes()
    arrays, manifest = device._ensure_build(None, _Spec(str(build) if explicit else None), build, {}, None, "k1",
                                            times, lambda m: pytest.fail("a damaged build was reused"))
    assert builds == [build] and manifest["key"] == "k1"
    assert not (build / "sentinel").exists()                    # a fresh folder, not the broken one
    assert not list(build.parent.glob("k1.broken-*"))           # the broken one is gone
    assert device._check_build(build, "k1")[0] == device.OK
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "rebuilding it from scratch" in warnings[0].getMessage()
    # the next run reuses the healed build, without a warning
    caplog.clear()
    reused = []
    device._ensure_build(None, _Spec(), build, {}, None, "k1", device.DeviceTimes(), reused.append)
    assert len(reused) == 1 and builds == [build] and not caplog.records


def test_an_unfinished_build_in_the_cache_is_not_built_upon(tmp_path, monkeypatch):
    build = tmp_path / "build" / "k1"
    build.mkdir(parents=True)
    (build / "main").write_bytes(b"half a program")   # killed while compiling: no manifest
    monkeypatch.setattr(device, "_build", lambda net, spec, d, *a: (
        pytest.fail("built on top") if d.exists() else _fake_build(d, "k1"), {})[1])
    device._ensure_build(None, _Spec(), build, {}, None, "k1", device.DeviceTimes(), lambda m: pytest.fail())
    assert device._check_build(build, "k1")[0] == device.OK


# ------------------------------------------------------------------------- stale working folders


def test_a_working_folder_is_removed_only_when_its_processes_are_gone(tmp_path):
    runs = tmp_path / "runs"
    live = runs / "k-live"
    live.mkdir(parents=True)
    fd = device._claim_run_folder(live)
    # the lock is inherited by a child (as by the compiled program): alive while the child lives
    child = subprocess.Popen(["sleep", "600"], pass_fds=(fd,))
    try:
        os.close(fd)   # the Python owner is gone, its program is not
        assert device.remove_stale_runs(runs) == [] and live.exists()
    finally:
        child.kill()
        child.wait()
    assert device.remove_stale_runs(runs) == [live] and not live.exists()


# ------------------------------------------------------------------------- the wall-clock limit


def test_max_wall_time_is_validated():
    from circuitsim.errors import ConfigError
    from circuitsim.spec import build_spec

    assert build_spec(compose()).sim.max_wall_time is None
    assert build_spec(compose(["sim.max_wall_time=120*second"])).sim.max_wall_time == pytest.approx(120)
    for bad in ("0*second", "-1*second", "inf*second", "3"):
        with pytest.raises(ConfigError, match="sim.max_wall_time"):
            build_spec(compose([f"sim.max_wall_time={bad}"]))


def test_max_wall_time_does_not_stop_a_stored_run_from_resuming(tmp_path):
    res = _fake_result()
    res.config = {"sim": {"seed": 1, "max_wall_time": None}}
    folder = _write(tmp_path / "run", res)
    assert rio.stored_metrics(folder, {"sim": {"seed": 1, "max_wall_time": 60.0}}) is not None
    assert rio.stored_metrics(folder, {"sim": {"seed": 2, "max_wall_time": None}}) is None


def test_max_wall_time_stops_brian2s_runtime_loop():
    from circuitsim.errors import RunTimeoutError

    with pytest.raises(RunTimeoutError, match="sim.max_wall_time: the simulation ran longer than 1 s"):
        simulate(compose(["circuit.scale=0.25", "sim.device=runtime", "sim.codegen_target=numpy",
                          "sim.duration=600s", "sim.max_wall_time=1*second", "readout.muscle.enabled=false",
                          "sim.progress=false"]))


# ------------------------------------------------------------------------- real programs (slow)


def _children(pid: int, name: str = "main") -> list:
    """Live (not zombie) processes named ``name`` whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm == name and int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(predicate, what: str, limit_s: float = 600.0):
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"gave up waiting for {what}")


def _until_gone(pid: int, limit_s: float = 60.0) -> bool:
    end = time.monotonic() + limit_s
    while time.monotonic() < end and _running(pid):
        time.sleep(0.1)
    return not _running(pid)


def _start_program(args, cwd, cache=None):
    env = dict(os.environ)
    if cache is not None:
        env["CIRCUITSIM_CACHE"] = str(cache)
    log = Path(cwd) / "output.txt"   # (a file, not a pipe: a full pipe would block the run)
    with open(log, "w") as fh:
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT, text=True)
    proc.output = log

    def started():
        if proc.poll() is not None:
            pytest.fail(f"the run ended before its program started:\n{log.read_text()[-3000:]}")
        return _children(proc.pid)

    program = _wait_for(started, "the compiled program to start")[0]
    return proc, program


@pytest.mark.slow
def test_sigkill_of_python_leaves_no_compiled_program_running(tmp_path):
    code = f"from circuitsim import compose, simulate; simulate(compose({BASE + LONG!r}))"
    proc, program = _start_program([sys.executable, "-c", code], cwd=tmp_path)
    work = Path(os.readlink(f"/proc/{program}/cwd"))   # the run's working folder
    try:
        device.remove_stale_runs(work.parent)
        assert work.exists()   # in use: kept
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        assert _until_gone(program), "the compiled program outlived its Python process"
    finally:
        if _running(program):
            os.kill(program, signal.SIGKILL)
    # its working folder is stale now, and the next run's clean-up removes it
    assert work.exists()
    assert work in device.remove_stale_runs(work.parent) and not work.exists()


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_cli_stops_cleanly_on_sigint_and_sigterm(tmp_path, sig, code):
    folder = tmp_path / "run"
    proc, program = _start_program([str(BIN), f"hydra.run.dir={folder}", *BASE, *LONG], cwd=tmp_path)
    work = Path(os.readlink(f"/proc/{program}/cwd"))   # the run's working folder
    try:
        proc.send_signal(sig)
        proc.wait(timeout=120)
        text = proc.output.read_text()
        assert proc.returncode == code, text[-3000:]
        assert "Traceback" not in text and "unexpected error" not in text
        assert len([line for line in text.splitlines() if f"stopped by {sig.name}" in line]) == 1
        assert _until_gone(program), "the compiled program outlived the stopped command"
        assert not rio.is_complete(folder)
        assert not work.exists()   # removed by the stopped run itself
    finally:
        if _running(program):
            os.kill(program, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()


@pytest.mark.slow
def test_max_wall_time_stops_a_long_run_with_one_line(tmp_path):
    folder = tmp_path / "run"
    out = subprocess.run([str(BIN), f"hydra.run.dir={folder}", *BASE, *LONG, "sim.max_wall_time=2*second"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=900)
    text = out.stdout + out.stderr
    assert out.returncode == 2, text[-3000:]
    assert "Traceback" not in text
    assert len([line for line in text.splitlines() if "sim.max_wall_time" in line]) == 1
    assert not rio.is_complete(folder)


@pytest.mark.slow
def test_disk_full_in_a_real_run_is_one_line_with_the_path_and_no_result(tmp_path):
    folder = tmp_path / "run"
    script = textwrap.dedent(f"""
        import errno, os, sys
        import numpy as np
        def full(*a, **k):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        import circuitsim.io.results as rio
        rio._write_npz = full   # every .npz is written through it
        sys.argv = ["circuitsim", "hydra.run.dir={folder}", *{BASE!r}]
        from circuitsim.cli import main
        main()
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if "No space left on device" in line]
    assert len(lines) == 1 and str(folder / rio.SPIKES) in lines[0] and "spike times" in lines[0]
    assert not rio.is_complete(folder)


@pytest.mark.slow
def test_disk_full_while_writing_the_programs_data_is_one_error(tmp_path, monkeypatch):
    class Full(np.ndarray):
        def tofile(self, *args, **kwargs):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    real = device._ensure_build

    def ensure(*args, **kwargs):
        arrays, manifest = real(*args, **kwargs)
        return {k: v.view(Full) for k, v in arrays.items()}, manifest

    monkeypatch.setattr(device, "_ensure_build", ensure)
    with pytest.raises(StorageError, match=r"could not write the run's data arrays to .*static_arrays.*No space"):
        simulate(compose(BASE))


@pytest.mark.slow
@pytest.mark.parametrize("fault, fragment", [("results", "could not write them all"),
                                             ("static_arrays", "could not read them back")])
def test_a_program_that_cannot_read_or_write_its_files_is_an_error_not_a_result(tmp_path, monkeypatch, fault,
                                                                                fragment):
    """Brian2's program prints a line and exits 0 when it cannot open a file: not a result."""
    real = subprocess.Popen

    def popen(args, **kwargs):
        if Path(args[0]).name == "main":
            if fault == "results":   # a results folder it cannot write into
                args = [args[0], args[1], str(tmp_path / "missing") + os.sep]
            else:                    # a data array it cannot read
                victim = sorted((Path(kwargs["cwd"]) / "static_arrays").iterdir())[0]
                victim.unlink()
        return real(args, **kwargs)

    monkeypatch.setattr(device.subprocess, "Popen", popen)
    with pytest.raises(StorageError, match=fragment):
        simulate(compose(BASE), out_dir=tmp_path / "run")
    assert not rio.is_complete(tmp_path / "run")


def _reference_run():
    """The reference run of BASE and the build folder of its program (in the shared cache)."""
    seen = {}
    real = device.run

    def spy(*args, **kwargs):
        result, times = real(*args, **kwargs)
        seen["build_dir"] = Path(times.build_dir)
        return result, times

    import circuitsim.api as api

    api.devices.run = spy
    try:
        result = simulate(compose(BASE))
    finally:
        api.devices.run = real
    return result, seen["build_dir"]


@pytest.mark.slow
def test_a_damaged_cached_program_is_rebuilt_and_runs_correctly(tmp_path, caplog):
    """Truncated program, garbage manifest, ``[]`` manifest: each is rebuilt from scratch (one
    WARNING) in a fresh folder, and the run gives the same spikes as before."""
    reference, build = _reference_run()
    caplog.set_level(logging.WARNING, logger="circuitsim.device")
    for corruption in ("truncated program", "garbage manifest", "list manifest"):
        copy = tmp_path / corruption.replace(" ", "_")
        shutil.copytree(build, copy, ignore=shutil.ignore_patterns("static_arrays", "results"))
        key = json.loads((build / device.COMPLETE_MARKER).read_text())["key"]
        assert device._check_build(copy, key)[:2] == (device.OK, ""), corruption
        CORRUPTIONS[corruption](copy)
        (copy / "sentinel").write_text("a file of the broken folder")
        caplog.clear()
        builds = device.BUILD_COUNT
        healed = simulate(compose(BASE + [f"sim.build_dir={copy}"]))
        assert device.BUILD_COUNT == builds + 1 and not healed.metrics["run"]["build_reused"], corruption
        assert not (copy / "sentinel").exists(), corruption
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "circuitsim.device"]
        assert len(warnings) == 1, (corruption, [r.getMessage() for r in warnings])
        for pop, (i, t) in reference.spikes.items():
            assert np.array_equal(healed.spikes[pop][0], i) and np.array_equal(healed.spikes[pop][1], t), pop
        again = simulate(compose(BASE + [f"sim.build_dir={copy}"]))   # and the healed build is reused
        assert again.metrics["run"]["build_reused"], corruption
