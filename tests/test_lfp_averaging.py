"""The LFP proxy's currents are bin averages (box-car over each ``readout.lfp_dt``), not point samples.

The neuron model integrates the magnitudes of its synaptic currents into charges (``Q_exc``,
``Q_inh``); the network sums them per population every step, and the builder's
:func:`~circuitsim.circuit.builder.lfp_currents` turns differences of the sums into each bin's
mean of ``sum_i |I_i|``. Checked here: against synthetic currents with a known answer (edges,
partial bins, float64 precision after a long run); against a record of every recorded neuron's
currents at every time step of a real run (runtime and cpp_standalone); and, during 130 Hz GPi
DBS, that the alias lines point sampling at 1 kHz puts at |130 k - 1000 m| Hz are gone and the
relative band powers agree with those of the currents recorded at every step.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from circuitsim import compose
from circuitsim import device as devices
from circuitsim.analysis import spectra as sp
from circuitsim.analysis.lfp import lfp_proxy
from circuitsim.api import _initial_state_rng
from circuitsim.circuit.builder import build_network, lfp_currents, lfp_rows
from circuitsim.circuit.connectivity import connect_all
from circuitsim.circuit.layout import make_layout
from circuitsim.circuit.models import LFP_CHARGES
from circuitsim.spec import build_spec

CURRENTS = tuple(LFP_CHARGES)


# ------------------------------------------------------------------ synthetic charges, known answer


def _fake_built(currents: dict, dt: float, lfp_dt: float, charge_offset: float = 0.0):
    """A stand-in for a BuiltNetwork after a run: per-step currents of one population's recorded
    neurons (neurons, steps) -> what the monitor of the population sums would hold (the summed
    charges of |I| at the start of the step of each recording) and the sums' final state."""
    n_steps = next(iter(currents.values())).shape[1]
    t_end = n_steps * dt
    t_rec = np.arange(0.0, t_end - 1e-12, lfp_dt)             # recordings every lfp_dt from t = 0
    first_step = np.ceil(t_rec / dt - 1e-6).astype(int)        # the step a recording happens at
    sums = SimpleNamespace()
    mon = SimpleNamespace(t_=t_rec, source=sums)
    group = SimpleNamespace(clock=SimpleNamespace(dt_=dt), t_=np.float64(t_end))
    for name, i in currents.items():
        q = charge_offset + np.concatenate([[0.0], np.cumsum(np.abs(i).sum(axis=0) * dt)])
        setattr(mon, LFP_CHARGES[name] + "_", q[None, first_step])
        setattr(sums, LFP_CHARGES[name] + "_", q[None, -1])
    return SimpleNamespace(lfp_monitor=mon, group=group), first_step


def _bin_means_of_sums(i: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(1, bins): the mean over each bin's steps of sum_i |I_i|."""
    total = np.abs(i).sum(axis=0)
    return np.array([[total[a:b].mean() for a, b in zip(edges[:-1], edges[1:])]])


@pytest.mark.parametrize("lfp_dt_steps, n_steps", [(10, 1000), (10, 1005), (2.5, 101), (1, 40)])
def test_bins_are_exact_means_of_the_steps(lfp_dt_steps, n_steps):
    dt = 1e-4
    rng = np.random.default_rng(3)
    # currents that change sign: the magnitudes are integrated, so a bin's value is the mean of |I|
    currents = {name: rng.normal(0.0, 1e-9, (3, n_steps)) + 2e-10 for name in CURRENTS}
    built, first = _fake_built(currents, dt, lfp_dt_steps * dt)
    got = lfp_currents(built)
    edges = np.append(first, n_steps)
    for name, i in currents.items():
        want = _bin_means_of_sums(i, edges)
        assert got[name].shape == (1, first.size)       # one row per population, one bin per recording
        np.testing.assert_allclose(got[name], want, rtol=1e-9, atol=1e-9 * np.abs(want).max())


def test_long_runs_keep_float64_precision():
    """The charges of a 918 s run (the longest TMS preset) of a steady 1 nA current: the bins' mean
    currents still come out to ~1e-9 relative (the docstring's 2e-16 * T / lfp_dt)."""
    dt, lfp_dt, t_long = 1e-4, 1e-3, 918.0
    rng = np.random.default_rng(4)
    currents = {name: 1e-9 + rng.normal(0.0, 2e-10, (3, 2000)) for name in CURRENTS}
    built, first = _fake_built(currents, dt, lfp_dt, charge_offset=1e-9 * t_long)
    got = lfp_currents(built)
    edges = np.append(first, 2000)
    for name, i in currents.items():
        want = _bin_means_of_sums(i, edges)
        err = np.abs(got[name] - want).max() / np.abs(want).max()
        assert err < 20 * np.finfo(float).eps * t_long / lfp_dt, err


def test_no_monitor_gives_no_currents():
    assert lfp_currents(SimpleNamespace(lfp_monitor=None)) == {}


# ------------------------------------------------------------------------------- real simulations


def _run_with_probes(overrides, population: str):
    """Run the circuit with two extra monitors of ``population``'s LFP neurons at every time step:
    at the start of the step (what the former point-sampling monitor saw at its recordings) and
    just before the state update (the currents the update integrates)."""
    from brian2 import StateMonitor

    spec = build_spec(compose(["sim.progress=false", "readout.plots=[]", *overrides]))
    layout = make_layout(spec)
    connections = connect_all(spec, layout, spec.sim.seed)
    with devices.selected_device(spec):
        built = build_network(spec, layout, connections, _initial_state_rng(spec.sim.seed))
        rows = lfp_rows(spec, layout)[population]
        at_start = StateMonitor(built.group, list(CURRENTS), record=rows, when="start", name="probe_start")
        at_update = StateMonitor(built.group, list(CURRENTS), record=rows, when="groups", order=-1,
                                 name="probe_update")
        built.net.add(at_start, at_update)

        def read():
            mine = built.lfp_neurons[population]
            return {"avg": {k: v[mine] for k, v in lfp_currents(built).items()},
                    "t_rec": np.asarray(built.lfp_monitor.t_[:]).copy(),
                    "start": {k: np.asarray(getattr(at_start, k + "_")).copy() for k in CURRENTS},
                    "update": {k: np.asarray(getattr(at_update, k + "_")).copy() for k in CURRENTS}}

        out, _ = devices.run(built.net, spec, built.namespace, built.n_synapses, read)
    return spec, out


def _assert_bin_means(spec, out):
    steps = np.ceil(np.append(out["t_rec"], spec.sim.duration) / spec.sim.dt - 1e-6).astype(int)
    for name in CURRENTS:
        full = out["update"][name]
        assert full.shape[1] == steps[-1]
        want = _bin_means_of_sums(full, steps)
        assert out["avg"][name].shape == want.shape
        np.testing.assert_allclose(out["avg"][name], want, rtol=0, atol=1e-9 * np.abs(want).max())
        # and they are not the point samples (the currents change within a bin)
        points = np.abs(out["start"][name][:, steps[:-1]]).sum(axis=0, keepdims=True)
        assert np.abs(points - want).max() > 1e-3 * np.abs(want).max()


@pytest.mark.slow
@pytest.mark.parametrize("lfp_dt", ["1*ms", "0.25*ms"])
def test_runtime_device_records_bin_means(lfp_dt):
    # 100.5 ms: the last bin is a partial one; 0.25 ms is not a whole number of 0.1 ms steps
    spec, out = _run_with_probes(["sim.device=runtime", "sim.codegen_target=numpy", "circuit.scale=0.25",
                                  "sim.duration=100.5*ms", "sim.transient=0s", "readout.lfp_neurons=3",
                                  f"readout.lfp_dt={lfp_dt}"], "gpi")
    assert out["avg"]["I_exc"].shape[1] == int(np.ceil(spec.sim.duration / spec.readout.lfp_dt - 1e-9))
    _assert_bin_means(spec, out)


@pytest.fixture(scope="module")
def dbs_run():
    return _run_with_probes(["stim=dbs_gpi", "sim.duration=2.2s"], "gpi")


def _alias_frequencies(f_pulse: float, fs: float, f_max: float, fs_fine: float) -> list:
    """Where point sampling at ``fs`` folds the pulse harmonics k * f_pulse (below fs_fine / 2) into (1, f_max) Hz."""
    out = set()
    for k in range(1, int(fs_fine / 2 / f_pulse) + 1):
        f = k * f_pulse
        alias = abs(f - fs * round(f / fs))
        if f > fs / 2 and 1.0 < alias < f_max:
            out.add(round(alias, 6))
    return sorted(out)


@pytest.mark.slow
def test_standalone_records_bin_means_during_dbs(dbs_run):
    _assert_bin_means(*dbs_run)


@pytest.mark.slow
def test_dbs_pulse_harmonics_no_longer_alias_into_the_lfp_band(dbs_run):
    spec, out = dbs_run
    f_pulse = spec.stimuli["dbs_gpi"]["frequency"]
    fs, fs_fine = 1.0 / spec.readout.lfp_dt, 1.0 / spec.sim.dt
    per = int(round(fs_fine / fs))

    def spectrum(exc, inh, rate):
        x = lfp_proxy(exc.T, inh.T, rate)[int(round(spec.sim.transient * rate)):]
        return sp.welch_psd(x, rate, segment_s=1.0)

    n = out["avg"]["I_exc"].shape[1]
    spectra = {
        "point": spectrum(out["start"]["I_exc"][:, ::per][:, :n], out["start"]["I_inh"][:, ::per][:, :n], fs),
        "averaged": spectrum(out["avg"]["I_exc"], out["avg"]["I_inh"], fs),
        "every step": spectrum(out["update"]["I_exc"], out["update"]["I_inh"], fs_fine),   # the reference
    }
    # the strongest alias lines come from the harmonics nearest fs: 7 x 130 = 910 -> 90 Hz, 8 x 130 -> 40 Hz
    lines = _alias_frequencies(f_pulse, fs, 100.0, fs_fine)
    assert 90.0 in lines and 40.0 in lines
    at = lambda name, f0: spectra[name][1][np.argmin(np.abs(spectra[name][0] - f0))]  # noqa: E731
    for f0 in (90.0, 40.0):
        # box-car: the 910 / 1040 Hz harmonics are attenuated by sinc(f / fs)^2 ~ 1e-2 / 1.5e-3 in power;
        # what the averaged record holds there beyond the circuit's own power at f0 (the every-step
        # reference) is the alias left
        alias_left = at("averaged", f0) - at("every step", f0)
        assert alias_left < 0.05 * at("point", f0), (f0, at("averaged", f0), at("every step", f0), at("point", f0))
        # (the alias the point samples carry: 12x the circuit's own 40 Hz power on this version,
        # whose STN rebound current adds genuine power there; the bound was 20x)
        assert at("point", f0) > 5 * at("every step", f0)
    # relative band powers (the metrics' definition) now agree with the currents of every step
    bands = {**sp.BANDS, "low": (4.0, 10.0)}
    rel = {name: sp.band_powers(f, psd, bands) for name, (f, psd) in spectra.items()}
    for band in bands:
        ref = rel["every step"][band]
        assert abs(rel["averaged"][band] - ref) <= 0.15 * ref + 0.005, (band, rel["averaged"][band], ref)
    # while the point samples put most of the 1-100 Hz power into alias lines: 4-10 Hz looked far smaller
    assert rel["point"]["low"] < 0.5 * rel["every step"]["low"]
