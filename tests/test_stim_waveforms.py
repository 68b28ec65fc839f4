"""Stimulation waveforms (circuitsim.stimulation.waveforms) and the DBS strength-duration relation:
plain NumPy, no simulation."""

from __future__ import annotations

import numpy as np
import pytest

from circuitsim.stimulation.dbs import element_thresholds, expected_fraction, threshold_scale
from circuitsim.stimulation.waveforms import (MIN_PERIOD_STEPS, PulseShape, WaveformError, check_train,
                                              pulse_energy, regular_onsets, sample_waveform, snap_to_grid)

DT = 1e-4


def test_charge_per_phase_monophasic():
    shape = PulseShape(amplitude=3e-3, pulse_width=210e-6)
    assert shape.charge_per_phase == pytest.approx(630e-9)   # 3 mA * 210 us = 630 nC
    assert shape.net_charge == pytest.approx(630e-9)
    assert not shape.is_balanced()
    with pytest.raises(WaveformError) as err:
        shape.require_balanced()
    assert err.value.field == "shape"


@pytest.mark.parametrize("ratio", [1.0, 0.5, 0.1])
def test_biphasic_balanced_by_default(ratio):
    shape = PulseShape(amplitude=2e-3, pulse_width=100e-6, biphasic=True, interphase_gap=50e-6, anodic_ratio=ratio)
    assert shape.anodic_duration == pytest.approx(100e-6 / ratio)
    assert shape.anodic_amplitude == pytest.approx(2e-3 * ratio)
    assert shape.anodic_charge == pytest.approx(shape.charge_per_phase)
    assert shape.is_balanced()
    shape.require_balanced()
    assert shape.duration == pytest.approx(100e-6 + 50e-6 + 100e-6 / ratio)


def test_unbalanced_biphasic_is_refused_when_balance_asked():
    shape = PulseShape(amplitude=2e-3, pulse_width=100e-6, biphasic=True, anodic_ratio=0.5, anodic_width=100e-6)
    assert shape.net_charge == pytest.approx(100e-9)
    with pytest.raises(WaveformError) as err:
        shape.require_balanced()
    assert err.value.field == "anodic_width"


def test_sampled_waveform_integrates_to_the_charges():
    dt = 1e-7
    t = np.arange(0, 0.02, dt)
    mono = PulseShape(amplitude=3e-3, pulse_width=200e-6)
    bi = PulseShape(amplitude=3e-3, pulse_width=200e-6, biphasic=True, interphase_gap=100e-6, anodic_ratio=0.25)
    onsets = np.array([1e-3, 9e-3])
    i_mono = sample_waveform(t, onsets, mono)
    i_bi = sample_waveform(t, onsets, bi)
    assert i_mono.sum() * dt == pytest.approx(-2 * mono.charge_per_phase, rel=2e-3)   # cathodic = negative
    assert abs(i_bi.sum() * dt) < 1e-3 * bi.charge_per_phase                          # balanced
    assert i_bi.min() == pytest.approx(-3e-3) and i_bi.max() == pytest.approx(0.75e-3)
    # per-pulse amplitudes (closed loop) scale each pulse
    i_var = sample_waveform(t, onsets, mono, amplitudes=np.array([1e-3, 0.0]))
    assert i_var.sum() * dt == pytest.approx(-1e-3 * 200e-6, rel=2e-3)


def test_energy_is_i2_r_pw_summed_over_phases():
    mono = PulseShape(amplitude=3e-3, pulse_width=200e-6)
    assert mono.energy(1000.0) == pytest.approx(3e-3 ** 2 * 1000 * 200e-6)
    bi = PulseShape(amplitude=3e-3, pulse_width=200e-6, biphasic=True, anodic_ratio=0.5)
    assert bi.energy(1000.0) == pytest.approx(1000 * (3e-3 ** 2 * 200e-6 + 1.5e-3 ** 2 * 400e-6))
    np.testing.assert_allclose(pulse_energy(np.array([0.0, 3e-3]), mono, 1000.0), [0.0, mono.energy(1000.0)])


def test_regular_onsets_lie_on_the_dt_grid_at_the_frequency():
    on = regular_onsets(130.0, 0.2, 1.2, DT)
    steps = on / DT
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-6)
    assert on[0] == pytest.approx(0.2) and on[-1] < 1.2
    assert on.size == int(np.ceil(1.0 * 130))
    exact = 0.2 + np.arange(on.size) / 130
    assert np.all(np.abs(on - exact) <= DT / 2 + 1e-12)              # each onset within dt/2, no drift
    assert np.all(np.diff(on) >= MIN_PERIOD_STEPS * DT)
    assert regular_onsets(0.0, 0.0, 1.0, DT).size == 0                # 0 Hz: stimulator off


def test_cycling_on_off():
    on = regular_onsets(100.0, 0.0, 1.0, DT, cycle_on=0.2, cycle_off=0.3)
    phase = np.mod(on + 1e-9, 0.5)
    assert np.all(phase < 0.2)                                        # nothing during the off-periods
    assert on.size == 2 * 20
    assert on[20] == pytest.approx(0.5)                               # the train restarts at each on-period
    with pytest.raises(WaveformError):
        regular_onsets(100.0, 0.0, 1.0, DT, cycle_on=0.2)


def test_snap_to_grid():
    t = snap_to_grid([0.00104, 0.00016, 0.00104], DT)
    np.testing.assert_allclose(t, [0.0002, 0.001])


def test_check_train_errors():
    ok = PulseShape(amplitude=1e-3, pulse_width=100e-6)
    check_train(130.0, ok, DT)
    check_train(0.0, ok, DT)                                          # 0 Hz is allowed (off)
    with pytest.raises(WaveformError, match="shorter than the time step") as err:
        check_train(130.0, PulseShape(amplitude=1e-3, pulse_width=60e-6), DT)
    assert err.value.field == "pulse_width"
    with pytest.raises(WaveformError, match="not resolvable") as err:
        check_train(1.0 / ((MIN_PERIOD_STEPS - 1) * DT), ok, DT)
    assert err.value.field == "frequency"
    with pytest.raises(WaveformError, match="not shorter than the period"):
        check_train(1000.0, PulseShape(amplitude=1e-3, pulse_width=500e-6, biphasic=True, interphase_gap=1e-4), DT)
    with pytest.raises(WaveformError):
        check_train(-5.0, ok, DT)
    with pytest.raises(WaveformError):
        PulseShape(amplitude=-1e-3, pulse_width=1e-4)


def test_strength_duration_monotonic():
    pws = np.array([30e-6, 60e-6, 120e-6, 450e-6, 1e-3])
    scale = [threshold_scale(pw, 100e-6) for pw in pws]
    assert np.all(np.diff(scale) < 0) and threshold_scale(100e-6, 100e-6) == pytest.approx(2.0)  # I_th(chronaxie) = 2 I_rh
    amps = np.linspace(0, 8e-3, 30)
    for chronaxie in (100e-6, 1e-3):
        by_amp = [expected_fraction(a, 210e-6, chronaxie, 3e-3) for a in amps]
        by_pw = [expected_fraction(3e-3, pw, chronaxie, 3e-3) for pw in pws]
        assert np.all(np.diff(by_amp) >= 0) and by_amp[0] == 0 and by_amp[-1] > by_amp[1]
        assert np.all(np.diff(by_pw) > 0)
    # axons (short chronaxie) are recruited before somata (long chronaxie)
    assert expected_fraction(3e-3, 210e-6, 100e-6, 3e-3) > 5 * expected_fraction(3e-3, 210e-6, 1e-3, 3e-3)


def test_element_thresholds_give_the_expected_fraction():
    rng = np.random.default_rng(1)
    thr = element_thresholds(200_000, 210e-6, 100e-6, 3e-3, rng)
    for a in (0.5e-3, 2e-3, 4e-3):
        assert (thr < a).mean() == pytest.approx(expected_fraction(a, 210e-6, 100e-6, 3e-3), abs=0.005)
