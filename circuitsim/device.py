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
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import json
import logging
import os
import re
import resource
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import brian2
import numpy as np
from brian2 import device, prefs, second, set_device
from brian2.devices.device import get_device

from circuitsim.progress import ProgramProgress
from circuitsim.spec import RunSpec

logger = logging.getLogger(__name__)

SEED_ENV = "CIRCUITSIM_SEED"
DURATION_ENV = "CIRCUITSIM_DURATION"
COMPLETE_MARKER = "circuitsim-build.json"   # written last: the folder holds a complete build
FINITE_MATH_FLAG = "-fno-finite-math-only"
ALIAS_CHECKS_FLAG = "--param=vect-max-version-for-alias-checks"
ALIAS_CHECKS = 200   # numerical choice: above the ~75 pointer pairs of the neuron state update

# Brian2's generator is seeded from the environment (for stimuli that draw with rand()/randn();
# the circuit's own noise uses circuitsim.circuit.models.cs_poisson, whose seed is data).
_SEED_CODE = """
{{
    const char* _cs_seed = std::getenv("{env}");
    const unsigned long _cs_s = _cs_seed ? std::strtoul(_cs_seed, nullptr, 10) : 0UL;
    for (int _i = 0; _i < {threads}; _i++)
        brian::_random_generators[_i].seed(_cs_s + _i);
}}
"""
# The simulated duration is read from the environment, so it is not compiled in.
_DURATION_CODE = """const double _cs_duration = std::getenv("{env}") ? std::strtod(std::getenv("{env}"), nullptr) : {default!r};"""
_RUN_LINE = re.compile(r"^(\s*\w+\.run\()([^,]+)(,.*)$")

#: Stimulus kinds whose parameters are all data (per-neuron values), not compiled constants.
DATA_STIMULUS_KINDS = frozenset({"cortical_command"})

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


def _queue_signature() -> Dict[str, Any]:
    """What of the standalone device's queued initialisation shapes the generated program:
    the order of operations, array names, sizes and types, and constants written into code;
    the *values* of static arrays are data and left out."""
    ops = []
    for func, args in device.main_queue:
        if func in ("run_code_object", "before_run_code_object", "after_run_code_object"):
            ops.append([func, args[0].name])
        elif func == "run_network":
            ops.append([func, args[0].name])
        else:
            ops.append([func, _jsonable(args)])
    arrays = {name: [str(arr.dtype), int(arr.size)] for name, arr in device.static_arrays.items()}
    return {"ops": ops, "static_arrays": arrays}


_CODE_HASH: Optional[str] = None


def _code_hash() -> str:
    """Hash of the circuitsim sources that write Brian2 code (neuron template, builder, stimuli),
    so an edited model never reuses a program compiled from the old one (the package version
    does not change with every edit)."""
    global _CODE_HASH
    if _CODE_HASH is None:
        root = Path(__file__).resolve().parent
        digest = hashlib.sha256()
        for path in sorted([*root.glob("circuit/*.py"), *root.glob("stimulation/*.py"), root / "batch.py"]):
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
    from circuitsim import __version__
    from circuitsim.circuit.registry import STIMULUS_STRUCTURES

    stimuli = {}
    for name, s in spec.stimuli.items():
        if s["kind"] in DATA_STIMULUS_KINDS:
            stimuli[name] = {"kind": s["kind"]}
        elif s["kind"] in STIMULUS_STRUCTURES:
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
        "flags": compile_flags(spec) if spec.sim.device != "runtime" else None,
        "readout": [spec.readout.lfp_neurons, spec.readout.lfp_dt],
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


def _patch_duration(net_name: str) -> bool:
    """Make the compiled program take its duration from DURATION_ENV (see _DURATION_CODE)."""
    for func, args in device.main_queue:
        if func != "run_network" or args[0].name != net_name:
            continue
        lines = args[1]
        hits = [k for k, line in enumerate(lines) if line.lstrip().startswith(f"{net_name}.run(")]
        if len(hits) != 1:
            return False
        m = _RUN_LINE.match(lines[hits[0]])
        if not m:
            return False
        lines[hits[0]] = f"{m.group(1)}_cs_duration{m.group(3)}"
        return True
    return False


def _function_arrays() -> Dict[str, np.ndarray]:
    """Static arrays Brian2 adds at build time for functions' namespaces (e.g. TimedArray values)."""
    arrays = dict(device.static_arrays)
    for code_object in device.code_objects.values():
        for var in code_object.variables.values():
            if isinstance(var, brian2.Function):
                device._insert_func_namespace(var, code_object, arrays)
    return {k: v for k, v in arrays.items() if k not in device.static_arrays}


def _manifest_arrays(arrays: Dict[str, np.ndarray]) -> Dict[str, List[Any]]:
    return {name: [str(arr.dtype), int(arr.size)] for name, arr in arrays.items()}


def _build(net: brian2.Network, spec: RunSpec, build_dir: Path, namespace: Dict[str, Any], report: Any,
           key: str) -> Dict[str, np.ndarray]:
    """Generate and compile the program into ``build_dir`` (caller holds the lock); mark it complete."""
    global BUILD_COUNT
    threads = max(1, spec.sim.threads)
    device.insert_code("main", _SEED_CODE.format(env=SEED_ENV, threads=threads))
    device.insert_code("main", _DURATION_CODE.format(env=DURATION_ENV, default=float(spec.sim.duration)))
    queued = set(device.static_arrays)
    net.run(spec.sim.duration * second, namespace=namespace, report=report, report_period=1 * second)
    duration_is_data = _patch_duration(net.name)
    if not duration_is_data and spec.sim.device != "cuda_standalone":
        raise RuntimeError("could not make the simulated duration a run-time value; Brian2's generated "
                           f"main() changed (Brian2 {brian2.__version__})")
    marker = build_dir / COMPLETE_MARKER
    clean = build_dir.exists() and not marker.exists()   # a build that did not finish
    marker.unlink(missing_ok=True)   # (an explicit sim.build_dir reused for another structure)
    logger.info("compiling the C++ program of this circuit structure (first run of this structure; typically "
                "10 s to 1.5 min on 2 cores, later runs reuse it) in %s", build_dir)
    t_build = time.perf_counter()
    device.build(directory=str(build_dir), compile=True, run=False, clean=clean)
    logger.info("compiled in %.1f s", time.perf_counter() - t_build)
    BUILD_COUNT += 1
    all_arrays = dict(device.static_arrays)
    manifest = {"key": key, "brian2": brian2.__version__, "static_arrays": _manifest_arrays(all_arrays),
                "function_arrays": sorted(set(all_arrays) - queued), "duration_is_data": duration_is_data,
                "built": time.strftime("%Y-%m-%dT%H:%M:%S")}
    tmp = build_dir / (COMPLETE_MARKER + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, marker)
    return all_arrays


_POLL_S = 0.02   # how often the program's memory is read while it runs


def _peak_kb(pid: int) -> int:
    """VmHWM (peak resident memory, kB) of a running process; 0 where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _mark_used(net: brian2.Network) -> None:
    """Tell Brian2 that the objects belong to a network that ran (it warns about objects that were
    never run otherwise; with a reused build, the network is not run through Brian2's Python)."""
    todo = list(net.objects)
    while todo:
        obj = todo.pop()
        if getattr(obj, "_network", 0) is None:
            obj._network = net.id
        todo.extend(getattr(obj, "contained_objects", []))


OWNER_FILE = "owner"   # "<host> <pid>" of the process a run folder belongs to


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_runs(runs: Path) -> List[Path]:
    """Delete run folders left by processes that died without cleaning up (e.g. SIGKILL).

    A run folder names its owner (host and pid); it is stale when the owner ran on this host and
    is gone. Folders of other hosts (a shared cache on a cluster) and of live processes are kept.
    """
    host, removed = socket.gethostname(), []
    for folder in runs.glob("*-*"):
        try:
            owner_host, pid = (folder / OWNER_FILE).read_text().split()
            stale = owner_host == host and not _alive(int(pid))
        except (OSError, ValueError):
            continue
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    if removed:
        logger.info("removed %d run folder(s) left by processes that died: %s", len(removed),
                    ", ".join(f.name for f in removed))
    return removed


def _read_manifest(build_dir: Path) -> Optional[Dict[str, Any]]:
    try:
        return json.loads((build_dir / COMPLETE_MARKER).read_text())
    except (OSError, ValueError):
        return None


def _standalone_run(net: brian2.Network, spec: RunSpec, namespace: Dict[str, Any], n_synapses: Dict[str, int],
                    read_results: Callable[[], Any], report: Any) -> tuple[Any, DeviceTimes]:
    times = DeviceTimes()
    queue = _queue_signature()
    key = structure_key(spec, n_synapses, namespace, queue)
    build_dir = Path(spec.sim.build_dir) if spec.sim.build_dir else default_cache_dir() / "build" / key
    times.key, times.build_dir = key, str(build_dir)
    manifest = _read_manifest(build_dir)

    def reuse() -> Dict[str, np.ndarray]:
        _mark_used(net)
        arrays = dict(device.static_arrays)
        if manifest.get("function_arrays"):   # functions' tables are only known after code generation
            net.run(spec.sim.duration * second, namespace=namespace, report=report, report_period=1 * second)
            arrays = dict(device.static_arrays)   # with those before_run adds (SpikeGeneratorGroup time bins)
            arrays.update(_function_arrays())
        times.reused_build = True
        return arrays

    if manifest is not None and manifest.get("key") == key:
        arrays = reuse()
    else:
        with _locked(build_dir.with_suffix(".lock")):
            manifest = _read_manifest(build_dir)
            if manifest is not None and manifest.get("key") == key:   # built meanwhile by another run
                arrays = reuse()
            else:
                t0 = time.perf_counter()
                arrays = _build(net, spec, build_dir, namespace, report, key)
                times.build_s = time.perf_counter() - t0
                manifest = _read_manifest(build_dir)
    if _manifest_arrays(arrays) != manifest["static_arrays"]:
        raise RuntimeError(f"the data arrays of this run do not match the compiled program in {build_dir} "
                           "(a circuitsim bug: the structure key missed a difference); delete that folder")
    duration = spec.sim.duration   # compiled in (and part of the key) only for cuda_standalone
    runs = build_dir.parent / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    remove_stale_runs(runs)
    run_dir = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=runs))
    (run_dir / OWNER_FILE).write_text(f"{socket.gethostname()} {os.getpid()}\n")
    try:
        t0 = time.perf_counter()
        (run_dir / "static_arrays").mkdir()
        (run_dir / "results").mkdir()
        for name, arr in arrays.items():
            arr.tofile(run_dir / "static_arrays" / name)
        times.prepare_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        # the program's output goes to a file, its progress lines on to logging (not to fd 1)
        progress = ProgramProgress(run_dir / "stdout.txt", duration) if spec.sim.progress else None
        with open(run_dir / "stdout.txt", "w") as out:
            proc = subprocess.Popen([str(build_dir.resolve() / "main"), "--results_dir", str(run_dir / "results") + os.sep],
                                    cwd=run_dir, env=_run_environment(spec, duration),
                                    stdout=out, stderr=subprocess.STDOUT)
            peak_kb = 0
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
        times.run_s = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.run_cpu_s = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        times.peak_rss_mb = peak_kb / 1024.0
        if proc.returncode:
            text = (run_dir / "stdout.txt").read_text()[-4000:]
            raise RuntimeError(f"the compiled simulation failed (exit code {proc.returncode}, program in "
                               f"{build_dir}):\n{text}")
        # read results back through Brian2's own variable views, from this run's folder
        t0 = time.perf_counter()
        active = get_device()   # (brian2.device is a proxy: attributes must be set on the device itself)
        active.results_dir = str(run_dir / "results") + os.sep
        active.has_been_run = True
        for var in list(active.array_cache):
            active.array_cache[var] = None
        result = read_results()
        times.prepare_s += time.perf_counter() - t0
        try:   # Brian2's own measure of its simulation loop: "<seconds> <completed fraction>"
            times.loop_s = float((run_dir / "results" / "last_run_info.txt").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
        return result, times
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


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
        times = DeviceTimes()
        brian2.seed(spec.sim.seed)
        t0 = time.perf_counter()
        net.run(spec.sim.duration * second, namespace=namespace, report=report, report_period=1 * second)
        times.run_s = time.perf_counter() - t0
        return read_results(), times
    return _standalone_run(net, spec, namespace, n_synapses, read_results, report)
