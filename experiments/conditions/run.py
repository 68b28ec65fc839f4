"""Healthy vs each dystonia condition vs parkinsonian, side by side and against the literature.

Question: with the same left-turn command (``task=turn_left``) and the same seeds, how do the
pallidum (GPi, GPe, STN rates, ISI irregularity, bursts and pauses), the LFP spectra (relative
band powers, GPi 4-10 Hz power, STN/GPi beta), the selection between the two channels and the
muscles (co-contraction, severity score, forces, tremor, posture, LFP-EMG coherence) of
``dystonia_bg``, ``dystonia_cerebellar``, ``dystonia_network``, ``dystonia_cortical`` and ``parkinsonian`` differ from
``healthy``, and does each difference go the way the literature reports?

    python experiments/conditions/run.py --quick           # 6 conditions x seed 10, 2.5 s (~40 s)
    python experiments/conditions/run.py                   # seeds 10-14, 2.5 s (~3 min)
    python experiments/conditions/run.py --figure docs/figures/experiments/conditions.png
    python experiments/conditions/run.py --bars-figure docs/figures/conditions.png

Seeds: the circuit and the conditions were tuned on seeds 0, 1 and 5; the variants here run on
held-out seeds (10-14), as tests/test_conditions.py does.

Outputs in ``--out``:

* ``table.md``: the model against the literature (one row per reported effect, one column per
  condition: the model's mean ± sd over seeds and whether it agrees), then every measure per
  condition (mean ± sd over seeds);
* ``literature.csv``: one row per (effect, condition) with the numbers behind each verdict;
* ``table.csv`` (mean, sd and n per condition and measure) and ``runs.csv`` (every run);
* ``conditions.png``: the key measures as bars with the seed spread, and the mean GPi and STN
  LFP spectra per condition; ``conditions_bars.png``: the bars alone (the README's figure,
  also saved at ``--bars-figure``);
* ``runs/<condition>_seed<k>/``: the run folders (resumed when rerun).

How a verdict is computed (:func:`verdict`): an effect reported as a *direction* ("lower than
healthy") agrees when the condition's mean differs from the reference condition's mean in that
direction by more than the spread over seeds, max(range of the condition, range of the
reference), the rule of ``tests/test_conditions.py``; with one seed (``--quick``) the spread is
0, so any difference counts. A reported *range* agrees when the mean lies inside it.

Caveats: the spike measures the claims use (rates, ISI CV, bursts, pauses) are taken at rest,
from the end of the transient (0.2 s) to the command (1.0 s), as the literature's are; spectra
and muscle measures cover the whole run after the transient, so they mix rest with the 0.8 s
command. The rest window is short for pauses of 0.1 s or more. Human pallidal
LFP and EMG findings (Silberstein et al. 2003; Sharott et al. 2008) come from patients only, so
the model's healthy circuit stands in for the missing healthy recordings; Silberstein et al.
compare dystonia with Parkinson's disease, which the table does as well. The parkinsonian
circuit runs the same command here, while ``tests/test_conditions.py`` tests it at rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from matplotlib.figure import Figure

from circuitsim.experiments import (Point, argument_parser, configure_logging, launch_options, run_points,
                                    save_figure, summarise, write_rows)

CONDITIONS = ("healthy", "dystonia_bg", "dystonia_cerebellar", "dystonia_network", "dystonia_cortical", "parkinsonian")
DYSTONIA = ("dystonia_bg", "dystonia_cerebellar", "dystonia_network", "dystonia_cortical")
TASK = "turn_left"   # command from 1.0 to 1.8 s (configs/task/turn_left.yaml), so runs need >= 2 s

QUICK = {"seeds": [10], "duration": "2.5s"}
FULL = {"seeds": [10, 11, 12, 13, 14], "duration": "2.5s"}   # held-out seeds, as tests/test_conditions.py


def rest_window(result) -> Tuple[float, float]:
    """The spontaneous part of a run (s): from the end of the transient to the task's command."""
    from circuitsim.io.results import spec_of

    t0 = float(result.metrics["run"]["transient_s"])
    command = (spec_of(result).get("stimuli") or {}).get("task") or {}   # the validated command, SI
    t1 = float(command["start"]) if "start" in command else result.duration
    return t0, t1


def at_rest(pop: str, what: str) -> Callable[[object], float]:
    """A spike measure of ``pop`` before the command: one of metrics.json's per-population measures
    (:data:`circuitsim.metrics.SPIKE_MEASURES`: ``"rate_hz"``, ``"cv_isi"``, ``"burst_fraction"``
    (Poisson surprise against each neuron's mean rate in that window), ``"pause_fraction"``, ...)."""
    from circuitsim.metrics import SPIKE_MEASURES, population_trains, spike_measures

    if what not in SPIKE_MEASURES:
        raise ValueError(f"unknown spike measure {what!r}; known: {', '.join(SPIKE_MEASURES)}")

    def measure(result) -> float:
        t0, t1 = rest_window(result)
        return spike_measures(population_trains(result, pop, t0, t1), t0, t1 - t0, [what])[what]
    return measure


#: (column, dotted key of metrics.json or a function of the run's Result, heading with unit).
#: "at rest" = from the end of the transient (0.2 s) to the command (1.0 s), the spontaneous
#: activity the literature reports. Bursts and pauses are taken there too: over the whole run
#: the Poisson-surprise detector also counts the command's rate steps (a channel's 0.8 s pause or
#: rise against the run's mean rate) as bursts, and the commanded channel's GPi pause as a pause.
#: The other spike measures cover the whole run after the transient (as metrics.json).
MEASURES: Tuple[Tuple[str, Union[str, Callable], str], ...] = (
    ("gpi_rest_rate_hz", at_rest("gpi", "rate_hz"), "GPi rate at rest (Hz)"),
    ("gpe_rest_rate_hz", at_rest("gpe", "rate_hz"), "GPe rate at rest (Hz)"),
    ("stn_rest_rate_hz", at_rest("stn", "rate_hz"), "STN rate at rest (Hz)"),
    ("gpi_rest_cv_isi", at_rest("gpi", "cv_isi"), "GPi ISI CV at rest"),
    ("gpe_rest_cv_isi", at_rest("gpe", "cv_isi"), "GPe ISI CV at rest"),
    ("stn_rest_cv_isi", at_rest("stn", "cv_isi"), "STN ISI CV at rest"),
    ("gpi_rest_burst_fraction", at_rest("gpi", "burst_fraction"), "GPi burst fraction at rest"),
    ("gpe_rest_burst_fraction", at_rest("gpe", "burst_fraction"), "GPe burst fraction at rest"),
    ("stn_rest_burst_fraction", at_rest("stn", "burst_fraction"), "STN burst fraction at rest"),
    ("gpi_rest_pause_fraction", at_rest("gpi", "pause_fraction"), "GPi pause fraction at rest"),
    ("gpe_rest_pause_fraction", at_rest("gpe", "pause_fraction"), "GPe pause fraction at rest"),
    ("gpi_rate_hz", "populations.gpi.rate_hz", "GPi rate (Hz)"),
    ("gpe_rate_hz", "populations.gpe.rate_hz", "GPe rate (Hz)"),
    ("stn_rate_hz", "populations.stn.rate_hz", "STN rate (Hz)"),
    ("gpi_cv_isi", "populations.gpi.cv_isi", "GPi ISI CV"),
    ("gpe_cv_isi", "populations.gpe.cv_isi", "GPe ISI CV"),
    ("stn_cv_isi", "populations.stn.cv_isi", "STN ISI CV"),
    ("gpi_burst_fraction", "populations.gpi.burst_fraction", "GPi burst fraction (whole run)"),
    ("gpe_burst_fraction", "populations.gpe.burst_fraction", "GPe burst fraction (whole run)"),
    ("stn_burst_fraction", "populations.stn.burst_fraction", "STN burst fraction (whole run)"),
    ("gpi_pause_fraction", "populations.gpi.pause_fraction", "GPi pause fraction (whole run)"),
    ("gpe_pause_fraction", "populations.gpe.pause_fraction", "GPe pause fraction (whole run)"),
    ("gpi_theta", "lfp.gpi.band_power.theta", "GPi LFP theta 4-8 Hz (rel.)"),
    ("gpi_alpha", "lfp.gpi.band_power.alpha", "GPi LFP alpha 8-13 Hz (rel.)"),
    ("gpi_beta", "lfp.gpi.band_power.beta", "GPi LFP beta 13-30 Hz (rel.)"),
    ("gpi_4_10hz", "lfp.gpi.power_4_10hz", "GPi LFP 4-10 Hz (rel.)"),
    ("stn_theta", "lfp.stn.band_power.theta", "STN LFP theta 4-8 Hz (rel.)"),
    ("stn_beta", "lfp.stn.band_power.beta", "STN LFP beta 13-30 Hz (rel.)"),
    ("selectivity", "channels.selectivity", "channel selectivity"),
    ("co_contraction", "muscle.co_contraction_index", "co-contraction index"),
    ("severity", "muscle.severity_score", "severity score"),
    ("force_left_n", "muscle.rotator_left.mean_force", "left rotator force (N, commanded)"),
    ("force_right_n", "muscle.rotator_right.mean_force", "right rotator force (N, antagonist)"),
    ("emg_rms_left_mv", "muscle.rotator_left.emg_rms", "left rotator EMG rms (mV)"),
    ("emg_rms_right_mv", "muscle.rotator_right.emg_rms", "right rotator EMG rms (mV)"),
    ("tremor_left", "muscle.rotator_left.tremor_power", "left rotator EMG 3-8 Hz (rel.)"),
    ("tremor_right", "muscle.rotator_right.tremor_power", "right rotator EMG 3-8 Hz (rel.)"),
    ("head_angle_mean_deg", "muscle.head_angle_deg.mean", "head angle, mean (deg)"),
    ("head_angle_peak_deg", "muscle.head_angle_deg.peak", "head angle, peak (deg)"),
    ("head_beyond_5deg", "muscle.head_angle_deg.frac_beyond", "time with head > 5 deg"),
    ("head_jerks_per_s", "muscle.head_angle_deg.jerks_per_s", "phasic head movements (jerks/s)"),
    ("lfp_emg_coh_theta", "muscle.lfp_emg_coherence.theta", "GPi LFP-EMG coherence 4-8 Hz"),
    ("lfp_emg_coh_alpha", "muscle.lfp_emg_coherence.alpha", "GPi LFP-EMG coherence 8-12 Hz"),
)
#: metrics.json stores EMG rms in V; the table shows mV
_SCALE = {"emg_rms_left_mv": 1e3, "emg_rms_right_mv": 1e3}
HEADINGS = {col: heading for col, _, heading in MEASURES}

#: the bars of the README figure (circuitsim.compare.KEY_MEASURES and the GPi 4-10 Hz power)
BARS = ("gpi_rate_hz", "gpi_cv_isi", "gpi_rest_burst_fraction", "gpi_theta", "gpi_beta", "stn_beta", "selectivity",
        "co_contraction", "severity", "gpi_4_10hz")
SPECTRA_REGIONS = {"gpi": "GPi", "stn": "STN"}
SPECTRUM_RANGE_HZ = (1.0, 100.0)   # spectra are relative to this band's power, as lfp.<region>.band_power


@dataclass(frozen=True)
class Claim:
    """One finding of the literature, stated so that a simulation can be checked against it.

    measure : column of :data:`MEASURES`.
    conditions : the model conditions it applies to.
    expect : ``"higher"`` or ``"lower"`` than ``versus`` (beyond the seed spread), or
        ``"range"`` (mean inside ``[low, high]``, in the measure's unit).
    reported : the finding in words; source : the citation.
    """

    measure: str
    conditions: Tuple[str, ...]
    expect: str
    reported: str
    source: str
    versus: str = "healthy"
    low: float = math.nan
    high: float = math.nan


#: docs/literature.md, as data. Human pallidal recordings exist only in
#: patients, so "than healthy" for LFP/EMG findings uses the model's healthy circuit as contrast.
CLAIMS: Tuple[Claim, ...] = (
    Claim("gpi_rest_rate_hz", ("healthy",), "range", "normal GPi 70-95 Hz", "Starr et al. 2005", low=70.0, high=95.0),
    Claim("gpe_rest_rate_hz", ("healthy",), "range", "normal GPe 55-80 Hz", "Starr et al. 2005", low=55.0, high=80.0),
    Claim("stn_rest_rate_hz", ("healthy",), "range", "normal STN 15-25 Hz", "Wichmann et al. 1994; Bergman et al. 1994",
          low=15.0, high=25.0),
    Claim("gpi_rest_rate_hz", DYSTONIA, "lower", "dystonia: GPi rate lower", "Vitek et al. 1999; Starr et al. 2005"),
    Claim("gpi_rest_rate_hz", DYSTONIA, "range", "dystonia: GPi 55.3 Hz (generalised and cervical), 71.4 Hz "
          "(cervical); band 40-75 Hz", "Starr et al. 2005; Tang et al. 2007", low=40.0, high=75.0),
    Claim("gpe_rest_rate_hz", DYSTONIA, "lower", "dystonia: GPe rate lower", "Vitek et al. 1999; Starr et al. 2005"),
    Claim("gpe_rest_rate_hz", DYSTONIA, "range", "dystonia: GPe 54.0 Hz against 69.7 Hz normal; band 40-65 Hz",
          "Starr et al. 2005", low=40.0, high=65.0),
    Claim("stn_rest_rate_hz", DYSTONIA, "range", "dystonia: STN 26.3 +- 13.6 Hz (sd), below PD's 35.6 Hz; "
          "band 15-35 Hz", "Schrock et al. 2009", low=15.0, high=35.0),
    Claim("gpi_rest_cv_isi", DYSTONIA, "higher", "dystonia: GPi more irregular", "Vitek et al. 1999; Tang et al. 2007"),
    Claim("gpe_rest_cv_isi", DYSTONIA, "higher", "dystonia: GPe more irregular", "Vitek et al. 1999; Tang et al. 2007"),
    Claim("gpi_rest_burst_fraction", DYSTONIA, "higher", "dystonia: more GPi bursts", "Vitek et al. 1999; Tang et al. 2007"),
    Claim("gpe_rest_burst_fraction", DYSTONIA, "higher", "dystonia: more GPe bursts", "Vitek et al. 1999; Tang et al. 2007"),
    Claim("gpi_rest_pause_fraction", DYSTONIA, "higher", "dystonia: more GPi pauses", "Vitek et al. 1999; Starr et al. 2005"),
    Claim("gpe_rest_pause_fraction", DYSTONIA, "higher", "dystonia: more GPe pauses", "Vitek et al. 1999; Starr et al. 2005"),
    Claim("gpi_4_10hz", DYSTONIA, "higher", "dystonia: more pallidal 4-10 Hz LFP power", "Silberstein et al. 2003"),
    Claim("gpi_4_10hz", DYSTONIA, "higher", "dystonia: more pallidal 4-10 Hz power than PD", "Silberstein et al. 2003",
          versus="parkinsonian"),
    Claim("gpi_beta", DYSTONIA, "lower", "dystonia: less pallidal beta than PD", "Silberstein et al. 2003",
          versus="parkinsonian"),
    Claim("lfp_emg_coh_theta", DYSTONIA, "higher", "dystonia: pallidal 4-8 Hz LFP coherent with EMG",
          "Chen et al. 2006; Sharott et al. 2008"),
    Claim("selectivity", DYSTONIA, "lower", "dystonia: overflow, loss of surround inhibition", "Mink 2003"),
    Claim("co_contraction", DYSTONIA, "higher", "dystonia: agonist-antagonist co-contraction",
          "Berardelli et al. 1998"),
    Claim("force_right_n", DYSTONIA, "higher", "dystonia: overflow to the muscle not needed (antagonist)",
          "Berardelli et al. 1998"),
    Claim("tremor_left", DYSTONIA, "higher", "dystonia: sometimes 3-8 Hz dystonic tremor", "Deuschl et al. 1998"),
    Claim("head_jerks_per_s", DYSTONIA, "higher", "dystonia: phasic movements (jerks) on the posture",
          "Deuschl et al. 1998"),
    Claim("severity", DYSTONIA, "higher", "dystonia: clinical severity (TWSTRS) raised", "Consky & Lang 1994"),
    Claim("gpi_rest_rate_hz", ("parkinsonian",), "higher", "PD: GPi rate higher", "Starr et al. 2005"),
    Claim("gpi_rest_rate_hz", ("parkinsonian",), "range", "PD: GPi 95.2 Hz (Starr), 91.7 Hz (Tang); band 85-110 Hz",
          "Starr et al. 2005; Tang et al. 2007", low=85.0, high=110.0),
    Claim("stn_rest_rate_hz", ("parkinsonian",), "higher", "PD: STN rate higher", "Bergman et al. 1994"),
    Claim("stn_rest_burst_fraction", ("parkinsonian",), "higher", "PD: more STN bursts", "Bergman et al. 1994"),
    Claim("stn_rest_rate_hz", ("parkinsonian",), "range", "PD: STN 35.6 Hz intraoperatively; band 25-45 Hz",
          "Schrock et al. 2009", low=25.0, high=45.0),
    Claim("stn_beta", ("parkinsonian",), "higher", "PD: STN beta oscillations", "Brown et al. 2001; Starr et al. 2005"),
    Claim("gpi_beta", ("parkinsonian",), "higher", "PD: GPi beta oscillations", "Brown et al. 2001; Starr et al. 2005"),
)


#: the dystonic circuits hold the head turned to this side at rest (configs/side/), against the
#: command's left turn: turning away from a torticollis, as a patient asked to turn the head back
DYSTONIC_SIDE = "right"


def points(duration: str) -> List[Point]:
    return [Point(c, [f"condition={c}", f"task={TASK}", f"sim.duration={duration}", "readout.plots=[]"]
                  + ([f"side={DYSTONIC_SIDE}"] if c in DYSTONIA else []),
                  {"condition": c}) for c in CONDITIONS]


def check_claims(claims: Sequence[Claim]) -> None:
    """Every claim names a known measure, condition and kind; raise ValueError naming the bad field."""
    for k, c in enumerate(claims):
        where = f"CLAIMS[{k}] ({c.reported!r})"
        if c.measure not in HEADINGS:
            raise ValueError(f"{where}.measure={c.measure!r} is not a column of MEASURES; "
                             f"use one of {sorted(HEADINGS)}")
        for name in (*c.conditions, c.versus):
            if name not in CONDITIONS:
                raise ValueError(f"{where}: condition {name!r} is not run; use one of {CONDITIONS}")
        if c.expect not in ("higher", "lower", "range"):
            raise ValueError(f"{where}.expect={c.expect!r}; use 'higher', 'lower' or 'range'")
        if c.expect == "range" and not c.low <= c.high:
            raise ValueError(f"{where}: a range claim needs low <= high, got [{c.low}, {c.high}]")


def values(rows: Sequence[Mapping], condition: str, column: str) -> np.ndarray:
    """The finite per-seed values of one measure in one condition."""
    v = np.array([r[column] for r in rows if r["condition"] == condition], dtype=float)
    return v[np.isfinite(v)]


def verdict(claim: Claim, model: np.ndarray, reference: np.ndarray) -> Dict[str, object]:
    """Whether the per-seed values ``model`` agree with ``claim`` (against ``reference`` for a direction).

    Returns ``agrees`` (bool), ``why`` (short reason) and the numbers it used: ``difference``
    (mean(model) - mean(reference)) and ``spread`` (max range over seeds of the two).
    """
    out: Dict[str, object] = {"difference": math.nan, "spread": math.nan}
    if model.size == 0:
        return {**out, "agrees": False, "why": "no value"}
    mean = float(model.mean())
    if claim.expect == "range":
        inside = claim.low <= mean <= claim.high
        return {**out, "agrees": inside, "why": "inside range" if inside else "outside range"}
    if reference.size == 0:
        return {**out, "agrees": False, "why": f"no {claim.versus} value"}
    sign = 1.0 if claim.expect == "higher" else -1.0
    diff = mean - float(reference.mean())
    spread = float(max(np.ptp(model), np.ptp(reference)))
    out.update(difference=diff, spread=spread)
    if sign * diff > spread:
        return {**out, "agrees": True, "why": "beyond seed spread"}
    if sign * diff > 0:
        return {**out, "agrees": False, "why": "within seed spread"}
    return {**out, "agrees": False, "why": "opposite" if diff != 0 else "no difference"}


def compare_with_literature(rows: Sequence[Mapping], claims: Sequence[Claim] = CLAIMS) -> List[dict]:
    """One row per (claim, condition): the model's numbers and the verdict."""
    out = []
    for k, claim in enumerate(claims):
        reference = values(rows, claim.versus, claim.measure)
        for condition in claim.conditions:
            model = values(rows, condition, claim.measure)
            v = verdict(claim, model, reference)
            out.append({
                "claim": k, "measure": claim.measure, "condition": condition, "expect": claim.expect,
                "versus": "" if claim.expect == "range" else claim.versus, "low": claim.low, "high": claim.high,
                "reported": claim.reported, "source": claim.source, "n": int(model.size),
                "model_mean": float(model.mean()) if model.size else math.nan,
                "model_sd": float(model.std(ddof=1)) if model.size > 1 else math.nan,
                "reference_mean": float(reference.mean()) if reference.size and claim.expect != "range" else math.nan,
                **v,
            })
    return out


def _num(x: float, digits: int = 3) -> str:
    return "–" if not math.isfinite(x) else f"{x:.{digits}g}"


def _mean_sd(mean: float, sd: float) -> str:
    return _num(mean) + (f" ± {_num(sd, 2)}" if math.isfinite(sd) else "")


def literature_markdown(verdicts: Sequence[Mapping], claims: Sequence[Claim] = CLAIMS) -> str:
    """Rows = claims, columns = conditions: the model's mean ± sd, and yes/no where the claim applies."""
    lines = ["| measure | reported (source) | " + " | ".join(CONDITIONS) + " |", "|---|---|" + "---|" * len(CONDITIONS)]
    for k, claim in enumerate(claims):
        mine = {v["condition"]: v for v in verdicts if v["claim"] == k}
        cells = []
        for condition in CONDITIONS:
            if condition in mine:
                v = mine[condition]
                word = "**yes**" if v["agrees"] else f"**no** ({v['why']})"
                cells.append(f"{_mean_sd(v['model_mean'], v['model_sd'])} {word}")
            elif condition == claim.versus and claim.expect != "range":
                v = next(iter(mine.values()))
                cells.append(f"{_num(v['reference_mean'])} (reference)")
            else:
                cells.append("")
        lines.append(f"| {HEADINGS[claim.measure]} | {claim.reported} ({claim.source}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def measures_markdown(table: Sequence[Mapping]) -> str:
    """Rows = measures, columns = conditions (mean ± sd over seeds)."""
    by = {line["condition"]: line for line in table}
    present = [c for c in CONDITIONS if c in by]
    lines = ["| measure | " + " | ".join(present) + " |", "|---|" + "---|" * len(present)]
    for col, _, heading in MEASURES:
        lines.append(f"| {heading} | " + " | ".join(_mean_sd(by[c][f"{col}_mean"], by[c][f"{col}_sd"])
                                                   for c in present) + " |")
    lines.append("| seeds | " + " | ".join(str(by[c]["n"]) for c in present) + " |")
    return "\n".join(lines)


def mean_spectra(rows: Sequence[Mapping]) -> Dict[str, Dict[str, Tuple[np.ndarray, np.ndarray]]]:
    """Per condition and region: frequency (Hz) and the mean over seeds of the relative LFP spectrum.

    Each run's spectrum is the Welch PSD of its LFP proxy after the transient, with the segment
    ``metrics.json`` used (``readout.spectrum_segment``, at most half the analysed time),
    divided by its power in 1-100 Hz; the area over a band is then that band's relative power.
    """
    from circuitsim.analysis import spectra as sp
    from circuitsim.io.results import load_result, spec_of

    per: Dict[str, Dict[str, list]] = {}
    for row in rows:
        res = load_result(row["folder"])
        fs = 1.0 / res.lfp_dt
        t0 = float(res.metrics["run"]["transient_s"])
        seg = min(spec_of(res)["readout"]["spectrum_segment"], (res.duration - t0) / 2)
        for region in SPECTRA_REGIONS:
            if region not in res.lfp:
                continue
            f, psd = sp.psd_after_transient(res.lfp[region], fs, t0, seg)
            per.setdefault(row["condition"], {}).setdefault(region, []).append(
                (f, sp.relative_psd(f, psd, SPECTRUM_RANGE_HZ)))
    out: Dict[str, Dict[str, Tuple[np.ndarray, np.ndarray]]] = {}
    for condition, regions in per.items():
        for region, spectra in regions.items():
            f = spectra[0][0]
            same = [s for g, s in spectra if g.shape == f.shape]
            out.setdefault(condition, {})[region] = (f, np.mean(same, axis=0))
    return out


def _short(condition: str) -> str:
    return condition.replace("dystonia_", "dyst. ")


def plot_bars(fig_or_sub, rows: Sequence[Mapping], table: Sequence[Mapping]) -> None:
    """The key measures as bars (mean ± sd over seeds, dots = seeds) on ``fig_or_sub``."""
    axes = fig_or_sub.subplots(2, 5).ravel()
    by = {line["condition"]: line for line in table}
    x = np.arange(len(CONDITIONS))
    for ax, col in zip(axes, BARS):
        means = [by[c][f"{col}_mean"] if c in by else np.nan for c in CONDITIONS]
        sds = [by[c][f"{col}_sd"] if c in by else np.nan for c in CONDITIONS]
        ax.bar(x, np.nan_to_num(means), color=[f"C{k}" for k in x], yerr=np.nan_to_num(sds), capsize=3)
        for k, c in enumerate(CONDITIONS):
            v = values(rows, c, col)
            ax.plot(np.full(v.size, k), v, "k.", ms=3)
        ax.set_title(HEADINGS[col], fontsize=10)
        ax.set_xticks(x, [_short(c) for c in CONDITIONS], rotation=45, fontsize=8)


def plot_spectra(fig_or_sub, spectra: Mapping[str, Mapping[str, Tuple[np.ndarray, np.ndarray]]]) -> None:
    """The mean relative LFP spectra of GPi and STN, one line per condition."""
    axes = fig_or_sub.subplots(1, len(SPECTRA_REGIONS))
    for ax, region in zip(np.atleast_1d(axes), SPECTRA_REGIONS):
        ax.axvspan(4, 10, color="0.9", zorder=0)
        ax.axvspan(13, 30, color="0.95", zorder=0)
        for k, condition in enumerate(CONDITIONS):
            if region in spectra.get(condition, {}):
                f, p = spectra[condition][region]
                keep = (f >= 2) & (f <= 60)
                ax.semilogy(f[keep], p[keep], color=f"C{k}", label=_short(condition))
        ax.set_title(f"{SPECTRA_REGIONS[region]} LFP proxy, mean over seeds (shaded: 4-10 Hz, 13-30 Hz)", fontsize=10)
        ax.set_xlabel("frequency (Hz)")
        ax.set_ylabel("power / power in 1-100 Hz (1/Hz)")
    np.atleast_1d(axes)[0].legend(fontsize=8)


def bars_figure(rows, table, title: str) -> Figure:
    fig = Figure(figsize=(13, 8), layout="constrained")
    plot_bars(fig, rows, table)
    fig.suptitle(title)
    return fig


def main_figure(rows, table, spectra, title: str) -> Figure:
    fig = Figure(figsize=(12, 10), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[2.1, 1])
    plot_bars(top, rows, table)
    plot_spectra(bottom, spectra)
    fig.suptitle(title)
    return fig


def main(argv: Optional[Sequence[str]] = None) -> str:
    parser = argument_parser(__doc__, default_out="outputs/experiments/conditions")
    parser.add_argument("--bars-figure", default=None,
                        help="also save the bar chart alone here (the README's docs/figures/conditions.png)")
    args = parser.parse_args(argv)
    configure_logging()
    check_claims(CLAIMS)
    variant = QUICK if args.quick else FULL
    seeds = args.seeds if args.seeds is not None else variant["seeds"]
    out = Path(args.out)
    measures = {col: key for col, key, _ in MEASURES}
    rows = run_points(points(variant["duration"]), seeds, out, measures, resume=args.resume,
                      **launch_options(args))
    for row in rows:
        for col, scale in _SCALE.items():
            row[col] *= scale
    table = summarise(rows, by=["condition"], columns=list(measures))
    write_rows(rows, out, "runs")
    write_rows(table, out, "table")
    verdicts = compare_with_literature(rows)
    write_rows(verdicts, out, "literature")
    n_agree = sum(bool(v["agrees"]) for v in verdicts)
    spread_note = ("one seed, so the seed spread is 0 and any difference in the reported direction counts"
                   if len(seeds) == 1 else "a direction counts when the difference of means exceeds the seed spread, "
                   "the larger range over seeds of the two conditions")
    text = (f"## Model vs literature ({TASK}, {variant['duration']}, seeds {', '.join(map(str, seeds))}; "
            f"{n_agree} of {len(verdicts)} agree)\n\n"
            f"Cells: model mean ± sd over seeds; **yes**/**no**: agrees with the report ({spread_note}; "
            f"a range counts when the mean is inside it).\n\n"
            + literature_markdown(verdicts) +
            "\n\n## Every measure (mean ± sd over seeds)\n\n" + measures_markdown(table) + "\n")
    (out / "table.md").write_text(text)
    title = f"Conditions with the same left-turn command ({variant['duration']}, seeds " \
            f"{', '.join(map(str, seeds))}; mean ± sd, dots = seeds)"
    bars = bars_figure(rows, table, title)
    save_figure(bars, out, "conditions_bars", also=args.bars_figure)
    fig = main_figure(rows, table, mean_spectra(rows), title)
    save_figure(fig, out, "conditions", also=args.figure)
    print(text)
    print(f"results in {out}")
    return text


if __name__ == "__main__":
    main()
