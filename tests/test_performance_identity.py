"""Compile once, run many, and batched sweeps give the same spike trains as single runs.

A point's spike trains are bitwise identical whether it ran alone, as a later point reusing the
compiled program (with other values run in between), or as one copy of a batched network; a
changed value (weight, seed, duration, motor command, DBS frequency and amplitude, TMS seed and
intensity) reuses the build; batched copies with different seeds differ. Timing is not tested here (see benchmarks/).
"""

from __future__ import annotations

import numpy as np
import pytest

from circuitsim import compose, device, simulate
from circuitsim.batch import simulate_batch
from circuitsim.errors import ConfigError

BASE = ["circuit.scale=0.25", "sim.duration=0.4s", "sim.transient=0.1s", "sim.progress=false",
        "readout.plots=[]", "readout.muscle.enabled=false", "task=turn_left",
        "task.command.start=0.15s", "task.command.stop=0.3s"]


def cfg(seed: int = 0, w: float = 1.0, *extra: str):
    return compose(BASE + [f"sim.seed={seed}", f"circuit.pathways.stn_gpe.weight_scale={w}", *extra])


def same_spikes(a, b) -> bool:
    return all(np.array_equal(a.spikes[p][0], b.spikes[p][0]) and np.array_equal(a.spikes[p][1], b.spikes[p][1])
               for p in a.spikes)


def n_spikes(r) -> int:
    return sum(t.size for _, t in r.spikes.values())


@pytest.fixture(scope="module")
def runs():
    out = {"alone": simulate(cfg(0, 1.0)), "builds_after_first": device.BUILD_COUNT}
    out["other_value"] = simulate(cfg(0, 1.5))            # a changed weight: same program
    out["other_seed"] = simulate(cfg(1, 1.0))             # a changed seed: same program
    out["again"] = simulate(cfg(0, 1.0))                  # back to the first point
    out["shorter"] = simulate(cfg(0, 1.0, "sim.duration=0.3s"))   # duration is data too
    out["builds_after_sweep"] = device.BUILD_COUNT
    out["batch"] = simulate_batch([cfg(0, 1.0), cfg(1, 1.0), cfg(0, 1.5)])
    return out


@pytest.mark.slow
def test_changed_values_reuse_the_build(runs):
    assert runs["builds_after_sweep"] == runs["builds_after_first"]
    for name in ("other_value", "other_seed", "again", "shorter"):
        assert runs[name].metrics["run"]["build_reused"], name
        assert runs[name].metrics["run"]["build_s"] == 0.0, name


@pytest.mark.slow
def test_compile_once_is_bitwise_identical_to_a_single_run(runs):
    alone = runs["alone"]
    assert n_spikes(alone) > 1000
    assert same_spikes(alone, runs["again"])
    assert not same_spikes(alone, runs["other_value"])
    assert not same_spikes(alone, runs["other_seed"])
    # the first 0.3 s do not depend on how long the run goes on
    short = runs["shorter"]
    for pop, (i, t) in alone.spikes.items():
        keep = t < 0.3 - 1e-9
        assert np.array_equal(short.spikes[pop][0], i[keep]) and np.array_equal(short.spikes[pop][1], t[keep]), pop


@pytest.mark.slow
def test_batched_copies_equal_single_runs_and_have_their_own_streams(runs):
    b0, b1, b2 = runs["batch"]
    assert [r.metrics["run"]["batch"]["index"] for r in runs["batch"]] == [0, 1, 2]
    assert same_spikes(b0, runs["alone"])
    assert same_spikes(b1, runs["other_seed"])
    assert same_spikes(b2, runs["other_value"])
    assert not same_spikes(b0, b1)          # same parameters, other seed: another random stream
    rates = lambda r: {p: m["rate_hz"] for p, m in r.metrics["populations"].items()}  # noqa: E731
    assert rates(b0) == rates(runs["alone"])


def test_batches_refuse_points_of_another_structure():
    with pytest.raises(ConfigError, match="circuit.populations"):
        simulate_batch([compose(["circuit.scale=0.25"]), compose(["circuit.scale=0.5"])])


STIM = {
    "dbs": ["stim=dbs_gpi", "stim.dbs_gpi.start=0.1s"],
    "tms": ["stim=tms_single", "~stim.contraction", "sim.duration=0.6s",
            "stim.tms_single.protocol=[{type: single, site: m1, intensity: 120%RMT, n: 3, interval: 0.1*second,"
            " start: 0.3*second}]"],
}
STIM_VALUES = {
    "dbs": (["stim.dbs_gpi.frequency=130*Hz"], ["stim.dbs_gpi.frequency=60*Hz", "stim.dbs_gpi.amplitude=2*mA"]),
    "tms": (["sim.seed=0"], ["sim.seed=1", "stim.tms_single.protocol.0.intensity=150%RMT"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(STIM))
def test_stimulation_values_reuse_the_build_and_match_a_fresh_build(kind, tmp_path):
    """A DBS frequency/amplitude change or a TMS seed/intensity change runs the program built for
    the first value, with the same spikes as a program built for the new value itself."""
    first, second = STIM_VALUES[kind]
    simulate(compose(BASE + STIM[kind] + first))
    builds = device.BUILD_COUNT
    reused = simulate(compose(BASE + STIM[kind] + second))
    assert device.BUILD_COUNT == builds and reused.metrics["run"]["build_reused"]
    fresh = simulate(compose(BASE + STIM[kind] + second + [f"sim.build_dir={tmp_path / 'fresh'}"]))
    assert not fresh.metrics["run"]["build_reused"]
    assert n_spikes(reused) > 500 and same_spikes(reused, fresh)
    if kind == "tms":   # the pulses did recruit elements in the reused program
        fractions = reused.extra["stim_data"]["tms_single"]["fractions"]
        assert max(max(f) for f in fractions.values()) > 0.1


def test_mechanisms_follow_what_the_circuit_uses():
    """No NMDA receptor and no command in the default circuit; a turn has a command; the TMS
    fibres open NMDA receptors; so does an NMDA background; the T current is computed where g_T
    is not 0 (STN's rebound bursts), and only there."""
    from circuitsim.circuit.builder import mechanisms, vector_gathers
    from circuitsim.spec import build_spec

    def mech(*overrides):
        return mechanisms(build_spec(compose(list(overrides))))

    default = mech()
    assert not default["nmda"] and not default["neuron_code"]
    assert not default["param_table"]                   # (1,670 neurons stay in the CPU caches)
    large = mech("circuit.scale=40")
    assert large["param_table"] == vector_gathers() and not mech("circuit.scale=40", "sim.vectorize=false")["param_table"]
    assert "stn" in default["t_current"] and "ctx_e" not in default["t_current"]
    assert "ctx_e" in mech("+circuit.populations.ctx_e.params.g_T=5*nS")["t_current"]
    assert mech("task=turn_left")["neuron_code"] == ("cortical_command",)
    assert mech(*STIM["tms"])["nmda"]
    assert mech("circuit.populations.stn.background.receptor=nmda")["nmda"]


@pytest.mark.slow
def test_leaving_unused_mechanisms_out_keeps_every_spike(monkeypatch):
    """The circuit without the NMDA conductance and the command stream it does not use (the
    default at rest), with the T current only where g_T is not 0, and with the parameters shared
    by a population read from its row of a table, has the same spike trains as the program with
    all of them compiled in everywhere and every parameter stored per neuron, and the same LFP
    currents to rounding."""
    import circuitsim.circuit.builder as builder
    from circuitsim.spec import build_spec

    rest = compose(BASE[:-3] + ["sim.seed=3"])          # BASE without the turn: no command
    monkeypatch.setattr(builder, "TABLE_MIN_NEURONS", 0)   # the table of a large circuit, here too
    assert builder.mechanisms(build_spec(rest))["param_table"] == builder.vector_gathers()
    lean = simulate(rest)
    monkeypatch.setattr(builder, "mechanisms",
                        lambda spec: {"nmda": True, "neuron_code": ("cortical_command",),
                                      "t_current": tuple(spec.populations), "param_table": False})
    full = simulate(rest)
    assert n_spikes(lean) > 1000 and same_spikes(lean, full)
    lfp_lean, lfp_full = lean.extra["lfp_currents"], full.extra["lfp_currents"]
    assert lfp_lean.keys() == lfp_full.keys() and lfp_lean
    for pop, (exc, inh) in lfp_lean.items():
        # the same sums, rounded where the compiler orders the sum differently
        assert np.allclose(exc, lfp_full[pop][0], rtol=1e-12, atol=0), pop
        assert np.allclose(inh, lfp_full[pop][1], rtol=1e-12, atol=0), pop
