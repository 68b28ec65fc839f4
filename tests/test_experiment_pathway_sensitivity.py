"""experiments/pathway_sensitivity: points, paired effects and ranking (fast); the quick variant (slow)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from circuitsim import compose
from circuitsim.experiments import load_experiment

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "pathway_sensitivity" / "run.py"


@pytest.fixture(scope="module")
def exp():
    return load_experiment(SCRIPT)


@pytest.fixture(scope="module")
def scales(exp):
    return {c: exp.condition_scales(c) for c in ("healthy", "dystonia_network")}


def test_pathways_come_from_the_composed_config(exp, scales):
    names = list(compose().circuit.pathways)
    assert exp.select_pathways("all", scales) == names
    changed = exp.select_pathways("changed", scales)
    assert changed and set(changed) < set(names)
    for name in changed:
        assert scales["healthy"][name] != scales["dystonia_network"][name]
    with pytest.raises(ValueError, match="--pathways: unknown pathway"):
        exp.select_pathways(["no_such_pathway"], scales)


def test_a_point_multiplies_the_conditions_scale(exp, scales):
    points = exp.make_points(["dystonia_network"], ["dcn_thal_cm"], [0.5], scales)
    assert [p.label for p in points] == ["dystonia_network_baseline", "dystonia_network_dcn_thal_cm_x0.5"]
    cond = scales["dystonia_network"]["dcn_thal_cm"]
    assert cond != 1.0  # the condition scales this pathway, so replacing it would be wrong
    cfg = compose([*exp.BASE, *points[1].overrides])
    assert cfg.circuit.pathways.dcn_thal_cm.weight_scale == pytest.approx(cond * 0.5)
    assert points[1].factors["weight_scale"] == pytest.approx(cond * 0.5)
    base = compose([*exp.BASE, *points[0].overrides])
    assert base.circuit.pathways.dcn_thal_cm.weight_scale == pytest.approx(cond)
    with pytest.raises(ValueError, match="--scales"):
        exp.make_points(["healthy"], ["gpi_thal"], [1.0], scales)


def test_effects_are_paired_by_seed_and_ranked(exp):
    def row(pathway, scale, seed, sev, cc):
        return {"circuit": "c", "pathway": pathway, "scale": scale, "seed": seed, "severity": sev,
                "co_contraction": cc}

    rows = [row("(none)", 1.0, 0, 0.2, 0.1), row("(none)", 1.0, 1, 0.4, 0.3),
            row("a", 0.5, 0, 0.25, 0.1), row("a", 0.5, 1, 0.45, 0.3),      # +0.05 both seeds
            row("a", 1.5, 0, 0.1, 0.0), row("a", 1.5, 1, 0.3, 0.2),        # -0.1 both seeds
            row("b", 0.5, 0, 0.7, 0.1), row("b", 0.5, 1, 0.3, 0.3),        # +0.5, -0.1
            row("b", 1.5, 0, 0.2, 0.1), row("b", 1.5, 1, 0.4, 0.3)]        # 0, 0
    deltas = exp.paired_deltas(rows, ["severity", "co_contraction"])
    assert len(deltas) == 8
    table = exp.sensitivity_table(deltas, [0.5, 1.5])
    by = {t["pathway"]: t for t in table}
    assert by["a"]["severity_x0.5_mean"] == pytest.approx(0.05)
    assert by["a"]["severity_x0.5_sd"] == pytest.approx(0.0, abs=1e-12)
    assert by["a"]["severity_x1.5_mean"] == pytest.approx(-0.1)
    assert by["b"]["severity_x0.5_mean"] == pytest.approx(0.2)
    assert by["b"]["severity_x0.5_sd"] == pytest.approx(math.sqrt(0.18))
    assert by["a"]["effect"] == pytest.approx(0.1) and by["b"]["effect"] == pytest.approx(0.2)
    # a is consistent over seeds (sd 0) and resolved; b's +0.5/-0.1 is not
    assert by["a"]["resolved"] == "yes" and by["b"]["resolved"] == "no"
    assert by["a"]["resolved_cc"] == "yes" and by["b"]["resolved_cc"] == "no"   # a: -0.1 both seeds; b: 0
    assert [(t["pathway"], t["rank"]) for t in table] == [("b", 1), ("a", 2)]
    assert by["a"]["co_contraction_x1.5_mean"] == pytest.approx(-0.1)


@pytest.mark.slow
def test_quick_variant(exp, tmp_path, scales):
    from circuitsim import simulate

    # `python experiments/pathway_sensitivity/run.py --quick --jobs 2`: the runs go to 2 processes
    assert exp.main(["--quick", "--out", str(tmp_path), "--jobs", "2"]) == 0
    pids = {line.split()[4] for log in (tmp_path / "runs").glob("*/run.log") for line in log.read_text().splitlines()
            if " - pid " in line}
    assert len(pids) == 2, pids
    quick = exp.QUICK
    pathways = exp.select_pathways(quick["pathways"], scales)
    with open(tmp_path / "table.csv") as fh:
        table = list(csv.DictReader(fh))
    with open(tmp_path / "runs.csv") as fh:
        runs = list(csv.DictReader(fh))

    # complete and finite: every circuit x pathway, every effect column at every scale
    assert sorted((t["circuit"], t["pathway"]) for t in table) == sorted(
        (c, p) for c in quick["circuits"] for p in pathways)
    for t in table:
        for col in exp.EFFECTS:
            for f in quick["scales"]:
                assert math.isfinite(float(t[f"{col}_x{exp._num(f)}_mean"])), (t["pathway"], col, f)
    assert len(runs) == len(quick["circuits"]) * (1 + len(pathways) * len(quick["scales"])) * len(quick["seeds"])

    # the ranking is sorted by the effect, and the effect is the largest |Δseverity| recomputed from runs.csv
    for circuit in quick["circuits"]:
        mine = sorted((t for t in table if t["circuit"] == circuit), key=lambda t: int(t["rank"]))
        assert [int(t["rank"]) for t in mine] == list(range(1, len(pathways) + 1))
        effects = [float(t["effect"]) for t in mine]
        assert effects == sorted(effects, reverse=True)
        base = {r["seed"]: float(r["severity"]) for r in runs
                if r["circuit"] == circuit and r["pathway"] == "(none)"}
        for t in mine:
            d = [float(r["severity"]) - base[r["seed"]] for r in runs
                 if r["circuit"] == circuit and r["pathway"] == t["pathway"]]
            assert float(t["effect"]) == pytest.approx(max(abs(x) for x in d))  # one seed: mean = value

    # the baseline row is a plain run of the same circuit and seed
    circuit, seed = quick["circuits"][0], quick["seeds"][0]
    plain = simulate(compose([f"condition={circuit}", "task=turn_left", f"sim.duration={quick['duration']}",
                              f"sim.seed={seed}", "sim.progress=false", "readout.plots=[]"]))
    row = next(r for r in runs if r["circuit"] == circuit and r["pathway"] == "(none)")
    assert float(row["severity"]) == pytest.approx(plain.metrics["muscle"]["severity_score"], rel=1e-12)

    # what one seed resolves physically (d1_gpi, the direct pathway the condition makes x4, is
    # among the quick pathways): halving the striatal inhibition of GPi raises the GPi rate and
    # x1.5 lowers it, and the motor thalamus moves the other way (disinhibition)
    assert "d1_gpi" in pathways
    for circuit in quick["circuits"]:
        mine = {float(r["scale"]): r for r in runs
                if r["circuit"] == circuit and r["pathway"] in ("(none)", "d1_gpi")}
        gpi = {k: float(r["gpi_rate_hz"]) for k, r in mine.items()}
        thal = {k: float(r["thal_rate_hz"]) for k, r in mine.items()}
        assert gpi[0.5] > gpi[1.0] > gpi[1.5], (circuit, gpi)
        assert thal[0.5] < thal[1.5], (circuit, thal)

    from PIL import Image

    with Image.open(tmp_path / "pathway_sensitivity.png") as im:   # a real figure, not an empty file
        assert im.size[0] > 200 and im.size[1] > 200 and len(im.getcolors(256) or range(257)) > 8
    assert (tmp_path / "table.md").read_text().count("\n") == 2 + len(table)
