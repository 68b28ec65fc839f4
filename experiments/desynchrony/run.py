"""The loops falling out of sync: coherence between cortex, basal ganglia and cerebellum.

Question: as the links between the basal-ganglia and the cerebellar loop are weakened step by
step, do the regions lose their coherence (and do populations lose synchrony)? And at the most
weakened step, does deep brain stimulation bring the coherence back to that of the intact
circuit?

Two pathway groups are weakened, each on its own, by a common ``weight_scale`` from 1 (intact)
to 0 (silenced; the synapses stay, their weight is 0):

* ``bg_cb_links`` - the disynaptic subcortical links between the loops, both directions:
  dentate -> centromedian thalamus -> striatum (``dcn_thal_cm``, ``thal_cm_d1``, ``thal_cm_d2``;
  Hoshi et al. 2005, Nat Neurosci 8:1491) and subthalamic nucleus -> pontine nuclei
  (``stn_pn``; Bostan, Dum & Strick 2010, PNAS 107:8452). This is the anatomical substrate of
  the hypothesis that dystonia is a network "out of sync" (Bostan & Strick 2018, Nat Rev
  Neurosci 19:338).
* ``corticopontine`` - motor cortex -> pontine nuclei (``ctx_e_pn``; Schmahmann & Pandya 1997),
  the cortical input the cerebellar loop shares with the basal ganglia (which get cortex
  directly). It is the comparison: how much of the coherence between the loops is inherited
  from their common cortical input rather than carried by the subcortical links.

Every run is the healthy circuit with the left-turn command (``task=turn_left``). At scale 0 of
each group (and in the intact circuit, to separate what stimulation does by itself) the fixed
presets ``stim=dbs_gpi`` (pallidal DBS, 130 Hz) and ``stim=dbs_dcn`` (dentate DBS, 130 Hz) are
applied. The full variant adds the intact ``dystonia_network`` condition as a reference.

Measures (all after ``sim.transient``): magnitude-squared coherence of the regions' LFP proxies
in theta (4-8 Hz), alpha (8-13 Hz), beta (13-30 Hz) and 4-30 Hz, for the pairs in ``PAIRS``
(computed here from each run's ``lfp.npz`` exactly as ``circuitsim.metrics`` computes its own
pairs: same transient, same Welch segment); Golomb's synchrony chi of the populations in
``SYNCHRONY``; thalamic channel selectivity; the rates of the weakened pathways' targets; and
``dist_intact``, the mean over the pairs of |coherence 4-30 Hz - intact mean|, whose value in
the intact row is the seed-to-seed floor.

Command::

    python experiments/desynchrony/run.py --quick          # 4 runs, 2 s each, seed 0
    python experiments/desynchrony/run.py                  # 19 points x 4 seeds, 5 s each
    python experiments/desynchrony/run.py --figure docs/figures/experiments/desynchrony.png

Outputs in ``--out``: ``table.md`` (coherence 4-30 Hz per pair, then synchrony and rates, mean
± sd over seeds), ``table.csv`` (every column, every band), ``runs.csv`` (one row per run),
``desynchrony.png`` and the run folders under ``runs/``.

Caveats: coherence of two finite signals is biased upwards (about 1 / number of Welch segments
for independent signals; the dotted line in the figure), so compare values with the intact row,
not with 0. The left-turn command (1-1.8 s) is a common input that adds low-frequency coherence
to every run alike. The "thal" region holds both motor thalamus and CM/Pf, "str" all striatal
cells. DBS parameters are the presets' fixed values (one build per preset).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence

import numpy as np

from circuitsim.analysis import spectra as sp
from circuitsim.experiments import (Point, argument_parser, configure_logging, launch_options, markdown, run_points,
                                    save_figure, summarise, write_rows, write_table)
from circuitsim.io.results import spec_of

NAME = "desynchrony"

#: pathway groups weakened together by one weight_scale (see the module docstring for sources)
SERIES: Dict[str, Dict[str, Any]] = {
    "bg_cb_links": {"pathways": ["dcn_thal_cm", "thal_cm_d1", "thal_cm_d2", "stn_pn"],
                    "title": "BG-cerebellum links (DCN->CM->str, STN->PN) weakened",
                    "targets": ["thal_cm", "pn"]},
    "corticopontine": {"pathways": ["ctx_e_pn"],
                       "title": "corticopontine input (ctx->PN) weakened",
                       "targets": ["pn"]},
}

#: region pairs (LFP proxies) whose coherence is measured; the first four link the loops
PAIRS = (("gpi", "dcn"), ("str", "dcn"), ("ctx", "dcn"), ("dcn", "thal"), ("gpi", "ctx"), ("thal", "ctx"),
         ("gpi", "thal"), ("stn", "gpe"))
#: the pairs drawn in the figure and listed in table.md (the others are in table.csv)
SHOWN_PAIRS = PAIRS[:6]
BANDS = {"theta": sp.BANDS["theta"], "alpha": sp.BANDS["alpha"], "beta": sp.BANDS["beta"], "low": (4.0, 30.0)}
SYNCHRONY = ("ctx_e", "gpi", "thal", "thal_cm", "dcn", "pn", "stn")
RATES = ("thal_cm", "pn", "gpi", "dcn")

QUICK: Dict[str, Any] = {
    "series": ["bg_cb_links"], "scales": [1.0, 0.5, 0.0], "seeds": [0], "duration_s": 2.0,
    "stim": ["dbs_gpi"], "stim_intact": False, "reference": [],
}
FULL: Dict[str, Any] = {
    "series": ["bg_cb_links", "corticopontine"], "scales": [1.0, 0.8, 0.6, 0.4, 0.2, 0.0], "seeds": [0, 1, 2, 3],
    "duration_s": 5.0, "stim": ["dbs_gpi", "dbs_dcn"], "stim_intact": True, "reference": ["dystonia_network"],
}

#: overrides of every run: no per-run figures, no muscle readout (not measured here)
BASE = ("task=turn_left", "readout.plots=[]", "readout.muscle.enabled=false")
FACTORS = ["weakened", "scale", "stim", "condition"]


def pair_name(a: str, b: str) -> str:
    return f"{a}__{b}"


def lfp_coherence(result: Any, pairs: Sequence[tuple] = PAIRS) -> Dict[str, Dict[str, float]]:
    """Band coherence of each region pair's LFP proxies, computed as ``circuitsim.metrics`` does.

    Same analysed window (after ``sim.transient``) and Welch segment
    (``min(readout.spectrum_segment, analysed / 2)``), so for the pairs that metrics.json also
    holds (``gpi__ctx``, ``gpi__dcn``, ...) the values agree.
    """
    fs = 1.0 / result.lfp_dt
    t0 = float(result.metrics["run"]["transient_s"])
    analysed = result.duration - t0
    segment = min(spec_of(result)["readout"]["spectrum_segment"], analysed / 2)
    skip = int(round(t0 * fs))
    out = {}
    for a, b in pairs:
        if a not in result.lfp or b not in result.lfp:
            raise KeyError(f"no LFP proxy of region {a!r} or {b!r} in {result.folder}; regions with one: "
                           f"{sorted(result.lfp)} (readout.lfp_neurons must be > 0)")
        out[pair_name(a, b)] = sp.coherence_bands(result.lfp[a][skip:], result.lfp[b][skip:], fs, bands=BANDS,
                                                  segment_s=segment)
    return out


class _CoherenceOfRun:
    """The coherence of the last run asked for, so that the many measures of one run share one computation."""

    def __init__(self) -> None:
        self.key: Any = None
        self.value: Dict[str, Dict[str, float]] = {}

    def __call__(self, result: Any) -> Dict[str, Dict[str, float]]:
        key = str(result.folder)
        if key != self.key:
            self.key, self.value = key, lfp_coherence(result)
        return self.value


def measures() -> Dict[str, Any]:
    """Column name -> measure (a metrics.json key or a function of the run's Result)."""
    coherence = _CoherenceOfRun()
    out: Dict[str, Any] = {}
    for a, b in PAIRS:
        for band in BANDS:
            out[f"coh_{pair_name(a, b)}_{band}"] = (lambda r, p=pair_name(a, b), k=band: coherence(r)[p][k])
    for pop in SYNCHRONY:
        out[f"sync_{pop}"] = f"populations.{pop}.synchrony"
    for pop in RATES:
        out[f"rate_{pop}"] = f"populations.{pop}.rate_hz"
    out["selectivity"] = "channels.selectivity"
    out["duration_s"] = "run.duration_s"
    return out


def points(variant: Mapping[str, Any]) -> List[Point]:
    """The intact circuit, each group at each scale below 1, stimulation points, references."""
    def scaled(series: str, scale: float) -> List[str]:
        return [f"circuit.pathways.{p}.weight_scale={scale:g}" for p in SERIES[series]["pathways"]]

    for series in variant["series"]:
        if series not in SERIES:
            raise ValueError(f"series {series!r} is not a pathway group; known: {sorted(SERIES)}")
    pts = [Point("intact", [], {"weakened": "none", "scale": 1.0, "stim": "none", "condition": "healthy"})]
    for series in variant["series"]:
        for scale in variant["scales"]:
            if scale != 1.0:
                pts.append(Point(f"{series}_x{scale:.2f}", scaled(series, scale),
                                 {"weakened": series, "scale": float(scale), "stim": "none", "condition": "healthy"}))
    weakest = min(variant["scales"])
    for stim in variant["stim"]:
        if variant["stim_intact"]:
            pts.append(Point(f"intact_{stim}", [f"stim={stim}"],
                             {"weakened": "none", "scale": 1.0, "stim": stim, "condition": "healthy"}))
        for series in variant["series"]:
            pts.append(Point(f"{series}_x{weakest:.2f}_{stim}", [*scaled(series, weakest), f"stim={stim}"],
                             {"weakened": series, "scale": float(weakest), "stim": stim, "condition": "healthy"}))
    for condition in variant["reference"]:
        pts.append(Point(f"{condition}", [f"condition={condition}"],
                         {"weakened": "none", "scale": 1.0, "stim": "none", "condition": condition}))
    return pts


def add_distance_to_intact(rows: List[Dict[str, Any]]) -> None:
    """``dist_intact`` of every run: mean over SHOWN_PAIRS of |coh 4-30 Hz - mean of the intact runs|."""
    cols = [f"coh_{pair_name(a, b)}_low" for a, b in SHOWN_PAIRS]
    intact = [r for r in rows if r["weakened"] == "none" and r["stim"] == "none" and r["condition"] == "healthy"]
    ref = np.array([np.nanmean([r[c] for r in intact]) for c in cols])
    for row in rows:
        row["dist_intact"] = float(np.nanmean(np.abs(np.array([row[c] for c in cols]) - ref)))


def bias_floor(duration_s: float, transient_s: float = 0.2, segment_s: float = 0.5) -> float:
    """About the coherence of two independent signals: 1 / number of Welch segments (50 % overlap)."""
    analysed = duration_s - transient_s
    segment = min(segment_s, analysed / 2)
    return 1.0 / (int((analysed - segment) / (segment / 2)) + 1)


def plot(table: Sequence[Mapping[str, Any]], variant: Mapping[str, Any]) -> Any:
    """Coherence per band and pair, and population synchrony, against the weakening scale."""
    from matplotlib.figure import Figure

    series_list = variant["series"]
    columns = [("theta", "coherence θ 4-8 Hz"), ("alpha", "coherence α 8-13 Hz"), ("beta", "coherence β 13-30 Hz"),
               ("sync", "population synchrony χ")]
    fig = Figure(figsize=(13, 3.2 * len(series_list) + 0.8), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(series_list), len(columns), sharex=True))
    stim_marker = {"dbs_gpi": "*", "dbs_dcn": "^"}
    stim_dx = {s: 0.07 * (k + 1) for k, s in enumerate(variant["stim"])}
    ref_marker = ["D", "s", "P"]
    floor = bias_floor(variant["duration_s"])

    def get(weakened, stim="none", condition="healthy"):
        return [t for t in table if t["weakened"] == weakened and t["stim"] == stim and t["condition"] == condition]

    for row_ax, series in zip(axes, series_list):
        for ax, (key, title) in zip(row_ax, columns):
            if key == "sync":
                curves = [(f"sync_{pop}", pop) for pop in SYNCHRONY]
            else:
                curves = [(f"coh_{pair_name(a, b)}_{key}", f"{a}–{b}") for a, b in SHOWN_PAIRS]
                ax.axhline(floor, color="0.6", ls=":", lw=1)
            for k, (col, label) in enumerate(curves):
                color = f"C{k}"
                line = sorted(get("none") + get(series), key=lambda t: -t["scale"])
                x = np.array([t["scale"] for t in line])
                ax.errorbar(x, [t[f"{col}_mean"] for t in line], yerr=[np.nan_to_num(t[f"{col}_sd"]) for t in line],
                            color=color, marker="o", ms=3, lw=1.2, capsize=2, label=label)
                for stim in variant["stim"]:
                    for t in get(series, stim) + get("none", stim):
                        dx = stim_dx[stim] if t["scale"] < 1 else -stim_dx[stim]
                        ax.errorbar(t["scale"] - dx, t[f"{col}_mean"], yerr=np.nan_to_num(t[f"{col}_sd"]),
                                    color=color, marker=stim_marker.get(stim, "x"), ms=8 if stim == "dbs_gpi" else 6,
                                    capsize=1.5, lw=0.8)
                for j, condition in enumerate(variant["reference"]):
                    for t in get("none", "none", condition):
                        ax.plot(1.0 + 0.07 * (len(variant["stim"]) + 1 + j), t[f"{col}_mean"],
                                marker=ref_marker[j % 3], mfc="none", color=color, ms=6)
            ax.set_title(title, fontsize=10)
            ax.grid(alpha=0.3)
            if key == "theta":
                ax.set_ylabel(SERIES[series]["title"].replace(" weakened", "\nweakened"), fontsize=9)
            if ax in axes[-1]:
                ax.set_xlabel("weight_scale (1 = intact)")
        row_ax[0].legend(fontsize=7, ncol=2, loc="best", title="LFP pair", title_fontsize=7)
        row_ax[-1].legend(fontsize=7, ncol=2, loc="best", title="population", title_fontsize=7)
    n_side = len(variant["stim"]) + len(variant["reference"])
    axes[0, 0].set_xlim(1.0 + 0.07 * (n_side + 1), -0.07 * (len(variant["stim"]) + 1))  # shared; weakest on the right
    marks = ", ".join(f"{stim_marker.get(s, 'x')} = {s}" for s in variant["stim"])
    refs = ", ".join(f"open {ref_marker[j % 3]} = {c} (intact)" for j, c in enumerate(variant["reference"]))
    n = max(t["n"] for t in table)
    fig.suptitle(f"Healthy circuit, left-turn command, {variant['duration_s']:g} s runs, mean ± sd over {n} seed(s); "
                 "dotted = coherence bias of independent signals\n"
                 f"Stimulated points beside scale 0 (weakest) and 1 (intact): {marks}" + (f"; {refs}" if refs else ""),
                 fontsize=9)
    return fig


def tables(table: Sequence[Mapping[str, Any]]) -> str:
    """table.md: coherence 4-30 Hz per pair, then synchrony and target rates."""
    coh = {f"coh_{pair_name(a, b)}_low": f"{a}–{b}" for a, b in SHOWN_PAIRS}
    coh["dist_intact"] = "Δ to intact"
    coh["selectivity"] = "selectivity"
    sync = {f"sync_{p}": f"χ {p}" for p in SYNCHRONY}
    sync.update({f"rate_{p}": f"{p} Hz" for p in ("thal_cm", "pn")})
    return ("Coherence 4-30 Hz of the LFP proxies (mean ± sd over seeds); Δ to intact = mean |difference| "
            "from the intact means over these pairs\n\n" + markdown(table, FACTORS, coh)
            + "\n\nPopulation synchrony (Golomb's χ) and the rates of the weakened pathways' targets\n\n"
            + markdown(table, FACTORS, sync))


def main(argv: Sequence[str] | None = None) -> List[Dict[str, Any]]:
    args = argument_parser(__doc__, f"outputs/experiments/{NAME}").parse_args(argv)
    configure_logging()
    variant = dict(QUICK if args.quick else FULL)
    seeds = args.seeds if args.seeds is not None else variant["seeds"]
    t0 = time.perf_counter()
    pts = points(variant)
    rows = run_points(pts, seeds, args.out, measures(), base=[*BASE, f"sim.duration={variant['duration_s']:g}*second"],
                      resume=args.resume, **launch_options(args))
    add_distance_to_intact(rows)
    write_rows(rows, args.out)
    columns = [c for c in rows[0] if c not in (*FACTORS, "seed", "folder")]
    table = summarise(rows, by=FACTORS, columns=columns)
    write_table(table, args.out, by=FACTORS, columns={"dist_intact": "Δ to intact"})
    text = tables(table)
    (Path(args.out) / "table.md").write_text(text + "\n")
    save_figure(plot(table, variant), args.out, NAME, also=args.figure, colours=64)
    print(text)
    print(f"{len(rows)} runs in {time.perf_counter() - t0:.0f} s; outputs in {args.out}")
    return table


if __name__ == "__main__":
    main(sys.argv[1:])
