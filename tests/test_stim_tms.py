"""Real simulations of TMS (slow): an MEP appears above the resting motor threshold and not
below it, with a plausible latency; paired pulses at 2.5 ms give smaller MEPs than test pulses
alone in the healthy circuit (SICI); with plasticity on, a shortened theta-burst train changes
the course of the stimulated pathway's weights against the same time without stimulation, and
with the I-wave fibres plastic it changes the MEP after the train against a sham train.

Three compiled structures: about 13 s (and 2 s with the muscle readout off), 6.6 s and 4 x 20 s
of biological time.
"""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from circuitsim import compose, simulate

pytestmark = pytest.mark.slow



@pytest.fixture(scope="module")
def mep_run():
    cfg = compose(["sim.duration=38*second", "sim.progress=false", "readout.plots=[]"])
    cfg.stim = OmegaConf.create({"tms": {"kind": "tms", "protocol": [
        {"type": "single", "site": "m1", "intensity": ["70%RMT", "120%RMT"], "n": 3,
         "interval": "0.8*second", "start": "0.5*second"},
        {"type": "paired", "site": "m1", "intensity": "110%RMT",
         "conditioning": {"site": "m1", "intensity": "80%RMT"}, "isi": "2.5*ms", "n": 20,
         "interval": "0.8*second", "start": "0.8*second"}]}})
    return simulate(cfg)


def _single(result):
    an = result.extra["tms"]["tms"]
    table = an["table"]
    test = an["test_index"]
    single = np.array([table.conditions[c] == "single" for c in table.condition[test]])
    return an, test, single


def test_mep_above_threshold_not_below(mep_run):
    an, test, single = _single(mep_run)
    rmt = mep_run.extra["stimuli"]["tms"]["rmt"]
    mso = an["mso"][test]
    below, above = single & (mso < rmt), single & (mso > rmt)
    assert below.sum() == 3 and above.sum() == 3
    for muscle, m in an["per_muscle"].items():
        assert not m["present"][below].any(), muscle
        assert m["present"][above].mean() >= 2 / 3, muscle
        # every MEP that is present is far above anything below threshold (as the latency below,
        # over the present ones: the line above allows one suprathreshold pulse without an MEP)
        assert np.nanmin(m["amplitude_v"][above & m["present"]]) > 10 * np.nanmax(m["amplitude_v"][below]), muscle
        # latency: conduction to neck muscles plus a few ms of cortical and spinal delay
        lat = m["latency_s"][above & m["present"]]
        assert np.all((lat > 0.006) & (lat < 0.02)), (muscle, lat)
    tms = mep_run.metrics["tms"]
    assert tms["mep_amplitude_mv"] > 0.05 and 6 < tms["mep_latency_ms"] < 20


def test_sici_in_healthy(mep_run):
    an, test, _ = _single(mep_run)
    table = an["table"]
    cond = np.array([table.conditions[c] for c in table.condition[test]])
    ratios = []
    for muscle, m in an["per_muscle"].items():
        unc = m["amplitude_v"][cond == "unconditioned"]
        con = m["amplitude_v"][cond == "isi_2.5ms"]
        # 20 pairs: MEPs vary from trial to trial (a conditioned one now and then reaches full
        # size; the right rotator's SICI is the weaker, ratio about 0.6), and with 5 pairs whether
        # the difference cleared 2 SE turned on which trials a change elsewhere in the circuit drew
        assert unc.size == con.size == 20
        # smaller beyond the trial spread: the difference of the means exceeds twice its standard error
        se = np.sqrt(unc.var(ddof=1) / unc.size + con.var(ddof=1) / con.size)
        assert unc.mean() - con.mean() > 2 * se, (muscle, unc, con)
        ratios.append(con.mean() / unc.mean())
    assert mep_run.metrics["tms"]["sici_ratio"] == pytest.approx(np.mean(ratios))
    assert mep_run.metrics["tms"]["sici_ratio"] < 1


def test_plasticity_changes_weights_beyond_drift():
    cfg = compose(["sim.duration=6.6*second", "sim.progress=false", "readout.plots=[]"])
    cfg.stim = OmegaConf.create({"tbs": {"kind": "tms", "protocol": [
        {"type": "single", "site": "m1", "intensity": "120%RMT", "n": 1, "start": "0.5*second"},
        {"type": "theta_burst", "site": "m1", "intensity": "120%RMT", "train_duration": "40*second",
         "time_scale": 0.05, "start": "2.5*second"},
        {"type": "single", "site": "m1", "intensity": "120%RMT", "n": 2, "interval": "0.8*second", "start": "0.8*second"}],
        # balance_rate: the rule is balanced at the pyramidal cells' resting rate (about 4 Hz)
        "plasticity": {"enabled": True, "pathways": ["ctx_e_ctx_e"], "eta": 20.0, "balance_rate": "4*Hz"}}})
    result = simulate(cfg)
    plastic = result.metrics["stim"]["tbs"]["plasticity"]["ctx_e_ctx_e"]
    during = plastic["relative_change_during_trains"]
    before = plastic["relative_change_before_trains"]
    # the trains change the weights' course: the change across the trains differs from the
    # (small, balance_rate) drift over an equally long stretch just before them
    assert abs(during - before) > 0.02, (during, before)
    assert abs(plastic["relative_change"]) > 0


def _tbs_run(seed, train_intensity):
    """Five test pulses (110 % RMT), three 2-s theta-burst trains 4 s apart at
    ``train_intensity``, five test pulses; the fibres that the pulses recruit onto ctx_e (the
    I-wave circuit) are plastic. eta 30: a model choice that lets 90 pulses act within seconds.
    Returns the result and the evoked volley per test pulse, before and after the trains."""
    cfg = compose(["sim.duration=20*second", "sim.progress=false", "readout.plots=[]", f"sim.seed={seed}"])
    cfg.stim = OmegaConf.create({"tbs": {"kind": "tms", "protocol": [
        {"type": "single", "site": "m1", "intensity": "110%RMT", "n": 5, "interval": "0.8*second", "start": "0.5*second"},
        {"type": "theta_burst", "site": "m1", "intensity": train_intensity, "train_duration": "2*second",
         "n_trains": 3, "train_interval": "4*second", "start": "1*second"},
        {"type": "single", "site": "m1", "intensity": "110%RMT", "n": 5, "interval": "0.8*second", "start": "1*second"}],
        "plasticity": {"enabled": True, "elements": ["m1.ctx_e_afferent"], "eta": 30.0}}})
    result = simulate(cfg)
    an = result.extra["tms"]["tbs"]
    block = an["table"].block[an["test_index"]]
    return result, an["volley"][block == 0], an["volley"][block == 2]


@pytest.mark.parametrize("seed", [0, 1])
def test_theta_burst_changes_the_evoked_volley_through_plastic_fibres(seed):
    """The sham's train pulses recruit nothing (0 %MSO), so both runs are identical up to the
    train: the volleys before it agree exactly, and every difference after it is the train's.
    The volley (ctx_e spikes per cell within 6 ms of a test pulse, less the spontaneous count)
    is the cortical activity the MEP is made of, without the motor units' noise."""
    tbs, pre, post = _tbs_run(seed, "70%RMT")
    sham, pre_sham, post_sham = _tbs_run(seed, "0%MSO")
    np.testing.assert_array_equal(pre, pre_sham)
    assert pre.size == post.size == 5 and np.all(pre > 0)
    w = tbs.metrics["stim"]["tbs"]["plasticity"]["m1.ctx_e_afferent"]
    w_sham = sham.metrics["stim"]["tbs"]["plasticity"]["m1.ctx_e_afferent"]
    assert w_sham["relative_change_during_trains"] == pytest.approx(0.0, abs=1e-12)   # no fibre fired
    assert abs(w["relative_change_during_trains"]) > 0.02, w
    diff = post - post_sham                  # paired by test pulse
    se = diff.std(ddof=1) / np.sqrt(diff.size)
    assert abs(diff.mean()) > 2 * se, (post, post_sham)
    ratio, ratio_sham = (r.metrics["tms"]["volley_post_pre_ratio"] for r in (tbs, sham))
    assert ratio == pytest.approx(post.mean() / pre.mean()) and ratio != pytest.approx(ratio_sham, rel=0.05)


def test_evoked_volley_without_the_muscle_readout():
    """The volley is measured on the spikes, so it is there with the muscle readout off (and no MEP)."""
    from circuitsim.stimulation.tms import evoked_volley

    cfg = compose(["sim.duration=2*second", "sim.progress=false", "readout.plots=[]", "readout.muscle.enabled=false"])
    cfg.stim = OmegaConf.create({"tms": {"kind": "tms", "protocol": [
        {"type": "single", "site": "m1", "intensity": "120%RMT", "n": 3, "interval": "0.4*second",
         "start": "0.5*second"}]}})
    result = simulate(cfg)
    tms = result.metrics["tms"]
    assert "mep_amplitude_mv" not in tms and "muscle" not in result.metrics
    an = result.extra["tms"]["tms"]
    pulses = an["table"].time[an["test_index"]]
    assert pulses.size == 3
    expected = evoked_volley(result.spikes["ctx_e"][1], result.sizes["ctx_e"], pulses, 0.006)
    np.testing.assert_allclose(an["volley"], expected)
    assert tms["volley_per_cell"] == pytest.approx(expected.mean()) and tms["volley_per_cell"] > 0
