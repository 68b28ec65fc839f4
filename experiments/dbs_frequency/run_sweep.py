"""GPi DBS frequency sweep in a dystonic circuit: muscle and pallidal measures by frequency.

Runs the ``dbs_gpi`` preset (130 Hz, 3 mA, 210 us biphasic; Kupsch et al. 2006) at each
frequency (0 Hz = stimulator off, the baseline) in a dystonia condition, for several seeds, and
writes a table of the clinical severity score, the co-contraction index, the relative 4-10 Hz
power of the pallidal LFP proxy (Silberstein et al. 2003), GPi and thalamic rates and the
energy delivered: mean and standard deviation over seeds per frequency.

    python experiments/dbs_frequency/run_sweep.py --quick            # 5 frequencies, 1 seed, ~2-3 min
    python experiments/dbs_frequency/run_sweep.py --out dbs_freq_out  # 7 frequencies, 3 seeds, 4 s runs

Outputs in ``--out``: ``table.csv``, ``table.md``, ``dbs_frequency.png`` and one run folder per
point (``f<Hz>_seed<k>/``).
"""

from __future__ import annotations

import argparse
import csv
import logging
import time
from pathlib import Path

import numpy as np

from circuitsim import compose, simulate

#: (column, dotted metrics key, label)
MEASURES = (
    ("severity", "muscle.severity_score", "severity score"),
    ("co_contraction", "muscle.co_contraction_index", "co-contraction index"),
    ("gpi_4_10hz", "lfp.gpi.power_4_10hz", "GPi LFP 4-10 Hz (rel.)"),
    ("gpi_4_10hz_abs", None, "GPi LFP 4-10 Hz (abs., nA^2)"),
    ("gpi_rate_hz", "populations.gpi.rate_hz", "GPi rate (Hz)"),
    ("thal_rate_hz", "populations.thal.rate_hz", "thalamus rate (Hz)"),
    ("energy_uj", "stim.dbs_gpi.energy_uj", "energy (uJ)"),
)
FULL = {"frequencies": [0, 20, 60, 100, 130, 160, 185], "seeds": [0, 1, 2], "duration": "4s"}
QUICK = {"frequencies": [0, 20, 60, 130, 185], "seeds": [0], "duration": "2s"}   # turn_left commands 1-1.8 s


def lookup(metrics: dict, dotted: str) -> float:
    node = metrics
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return float("nan")
        node = node[part]
    return float("nan") if node is None else float(node)


def run_point(condition: str, task: str, frequency: float, seed: int, duration: str, device: str,
              out: Path) -> dict:
    overrides = [f"condition={condition}", f"task={task}", "stim=dbs_gpi", f"stim.dbs_gpi.frequency={frequency}*Hz",
                 f"sim.seed={seed}", f"sim.duration={duration}", f"sim.device={device}", "sim.progress=false",
                 "readout.plots=[stim,muscle]"]
    res = simulate(compose(overrides), out_dir=out / f"f{frequency:g}_seed{seed}", overwrite=True)
    row = {col: lookup(res.metrics, key) for col, key, _ in MEASURES if key}
    row["gpi_4_10hz_abs"] = absolute_band_power(res, "gpi", (4.0, 10.0))
    return row


def absolute_band_power(res, region: str, band) -> float:
    """Absolute power (nA^2) of a region's LFP proxy in ``band`` after the transient.

    The relative power in metrics.json is divided by the 1-100 Hz power, which the currents evoked
    by the pulses themselves raise; the absolute power shows whether the rhythm itself changed.
    """
    from circuitsim.analysis import spectra as sp

    x = res.lfp.get(region)
    if x is None:
        return float("nan")
    fs = 1.0 / res.lfp_dt
    x = x[int(round(res.metrics["run"]["transient_s"] * fs)):]
    f, psd = sp.welch_psd(x, fs, segment_s=min(0.5, x.size / fs / 2))
    return float(sp.band_powers(f, psd, {"b": tuple(band)}, relative=False)["b"]) * 1e18


def summarise(rows: dict) -> list:
    table = []
    for f, per_seed in rows.items():
        line = {"frequency_hz": f, "n_seeds": len(per_seed)}
        for col, _, _ in MEASURES:
            vals = np.array([r[col] for r in per_seed], dtype=float)
            line[f"{col}_mean"] = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
            line[f"{col}_sd"] = float(np.nanstd(vals)) if np.isfinite(vals).sum() > 1 else float("nan")
        table.append(line)
    return table


def markdown(table: list) -> str:
    head = "| frequency (Hz) | " + " | ".join(label for _, _, label in MEASURES) + " |"
    sep = "|---|" + "---|" * len(MEASURES)
    lines = [head, sep]
    for line in table:
        cells = []
        for col, _, _ in MEASURES:
            m, s = line[f"{col}_mean"], line[f"{col}_sd"]
            cells.append(f"{m:.3g}" + (f" ± {s:.2g}" if np.isfinite(s) else ""))
        lines.append(f"| {line['frequency_hz']:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(table: list, path: Path, title: str) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(14, 6), layout="constrained")
    axes = fig.subplots(2, 4).ravel()
    f = [line["frequency_hz"] for line in table]
    for ax, (col, _, label) in zip(axes, MEASURES):
        ax.errorbar(f, [line[f"{col}_mean"] for line in table],
                    yerr=[0 if not np.isfinite(line[f"{col}_sd"]) else line[f"{col}_sd"] for line in table],
                    marker="o", capsize=3)
        ax.set_xlabel("DBS frequency (Hz)")
        ax.set_title(label, fontsize=10)
    fig.suptitle(title)
    fig.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="dbs_frequency_out")
    parser.add_argument("--condition", default="dystonia_network",
                        help="a dystonia condition (dystonia_network shows raised pallidal 4-10 Hz power)")
    parser.add_argument("--task", default="turn_left")
    parser.add_argument("--frequencies", type=float, nargs="+", default=None, help="Hz, 0 = off")
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--duration", default=None)
    parser.add_argument("--device", default="runtime", choices=("runtime", "cpp_standalone"),
                        help="runtime (Cython, compiled once for every frequency; default) or cpp_standalone")
    parser.add_argument("--quick", action="store_true", help="5 frequencies, 1 seed, 2 s (about 2-3 min on 2 free cores)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    preset = QUICK if args.quick else FULL
    freqs = args.frequencies or preset["frequencies"]
    seeds = args.seeds or preset["seeds"]
    duration = args.duration or preset["duration"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: dict = {}
    t0 = time.perf_counter()
    for f in freqs:
        rows[f] = []
        for seed in seeds:
            rows[f].append(run_point(args.condition, args.task, f, seed, duration, args.device, out))
            print(f"{f:g} Hz, seed {seed}: severity {rows[f][-1]['severity']:.3f}, "
                  f"GPi 4-10 Hz {rows[f][-1]['gpi_4_10hz']:.3f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    table = summarise(rows)
    with open(out / "table.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    text = markdown(table)
    (out / "table.md").write_text(text + "\n")
    plot(table, out / "dbs_frequency.png",
         f"GPi DBS frequency sweep, {args.condition}, {args.task}, seeds {seeds}, {duration}")
    print(text)
    print(f"\n{len(freqs) * len(seeds)} runs in {time.perf_counter() - t0:.0f} s; results in {out}")


if __name__ == "__main__":
    main()
