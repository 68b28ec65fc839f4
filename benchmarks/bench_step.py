"""Benchmark: the compiled program of the default circuit, this tree against a baseline revision.

Both trees build their own program (the build cache is keyed by the code that writes it), then
each repeat runs the default circuit (``--duration`` s, no figures) once with the baseline tree
(``git archive`` of ``--baseline`` first on ``PYTHONPATH``) and once with this tree, in fresh
processes, one after the other. Printed: medians of the program's wall time and Brian2's
simulation-loop time per simulated second, the candidate / baseline ratio, and whether the spike
trains of every seed are identical (``--seeds``: each seed is one more pair of runs per repeat).
With ``--scales`` (e.g. ``1 60``) each repeat runs every scale in both trees (``--durations``, one
per scale), and the table adds Brian2's loop time per neuron-step and its ratio to the first
scale's in the same tree (the issue's linear-scaling target).

    python benchmarks/bench_step.py --baseline 5a2a935 --repeat 3 --seeds 0 1
    python benchmarks/bench_step.py --baseline 5a2a935 --scales 1 60 --durations 1 0.2 --seeds 0
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import baseline_trees, machine, table  # noqa: E402



def run(env, out: Path, duration: float, seed: int, scale: float = 1.0) -> dict:
    extra = ["sim.transient=0s"] if duration < 0.5 else []
    proc = subprocess.run([sys.executable, "-m", "circuitsim.cli", f"circuit.scale={scale:g}",
                           f"sim.duration={duration}s", f"sim.seed={seed}",
                           "sim.progress=false", "readout.plots=[]", f"hydra.run.dir={out}", *extra],
                          capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    if proc.returncode:
        raise RuntimeError((proc.stdout + proc.stderr)[-3000:])
    metrics = json.loads((out / "metrics.json").read_text())
    with np.load(out / "spikes.npz") as z:
        spikes = {k: z[k].copy() for k in z.files if not k.startswith("_")}
    return {"run": metrics["run"], "spikes": spikes,
            "rates": {p: m["rate_hz"] for p, m in metrics["populations"].items()}}


def identical(a: dict, b: dict) -> bool:
    keys = sorted(k for k in a if k.endswith((".i", ".t")))
    return keys == sorted(k for k in b if k.endswith((".i", ".t"))) and all(np.array_equal(a[k], b[k]) for k in keys)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="HEAD")
    parser.add_argument("--candidate", default=None, help="a revision instead of this working tree")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0])
    parser.add_argument("--scales", type=float, nargs="*", default=[1.0])
    parser.add_argument("--durations", type=float, nargs="*", default=None, help="one per scale (default --duration)")
    args = parser.parse_args()
    durations = args.durations or [args.duration] * len(args.scales)
    if len(durations) != len(args.scales):
        parser.error("--durations: give one per scale")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        trees = baseline_trees(tmp, args.baseline, args.candidate)
        for name, env in trees.items():
            for scale in args.scales:
                run(env, tmp / f"warm-{name}-{scale:g}", 0.05, 0, scale)
        runs = {(name, s): [] for name in trees for s in args.scales}
        same = {}
        k = 0
        for r in range(args.repeat):
            for scale, d in zip(args.scales, durations):
                for seed in args.seeds:
                    pair = {}
                    for name, env in trees.items():
                        k += 1
                        pair[name] = run(env, tmp / f"run{k}", d, seed, scale)
                        runs[(name, scale)].append(pair[name]["run"])
                    if r == 0:
                        same[(scale, seed)] = (identical(pair["baseline"]["spikes"], pair["candidate"]["spikes"]),
                                               pair["baseline"]["rates"], pair["candidate"]["rates"])
    rows = []
    ns = {}
    for scale, d in zip(args.scales, durations):
        med = {}
        for name in trees:
            rs = runs[(name, scale)]
            med[name] = {key: float(np.median([x[key] for x in rs])) / d for key in ("sim_s", "sim_loop_s", "sim_cpu_s")}
            steps = round(d / rs[0]["dt_s"])
            ns[(name, scale)] = float(np.median([x["sim_loop_s"] / (x["n_neurons"] * steps) * 1e9 for x in rs]))
        for name, m in med.items():
            rows.append({"scale": f"{scale:g}", "tree": name, "program wall s / sim s": m["sim_s"],
                         "CPU s / sim s": m["sim_cpu_s"], "loop s / sim s": m["sim_loop_s"],
                         "ns per neuron-step": ns[(name, scale)],
                         f"/ scale {args.scales[0]:g}": ns[(name, scale)] / ns[(name, args.scales[0])]})
        rows.append({"scale": f"{scale:g}", "tree": "candidate / baseline",
                     **{col: med["candidate"][key] / med["baseline"][key] for col, key in
                        (("program wall s / sim s", "sim_s"), ("CPU s / sim s", "sim_cpu_s"),
                         ("loop s / sim s", "sim_loop_s"))},
                     "ns per neuron-step": ns[("candidate", scale)] / ns[("baseline", scale)]})
    print(f"# Compiled program, default circuit: baseline {args.baseline} vs {args.candidate or 'this tree'}, scales "
          f"{', '.join(f'{s:g} ({d:g} s)' for s, d in zip(args.scales, durations))}, medians of "
          f"{args.repeat} x {len(args.seeds)} seed(s), interleaved\n\nmachine: {machine()}\n")
    print(table(rows, ["scale", "tree", "program wall s / sim s", "CPU s / sim s", "loop s / sim s",
                       "ns per neuron-step", f"/ scale {args.scales[0]:g}"]))
    print()
    for (scale, seed), (eq, rb, rc) in same.items():
        worst = max(abs(rc[p] - rb[p]) for p in rb)
        print(f"scale {scale:g}, seed {seed}: spike trains {'identical' if eq else 'DIFFER'}; "
              f"largest rate difference {worst:.3g} Hz")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
