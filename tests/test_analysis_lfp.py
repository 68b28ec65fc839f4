"""Tests for circuitsim.analysis.lfp (Mazzoni et al. 2015 WS proxy)."""

import numpy as np
import pytest

from circuitsim.analysis import lfp_proxy

FS = 10000.0  # 0.1 ms, Brian2's default dt


def test_ampa_delayed_by_6ms_gaba_weighted_instantly():
    n = 1000
    ampa = np.zeros(n)
    gaba = np.zeros(n)
    ampa[100] = -2e-9  # inward current (negative), sign must not matter
    gaba[300] = 1e-9
    out = lfp_proxy(ampa, gaba, FS)
    assert out.shape == (n,)
    assert np.flatnonzero(out > 0).tolist() == [160]  # 6 ms = 60 samples
    assert out[160] == pytest.approx(2e-9)
    assert np.flatnonzero(out < 0).tolist() == [300]
    assert out[300] == pytest.approx(-1.65e-9)


def test_sign_invariance_and_custom_parameters():
    rng = np.random.default_rng(0)
    ampa = rng.normal(size=500)
    gaba = rng.normal(size=500)
    a = lfp_proxy(ampa, gaba, FS)
    b = lfp_proxy(-ampa, -gaba, FS)
    np.testing.assert_allclose(a, b)
    c = lfp_proxy(ampa, gaba, FS, delay_s=0.0, gaba_weight=1.0)
    np.testing.assert_allclose(c, np.abs(ampa) - np.abs(gaba))


def test_two_d_input_sums_absolute_values_per_neuron():
    rng = np.random.default_rng(1)
    ampa = rng.normal(size=(400, 8))  # time x neurons, mixed signs
    gaba = rng.normal(size=(400, 3))
    out = lfp_proxy(ampa, gaba, 1000.0)  # delay 6 samples
    sa = np.abs(ampa).sum(axis=1)
    sg = np.abs(gaba).sum(axis=1)
    np.testing.assert_allclose(out[6:], sa[:-6] - 1.65 * sg[6:])
    # edge padding with the first AMPA sample
    np.testing.assert_allclose(out[:6], sa[0] - 1.65 * sg[:6])
    # |sum| differs from sum|.|: per-neuron absolute values are used
    assert not np.allclose(out, lfp_proxy(ampa.sum(axis=1), gaba.sum(axis=1), 1000.0))


def test_lfp_errors():
    x = np.zeros(100)
    with pytest.raises(ValueError, match="same number of time samples"):
        lfp_proxy(x, np.zeros(99), FS)
    with pytest.raises(ValueError, match="fs"):
        lfp_proxy(x, x, 0.0)
    with pytest.raises(ValueError, match="delay_s"):
        lfp_proxy(x, x, FS, delay_s=-0.001)
    with pytest.raises(ValueError, match="not shorter than"):
        lfp_proxy(np.zeros(10), np.zeros(10), FS)
    with pytest.raises(ValueError, match="1-D .* or 2-D"):
        lfp_proxy(np.zeros((2, 2, 2)), np.zeros(2), FS)
    with pytest.raises(ValueError, match="NaN"):
        lfp_proxy(np.full(100, np.nan), x, FS)
