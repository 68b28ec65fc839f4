"""The blocked neuron step (circuitsim/blocked_step.py) keeps every spike and every LFP sum.

It acts where the circuit reads its populations' parameters from the table (large circuits); the
slow tests make a scale-0.25 circuit use the table (``TABLE_MIN_NEURONS`` set to 0) and compare the
blocked program bitwise with the program Brian2 generates (table gathers) and with per-neuron
parameters: with a task's command, TMS pulses (whose GABA-B input runs on a subgroup), DBS, and
in a batched sweep.
"""

from __future__ import annotations

import numpy as np
import pytest

import circuitsim.circuit.builder as builder
from circuitsim import blocked_step, compose, simulate
from circuitsim.batch import simulate_batch
from test_performance_identity import n_spikes, same_spikes  # noqa: E402

BASE = ["circuit.scale=0.25", "sim.duration=0.5s", "sim.transient=0.1s", "sim.progress=false",
        "readout.plots=[]", "readout.muscle.enabled=false"]
CASES = {
    "task": ["task=turn_left", "task.command.start=0.2s", "task.command.stop=0.4s"],
    "tms": ["stim=tms_single", "~stim.contraction", "sim.seed=2", "stim.tms_single.protocol=[{type: single, "
            "site: m1, intensity: 120%RMT, n: 3, interval: 0.1*second, start: 0.2*second}]"],
    "dbs": ["stim=dbs_gpi", "stim.dbs_gpi.start=0.1s", "sim.seed=4"],
}


def same_lfp(a, b) -> bool:
    la, lb = a.extra["lfp_currents"], b.extra["lfp_currents"]
    return bool(la) and la.keys() == lb.keys() and all(
        np.array_equal(la[p][0], lb[p][0]) and np.array_equal(la[p][1], lb[p][1]) for p in la)


def test_plan_blocks_runs_of_loops_and_defers_only_independent_objects():
    loops = {"noise": ("loop", 0), "fix": ("loop", 0), "adder": ("sum", 0), "tcur": ("loop", 40),
             "update": ("loop", 0)}
    arrays = {"noise": {"neurons_k_bg"}, "fix": {"neurons_k_bg"}, "adder": {"neurons_v", "sums_abs"},
              "tcur": {"neurons_v"}, "sums_update": {"sums_abs", "sums_Q"}, "update": {"neurons_v"},
              "threshold": {"neurons_v"}, "monitor": {"spikes_i"}}
    order = ["monitor", "noise", "fix", "adder", "tcur", "sums_update", "update", "threshold"]
    clocks = {name: "defaultclock" for name in order}
    clocks["monitor"] = "slowclock"
    steps = blocked_step.plan([(clocks[n], n) for n in order], loops, arrays, "neurons_")
    # the sums' update touches no neuron array: it runs after the blocks; the threshold ends them
    assert steps == [("slowclock", "monitor"), ("block", "defaultclock", ["noise", "fix", "adder", "tcur", "update"]),
                     ("defaultclock", "sums_update"), ("defaultclock", "threshold")]
    # an object that shares an array with a later loop cannot move past it: the run is cut there
    arrays["sums_update"] = {"sums_abs", "neurons_k_bg"}
    steps = blocked_step.plan([(clocks[n], n) for n in order], loops, arrays, "neurons_")
    assert steps[1] == ("block", "defaultclock", ["noise", "fix", "adder", "tcur"])
    assert steps[2] == ("defaultclock", "sums_update") and steps[3] == ("defaultclock", "update")
    # a single loop is left alone
    assert blocked_step.plan([("c", "noise"), ("c", "threshold")], loops, arrays, "neurons_") == [
        ("c", "noise"), ("c", "threshold")]


_APPLY = blocked_step.apply


def _run(monkeypatch, tmp_path, overrides, tag: str, table: bool, blocked: bool):
    monkeypatch.setattr(builder, "TABLE_MIN_NEURONS", 0 if table else 10 ** 9)
    monkeypatch.setattr(blocked_step, "apply", _APPLY if blocked else lambda *args: [])
    return simulate(compose(BASE + overrides + [f"sim.build_dir={tmp_path / tag}"]))


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_blocked_step_keeps_every_spike_and_lfp_sum(monkeypatch, tmp_path, case):
    if not builder.vector_gathers():
        pytest.skip("the population table needs AVX-512 gathers (builder.vector_gathers)")
    gathered = _run(monkeypatch, tmp_path, CASES[case], "gathered", table=True, blocked=False)
    per_neuron = _run(monkeypatch, tmp_path, CASES[case], "per_neuron", table=False, blocked=True)
    blocked = _run(monkeypatch, tmp_path, CASES[case], "blocked", table=True, blocked=True)
    assert "_cs_blocked_" in (tmp_path / "blocked" / "main.cpp").read_text()
    for other in ("gathered", "per_neuron"):   # left as generated
        assert "_cs_blocked_" not in (tmp_path / other / "main.cpp").read_text()
    assert n_spikes(gathered) > 1000
    for other in (gathered, per_neuron):
        assert other.spikes.keys() == blocked.spikes.keys()
        assert same_spikes(other, blocked) and same_lfp(other, blocked)


@pytest.mark.slow
def test_blocked_batch_matches_single_runs(monkeypatch, tmp_path):
    if not builder.vector_gathers():
        pytest.skip("the population table needs AVX-512 gathers (builder.vector_gathers)")
    configs = [compose(BASE + CASES["task"] + [f"sim.seed={s}"]) for s in (0, 1)]
    monkeypatch.setattr(builder, "TABLE_MIN_NEURONS", 0)
    batch = simulate_batch(configs, workers=1)
    monkeypatch.setattr(builder, "TABLE_MIN_NEURONS", 10 ** 9)
    for k in range(2):
        single = simulate(compose(BASE + CASES["task"] + [f"sim.seed={k}", f"sim.build_dir={tmp_path / 'single'}"]))
        assert single.spikes.keys() == batch[k].spikes.keys() and same_spikes(single, batch[k])
