"""Benchmark: the default figure set against the simulation it shows, and against a baseline.

Runs the default circuit for 1 s once (cached build, no figures), then renders each default
figure with this tree's ``circuitsim.plots`` and with the ``circuitsim/plots`` of a git revision
(``--baseline``, default HEAD~0 = the committed version), interleaved, ``--repeat`` times, in one
process. Prints median seconds per figure, the candidate / baseline ratio and the default set's
time / the 1 s simulation's program time. No timed assertion: read the ratios.

    python benchmarks/bench_figures.py --baseline 5a2a935 --repeat 5
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def baseline_plots(rev: str, where: Path):
    """Import ``circuitsim/plots`` of git revision ``rev`` as the package ``_baseline_plots``."""
    pkg = where / "_baseline_plots"
    pkg.mkdir()
    names = subprocess.run(["git", "ls-tree", "--name-only", rev, "circuitsim/plots/"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    for name in names:
        text = subprocess.run(["git", "show", f"{rev}:{name}"], cwd=ROOT, check=True, capture_output=True,
                              text=True).stdout
        (pkg / Path(name).name).write_text(text.replace("circuitsim.plots", "_baseline_plots"))
    sys.path.insert(0, str(where))
    return importlib.import_module("_baseline_plots")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="HEAD", help="git revision of the baseline circuitsim/plots")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--duration", type=float, default=1.0)
    args = parser.parse_args()

    import numpy as np

    from circuitsim import compose, plots, simulate

    cfg = compose([f"sim.duration={args.duration}s", "sim.progress=false", "readout.plots=[]"])
    simulate(cfg)                         # builds the structure if needed
    sims, result = [], None
    for _ in range(3):
        result = simulate(cfg)
        sims.append(result.metrics["run"]["sim_s"])
    sim_s = float(np.median(sims))
    names = [n for n in plots.FIGURES if n != "stim"]
    with tempfile.TemporaryDirectory() as tmp:
        base = baseline_plots(args.baseline, Path(tmp))
        out = Path(tmp) / "out"
        out.mkdir()
        times = {(who, n): [] for who in ("baseline", "candidate") for n in names}
        for mod in (base, plots):         # warm-up: font cache, first-use imports
            mod.write_figures(out, result, names)
        for _ in range(args.repeat):
            for n in names:
                for who, mod in (("baseline", base), ("candidate", plots)):
                    t0 = time.perf_counter()
                    mod.write_figures(out, result, [n])
                    times[(who, n)].append(time.perf_counter() - t0)
    med = {k: float(np.median(v)) for k, v in times.items()}
    rows = [{"figure": n, "baseline s": med[("baseline", n)], "candidate s": med[("candidate", n)],
             "candidate / baseline": med[("candidate", n)] / med[("baseline", n)]} for n in names]
    tb, tc = (sum(med[(w, n)] for n in names) for w in ("baseline", "candidate"))
    rows.append({"figure": "all", "baseline s": tb, "candidate s": tc, "candidate / baseline": tc / tb})
    print(f"# Figures: baseline {args.baseline} vs this tree, medians of {args.repeat}, interleaved\n\n"
          f"machine: {machine()}\n")
    print(table(rows, ["figure", "baseline s", "candidate s", "candidate / baseline"]))
    print(f"\nthe {args.duration:g} s simulation's program: {sim_s:.3f} s (median of 3); default figures / program: "
          f"baseline {tb / sim_s:.2f}, candidate {tc / sim_s:.2f} (target < 1)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
