"""Benchmark 3: a 16-point sweep of the default circuit (4 STN -> GPe strengths x 4 seeds, 1 s each).

Three ways, each from an empty build cache and writing ordinary run folders (no figures):

* naive: every point is a fresh ``circuitsim`` process with its own empty cache, so it compiles;
  timed on ``--naive-points`` points (default 2) and extrapolated;
* compile-once: one process runs the 16 points one after another (what a Hydra sweep with the
  basic launcher does); the first point builds, the others reuse the build;
* batched: :func:`circuitsim.batch.simulate_batch` runs the 16 points as one network.

Prints points per minute, the speed-up over naive, and the overhead of a later compile-once point
beyond its simulation (``run.wall_s - run.sim_s``).

    python benchmarks/bench_sweep.py [--naive-points 2] [--duration 1]
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
from _common import machine, run_json, table  # noqa: E402

WEIGHTS = (0.5, 0.75, 1.25, 1.5)
SEEDS = (0, 1, 2, 3)


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

    t0 = time.perf_counter()
    cfgs = [compose(ovs) for ovs in points(duration)]
    results = simulate_batch(cfgs, out_dirs=[Path(out) / str(k) for k in range(len(cfgs))])
    run = results[0].metrics["run"]
    print(json.dumps({"total_s": time.perf_counter() - t0, "build_s": run["build_s"], "sim_s": run["sim_s"],
                      "neurons": run["batch"]["neurons_in_network"]}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["once", "batch"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, default=1.0)
    parser.add_argument("--naive-points", type=int, default=2)
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
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        naive = []
        circuitsim = str(Path(sys.executable).with_name("circuitsim"))
        for k, ovs in enumerate(points(args.duration)[:args.naive_points]):
            env = {**os.environ, "CIRCUITSIM_CACHE": f"{tmp}/naive_cache_{k}"}
            t = time.perf_counter()
            subprocess.run([circuitsim, *ovs, f"hydra.run.dir={tmp}/naive/{k}"], env=env, check=True,
                           capture_output=True)
            naive.append(time.perf_counter() - t)
        per_naive = statistics.mean(naive)
        rows.append({"way": f"naive (fresh process + build per point; {len(naive)} points timed)",
                     "s per point": per_naive, "points/min": 60 / per_naive, "x naive": 1.0})
        once = run_json([here, "--mode", "once", "--out", f"{tmp}/once", "--duration", str(args.duration)],
                        env={"CIRCUITSIM_CACHE": f"{tmp}/once_cache"})
        per_once = once["total_s"] / n
        rows.append({"way": "compile-once (one process, first point builds)", "s per point": per_once,
                     "points/min": 60 / per_once, "x naive": per_naive / per_once})
        later = once["runs"][1:]
        steady = statistics.mean(r["wall"] for r in later)
        rows.append({"way": "compile-once, later points only", "s per point": steady, "points/min": 60 / steady,
                     "x naive": per_naive / steady})
        batch = run_json([here, "--mode", "batch", "--out", f"{tmp}/batch", "--duration", str(args.duration)],
                         env={"CIRCUITSIM_CACHE": f"{tmp}/batch_cache"})
        per_batch = batch["total_s"] / n
        rows.append({"way": f"batched ({n} copies, {batch['neurons']} neurons in one network)",
                     "s per point": per_batch, "points/min": 60 / per_batch, "x naive": per_naive / per_batch})
    print(table(rows, ["way", "s per point", "points/min", "x naive"]))
    overhead = [r["run_wall"] - r["sim"] for r in later]
    print(f"\ncompile-once: first point {once['runs'][0]['wall']:.1f} s (built: {once['runs'][0]['built']}); later "
          f"points: simulation {statistics.mean(r['sim'] for r in later):.2f} s, overhead beyond it "
          f"{statistics.mean(overhead):.2f} s (max {max(overhead):.2f} s) -> target < 1.5 s: "
          f"{'met' if statistics.mean(overhead) < 1.5 else 'NOT met'}")
    print(f"batched: build {batch['build_s']:.1f} s, one simulation of all copies {batch['sim_s']:.1f} s")
    print(f"targets: compile-once >= 5x naive: {'met' if per_naive / per_once >= 5 else 'NOT met'} "
          f"({per_naive / per_once:.1f}x); batched >= 10x naive: {'met' if per_naive / per_batch >= 10 else 'NOT met'} "
          f"({per_naive / per_batch:.1f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
