"""The T-type rebound current of the neuron template (integrate-and-fire-or-burst, Smith et al. 2000).

One neuron of the real template (numpy target, no network) is held just below threshold, above
V_h, then hyperpolarised below V_h and released. Known answers: with g_T > 0 the release gives a
burst (several spikes at short intervals) and without it nothing; the inactivation variable
recovers towards 1 with tau_h_plus below V_h and decays with tau_h_minus above it; a neuron that
is never taken below V_h behaves exactly as without the current.
"""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import Network, NeuronGroup, SpikeMonitor, StateMonitor, defaultclock, ms, mV, nS, pA, pF, prefs, second

from circuitsim import compose
from circuitsim.circuit.builder import namespace_for
from circuitsim.circuit.models import ADEX_EQUATIONS, ADEX_REFRACTORY, ADEX_RESET, ADEX_THRESHOLD
from circuitsim.errors import ConfigError
from circuitsim.spec import OPTIONAL_NEURON_PARAMS, build_spec

DT = 0.1 * ms
# a GPi-like cell (configs/circuit/default.yaml) without synaptic input; I_hold puts it at
# EL + I_hold/gL = -57 mV: above V_h, below the firing range
CELL = dict(C=100 * pF, gL=5 * nS, EL=-65 * mV, VT=-50 * mV, DeltaT=2 * mV, V_reset=-58 * mV, V_peak=-30 * mV,
            a=0 * nS, b=10 * pA, tau_w=30 * ms, t_ref=2 * ms, E_T=120 * mV, V_h=-60 * mV,
            tau_h_plus=30 * ms, tau_h_minus=20 * ms)
I_HOLD, I_HYPER = 40 * pA, -60 * pA       # -57 mV; -77 mV
T_HOLD, T_HYPER, T_AFTER = 300 * ms, 200 * ms, 200 * ms


def _protocol(g_t, hyper=I_HYPER):
    """Hold, hyperpolarise, release, for one neuron per value of ``g_t``; spikes and traces."""
    saved = prefs.codegen.target
    prefs.codegen.target = "numpy"
    try:
        n = len(g_t)
        group = NeuronGroup(n, ADEX_EQUATIONS, threshold=ADEX_THRESHOLD, reset=ADEX_RESET,
                            refractory=ADEX_REFRACTORY, method="euler", name="cells")
        for key, value in CELL.items():
            setattr(group, key, value)
        group.g_T = np.asarray(g_t) * nS
        group.v = -57 * mV
        group.I_bias = I_HOLD
        spikes = SpikeMonitor(group)
        trace = StateMonitor(group, ["v", "h_T", "I_T"], record=True, dt=1 * ms)
        net = Network(group, spikes, trace)
        ns = namespace_for(build_spec(compose()))
        defaultclock.dt = DT
        net.run(T_HOLD, namespace=ns)
        group.I_bias = hyper
        net.run(T_HYPER, namespace=ns)
        group.I_bias = I_HOLD
        net.run(T_AFTER, namespace=ns)
    finally:
        prefs.codegen.target = saved
    trains = [np.asarray(spikes.t_[spikes.i[:] == k]) for k in range(n)]
    return trains, np.asarray(trace.t_), np.asarray(trace.v_), np.asarray(trace.h_T[:]), np.asarray(trace.I_T_)


def test_release_from_hyperpolarisation_gives_a_burst_only_with_the_current():
    (with_t, without_t), t, v, h, i_t = _protocol([8.0, 0.0])
    release = float(T_HOLD + T_HYPER)
    # held above V_h: h_T stays inactivated, no spikes in either cell
    assert all(np.sum(tr < release) == 0 for tr in (with_t, without_t))
    # release: once the membrane is back above V_h, a burst (its first intervals < 10 ms) that
    # ends within 100 ms as h_T inactivates; the last 100 ms are silent again
    burst = with_t[with_t >= release]
    assert burst.size >= 3, with_t
    assert burst[0] < release + 0.06
    assert np.all(np.diff(burst[:3]) < 0.010), np.diff(burst)
    assert burst[-1] < burst[0] + 0.1, burst
    # without the current: the same membrane returns to -57 mV without firing
    assert without_t.size == 0
    assert np.all(i_t[1] == 0.0)
    # the current is inward (depolarising) only during the rebound
    assert i_t[0].max() > 0 and np.all(i_t[0] >= 0)


def test_inactivation_follows_its_time_constants():
    _, t, v, h, _ = _protocol([8.0])
    t_on = float(T_HOLD)
    below = np.flatnonzero(v[0] <= float(CELL["V_h"]))
    first_below = t[below[0]]
    assert t_on <= first_below < t_on + 0.02
    # below V_h: dh/dt = (1 - h)/tau_h_plus from h = 0 (inactivated while held at -57 mV)
    tau_plus = float(CELL["tau_h_plus"])
    k = below[below < np.searchsorted(t, t_on + float(T_HYPER))]
    k = k[t[k] - first_below >= 0.005]
    expected = 1 - np.exp(-(t[k] - first_below) / tau_plus)
    np.testing.assert_allclose(h[0, k], expected, atol=0.03)
    assert h[0, k[-1]] > 0.99
    # above V_h after the burst: decays with tau_h_minus
    after = np.flatnonzero((t > t_on + float(T_HYPER) + 0.08) & (v[0] > float(CELL["V_h"])))
    ratio = h[0, after[10]] / h[0, after[0]]
    assert ratio == pytest.approx(np.exp(-(t[after[10]] - t[after[0]]) / float(CELL["tau_h_minus"])), rel=0.05)


def test_a_cell_never_below_v_h_is_unchanged_by_the_current():
    # a hyperpolarising step that stays above V_h (-57 -> -59 mV): no de-inactivation, no rebound
    (with_t, without_t), t, v, h, i_t = _protocol([8.0, 0.0], hyper=30 * pA)
    assert v.min() > float(CELL["V_h"])
    assert h.max() == 0.0
    np.testing.assert_array_equal(v[0], v[1])
    assert with_t.size == without_t.size == 0


def test_the_current_is_optional_and_validated():
    spec = build_spec(compose())
    assert spec.populations["ctx_e"].params["g_T"] == 0.0        # left out: no current
    assert set(OPTIONAL_NEURON_PARAMS) <= set(spec.populations["ctx_e"].params)
    assert spec.populations["gpi"].params["g_T"] > 0               # configs/circuit/default.yaml
    for key, bad, words in (("g_T", "-1*nS", "cannot be negative"), ("tau_h_plus", "0*ms", "must be positive"),
                            ("V_h", "-60*ms", "voltage")):
        with pytest.raises(ConfigError, match=rf"circuit\.populations\.gpi\.params\.{key}.*{words}"):
            build_spec(compose([f"circuit.populations.gpi.params.{key}={bad}"]))
