"""Running a built network on the device the config chooses.

``runtime``: Brian2's runtime mode with the Cython (compiled, cached) or NumPy target.
``cpp_standalone``: the whole network is compiled into one C++ program. Its build folder is
keyed by the circuit's structure, so runs that differ only in values (weights, rates, seed)
reuse the compiled program; a lock makes sequential and parallel runs of the same structure
safe. The random seed reaches the program at run time (environment variable read by code
inserted into ``main``), so a new seed needs no new build either.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional

import brian2
from brian2 import device, prefs, second, set_device

from circuitsim.spec import RunSpec

logger = logging.getLogger(__name__)

SEED_ENV = "CIRCUITSIM_SEED"
_SEED_CODE = """
{{
    const char* _cs_seed = std::getenv("{env}");
    const unsigned long _cs_s = _cs_seed ? std::strtoul(_cs_seed, nullptr, 10) : 0UL;
    for (int _i = 0; _i < {threads}; _i++)
        brian::_random_generators[_i].seed(_cs_s + _i);
}}
"""


@dataclass
class DeviceTimes:
    build_s: float = 0.0
    run_s: float = 0.0


def default_cache_dir() -> Path:
    base = os.environ.get("CIRCUITSIM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "circuitsim")
    return Path(base)


def structure_key(spec: RunSpec, n_synapses: Dict[str, int]) -> str:
    """Hash of everything that changes generated code: sizes, synapse counts, constants, timing."""
    from circuitsim import __version__

    structure = {
        "version": [__version__, brian2.__version__],
        "populations": {p.name: p.n for p in spec.populations.values()},
        "synapses": n_synapses,
        "receptors": {r.name: [r.tau, r.E] for r in spec.receptors.values()},
        "stimuli": spec.stimuli,
        "sim": [spec.sim.duration, spec.sim.dt, spec.sim.threads, spec.sim.progress],
        "readout": [spec.readout.lfp_neurons, spec.readout.lfp_dt],
    }
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


@contextlib.contextmanager
def selected_device(spec: RunSpec) -> Iterator[None]:
    """Activate the configured Brian2 device for building one network; restore runtime after."""
    # Brian2 names generated code uniquely against objects still alive; collecting the previous
    # run's network first keeps file names, and so the cached build, identical between runs.
    gc.collect()
    if spec.sim.device == "cpp_standalone":
        set_device("cpp_standalone", build_on_run=False)
        prefs.devices.cpp_standalone.openmp_threads = spec.sim.threads if spec.sim.threads > 1 else 0
    else:
        set_device("runtime")
        prefs.codegen.target = spec.sim.codegen_target
    brian2.defaultclock.dt = spec.sim.dt * second
    try:
        yield
    finally:
        if spec.sim.device == "cpp_standalone":
            device.reinit()
        set_device("runtime")


@contextlib.contextmanager
def _restored_environ(keys) -> Iterator[None]:
    """Restore the environment variables ``keys`` to their values (or absence) on entry."""
    saved = {k: os.environ.get(k) for k in keys}
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run(net: brian2.Network, spec: RunSpec, namespace: Dict[str, Any], n_synapses: Dict[str, int],
        read_results: Callable[[], Any]) -> tuple[Any, DeviceTimes]:
    """Run ``net`` for ``spec.sim.duration`` on the selected device and return ``read_results()``.

    ``read_results`` is called while the results are readable (for cpp_standalone, before its
    results folder is removed).
    """
    times = DeviceTimes()
    duration = spec.sim.duration * second
    report: Any = None
    if spec.sim.progress:
        report = "stdout" if spec.sim.device == "cpp_standalone" else _ProgressLog()
    if spec.sim.device == "runtime":
        brian2.seed(spec.sim.seed)
        t0 = time.perf_counter()
        net.run(duration, namespace=namespace, report=report, report_period=1 * second)
        times.run_s = time.perf_counter() - t0
        return read_results(), times

    build_dir = Path(spec.sim.build_dir) if spec.sim.build_dir else default_cache_dir() / "build" / structure_key(spec, n_synapses)
    threads = max(1, spec.sim.threads)
    device.insert_code("main", _SEED_CODE.format(env=SEED_ENV, threads=threads))
    net.run(duration, namespace=namespace, report=report, report_period=1 * second)
    results_rel = os.path.join("results", uuid.uuid4().hex)
    with _locked(build_dir.with_suffix(".lock")):
        t0 = time.perf_counter()
        logger.info("building C++ program in %s (cached builds take about a second)", build_dir)
        device.build(directory=str(build_dir), compile=True, run=False, clean=False)
        times.build_s = time.perf_counter() - t0
        # Brian2 passes variables to the program through this process's environment and leaves
        # them set (LD_BIND_NOW=1 by default, which breaks e.g. SLURM's plugins in any command
        # started later from this process); set the seed and put everything back afterwards.
        keys = {SEED_ENV, *prefs["devices.cpp_standalone.run_environment_variables"],
                *getattr(device, "run_environment_variables", {})}
        with _restored_environ(keys):
            os.environ[SEED_ENV] = str(spec.sim.seed)
            t0 = time.perf_counter()
            device.run(directory=str(build_dir), results_directory=results_rel, with_output=spec.sim.progress)
            times.run_s = time.perf_counter() - t0
    try:
        return read_results(), times
    finally:
        shutil.rmtree(build_dir / results_rel, ignore_errors=True)
