"""Running a built network on the device the config chooses.

``runtime``
    Brian2's runtime mode with the Cython (compiled, cached) or NumPy target.
``cpp_standalone`` (default)
    The whole network is compiled into one C++ program, **once per circuit structure**. The
    build folder is keyed by :func:`structure_key`: population sizes, synapse counts per
    receptor, the code's constants (receptor kinetics, ``sim.dt``, compiler flags, threads) and
    the list of data arrays the program loads at start-up. Everything else is *data*: weights,
    delays, neuron parameters, background rates and weights, modulators, the motor command,
    initial state, connectivity, the seed and even ``sim.duration``. A run whose structure was
    built before does no code generation and no ``make`` at all: it writes its data arrays into
    a private run folder and starts the compiled program there (``main`` reads
    ``static_arrays/`` from its working directory; the seed and duration come as environment
    variables). The shared build folder is only ever written under a file lock, by the first run
    of a structure, and is marked complete last; runs never write into it, so any number of
    runs (sequential or parallel) can use it at once.
``cuda_standalone``
    The same with brian2cuda (optional extra ``circuitsim[cuda]``, NVIDIA GPU and CUDA toolkit).

What this needs of Brian2 beyond its public API (the standalone device's queue and static arrays,
the generated run line of ``main()``) is in :mod:`circuitsim.brian_adapter`, written for one Brian2
release; the cache's integrity checks are in :mod:`circuitsim.build_cache` and the run folders
and the program's process in :mod:`circuitsim.run_folders`.

Reliability of the standalone devices:

* **The cache heals.** The manifest of a build (``circuitsim-build.json``, written last) records
  the sha256 of the compiled program and of the sources it was compiled from. A run checks them
  before it starts the program; a mismatch, a missing, truncated or non-executable program, or a
  manifest that is not a manifest (garbage, ``[]``) means the folder is moved aside and removed
  and the program is rebuilt from scratch in a fresh folder (one WARNING). A build that did not
  finish is never reused.
* **No orphans.** The compiled program runs in its own process group and gets the parent-death
  signal (Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)``): it dies when the Python process dies,
  even by SIGKILL. On an exception in Python (KeyboardInterrupt, SIGTERM turned into an exception
  by the command line, ``sim.max_wall_time``) it is killed and its run folder removed.
* **A stale run folder is removed only when its processes are gone.** Its ``owner`` file is
  locked (``flock``) by the Python process and inherited by the program; another run removes
  the folder only when it can take that lock (and the owner ran on the same host).
* **Wall-clock limit.** ``sim.max_wall_time`` (null = none) stops a simulation that runs longer
  (the compiled program, or Brian2's runtime loop) with :class:`~circuitsim.errors.RunTimeoutError`.
* **I/O errors** (disk full) while writing a run's data arrays, the program or its manifest raise
  :class:`~circuitsim.errors.StorageError` naming the path and what was being written.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gc
import hashlib
import json
import logging
import os
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import brian2
import numpy as np
from brian2 import device, prefs, second, set_device

from circuitsim import brian_adapter as adapter
from circuitsim.build_cache import (  # noqa: F401  (re-exported: these names were the device's)
    ABSENT, BROKEN, COMPLETE_MARKER, LEGACY, LOW_DISK_MB, OK, OTHER, _check_build, _discard, _elf_intact, _free_mb,
    _is_program, _sha256, _sources_sha256, _write_manifest)
from circuitsim.run_folders import (  # noqa: F401  (re-exported, as above)
    OWNER_FILE, OWNER_LOCKED, _check_program_io, _claim_run_folder, _die_with_parent, _peak_kb, _stop,
    remove_stale_runs)
from circuitsim.circuit.models import PARAM_TABLE
from circuitsim.progress import ProgramProgress
from circuitsim.errors import RunTimeoutError, StorageError
from circuitsim.spec import RunSpec

logger = logging.getLogger(__name__)

SEED_ENV = "CIRCUITSIM_SEED"
DURATION_ENV = "CIRCUITSIM_DURATION"
FINITE_MATH_FLAG = "-fno-finite-math-only"
ALIAS_CHECKS_FLAG = "--param=vect-max-version-for-alias-checks"
ALIAS_CHECKS = 200   # numerical choice: above the ~75 pointer pairs of the neuron state update

_GC_FROZEN = False

#: Number of builds (code generation + compilation) this process did; tests check that a
#: changed value reuses the build.
BUILD_COUNT = 0


@dataclass
class DeviceTimes:
    build_s: float = 0.0        # code generation and compilation (0 when the build was reused)
    run_s: float = 0.0          # the compiled program (or Brian2's runtime loop), wall time
    run_cpu_s: float = 0.0      # CPU time of the compiled program (user + system; standalone only)
    loop_s: float = 0.0         # time in the simulation loop itself, as the program measured it
    peak_rss_mb: float = 0.0    # peak memory of the compiled program (standalone only)
    prepare_s: float = 0.0      # writing the run's data arrays, reading results back
    reused_build: bool = False
    build_dir: Optional[str] = None
    key: Optional[str] = None


def default_cache_dir() -> Path:
    base = os.environ.get("CIRCUITSIM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "circuitsim")
    return Path(base)


def compile_flags(spec: RunSpec) -> List[str]:
    """gcc flags of the standalone program.

    With ``sim.vectorize`` (default): Brian2's flags without ``-fno-finite-math-only`` (so glibc's
    vector exp() can be used: the AdEx model never produces inf or NaN, its exponent is bounded
    by V_peak) and with more run-time alias checks than gcc's default of 10 (Brian2's generated
    loops read and write ~16 arrays through pointers gcc cannot prove distinct). Together they let
    gcc vectorise the neuron state update, the largest cost of a step.
    """
    flags = [f for f in prefs["codegen.cpp.extra_compile_args_gcc"] if not f.startswith(ALIAS_CHECKS_FLAG)]
    if spec.sim.vectorize:
        flags = [f for f in flags if f != FINITE_MATH_FLAG] + [f"{ALIAS_CHECKS_FLAG}={ALIAS_CHECKS}"]
    elif FINITE_MATH_FLAG not in flags:
        flags.append(FINITE_MATH_FLAG)
    return flags


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [str(value.dtype), list(value.shape), hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()]
    if isinstance(value, (brian2.Quantity, np.generic, float, int, str, bool)) or value is None:
        return repr(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return type(value).__name__


_CODE_HASH: Optional[str] = None


def _code_hash() -> str:
    """Hash of the circuitsim sources that write Brian2 code (neuron template, builder, stimuli,
    the edits of the generated program and its spike queue),
    so an edited model never reuses a program compiled from the old one (the package version
    does not change with every edit)."""
    global _CODE_HASH
    if _CODE_HASH is None:
        root = Path(__file__).resolve().parent
        digest = hashlib.sha256()
        for path in sorted([*root.glob("circuit/*.py"), *root.glob("stimulation/*.py"), root / "batch.py",
                           root / "brian_adapter.py", root / "spike_queue.py",
                           root / "blocked_step.py"]):
            digest.update(path.name.encode() + path.read_bytes())
        _CODE_HASH = digest.hexdigest()[:16]
    return _CODE_HASH


def structure_key(spec: RunSpec, n_synapses: Dict[str, int], namespace: Optional[Dict[str, Any]] = None,
                  queue: Optional[Dict[str, Any]] = None) -> str:
    """Hash of everything that changes the compiled program; values that are data are left out.

    Not in the key (reach the program as data, no new build): weights and their scales,
    modulators, neuron parameters, background rates and weights, delays, the motor command
    (``cortical_command``: rate, weight, window, channel), initial state, connectivity for the
    same synapse count per receptor, ``sim.seed`` and ``sim.duration`` (not for cuda_standalone),
    and every stimulus parameter outside its kind's registered structure
    (:func:`circuitsim.circuit.registry.register_structure`; e.g. DBS frequency, amplitude, pulse
    width and timing, TMS intensities and pulse times for the same number of pulses). The sizes
    of all data arrays are part of the key too (``queue``), so a difference the structure
    functions miss in array sizes still builds a new program.
    """
    from circuitsim._version import __version__
    from circuitsim.circuit.registry import STIMULUS_STRUCTURES
    from circuitsim.circuit.builder import mechanisms

    stimuli = {}
    for name, s in spec.stimuli.items():
        if s["kind"] in STIMULUS_STRUCTURES:   # e.g. cortical_command: {} (all its parameters are data)
            stimuli[name] = {"kind": s["kind"], **STIMULUS_STRUCTURES[s["kind"]](spec, s)}
        else:
            stimuli[name] = s
    structure = {
        "version": [__version__, brian2.__version__],
        "code": _code_hash(),
        "device": spec.sim.device,
        "populations": {p.name: p.n for p in spec.populations.values()},
        "receptors": {r.name: [r.tau, r.E] for r in spec.receptors.values()},
        "stimuli": stimuli,
        "sim": [spec.sim.dt, spec.sim.threads, spec.sim.progress,
                spec.sim.duration if spec.sim.device == "cuda_standalone" else None],
        # Brian2's floating-point type (set by a script through brian2.prefs): a float32 program
        # is another program; without it a cached float64 build ran silently in its place
        "float": np.dtype(prefs.core.default_float_dtype).name,
        "flags": compile_flags(spec) if spec.sim.device != "runtime" else None,
        "readout": [spec.readout.lfp_neurons, spec.readout.lfp_dt],
        "mechanisms": mechanisms(spec),
        "namespace": _jsonable(namespace or {}),
        "queue": queue,
    }
    if queue is None:   # without the device's queue, fall back on the synapse counts per pathway
        structure["synapses"] = n_synapses
    return hashlib.sha256(json.dumps(structure, sort_keys=True, default=str).encode()).hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class _ProgressLog:
    """Brian2 runtime report function that logs simulated time."""

    def __init__(self) -> None:
        self.last = -1.0

    def __call__(self, elapsed, completed, start, duration) -> None:
        pct = 100.0 * float(completed)
        if pct - self.last >= 10 or completed >= 1:
            self.last = pct
            logger.info("simulated %.2f of %.2f s (%3.0f%%), %.1f s wall", float(start + completed * duration),
                        float(start + duration), pct, float(elapsed))


def _activate_cuda() -> None:
    try:
        import brian2cuda  # noqa: F401  (registers the cuda_standalone device)
    except ImportError as err:  # spec validation normally catches this first
        from circuitsim.errors import ConfigError

        raise ConfigError("sim.device", "cuda_standalone needs brian2cuda: pip install 'circuitsim[cuda]' "
                                        f"(and an NVIDIA GPU with the CUDA toolkit); {err}") from None
    set_device("cuda_standalone", build_on_run=False)


@contextlib.contextmanager
def selected_device(spec: RunSpec) -> Iterator[None]:
    """Activate the configured Brian2 device for building one network; restore runtime after."""
    # Brian2 names generated code uniquely against objects still alive; collecting the previous
    # run's network first keeps file names, and so the cached build, identical between runs.
    # The first run of a process moves every object alive then (modules, configs) out of the
    # collector's reach (gc.freeze), so later collections cost milliseconds instead of ~0.3 s.
    global _GC_FROZEN
    gc.collect()
    if not _GC_FROZEN:
        gc.freeze()
        _GC_FROZEN = True
    saved_flags = list(prefs["codegen.cpp.extra_compile_args_gcc"])
    standalone = spec.sim.device in ("cpp_standalone", "cuda_standalone")
    if standalone:
        prefs.codegen.cpp.extra_compile_args_gcc = compile_flags(spec)
        if spec.sim.device == "cuda_standalone":
            _activate_cuda()
        else:
            set_device("cpp_standalone", build_on_run=False)
        prefs.devices.cpp_standalone.openmp_threads = spec.sim.threads if spec.sim.threads > 1 else 0
        prefs.devices.cpp_standalone.extra_make_args_unix = make_args()
    else:
        set_device("runtime")
        prefs.codegen.target = spec.sim.codegen_target
    brian2.defaultclock.dt = spec.sim.dt * second
    try:
        yield
    finally:
        if standalone:
            device.reinit()
        prefs.codegen.cpp.extra_compile_args_gcc = saved_flags
        set_device("runtime")


def make_args() -> List[str]:
    """``make`` flags of a build: as many compile jobs as this process may use CPUs.

    Brian2's default (``-j`` without a number) starts one compiler per source file at once
    (~100 for the circuit), which thrashes a small machine, all the more when several runs build
    in parallel; ``$CIRCUITSIM_MAKE_JOBS`` overrides the number.
    """
    jobs = os.environ.get("CIRCUITSIM_MAKE_JOBS")
    if not jobs:
        try:
            jobs = str(len(os.sched_getaffinity(0)))
        except (AttributeError, OSError):
            jobs = str(os.cpu_count() or 1)
    return [f"-j{int(jobs)}"]


def _run_environment(spec: RunSpec, duration: float) -> Dict[str, str]:
    env = dict(os.environ)
    env.update(prefs["devices.cpp_standalone.run_environment_variables"])
    env.update(getattr(device, "run_environment_variables", {}) or {})
    env[SEED_ENV] = str(spec.sim.seed)
    env[DURATION_ENV] = repr(float(duration))
    return env


def _manifest_arrays(arrays: Dict[str, np.ndarray]) -> Dict[str, List[Any]]:
    return {name: [str(arr.dtype), int(arr.size)] for name, arr in arrays.items()}


def _build(net: brian2.Network, spec: RunSpec, build_dir: Path, namespace: Dict[str, Any], report: Any,
           key: str) -> Dict[str, np.ndarray]:
    """Generate and compile the program into ``build_dir`` (caller holds the lock); mark it complete."""
    global BUILD_COUNT
    threads = max(1, spec.sim.threads)
    adapter.insert_run_time_values(SEED_ENV, DURATION_ENV, threads, spec.sim.duration)
    queued = set(adapter.static_arrays())
    net.run(spec.sim.duration * second, namespace=namespace, report=report, report_period=1 * second)
    duration_is_data = adapter.patch_duration(net.name)
    if not duration_is_data and spec.sim.device != "cuda_standalone":
        raise RuntimeError("could not make the simulated duration a run-time value; Brian2's generated "
                           f"main() changed (Brian2 {brian2.__version__})")
    marker = build_dir / COMPLETE_MARKER
    clean = build_dir.exists() and not marker.exists()   # a build that did not finish
    try:
        marker.unlink(missing_ok=True)   # (an explicit sim.build_dir reused for another structure)
    except OSError as err:
        raise StorageError(marker, "the build manifest (removing the old one)", err) from None
    logger.info("compiling the C++ program of this circuit structure (first run of this structure; typically "
                "10 s to 1.5 min on 2 cores, later runs reuse it) in %s", build_dir)
    t_build = time.perf_counter()
    try:
        adapter.build_program(str(build_dir), clean, independent_reads=PARAM_TABLE, blocked_group="neurons")
    except OSError as err:
        raise StorageError(getattr(err, "filename", None) or build_dir, "the C++ program", err) from None
    except RuntimeError as err:   # make failed: with a full disk, say so
        free = _free_mb(build_dir)
        if free is not None and free < LOW_DISK_MB:
            raise StorageError(build_dir, f"the C++ program ({free:.0f} MB free; the compiler failed: {err})",
                               OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))) from None
        raise
    logger.info("compiled in %.1f s", time.perf_counter() - t_build)
    BUILD_COUNT += 1
    all_arrays = adapter.static_arrays()
    manifest = {"key": key, "brian2": brian2.__version__, "static_arrays": _manifest_arrays(all_arrays),
                "function_arrays": sorted(set(all_arrays) - queued), "duration_is_data": duration_is_data,
                "built": time.strftime("%Y-%m-%dT%H:%M:%S")}
    program = build_dir / "main"
    if not _is_program(program):
        raise RuntimeError(f"the build in {build_dir} made no runnable program {program.name}")
    manifest["program_sha256"] = _sha256(program)
    manifest["sources_sha256"] = _sources_sha256(build_dir)
    _write_manifest(build_dir, manifest)
    return all_arrays


_POLL_S = 0.02   # how often the program's memory is read while it runs


#: a command the compiled program is started under, for profiling it (e.g. ``perf record -o FILE --``;
#: benchmarks/profile_program.py); not part of the build key, never set in normal use
PROGRAM_PREFIX_ENV = "CIRCUITSIM_PROGRAM_PREFIX"


def _program_prefix() -> List[str]:
    import shlex

    return shlex.split(os.environ.get(PROGRAM_PREFIX_ENV, ""))


def _timeout_error(limit: float) -> RunTimeoutError:
    return RunTimeoutError(f"sim.max_wall_time: the simulation ran longer than {limit:g} s of wall-clock time and "
                           f"was stopped; raise sim.max_wall_time (e.g. sim.max_wall_time=7200*second) or set it to null")


class _WallLimit:
    """Brian2 runtime report function that stops the run past ``sim.max_wall_time``."""

    def __init__(self, limit: float, inner: Any) -> None:
        self.limit, self.inner = limit, inner

    def __call__(self, elapsed, completed, start, duration) -> None:
        if callable(self.inner):
            self.inner(elapsed, completed, start, duration)
        if float(elapsed) > self.limit:
            raise _timeout_error(self.limit)


def _ensure_build(net: brian2.Network, spec: RunSpec, build_dir: Path, namespace: Dict[str, Any], report: Any,
                  key: str, times: DeviceTimes, reuse: Callable[[Dict[str, Any]], Dict[str, np.ndarray]]
                  ) -> tuple:
    """Reuse the verified build of ``key`` in ``build_dir``, or (re)build it; ``(arrays, manifest)``."""
    state, why, manifest = _check_build(build_dir, key)
    if state == OK:
        return reuse(manifest), manifest
    with _locked(build_dir.with_suffix(".lock")):
        state, why, manifest = _check_build(build_dir, key)   # (built or healed meanwhile by another run?)
        if state == LEGACY:   # an intact program of an older circuitsim: record its checksums
            manifest = dict(manifest, program_sha256=_sha256(build_dir / "main"),
                            sources_sha256=_sources_sha256(build_dir))
            _write_manifest(build_dir, manifest)
            state = OK
        if state == OK:
            return reuse(manifest), manifest
        explicit = bool(spec.sim.build_dir)
        if state == BROKEN or (state == OTHER and not explicit):
            logger.warning("the compiled program in %s cannot be used (%s); rebuilding it from scratch in a "
                           "fresh folder", build_dir, why or "a build of another structure")
            _discard(build_dir)
        elif state == ABSENT and build_dir.exists() and not explicit:   # a build that did not finish
            _discard(build_dir)
        t0 = time.perf_counter()
        arrays = _build(net, spec, build_dir, namespace, report, key)
        times.build_s = time.perf_counter() - t0
        state, why, manifest = _check_build(build_dir, key)
        if state != OK:
            raise RuntimeError(f"the program just built in {build_dir} fails its own check ({why})")
        return arrays, manifest


def _standalone_run(net: brian2.Network, spec: RunSpec, namespace: Dict[str, Any], n_synapses: Dict[str, int],
                    read_results: Callable[[], Any], report: Any) -> tuple[Any, DeviceTimes]:
    times = DeviceTimes()
    queue = adapter.queue_signature(_jsonable)
    key = structure_key(spec, n_synapses, namespace, queue)
    build_dir = Path(spec.sim.build_dir) if spec.sim.build_dir else default_cache_dir() / "build" / key
    times.key, times.build_dir = key, str(build_dir)

    def reuse(manifest: Dict[str, Any]) -> Dict[str, np.ndarray]:
        adapter.mark_used(net)
        arrays = adapter.static_arrays()
        if manifest.get("function_arrays"):   # functions' tables are only known after code generation
            net.run(spec.sim.duration * second, namespace=namespace, report=report, report_period=1 * second)
            arrays = adapter.static_arrays()   # with those before_run adds (SpikeGeneratorGroup time bins)
            arrays.update(adapter.function_arrays())
        times.reused_build = True
        return arrays

    arrays, manifest = _ensure_build(net, spec, build_dir, namespace, report, key, times, reuse)
    if _manifest_arrays(arrays) != manifest["static_arrays"]:
        raise RuntimeError(f"the data arrays of this run do not match the compiled program in {build_dir} "
                           "(a circuitsim bug: the structure key missed a difference); delete that folder")
    duration = spec.sim.duration   # compiled in (and part of the key) only for cuda_standalone
    runs = build_dir.parent / "runs"
    try:
        runs.mkdir(parents=True, exist_ok=True)
        remove_stale_runs(runs)
        run_dir = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=runs))
    except OSError as err:
        raise StorageError(runs, "a run folder", err) from None
    owner_fd: Optional[int] = None
    limit = getattr(spec.sim, "max_wall_time", None)
    try:
        t0 = time.perf_counter()
        path = run_dir
        try:
            owner_fd = _claim_run_folder(run_dir)
            for path in (run_dir / "static_arrays", run_dir / "results"):
                path.mkdir()
            for name, arr in arrays.items():
                path = run_dir / "static_arrays" / name
                arr.tofile(path)
        except OSError as err:
            raise StorageError(path, "the run's data arrays", err) from None
        times.prepare_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        # the program's output goes to a file, its progress lines on to logging (not to fd 1)
        progress = ProgramProgress(run_dir / "stdout.txt", duration) if spec.sim.progress else None
        with open(run_dir / "stdout.txt", "w") as out:
            # its own process group (a terminal's Ctrl-C reaches Python, which stops it), killed when
            # this process dies, holding the run folder's owner lock while it runs
            proc = subprocess.Popen([*_program_prefix(), str(build_dir.resolve() / "main"), "--results_dir",
                                     str(run_dir / "results") + os.sep],
                                    cwd=run_dir, env=_run_environment(spec, duration),
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=_die_with_parent(), pass_fds=(owner_fd,))
            deadline = time.monotonic() + limit if limit else None
            peak_kb = 0
            try:
                while True:   # the program's peak memory (high-water mark), read while it runs
                    peak_kb = max(peak_kb, _peak_kb(proc.pid))
                    try:
                        proc.wait(timeout=_POLL_S)
                        break
                    except subprocess.TimeoutExpired:
                        pass
                    finally:
                        if progress is not None:
                            progress.poll()
                    if deadline is not None and time.monotonic() > deadline:
                        raise _timeout_error(limit)
            except BaseException:   # KeyboardInterrupt, SIGTERM (as an exception), the wall-clock limit
                _stop(proc)
                raise
        times.run_s = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.run_cpu_s = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        times.peak_rss_mb = peak_kb / 1024.0
        if proc.returncode:
            text = (run_dir / "stdout.txt").read_text()[-4000:]
            raise RuntimeError(f"the compiled simulation failed (exit code {proc.returncode}, program in "
                               f"{build_dir}):\n{text}")
        _check_program_io(run_dir)
        # read results back through Brian2's own variable views, from this run's folder
        t0 = time.perf_counter()
        adapter.read_results_from(str(run_dir / "results"))
        result = read_results()
        times.prepare_s += time.perf_counter() - t0
        try:   # Brian2's own measure of its simulation loop: "<seconds> <completed fraction>"
            times.loop_s = float((run_dir / "results" / "last_run_info.txt").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
        return result, times
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        if owner_fd is not None:
            os.close(owner_fd)


def run(net: brian2.Network, spec: RunSpec, namespace: Dict[str, Any], n_synapses: Dict[str, int],
        read_results: Callable[[], Any]) -> tuple[Any, DeviceTimes]:
    """Run ``net`` for ``spec.sim.duration`` on the selected device and return ``read_results()``.

    ``read_results`` is called while the results are readable (for the standalone devices, before
    the run's private folder is removed).
    """
    report: Any = None
    if spec.sim.progress:
        report = "stdout" if spec.sim.device != "runtime" else _ProgressLog()
    if spec.sim.device == "runtime":
        limit = getattr(spec.sim, "max_wall_time", None)
        if limit:
            report = _WallLimit(limit, report)
        times = DeviceTimes()
        brian2.seed(spec.sim.seed)
        t0 = time.perf_counter()
        net.run(spec.sim.duration * second, namespace=namespace, report=report, report_period=1 * second)
        times.run_s = time.perf_counter() - t0
        return read_results(), times
    return _standalone_run(net, spec, namespace, n_synapses, read_results, report)
