"""Virtual-patient cohorts (circuitsim.cohort): reproducible from seed and index, dose 0 = healthy,
the dose rules, and clear errors. No simulation here (the quick experiment runs one)."""

import copy
import math

import pytest

from circuitsim import compose
from circuitsim.cohort import CohortError, draw_patient, draw_patients, dosed_value, load_cohort
from circuitsim.spec import build_spec


@pytest.fixture(scope="module")
def cohort():
    return load_cohort("quick")


def test_each_patient_is_rebuilt_from_seed_and_index_alone(cohort):
    patients = draw_patients(cohort)
    assert [p.cls for p in patients] == ["healthy"] * 3 + ["dystonia_bg"] * 3 + ["dystonia_cerebellar"] * 3
    assert draw_patient(cohort, 7) == patients[7]                    # alone, bit for bit the same settings
    bigger = copy.deepcopy(cohort)
    bigger["classes"]["dystonia_cerebellar"]["n"] = 30
    assert draw_patients(bigger)[:9] == patients                     # more patients leave these as they were
    other = copy.deepcopy(cohort)
    other["seed"] = cohort["seed"] + 1
    assert draw_patient(other, 7).settings != patients[7].settings
    assert len({p.settings for p in patients}) == len(patients)      # individuals differ
    for p in patients:
        build_spec(compose(p.overrides("1s")))                       # every patient is a valid run


def test_healthy_patients_and_dose_zero_carry_no_condition(cohort):
    healthy = draw_patient(cohort, 0)
    assert healthy.dose == 0 and healthy.side is None
    keys = {k for k, _ in healthy.settings}
    assert all(k.endswith(".weight_scale") or k.endswith(".background.rate") for k in keys)
    zero = dict(draw_patient(cohort, 4, dose=0.0).settings)
    full = dict(draw_patient(cohort, 4, dose=1.0).settings)
    assert "circuit.pathways.d1_gpi.side_scale" not in zero and "circuit.pathways.d1_gpi.topology" not in zero
    assert full["circuit.pathways.d1_gpi.topology"] == "diffuse"
    assert float(full["circuit.pathways.d1_gpi.side_scale"]) > 5.0            # 40 x individual strength
    drawn = draw_patient(cohort, 4)
    assert 0.6 <= drawn.dose <= 1.0 and drawn.side in ("left", "right")
    # the individual variability is the same patient's at every dose
    assert zero["circuit.populations.gpi.background.rate"] == full["circuit.populations.gpi.background.rate"]


def test_dose_rules():
    # a multiplier: log scale m**d, linear 1 + d (m - 1); strength k multiplies the dose
    assert dosed_value("circuit.pathways.x.weight_scale", 4.0, 1.0, 0.5, 1.0, "log", 0.5) == pytest.approx(2.0)
    assert dosed_value("circuit.pathways.x.weight_scale", 4.0, 1.0, 0.5, 1.0, "linear", 0.5) == pytest.approx(2.5)
    assert dosed_value("circuit.pathways.x.weight_scale", 4.0, 1.0, 0.5, 2.0, "log", 0.5) == pytest.approx(4.0)
    assert dosed_value("circuit.pathways.x.weight_scale", 0.1, 1.0, 0.0, 1.0, "log", 0.5) is None   # healthy
    # a value with a unit: linear from the healthy value
    assert dosed_value("circuit.populations.pc.params.V_reset", "-46*mV", "-58*mV", 0.25, 1.0, "log", 0.5) == "-55*mV"
    # structural: from structural_dose on
    assert dosed_value("circuit.pathways.d1_gpi.topology", "diffuse", "focal", 0.4, 1.0, "log", 0.5) is None
    assert dosed_value("circuit.pathways.d1_gpi.p_scale", 0.5, 1.0, 0.5, 1.0, "log", 0.5) == 0.5
    assert math.isclose(dosed_value("circuit.modulators.dopamine.level", 0.1, 1.0, 1.0, 1.0, "log", 0.5), 0.1)


def test_bad_cohorts_are_refused_with_the_field(tmp_path):
    with pytest.raises(CohortError, match="no cohort 'nope'.*quick"):
        load_cohort("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text((load_cohort.__globals__["cohort_path"]("quick")).read_text().replace(
        "condition: dystonia_bg", "condition: dystonia_xx"))
    with pytest.raises(CohortError, match="cohort.classes.dystonia_bg.condition"):
        load_cohort(bad)


def test_collect_finished_reads_only_the_runs_that_finished(cohort, tmp_path):
    import json

    from circuitsim.cohort import collect_finished, draw_patient, plan

    patients = [draw_patient(cohort, i) for i in (0, 4)]
    items = plan(patients, {"baseline": [], "stress": ["circuit.modulators.arousal.level=1.3"]})
    done = items[1]                                   # patient 0's stress run finished, the rest did not
    folder = tmp_path / "runs" / f"{done[0].label}_{done[1]}_seed{done[0].sim_seed}"
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({"muscle": {"severity_score": 0.25}}))
    (tmp_path / "runs" / "unfinished").mkdir()
    rows = collect_finished(items, tmp_path, {"severity": "muscle.severity_score", "cci": "muscle.cci"})
    assert len(rows) == 1
    assert rows[0]["measurement"] == "stress" and rows[0]["patient"] == 0 and rows[0]["severity"] == 0.25
    assert math.isnan(rows[0]["cci"])                 # a key the run did not write


def test_batch_groups_hold_only_points_of_one_structure(cohort):
    from circuitsim.cohort_batch import batchable, chunks, structure_group

    assert batchable(["treatment=botulinum_toxin", "circuit.modulators.arousal.level=1.3", "stim=none"])
    assert not batchable(["stim=dbs_gpi"]) and not batchable(["stim=ctbs_cerebellum", "stim.ctbs_cerebellum.x=1"])
    patients = draw_patients(cohort)
    groups = {structure_group(p.overrides("2.2s")) for p in patients}
    # dystonia_bg at its drawn dose (>= structural_dose) rewires d1_gpi; healthy and cerebellar do not
    assert len(groups) == 2
    bg = structure_group(patients[4].overrides("2.2s"))
    assert any("d1_gpi.topology" in o for o in bg) and "sim.duration=2.2s" in bg
    low = draw_patient(cohort, 4, dose=0.3)                            # below structural_dose: not rewired
    assert structure_group(low.overrides("2.2s")) == structure_group(patients[0].overrides("2.2s"))
    assert [len(c) for c in chunks(list(range(23)), 10)] == [10, 10, 3]


def test_batcher_skips_only_runs_made_by_this_code(tmp_path, monkeypatch):
    """A finished folder made by this code is left to run_points' resume; one made by other code (or
    none) goes into a batch again."""
    import json

    from circuitsim import _version, cohort_batch
    from circuitsim.experiments import Point

    seen = []

    def fake_worker(items):          # stands in for the batch simulation: records which folders it got
        seen.extend(folder for _, folder in items)
        return len(items), ""

    monkeypatch.setattr(cohort_batch, "_batch_worker", fake_worker)
    points = [Point(f"p{k}", ["treatment=botulinum_toxin"]) for k in range(3)]
    for k, source in ((0, _version.source_digest()), (1, "0123456789abcdef")):   # p2: never run
        folder = tmp_path / f"p{k}_seed7"
        folder.mkdir()
        (folder / "metrics.json").write_text(json.dumps({"run": {"versions": {"source": source}}}))
    counts = cohort_batch.run_batched({7: points}, tmp_path, batch_size=4)
    assert counts == {"batched": 2, "failed": 0, "left": 0}
    assert sorted(seen) == [str(tmp_path / "p1_seed7"), str(tmp_path / "p2_seed7")]
