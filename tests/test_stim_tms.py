"""Real simulations of TMS (slow): an MEP appears above the resting motor threshold and not
below it, with a plausible latency; paired pulses at 2.5 ms give smaller MEPs than test pulses
alone in the healthy circuit (SICI); the evoked volley is measured with the muscle readout off.
On the held-out seeds 10-14: LICI, the input-output curve's plateau, the SICI and ICF bands (as
the tms experiment blocks them) and CBI. The after-effects of the plasticity presets (published
protocols, fitted rules, against a sham) are tested by tests/test_plasticity.py and
tests/test_experiment_plasticity.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from circuitsim import compose, simulate

pytestmark = pytest.mark.slow

#: the TMS presets' graded motoneuron pool and the healthy RMT measured with it (configs/stim/tms_*.yaml)
GRADED = ["++readout.muscle.params.pool.pic_gain=12"]
RMT = "65%MSO"



@pytest.fixture(scope="module")
def mep_run():
    cfg = compose(["sim.duration=38*second", "sim.progress=false", "readout.plots=[]", *GRADED])
    cfg.stim = OmegaConf.create({"tms": {"kind": "tms", "rmt": RMT, "protocol": [
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
        # the metric uses the trials at rest only (a muscle may be active before a pulse)
        rest = ~m["active"]
        ratios.append(m["amplitude_v"][(cond == "isi_2.5ms") & rest].mean()
                      / m["amplitude_v"][(cond == "unconditioned") & rest].mean())
    assert mep_run.metrics["tms"]["sici_ratio"] == pytest.approx(np.mean(ratios))
    assert mep_run.metrics["tms"]["sici_ratio"] < 1


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


@pytest.mark.parametrize("seed", [10, 11])   # held-out seeds (the TMS sites were tuned on 0, 1, 5)
def test_lici_on_held_out_seeds(seed):
    """LICI (Valls-Sole et al. 1992): a suprathreshold (120 % RMT) pulse 100 ms before the test
    pulse lowers the MEP, through the GABA-B node that such a pulse recruits; smaller beyond the
    trial spread, and reported as tms.lici_ratio (< 1). 8 pairs: about 13 s of biological time."""
    cfg = compose(["sim.duration=13.5*second", "sim.progress=false", "readout.plots=[]", f"sim.seed={seed}", *GRADED])
    cfg.stim = OmegaConf.create({"tms": {"kind": "tms", "rmt": RMT, "protocol": [
        {"type": "paired", "site": "m1", "intensity": "110%RMT",
         "conditioning": {"site": "m1", "intensity": "120%RMT"}, "isi": "100*ms", "n": 8,
         "interval": "0.8*second", "start": "0.5*second"}]}})
    result = simulate(cfg)
    an = result.extra["tms"]["tms"]
    table, test = an["table"], an["test_index"]
    cond = np.array([table.conditions[c] for c in table.condition[test]])
    unc, con = [], []
    for m in an["per_muscle"].values():
        rest = ~m["active"]
        unc += list(m["amplitude_v"][(cond == "unconditioned") & rest])
        con += list(m["amplitude_v"][(cond == "isi_100ms") & rest])
    unc, con = np.array(unc), np.array(con)
    assert unc.size >= 12 and con.size >= 12
    se = np.sqrt(unc.var(ddof=1) / unc.size + con.var(ddof=1) / con.size)
    assert unc.mean() - con.mean() > 2 * se, (unc, con)
    assert result.metrics["tms"]["lici_ratio"] < 1


def test_input_output_curve_is_graded_with_a_plateau():
    """The MEP input-output curve (held-out seed 10, both muscles, 5 pulses per level at rest): a
    sigmoid, not a step. At 120 % RMT 0.5-3 mV (issue 16's band; Kujirai et al. 1993 set ~1 mV test
    MEPs), over twice the MEP at RMT, still growing to 150 % RMT, and levelling off above it (170 % at
    most 30 % above 150 %; plateau at or above about 150 % RMT, Devanne et al. 1997). About 17 s of
    biological time."""
    cfg = compose(["sim.duration=16.8*second", "sim.progress=false", "readout.plots=[]", "sim.seed=10", *GRADED])
    cfg.stim = OmegaConf.create({"tms": {"kind": "tms", "rmt": RMT, "protocol": [
        {"type": "single", "site": "m1", "intensity": ["100%RMT", "120%RMT", "150%RMT", "170%RMT"], "n": 5,
         "interval": "0.8*second", "start": "0.5*second"}]}})
    result = simulate(cfg)
    an = result.extra["tms"]["tms"]
    mso = an["mso"][an["test_index"]]
    mep = {}
    for level in (100, 120, 150, 170):
        sel = np.isclose(mso, 0.65 * level)
        amps = [m["amplitude_v"][sel & ~m["active"]] for m in an["per_muscle"].values()]
        mep[level] = float(np.concatenate(amps).mean()) * 1e3
    assert 0.5 <= mep[120] <= 3.0, mep
    # still growing beyond 120 % (the all-or-none pool had its plateau by 110-135 %); seed 10 gave
    # 0.47, 2.6, 3.3, 3.7 mV: the rise from 120 to 150 % (+27 %) is smaller than in Devanne et al.'s
    # curves, as docs/validation.md reports
    assert mep[100] < 0.5 * mep[120] and mep[150] > 1.15 * mep[120], mep
    assert mep[170] < 1.3 * mep[150], mep


HELD_OUT = (10, 11, 12, 13, 14)   # the TMS sites and the ICF set were tuned on seeds 0, 1 and 5


#: the stimulus name seeds the draw of element thresholds, fibre wiring and pulse jitter (tms.recruitment):
#: "pp" is the tms experiment's draw, "tms" a second one. One draw's 5-seed mean of SICI or ICF moves by
#: up to 0.4 against another's, so the test pools both (ten held-out subjects)
DRAWS = ("pp", "tms")


@pytest.fixture(scope="module")
def sici_icf_runs():
    """One run per held-out seed and draw with the first two paired-pulse blocks of the tms experiment
    (experiments/tms/run.py): SICI, 12 pairs at 2 and 3 ms, then ICF, 12 pairs at 10 and 15 ms (80 %
    RMT conditioning, 110 % RMT test, as configs/stim/tms_sici.yaml and tms_icf.yaml, each block with
    its own 12 test pulses alone), m1 with the ICF set and the dentate's tonic drive of the I-wave
    fibres (the experiment's PP_SITES); ratios in the target muscle, rotator_right. With the draw "pp"
    the run is the experiment's up to the end of these blocks. 57.6 s of biological time each, one
    compiled structure."""
    from circuitsim.stimulation.tms_config import ICF_FACILITATION
    from circuitsim.stimulation.tms_drive import TONIC_DRIVE

    def block(isi, start):
        return {"type": "paired", "site": "m1", "intensity": "110%RMT", "conditioning": {"site": "m1", "intensity": "80%RMT"},
                "isi": isi, "n": 12, "interval": "0.8*second", "start": start}

    out = {}
    for seed in HELD_OUT:
        for draw in DRAWS:
            cfg = compose(["sim.duration=57.6*second", "sim.progress=false", "readout.plots=[]", f"sim.seed={seed}",
                           "readout.save_spikes=false", *GRADED])
            cfg.stim = OmegaConf.create({draw: {"kind": "tms", "rmt": RMT, "sites": {"m1": {
                "facilitation": dict(ICF_FACILITATION), "tonic_drive": dict(TONIC_DRIVE)}},
                "protocol": [block(["2*ms", "3*ms"], "0.5*second"), block(["10*ms", "15*ms"], "0.8*second")]}})
            paired = simulate(cfg).metrics["tms"]["per_muscle"]["rotator_right"]["paired"]
            out[seed, draw] = {kind: float(np.mean([d["ratio"] for k, d in paired.items() if k.startswith(kind)]))
                               for kind in ("sici", "icf")}
    return out


def test_sici_and_icf_bands_on_held_out_seeds(sici_icf_runs):
    """SICI 0.3-0.7 at 2-3 ms and ICF 1.2-2.0 at 10-15 ms (issue 16's bands; Kujirai et al. 1993,
    J Physiol 471:501) from the same subthreshold conditioning pulse: GABA-A interneurons with the
    lowest threshold (ctx_i) and the NMDA-dependent ICF set (Ziemann et al. 1996, 1998; Ilic et al.
    2002), whose facilitation starts 1 ms after the conditioning pulse, on the mean over the five
    held-out seeds and two draws; in every run the 10-15 ms ratio exceeds the 2-3 ms one. Measured as
    the tms experiment does (SICI and ICF in blocks of their own): one block interleaving all four
    intervals with a shared test pulse alone gave weaker SICI and larger ICF on every seed
    (experiments/tms/README.md). Before the ICF set's onset (gain 0.3, no onset) the second draw gave
    SICI 0.74 and ICF 1.37, the experiment (commit dd6acd0) 0.44 and 1.00."""
    sici = np.array([r["sici"] for r in sici_icf_runs.values()])
    icf = np.array([r["icf"] for r in sici_icf_runs.values()])
    assert 0.3 <= sici.mean() <= 0.7, (sici, icf)
    assert 1.2 <= icf.mean() <= 2.0, (sici, icf)
    assert np.all(icf > sici), (sici, icf)


@pytest.fixture(scope="module")
def cbi_runs():
    """One run per held-out seed: 10 pairs at 3, 5 and 7 ms (cerebellum 70 %MSO, m1 110 % RMT, as
    configs/stim/tms_cbi.yaml with its ICF set and the dentate's tonic drive) and 10 test pulses alone;
    32.5 s of biological time each, one compiled structure."""
    from circuitsim.stimulation.tms_config import ICF_FACILITATION
    from circuitsim.stimulation.tms_drive import TONIC_DRIVE

    out = {}
    for seed in HELD_OUT:
        cfg = compose(["sim.duration=32.5*second", "sim.progress=false", "readout.plots=[]", f"sim.seed={seed}",
                       "readout.save_spikes=false", *GRADED])
        cfg.stim = OmegaConf.create({"tms": {"kind": "tms", "rmt": RMT, "sites": {"m1": {
            "facilitation": dict(ICF_FACILITATION), "tonic_drive": dict(TONIC_DRIVE)}}, "protocol": [
            {"type": "paired", "site": "m1", "intensity": "110%RMT", "conditioning": {"site": "cerebellum", "intensity": "70%MSO"},
             "isi": ["3*ms", "5*ms", "7*ms"], "n": 10, "interval": "0.8*second", "start": "0.5*second"}]}})
        per_muscle = simulate(cfg).metrics["tms"]["per_muscle"]
        out[seed] = {isi: float(np.mean([pm["paired"][f"cbi_isi_{isi}ms"]["ratio"] for pm in per_muscle.values()]))
                     for isi in (3, 5, 7)}
    return out


def test_cbi_on_held_out_seeds(cbi_runs):
    """Cerebellar-brain inhibition (Ugawa et al. 1995, Ann Neurol 37:703): a cerebellar pulse 5-7 ms
    before the test pulse lowers the MEP to <= 0.8 of the test pulse alone (issue 16's band), and one
    3 ms before leaves it about unchanged, on the mean over the five held-out seeds (both rotators).
    The mechanism: the Purkinje cells the pulse fires silence the dentate, which withdraws its tonic
    drive of the I-wave fibres (tms_drive.TONIC_DRIVE)."""
    cbi = np.array([(r[5] + r[7]) / 2 for r in cbi_runs.values()])
    at3 = np.array([r[3] for r in cbi_runs.values()])
    assert cbi.mean() <= 0.8, (cbi, at3)
    assert 0.75 <= at3.mean() <= 1.5, (cbi, at3)
    assert at3.mean() - cbi.mean() > 0.15, (cbi, at3)
