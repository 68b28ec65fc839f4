"""Healthy vs each dystonia condition vs parkinsonian, side by side.

Runs every condition with the same left-turn command and seeds, writes each run folder under
OUT/<condition>_seed<k>/, and a comparison (circuitsim-compare) of the seed-0 runs plus a
figure of the key measures with their seed spread (docs/figures/conditions.png in the README).

    python experiments/conditions/compare_conditions.py --out conditions_out --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from circuitsim import compose, simulate
from circuitsim.compare import KEY_MEASURES, flatten_metrics, write_comparison

CONDITIONS = ("healthy", "dystonia_bg", "dystonia_cerebellar", "dystonia_network", "parkinsonian")
MEASURES = KEY_MEASURES + (("lfp.gpi.power_4_10hz", "GPi LFP 4-10 Hz (rel.)"),)


def plot_conditions(table: dict) -> Figure:
    fig = Figure(figsize=(13, 8), layout="constrained")
    axes = fig.subplots(2, 5).ravel()
    x = np.arange(len(CONDITIONS))
    for ax, (key, title) in zip(axes, MEASURES):
        vals = np.array([[f.get(key, np.nan) for f in table[c]] for c in CONDITIONS], dtype=float)
        ax.bar(x, np.nanmean(vals, axis=1), color=[f"C{k}" for k in x],
               yerr=np.nanstd(vals, axis=1), capsize=3)
        for k in x:
            ax.plot(np.full(vals.shape[1], k), vals[k], "k.", ms=3)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(x, [c.replace("dystonia_", "dyst. ") for c in CONDITIONS], rotation=45, fontsize=8)
    fig.suptitle("Conditions with the same left-turn command (mean ± sd over seeds, dots = seeds)")
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="conditions_out")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--duration", default="2.5s")
    parser.add_argument("--figure", default=None, help="also save the figure here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    out = Path(args.out)
    table, first = {}, []
    for condition in CONDITIONS:
        table[condition] = []
        for seed in args.seeds:
            folder = out / f"{condition}_seed{seed}"
            cfg = compose([f"condition={condition}", "task=turn_left", f"sim.seed={seed}",
                           f"sim.duration={args.duration}", "sim.progress=false"])
            res = simulate(cfg, out_dir=folder, overwrite=True)
            table[condition].append(flatten_metrics(res.metrics))
            if seed == args.seeds[0]:
                first.append(res)
            print(f"{condition} seed {seed}: done", flush=True)
    write_comparison(first, out / "compare")
    fig = plot_conditions(table)
    fig.savefig(out / "conditions.png", dpi=90)
    if args.figure:
        fig.savefig(args.figure, dpi=90)


if __name__ == "__main__":
    main()
