"""experiments/plasticity/run.py: TMS after-effects against a sham train.

Fast tests: the points pair every protocol with a sham that differs only in the train's
intensity; the paired effect and the late ratio on made-up numbers. The slow test runs the quick
variant (cTBS 600 and its sham, seed 0, circuit.scale=0.25: two runs of about 2 min of biological
time sharing one build) and checks, on the circuit's own output, that the compiled calcium rule
gives the fibre weights its reference integration gives for each fibre's own recruitment, that
cTBS lowers them, that the change fades over the skipped time, and that the sham moves them by
less than 5 % at any time.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from circuitsim.experiments import load_experiment

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "plasticity" / "run.py"


def _load():
    return load_experiment(SCRIPT)


def test_points_pair_each_protocol_with_a_sham():
    mod = _load()
    for variant in (mod.QUICK, mod.FULL):
        pts = {(p.factors["protocol"], p.factors["arm"]): p.overrides for p in mod.points(variant)}
        for protocol in variant["protocols"]:
            active, sham = pts[(protocol, "active")], pts[(protocol, "sham")]
            assert set(sham) - set(active) == {f"stim.{protocol}.protocol.1.intensity=0%MSO"}
            assert set(active) <= set(sham)      # same duration, same probes
    assert not set(mod.FULL["seeds"]) & {0, 1, 5} and len(mod.FULL["seeds"]) >= 5   # held out
    assert {"ctbs_m1", "itbs_m1"} <= set(mod.FULL["protocols"])


def test_rtms_runs_with_its_sham_and_skips_after_the_900_s_train():
    """1 Hz rTMS (Chen et al. 1997; ``--protocols rtms_1hz``) pairs with its sham like the TBS presets;
    its probes follow the whole 900 s train, and every skip after it is exact for the rule (the
    experiment refuses a skip while the calcium is above threshold)."""
    mod = _load()
    active, sham = (mod.protocol_overrides("rtms_1hz", mod.FULL, s) for s in (False, True))
    assert set(sham) - set(active) == {"stim.rtms_1hz.protocol.1.intensity=0%MSO"}
    duration = float([o for o in active if o.startswith("sim.duration=")][0].split("=")[1].split("*")[0])
    skips = [o for o in active if "plasticity.skips" in o]
    assert len(skips) == 1 and duration > 900.0 + mod.FULL["probe_start"] + mod.FULL["probe_interval"] * 30


def test_paired_effect_and_late_ratio():
    mod = _load()
    rows = [{"protocol": "p", "arm": a, "seed": s, "x": v}
            for a, s, v in (("active", 1, 0.7), ("sham", 1, 1.0), ("active", 2, 0.9), ("sham", 2, 1.0),
                            ("active", 3, 0.5))]   # seed 3 has no sham: left out
    (e,) = mod.paired_effect(rows, "x")
    assert e["n"] == 2 and e["mean"] == pytest.approx(-0.2) and e["sd"] == pytest.approx(np.std([-0.3, -0.1], ddof=1))
    p = {"t_after": np.array([-2.0, -1.0, 10.0, 50.0, 60.0]), "m": np.array([1.0, 3.0, 9.0, 1.0, 2.0])}
    assert mod.late_ratio(p, "m", 40.0) == pytest.approx(1.5 / 2.0)
    assert mod.late_ratio(p, "m", (5.0, 55.0)) == pytest.approx(5.0 / 2.0)


def test_skips_place_each_block_at_its_minute():
    """The sparse time course: every block of probes starts at its nominal minute after the train
    (run time since the train plus the rule's skipped time), and the skips fall between probes."""
    mod = _load()
    v = mod.FULL
    t_end = 50.0
    sk = mod.skips(v, t_end)
    probes = t_end + v["probe_start"] + v["probe_interval"] * np.arange(v["probes"])
    after = mod.after_train(probes, t_end, sk)
    firsts = [v["real_probes"] + k * v["block"] for k in range(len(v["block_minutes"]))]
    np.testing.assert_allclose(after[firsts], 60.0 * np.asarray(v["block_minutes"]))
    assert np.all(np.diff(after) > 0) and after[-1] >= 3600
    for at, _ in sk:
        assert np.min(np.abs(probes - at)) == pytest.approx(v["probe_interval"] / 2)


@pytest.mark.slow
def test_quick_run_ctbs_against_sham(tmp_path):
    from omegaconf import OmegaConf

    from circuitsim.circuit.layout import make_layout
    from circuitsim.io.results import load_result
    from circuitsim.spec import build_spec
    from circuitsim.stimulation.plasticity_calcium import CALCIUM_DEFAULTS, reference_weight
    from circuitsim.stimulation.tms import recruitment

    mod = _load()
    rows = mod.main(["--quick", "--out", str(tmp_path), "--jobs", "1"])
    by = {r["arm"]: r for r in rows}
    assert set(by) == {"active", "sham"}
    for name in ("table.md", "effect.md", "timecourse.csv", "runs.csv", "plasticity.png"):
        assert (tmp_path / name).stat().st_size > 0
    # the sham keeps only the test pulses: the weights hold still; cTBS lowers them
    assert abs(by["sham"]["weight_max_drift"]) < 0.05
    assert by["active"]["weight_early"] < by["sham"]["weight_early"] - 0.005
    # the depression fades over the skipped time (tau_ltd 30 min), and does not reverse
    assert by["active"]["weight_early"] < by["active"]["weight_change"] < by["sham"]["weight_change"]
    # the compiled rule against its reference, fibre by fibre, with the run's own recruitment
    folder = Path(by["active"]["folder"])
    res = load_result(folder)
    spec = build_spec(OmegaConf.create(res.config))
    params = spec.stimuli["ctbs_m1"]
    el = recruitment(params, make_layout(spec).indices, spec.sim.seed, "ctbs_m1")["elements"]["m1.ctx_e_afferent"]
    t = np.asarray(params["pulses"]["time"], float)
    delay = params["sites"]["m1"]["elements"]["ctx_e_afferent"]["delay"]
    n_fibres = params["sites"]["m1"]["elements"]["ctx_e_afferent"]["n_fibres"]
    trains = [t[el["event_pulse"][el["event_element"] == f]] + delay for f in range(n_fibres)]
    skips = params["plasticity"]["skips"]
    assert len(skips) == len(mod.QUICK["block_minutes"])
    _, w = reference_weight(trains, spec.sim.duration, CALCIUM_DEFAULTS, skips=skips)
    synapses = np.bincount(el["fibre_i"], minlength=n_fibres)
    expected = float(np.sum(synapses * w[:, -1]) / synapses.sum())
    got = json.loads((folder / "metrics.json").read_text())["stim"]["ctbs_m1"]["plasticity"]["m1.ctx_e_afferent"]
    assert got["weight_final_mean"] == pytest.approx(expected, abs=2e-3)
    assert expected < 0.99   # the recruited fibres were depressed
