"""Stored spike-train references: short runs whose every spike a refactoring must keep.

Four short runs (300 ms, scale 1, seed 0) cover the default circuit, a condition, a DBS preset
and a TMS preset (:data:`CASES`). ``--write`` simulates them and stores, per case, one compressed
``<case>.npz`` (per population: neuron indices and spike times in time steps) and
``fingerprint.json`` (the toolchain that made them and a sha256 of each population's raw spike
times); ``--check`` simulates them again and compares every spike (``tests/test_reference_spikes.py``
runs it). How to regenerate them when a change is meant to alter behaviour:
``docs/contributing.md`` ("Spike-train references").

Portability. The standalone program's results depend on how it was compiled and on which
implementation of ``exp``/``pow`` the CPU selects at run time:

* the program is built with the project's own flags (``circuitsim.device.compile_flags``:
  ``-O3 -ffast-math`` ...) but ``-march=x86-64 -mtune=generic`` in place of Brian2's
  ``-march=native`` (set through Brian2's preference ``codegen.cpp.extra_compile_args_gcc``,
  which ``compile_flags`` reads; the flags are part of the build key, so these programs are
  cached beside the native ones). With ``-march=native`` gcc vectorises for the CPU it runs on
  (AVX-512 here, maybe AVX2 elsewhere) and the sums and ``exp`` calls differ in the last bits;
* glibc picks FMA/AVX2/AVX-512 variants of its maths functions (libm, libmvec) by CPU:
  ``GLIBC_TUNABLES`` masks those features (:data:`GLIBC_MASK`) for the Python process and the
  compiled program alike;
* NumPy picks SIMD loops (AVX2, AVX-512 SVML for ``exp``, ``power``, ...) by CPU:
  ``NPY_DISABLE_CPU_FEATURES`` switches every dispatched feature above NumPy's baseline off, and
  ``OPENBLAS_CORETYPE`` holds its BLAS to one generic kernel set.

Both variables act only when a process starts, so ``--check`` and ``--write`` re-run this script
in a child process with them set. What remains machine-specific is the toolchain itself (gcc,
glibc, NumPy, Brian2 versions), recorded in ``fingerprint.json``: on another toolchain the check
still runs and compares, and a failure says which parts of the fingerprint differ.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List

HERE = Path(__file__).resolve().parent
FINGERPRINT = HERE / "fingerprint.json"

#: overrides every case shares: a short run at full scale
COMMON = ["sim.duration=300ms", "sim.seed=0", "sim.progress=false", "circuit.scale=1", "sim.device=cpp_standalone",
          "sim.threads=1"]
#: the cases: the default circuit, a condition, a DBS preset, a TMS preset (pulses moved into the short run)
CASES: Dict[str, List[str]] = {
    "default": [],
    "condition": ["condition=dystonia_bg"],
    "dbs": ["condition=dystonia_bg", "stim=dbs_gpi", "stim.dbs_gpi.start=100ms"],
    "tms": ["stim=tms_single", "~stim.contraction", "sim.transient=50ms",
            "stim.tms_single.protocol=[{type: single, site: m1, intensity: 120%RMT, n: 2, interval: 0.1*second,"
            " start: 0.15*second}]"],
}
#: CPU features whose glibc maths variants (libm's FMA/AVX2 exp, pow, log; AVX-512 paths) differ
#: in the last bits from the SSE2 ones every x86-64 CPU runs
GLIBC_MASK = "glibc.cpu.hwcaps=-AVX512F,-AVX2,-FMA,-FMA4,-AVX"
#: OpenBLAS (NumPy's BLAS) picks its kernels by CPU too; this one runs on every x86-64
OPENBLAS_CORE = "Prescott"
#: set in the child process (guards against re-running it again)
CHILD_FLAG = "CIRCUITSIM_REFERENCE_CHILD"


def portable_flags(flags: List[str]) -> List[str]:
    """The project's gcc flags with ``-march=native`` replaced by the generic x86-64 target."""
    out = [f for f in flags if not (f.startswith("-march=") or f.startswith("-mtune="))]
    return out + ["-march=x86-64", "-mtune=generic"]


def child_environment() -> Dict[str, str]:
    """The environment of the child process: glibc and NumPy held to the CPU features of any x86-64."""
    env = dict(os.environ)
    env[CHILD_FLAG] = "1"
    if platform.machine() in ("x86_64", "AMD64"):
        env["GLIBC_TUNABLES"] = GLIBC_MASK
        try:
            from numpy._core._multiarray_umath import __cpu_dispatch__   # NumPy 2
        except ImportError:   # pragma: no cover - NumPy 1
            from numpy.core._multiarray_umath import __cpu_dispatch__
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(__cpu_dispatch__)
        env["OPENBLAS_CORETYPE"] = OPENBLAS_CORE
    return env


@contextmanager
def portable_build() -> Iterator[List[str]]:
    """Brian2's compile flags made portable for the duration (restored afterwards)."""
    from brian2 import prefs

    saved = list(prefs["codegen.cpp.extra_compile_args_gcc"])
    prefs.codegen.cpp.extra_compile_args_gcc = portable_flags(saved)
    try:
        yield list(prefs["codegen.cpp.extra_compile_args_gcc"])
    finally:
        prefs.codegen.cpp.extra_compile_args_gcc = saved


def _command_version(cmd: List[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.splitlines()[0].strip()
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


def fingerprint(flags: List[str]) -> Dict[str, str]:
    """What the references depend on besides the code: compiler, flags, libraries (the CPU is informational)."""
    import brian2
    import numpy as np

    from circuitsim.device import compile_flags
    from circuitsim.schema import compose
    from circuitsim.spec import build_spec

    with portable_build():
        used = compile_flags(build_spec(compose(COMMON)))
    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"gcc": _command_version([os.environ.get("CXX", "g++"), "--version"]), "flags": " ".join(used),
            "glibc": "-".join(platform.libc_ver()), "numpy": np.__version__, "brian2": brian2.__version__,
            "python": platform.python_version(), "machine": platform.machine(),
            "glibc_tunables": os.environ.get("GLIBC_TUNABLES", ""),
            "numpy_disabled": os.environ.get("NPY_DISABLE_CPU_FEATURES", ""),
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""), "cpu (informational)": cpu}


def simulate_case(name: str) -> Dict[str, tuple]:
    """population -> (neuron indices, spike times in s) of one case, built with portable flags."""
    from circuitsim.api import simulate
    from circuitsim.schema import compose

    with portable_build():
        result = simulate(compose(COMMON + CASES[name]))
    return {pop: (i, t) for pop, (i, t) in result.spikes.items()}


def _time_steps(t, dt: float):
    import numpy as np

    steps = np.rint(np.asarray(t) / dt).astype(np.int32)
    if not np.allclose(steps * dt, t, rtol=0, atol=dt * 1e-6):
        raise RuntimeError("spike times are not on the time grid")
    return steps


def _digest(i, t) -> str:
    import numpy as np

    h = hashlib.sha256(np.ascontiguousarray(i, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(t, dtype=np.float64).tobytes())
    return h.hexdigest()


def _dt(name: str) -> float:
    from circuitsim.schema import compose
    from circuitsim.spec import build_spec

    return build_spec(compose(COMMON + CASES[name])).sim.dt


def write(cases: List[str], note: str = "") -> None:
    import numpy as np

    with portable_build() as flags:
        fp = fingerprint(flags)
    stored = json.loads(FINGERPRINT.read_text()) if FINGERPRINT.is_file() else {"cases": {}}
    stored["fingerprint"] = fp
    stored["made_from"] = note
    for name in cases:
        t0 = time.perf_counter()
        spikes, dt = simulate_case(name), _dt(name)
        arrays = {}
        for pop, (i, t) in sorted(spikes.items()):
            arrays[f"{pop}__i"] = np.asarray(i, dtype=np.int16 if len(i) and i.max() < 2**15 else np.int32)
            arrays[f"{pop}__step"] = _time_steps(t, dt)
        np.savez_compressed(HERE / f"{name}.npz", **arrays)
        stored["cases"][name] = {"overrides": COMMON + CASES[name], "dt": dt,
                                 "spikes": {pop: len(i) for pop, (i, _t) in sorted(spikes.items())},
                                 "sha256": {pop: _digest(i, t) for pop, (i, t) in sorted(spikes.items())}}
        print(f"{name}: {sum(len(i) for i, _ in spikes.values())} spikes, {time.perf_counter() - t0:.1f} s", flush=True)
    FINGERPRINT.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")


def check(cases: List[str]) -> Dict[str, object]:
    """Rerun each case; per case the populations whose spikes differ from the reference (and how)."""
    import numpy as np

    stored = json.loads(FINGERPRINT.read_text())
    with portable_build() as flags:
        fp = fingerprint(flags)
    report: Dict[str, object] = {
        "fingerprint_differs": {k: [stored["fingerprint"].get(k), v] for k, v in fp.items()
                                if k != "cpu (informational)" and stored["fingerprint"].get(k) != v},
        "cpu": [stored["fingerprint"].get("cpu (informational)"), fp["cpu (informational)"]],
        "cases": {}}
    for name in cases:
        ref_meta = stored["cases"][name]
        if ref_meta["overrides"] != COMMON + CASES[name]:
            report["cases"][name] = {"_case": "the case's overrides changed since the references were made; rerun --write"}
            continue
        ref = np.load(HERE / f"{name}.npz")
        spikes, dt = simulate_case(name), _dt(name)
        diffs = {}
        for pop in sorted(set(spikes) | set(ref_meta["spikes"])):
            if pop not in spikes or pop not in ref_meta["spikes"]:
                diffs[pop] = "population added or removed"
                continue
            i, t = spikes[pop]
            ri, rs = ref[f"{pop}__i"].astype(np.int64), ref[f"{pop}__step"]
            steps = _time_steps(t, dt)
            if len(i) != len(ri):
                diffs[pop] = f"{len(i)} spikes, reference {len(ri)}"
            elif not (np.array_equal(np.asarray(i, dtype=np.int64), ri) and np.array_equal(steps, rs)):
                k = int(np.argmax((np.asarray(i) != ri) | (steps != rs)))
                diffs[pop] = f"spike {k} differs: neuron {int(i[k])} at step {int(steps[k])}, " \
                             f"reference neuron {int(ri[k])} at step {int(rs[k])}"
            elif _digest(i, t) != ref_meta["sha256"][pop]:
                diffs[pop] = "same neurons and time steps, but the times' floating-point values differ"
        report["cases"][name] = diffs
    return report


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="simulate the cases and store them as the references")
    mode.add_argument("--check", action="store_true", help="simulate the cases and compare them with the references")
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--report", help="--check: write the comparison here as JSON")
    parser.add_argument("--note", default="", help="--write: what the references were made from (a commit)")
    args = parser.parse_args(argv)
    if os.environ.get(CHILD_FLAG) != "1":   # the CPU masks act only from a process's start
        return subprocess.run([sys.executable, __file__, *(argv if argv is not None else sys.argv[1:])],
                              env=child_environment()).returncode
    if args.write:
        write(args.cases, args.note)
        return 0
    report = check(args.cases)
    text = json.dumps(report, indent=1)
    if args.report:
        Path(args.report).write_text(text)
    print(text)
    return 1 if any(report["cases"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
