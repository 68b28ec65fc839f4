"""Fast tests of TMS: protocol generation, the recruitment rule, MEP measurement on synthetic
EMG with known answers, and bad input refused before any code is generated."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from circuitsim import compose
from circuitsim.errors import ConfigError
from circuitsim.spec import build_spec
from circuitsim.stimulation.protocols import generate_pulses, parse_intensity, validate_protocol
from circuitsim.stimulation.tms import (DEFAULT_SITES, _validate_measure, element_thresholds, evoked_volley,
                                        fit_motor_threshold, mep_measures, recruited_fraction, silent_period)

DT = 1e-4
SITES = ("m1", "cerebellum")

TBS = {"type": "theta_burst", "site": "m1", "intensity": "80%RMT", "pulses_per_burst": 3,
       "pulse_frequency": "50*Hz", "burst_frequency": "5*Hz"}


def pulses(blocks):
    return generate_pulses(validate_protocol(blocks, "stim.t.protocol", SITES, DT), DT)


# ------------------------------------------------------------------------------- protocols

def test_ctbs_huang_2005():
    t = pulses([dict(TBS, train_duration="40*second", n_trains=1)])
    assert len(t) == 600
    times = t.time
    # 3 pulses at 50 Hz (20 ms apart) per burst, bursts at 5 Hz (200 ms apart), over 40 s
    np.testing.assert_allclose(np.diff(times[:3]), 0.02, atol=1e-9)
    np.testing.assert_allclose(times[3::3][:5] - times[0:-3:3][:5], 0.2, atol=1e-9)
    assert times[-1] == pytest.approx(39.8 + 0.04)


def test_itbs_huang_2005():
    t = pulses([dict(TBS, train_duration="2*second", n_trains=20, train_interval="10*second")])
    assert len(t) == 600
    starts = t.time[::30]          # 30 pulses (10 bursts) per 2-s train
    np.testing.assert_allclose(np.diff(starts), 10.0, atol=1e-9)
    assert t.time[29] - t.time[0] == pytest.approx(1.8 + 0.04)


def test_time_scale_shortens_trains_but_keeps_burst_timing():
    t = pulses([dict(TBS, train_duration="40*second", n_trains=1, time_scale=0.025)])
    assert len(t) == 15            # 5 bursts
    np.testing.assert_allclose(np.diff(t.time[:3]), 0.02, atol=1e-9)
    t = pulses([dict(TBS, train_duration="2*second", n_trains=3, train_interval="10*second", time_scale=0.1)])
    assert len(t) == 9             # one burst per train, trains 1 s apart
    np.testing.assert_allclose(t.time[::3], [0.0, 1.0, 2.0], atol=1e-9)


def test_rtms_train_and_single_blocks_in_sequence():
    t = pulses([{"type": "single", "site": "m1", "intensity": "120%RMT", "n": 3, "interval": "1*second"},
                {"type": "train", "site": "m1", "intensity": "90%RMT", "frequency": "1*Hz", "n_pulses": 5,
                 "start": "2*second"},
                {"type": "single", "site": "m1", "intensity": "120%RMT", "n": 2, "interval": "1*second",
                 "start": "2*second"}])
    np.testing.assert_allclose(t.time, [0, 1, 2, 4, 5, 6, 7, 8, 10, 11], atol=1e-9)
    assert list(t.role) == ["test"] * 3 + ["train"] * 5 + ["test"] * 2
    assert list(t.block) == [0] * 3 + [1] * 5 + [2] * 2


def test_paired_pulse_isis_and_interleaved_unconditioned():
    t = pulses([{"type": "paired", "site": "m1", "intensity": "120%RMT",
                 "conditioning": {"site": "m1", "intensity": "80%RMT"}, "isi": ["2*ms", "3*ms"], "n": 2,
                 "interval": "1*second"}])
    assert t.conditions == ["unconditioned", "isi_2ms", "isi_3ms"]
    test = t.role == "test"
    cond = t.role == "conditioning"
    assert test.sum() == 6 and cond.sum() == 4
    for trial in np.unique(t.trial[cond]):
        tt = t.time[(t.trial == trial) & test][0]
        tc = t.time[(t.trial == trial) & cond][0]
        assert tt - tc == pytest.approx(float(t.conditions[t.condition[(t.trial == trial) & test][0]][4:-2]) * 1e-3)
    assert set(t.intensity[cond]) == {80.0} and set(t.intensity[test]) == {120.0}
    # the conditioning and test pulses of the CBI form go to different sites
    t = pulses([{"type": "paired", "site": "m1", "intensity": "120%RMT",
                 "conditioning": {"site": "cerebellum", "intensity": "60%MSO"}, "isi": "5*ms", "n": 1}])
    assert list(t.site[t.role == "conditioning"]) == ["cerebellum"]


def test_intensity_series_alternates_levels():
    t = pulses([{"type": "single", "site": "m1", "intensity": ["40%MSO", "50%MSO"], "n": 3, "interval": "1*second"}])
    assert list(t.intensity) == [40, 50, 40, 50, 40, 50]
    assert parse_intensity("120 % rmt", "x") == (120.0, "RMT")


@pytest.mark.parametrize("blocks, path, words", [
    ([{"type": "zap", "site": "m1"}], "stim.t.protocol[0].type", "unknown protocol block type"),
    ([{"type": "single", "site": "sma", "intensity": "100%RMT"}], "stim.t.protocol[0].site", "unknown TMS site"),
    ([{"type": "single", "site": "m1", "intensity": "-10%MSO"}], "stim.t.protocol[0].intensity", "negative"),
    ([{"type": "single", "site": "m1", "intensity": "10*mV"}], "stim.t.protocol[0].intensity", "intensity"),
    ([{"type": "paired", "site": "m1", "intensity": "120%RMT", "conditioning": {"intensity": "80%RMT"},
       "isi": "2.55*ms"}], "stim.t.protocol[0].isi", "not resolvable"),
    ([{"type": "paired", "site": "m1", "intensity": "120%RMT", "conditioning": {"intensity": "80%RMT"},
       "isi": "0.05*ms"}], "stim.t.protocol[0].isi", "not resolvable"),
    ([dict(TBS, pulse_frequency="20000*Hz", train_duration="1*second")], "stim.t.protocol[0].pulse_frequency",
     "not resolvable"),
    ([dict(TBS, train_duration="1*second", time_scale=2)], "stim.t.protocol[0].time_scale", "(0, 1]"),
    ([{"type": "single", "site": "m1", "intensity": "100%RMT", "n": 0}], "stim.t.protocol[0].n", "integer"),
])
def test_bad_protocols(blocks, path, words):
    with pytest.raises(ConfigError) as err:
        validate_protocol(blocks, "stim.t.protocol", SITES, DT)
    assert err.value.path == path and words in err.value.message


# -------------------------------------------------------------------------- recruitment rule

def test_recruitment_is_monotone_and_interneurons_come_first():
    m1 = DEFAULT_SITES["m1"]["elements"]
    thr = {k: float(v["threshold"].split("%")[0]) for k, v in m1.items()}
    slope = {k: float(v["slope"].split("%")[0]) for k, v in m1.items()}
    # Di Lazzaro et al. 2004/2012: interneurons < trans-synaptic (afferent) < direct activation
    assert thr["ctx_i_soma"] < thr["ctx_e_afferent"] < thr["ctx_e_soma"]
    grid = np.linspace(0, 100, 201)
    for k in m1:
        f = recruited_fraction(grid, thr[k], slope[k])
        assert np.all(np.diff(f) > 0) and f[0] < 0.01 and f[-1] > 0.75
        assert recruited_fraction(thr[k], thr[k], slope[k]) == pytest.approx(0.5)
    # at every intensity more interneurons than pyramidal cells are recruited
    assert np.all(recruited_fraction(grid, thr["ctx_i_soma"], slope["ctx_i_soma"])
                  > recruited_fraction(grid, thr["ctx_e_soma"], slope["ctx_e_soma"]))


def test_element_thresholds_reproduce_the_sigmoid():
    theta = element_thresholds(20000, 50.0, 5.0, np.random.default_rng(1))
    for intensity in (40.0, 50.0, 57.0):
        assert np.mean(theta < intensity) == pytest.approx(recruited_fraction(intensity, 50.0, 5.0), abs=0.01)


# --------------------------------------------------------------------------- MEP measures

FS = 2000.0
MEASURE = _validate_measure({}, "m")


def synthetic_emg(duration, pulses, amplitude, onset, active_until=None, silence=0.0, rng=None):
    """Noise, plus a biphasic MEP of peak-to-peak ``amplitude`` starting ``onset`` after each
    pulse, plus optional tonic activity interrupted for ``silence`` after each pulse."""
    rng = rng or np.random.default_rng(0)
    t = np.arange(int(duration * FS)) / FS
    x = 2e-6 * rng.standard_normal(t.size)
    if active_until is not None:
        tonic = 200e-6 * rng.standard_normal(t.size) * (t < active_until)
        for tp in pulses:
            tonic[(t >= tp) & (t < tp + silence)] = 0.0
        x += tonic
    for tp in pulses:
        s = t - (tp + onset)
        x += amplitude / 2 * np.sin(2 * np.pi * s / 0.01) * ((s >= 0) & (s < 0.01))
    return x


def test_mep_amplitude_latency_and_absence():
    pulses = [0.5, 1.0, 1.5]
    emg = synthetic_emg(2.0, pulses, 1e-3, 0.004)
    m = mep_measures(emg, FS, 0.0, pulses, MEASURE)
    np.testing.assert_allclose(m["amplitude_v"], 1e-3, rtol=0.02)
    assert m["present"].all()
    # onset 4 ms after the pulse plus the conduction delay
    np.testing.assert_allclose(m["latency_s"], 0.004 + MEASURE["conduction_delay"], atol=1.5 / FS)
    quiet = mep_measures(synthetic_emg(2.0, pulses, 20e-6, 0.004), FS, 0.0, pulses, MEASURE)
    assert not quiet["present"].any() and np.isnan(quiet["latency_s"]).all()


def test_silent_period_of_an_active_muscle():
    pulses = [0.5, 1.0]
    emg = synthetic_emg(1.6, pulses, 2e-3, 0.004, active_until=1.6, silence=0.15)
    m = mep_measures(emg, FS, 0.0, pulses, MEASURE)
    assert (m["pre_mean_rect_v"] > MEASURE["active_level"]).all()
    for tp in pulses:
        sp = silent_period(emg, FS, 0.0, tp, MEASURE["window"][1], MEASURE)
        assert sp == pytest.approx(0.15, abs=0.012)


def test_motor_threshold_fit_recovers_the_50_percent_point():
    rng = np.random.default_rng(3)
    x = np.repeat(np.arange(40.0, 80.0, 2.5), 40)
    y = rng.uniform(size=x.size) < recruited_fraction(x, 61.0, 3.0)
    fit = fit_motor_threshold(x, y)
    assert fit["threshold"] == pytest.approx(61.0, abs=1.0)
    assert np.isnan(fit_motor_threshold(x, np.zeros(x.size, bool))["threshold"])


# -------------------------------------------------------------------- config validation

def cfg_with(stim):
    cfg = compose(["sim.duration=3s"])
    cfg.stim = OmegaConf.create({"t": stim})
    return cfg


GOOD = {"kind": "tms", "protocol": [{"type": "single", "site": "m1", "intensity": "120%RMT", "n": 2,
                                     "interval": "1*second", "start": "0.5*second"}]}


def test_presets_compose_and_validate():
    for preset in ("tms_single", "tms_sici", "tms_icf", "tms_lici", "tms_cbi", "tms_threshold", "rtms_1hz", "ctbs_m1",
                   "ctbs_cerebellum", "itbs_m1"):
        spec = build_spec(compose([f"stim={preset}"]))
        params = spec.stimuli[preset]
        assert params["kind"] == "tms"
        assert max(params["pulses"]["time"]) + params["measure"]["window"][1] <= spec.sim.duration
    spec = build_spec(compose(["stim=ctbs_m1"]))
    assert sum(r == "train" for r in spec.stimuli["ctbs_m1"]["pulses"]["role"]) == 600
    spec = build_spec(compose(["stim=itbs_m1"]))
    assert sum(r == "train" for r in spec.stimuli["itbs_m1"]["pulses"]["role"]) == 600


def test_relative_intensity_uses_the_stored_rmt():
    spec = build_spec(cfg_with(dict(GOOD, rmt="50%MSO")))
    assert spec.stimuli["t"]["intensity_mso"] == [60.0, 60.0]


from circuitsim.stimulation.tms_config import ICF_FACILITATION as FAC  # noqa: E402


@pytest.mark.parametrize("change, path, words", [
    ({"sites": {"m1": {"elements": {"x": {"population": "ctx_q", "kind": "soma", "threshold": "50%MSO",
                                           "slope": "5%MSO"}}}}}, "stim.t.sites.m1.elements.x.population",
     "unknown TMS target population"),
    ({"sites": {"m1": {"elements": {"ctx_i_soma": {"kind": "axon"}}}}}, "stim.t.sites.m1.elements.ctx_i_soma.kind",
     "unknown element kind"),
    ({"rmt": "-5%MSO"}, "stim.t.rmt", "negative"),
    ({"rmt": "50%RMT"}, "stim.t.rmt", "%MSO"),
    ({"protocol": [{"type": "burst", "site": "m1"}]}, "stim.t.protocol[0].type", "unknown protocol block type"),
    ({"protocol": [{"type": "single", "site": "m1", "intensity": "120%RMT", "n": 2, "interval": "1*second"}]},
     "stim.t.protocol", "sim.transient"),
    ({"protocol": [{"type": "single", "site": "m1", "intensity": "120%RMT", "n": 5, "interval": "1*second",
                    "start": "0.5*second"}]}, "stim.t.protocol", "sim.duration"),
    ({"plasticity": {"enabled": True, "pathways": ["ctx_e_nowhere"]}}, "stim.t.plasticity.pathways[0]",
     "unknown or disabled pathway"),
    ({"plasticity": {"enabled": True, "rule": "bcm"}}, "stim.t.plasticity.rule", "unknown plasticity rule"),
    ({"plasticity": {"enabled": True, "elements": ["m1.ctx_e_fibres"]}}, "stim.t.plasticity.elements[0]",
     "not an afferent element"),
    ({"plasticity": {"enabled": True, "elements": ["m1.ctx_i_soma"]}}, "stim.t.plasticity.elements[0]",
     "not an afferent element"),
    ({"plasticity": {"enabled": True, "elements": "m1.ctx_e_afferent"}}, "stim.t.plasticity.elements",
     "must be a list"),
    ({"plasticity": {"enabled": True, "pathways": [], "elements": []}}, "stim.t.plasticity", "nothing is plastic"),
    ({"coil": "figure8"}, "stim.t.coil", "unknown key"),
    ({"measure": {"volley_population": "ctx_x"}}, "stim.t.measure.volley_population", "unknown population"),
    ({"measure": {"volley_window": "0*ms"}}, "stim.t.measure.volley_window", "must be positive"),
    ({"sites": {"m1": {"elements": {"ctx_e_afferent": {"cell_spread": 3}}}}},
     "stim.t.sites.m1.elements.ctx_e_afferent.cell_spread", "[0, 2]"),
    ({"sites": {"m1": {"gabab": {"slope": "0%MSO"}}}}, "stim.t.sites.m1.gabab.slope", "positive"),
    ({"sites": {"m1": {"nmda": {"population": "ctx_e", "conductance": "1*nS", "tau_rise": "20*ms",
                                "tau_decay": "10*ms", "threshold": "45%MSO", "slope": "4%MSO"}}}},
     "stim.t.sites.m1.nmda.tau_rise", "tau_rise < tau_decay"),
    ({"sites": {"m1": {"nmda": {"population": "ctx_e", "size": 1}}}}, "stim.t.sites.m1.nmda.size", "unknown key"),
    ({"sites": {"m1": {"facilitation": dict(FAC, element="ctx_i_soma")}}}, "stim.t.sites.m1.facilitation.element",
     "afferent element"),
    ({"sites": {"m1": {"facilitation": dict(FAC, gain=-1)}}}, "stim.t.sites.m1.facilitation.gain", ">= 0"),
    ({"sites": {"m1": {"facilitation": dict(FAC, tau_rise="30*ms")}}}, "stim.t.sites.m1.facilitation.tau_rise",
     "tau_rise < tau_decay"),
    ({"sites": {"m1": {"facilitation": dict(FAC, delay="-1*ms")}}}, "stim.t.sites.m1.facilitation.delay",
     "cannot be negative"),
])
def test_bad_tms_config_fails_before_compiling(change, path, words):
    with pytest.raises(ConfigError) as err:
        build_spec(cfg_with(dict(GOOD, **change)))
    assert err.value.path == path and words in err.value.message



def test_plasticity_lists_default_and_elements():
    def plastic(node):
        return build_spec(cfg_with(dict(GOOD, plasticity=node))).stimuli["t"]["plasticity"]

    assert plastic({"enabled": True})["pathways"] == ["ctx_e_ctx_e"]           # neither list: the default
    both = plastic({"enabled": True, "elements": ["m1.ctx_e_afferent"]})
    assert both["pathways"] == [] and both["elements"] == ["m1.ctx_e_afferent"]  # elements alone
    assert plastic({"enabled": True, "pathways": ["grc_pc"], "elements": ["m1.ctx_e_afferent"]})["pathways"] == ["grc_pc"]


def test_evoked_volley_counts_spikes_after_each_pulse_less_those_before():
    pulses = [1.0, 2.0]
    spikes = [0.9971, 0.9985,                       # 2 in the 6 ms before pulse 1
              1.0005, 1.0015, 1.0030, 1.0055,       # 4 in the 6 ms after it
              1.0061,                               # just outside the window
              2.0010, 2.0020]                       # 2 after pulse 2, none before
    np.testing.assert_allclose(evoked_volley(spikes, 10, pulses, 0.006), [(4 - 2) / 10, 2 / 10])


def test_motor_threshold_needs_the_muscle_readout():
    """Refused before any simulation: the threshold is read from MEPs."""
    from circuitsim.drivers import measure_motor_threshold

    with pytest.raises(ConfigError) as err:
        measure_motor_threshold(["readout.muscle.enabled=false"], seeds=(0,))
    assert err.value.path == "readout.muscle.enabled"


PAIRED_80 = {"kind": "tms", "protocol": [{"type": "paired", "site": "m1", "intensity": "120%RMT",
                                          "conditioning": {"site": "m1", "intensity": "80%RMT"}, "isi": "100*ms",
                                          "n": 1, "interval": "1*second", "start": "0.5*second"}]}


def test_gabab_and_nmda_nodes_have_their_own_thresholds():
    """GABA-B (silent period, LICI) needs a pulse near the motor threshold, the slow NMDA
    facilitation (ICF) a weaker one: a subthreshold (80 % RMT) conditioning pulse gives almost no
    GABA-B but NMDA, a suprathreshold one both; the NMDA conductance rises over ~15 ms."""
    from circuitsim.stimulation.tms import slow_trace

    nmda = {"population": "ctx_e", "conductance": "10*nS", "tau_rise": "5*ms", "tau_decay": "100*ms",
            "threshold": "45%MSO", "slope": "4%MSO"}
    params = build_spec(cfg_with(dict(PAIRED_80, rmt="60%MSO", sites={"m1": {"nmda": nmda}}))).stimuli["t"]
    pulses = params["pulses"]
    t_cond = pulses["time"][pulses["role"].index("conditioning")]
    t_test = t_cond + 0.1                                     # its test pulse, 100 ms later
    step = 1e-3
    gb = slow_trace(params, 2.0, step, "gabab")["ctx_e"]
    nm = slow_trace(params, 2.0, step, "nmda")["ctx_e"]
    at = lambda g, t: float(g[int(round(t / step))])   # noqa: E731
    gb_default = params["sites"]["m1"]["gabab"]
    assert gb_default["threshold"] > 48.0             # above the 80 % RMT pulse (48 %MSO)
    # after the conditioning pulse alone (before the test pulse): little GABA-B, clear NMDA
    assert at(gb, t_cond + 0.05) < 0.2 * gb_default["conductance"]
    assert at(nm, t_cond + 0.012) > 0.5 * 10e-9
    assert at(nm, t_cond + 0.002) < at(nm, t_cond + 0.012)     # slow rise: ICF, not SICI, intervals
    # after the 120 % RMT test pulse: GABA-B nearly full
    assert at(gb, t_test + 0.05) > 0.8 * gb_default["conductance"]


def test_paired_pulse_kind_by_site_and_interval():
    from circuitsim.stimulation.tms_measure import _paired_kind

    m1 = {"site": "m1", "conditioning_site": "m1"}
    assert [_paired_kind(m1, isi) for isi in (0.002, 0.01, 0.1)] == ["sici", "icf", "lici"]
    assert _paired_kind({"site": "m1", "conditioning_site": "cerebellum"}, 0.005) == "cbi"


def test_cell_spread_gives_each_cell_a_lognormal_gain_of_mean_one():
    from circuitsim.stimulation.tms import recruitment

    sites = {"m1": {"elements": {"ctx_e_afferent": {"cell_spread": 0.5}}}}
    params = build_spec(cfg_with(dict(GOOD, sites=sites))).stimuli["t"]
    rec = recruitment(params, lambda pop: np.arange(2000), 3, "t")["elements"]["m1.ctx_e_afferent"]
    k = params["sites"]["m1"]["elements"]["ctx_e_afferent"]["fibres_per_cell"]
    gain = rec["fibre_gain"][::k]
    assert np.all(rec["fibre_gain"].reshape(-1, k) == gain[:, None])   # one gain per cell
    assert np.std(np.log(gain)) == pytest.approx(0.5, rel=0.1) and np.mean(gain) == pytest.approx(1.0, rel=0.05)


def test_icf_set_facilitates_the_fibres_at_icf_not_sici_intervals():
    """The ICF set (tms_config.ICF_FACILITATION; Ziemann et al. 1996, 1998; Ilic et al. 2002): after an
    80 % RMT conditioning pulse the I-wave fibres' extra gain is far larger at 10-15 ms (ICF) than at
    2-3 ms (SICI), nearly gone at 100 ms (LICI) and zero at the next trial; it starts ``delay`` (1 ms)
    after the pulse; a pulse far below the set's threshold recruits little of it. The paired-pulse
    presets carry the same node."""
    from circuitsim.stimulation.tms import facilitation_gain

    params = build_spec(cfg_with(dict(PAIRED_80, rmt="65%MSO", sites={"m1": {"facilitation": FAC}}))).stimuli["t"]
    pulses = params["pulses"]
    t_cond = pulses["time"][pulses["role"].index("conditioning")]
    step = 1e-4
    g = facilitation_gain(params, 3.0, step)["m1"]
    at = lambda dt: float(g[int(round((t_cond + dt) / step))])   # noqa: E731
    f = 1 / (1 + np.exp(-(52.0 - 50.0) / 5.0))   # the set's fraction at 80 % of 65 %MSO
    assert at(0.0) < 1e-9 and at(-0.001) < 1e-9 and at(0.0009) < 1e-9 and at(0.002) > 0   # onset after 1 ms
    assert max(at(0.010), at(0.015)) == pytest.approx(FAC["gain"] * f, rel=0.1)
    assert at(0.0025) < 0.5 * at(0.012)
    assert at(0.1) < 0.05 * at(0.012) and at(0.8) < 1e-6
    weak = build_spec(cfg_with(dict(PAIRED_80, rmt="40%MSO", sites={"m1": {"facilitation": FAC}}))).stimuli["t"]
    gw = facilitation_gain(weak, 3.0, step)["m1"]
    assert float(gw[int(round((t_cond + 0.012) / step))]) < 0.1 * at(0.012)   # 80 % of 40 %MSO = 32 %MSO
    for preset in ("tms_sici", "tms_icf", "tms_lici", "tms_cbi"):
        fac = build_spec(compose([f"stim={preset}"])).stimuli[preset]["sites"]["m1"]["facilitation"]
        assert fac["gain"] == FAC["gain"] and fac["threshold"] == 50.0 and fac["tau_rise"] == pytest.approx(0.01)
        assert fac["delay"] == pytest.approx(0.001)


from circuitsim.stimulation.tms_drive import TONIC_DRIVE as DRIVE  # noqa: E402


@pytest.mark.parametrize("change, path, words", [
    (dict(DRIVE, element="ctx_i_soma"), "stim.t.sites.m1.tonic_drive.element", "afferent element"),
    (dict(DRIVE, population="dentate"), "stim.t.sites.m1.tonic_drive.population", "dentate"),
    (dict(DRIVE, depth=1.5), "stim.t.sites.m1.tonic_drive.depth", "[0, 1]"),
    (dict(DRIVE, rate="0*Hz"), "stim.t.sites.m1.tonic_drive.rate", "positive"),
    (dict(DRIVE, lag="1*ms"), "stim.t.sites.m1.tonic_drive.lag", "unknown key"),
])
def test_tonic_drive_errors_name_the_field(change, path, words):
    with pytest.raises(ConfigError) as err:
        build_spec(cfg_with(dict(GOOD, sites={"m1": {"tonic_drive": change}})))
    assert path in str(err.value) and words in str(err.value)


def test_cbi_preset_carries_the_tonic_drive_and_it_shapes_the_build():
    """configs/stim/tms_cbi.yaml gives m1 the dentate's tonic drive of tms_drive.TONIC_DRIVE (CBI,
    Ugawa et al. 1995); the node is part of the compiled structure, its depth is data."""
    from circuitsim.stimulation.tms import tms_structure

    spec = build_spec(compose(["stim=tms_cbi"]))
    node = spec.stimuli["tms_cbi"]["sites"]["m1"]["tonic_drive"]
    assert node["population"] == "dcn" and node["element"] == "ctx_e_afferent"
    assert node["depth"] == DRIVE["depth"] and node["latency"] == pytest.approx(1e-3) and node["rate"] == pytest.approx(42.0)
    plain = build_spec(compose(["stim=tms_sici"]))
    assert "tonic_drive" not in plain.stimuli["tms_sici"]["sites"]["m1"]
    assert tms_structure(spec, spec.stimuli["tms_cbi"])["sites"]["m1"]["tonic_drive"] == ["dcn", "ctx_e_afferent"]
    assert tms_structure(plain, plain.stimuli["tms_sici"])["sites"]["m1"]["tonic_drive"] is None
