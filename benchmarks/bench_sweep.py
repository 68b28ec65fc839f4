"""Benchmark 3: a 16-point sweep of the default circuit (4 STN -> GPe strengths x 4 seeds, 1 s each).

Three ways, each from an empty build cache and writing ordinary run folders (no figures):

* naive: every point is a fresh ``circuitsim`` process with its own empty cache, so it compiles;
  timed on ``--naive-points`` points (default 2) and extrapolated;
* compile-once: one process runs the 16 points one after another (what a Hydra sweep with the
  basic launcher does); the first point builds, the others reuse the build;
* batched: :func:`circuitsim.batch.simulate_batch` runs the 16 points as one network.

Prints points per minute, the speed-up over naive, and the overhead of a later compile-once point
beyond its simulation (``run.wall_s - run.sim_s``). With ``--repeat N`` the ways alternate N times
(medians), so that naive and batched see the same load; ``--baseline REV`` runs a revision's
tree too (a ``git archive``; run from outside the repository), alternating with this one.

    python benchmarks/bench_sweep.py [--naive-points 2] [--duration 1] [--repeat 1] [--no-once]
    cd /tmp && python /path/to/benchmarks/bench_sweep.py --baseline REV --no-once
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import baseline_trees, machine, table  # noqa: E402

WEIGHTS = (0.5, 0.75, 1.25, 1.5)
SEEDS = (0, 1, 2, 3)


def run_json(args, env, cwd) -> dict:
    """Run ``python <args>`` with exactly ``env`` in ``cwd``; its last stdout line is a JSON object."""
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def points(duration: float):
    return [[f"circuit.pathways.stn_gpe.weight_scale={w}", f"sim.seed={s}", f"sim.duration={duration}s",
             "sim.progress=false", "readout.plots=[]"] for w in WEIGHTS for s in SEEDS]


def mode_once(out: str, duration: float) -> None:
    from circuitsim import compose, simulate

    t0 = time.perf_counter()
    runs = []
    for k, ovs in enumerate(points(duration)):
        t = time.perf_counter()
        r = simulate(compose(ovs), out_dir=Path(out) / str(k))
        runs.append({"wall": time.perf_counter() - t, "run_wall": r.metrics["run"]["wall_s"],
                     "sim": r.metrics["run"]["sim_s"], "built": not r.metrics["run"]["build_reused"]})
    print(json.dumps({"total_s": time.perf_counter() - t0, "runs": runs}))


def mode_batch(out: str, duration: float) -> None:
    from circuitsim import compose
    from circuitsim.batch import simulate_batch
    try:
        from circuitsim.batch import compose_points     # what `python -m circuitsim.batch` does
    except ImportError:                                 # (a --baseline revision before it)
        compose_points = lambda pts: [compose(ovs) for ovs in pts]  # noqa: E731

    t0 = time.perf_counter()
    cfgs = compose_points(points(duration))
    t_compose = time.perf_counter() - t0
    results = simulate_batch(cfgs, out_dirs=[Path(out) / str(k) for k in range(len(cfgs))])
    run = results[0].metrics["run"]
    print(json.dumps({"total_s": time.perf_counter() - t0, "build_s": run["build_s"], "sim_s": run["sim_s"],
                      "compose_s": t_compose, "neurons": run["batch"]["neurons_in_network"]}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["once", "batch"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, default=1.0)
    parser.add_argument("--naive-points", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="repeats of the ways, alternating (medians)")
    parser.add_argument("--no-once", action="store_true", help="leave out the compile-once sweep")
    parser.add_argument("--baseline", default=None, help="also run a git revision (alternating with this tree)")
    parser.add_argument("--candidate", default=None, help="with --baseline: a revision instead of this tree")
    args = parser.parse_args()
    if args.mode == "once":
        mode_once(args.out, args.duration)
        return 0
    if args.mode == "batch":
        mode_batch(args.out, args.duration)
        return 0

    here = str(Path(__file__).resolve())
    n = len(WEIGHTS) * len(SEEDS)
    print(f"# Benchmark 3: a {n}-point sweep of the default circuit ({args.duration:g} s per point)\n\n"
          f"machine: {machine()}\n")
    with tempfile.TemporaryDirectory() as tmp:
        trees = (baseline_trees(tmp, args.baseline, args.candidate) if args.baseline
                 else {"this tree": {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}})
        found = {name: {"naive": [], "once": [], "batch": []} for name in trees}
        for r in range(args.repeat):      # the ways (and trees) alternate: each repeat sees the same load
            for name, env in trees.items():
                got = found[name]
                naive = []
                for k, ovs in enumerate(points(args.duration)[:args.naive_points]):
                    t = time.perf_counter()
                    subprocess.run([sys.executable, "-m", "circuitsim.cli", *ovs, f"hydra.run.dir={tmp}/naive/{name}{r}/{k}"],
                                   env={**env, "CIRCUITSIM_CACHE": f"{tmp}/naive_cache_{name}{r}_{k}"}, check=True,
                                   capture_output=True, cwd=tmp)
                    naive.append(time.perf_counter() - t)
                got["naive"].append(statistics.mean(naive))
                if not args.no_once:
                    got["once"].append(run_json([here, "--mode", "once", "--out", f"{tmp}/once{name}{r}", "--duration",
                                                 str(args.duration)],
                                                env={**env, "CIRCUITSIM_CACHE": f"{tmp}/once_cache_{name}{r}"}, cwd=tmp))
                got["batch"].append(run_json([here, "--mode", "batch", "--out", f"{tmp}/batch{name}{r}", "--duration",
                                              str(args.duration)],
                                             env={**env, "CIRCUITSIM_CACHE": f"{tmp}/batch_cache_{name}{r}"}, cwd=tmp))
                print(f"repeat {r}, {name}: naive {got['naive'][-1]:.1f} s per point, batched "
                      f"{got['batch'][-1]['total_s'] / n:.2f} s per point "
                      f"({got['naive'][-1] / (got['batch'][-1]['total_s'] / n):.1f}x); {machine()}", flush=True)
    rows = []
    for name, got in found.items():
        per_naive = statistics.median(got["naive"])
        rows.append({"tree": name, "way": f"naive (fresh process + build per point; {args.naive_points} points timed)",
                     "s per point": per_naive, "points/min": 60 / per_naive, "x naive": 1.0})
        if got["once"]:
            po = statistics.median(x["total_s"] / n for x in got["once"])
            st = statistics.median(statistics.mean(y["wall"] for y in x["runs"][1:]) for x in got["once"])
            rows.append({"tree": name, "way": "compile-once (one process, first point builds)", "s per point": po,
                         "points/min": 60 / po, "x naive": per_naive / po})
            rows.append({"tree": name, "way": "compile-once, later points only", "s per point": st,
                         "points/min": 60 / st, "x naive": per_naive / st})
        pb = statistics.median(x["total_s"] / n for x in got["batch"])
        rows.append({"tree": name, "way": f"batched ({n} copies, {got['batch'][0]['neurons']} neurons in one network)",
                     "s per point": pb, "points/min": 60 / pb, "x naive": per_naive / pb})
    print(f"\nmedians of {args.repeat} repeat(s); {machine()}\n")
    print(table(rows, ["tree", "way", "s per point", "points/min", "x naive"]))
    print()
    for name, got in found.items():
        if got["once"]:
            later = got["once"][-1]["runs"][1:]
            overhead = statistics.mean(x["run_wall"] - x["sim"] for x in later)
            print(f"{name}: compile-once, later points: simulation {statistics.mean(x['sim'] for x in later):.2f} s, "
                  f"overhead beyond it {overhead:.2f} s (target < 1.5 s: {'met' if overhead < 1.5 else 'NOT met'})")
        b = got["batch"][-1]
        print(f"{name}: batched (last repeat): composing {b.get('compose_s', float('nan')):.1f} s, build {b['build_s']:.1f} s, "
              f"one simulation of all copies {b['sim_s']:.1f} s, the rest (specs, connectivity, measures, folders) "
              f"{b['total_s'] - b.get('compose_s', 0.0) - b['build_s'] - b['sim_s']:.1f} s")
        ratio = statistics.median(got["naive"]) / statistics.median(x["total_s"] / n for x in got["batch"])
        print(f"{name}: batched >= 10x naive: {'met' if ratio >= 10 else 'NOT met'} ({ratio:.1f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
