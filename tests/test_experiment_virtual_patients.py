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
    # one row per patient and measurement: 9 baselines, 6 x (toxin, stress, fatigue), 6 x 2 doses
    assert len(table) == 9 + 6 * 3 + 6 * 2
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
