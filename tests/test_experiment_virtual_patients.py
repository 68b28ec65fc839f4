"""experiments/virtual_patients/run.py: the quick cohort (3 classes x 3 patients) runs, writes every
output, and reproduces bit for bit from the cohort seed (a patient rebuilt from seed and index alone
and simulated again gives the stored run's spikes and measures; the analysis of the stored runs
gives the same diagnosis.json)."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from circuitsim.experiments import RUN_DEFAULTS, load_experiment

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "virtual_patients" / "run.py"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    mod = load_experiment(SCRIPT)
    out = tmp_path_factory.mktemp("virtual_patients")
    diagnosis = mod.main(["--quick", "--out", str(out)])
    return mod, out, diagnosis


def _csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_quick_outputs_are_complete(quick):
    mod, out, d = quick
    for name in ("patients.csv", "cohort_table.csv", "diagnosis.json", "treatments.csv", "states.csv",
                 "summary.md", "confusion.png", "dose_detection.png", "responders.png", "runs/runs.csv"):
        assert (out / name).is_file(), name
    table = _csv(out / "cohort_table.csv")
    # one row per patient and measurement: 9 baselines, 6 toxin, 9 x (stress, fatigue): every patient,
    # healthy too, and 6 x 2 doses
    assert len(table) == 9 + 6 + 9 * 2 + 6 * 2
    assert len({(r["patient"], r["measurement"], r["dose"]) for r in table}) == len(table)
    for key in ("healthy_vs_dystonia", "subtypes"):
        res = d[key]
        assert 0 <= res["balanced_accuracy"] <= 1 and 0 < res["p_value"] <= 1
        assert np.array(res["confusion_matrix"]).sum() == res["n"]
    for name in ("connectivity", "muscle"):
        assert len(d["dose_detection"][name]["p_value"]) == 2
        assert d["dose_detection"][name]["lowest_dose_detected"] in (None, 0.3, 1.0)
    toxin = d["treatments"]["botulinum_toxin"]
    assert toxin["ci95"][0] <= toxin["rate"] <= toxin["ci95"][1]
    # the toxin acts where it acts: the injected rotator (of the dystonic side) loses force in every patient
    rows = [r for r in _csv(out / "treatments.csv") if r["treatment"] == "botulinum_toxin"]
    assert len(rows) == 6
    forces = [(float(r["side_force_before"]), float(r["side_force_after"])) for r in rows]
    assert all(after < before for before, after in forces if before > 0.1) and any(b > 0.1 for b, _ in forces)
    stored = json.loads((out / "diagnosis.json").read_text())
    assert stored["model_version"] and stored["cohort"]["seed"] == 2026
    for state in ("stress", "fatigue"):   # summarised in the patients and, apart, in the healthy
        assert d["states"][state]["n"] == 6 and d["states"][state]["healthy"]["n"] == 3
        assert sum(c["n"] for c in d["states"][state]["by_class"].values()) == 9


@pytest.mark.slow
def test_quick_reproduces_bit_for_bit_from_its_seed(quick, tmp_path):
    from circuitsim import compose, load_result, simulate
    from circuitsim.cohort import draw_patient, load_cohort

    mod, out, d = quick
    cohort = load_cohort("quick")
    patient = draw_patient(cohort, 7)                           # rebuilt from seed and index alone
    overrides = [*RUN_DEFAULTS, *patient.overrides(str(cohort["duration"]), cohort["task"]),
                 f"sim.seed={patient.sim_seed}"]
    again = simulate(compose(overrides), out_dir=tmp_path / "again")
    stored = load_result(out / "runs" / f"{patient.label}_baseline_seed{patient.sim_seed}")
    for pop, (i, t) in stored.spikes.items():
        assert np.array_equal(i, again.spikes[pop][0]) and np.array_equal(t, again.spikes[pop][1]), pop
    assert stored.metrics["connectivity"] == again.metrics["connectivity"]
    assert stored.metrics["muscle"] == again.metrics["muscle"]
    # the analysis of the stored (resumed) runs gives the same diagnosis
    def analysis():   # all but the git commit, which moves when code is committed meanwhile
        d = json.loads((out / "diagnosis.json").read_text())
        d.pop("model_version")
        return d

    first = analysis()
    mod.main(["--quick", "--out", str(out)])
    assert analysis() == first


def test_ctbs_treatment_measures_the_after_effect_over_the_baseline_window():
    from circuitsim import compose
    from circuitsim.cohort import draw_patient, load_cohort
    from circuitsim.spec import build_spec

    mod = load_experiment(SCRIPT)
    cohort = load_cohort("quick")
    patient = draw_patient(cohort, 4)
    base = [*RUN_DEFAULTS, *patient.overrides(str(cohort["duration"]), cohort["task"])]
    baseline = build_spec(compose(base)).sim
    for sham in (False, True):
        extra = mod.treatment_overrides("ctbs_sham" if sham else "ctbs_cerebellum", cohort)
        cfg = compose(base + extra)
        spec = build_spec(cfg)                                        # a valid run
        blocks = cfg.stim[mod.CTBS].protocol
        assert len(blocks) == 1 and blocks[0].type == "theta_burst"   # no test pulse twitches the muscles
        assert (blocks[0].intensity == "0%MSO") == sham
        pulses = spec.stimuli[mod.CTBS]["pulses"]["time"]
        assert spec.sim.transient >= max(pulses) + mod.CTBS_WAIT_S - 1e-9   # measured after the train
        assert spec.sim.duration - spec.sim.transient == pytest.approx(baseline.duration - baseline.transient)


def test_responders_per_class_and_the_features_that_go_with_improvement():
    mod = load_experiment(SCRIPT)
    rng = np.random.default_rng(10)
    baseline, treated = [], []
    for k in range(16):
        cls = "dystonia_bg" if k < 8 else "dystonia_network"
        row = {"patient": k, "class": cls, "dose": 0.6 + 0.025 * k, "side": "right", "severity": 1.0,
               "co_contraction": 0.5, "abs_head_angle_deg": 10.0,
               **{key: float(rng.uniform()) for key in mod.CONNECTIVITY}}
        baseline.append(row)
        # the improvement follows one connectivity feature exactly; bg patients respond, network ones do not
        key = mod.CONNECTIVITY[7]
        gain = 0.3 + 0.2 * row[key] if cls == "dystonia_bg" else 0.2 * row[key]
        treated.append({**row, "severity": 1.0 - gain})
    graded = [{**row, "severity": 1.0 - 0.5 * row[key]} for row in baseline]   # the feature alone decides
    table, summary = mod.treatment_outcomes(baseline, {"dbs_gpi": treated, "graded": graded}, n_permutations=9)
    top = summary["graded"]["predictors"]["connectivity_top"][0]
    assert top["name"] == key and top["rho"] == pytest.approx(1.0)
    s = summary["dbs_gpi"]
    assert s["responders"] == 8 and s["n"] == 16
    assert s["by_class"]["dystonia_bg"]["responders"] == 8 and s["by_class"]["dystonia_network"]["responders"] == 0
    lo, hi = s["by_class"]["dystonia_network"]["ci95"]
    assert lo == 0.0 and 0.3 < hi < 0.4                       # exact interval of 0 of 8
    clinical = {c["name"]: c for c in s["predictors"]["clinical"]}
    assert clinical["dose"]["rho"] < -0.5                      # (dose rises with k, and the late ones respond less)
    assert "severity" not in clinical                          # constant: no correlation
    assert s["predictors"]["n_connectivity_tested"] == len(mod.CONNECTIVITY)
    assert len(table) == 32 and {r["responder"] for r in table} == {True, False}


def test_full_variant_has_two_dbs_targets_a_dose_sweep_and_valid_stimulation_runs():
    from circuitsim import compose
    from circuitsim.cohort import draw_patient, load_cohort
    from circuitsim.cohort_batch import batchable
    from circuitsim.spec import build_spec

    mod = load_experiment(SCRIPT)
    assert {"dbs_gpi", "dbs_sham", "dbs_thal", "botulinum_toxin", "ctbs_cerebellum", "ctbs_sham"} <= set(mod.FULL["treatments"])
    assert len(mod.FULL["doses"]) >= 4 and all(0 < d <= 1 for d in mod.FULL["doses"])
    assert set(mod.STATES) == {"stress", "fatigue"}
    cohort = load_cohort("default")
    patient = draw_patient(cohort, 30)
    base = [*RUN_DEFAULTS, *patient.overrides(str(cohort["duration"]), cohort["task"])]
    for name, target in (("dbs_gpi", "gpi"), ("dbs_thal", "thal")):
        extra = mod.treatment_overrides(name, cohort)
        spec = build_spec(compose(base + extra))
        assert spec.stimuli[name]["kind"] == "dbs" and spec.stimuli[name]["target"] == target
        assert spec.sim.duration == pytest.approx(3.0)              # the cohort's run, not the preset's 2 s
        assert not batchable(extra)                                 # batches hold no DBS: run alone
    sham = build_spec(compose(base + mod.treatment_overrides("dbs_sham", cohort))).stimuli["dbs_gpi"]
    assert sham["kind"] == "dbs" and sham["target"] == "gpi" and sham["amplitude"] == 0   # on, at 0 mA
    assert batchable(mod.treatment_overrides("botulinum_toxin", cohort)) and batchable(mod.STATES["stress"])


def test_states_are_summarised_in_patients_and_healthy_apart():
    mod = load_experiment(SCRIPT)
    baseline = [{"patient": k, "class": "healthy" if k < 4 else "dystonia_bg", "severity": 0.2} for k in range(10)]
    # the patients get worse by 0.1 each, the healthy do not change
    stress = [{**r, "severity": r["severity"] + (0.0 if r["class"] == "healthy" else 0.1)} for r in baseline]
    table, summary = mod.state_changes(baseline, {"stress": stress})
    s = summary["stress"]
    assert s["n"] == 6 and s["worse"] == 6 and s["mean_change"] == pytest.approx(0.1)
    assert s["healthy"]["n"] == 4 and s["healthy"]["worse"] == 0 and s["healthy"]["mean_change"] == 0
    assert s["by_class"]["dystonia_bg"]["n"] == 6 and len(table) == 10
