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
from circuitsim.stimulation.plasticity_calcium import CALCIUM_DEFAULTS, reference_weight


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
])
def test_bad_plasticity_nodes_are_named(node, field, words):
    cfg = compose(["stim=tms_single", f"+stim.tms_single.plasticity={node}"])
    with pytest.raises(ConfigError) as err:
        build_spec(cfg)
    assert field in str(err.value) and words in str(err.value)
