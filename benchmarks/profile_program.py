"""Profile the default circuit's compiled program with ``perf`` and keep the report as text.

Runs the default circuit (cached build) once under ``perf record`` (through
``$CIRCUITSIM_PROGRAM_PREFIX``, see :mod:`circuitsim.device`) and writes the functions that take
at least ``--min-percent`` of the program's samples (``perf report --stdio --sort dso,symbol``)
to ``--out`` (default ``benchmarks/profile_program.txt``), with the machine and the revision.
Brian2's generated code objects are the symbols named after the network's objects
(``neurongroup_stateupdater_codeobject``, ``synapses_pre_codeobject``...).

    python benchmarks/profile_program.py --duration 3
    python benchmarks/profile_program.py --scale 60 --duration 0.3 --out benchmarks/profile_program_scale60.txt
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--min-percent", type=float, default=0.5)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "profile_program.txt"))
    args = parser.parse_args()
    if not shutil.which("perf"):
        print("perf is not installed; nothing profiled", file=sys.stderr)
        return 1

    from circuitsim import compose, simulate
    from circuitsim.device import PROGRAM_PREFIX_ENV

    scale = f"circuit.scale={args.scale:g}"
    cfg = compose([scale, f"sim.duration={args.duration}s", "sim.progress=false", "readout.plots=[]"]
                  + (["sim.transient=0s"] if args.duration < 0.5 else []))
    simulate(compose([scale, "sim.duration=0.05s", "sim.transient=0s", "sim.progress=false", "readout.plots=[]"]))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "perf.data"
        os.environ[PROGRAM_PREFIX_ENV] = f"perf record -q -F 4000 -o {data} --"
        try:
            run = simulate(cfg).metrics["run"]
        finally:
            del os.environ[PROGRAM_PREFIX_ENV]
        report = subprocess.run(["perf", "report", "--stdio", "-i", str(data), "--sort", "dso,symbol",
                                 f"--percent-limit={args.min_percent}"], capture_output=True, text=True, check=True)
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    lines = [re.sub(r"(\s+-)*\s*$", "", line) for line in report.stdout.splitlines()   # (empty columns)
             if line.strip() and not line.startswith("#")]
    text = (f"# perf profile of the compiled program of the default circuit at scale {args.scale:g} ({args.duration:g} s simulated, "
            f"{run['n_neurons']} neurons, {run['n_synapses']} synapses, cpp_standalone, 1 thread)\n"
            f"# revision {rev} (plus uncommitted edits, if any); machine: {machine()}\n"
            f"# program wall {run['sim_s']:.3f} s, Brian2 loop {run['sim_loop_s']:.3f} s; "
            f"functions with >= {args.min_percent:g} % of the samples:\n" + "\n".join(lines) + "\n")
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
