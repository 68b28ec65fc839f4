"""Compare finished runs side by side: ``circuitsim-compare RUN RUN [RUN ...] [--out DIR]``.

Writes ``compare.csv`` and ``compare.md`` (every scalar metric of every run, and its
difference from the first run) and ``compare.png`` (key measures side by side).
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import sys
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np
from matplotlib.figure import Figure

from circuitsim.catalogue import label
from circuitsim.errors import ResultError
from circuitsim.io.results import Result, load_result

logger = logging.getLogger(__name__)

#: measures shown in compare.png: (metric key, label); the labels are the metric catalogue's
#: (circuitsim.catalogue.label)
KEY_MEASURES = tuple((key, label(key)) for key in (
    "populations.gpi.rate_hz", "populations.gpi.cv_isi", "populations.gpi.burst_fraction",
    "lfp.gpi.band_power.theta", "lfp.gpi.band_power.beta", "lfp.stn.band_power.beta",
    "channels.selectivity", "muscle.co_contraction_index", "muscle.severity_score"))


def flatten_metrics(metrics: Dict[str, Any], prefix: str = "") -> Dict[str, float]:
    """Dotted key -> value for every numeric leaf (None becomes NaN; lists and strings are skipped)."""
    out: Dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten_metrics(value, name + "."))
        elif isinstance(value, bool):
            continue
        elif isinstance(value, (int, float)):
            out[name] = float(value)
        elif value is None:
            out[name] = math.nan
    return out


def run_label(result: Result) -> str:
    run = result.metrics.get("run", {})
    parts = [run.get("condition") or "", f"task={run['task']}" if run.get("task") else "", f"seed {run.get('seed')}"]
    return " ".join(p for p in parts if p) or str(result.folder)


def comparison_table(results: Sequence[Result]) -> List[Dict[str, Any]]:
    """One row per metric: its value in each run and the difference of each run from the first."""
    flat = [flatten_metrics(r.metrics) for r in results]
    keys = [k for k in flat[0] if not k.startswith("run.")]
    for f in flat[1:]:
        keys += [k for k in f if k not in keys and not k.startswith("run.")]
    rows = []
    for key in keys:
        values = [f.get(key, math.nan) for f in flat]
        row: Dict[str, Any] = {"metric": key}
        for k, v in enumerate(values):
            row[f"run{k}"] = v
            if k:
                row[f"diff{k}"] = v - values[0]
        rows.append(row)
    return rows


def plot_comparison(results: Sequence[Result]) -> Figure:
    flat = [flatten_metrics(r.metrics) for r in results]
    labels = [run_label(r) for r in results]
    fig = Figure(figsize=(12, 7), layout="constrained")
    axes = fig.subplots(3, 3).ravel()
    colours = [f"C{k}" for k in range(len(results))]
    for ax, (key, title) in zip(axes, KEY_MEASURES):
        vals = [f.get(key, math.nan) for f in flat]
        ax.bar(np.arange(len(vals)), np.nan_to_num(vals), color=colours)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(np.arange(len(vals)), [str(k) for k in range(len(vals))])
    fig.legend(handles=[__import__("matplotlib.patches", fromlist=["Patch"]).Patch(color=c, label=f"{k}: {l}")
                        for k, (c, l) in enumerate(zip(colours, labels))], loc="outside lower center",
               ncol=min(3, len(labels)), fontsize=9)
    fig.suptitle("circuitsim-compare")
    return fig


def write_comparison(results: Sequence[Result], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rows = comparison_table(results)
    fields = list(rows[0]) if rows else ["metric"]
    with open(out / "compare.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| metric | " + " | ".join(f"{k}: {run_label(r)}" for k, r in enumerate(results)) + " |",
             "|---|" + "---|" * len(results)]
    for row in rows:
        cells = [f"{row['run0']:.4g}"] + [f"{row[f'run{k}']:.4g} ({row[f'diff{k}']:+.3g})" for k in range(1, len(results))]
        lines.append(f"| {row['metric']} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"- run {k}: `{r.folder}`" for k, r in enumerate(results)]
    (out / "compare.md").write_text("\n".join(lines) + "\n")
    plot_comparison(results).savefig(out / "compare.png", dpi=100)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="circuitsim-compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="finished run folders (the first is the reference)")
    parser.add_argument("--out", default="compare", help="folder for compare.csv/.md/.png (default: ./compare)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if len(args.runs) < 2:
        parser.error("give at least two run folders")
    try:
        results = [load_result(folder) for folder in args.runs]
    except ResultError as err:
        print(f"circuitsim-compare: {err}", file=sys.stderr)
        return 2
    write_comparison(results, Path(args.out))
    logger.info("wrote %s/compare.csv, compare.md, compare.png", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
