"""Which pathway matters most? Sensitivity of the severity score to every named pathway.

Question: scaling the weight of one pathway of the circuit down or up (x0.5 and x1.5 of its
value), how much does the clinical severity score (``muscle.severity_score``) of a commanded
head turn (``task=turn_left``) change, relative to the unscaled circuit of the same seed? Which
pathways matter most in the healthy circuit and in the dystonic network
(``condition=dystonia_network``)?

    python experiments/pathway_sensitivity/run.py --quick   # 8 pathways, dystonia_network, 1 seed (~1 min)
    python experiments/pathway_sensitivity/run.py           # all 32 pathways, 2 circuits, 3 seeds (~13 min)
    python experiments/pathway_sensitivity/run.py --scales 0.5 0.75 1.25 1.5 --seeds 0 1
    python experiments/pathway_sensitivity/run.py --circuits dystonia_bg --pathways gpi_thal stn_gpi
    python experiments/pathway_sensitivity/run.py --jobs 2  # 2 runs at a time (default: all cores)
    python experiments/pathway_sensitivity/run.py --launcher slurm --launcher-override hydra.launcher.partition=cpu
                                                            # one SLURM job per run (docs/data.md)

The pathways are read from the composed config (``circuit.pathways``), not listed by hand.
A condition may already scale a pathway (``dystonia_network`` sets ``dcn_thal_cm`` to x3.5,
``d1_gpi`` to x4, ...). A Hydra override *replaces* that value, so each point sets
``weight_scale = condition's weight_scale x factor`` (e.g. ``dcn_thal_cm`` at factor 0.5 in
``dystonia_network`` runs at 1.75): the factor is always relative to the circuit as the
condition defines it. Only ``weight_scale`` is scaled (``p_scale``, e.g. ``d1_gpi``'s 0.5 in the
dystonia conditions, is left alone: it changes the circuit's structure).

The quick variant runs ``dystonia_network`` only and scales the pathways whose ``weight_scale``
there differs from the healthy circuit's (the pathways the dystonia hypothesis changes; 8 of 32,
computed from the configs), one seed: 17 runs.

Each effect is a paired difference: Δ = measure(scaled, seed k) - measure(unscaled, seed k),
so both runs share connectivity, initial state and noise. ``effect`` is the largest |mean Δ|
over the scales; pathways are ranked by it (1 = largest) within each circuit. ``resolved``
marks pathways where a paired t-test over seeds rejects Δseverity = 0 at some scale
(|mean Δ| > t(0.975, n-1) sd/sqrt(n), 5 % per comparison, no correction for the 2 x 32
comparisons per circuit, so about 3 per circuit are expected by chance; never with one seed);
``resolved_cc`` the same for Δco-contraction.

Outputs in ``--out``: ``table.md`` / ``table.csv`` (per circuit and pathway: Δseverity and
Δco-contraction at every scale, mean ± sd over seeds, effect, rank), ``baseline.md`` /
``baseline.csv`` (the unscaled circuits), ``runs.csv`` (every run), ``pathway_sensitivity.png``
(tornado chart, one panel per circuit) and one run folder per run under ``runs/``.

Caveats: the runs are 2 s (the command lasts 1-1.8 s), the circuit is chaotic, so any change
decorrelates spike trains and Δ carries the seed-to-seed spread of the measure; read an effect
only where it exceeds its sd. Scaling one pathway at a time says nothing about interactions.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from circuitsim import compose
from circuitsim.experiments import (Point, argument_parser, configure_logging, launch_options, run_points,
                                    save_figure, write_rows, write_table)

NAME = "pathway_sensitivity"
#: column -> dotted metrics key; the first two are the table's effects
MEASURES = {
    "severity": "muscle.severity_score",
    "co_contraction": "muscle.co_contraction_index",
    "gpi_rate_hz": "populations.gpi.rate_hz",
    "thal_rate_hz": "populations.thal.rate_hz",
    "ctx_e_rate_hz": "populations.ctx_e.rate_hz",
}
EFFECTS = {"severity": "Δseverity", "co_contraction": "Δco-contraction"}
#: every run: the head-turn command (1-1.8 s), no figures or spike files (the table needs metrics only)
BASE = ("task=turn_left", "readout.plots=[]", "readout.save_spikes=false")

#: the circuit the "changed" rule compares with
REFERENCE = "healthy"
#: ``pathways``: "all" (every pathway of the composed config) or "changed" (those whose
#: weight_scale in some circuit differs from the healthy circuit's; see the module docstring)
FULL = {"circuits": ["healthy", "dystonia_network"], "pathways": "all", "scales": [0.5, 1.5],
        "seeds": [0, 1, 2], "duration": "2*second"}
QUICK = {"circuits": ["dystonia_network"], "pathways": "changed", "scales": [0.5, 1.5],
         "seeds": [0], "duration": "2*second"}


def condition_scales(circuit: str) -> Dict[str, float]:
    """``weight_scale`` of every named pathway in the composed config of ``condition=circuit``."""
    cfg = compose([f"condition={circuit}", *BASE])
    return {name: float(pw.weight_scale) for name, pw in cfg.circuit.pathways.items()}


def select_pathways(rule: str | Sequence[str], scales: Dict[str, Dict[str, float]]) -> List[str]:
    """The pathways to scale, in the config's order: ``"all"``, ``"changed"`` or a list of names.

    ``scales`` maps each circuit (and :data:`REFERENCE`) to :func:`condition_scales`;
    ``"changed"`` are the pathways whose weight_scale differs between any two of them.
    """
    names = list(next(iter(scales.values())))
    if rule == "all":
        return names
    if rule == "changed":
        chosen = [n for n in names if len({s[n] for s in scales.values()}) > 1]
        if not chosen:
            raise ValueError("pathways='changed' needs circuits whose weight_scale differs from the "
                             f"{REFERENCE} circuit's; {list(scales)} do not. Use 'all' or name the pathways "
                             "(--pathways)")
        return chosen
    unknown = [n for n in rule if n not in names]
    if unknown:
        raise ValueError(f"--pathways: unknown pathway(s) {unknown}; circuit.pathways has {names}")
    return list(rule)


def _num(x: float) -> str:
    return f"{x:.6g}"


def make_points(circuits: Sequence[str], pathways: Sequence[str], factors: Sequence[float],
                scales: Dict[str, Dict[str, float]]) -> List[Point]:
    """One unscaled point per circuit, then one point per circuit, pathway and factor.

    The override is the product of the condition's weight_scale and the factor (an override
    would otherwise replace the condition's value).
    """
    for f in factors:
        if not (f > 0 and math.isfinite(f)) or f == 1:
            raise ValueError(f"--scales: factors must be positive, finite and not 1 (the baseline); got {f}")
    points = []
    for circuit in circuits:
        points.append(Point(f"{circuit}_baseline", [f"condition={circuit}"],
                            {"circuit": circuit, "pathway": "(none)", "scale": 1.0, "weight_scale": float("nan")}))
        for name in pathways:
            for f in factors:
                ws = scales[circuit][name] * f
                points.append(Point(f"{circuit}_{name}_x{_num(f)}",
                                    [f"condition={circuit}", f"circuit.pathways.{name}.weight_scale={_num(ws)}"],
                                    {"circuit": circuit, "pathway": name, "scale": float(f),
                                     "weight_scale": float(_num(ws))}))
    return points


def paired_deltas(rows: Sequence[dict], columns: Sequence[str]) -> List[dict]:
    """Every scaled run's row with ``d_<col>`` = its value minus the same circuit and seed's baseline."""
    base = {(r["circuit"], r["seed"]): r for r in rows if r["pathway"] == "(none)"}
    out = []
    for r in rows:
        if r["pathway"] == "(none)":
            continue
        b = base[(r["circuit"], r["seed"])]
        out.append({**r, **{f"d_{c}": r[c] - b[c] for c in columns}})
    return out


def t_critical(n: int) -> float:
    """Two-sided 95 % quantile of Student's t with n - 1 degrees of freedom (4.30 for n = 3)."""
    from scipy.stats import t

    return float(t.ppf(0.975, n - 1))


def sensitivity_table(deltas: Sequence[dict], factors: Sequence[float]) -> List[dict]:
    """Per circuit and pathway: mean and sd over seeds of each Δ at each factor, effect and rank."""
    groups: Dict[tuple, List[dict]] = {}
    for d in deltas:
        groups.setdefault((d["circuit"], d["pathway"]), []).append(d)
    table = []
    for (circuit, pathway), members in groups.items():
        line = {"circuit": circuit, "pathway": pathway}
        effect, n = 0.0, 0
        resolved = {col: False for col in EFFECTS}
        for col in EFFECTS:
            for f in factors:
                vals = np.array([m[f"d_{col}"] for m in members if m["scale"] == f], dtype=float)
                vals = vals[np.isfinite(vals)]
                mean = float(vals.mean()) if vals.size else float("nan")
                sd = float(vals.std(ddof=1)) if vals.size > 1 else float("nan")
                line[f"{col}_x{_num(f)}_mean"], line[f"{col}_x{_num(f)}_sd"] = mean, sd
                if vals.size > 1:   # paired t-test of Δ = 0
                    resolved[col] |= bool(abs(mean) > t_critical(vals.size) * sd / math.sqrt(vals.size))
                if col == "severity":
                    n = max(n, int(vals.size))
                    effect = max(effect, abs(mean)) if math.isfinite(mean) else float("nan")
        line["effect"], line["n"] = effect, n
        line["resolved"] = "yes" if resolved["severity"] else "no"
        line["resolved_cc"] = "yes" if resolved["co_contraction"] else "no"
        table.append(line)
    ranked = []
    for circuit in dict.fromkeys(t["circuit"] for t in table):
        mine = sorted((t for t in table if t["circuit"] == circuit),
                      key=lambda t: -t["effect"] if math.isfinite(t["effect"]) else math.inf)
        for k, t in enumerate(mine, start=1):
            t["rank"] = k
        ranked += mine
    return ranked


def tornado(table: Sequence[dict], baseline: Sequence[dict], factors: Sequence[float]):
    """Horizontal bars from 0 to Δseverity at the lowest and highest factor, ± sd over seeds;
    one panel per circuit, pathways sorted by effect (largest at the top)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    circuits = list(dict.fromkeys(t["circuit"] for t in table))
    n_path = max(sum(t["circuit"] == c for t in table) for c in circuits)
    lo, hi = min(factors), max(factors)
    fig, axes = plt.subplots(1, len(circuits), figsize=(4.6 * len(circuits), 1.2 + 0.24 * n_path), squeeze=False)
    for ax, circuit in zip(axes[0], circuits):
        rows = [t for t in table if t["circuit"] == circuit]
        y = np.arange(len(rows))[::-1]
        for f, colour, dy in ((lo, "tab:blue", 0.18), (hi, "tab:red", -0.18)):
            m = np.array([t[f"severity_x{_num(f)}_mean"] for t in rows])
            s = np.array([t[f"severity_x{_num(f)}_sd"] for t in rows])
            ax.barh(y + dy, m, height=0.36, color=colour, label=f"weight ×{_num(f)}",
                    xerr=np.where(np.isfinite(s), s, 0.0), error_kw={"elinewidth": 0.8, "capsize": 1.5})
        ax.set_yticks(y, [t["pathway"] + ("*" if t["resolved"] == "yes" else "") for t in rows], fontsize=7)
        ax.axvline(0.0, color="k", lw=0.8)
        b = next((r for r in baseline if r["circuit"] == circuit), None)
        if b is not None and math.isfinite(b["severity_sd"]):   # what the seed alone changes
            ax.axvspan(-b["severity_sd"], b["severity_sd"], color="0.88", zorder=0,
                       label="± sd of the unscaled severity over seeds")
        sev = "" if b is None else f"\nunscaled severity {b['severity_mean']:.3f}" + (
            f" ± {b['severity_sd']:.3f}" if math.isfinite(b["severity_sd"]) else "")
        ax.set_title(f"{circuit}{sev}", fontsize=9)
        ax.set_xlabel("Δ severity score (scaled − unscaled, same seed)", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_ylim(-0.7, len(rows) - 0.3)
    n = max(t["n"] for t in table)
    fig.suptitle(f"Pathway sensitivity of the severity score (turn_left; mean ± sd over {n} seed"
                 f"{'s' if n > 1 else ''}; * = paired t-test p < 0.05 at a scale, uncorrected)", fontsize=9)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, ncol=3, loc="lower center")
    fig.tight_layout(rect=(0, 0.3 / fig.get_figheight(), 1, 1))
    return fig


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argument_parser(__doc__, default_out=f"outputs/experiments/{NAME}")
    parser.add_argument("--scales", type=float, nargs="+", default=None,
                        help="weight factors relative to the condition's (default: the variant's)")
    parser.add_argument("--pathways", nargs="+", default=None,
                        help="pathway names, or 'all' / 'changed' (default: the variant's)")
    parser.add_argument("--circuits", nargs="+", default=None, help="conditions (default: the variant's)")
    args = parser.parse_args(argv)
    configure_logging()
    variant = QUICK if args.quick else FULL
    seeds = args.seeds if args.seeds is not None else variant["seeds"]
    factors = args.scales if args.scales is not None else variant["scales"]
    circuits = args.circuits if args.circuits is not None else variant["circuits"]
    rule = variant["pathways"] if args.pathways is None else (
        args.pathways[0] if args.pathways in (["all"], ["changed"]) else args.pathways)

    scales = {c: condition_scales(c) for c in dict.fromkeys([*circuits, REFERENCE])}
    pathways = select_pathways(rule, scales)
    points = make_points(circuits, pathways, factors, scales)
    rows = run_points(points, seeds, args.out, MEASURES, resume=args.resume,
                      base=[*BASE, f"sim.duration={variant['duration']}"], **launch_options(args))
    write_rows(rows, args.out)

    from circuitsim.experiments import summarise

    baseline = summarise([r for r in rows if r["pathway"] == "(none)"], by=["circuit"], columns=list(MEASURES))
    base_md = write_table(baseline, args.out, by=["circuit"], name="baseline",
                          columns={"severity": "severity", "co_contraction": "co-contraction",
                                   "gpi_rate_hz": "GPi rate (Hz)", "thal_rate_hz": "thalamus rate (Hz)"})
    table = sensitivity_table(paired_deltas(rows, list(EFFECTS)), factors)
    columns = {f"{col}_x{_num(f)}": f"{head} ×{_num(f)}" for col, head in EFFECTS.items() for f in factors}
    text = write_table(table, args.out, by=["circuit", "rank", "pathway", "resolved", "resolved_cc"],
                       columns=columns)
    fig = tornado(table, baseline, factors)
    save_figure(fig, args.out, NAME, also=args.figure)
    print("\nUnscaled circuits (mean ± sd over seeds):\n" + base_md)
    print("\nΔ relative to the unscaled circuit, same seed (mean ± sd over seeds), ranked by the largest "
          "|mean Δseverity|:\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
