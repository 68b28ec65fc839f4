"""GPi DBS in the dystonic circuits: frequency dependence and the severity improvement at clinical settings.

Question: how much does pallidal DBS at a clinical setting (130 Hz, 3 mA, short pulses) improve
the severity score of each dystonic circuit (``dystonia_bg``, ``dystonia_cerebellar``,
``dystonia_network``, ``dystonia_cortical``; task ``turn_left``), compared with the pallidal DBS
trials (Kupsch et al. 2006, NEJM 355:1978: BFMDRS movement score -39 % vs -5 % sham at 3 months;
Volkmann et al. 2014, Lancet Neurol 13:875: TWSTRS severity -26 % vs -6 % sham in cervical
dystonia), and is low-frequency stimulation ineffective or worse while high frequencies help
(Kupsch et al. 2003, J Neurol 250:1201; Alterman et al. 2007, Mov Disord 22:366)? With the
depression of the stimulated synapses (circuitsim/stimulation/dbs_synapses.py) the run also
records what a microelectrode would: the rate of the GPi cells the pulses do not excite, the
thalamic rate and the synapses' release efficacy.

Every point is one run of ``condition=<c> task=turn_left stim=dbs_gpi`` with
``stim.dbs_gpi.{frequency, amplitude, pulse_width}`` set (the rest as the ``dbs_gpi`` preset:
charge-balanced biphasic, from 0.2 s), for several seeds.

    python experiments/dbs_frequency/run.py --quick      # dystonia_bg, 0 and 130 Hz, seed 0
    python experiments/dbs_frequency/run.py              # 4 circuits x 3 frequencies + healthy, seeds 10-14

Outputs in ``--out`` (default ``outputs/experiments/dbs_frequency``): ``table.md`` / ``table.csv``
(mean +- sd over seeds of every point), ``improvement.md`` (per circuit and frequency: the
severity improvement against the same seed's 0 Hz run, mean +- sd, as a percentage),
``runs.csv`` (every run), ``dbs_frequency.png`` and one run folder per point and seed under
``runs/`` (an interrupted run resumes).

Caveats: pulse widths below ``sim.dt`` (0.1 ms) are refused, so the clinical 60-90 us needs
``sim.dt=0.05*ms`` (twice the cost); the sweep uses 100 us, the shortest pulse the default step
resolves. Seconds-long runs model the immediate effect of DBS only; the clinical benefit in
dystonia builds over weeks to months (plasticity), which the model leaves out.
"""

from __future__ import annotations

import math
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from circuitsim.experiments import (Point, argument_parser, configure_logging, finish, launch_options, run_points,
                                    summarise, tabulate, write_table)

NAME = "dbs_frequency"
STIM = "dbs_gpi"
#: the band of the pallidal rhythm of dystonia (Silberstein et al. 2003)
BAND_HZ = (4.0, 10.0)

#: the variant the test suite runs (two 2 s runs sharing one build)
QUICK: Dict[str, Any] = {
    "conditions": ["dystonia_bg"],
    "frequencies_hz": [0, 130],
    "amplitude_ma": 3.0,            # the dbs_gpi preset (clinical 1-5 mA, Kupsch et al. 2006)
    "pulse_width_us": 100.0,        # the shortest pulse sim.dt = 0.1 ms resolves (clinical 60-90 us)
    "grid_condition": "dystonia_bg",
    "grid_frequency_hz": 130,
    "grid_amplitudes_ma": [3.0],
    "grid_pulse_widths_us": [100.0],
    "reference": None,              # a condition run without DBS as a reference line (None: none)
    "seeds": [0],
    "duration": "2*second",         # turn_left commands the turn at 1-1.8 s
}
#: the README's variant: held-out seeds (tuning seeds are 0, 1, 5)
FULL: Dict[str, Any] = {
    "conditions": ["dystonia_bg", "dystonia_cerebellar", "dystonia_network", "dystonia_cortical"],
    "frequencies_hz": [0, 20, 130],   # off, low (ineffective or worse clinically), clinical high
    "amplitude_ma": 3.0,
    "pulse_width_us": 100.0,
    "grid_condition": "dystonia_bg",
    "grid_frequency_hz": 130,
    "grid_amplitudes_ma": [3.0],      # no amplitude x pulse-width grid in this version (CPU budget)
    "grid_pulse_widths_us": [100.0],
    "reference": "healthy",
    "sensitivity_conditions": ["dystonia_bg", "dystonia_cerebellar", "dystonia_network", "dystonia_cortical"],
    # why GPi DBS helps: the same circuit with its lateralised striatopallidal inhibition (the
    # condition's d1_gpi side_scale: dystonia_bg 40, dystonia_network 20) at half strength, off and
    # at 130 Hz (dystonia_bg at dystonia_network's 20: is the benefit bound to how far that side's
    # GPi is held down?)
    "side_sensitivity": {"dystonia_bg": [20]},
    "antidromic_conditions": ["dystonia_bg"],
    "seeds": [10, 11, 12, 13, 14],
    "duration": "2*second",
}

FACTORS = ["condition", "frequency_hz", "amplitude_ma", "pulse_width_us", "depression"]
#: which stimulated synapses depress (dbs_synapses.py): the afferent fibres' synapses in GPi (the
#: default, "afferent"; the pallidothalamic synapses of the stimulated GPi axons follow every
#: pulse), or, as a sensitivity point, the efferent ones too ("afferent + efferent")
DEPRESSION = {"afferent": [],
              "afferent + efferent": ["stim.dbs_gpi.synaptic_depression.elements=[afferent_axons,efferent_axons]"],
              # a mechanism sensitivity, not a depression choice: the stimulated GPi axons also invade
              # their somata antidromically (McIntyre et al. 2004, J Neurophysiol 91:1457)
              "afferent; antidromic efferent": ["stim.dbs_gpi.antidromic_efferent=true"]}
DEFAULT = "afferent"
#: table columns (name -> heading)
COLUMNS = {
    "severity": "severity",
    "co_contraction": "co-contraction",
    "gpi_4_10hz_rel": "GPi 4-10 Hz (rel.)",
    "gpi_4_10hz_abs": "GPi 4-10 Hz (abs., nA²)",
    "gpi_rate_hz": "GPi rate (Hz)",
    "gpi_quiet_rate_hz": "GPi not excited (Hz)",
    "thal_rate_hz": "thalamus (Hz)",
    "release_efficacy": "release efficacy",
    "activated_fraction": "activated fraction",
    "energy_uj": "energy (µJ)",
}


def absolute_band_power(result, region: str = "gpi", band: Sequence[float] = BAND_HZ) -> float:
    """Absolute power (nA²) of a region's LFP proxy in ``band`` after the transient.

    The relative power of metrics.json (band / 1-100 Hz power) falls during DBS partly because
    the currents evoked by the pulses raise the 1-100 Hz total; the absolute power shows whether
    the rhythm itself changed. Welch segments as the metrics (``readout.spectrum_segment``, at
    most half the analysed time).
    """
    from circuitsim import metrics

    return metrics.absolute_band_power(result, region, band)


def quiet_gpi_rate(result) -> float:
    """Rate of the GPi cells the pulses do not excite (what a microelectrode records between
    pulses; dbs_responses.py); the whole GPi when the stimulator is off."""
    m = result.metrics
    st = m.get("stim", {}).get(STIM, {})
    if st.get("frequency_hz", 0) > 0:
        return float(st.get("target_rate_during_hz", float("nan")))
    return float(m["populations"]["gpi"]["rate_hz"])


def improvement(rows: Sequence[Dict[str, Any]], column: str = "severity") -> List[Dict[str, Any]]:
    """Per condition and frequency: 100 * (off - on) / off of ``column``, paired by seed (mean, sd, n)."""
    off = {(r["condition"], r["seed"]): r[column] for r in rows if r["frequency_hz"] == 0}
    out: Dict[tuple, List[float]] = {}
    for r in rows:
        ref = off.get((r["condition"], r["seed"]))
        if r["frequency_hz"] == 0 or ref is None or not ref > 0:
            continue
        key = (r["condition"], r["frequency_hz"], r["amplitude_ma"], r["pulse_width_us"], r.get("depression", DEFAULT))
        out.setdefault(key, []).append(100.0 * (ref - r[column]) / ref)
    table = []
    for key, vals in out.items():
        v = np.asarray(vals, dtype=float)
        table.append({"condition": key[0], "frequency_hz": key[1], "amplitude_ma": key[2], "pulse_width_us": key[3],
                      "depression": key[4], "improvement_pct_mean": float(np.mean(v)),
                      "improvement_pct_sd": float(np.std(v, ddof=1)) if v.size > 1 else float("nan"),
                      "n": int(v.size)})
    return table


def write_improvement(table: Sequence[Dict[str, Any]], out) -> str:
    from pathlib import Path

    lines = ["| condition | frequency (Hz) | amplitude (mA) | pulse width (µs) | depressing synapses | "
             "severity improvement (%) | n |", "|---|---|---|---|---|---|---|"]
    for t in table:
        lines.append(f"| {t['condition']} | {t['frequency_hz']:g} | {t['amplitude_ma']:g} | {t['pulse_width_us']:g} | "
                     f"{t['depression']} | "
                     f"{t['improvement_pct_mean']:.0f} ± {t['improvement_pct_sd']:.0f} | {t['n']} |")
    text = "\n".join(lines) + "\n"
    Path(out, "improvement.md").write_text(text)
    return text


def _subscores(result) -> Dict[str, float]:
    """The severity score's three sub-scores (co-contraction, posture, tremor; circuitsim.muscle.metrics),
    the tremor one as what the score leaves after the other two (the readout picks the agonist's
    tremor power; weights as SeverityParams)."""
    from circuitsim.muscle.metrics import SeverityParams, severity_subscores

    mu = result.metrics["muscle"]
    p = SeverityParams()
    sub = severity_subscores(mu["co_contraction_index"] if mu["co_contraction_index"] is not None else float("nan"),
                             abs(mu["head_angle_deg"]["mean"]), 0.0, p)
    total = p.weight_co_contraction + p.weight_posture + p.weight_tremor
    sub["tremor"] = (total * mu["severity_score"] - p.weight_co_contraction * sub["co_contraction"]
                      - p.weight_posture * sub["posture"]) / p.weight_tremor
    return sub


def _thal(side: str):
    def measure(result) -> float:
        """Motor-thalamus rate of one channel before the command (the dystonic side is ``left``)."""
        return float(result.metrics["channels"]["baseline_rates_hz"]["thal"][side])
    return measure


MEASURES = {
    "severity": "muscle.severity_score",
    "co_contraction": "muscle.co_contraction_index",
    "gpi_4_10hz_rel": "lfp.gpi.power_4_10hz",
    "gpi_4_10hz_abs": absolute_band_power,
    "gpi_rate_hz": "populations.gpi.rate_hz",
    "gpi_quiet_rate_hz": quiet_gpi_rate,
    "thal_rate_hz": "populations.thal.rate_hz",
    "release_efficacy": f"stim.{STIM}.release_efficacy",
    "activated_fraction": f"stim.{STIM}.activated_fraction",
    "energy_uj": f"stim.{STIM}.energy_uj",
    "sub_co_contraction": lambda r: _subscores(r)["co_contraction"],
    "sub_posture": lambda r: _subscores(r)["posture"],
    "sub_tremor": lambda r: _subscores(r)["tremor"],
    "head_angle_deg": "muscle.head_angle_deg.mean",
    "thal_left_hz": _thal("left"),
    "thal_right_hz": _thal("right"),
}
#: the severity decomposition table (decomposition.md): why a circuit improves or not
PARTS = {
    "severity": "severity",
    "sub_co_contraction": "co-contraction sub-score",
    "sub_posture": "posture sub-score",
    "sub_tremor": "tremor sub-score",
    "head_angle_deg": "head angle (°)",
    "thal_left_hz": "thalamus, dystonic side (Hz)",
    "thal_right_hz": "thalamus, other side (Hz)",
}


#: the pathway whose side_scale the side sensitivity sets: the lateralised striatopallidal inhibition
#: of the dystonic side's GPi, where dystonia_bg and dystonia_network put their lateralisation
#: (configs/condition/; the pallidothalamic synapses are unchanged there)
SIDE_PATHWAY = "d1_gpi"
#: how a sensitivity circuit is named in the tables: the condition with the striatopallidal
#: inhibition of its dystonic side at another side_scale (circuit.pathways.d1_gpi.side_scale)
SIDE_LABEL = "{condition} (" + SIDE_PATHWAY + " side x{scale:g})"


def _point(condition: str, frequency: float, amplitude: float, pulse_width: float, depression: str = DEFAULT,
           side_scale: Optional[float] = None) -> Point:
    label = f"{condition}_f{frequency:g}_a{amplitude:g}_pw{pulse_width:g}"
    if depression != DEFAULT:
        label += "_" + depression.replace(" + ", "_").replace("; ", "_").replace(" ", "_")
    overrides = [f"condition={condition}", f"stim.{STIM}.frequency={frequency:g}*Hz",
                 f"stim.{STIM}.amplitude={amplitude:g}*mA", f"stim.{STIM}.pulse_width={pulse_width:g}*us",
                 *DEPRESSION[depression]]
    if side_scale is not None:
        label += f"_{SIDE_PATHWAY.replace('_', '')}{side_scale:g}"
        overrides.append(f"circuit.pathways.{SIDE_PATHWAY}.side_scale={side_scale:g}")
        condition = SIDE_LABEL.format(condition=condition, scale=side_scale)
    return Point(label, overrides, {"condition": condition, "frequency_hz": float(frequency),
                                    "amplitude_ma": float(amplitude), "pulse_width_us": float(pulse_width),
                                    "depression": depression})


def points(variant: Dict[str, Any]) -> List[Point]:
    """The frequency sweep of every circuit, the grid of one circuit and the reference (no repeats)."""
    a0, pw0 = variant["amplitude_ma"], variant["pulse_width_us"]
    wanted = []
    if variant.get("reference"):
        wanted.append((variant["reference"], 0, a0, pw0))
    for condition in variant["conditions"]:
        wanted += [(condition, f, a0, pw0) for f in variant["frequencies_hz"]]
    for pw in variant["grid_pulse_widths_us"]:
        for a in variant["grid_amplitudes_ma"]:
            wanted.append((variant["grid_condition"], variant["grid_frequency_hz"], a, pw))
    for condition in variant.get("sensitivity_conditions", []):
        wanted.append((condition, variant["grid_frequency_hz"], a0, pw0, "afferent + efferent"))
    for condition in variant.get("antidromic_conditions", []):
        wanted.append((condition, variant["grid_frequency_hz"], a0, pw0, "afferent; antidromic efferent"))
    for condition, scales in variant.get("side_sensitivity", {}).items():
        for scale in scales:
            wanted += [(condition, f, a0, pw0, DEFAULT, scale) for f in (0, variant["grid_frequency_hz"])]
    return [_point(*key) for key in dict.fromkeys(wanted)]


def base_overrides(variant: Dict[str, Any]) -> List[str]:
    return ["task=turn_left", f"stim={STIM}", f"sim.duration={variant['duration']}", "readout.plots=[]"]


# ----------------------------------------------------------------------------- figure


def _select(table: Sequence[Dict[str, Any]], **match: Any) -> List[Dict[str, Any]]:
    return [line for line in table if all(line[k] == v for k, v in match.items())]


def plot(table: Sequence[Dict[str, Any]], variant: Dict[str, Any], seeds: Sequence[int],
         gains: Sequence[Dict[str, Any]] = ()):
    """Measures against frequency per circuit (mean ± sd); severity improvement per circuit and frequency."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 6.4), layout="constrained")
    a0, pw0 = float(variant["amplitude_ma"]), float(variant["pulse_width_us"])
    curves = [("severity", "severity score", False), ("co_contraction", "co-contraction index", False),
              ("gpi_4_10hz_abs", "GPi LFP 4-10 Hz power (abs., nA²)", True),
              ("gpi_quiet_rate_hz", "GPi cells not excited by the pulses (Hz)", False),
              ("thal_rate_hz", "motor thalamus (Hz)", False),
              ("release_efficacy", "release efficacy of\nstimulated synapses", False),
              ("energy_uj", "energy (µJ)", False)]
    axes = fig.subplots(2, 4).ravel()
    reference = _select(table, condition=variant["reference"]) if variant.get("reference") else []
    for ax, (col, title, log) in zip(axes, curves):
        for k, condition in enumerate(variant["conditions"]):
            lines = sorted(_select(table, condition=condition, amplitude_ma=a0, pulse_width_us=pw0, depression=DEFAULT),
                           key=lambda line: line["frequency_hz"])
            f = [line["frequency_hz"] for line in lines]
            m = np.array([line[f"{col}_mean"] for line in lines])
            sd = np.nan_to_num(np.array([line[f"{col}_sd"] for line in lines]))
            ax.errorbar(f, m, yerr=sd, marker="o", ms=4, capsize=3, color=f"C{k}", label=condition)
        for line in reference:
            if math.isfinite(line[f"{col}_mean"]):
                ax.axhline(line[f"{col}_mean"], color="0.4", ls="--", lw=1, label=f"{line['condition']}, no DBS")
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("DBS frequency (Hz; 0 = off)")
        ax.set_title(title, fontsize=10)
    axes[0].legend(fontsize=7)
    ax = axes[-1]
    bars = sorted({(g["frequency_hz"], g["depression"]) for g in gains}, key=lambda b: (b[1] != DEFAULT, b[0]))
    width = 0.8 / max(1, len(bars))
    for k, condition in enumerate(variant["conditions"]):
        for q, (f, dep) in enumerate(bars):
            hit = [g for g in gains if g["condition"] == condition and g["frequency_hz"] == f and g["depression"] == dep
                   and g["amplitude_ma"] == a0 and g["pulse_width_us"] == pw0]
            if hit:
                ax.bar(k + (q - (len(bars) - 1) / 2) * width, hit[0]["improvement_pct_mean"], width,
                       yerr=np.nan_to_num(hit[0]["improvement_pct_sd"]), capsize=2, color=f"C{q + 4}",
                       hatch="//" if dep != DEFAULT else None,
                       label=(f"{f:g} Hz" + ("" if dep == DEFAULT else f", {dep} depress")) if k == 0 else None)
    ax.axhspan(26, 39, color="0.85", zorder=0, label="trials: 26-39 %")
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks(range(len(variant["conditions"])), [c.replace("dystonia_", "") for c in variant["conditions"]],
                  fontsize=8)
    ax.set_ylabel("severity improvement (%)")
    ax.set_title("improvement vs same seed off", fontsize=10)
    ax.legend(fontsize=7)
    fig.suptitle(f"GPi DBS ({a0:g} mA, {pw0:g} µs), turn_left, {_duration(variant)}, seeds {list(seeds)}: "
                 "mean ± sd (trials: Volkmann et al. 2014 26 %, Kupsch et al. 2006 39 %)", fontsize=11)
    return fig


def _duration(variant: Dict[str, Any]) -> str:
    return str(variant["duration"]).replace("*second", " s")


# ------------------------------------------------------------------------------- main


def main(argv: Optional[Sequence[str]] = None) -> List[Dict[str, Any]]:
    parser = argument_parser(__doc__, default_out=f"outputs/experiments/{NAME}")
    args = parser.parse_args(argv)
    configure_logging()
    variant = dict(QUICK if args.quick else FULL)
    seeds = args.seeds or variant["seeds"]
    t0 = time.perf_counter()
    rows = run_points(points(variant), seeds, args.out, MEASURES, base=base_overrides(variant), resume=args.resume,
                      **launch_options(args))
    table, text = tabulate(rows, args.out, FACTORS, COLUMNS)
    gains = improvement(rows)
    text += "\n" + write_improvement(gains, args.out)
    parts = summarise(rows, by=FACTORS, columns=list(PARTS))
    text += "\n" + write_table(parts, args.out, by=FACTORS, columns=PARTS, name="decomposition")
    finish(plot(table, variant, seeds, gains), text, len(rows), t0, args.out, NAME, also=args.figure)
    return table


if __name__ == "__main__":
    main()
