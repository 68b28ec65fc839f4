"""DBS stimulus kind: config validation (fast, before any compile), closed-loop control laws
(fast), and real simulations (slow): time-locked somata, recruitment by amplitude and pulse
width, closed loop."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from circuitsim import compose, simulate
from circuitsim.errors import ConfigError
from circuitsim.spec import build_spec
from circuitsim.stimulation.closed_loop import OnOffController, PIDController, relative_band_power
from circuitsim.stimulation.closed_loop_laws import (DualThresholdController, make_controller, reversals_per_s,
                                                     switches_per_s)
from circuitsim.stimulation.closed_loop_sensing import remove_stimulus_locked
from circuitsim.stimulation.dbs_synapses import DEFAULT_DEPRESSION, efficacy_train, steady_state_efficacy

PRESETS = ("dbs_gpi", "dbs_stn", "dbs_thal", "dbs_dcn", "dbs_gpi_closed_loop")


# ------------------------------------------------------------------ validation (fast)


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_validate(preset):
    spec = build_spec(compose([f"stim={preset}", "condition=dystonia_bg"]))
    (params,) = spec.stimuli.values()
    assert params["kind"] == "dbs" and params["frequency"] > 0
    assert ("runtime_only" in params) == (preset == "dbs_gpi_closed_loop")
    if preset == "dbs_gpi_closed_loop":
        assert spec.sim.device == "runtime"


@pytest.mark.parametrize("override, path, message", [
    ("stim.dbs_gpi.pulse_width=50*us", "stim.dbs_gpi.pulse_width", "shorter than the time step"),
    ("stim.dbs_gpi.frequency=5000*Hz", "stim.dbs_gpi.frequency", "not resolvable"),
    ("stim.dbs_gpi.frequency=420*Hz", "stim.dbs_gpi.pulse_width", "not shorter than the period"),
    ("stim.dbs_gpi.target=globus", "stim.dbs_gpi.target", "unknown population"),
    ("stim.dbs_gpi.anodic_width=1*ms", "stim.dbs_gpi.anodic_width", "do not balance"),
    ("stim.dbs_gpi.elements=[somata,dendrites]", "stim.dbs_gpi.elements[1]", "not allowed"),
    ("stim.dbs_gpi.amplitude=3*nS", "stim.dbs_gpi.amplitude", "neither a current"),
    ("stim.dbs_gpi.frequency=-10*Hz", "stim.dbs_gpi.frequency", "cannot be negative"),
    ("stim.dbs_gpi.afferent_pathways=[gpi_thal]", "stim.dbs_gpi.afferent_pathways[0]", "not an enabled pathway into"),
    ("+stim.dbs_gpi.excitability.axons.chronaxie=1*ms", "stim.dbs_gpi.excitability.axons", "not allowed"),
    ("stim.dbs_gpi.impedance=1*mA", "stim.dbs_gpi.impedance", "resistance"),
    ("stim.dbs_gpi.excitability.somata.chronaxie=-1*ms", "stim.dbs_gpi.excitability.somata.chronaxie", "positive"),
    ("stim.dbs_gpi.excitability.afferent_axons.rheobase=3*ms", "stim.dbs_gpi.excitability.afferent_axons.rheobase",
     "current"),
    ("stim.dbs_gpi.axonal_failure.f_half=0*Hz", "stim.dbs_gpi.axonal_failure.f_half", "positive"),
    ("stim.dbs_gpi.axonal_failure.exponent=-2", "stim.dbs_gpi.axonal_failure.exponent", "positive"),
    ("stim.dbs_gpi.local_delay=0.01*ms", "stim.dbs_gpi.local_delay", "at least sim.dt"),
    ("stim.dbs_gpi.stop=9*second", "stim.dbs_gpi.stop", "within sim.duration"),
    ("stim.dbs_gpi.cycle_on=1*second", "stim.dbs_gpi.cycle_on", "both"),
    ("stim.dbs_gpi.synaptic_depression.U=1.5", "stim.dbs_gpi.synaptic_depression.U", "(0, 1]"),
    ("stim.dbs_gpi.synaptic_depression.tau_rec=5*mV", "stim.dbs_gpi.synaptic_depression.tau_rec", "time"),
    ("+stim.dbs_gpi.synaptic_depression.tau=5*ms", "stim.dbs_gpi.synaptic_depression.tau", "not allowed"),
])
def test_bad_input_is_refused_before_compiling(override, path, message):
    with pytest.raises(ConfigError) as err:
        build_spec(compose(["stim=dbs_gpi", override]))
    assert err.value.path == path
    assert message in err.value.message


@pytest.mark.parametrize("override, path", [
    ("stim.dbs_gpi_cl.controller.off_below=0.9", "stim.dbs_gpi_cl.controller.off_below"),
    ("stim.dbs_gpi_cl.controller.mode=fuzzy", "stim.dbs_gpi_cl.controller.mode"),
    ("stim.dbs_gpi_cl.controller.region=cortex", "stim.dbs_gpi_cl.controller.region"),
    ("stim.dbs_gpi_cl.controller.window=100*ms", "stim.dbs_gpi_cl.controller.window"),
    ("stim.dbs_gpi_cl.frequency=0*Hz", "stim.dbs_gpi_cl.controller"),
    ("stim.dbs_gpi_cl.controller.sensing.method=notch", "stim.dbs_gpi_cl.controller.sensing.method"),
    ("+stim.dbs_gpi_cl.controller.sensing.blank=-1*ms", "stim.dbs_gpi_cl.controller.sensing.blank"),
    ("stim.dbs_gpi_cl.controller.biomarker=emg", "stim.dbs_gpi_cl.controller.biomarker"),
    ("stim.dbs_gpi_cl.controller.mode=dual_threshold", "stim.dbs_gpi_cl.controller.upper"),
    ("+stim.dbs_gpi_cl.controller.ramp=-1*ms", "stim.dbs_gpi_cl.controller.ramp"),
    ("+stim.dbs_gpi_cl.controller.min_on=1*mV", "stim.dbs_gpi_cl.controller.min_on"),
])
def test_bad_controller_is_refused(override, path):
    with pytest.raises(ConfigError) as err:
        build_spec(compose(["stim=dbs_gpi_closed_loop", override]))
    assert err.value.path == path


def test_the_model_defaults_are_the_schema_shown_by_cfg_job_and_a_plain_config_gets_the_same():
    """Issue 19: the DBS defaults (excitability, impedance, local delay, axonal failure, synaptic
    depression) live in one place, the kind's schema; the composed preset shows them (what
    `circuitsim --cfg job stim=dbs_gpi` prints) and a config that leaves them out validates to the
    same values."""
    from dataclasses import fields

    from circuitsim.plugins import STIMULI
    from circuitsim.schema import plain_config
    from circuitsim.stimulation.dbs_schema import DbsConf
    from circuitsim.stimulation.dbs_validate import KEYS

    assert STIMULI["dbs"].schema is DbsConf
    assert set(KEYS) == {f.name for f in fields(DbsConf)} - {"kind"}
    cfg = compose(["stim=dbs_gpi"])
    node = OmegaConf.to_container(cfg.stim.dbs_gpi)
    assert node["excitability"]["somata"] == {"chronaxie": "1*ms", "rheobase": "3*mA"}
    assert node["excitability"]["efferent_axons"] == {"chronaxie": "0.1*ms", "rheobase": "3*mA"}
    assert node["impedance"] == "1*kohm" and node["local_delay"] == "0.5*ms"
    assert node["axonal_failure"] == {"enabled": False, "f_half": "100*Hz", "exponent": 2.0}
    assert node["synaptic_depression"]["tau_rec"] == "150*ms"
    full = build_spec(cfg).stimuli["dbs_gpi"]
    plain = plain_config(cfg)
    given = {k: plain["stim"]["dbs_gpi"][k] for k in ("kind", "target", "frequency", "amplitude", "pulse_width",
                                                       "shape", "anodic_ratio", "interphase_gap", "balanced", "start")}
    plain["stim"]["dbs_gpi"] = given
    assert build_spec(plain).stimuli["dbs_gpi"] == full
    assert full["excitability"]["somata"] == {"chronaxie": 1e-3, "rheobase": 3e-3}
    assert full["excitability"]["afferent_axons"]["chronaxie"] == 100e-6
    # a nested node given in part keeps the other defaults
    part = build_spec(compose(["stim=dbs_gpi", "stim.dbs_gpi.excitability.somata.chronaxie=2*ms"])).stimuli["dbs_gpi"]
    assert part["excitability"]["somata"] == {"chronaxie": 2e-3, "rheobase": 3e-3}


def test_a_misspelt_key_fails_when_composed_naming_it():
    with pytest.raises(Exception, match="excitabilty"):
        compose(["stim=dbs_gpi", "stim.dbs_gpi.excitabilty.somata.chronaxie=1*ms"])
    with pytest.raises(Exception, match="chronaxy"):
        compose(["stim=dbs_gpi", "stim.dbs_gpi.excitability.somata.chronaxy=1*ms"])


def test_zero_hz_is_dbs_off_and_voltage_mode_uses_the_impedance():
    spec = build_spec(compose(["stim=dbs_gpi", "stim.dbs_gpi.frequency=0*Hz"]))
    assert spec.stimuli["dbs_gpi"]["frequency"] == 0.0
    spec = build_spec(compose(["stim=dbs_gpi", "stim.dbs_gpi.amplitude=3*volt", "stim.dbs_gpi.impedance=1.5*kohm"]))
    assert spec.stimuli["dbs_gpi"]["amplitude"] == pytest.approx(2e-3)
    assert spec.stimuli["dbs_gpi"]["amplitude_mode"] == "voltage"


# ------------------------------------------------------- synaptic depression (fast)

U, TAU_REC = DEFAULT_DEPRESSION["U"], 0.15
assert DEFAULT_DEPRESSION["tau_rec"] == "150*ms"


def test_depression_matches_recordings_during_stimulation():
    # evoked responses in human SNr fall rapidly after the first pulses of a >= 30 Hz train but not
    # at low frequencies (Milosevic et al. 2018, Brain 141:177; 1-100 Hz trains)
    assert steady_state_efficacy(5.0, U, TAU_REC) > 0.7
    assert steady_state_efficacy(30.0, U, TAU_REC) < 0.5
    assert steady_state_efficacy(100.0, U, TAU_REC) < 0.15 and steady_state_efficacy(130.0, U, TAU_REC) < 0.15
    train = efficacy_train(np.arange(60) / 130.0, U, TAU_REC)
    assert train[0] == 1.0 and np.all(np.diff(train) <= 1e-12)
    assert train[5] < 2 * steady_state_efficacy(130.0, U, TAU_REC)        # "rapidly": within ~5 pulses
    assert train[-1] == pytest.approx(steady_state_efficacy(130.0, U, TAU_REC), rel=1e-3)
    # the transmitted drive (pulses x efficacy) saturates: 185 Hz hardly more than 100 Hz
    drive = {f: f * steady_state_efficacy(f, U, TAU_REC) for f in (20.0, 100.0, 185.0)}
    assert drive[185.0] < 1.1 * drive[100.0] and drive[100.0] < 1 / (U * TAU_REC)


def test_depression_node_reaches_the_stimulus():
    spec = build_spec(compose(["stim=dbs_gpi"]))
    dep = spec.stimuli["dbs_gpi"]["synaptic_depression"]
    assert dep == {"enabled": True, "U": U, "tau_rec": pytest.approx(TAU_REC),
                   "elements": ["afferent_axons"]}
    off = build_spec(compose(["stim=dbs_gpi", "stim.dbs_gpi.synaptic_depression.enabled=false"]))
    assert off.stimuli["dbs_gpi"]["synaptic_depression"]["enabled"] is False


# --------------------------------------------------------- closed-loop sensing (fast)


def test_template_subtraction_removes_what_is_locked_to_the_pulses():
    fs, f_stim = 1000.0, 130.0
    t = np.arange(0, 0.5, 1 / fs)
    rng = np.random.default_rng(1)
    rhythm = 0.3 * np.sin(2 * np.pi * 6 * t)
    onsets = np.arange(0.25, 0.5, 1 / f_stim)                   # stimulation switches on half-way
    phase = t[:, None] - onsets[None, :]
    evoked = np.where(phase >= 0, np.exp(-phase / 3e-3), 0).sum(axis=1)   # pulse-evoked currents...
    evoked += np.where(t >= 0.25, 2.0, 0.0)                               # ... and the shift they cause
    noise = 0.3 * rng.standard_normal(t.size)
    raw = rhythm + evoked + noise
    clean = remove_stimulus_locked(raw, t, 1 / fs, onsets, 1 / f_stim, "template", 2e-3)
    truth = relative_band_power(rhythm + noise, fs, (4, 10))
    assert abs(relative_band_power(clean, fs, (4, 10)) - truth) < 0.35 * truth
    assert abs(relative_band_power(raw, fs, (4, 10)) - truth) > 0.5 * truth  # raw: the switch dominates
    blanked = remove_stimulus_locked(raw, t, 1 / fs, onsets, 1 / f_stim, "blanking", 2e-3)
    assert abs(relative_band_power(blanked, fs, (4, 10)) - truth) < abs(relative_band_power(raw, fs, (4, 10)) - truth)
    assert np.array_equal(remove_stimulus_locked(raw, t, 1 / fs, onsets, 1 / f_stim, "none", 2e-3), raw)


# ------------------------------------------------------------------ control laws (fast)


def test_on_off_hysteresis():
    c = OnOffController(on_above=0.2, off_below=0.1)
    out = [c.update(b) for b in (0.15, 0.25, 0.15, 0.12, 0.05, 0.15, 0.3)]
    assert out == [0, 1, 1, 1, 0, 0, 1]


def test_on_off_minimum_on_and_off_times():
    c = OnOffController(on_above=0.2, off_below=0.1, min_on=0.3, min_off=0.2, period=0.1)
    out = [c.update(b) for b in (0.3, 0.0, 0.0, 0.0, 0.3, 0.3, 0.0)]
    # on at once; held 0.3 s before it may go off; then held off 0.2 s before it may come on again
    assert out == [1, 1, 1, 0, 0, 1, 1]


def test_dual_threshold_ramps_and_holds():
    """Velisar et al. 2019: up above the upper, down below the lower threshold, hold in between."""
    c = DualThresholdController(upper=0.6, lower=0.4, step=0.25)
    out = [c.update(b) for b in (0.7, 0.7, 0.5, 0.5, 0.3, 0.7, 0.7, 0.7, 0.7)]
    assert out == pytest.approx([0.25, 0.5, 0.5, 0.5, 0.25, 0.5, 0.75, 1.0, 1.0])
    with pytest.raises(ValueError):
        DualThresholdController(upper=0.4, lower=0.6, step=0.1)


def test_ramp_and_smoothing_shape_every_law():
    # a 250 ms ramp (Little et al. 2013) at a 100 ms period: at most 0.4 of full scale per period
    c = make_controller({"mode": "on_off", "period": 0.1, "ramp": 0.25, "on_above": 0.6, "off_below": 0.4})
    assert [c.update(b) for b in (0.7, 0.7, 0.7, 0.3, 0.3)] == pytest.approx([0.4, 0.8, 1.0, 0.6, 0.2])
    # smoothing: one outlying window does not switch the law on
    c = make_controller({"mode": "on_off", "period": 0.1, "smoothing": 0.4, "on_above": 0.6, "off_below": 0.4})
    assert [c.update(b) for b in (0.5, 0.9, 0.5, 0.5)] == [0, 0, 0, 0]
    assert [c.update(0.9) for _ in range(10)][-1] == 1
    # without either option the law's own output passes unchanged
    c = make_controller({"mode": "proportional", "period": 0.1, "setpoint": 0.1, "kp": 0.5})
    assert c.update(0.2) == pytest.approx(0.5)
    dual = make_controller({"mode": "dual_threshold", "period": 0.1, "ramp": 0.5, "upper": 0.6, "lower": 0.4})
    assert [dual.update(0.7) for _ in range(3)] == pytest.approx([0.2, 0.4, 0.6])


def test_switch_and_reversal_counts():
    t = np.arange(6) * 0.1
    assert switches_per_s(t, [0, 1, 0, 1, 1, 0]) == pytest.approx(4 / 0.5)
    assert switches_per_s(t, [0, 0.2, 0.4, 0.4, 0.6, 0.6]) == pytest.approx(1 / 0.5)
    assert reversals_per_s(t, [0, 0.2, 0.4, 0.4, 0.6, 0.6]) == 0.0
    assert reversals_per_s(t, [0, 0.2, 0.0, 0.2, 0.0, 0.0]) == pytest.approx(3 / 0.5)


def test_proportional_and_pid():
    p = PIDController(setpoint=0.1, kp=0.5, period=0.1)
    assert p.update(0.1) == 0.0
    assert p.update(0.2) == pytest.approx(0.5)
    assert p.update(1.0) == 1.0 and p.update(0.0) == 0.0       # clipped to [0, 1]
    pid = PIDController(setpoint=0.1, kp=0.0, ki=1.0, period=0.1)
    levels = [pid.update(0.2) for _ in range(15)]              # constant error 1 -> integral grows by 0.1
    assert levels[:3] == pytest.approx([0.1, 0.2, 0.3])
    assert levels[-1] == pytest.approx(1.0) and pid.integral <= 1.0 + 1e-9    # anti-windup: the integral stops at saturation
    assert pid.update(0.05) < 1.0                              # and comes down as soon as the error turns


def test_relative_band_power_of_a_rhythm():
    fs = 1000.0
    t = np.arange(0, 0.5, 1 / fs)
    rng = np.random.default_rng(0)
    rhythm = np.sin(2 * np.pi * 6 * t) + 0.1 * rng.standard_normal(t.size)
    noise = rng.standard_normal(t.size)
    assert relative_band_power(rhythm, fs, (4, 10)) > 0.8
    assert relative_band_power(noise, fs, (4, 10)) < 0.2


# ------------------------------------------------------------------- simulations (slow)

COMMON = ["condition=dystonia_bg", "sim.progress=false", "readout.plots=[]", "sim.seed=0"]
#: three epochs of GPi somatic stimulation: (name, amplitude, pulse width, start, stop)
EPOCHS = (("low", "2*mA", "450*us", "200*ms", "500*ms"),
          ("high", "5*mA", "450*us", "500*ms", "800*ms"),
          ("short", "5*mA", "100*us", "800*ms", "1100*ms"))


@pytest.fixture(scope="module")
def epochs_run():
    """One compiled run, three consecutive DBS epochs of the GPi somata (different amplitude / pulse width)."""
    cfg = OmegaConf.to_container(compose(COMMON + ["sim.duration=1.1s"]), resolve=True)
    cfg["stim"] = {name: {"kind": "dbs", "target": "gpi", "frequency": "130*Hz", "amplitude": amp,
                          "pulse_width": pw, "start": start, "stop": stop, "elements": ["somata"]}
                   for name, amp, pw, start, stop in EPOCHS}
    cfg["stim"]["short"].update(cycle_on="100*ms", cycle_off="50*ms")   # on 0.8-0.9 s and 0.95-1.05 s
    return simulate(cfg)


def _locking_per_cell(result, name):
    """Per GPi soma: the fraction of the epoch's pulses followed by one of its spikes within 2 ms."""
    onsets = result.extra["stim_data"][name]["onsets"]
    i, t = result.spikes["gpi"]
    n = result.sizes["gpi"]
    hits = np.zeros((onsets.size, n), bool)
    for k, t0 in enumerate(onsets):
        sel = (t >= t0) & (t <= t0 + 2e-3)
        hits[k, np.unique(i[sel])] = True
    return hits.mean(axis=0)


@pytest.mark.slow
def test_activated_somata_follow_each_pulse(epochs_run):
    for name, *_ in EPOCHS:
        params = epochs_run.extra["stimuli"][name]
        thr = epochs_run.extra["stim_data"][name]["soma_thresholds"]
        activated = thr < params["amplitude"]
        lock = _locking_per_cell(epochs_run, name)
        assert activated.any() and (~activated).any()
        # activated cells: a spike within 2 ms after more than 90 % of pulses; the others at chance
        assert np.all(lock[activated] > 0.9), (name, lock[activated])
        assert np.mean(lock[~activated]) < 0.3 and np.all(lock[~activated] < 0.9), (name, lock[~activated])
        m = epochs_run.metrics["stim"][name]
        assert m["locking_activated"] > 0.9 and m["locking_not_activated"] < 0.3


@pytest.mark.slow
def test_amplitude_and_pulse_width_recruit_more_somata(epochs_run):
    # fraction of GPi somata that follow the pulses, measured from the spikes of each epoch
    followers = {name: float(np.mean(_locking_per_cell(epochs_run, name) > 0.9)) for name, *_ in EPOCHS}
    assert followers["high"] > followers["low"] + 0.1      # 5 mA vs 2 mA at 450 us
    assert followers["high"] > followers["short"] + 0.1    # 450 us vs 100 us at 5 mA
    m = epochs_run.metrics["stim"]
    assert m["high"]["activated_fraction"] > m["low"]["activated_fraction"]
    assert m["high"]["activated_fraction"] > m["short"]["activated_fraction"]


@pytest.mark.slow
def test_pulses_are_delivered_as_the_waveform_module_computes(epochs_run):
    from circuitsim.stimulation.dbs import onsets_from_params

    for name, *_ in EPOCHS:
        params = epochs_run.extra["stimuli"][name]
        delivered = epochs_run.extra["stim_data"][name]["onsets"]        # recorded from the pulse generator
        expected = onsets_from_params(params, 1e-4)
        np.testing.assert_allclose(delivered, expected, atol=1e-9)
    short = epochs_run.extra["stim_data"]["short"]["onsets"]
    assert not np.any((short >= 0.9) & (short < 0.95)) and not np.any(short >= 1.05)   # cycling: off-periods


@pytest.mark.slow
def test_dbs_metrics_keys(epochs_run):
    m = epochs_run.metrics["stim"]["high"]
    for key in ("activated_fraction", "activated_fraction_somata", "charge_per_phase_nc", "energy",
                "energy_uj", "n_pulses", "net_charge_nc"):
        assert key in m
    assert m["charge_per_phase_nc"] == pytest.approx(5e-3 * 450e-6 * 1e9)
    assert m["n_pulses"] == 39                                              # 0.3 s at 130 Hz
    assert m["energy"] == pytest.approx(39 * (5e-3) ** 2 * 1000 * 450e-6)   # I^2 R pw, 1 kOhm


@pytest.fixture(scope="module")
def closed_loop_run():
    """Proportional control of GPi DBS by the GPi LFP beta power (runtime device, small circuit)."""
    cfg = compose(COMMON + ["stim=dbs_gpi_closed_loop", "sim.duration=0.6s", "circuit.scale=0.25",
                            "sim.codegen_target=numpy",
                            "stim.dbs_gpi_cl.controller.mode=proportional",
                            "stim.dbs_gpi_cl.controller.power=relative",
                            "stim.dbs_gpi_cl.controller.band=[15*Hz,30*Hz]",
                            "stim.dbs_gpi_cl.controller.window=150*ms",
                            "stim.dbs_gpi_cl.controller.period=50*ms",
                            "+stim.dbs_gpi_cl.controller.setpoint=0.01",
                            "+stim.dbs_gpi_cl.controller.kp=0.02"])
    cfg = OmegaConf.to_container(cfg, resolve=True)
    cfg["stim"]["cs"] = {"kind": "dbs", "target": "dcn", "frequency": "130*Hz", "amplitude": "2*mA",
                         "pulse_width": "120*us", "elements": ["somata", "efferent_axons"],
                         "controller": {"mode": "on_off", "biomarker": "corticospinal_rate", "period": "50*ms",
                                        "window": "100*ms", "on_above": "5*Hz", "off_below": "3*Hz"}}
    return simulate(cfg)


@pytest.mark.slow
def test_closed_loop_amplitude_follows_the_biomarker(closed_loop_run):
    res = closed_loop_run
    assert res.metrics["run"]["device"] == "runtime"
    trace = res.extra["stim_data"]["dbs_gpi_cl"]["controller"]
    t, b, level = trace["t"], trace["biomarker"], trace["level"]
    valid = np.isfinite(b) & (t >= 0.2)
    assert valid.sum() >= 7
    # the level set during the run is the proportional law of the biomarker read during the run
    np.testing.assert_allclose(level[valid], np.clip(0.02 * (b[valid] - 0.01) / 0.01, 0, 1), atol=1e-9)
    assert np.ptp(level[valid]) > 0.02                       # it changed with the biomarker
    assert np.all(level[~valid] == 0)
    m = res.metrics["stim"]["dbs_gpi_cl"]
    assert {"fraction_time_on", "mean_amplitude_ma", "energy", "activated_fraction"} <= set(m)
    full = m["n_pulses_scheduled"] * 3e-3 ** 2 * 1000 * (210e-6 + 0.1 ** 2 * 2.1e-3)
    assert 0 < m["energy"] < full                            # less than open loop at the full amplitude


@pytest.mark.slow
def test_closed_loop_on_off_by_corticospinal_rate(closed_loop_run):
    trace = closed_loop_run.extra["stim_data"]["cs"]["controller"]
    b, level = trace["biomarker"], trace["level"]
    valid = np.isfinite(b)
    assert valid.sum() >= 8 and np.all(b[valid] >= 0)
    replay = OnOffController(on_above=5.0, off_below=3.0)    # the hysteresis rule on the recorded biomarker
    np.testing.assert_array_equal(level[valid], [replay.update(x) for x in b[valid]])
    m = closed_loop_run.metrics["stim"]["cs"]
    assert m["fraction_time_on"] == pytest.approx(np.mean(level > 0))


# ------------------------------------- what a microelectrode records during DBS (slow)

#: GPi DBS at 130 Hz then 10 Hz in the healthy circuit, afferent and efferent axons only (no
#: forced somatic spikes, so every GPi cell is one a microelectrode records between pulses)
RESPONSE_EPOCHS = (("high", "130*Hz", "600*ms", "1000*ms"), ("low", "10*Hz", "1200*ms", "1600*ms"))


@pytest.fixture(scope="module")
def response_run():
    cfg = OmegaConf.to_container(compose(["condition=healthy", "sim.progress=false", "readout.plots=[]",
                                          "sim.seed=11", "sim.duration=1.6s"]), resolve=True)
    cfg["stim"] = {name: {"kind": "dbs", "target": "gpi", "frequency": f, "amplitude": "3*mA",
                          "pulse_width": "100*us", "start": start, "stop": stop,
                          "elements": ["afferent_axons"]}
                   for name, f, start, stop in RESPONSE_EPOCHS}
    return simulate(cfg)


def _gpi_rate(result, t0, t1):
    i, t = result.spikes["gpi"]
    return np.count_nonzero((t >= t0) & (t < t1)) / result.sizes["gpi"] / (t1 - t0)


@pytest.mark.slow
def test_gpi_firing_during_stimulation_is_inhibited_more_at_high_frequency(response_run):
    res = response_run
    before = _gpi_rate(res, 0.2, 0.6)
    high = res.metrics["stim"]["high"]
    assert high["target_rate_before_hz"] == pytest.approx(before)
    # high-frequency GPi stimulation silences neighbouring GPi neurons (Chiken & Nambu 2013,
    # J Neurosci 33:2268; nigral neurons silenced from 50 Hz, Milosevic et al. 2018, Brain 141:177).
    # The model inhibits them without silencing them (reported as not reproduced in
    # experiments/dbs_frequency): 0.50 of the rate before with the STN T-current at 10 nS, 0.51
    # since it is 20 nS (the antidromically driven STN rebounds more). The band checks a strong
    # inhibition, well below the 10 Hz epoch's, not silence.
    assert before > 30 and high["target_rate_ratio"] < 0.6, (before, high["target_rate_during_hz"])
    # low frequencies inhibit less (Milosevic et al. 2018: firing falls progressively with frequency)
    low = _gpi_rate(res, 1.3, 1.6) / before
    assert low > high["target_rate_ratio"] + 0.2, (low, high["target_rate_ratio"])


@pytest.mark.slow
def test_stimulated_synapses_depress_as_tsodyks_markram(response_run):
    # the simulated synapses' resources at the last pulse equal the closed form, and the
    # attenuation is strong at 130 Hz and mild at 10 Hz (Milosevic et al. 2018)
    for name, f in (("high", 130.0), ("low", 10.0)):
        m = response_run.metrics["stim"][name]
        onsets = response_run.extra["stim_data"][name]["onsets"]
        assert m["release_efficacy"] == pytest.approx(efficacy_train(onsets, U, TAU_REC)[-1], abs=0.01)
    assert response_run.metrics["stim"]["high"]["release_efficacy"] < 0.15
    assert response_run.metrics["stim"]["low"]["release_efficacy"] > 0.6


def test_stimulated_axons_release_with_their_own_synapses_weights():
    """A lateralised pathway (side_scale) keeps its weakened synapses under stimulation: the pulses
    that activate its axons release with the weights the circuit has, not the pathway's nominal one."""
    from types import SimpleNamespace

    from circuitsim.stimulation.dbs_build import synapse_weights

    # a lateralised pallidothalamic weakening (the lateralisation dystonia_bg used before it moved
    # to the striatopallidal inhibition)
    spec = build_spec(compose(["condition=dystonia_bg", "stim=dbs_gpi", "circuit.pathways.gpi_thal.side_scale=0.1"]))
    pw = spec.pathways["gpi_thal"]
    assert pw.channel_scale and min(pw.channel_scale) < 1          # one side is weakened
    layout = SimpleNamespace(channel=np.array([0, 0, 1, 1]))
    conn = SimpleNamespace(n=4, j=np.array([0, 1, 2, 3]))
    w = synapse_weights(pw, conn, layout)
    np.testing.assert_allclose(w, pw.weight * np.asarray(pw.channel_scale)[[0, 0, 1, 1]])
    plain = SimpleNamespace(weight=2e-9, channel_scale=())
    np.testing.assert_allclose(synapse_weights(plain, conn, layout), 2e-9)
