"""Benchmark: what a cached ``circuitsim`` run costs beyond its compiled program, against the
import floor and against a baseline revision, in one session.

Each repeat runs, one after the other (interleaved, so both see the same machine load): the
import floor (a fresh ``python -c "import brian2, hydra, matplotlib.pyplot, scipy.signal,
scipy.stats"``), then for the baseline tree (``git archive`` of ``--baseline``, imported first
through ``PYTHONPATH``) and for this tree a default CLI run of ``--short`` and of ``--long``
simulated seconds with the default figures. Printed (medians): each run's wall time, its compiled
program's wall time (``run.sim_s``), the time beyond the program, that time minus the import
floor (target <= 1 s), and the marginal wall time per simulated second ((long - short) /
(long_s - short_s); target <= 0.2 s). The same in CPU time (the process and the children it waited
for, the compiled program included; a figure child a single run does not wait for is left out), which
a loaded machine inflates far less than the wall time.

    python benchmarks/bench_cli.py --baseline 5a2a935 --repeat 3
    python benchmarks/bench_cli.py --baseline 5a2a935 --profile   # and where the Python side's time goes

``--profile`` adds one run per tree and duration under cProfile (after the timed repeats) and prints
the cumulative CPU seconds of the stages of a run (its compiled program waited for, the measures,
the muscle readout, writing) and their difference per simulated second: what the marginal cost is
made of.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import baseline_trees, machine, table  # noqa: E402

FLOOR = "import brian2, hydra, matplotlib.pyplot, scipy.signal, scipy.stats"


def timed(args, env) -> tuple:
    """(wall s, CPU s) of ``python <args>``: the CPU time (user + system) of the process and of the
    children it waited for, which a loaded machine inflates far less than the wall time."""
    t0, cpu0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    wall, cpu1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(args)} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return wall, (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)


def cli_run(env, out: Path, duration: float) -> dict:
    extra = ["sim.transient=0s", "readout.plots=[]"] if duration < 0.5 else []
    wall, cpu = timed(["-m", "circuitsim.cli", f"sim.duration={duration}s", "sim.progress=false",
                       f"hydra.run.dir={out}", *extra], env)
    run = json.loads((out / "metrics.json").read_text())["run"]
    return {"wall": wall, "cpu": cpu, "sim": run["sim_s"], "sim_cpu": run["sim_cpu_s"], "reused": run["build_reused"]}


#: (label, function name) of the stages --profile reports, by cumulative CPU time under cProfile
STAGES = (("whole command (Python, imports included)", "main"), ("finish_run: all after the program", "finish_run"),
          ("metrics", "compute_metrics"), ("  connectivity (Granger, coherence)", "connectivity_matrix"),
          ("  spike measures", "spike_measures"), ("  LFP spectra", "lfp_spectra"),
          ("muscle readout", "add_muscle_readout"), ("writing the data files", "write_data"),
          ("metrics.json", "finish"))
PROFILE = """import cProfile, runpy, sys, time
stats, sys.argv = sys.argv[1], ["circuitsim", *sys.argv[2:]]
profile = cProfile.Profile(time.process_time)
profile.enable()
try:
    runpy.run_module("circuitsim.cli", run_name="__main__")
except SystemExit:
    pass
profile.disable()
profile.dump_stats(stats)
"""


def profiled(env, out: Path, duration: float) -> dict:
    """CPU seconds of each of :data:`STAGES` (cumulative, cProfile with a CPU clock) in one CLI run,
    and of its compiled program (``run.sim_cpu_s``)."""
    import pstats

    stats = out.with_suffix(".pstat")
    timed(["-c", PROFILE, str(stats), f"sim.duration={duration}s", "sim.progress=false", f"hydra.run.dir={out}"], env)
    cum: dict = {}
    for (path, _, name), (_, _, _, ct, _) in pstats.Stats(str(stats)).stats.items():
        if (name == "main" and not path.endswith("cli.py")) or (name == "finish" and not path.endswith("results.py")):
            continue
        cum[name] = max(cum.get(name, 0.0), ct)
    row = {label: cum.get(name, 0.0) for label, name in STAGES}
    row["compiled program (its own CPU)"] = json.loads((out / "metrics.json").read_text())["run"]["sim_cpu_s"]
    return row


def profile_table(trees, tmp: Path, short: float, long: float) -> str:
    rows = []
    labels = [label for label, _ in STAGES] + ["compiled program (its own CPU)"]
    for name, env in trees.items():
        a, b = profiled(env, tmp / f"prof-{name}-short", short), profiled(env, tmp / f"prof-{name}-long", long)
        for label in labels:
            rows.append({"tree": name, "stage": label, f"{short:g} s run": a[label], f"{long:g} s run": b[label],
                         "per extra simulated s": (b[label] - a[label]) / (long - short)})
    return ("\n# cProfile (CPU clock) of one CLI run per tree and duration: CPU s (profiling inflates Python time)\n\n"
            + table(rows, ["tree", "stage", f"{short:g} s run", f"{long:g} s run", "per extra simulated s"]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="HEAD")
    parser.add_argument("--candidate", default=None, help="a revision instead of this working tree")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--short", type=float, default=1.0)
    parser.add_argument("--long", type=float, default=3.0)
    parser.add_argument("--profile", action="store_true", help="also one cProfile run per tree and duration")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        trees = baseline_trees(tmp, args.baseline, args.candidate)
        for name, env in trees.items():          # build (or find) each tree's program
            cli_run(env, tmp / f"warm-{name}", 0.05)
        rows = {(name, d): [] for name in trees for d in (args.short, args.long)}
        floors, floor_cpus = [], []
        k = 0
        for _ in range(args.repeat):
            wall, cpu = timed(["-c", FLOOR], trees["candidate"])
            floors.append(wall)
            floor_cpus.append(cpu)
            for name, env in trees.items():
                for d in (args.short, args.long):
                    k += 1
                    rows[(name, d)].append(cli_run(env, tmp / f"run{k}", d))
        floor, floor_cpu = float(np.median(floors)), float(np.median(floor_cpus))
        out, marginal, marginal_cpu = [], {}, {}
        for name in trees:
            med, med_cpu = {}, {}
            for d in (args.short, args.long):
                runs = rows[(name, d)]
                wall = float(np.median([r["wall"] for r in runs]))
                sim = float(np.median([r["sim"] for r in runs]))
                beyond = float(np.median([r["wall"] - r["sim"] for r in runs]))
                cpu = float(np.median([r["cpu"] for r in runs]))
                beyond_cpu = float(np.median([r["cpu"] - r["sim_cpu"] for r in runs]))
                med[d], med_cpu[d] = wall, cpu
                out.append({"tree": name, "simulated s": d, "wall s": wall, "program s": sim, "beyond program s": beyond,
                            "beyond - import floor s": beyond - floor, "CPU s": cpu,
                            "CPU beyond program - floor CPU s": beyond_cpu - floor_cpu,
                            "builds reused": all(r["reused"] for r in runs)})
            marginal[name] = (med[args.long] - med[args.short]) / (args.long - args.short)
            marginal_cpu[name] = (med_cpu[args.long] - med_cpu[args.short]) / (args.long - args.short)
        profile = profile_table(trees, tmp, args.short, args.long) if args.profile else ""
    print(f"# CLI runs: baseline {args.baseline} vs {args.candidate or 'this tree'}, medians of {args.repeat}, interleaved\n\n"
          f"machine: {machine()}\n\nimport floor ({FLOOR}): {floor:.2f} s wall, {floor_cpu:.2f} s CPU\n")
    print(table(out, ["tree", "simulated s", "wall s", "program s", "beyond program s", "beyond - import floor s",
                      "CPU s", "CPU beyond program - floor CPU s", "builds reused"]))
    print("\nmarginal wall s per simulated s: " + ", ".join(f"{k} {v:.3f}" for k, v in marginal.items())
          + " (target <= 0.2); in CPU s: " + ", ".join(f"{k} {v:.3f}" for k, v in marginal_cpu.items()))
    if profile:
        print(profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
