"""Virtual patients: diagnosis from connectivity, the dose at which dystonia becomes detectable,
who responds to which treatment, and whether stress and fatigue change the symptoms.

Question: in a cohort of virtual patients (configs/cohort/: healthy people and dystonia of several
origins, each a condition at a disease dose with individual variability, circuitsim.cohort), (1)
can a linear classifier tell dystonia from health, and the subtypes apart, from the connectivity
between regions alone (coherence and spectral Granger causality per band, cross-validated by
patient, with a label-permutation test)? (2) at which disease dose does connectivity detect a
patient, and at which the muscles (severity, co-contraction, head angle)? (3) how many patients
respond (>= 25 % lower severity) to botulinum toxin (and, in the full variant, pallidal DBS), and
does pre-treatment connectivity predict who? (4) does severity change under stress (arousal up)
and fatigue (arousal down)?

    python experiments/virtual_patients/run.py --quick     # 3 classes x 3 patients, 39 runs of 2.2 s
    python experiments/virtual_patients/run.py             # 5 classes x 20 patients (configs/cohort/default.yaml)
    python experiments/virtual_patients/run.py --cohort quick --launcher slurm   # any cohort, on a cluster

Outputs in ``--out``: ``patients.csv`` (every patient's drawn dose, side and variability),
``cohort_table.csv`` (one row per patient and measurement: every connectivity key and muscle
measure), ``diagnosis.json``, ``treatments.csv``, ``states.csv``, ``summary.md`` and the figures
``confusion.png``, ``dose_detection.png``, ``responders.png``; ``runs/`` holds the run folders
(resumed when rerun) and the collected ``runs/runs.csv``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
from itertools import combinations
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure

from circuitsim.analysis.connectivity import feature_names
from circuitsim.cohort import (collect_finished, draw_patient, draw_patients, load_cohort, patient_table, plan,
                               run_cohort)
from circuitsim.diagnosis import RESPONDER_IMPROVEMENT, classify, detection_by_dose, improvement, responder_rate
from circuitsim.experiments import (argument_parser, configure_logging, hydra_value, launch_options, save_figure,
                                    write_rows)

REGIONS = ("ctx", "str", "gpe", "stn", "gpi", "thal", "cb", "dcn")
CONNECTIVITY = tuple(feature_names(REGIONS))
#: muscle measures (dotted keys of metrics.json); |head angle| and a CCI of null (relaxed) = 0 below
MUSCLE = {"severity": "muscle.severity_score", "co_contraction": "muscle.co_contraction_index",
          "head_angle_deg": "muscle.head_angle_deg.mean",
          "force_left": "muscle.rotator_left.mean_force", "force_right": "muscle.rotator_right.mean_force"}
MUSCLE_FEATURES = ("severity", "co_contraction", "abs_head_angle_deg")
#: treatments: name -> overrides (each an existing preset; the cTBS ones from ctbs_treatment)
TREATMENTS = {"botulinum_toxin": ["treatment=botulinum_toxin"], "dbs_gpi": ["stim=dbs_gpi"],
              "dbs_thal": ["stim=dbs_thal"], "ctbs_cerebellum": None, "ctbs_sham": None,
              # the stimulator on at 0 mA: in this deterministic model it reproduces the baseline
              # bit for bit (the stimulus draws no random numbers), so its responder rate is 0 by
              # construction; it checks that a "response" is the current's, and the cTBS sham
              # (measured in a later window) gives the rate of chance responses
              "dbs_sham": ["stim=dbs_gpi", "stim.dbs_gpi.amplitude=0*mA"]}
CTBS = "ctbs_cerebellum"
#: cTBS train shortened by the preset's documented time_scale (30 pulses in 2 s instead of 600 in
#: 40 s, Huang et al. 2005): a model choice for the cost (the full train is 43 s of simulation per
#: patient); the plastic change per pulse is the preset's, so the full train's effect is larger
CTBS_TIME_SCALE = 0.05
#: the post-cTBS severity is measured from this long after the last pulse of the train
CTBS_WAIT_S = 0.5
#: states (model choices): stress raises and fatigue lowers the arousal modulator, a global gain on
#: every population's background drive (configs/circuit/default.yaml, gain 0.5: drive x1.15 and
#: x0.9); patients report that stress and fatigue worsen their dystonia (Jahanshahi 2000, Mov
#: Disord 15:92). Fatigue is meant as *central* fatigue, "a progressive reduction in voluntary
#: activation of muscle during exercise" (Gandevia 2001, Physiol Rev 81:1725): less drive to the
#: motor circuit, not a weaker muscle (peripheral fatigue, which this state does not model)
STATES = {"stress": ["circuit.modulators.arousal.level=1.3"], "fatigue": ["circuit.modulators.arousal.level=0.8"]}

#: BOLD (circuitsim.analysis.bold, Balloon-Windkessel): its correlations need runs of 20 s or more
#: after the transient (bold.MIN_DURATION_S), so the first ``bold_per_class`` patients of every class
#: also run at rest for BOLD_DURATION (40 s after the transient: the haemodynamic response lasts about
#: 10 s, so even 40 s hold only a few independent samples; a scanner records minutes)
BOLD_DURATION = "40.2*second"
BOLD = tuple(f"connectivity.bold.correlation.{a}__{b}" for a, b in combinations(REGIONS, 2))

QUICK = {"cohort": "quick", "doses": [0.3, 1.0], "treatments": ["botulinum_toxin"], "n_permutations": 39,
         "batch_size": 1, "bold_per_class": 0}
FULL = {"cohort": "default", "doses": [0.25, 0.5, 0.75, 1.0],
        "treatments": ["botulinum_toxin", "dbs_gpi", "dbs_sham", "dbs_thal", "ctbs_cerebellum", "ctbs_sham"],
        "n_permutations": 500, "batch_size": 1, "bold_per_class": 5}
#: batch_size 1 (every run alone) by default: measured on this 2-core machine, a batch of 5 or 10
#: patients' 3 s runs as one network (circuitsim.batch) took as long as the same runs one by one
#: (ratio of times 0.95-1.13: the 1670-neuron circuit's simulation is 0.5 s of a run's 2.4 s, the rest is
#: the per-run analysis and config composition a batch does not share) and compiles one program
#: per batch size and structure (47 s each); `--batch-size 10` routes the runs a batch can hold
#: through it (bitwise the same spikes)
#: treatments a batch can hold (no stimulus: circuitsim.cohort_batch); they run first, with the states
#: and the dose sweep, so a cohort stopped part-way has them whole
BATCHABLE_TREATMENTS = ("botulinum_toxin",)


def cohort_sim(cohort: Mapping[str, Any]):
    """The validated ``sim`` section (SI floats: duration, transient, dt) of the cohort's runs, from
    the spec built of their config (issue 19: no unit string of a composed config is parsed here)."""
    from circuitsim import compose
    from circuitsim.cohort import COHORT_RUN
    from circuitsim.spec import build_spec

    return build_spec(compose([*COHORT_RUN, f"task={cohort['task']}", f"sim.duration={cohort['duration']}"])).sim


def ctbs_treatment(window_s: float, dt: float, sham: bool = False, time_scale: float = CTBS_TIME_SCALE) -> List[str]:
    """Cerebellar cTBS as a treatment: the ``ctbs_cerebellum`` preset's theta-burst train alone
    (``time_scale``; no m1 test pulses, which would twitch the muscles whose severity is
    measured), from 0.5 s on, and the measures taken over ``window_s`` (the baseline's window) from
    ``CTBS_WAIT_S`` after the train's last pulse on (``sim.transient``): the after-effect, not the
    stimulation itself. ``dt``: the runs' time step (s). ``sham``: the same run with the train at
    0 %MSO (the noise floor of a 'response')."""
    from omegaconf import OmegaConf

    from circuitsim import compose
    from circuitsim.stimulation.protocols import generate_pulses, validate_protocol

    preset = OmegaConf.to_container(compose([f"stim={CTBS}"]).stim[CTBS].protocol, resolve=True)
    train = next(b for b in preset if b["type"] == "theta_burst")
    train.update(start="0.5*second", time_scale=time_scale)
    if sham:
        train["intensity"] = "0%MSO"
    table = generate_pulses(validate_protocol([train], "protocol", ("m1", "cerebellum"), dt), dt)
    start = math.ceil((float(table.time.max()) + CTBS_WAIT_S) * 10) / 10
    return [f"stim={CTBS}", f"stim.{CTBS}.protocol={hydra_value([train])}",
            f"sim.transient={start:g}*second", f"sim.duration={start + window_s:g}*second"]


def treatment_overrides(name: str, cohort: Mapping[str, Any]) -> List[str]:
    """The overrides of treatment ``name`` for this cohort (the cTBS window: as long as the cohort's
    runs after their transient, read from their validated spec)."""
    if name in ("ctbs_cerebellum", "ctbs_sham"):
        sim = cohort_sim(cohort)
        return ctbs_treatment(sim.duration - sim.transient, sim.dt, sham=name == "ctbs_sham")
    return list(TREATMENTS[name])


def _features(row: Mapping[str, Any]) -> Dict[str, float]:
    cci = row.get("co_contraction")
    return {"severity": float(row["severity"]),
            "co_contraction": 0.0 if cci is None or not math.isfinite(float(cci)) else float(cci),
            "abs_head_angle_deg": abs(float(row["head_angle_deg"]))}


def _matrix(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> np.ndarray:
    return np.array([[float(r.get(c, np.nan)) for c in columns] for r in rows], dtype=float)


def diagnose(baseline: Sequence[Mapping[str, Any]], n_permutations: int) -> Dict[str, Any]:
    """Healthy vs dystonia and the subtypes, from connectivity alone (and from the muscles, to compare)."""
    y = ["healthy" if r["class"] == "healthy" else "dystonia" for r in baseline]
    out = {"healthy_vs_dystonia": classify(_matrix(baseline, CONNECTIVITY), y, CONNECTIVITY,
                                           n_permutations=n_permutations),
           "healthy_vs_dystonia_muscle": classify(_matrix(baseline, MUSCLE_FEATURES), y, MUSCLE_FEATURES,
                                                  n_permutations=n_permutations)}
    sick = [r for r in baseline if r["class"] != "healthy"]
    if len({r["class"] for r in sick}) > 1:
        out["subtypes"] = classify(_matrix(sick, CONNECTIVITY), [r["class"] for r in sick], CONNECTIVITY,
                                   n_permutations=n_permutations)
    return out


#: pre-treatment clinical measures tested as predictors of response, besides connectivity
CLINICAL = ("dose", "severity", "co_contraction", "abs_head_angle_deg")


def predictors(pre_rows: Sequence[Mapping[str, Any]], improvements: Sequence[float], top: int = 5) -> Dict[str, Any]:
    """Which pre-treatment features go with a larger improvement: Spearman's rho of every clinical
    measure and connectivity feature with the improvement, the ``top`` connectivity features by
    |rho| (raw p-values: with 420 features about 21 pass p < 0.05 by chance; ``n_bh_005`` counts
    those that pass the Benjamini-Hochberg false discovery rate of 0.05)."""
    from scipy.stats import false_discovery_control, spearmanr

    y = np.asarray(improvements, dtype=float)

    def rho(column: str):
        x = np.array([float(r.get(column, np.nan)) for r in pre_rows], dtype=float)
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.sum() < 4 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
            return None
        res = spearmanr(x[ok], y[ok])
        return {"name": column, "rho": float(res.statistic), "p": float(res.pvalue), "n": int(ok.sum())}

    clinical = [c for c in (rho(k) for k in CLINICAL) if c is not None]
    conn = [c for c in (rho(k) for k in CONNECTIVITY) if c is not None]
    n_bh = int(np.sum(false_discovery_control([c["p"] for c in conn]) < 0.05)) if conn else 0
    conn.sort(key=lambda c: -abs(c["rho"]))
    return {"clinical": clinical, "connectivity_top": conn[:top], "n_connectivity_tested": len(conn),
            "n_bh_005": n_bh}


def treatment_outcomes(baseline, treated: Mapping[str, Sequence[Mapping]], n_permutations: int):
    """Per patient and treatment: severity before and after, improvement, responder; rates overall
    and per class (with exact 95 % intervals); prediction of response from pre-treatment
    connectivity (cross-validated) and the features that go with it."""
    pre = {r["patient"]: r for r in baseline}
    table, summary = [], {}
    for name, rows in treated.items():
        rows = [r for r in rows if r["patient"] in pre]    # a cohort still running: its finished pairs
        if not rows:
            continue
        before = [pre[r["patient"]]["severity"] for r in rows]
        after = [r["severity"] for r in rows]
        summary[name] = responder_rate(before, after)
        summary[name]["by_class"] = {
            cls: responder_rate([b for r, b in zip(rows, before) if r["class"] == cls],
                                [a for r, a in zip(rows, after) if r["class"] == cls])
            for cls in sorted({r["class"] for r in rows})}
        labels, imps = [], []
        for r, b, a in zip(rows, before, after):
            imp = improvement(b, a)
            responder = bool(imp >= RESPONDER_IMPROVEMENT) if math.isfinite(imp) else None
            table.append({"patient": r["patient"], "class": r["class"], "dose": r["dose"], "side": r["side"],
                          "treatment": name, "severity_before": b, "severity_after": a, "improvement": imp,
                          "responder": responder,
                          # the rotator of the dystonic side (the one botulinum_toxin injects), in N
                          "side_force_before": pre[r["patient"]].get(f"force_{r['side']}", math.nan),
                          "side_force_after": r.get(f"force_{r['side']}", math.nan)})
            labels.append(responder)
            imps.append(imp)
        summary[name]["predictors"] = predictors([pre[r["patient"]] for r in rows], imps)
        # does pre-treatment connectivity predict response? (cross-validated, needs 2+ of each)
        ok = [k for k, lab in enumerate(labels) if lab is not None]
        y = ["responder" if labels[k] else "non-responder" for k in ok]
        counts = {c: y.count(c) for c in set(y)}
        if len(counts) == 2 and min(counts.values()) >= 2:
            X = _matrix([pre[rows[k]["patient"]] for k in ok], CONNECTIVITY)
            summary[name]["prediction_from_connectivity"] = classify(X, y, CONNECTIVITY,
                                                                     n_permutations=n_permutations)
        else:
            summary[name]["prediction_from_connectivity"] = {
                "not_evaluable": f"needs at least 2 responders and 2 non-responders (got {counts})"}
    return table, summary


def _paired_change(diff: np.ndarray) -> Dict[str, Any]:
    """Mean change of severity, how many worse and better, Wilcoxon's signed-rank p (zeros dropped)."""
    from scipy.stats import wilcoxon

    nonzero = diff[diff != 0]
    p = float(wilcoxon(nonzero).pvalue) if nonzero.size >= 2 else float("nan")
    return {"n": int(diff.size), "mean_change": float(diff.mean()) if diff.size else float("nan"),
            "worse": int(np.sum(diff > 0)), "better": int(np.sum(diff < 0)), "wilcoxon_p": p}


def state_changes(baseline, states: Mapping[str, Sequence[Mapping]]):
    """Per patient and state: severity at rest and in the state; per state the paired change in
    the dystonic patients (the summary's top level), in the healthy ones and in each class."""
    pre = {r["patient"]: r["severity"] for r in baseline}
    table, summary = [], {}
    for name, rows in states.items():
        rows = [r for r in rows if r["patient"] in pre]
        if not rows:
            continue
        diff = np.array([r["severity"] - pre[r["patient"]] for r in rows])
        for r, d in zip(rows, diff):
            table.append({"patient": r["patient"], "class": r["class"], "state": name,
                          "severity_rest": pre[r["patient"]], "severity_state": r["severity"], "change": float(d)})
        cls = np.array([r["class"] for r in rows])
        summary[name] = _paired_change(diff[cls != "healthy"])
        if np.any(cls == "healthy"):
            summary[name]["healthy"] = _paired_change(diff[cls == "healthy"])
        summary[name]["by_class"] = {c: _paired_change(diff[cls == c]) for c in sorted(set(cls))}
    return table, summary


def bold_patients(patients, per_class: int):
    """The first ``per_class`` patients (by index) of every class: the BOLD subset."""
    return [p for p in patients if sum(q.cls == p.cls and q.index < p.index for q in patients) < per_class]


def bold_diagnosis(rows: Sequence[Mapping[str, Any]], n_permutations: int) -> Dict[str, Any]:
    """Healthy vs dystonia and the subtypes from the BOLD correlations of the long runs, and, on the
    same runs, from the spectral connectivity (coherence, Granger) to compare."""
    out: Dict[str, Any] = {"n": len(rows), "per_class": {c: sum(r["class"] == c for r in rows)
                                                          for c in sorted({r["class"] for r in rows})}}
    if len(out["per_class"]) < 2 or min(out["per_class"].values()) < 2:
        return {**out, "not_evaluable": "needs at least 2 patients in 2 classes"}
    y = ["healthy" if r["class"] == "healthy" else "dystonia" for r in rows]
    sick = [r for r in rows if r["class"] != "healthy"]
    for name, cols in (("bold", BOLD), ("spectral", CONNECTIVITY)):
        out[f"healthy_vs_dystonia_{name}"] = classify(_matrix(rows, cols), y, cols, n_permutations=n_permutations)
        if len({r["class"] for r in sick}) > 1:
            out[f"subtypes_{name}"] = classify(_matrix(sick, cols), [r["class"] for r in sick], cols,
                                               n_permutations=n_permutations)
    corr = _matrix(rows, BOLD)
    out["mean_correlation_by_class"] = {c: float(np.nanmean(corr[[r["class"] == c for r in rows]]))
                                        for c in out["per_class"]}
    return out


def _model_version() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _conf_panel(ax, res: Mapping[str, Any], title: str) -> None:
    cm = np.array(res["confusion_matrix"])
    ax.imshow(cm, cmap="Blues")
    labels = [s.replace("dystonia_", "d. ") for s in res["labels"]]
    ax.set_xticks(range(len(labels)), labels, rotation=30, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", color="k")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title}\nbal. acc. {res['balanced_accuracy']:.2f}, p = {res['p_value']:.3f}", fontsize=9)


def figures(out: Path, diagnosis: Mapping[str, Any], treat_table: Sequence[Mapping], also: Optional[str]) -> None:
    panels = [(k, t) for k, t in (("healthy_vs_dystonia", "healthy vs dystonia (connectivity)"),
                                  ("subtypes", "subtypes (connectivity)")) if k in diagnosis]
    fig = Figure(figsize=(4.2 * len(panels), 4), layout="constrained")
    for ax, (key, title) in zip(np.atleast_1d(fig.subplots(1, len(panels))), panels):
        _conf_panel(ax, diagnosis[key], title)
    save_figure(fig, out, "confusion", also=also)

    dose = diagnosis.get("dose_detection")
    fig = Figure(figsize=(5.5, 4), layout="constrained") if dose else None
    if dose:
        _dose_panel(fig.subplots(), dose)
        save_figure(fig, out, "dose_detection")

    fig = Figure(figsize=(1.5 + 1.4 * max(1, len({r["treatment"] for r in treat_table})), 4), layout="constrained")
    ax = fig.subplots()
    names = list(dict.fromkeys(r["treatment"] for r in treat_table))
    classes = sorted({r["class"] for r in treat_table})
    for k, name in enumerate(names):
        for c, cls in enumerate(classes):
            imp = np.array([r["improvement"] for r in treat_table if r["treatment"] == name and r["class"] == cls],
                           dtype=float)
            imp = imp[np.isfinite(imp)]
            ax.plot(k + (c - (len(classes) - 1) / 2) * 0.15 + np.linspace(-0.05, 0.05, imp.size), 100 * imp, "o",
                    ms=4, color=f"C{c}", label=cls.replace("dystonia_", "d. ") if k == 0 else None)
    ax.axhline(100 * RESPONDER_IMPROVEMENT, color="k", ls="--", lw=1, label="responder threshold")
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set_ylabel("severity improvement (%)")
    ax.legend(fontsize=7)
    save_figure(fig, out, "responders")


def _dose_panel(ax, dose: Mapping[str, Any]) -> None:
    for k, name in enumerate(("connectivity", "muscle")):
        acc, p = np.array(dose[name]["balanced_accuracy"]), np.array(dose[name]["p_value"])
        ax.plot(dose["doses"], acc, "o-", color=f"C{k}", label=name)
        sig = p < dose["alpha"]
        ax.plot(np.array(dose["doses"])[sig], acc[sig], "*", ms=14, color=f"C{k}")
    ax.axhline(0.5, color="0.5", ls="--", lw=1)
    ax.set_xlabel("disease dose (0 = healthy, 1 = full condition)")
    ax.set_ylabel("balanced accuracy, healthy vs patients")
    ax.set_ylim(0, 1.05)
    ax.set_title("detection by dose (star: permutation p < 0.05)", fontsize=10)
    ax.legend()


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    parser = argument_parser(__doc__, default_out="outputs/experiments/virtual_patients")
    parser.add_argument("--cohort", default=None, help="configs/cohort/<name>.yaml or a path (default: the variant's)")
    parser.add_argument("--treatments", nargs="*", default=None, choices=sorted(TREATMENTS),
                        help="treatments to apply (default: the variant's)")
    parser.add_argument("--doses", nargs="*", type=float, default=None, help="doses of the dose sweep")
    parser.add_argument("--states", nargs="*", default=None, choices=sorted(STATES),
                        help="states to measure (default: all, stress and fatigue)")
    parser.add_argument("--permutations", dest="n_permutations", type=int, default=None,
                        help="label permutations of each permutation test (default: the variant's)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="runs simulated as one network (circuitsim.batch; DBS and TMS runs alone); "
                             "1: every run alone (default: the variant's)")
    parser.add_argument("--bold-per-class", type=int, default=None,
                        help=f"patients per class also run {BOLD_DURATION} at rest for BOLD correlations "
                             "(0: none; default: the variant's)")
    parser.add_argument("--collect-only", action="store_true",
                        help="run nothing: analyse the runs already finished in --out (a cohort still running)")
    args = parser.parse_args(argv)
    configure_logging()
    variant = dict(QUICK if args.quick else FULL)
    variant.setdefault("states", sorted(STATES))
    for key in ("cohort", "treatments", "doses", "n_permutations", "states", "batch_size", "bold_per_class"):
        if getattr(args, key) is not None:
            variant[key] = getattr(args, key)
    cohort = load_cohort(variant["cohort"])
    if args.seeds:
        cohort["sim_seeds"] = list(args.seeds)
    out = Path(args.out)
    patients = draw_patients(cohort)
    write_rows(patient_table(patients), out, "patients")
    measures = {**MUSCLE, **{key: key for key in CONNECTIVITY}}
    options = dict(resume=args.resume, batch_size=int(variant["batch_size"]), **launch_options(args))
    dystonic = [p for p in patients if p.cls != "healthy"]
    sweep = [dataclasses.replace(draw_patient(cohort, p.index, dose=d), label=f"{p.label}_dose{d:g}")
             for d in variant["doses"] for p in dystonic]
    # stages, run one after another so that a cohort stopped part-way has whole measurements
    # (every baseline first, then what batches hold, then the stimulation runs, each alone);
    # each is resumed when the experiment is rerun
    treatments = list(variant["treatments"])
    stages = [plan(patients, {"baseline": []})]
    stages += [plan(dystonic, {t: treatment_overrides(t, cohort)}) for t in treatments if t in BATCHABLE_TREATMENTS]
    stages += [plan(patients, {s: STATES[s]}) for s in variant["states"]]   # every patient, healthy too
    if sweep:
        stages.append(plan(sweep, {"dose_sweep": []}))
    stages += [plan(dystonic, {t: treatment_overrides(t, cohort)}) for t in treatments
               if t not in BATCHABLE_TREATMENTS]
    # last, the long runs of the BOLD subset (their own table: BOLD keys exist only in them)
    bold_items = plan(bold_patients(patients, int(variant["bold_per_class"])), {"bold": []})
    bold_measures = {**measures, **{key: key for key in BOLD}}
    if args.collect_only:
        rows = collect_finished([item for stage in stages for item in stage], out, measures)
        bold_rows = collect_finished(bold_items, out, bold_measures)
        print(f"--collect-only: {len(rows) + len(bold_rows)} of {sum(map(len, stages)) + len(bold_items)} runs finished")
    else:
        rows = [row for stage in stages for row in run_cohort(stage, out, cohort, measures, **options)]
        bold_rows = run_cohort(bold_items, out, {**cohort, "duration": BOLD_DURATION}, bold_measures,
                               **options) if bold_items else []
    for r in rows:
        r.update(_features(r))
    write_rows(rows, out, "cohort_table")

    # one BLAS thread for the classifiers: on a shared machine OpenBLAS's threads oversubscribe the
    # cores (the permutation tests ran 3 times slower with them on 2 busy cores)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        baseline = [r for r in rows if r["measurement"] == "baseline"]
        n_perm = variant["n_permutations"]
        diagnosis: Dict[str, Any] = {"model_version": _model_version(), "cohort": cohort,
                                     "n_patients": len(patients),
                                     # what ran (a cohort stopped part-way): runs finished per measurement
                                     "runs_per_measurement": {m: sum(1 for r in rows if r["measurement"] == m)
                                                              for m in dict.fromkeys(r["measurement"] for r in rows)}}
        diagnosis.update(diagnose(baseline, n_perm))
        sweep_rows = [r for r in rows if r["measurement"] == "dose_sweep"]
        # (a cohort still running: the doses with at least 2 patients finished)
        per_dose = {d: sum(1 for r in sweep_rows if r["dose"] == d) for d in {r["dose"] for r in sweep_rows}}
        sweep_rows = [r for r in sweep_rows if per_dose[r["dose"]] >= 2]
        healthy = [r for r in baseline if r["class"] == "healthy"]
        if sweep_rows:
            diagnosis["dose_detection"] = detection_by_dose(sweep_rows, {"connectivity": CONNECTIVITY,
                                                                         "muscle": MUSCLE_FEATURES},
                                                            healthy, n_permutations=n_perm)
        treat_table, diagnosis["treatments"] = treatment_outcomes(
            baseline, {t: [r for r in rows if r["measurement"] == t] for t in variant["treatments"]}, n_perm)
        state_table, diagnosis["states"] = state_changes(baseline, {s: [r for r in rows if r["measurement"] == s]
                                                                    for s in variant["states"]})
        if bold_rows:
            diagnosis["bold"] = {"duration": BOLD_DURATION, **bold_diagnosis(bold_rows, n_perm)}
    write_rows(treat_table, out, "treatments")
    write_rows(state_table, out, "states")
    if bold_rows:
        write_rows(bold_rows, out, "bold_table")
    (out / "diagnosis.json").write_text(json.dumps(diagnosis, indent=1, default=str) + "\n")
    figures(out, diagnosis, treat_table, args.figure)
    text = summary(diagnosis)
    (out / "summary.md").write_text(text)
    print(text)
    print(f"results in {out}")
    return diagnosis


def _p(res: Mapping[str, Any]) -> str:
    return (f"balanced accuracy {res['balanced_accuracy']:.2f} (chance {res['chance']:.2f}), accuracy "
            f"{res['accuracy']:.2f}, permutation p = {res['p_value']:.3f} (n = {res['n']})")


def _change(s: Mapping[str, Any]) -> str:
    return (f"mean severity change {s['mean_change']:+.3f}, worse in {s['worse']}, better in {s['better']} of "
            f"{s['n']} (Wilcoxon p = {s['wilcoxon_p']:.3f})")


def summary(d: Mapping[str, Any]) -> str:
    lines = [f"Model version (git): {d['model_version']}; cohort {d['cohort']['name']}, {d['n_patients']} patients.",
             "Runs per measurement: " + ", ".join(f"{m} {n}" for m, n in d.get("runs_per_measurement", {}).items()), ""]
    lines.append(f"- healthy vs dystonia from connectivity: {_p(d['healthy_vs_dystonia'])}; top features: "
                 + ", ".join(f['name'].replace('connectivity.', '') for f in d['healthy_vs_dystonia']['features'][:3]))
    lines.append(f"- healthy vs dystonia from the muscles: {_p(d['healthy_vs_dystonia_muscle'])}")
    if "subtypes" in d:
        lines.append(f"- subtypes from connectivity: {_p(d['subtypes'])}")
    dd = d.get("dose_detection") or {}
    for name in ("connectivity", "muscle") if dd else ():
        cells = ", ".join(f"{x:g}: {a:.2f} (p {p:.3f})" for x, a, p in
                          zip(dd["doses"], dd[name]["balanced_accuracy"], dd[name]["p_value"]))
        lines.append(f"- detection by dose, {name}: {cells}; lowest dose detected: {dd[name]['lowest_dose_detected']}")
    for name, t in d["treatments"].items():
        pred = t["prediction_from_connectivity"]
        pred_text = pred.get("not_evaluable") or _p(pred)
        lines.append(f"- {name}: {t['responders']} of {t['n']} responders (>= 25 % lower severity), rate "
                     f"{t['rate']:.2f}, 95 % CI {t['ci95'][0]:.2f}-{t['ci95'][1]:.2f}; median improvement "
                     f"{t['improvement_median']:.2f}; prediction from pre-treatment connectivity: {pred_text}")
        lines.append("  - by class: " + "; ".join(
            f"{c.replace('dystonia_', '')} {b['responders']}/{b['n']} ({b['ci95'][0]:.2f}-{b['ci95'][1]:.2f})"
            for c, b in t["by_class"].items()))
        pr = t["predictors"]
        lines.append("  - pre-treatment features and improvement (Spearman): " + ", ".join(
            f"{c['name']} {c['rho']:+.2f} (p {c['p']:.3f})" for c in pr["clinical"]) + "; connectivity: "
            + ", ".join(f"{c['name'].replace('connectivity.', '')} {c['rho']:+.2f}" for c in pr["connectivity_top"][:3])
            + f" ({pr['n_bh_005']} of {pr['n_connectivity_tested']} pass FDR 0.05)")
    for name, s in d["states"].items():
        lines.append(f"- {name}, dystonic patients: {_change(s)}"
                     + (f"; healthy: {_change(s['healthy'])}" if "healthy" in s else ""))
        lines.append("  - by class: " + "; ".join(f"{c.replace('dystonia_', '')} {b['mean_change']:+.3f} "
                                                  f"(worse in {b['worse']} of {b['n']})"
                                                  for c, b in s.get("by_class", {}).items()))
    b = d.get("bold")
    if b and "not_evaluable" not in b:
        lines.append(f"- BOLD ({b['duration']} at rest, {b['n']} patients: " + ", ".join(
            f"{c.replace('dystonia_', '')} {n}" for c, n in b["per_class"].items()) + ")")
        for key in ("healthy_vs_dystonia_bold", "healthy_vs_dystonia_spectral", "subtypes_bold", "subtypes_spectral"):
            if key in b:
                lines.append(f"  - {key.replace('_', ' ')}: {_p(b[key])}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
