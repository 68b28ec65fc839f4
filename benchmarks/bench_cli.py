"""Benchmark: what a cached ``circuitsim`` run costs beyond its compiled program, against the
import floor and against a baseline revision, in one session.

Each repeat runs, one after the other (interleaved, so both see the same machine load): the
import floor (a fresh ``python -c "import brian2, hydra, matplotlib.pyplot, scipy.signal,
scipy.stats"``), then for the baseline tree (``git archive`` of ``--baseline``, imported first
through ``PYTHONPATH``) and for this tree a default CLI run of ``--short`` and of ``--long``
simulated seconds with the default figures. Printed (medians): each run's wall time, its compiled
program's wall time (``run.sim_s``), the time beyond the program, that time minus the import
floor (target <= 1 s), and the marginal wall time per simulated second ((long - short) /
(long_s - short_s); target <= 0.2 s).

    python benchmarks/bench_cli.py --baseline 5a2a935 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import baseline_trees, machine, table  # noqa: E402

FLOOR = "import brian2, hydra, matplotlib.pyplot, scipy.signal, scipy.stats"


def timed(args, env) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"{' '.join(args)} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return wall


def cli_run(env, out: Path, duration: float) -> dict:
    extra = ["sim.transient=0s", "readout.plots=[]"] if duration < 0.5 else []
    wall = timed(["-m", "circuitsim.cli", f"sim.duration={duration}s", "sim.progress=false",
                  f"hydra.run.dir={out}", *extra], env)
    run = json.loads((out / "metrics.json").read_text())["run"]
    return {"wall": wall, "sim": run["sim_s"], "reused": run["build_reused"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="HEAD")
    parser.add_argument("--candidate", default=None, help="a revision instead of this working tree")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--short", type=float, default=1.0)
    parser.add_argument("--long", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        trees = baseline_trees(tmp, args.baseline, args.candidate)
        for name, env in trees.items():          # build (or find) each tree's program
            cli_run(env, tmp / f"warm-{name}", 0.05)
        rows = {(name, d): [] for name in trees for d in (args.short, args.long)}
        floors = []
        k = 0
        for _ in range(args.repeat):
            floors.append(timed(["-c", FLOOR], trees["candidate"]))
            for name, env in trees.items():
                for d in (args.short, args.long):
                    k += 1
                    rows[(name, d)].append(cli_run(env, tmp / f"run{k}", d))
        floor = float(np.median(floors))
        out, marginal = [], {}
        for name in trees:
            med = {}
            for d in (args.short, args.long):
                runs = rows[(name, d)]
                wall = float(np.median([r["wall"] for r in runs]))
                sim = float(np.median([r["sim"] for r in runs]))
                beyond = float(np.median([r["wall"] - r["sim"] for r in runs]))
                med[d] = wall
                out.append({"tree": name, "simulated s": d, "wall s": wall, "program s": sim, "beyond program s": beyond,
                            "beyond - import floor s": beyond - floor,
                            "builds reused": all(r["reused"] for r in runs)})
            marginal[name] = (med[args.long] - med[args.short]) / (args.long - args.short)
    print(f"# CLI runs: baseline {args.baseline} vs {args.candidate or 'this tree'}, medians of {args.repeat}, interleaved\n\n"
          f"machine: {machine()}\n\nimport floor ({FLOOR}): {floor:.2f} s\n")
    print(table(out, ["tree", "simulated s", "wall s", "program s", "beyond program s", "beyond - import floor s",
                      "builds reused"]))
    print("\nmarginal wall s per simulated s: " + ", ".join(f"{k} {v:.3f}" for k, v in marginal.items())
          + " (target <= 0.2)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
