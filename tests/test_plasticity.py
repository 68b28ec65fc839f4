"""The plasticity rules of the TMS presets (issue 16, item 3), without a simulation of the circuit:

* the calcium rule, integrated by its reference (the same equations the compiled rule runs) for
  a fibre recruited by every pulse of the presets' own protocols: cTBS lowers, iTBS raises and
  1 Hz rTMS lowers the weight, with the fitted amplitudes and no multiplier; a sham train (no
  pulse recruits the fibre, the test pulses still do) moves it by less than 5 %;
* the presets select the rules that suit their synapses and no amplitude multiplier;
* bad plasticity nodes are refused with one line naming the field.

The compiled rule against this reference, and the after-effects in the circuit, are tested by
tests/test_experiment_plasticity.py on the experiment's quick run.
"""

from __future__ import annotations

import numpy as np
import pytest

from circuitsim import compose
from circuitsim.errors import ConfigError
from circuitsim.spec import build_spec
from circuitsim.stimulation.plasticity_calcium import CALCIUM_DEFAULTS, reference_weight, skip_violations


def _fibre_pulses(preset: str, sham: bool = False):
    """Arrival times at a fibre synapse recruited by every m1 pulse of ``preset`` (sham: the train
    recruits nothing), and the run's duration."""
    spec = build_spec(compose([f"stim={preset}"]))
    stim = spec.stimuli[preset]
    pulses = stim["pulses"]
    t = np.asarray(pulses["time"], float)
    keep = np.asarray(pulses["site"]) == "m1"
    if sham:
        keep &= np.asarray(pulses["role"]) != "train"
    delay = stim["sites"]["m1"]["elements"]["ctx_e_afferent"]["delay"]
    return t[keep] + delay, spec.sim.duration


@pytest.fixture(scope="module")
def final_weights():
    """Final weight of a fully recruited fibre after each preset and after its sham (one batch)."""
    runs = [(p, s) for p in ("ctbs_m1", "itbs_m1", "rtms_1hz") for s in (False, True)]
    trains, durations = zip(*(_fibre_pulses(p, s) for p, s in runs))
    _, w = reference_weight(list(trains), max(durations), CALCIUM_DEFAULTS)
    return {run: float(w[k, int(round(durations[k] / 0.002))]) for k, run in enumerate(runs)}


def test_calcium_rule_gives_the_published_directions(final_weights):
    """Huang et al. 2005: cTBS 600 depresses, iTBS 600 potentiates; Chen et al. 1997: 1 Hz x 900
    depresses. Sizes: the fit's targets (x0.75, x1.35, x0.805) within 0.05."""
    assert final_weights[("ctbs_m1", False)] == pytest.approx(0.75, abs=0.05)
    assert final_weights[("itbs_m1", False)] == pytest.approx(1.35, abs=0.05)
    assert final_weights[("rtms_1hz", False)] == pytest.approx(0.805, abs=0.05)


def test_calcium_rule_holds_still_under_sham(final_weights):
    """The sham (train at 0 %MSO) keeps only the 20 test pulses: less than 5 % drift."""
    for preset in ("ctbs_m1", "itbs_m1", "rtms_1hz"):
        assert abs(final_weights[(preset, True)] - 1) < 0.05, preset


def test_half_a_ctbs_potentiates_and_iti_matters():
    """The pattern, not the pulse count, sets the direction: cTBS 300 (20 s) potentiates (Gentner
    et al. 2008), and the same 600 pulses as iTBS potentiate while as cTBS they depress."""
    burst = np.array([0.0, 0.02, 0.04])
    ctbs300 = np.concatenate([1 + b / 5 + burst for b in range(100)])
    itbs = np.concatenate([1 + tr * 10 + b / 5 + burst for tr in range(20) for b in range(10)])
    ctbs600 = np.concatenate([1 + b / 5 + burst for b in range(200)])
    _, w = reference_weight([ctbs300, itbs, ctbs600], 260.0, CALCIUM_DEFAULTS)
    assert w[0, -1] > 1.1 and w[1, -1] > 1.1 and w[2, -1] < 0.9


BURST = np.array([0.0, 0.02, 0.04])


def _after(train, minutes):
    """Weights of a fibre recruited at ``train`` at ``minutes`` after its last pulse: the first
    minute integrated, the rest skipped in one step (exact: the traces are below threshold by then)."""
    end = float(train[-1])
    out = []
    for m in minutes:
        skips = [(end + 60.0, 60.0 * m - 61.0)] if m > 1.0 else []
        assert not skip_violations(train, skips, CALCIUM_DEFAULTS)
        _, w = reference_weight(train, end + (61.0 if skips else 60.0 * m), CALCIUM_DEFAULTS, skips=skips)
        out.append(float(w[-1]))
    return out


def test_after_effects_fade_as_published():
    """Huang et al. 2005: the iTBS facilitation lasts about 15-20 min, the cTBS 600 depression longer
    (up to about an hour). The rule's two processes fade with their own time constants (tau_ltp
    20 min, tau_ltd 30 min): a fully recruited fibre keeps about half its iTBS facilitation at 15 min
    and less than a third at 30 min; after cTBS (no test pulses) it is still depressed by at least 0.15 at 20 min and
    has lost more than half of that by 60 min."""
    itbs = np.concatenate([1 + tr * 10 + b / 5 + BURST for tr in range(20) for b in range(10)])
    ctbs = np.concatenate([1 + b / 5 + BURST for b in range(200)])
    i1, i15, i30 = _after(itbs, [1.0, 15.0, 30.0])
    c1, c20, c60 = _after(ctbs, [1.0, 20.0, 60.0])
    assert i1 > 1.25 and 0.4 < (i15 - 1) / (i1 - 1) < 0.6 and (i30 - 1) < (i1 - 1) / 3
    assert c1 < 0.85 and c20 < 0.85 and 1 - c60 < (1 - c20) / 2 and c60 < 0.97


def test_a_skip_is_the_rule_integrated_through():
    """Skipping time (plasticity.skips) gives the weight that integrating through the quiet time
    gives, and skip_violations flags a skip taken while the slow calcium is above threshold."""
    ctbs = np.concatenate([1 + b / 5 + BURST for b in range(200)])   # ends at 40.84 s
    probe = [150.0]
    _, through = reference_weight(np.concatenate([ctbs, probe]), 151.0, CALCIUM_DEFAULTS)
    sk = [(90.0, 40.0)]     # 90 s + 40 s skipped: the probe at 110 s sees the weight of 150 s
    assert not skip_violations(np.concatenate([ctbs, [110.0]]), sk, CALCIUM_DEFAULTS)
    _, skipped = reference_weight(np.concatenate([ctbs, [110.0]]), 111.0, CALCIUM_DEFAULTS, skips=sk)
    assert skipped[-1] == pytest.approx(through[-1], abs=2e-3)
    assert abs(through[-1] - 1) > 0.1                            # a change that could have been missed
    assert skip_violations(ctbs, [(45.0, 60.0)], CALCIUM_DEFAULTS)   # 4 s after cTBS: not exact


def test_presets_use_the_fitted_rules_without_multipliers():
    for preset, rule, key, value in (("ctbs_m1", "calcium", "elements", ["m1.ctx_e_afferent"]),
                                     ("itbs_m1", "calcium", "elements", ["m1.ctx_e_afferent"]),
                                     ("rtms_1hz", "calcium", "elements", ["m1.ctx_e_afferent"]),
                                     ("ctbs_cerebellum", "cf_gated", "pathways", ["grc_pc"])):
        conf = build_spec(compose([f"stim={preset}"])).stimuli[preset]["plasticity"]
        assert conf["enabled"] and conf["rule"] == rule and conf[key] == value and conf["eta"] == 1.0, preset


@pytest.mark.parametrize("node, field, words", [
    ("{enabled: true, rule: calcium, pathways: [ctx_e_ctx_e]}", "plasticity.pathways", "elements"),
    ("{enabled: true, rule: calcium, elements: [m1.ctx_e_afferent], balance_rate: 4*Hz}",
     "plasticity.balance_rate", "does not drift"),
    ("{enabled: true, rule: cf_gated, pathways: [grc_pc], elements: [m1.ctx_e_afferent]}",
     "plasticity.elements", "parallel-fibre"),
    ("{enabled: true, rule: calcium, elements: [m1.ctx_e_afferent], params: {A2_plus: 1}}",
     "plasticity.params.A2_plus", "rule calcium"),
    ("{enabled: true, rule: hebb}", "plasticity.rule", "triplet_stdp, calcium, cf_gated"),
    ("{enabled: true, rule: cf_gated, pathways: [grc_pc], skips: [{at: 1*second, by: 1*second}]}",
     "plasticity.skips", "only the calcium rule"),
    ("{enabled: true, rule: calcium, elements: [m1.ctx_e_afferent], skips: [{at: 1*second, by: -1*second}]}",
     "plasticity.skips[0].by", "positive"),
    ("{enabled: true, rule: calcium, elements: [m1.ctx_e_afferent], skips: [{at: 1*second}]}",
     "plasticity.skips[0]", "at:"),
    ("{enabled: true, rule: cf_gated, pathways: [grc_pc], balance_rate: -1*Hz}",
     "plasticity.balance_rate", "measured"),
])
def test_bad_plasticity_nodes_are_named(node, field, words):
    cfg = compose(["stim=tms_single", f"++stim.tms_single.plasticity={node}"])   # the schema has the key
    with pytest.raises(ConfigError) as err:
        build_spec(cfg)
    assert field in str(err.value) and words in str(err.value)


@pytest.mark.slow
def test_measured_balance_holds_the_parallel_fibres_still_in_a_dystonic_circuit():
    """With one calibrated climbing-fibre rate (1.9 Hz, healthy) the parallel-fibre weights of
    dystonia_network drift by about +30 % within a minute under a sham train (experiments/tms, held-out
    seeds); balanced per synapse on the circuit's own activity before the train (balance_rate:
    measured, the preset's) they hold within 2 % (tuning seed 0, a quarter of the circuit, 2 s sham)."""
    from circuitsim import simulate

    cfg = compose(["condition=dystonia_network", "stim=ctbs_cerebellum", "stim.ctbs_cerebellum.protocol.1.intensity=0%MSO",
                   "stim.ctbs_cerebellum.protocol.1.time_scale=0.05", "circuit.scale=0.25", "readout.plots=[]",
                   "sim.progress=false", "sim.seed=0", "sim.duration=30*second"])
    assert build_spec(cfg).stimuli["ctbs_cerebellum"]["plasticity"]["balance_rate"] == "measured"
    w = simulate(cfg).metrics["stim"]["ctbs_cerebellum"]["plasticity"]["grc_pc"]
    assert abs(w["relative_change"]) < 0.02, w
