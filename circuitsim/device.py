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
import ctypes
import errno
import fcntl
import gc
import hashlib
import json
import logging
import os
import re
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import brian2
import numpy as np
from brian2 import device, prefs, second, set_device
from brian2.devices.device import get_device

from circuitsim.progress import ProgramProgress
from circuitsim.errors import RunTimeoutError, StorageError
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
    from circuitsim._version import __version__
    from circuitsim.circuit.registry import STIMULUS_STRUCTURES
    from circuitsim.circuit.builder import mechanisms

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
    try:
        marker.unlink(missing_ok=True)   # (an explicit sim.build_dir reused for another structure)
    except OSError as err:
        raise StorageError(marker, "the build manifest (removing the old one)", err) from None
    logger.info("compiling the C++ program of this circuit structure (first run of this structure; typically "
                "10 s to 1.5 min on 2 cores, later runs reuse it) in %s", build_dir)
    t_build = time.perf_counter()
    try:
        device.build(directory=str(build_dir), compile=True, run=False, clean=clean)
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
    all_arrays = dict(device.static_arrays)
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


LOW_DISK_MB = 64   # a failed compilation with less free space than this is reported as a full disk


def _free_mb(path: Path) -> Optional[float]:
    try:
        return shutil.disk_usage(path if path.exists() else path.parent).free / 2**20
    except OSError:
        return None


def _write_manifest(build_dir: Path, manifest: Dict[str, Any]) -> None:
    """Write the manifest atomically; it is the last file of a build and vouches for it."""
    from circuitsim.io.results import atomic_write

    text = json.dumps(manifest, indent=1).encode()
    atomic_write(build_dir / COMPLETE_MARKER, lambda fh: fh.write(text), "the build manifest")


# ----------------------------------------------------------------------------- cache integrity

SOURCE_SUFFIXES = (".cpp", ".h", ".hpp", ".c", ".cu", ".cuh")
SOURCE_NAMES = ("makefile", "Makefile", "win_makefile")
_DATA_DIRS = ("static_arrays", "results")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sources_sha256(build_dir: Path) -> str:
    """sha256 over the generated sources of a build (relative names and contents): the program's inputs."""
    digest = hashlib.sha256()
    files = []
    for path in build_dir.rglob("*"):
        rel = path.relative_to(build_dir)
        if rel.parts[0] in _DATA_DIRS or not path.is_file():
            continue
        if path.suffix in SOURCE_SUFFIXES or path.name in SOURCE_NAMES:
            files.append(rel)
    for rel in sorted(files):
        digest.update(str(rel).encode() + b"\0")
        digest.update(_sha256(build_dir / rel).encode())
    return digest.hexdigest()


def _is_program(path: Path) -> bool:
    """A regular, executable, non-empty file."""
    try:
        st = path.stat()
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size > 0 and os.access(path, os.X_OK)


def _elf_intact(path: Path) -> bool:
    """An ELF file whose section header table lies inside the file (a truncated program fails)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return False
    if len(head) < 52 or head[:4] != b"\x7fELF" or head[4] not in (1, 2) or head[5] not in (1, 2):
        return False
    order = "little" if head[5] == 1 else "big"

    def field(a: int, b: int) -> int:
        return int.from_bytes(head[a:b], order)

    if head[4] == 2:
        if len(head) < 64:
            return False
        shoff, shentsize, shnum = field(0x28, 0x30), field(0x3A, 0x3C), field(0x3C, 0x3E)
    else:
        shoff, shentsize, shnum = field(0x20, 0x24), field(0x2E, 0x30), field(0x30, 0x32)
    return 0 < shoff and shoff + shentsize * shnum <= size


#: states of a build folder (see _check_build)
OK, ABSENT, OTHER, LEGACY, BROKEN = "ok", "absent", "other", "legacy", "broken"


def _check_build(build_dir: Path, key: str) -> tuple:
    """``(state, why, manifest)`` of a build folder for the structure ``key``.

    ``ok``: a complete build of ``key`` whose program and sources match the manifest's checksums;
    ``absent``: no folder, or one without a manifest (never built, or a build that did not
    finish); ``other``: a complete, intact build of another structure (an explicit
    ``sim.build_dir`` reused); ``legacy``: a build of ``key`` by an older circuitsim (no
    checksums) whose program is intact; ``broken``: anything else.
    """
    marker = build_dir / COMPLETE_MARKER
    if not marker.exists():
        return ABSENT, "no build", None
    try:
        manifest = json.loads(marker.read_text())
    except (OSError, ValueError) as err:
        return BROKEN, f"its manifest {marker.name} is unreadable ({type(err).__name__})", None
    needed = {"key": str, "static_arrays": dict, "function_arrays": list}
    if not isinstance(manifest, dict) or not all(isinstance(manifest.get(k), t) for k, t in needed.items()):
        return BROKEN, f"its manifest {marker.name} is not a circuitsim build manifest", None
    program = build_dir / "main"
    if not _is_program(program):
        return BROKEN, f"its program {program.name} is missing, empty or not executable", manifest
    if "program_sha256" not in manifest:
        if not _elf_intact(program):
            return BROKEN, f"its program {program.name} is truncated", manifest
        return (LEGACY if manifest["key"] == key else OTHER), "built by an older circuitsim", manifest
    try:
        if _sha256(program) != manifest["program_sha256"]:
            return BROKEN, f"its program {program.name} does not match the manifest's checksum", manifest
        if _sources_sha256(build_dir) != manifest.get("sources_sha256"):
            return BROKEN, "its sources do not match the manifest's checksum", manifest
    except OSError as err:
        return BROKEN, f"it cannot be read ({err.strerror})", manifest
    return (OK if manifest["key"] == key else OTHER), "", manifest


def _discard(build_dir: Path) -> None:
    """Move a broken build folder aside (runs still using its program keep it) and remove it."""
    aside = build_dir.with_name(f"{build_dir.name}.broken-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(build_dir, aside)
    except OSError as err:
        raise StorageError(build_dir, "a fresh build (moving the broken one aside)", err) from None
    shutil.rmtree(aside, ignore_errors=True)


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


OWNER_FILE = "owner"   # "<host> <pid> lock" of the process a run folder belongs to (locked while it runs)
OWNER_LOCKED = "lock"  # (older circuitsim wrote "<host> <pid>" without a lock)


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

    A run folder names its owner (host and pid) in its ``owner`` file, which the owner keeps
    locked (``flock``) while it runs, and which its compiled program inherits: the folder is
    stale when the owner ran on this host and the lock is free, i.e. the Python process and its
    program are both gone. (A folder of an older circuitsim, without the lock, is stale when its
    pid is gone.) Folders of other hosts (a shared cache on a cluster) and of live processes are kept.
    """
    host, removed = socket.gethostname(), []
    for folder in runs.glob("*-*"):
        owner = folder / OWNER_FILE
        try:
            fields = owner.read_text().split()
            owner_host, pid = fields[0], int(fields[1])
        except (OSError, ValueError, IndexError):
            continue
        if owner_host != host:
            continue
        if fields[2:] == [OWNER_LOCKED]:
            try:
                fd = os.open(owner, os.O_RDONLY)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:   # held: the run (or its program) is alive
                os.close(fd)
                continue
            try:
                shutil.rmtree(folder, ignore_errors=True)
            finally:
                os.close(fd)
            removed.append(folder)
        elif len(fields) == 2 and not _alive(pid):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    if removed:
        logger.info("removed %d run folder(s) left by processes that died: %s", len(removed),
                    ", ".join(f.name for f in removed))
    return removed


def _claim_run_folder(run_dir: Path) -> int:
    """Create the run folder's owner file, locked; the returned descriptor holds the lock (and is
    passed on to the compiled program, so the lock lasts as long as either process)."""
    fd = os.open(run_dir / OWNER_FILE, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)   # before the content: a reader never sees an unlocked owner
            mark = f" {OWNER_LOCKED}"
        except OSError as err:   # a file system without flock: the owner's pid alone decides
            if err.errno not in (errno.ENOLCK, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS):
                raise
            mark = ""
        os.write(fd, f"{socket.gethostname()} {os.getpid()}{mark}\n".encode())
    except OSError:
        os.close(fd)
        raise
    return fd


PR_SET_PDEATHSIG = 1   # <linux/prctl.h>
_PRCTL: Any = None


def _die_with_parent() -> Optional[Callable[[], None]]:
    """``preexec_fn`` for the compiled program: SIGKILL when this process dies (Linux only).

    prctl is looked up here, in the parent, so that the child only makes one foreign call
    between fork and exec; if the parent died before that call, the child exits at once.
    """
    global _PRCTL
    if not sys.platform.startswith("linux"):
        return None
    if _PRCTL is None:
        try:
            prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            _PRCTL = False
            return None
        prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        prctl.restype = ctypes.c_int
        _PRCTL = prctl
    if _PRCTL is False:
        return None
    prctl, parent, sig = _PRCTL, os.getpid(), int(signal.SIGKILL)

    def setup() -> None:
        prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return setup


def _stop(proc: subprocess.Popen) -> None:
    """Kill the compiled program (its whole process group) and reap it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(OSError):
                proc.kill()
    with contextlib.suppress(Exception):
        proc.wait(timeout=30)


def _check_program_io(run_dir: Path) -> None:
    """Brian2's program only prints a line when it cannot open a file, and exits 0; a full disk
    truncates its results silently. Either is an error here, not a result."""
    try:
        with open(run_dir / "stdout.txt", "rb") as fh:
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        text = ""
    if "Error opening static array" in text:
        raise StorageError(run_dir / "static_arrays", "the run's data arrays (the compiled program could not "
                           "read them back)", OSError(errno.EIO, os.strerror(errno.EIO)))
    free = _free_mb(run_dir)
    if "Error writing output file" in text or (free is not None and free < 1):
        raise StorageError(run_dir / "results", "the simulation's results (the compiled program could not write "
                           "them all)", OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))


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
    queue = _queue_signature()
    key = structure_key(spec, n_synapses, namespace, queue)
    build_dir = Path(spec.sim.build_dir) if spec.sim.build_dir else default_cache_dir() / "build" / key
    times.key, times.build_dir = key, str(build_dir)

    def reuse(manifest: Dict[str, Any]) -> Dict[str, np.ndarray]:
        _mark_used(net)
        arrays = dict(device.static_arrays)
        if manifest.get("function_arrays"):   # functions' tables are only known after code generation
            net.run(spec.sim.duration * second, namespace=namespace, report=report, report_period=1 * second)
            arrays = dict(device.static_arrays)   # with those before_run adds (SpikeGeneratorGroup time bins)
            arrays.update(_function_arrays())
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
            proc = subprocess.Popen([str(build_dir.resolve() / "main"), "--results_dir", str(run_dir / "results") + os.sep],
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
