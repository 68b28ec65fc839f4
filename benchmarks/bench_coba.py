"""Benchmark 2: circuitsim against a reference network, same process, same device.

The reference is the conductance-based benchmark network of Brette et al. 2007 (J Comput
Neurosci 23:349, benchmark 1 "COBA", after Vogels & Abbott 2005): 4000 integrate-and-fire
neurons (80 % excitatory), connection probability 0.02, membrane 200 pF / 10 nS (tau_m 20 ms),
rest and reset -60 mV, threshold -50 mV, refractory 5 ms, excitatory synapses +6 nS onto a 5 ms
conductance with reversal 0 mV, inhibitory +67 nS onto 10 ms with -80 mV; dt 0.1 ms; 1 s. It is
built and run here with Brian2's cpp_standalone device and circuitsim's compiler flags, and its
runs alternate with runs of the default circuit (2 s) in the same process, so both see the same load. Synaptic events = spikes x the synapses each
drives; events per second over Brian2's own simulation-loop time; neuron-steps per second (neurons
x time steps over the loop time, which leaves out the program's start, as a marginal time does)
for the per-neuron work, and the ratio of the time per neuron-step. Medians of --repeats runs.

    python benchmarks/bench_coba.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, synaptic_events, table  # noqa: E402

# Brette et al. 2007, benchmark 1 (COBA)
N, N_EXC, P_CONNECT = 4000, 3200, 0.02
COBA = dict(Cm=200e-12, gL=10e-9, El=-60e-3, Vt=-50e-3, Vr=-60e-3, Ee=0.0, Ei=-80e-3, taue=5e-3, taui=10e-3,
            we=6e-9, wi=67e-9, refractory=5e-3)


def _run_program(build: str, k: int) -> float:
    """Run the compiled reference program once more; Brian2's simulation-loop time (s)."""
    results = os.path.join(build, f"results_{k}")
    os.makedirs(results, exist_ok=True)
    subprocess.run([os.path.join(build, "main"), "--results_dir", results + os.sep], cwd=build, check=True,
                   capture_output=True)
    with open(os.path.join(results, "last_run_info.txt")) as fh:
        return float(fh.read().split()[0])


def coba(repeats: int, flags, between: Callable[[], None] = lambda: None) -> dict:
    """Build the reference network once, run its program ``repeats`` times, calling ``between()``
    after each run (the circuit's runs, interleaved); loop seconds and events."""
    import brian2 as b2
    from brian2 import device, ms, prefs, second, set_device

    with tempfile.TemporaryDirectory() as build:
        set_device("cpp_standalone", build_on_run=False)
        saved = list(prefs["codegen.cpp.extra_compile_args_gcc"])
        prefs.codegen.cpp.extra_compile_args_gcc = flags
        b2.defaultclock.dt = 0.1 * ms
        ns = {k: v for k, v in COBA.items()}
        eqs = """
        dv/dt = (gL*(El - v) + ge*(Ee - v) + gi*(Ei - v))/Cm : volt (unless refractory)
        dge/dt = -ge/taue : siemens
        dgi/dt = -gi/taui : siemens
        """
        units = dict(Cm=b2.farad, gL=b2.siemens, El=b2.volt, Vt=b2.volt, Vr=b2.volt, Ee=b2.volt, Ei=b2.volt,
                     taue=second, taui=second, we=b2.siemens, wi=b2.siemens, refractory=second)
        ns = {k: v * units[k] for k, v in ns.items()}
        group = b2.NeuronGroup(N, eqs, threshold="v > Vt", reset="v = Vr", refractory=ns["refractory"],
                               method="euler", namespace=ns, name="coba")
        exc = b2.Synapses(group[:N_EXC], group, on_pre="ge += we", namespace=ns, name="coba_exc")
        inh = b2.Synapses(group[N_EXC:], group, on_pre="gi += wi", namespace=ns, name="coba_inh")
        rng = np.random.default_rng(2007)
        for syn, n_src, offset in ((exc, N_EXC, 0), (inh, N - N_EXC, 0)):
            mask = rng.random((n_src, N)) < P_CONNECT
            i, j = np.nonzero(mask)
            syn.connect(i=i, j=j)
        group.v = (ns["El"] / b2.volt + rng.uniform(0, 10e-3, N)) * b2.volt  # between rest and threshold
        group.ge = rng.uniform(0, 10e-9, N) * b2.siemens
        group.gi = rng.uniform(0, 100e-9, N) * b2.siemens
        spikes = b2.SpikeMonitor(group, name="coba_spikes")
        net = b2.Network(group, exc, inh, spikes)
        net.run(1 * second)
        device.build(directory=build, compile=True, run=False)
        device.run(directory=build, results_directory="results_0", with_output=False)
        loops = [device._last_run_time]
        out_degree = np.concatenate([np.bincount(np.asarray(exc.i[:]), minlength=N_EXC),
                                     np.bincount(np.asarray(inh.i[:]), minlength=N - N_EXC)])
        events = int(out_degree[np.asarray(spikes.i[:])].sum())
        n_spikes = int(spikes.num_spikes)
        device.reinit()
        prefs.codegen.cpp.extra_compile_args_gcc = saved
        set_device("runtime")
        between()
        for k in range(1, repeats):    # the same program again, alternating with the circuit
            loops.append(_run_program(build, k))
            between()
    loop = statistics.median(loops)
    return {"network": "COBA (Brette et al. 2007)", "neurons": N, "synapses": int(out_degree.sum()),
            "sim s": 1.0, "spikes": n_spikes, "loop s/sim s": loop / 1.0, "events/s": events / loop,
            "neuron-steps/s": N * 10_000 / loop}


def circuit_runner():
    """(run, summary): ``run()`` simulates the default circuit once (2 s, no figures; the first
    may build, which Brian2's loop time leaves out); ``summary()`` the medians of those runs."""
    from circuitsim import compose, simulate

    cfg = compose(["sim.duration=2s", "sim.progress=false", "readout.plots=[]"])
    results = []
    return (lambda: results.append(simulate(cfg))), (lambda: circuit(cfg, results))


def circuit(cfg, results) -> dict:
    from circuitsim.circuit.connectivity import connect_all
    from circuitsim.circuit.layout import make_layout
    from circuitsim.spec import build_spec

    result = results[-1]
    loop = statistics.median([r.metrics["run"]["sim_loop_s"] for r in results])
    spec = build_spec(cfg)
    layout = make_layout(spec)
    events = synaptic_events(result, spec, layout, connect_all(spec, layout, spec.sim.seed))
    return {"network": "circuitsim default circuit", "neurons": layout.n,
            "synapses": result.metrics["run"]["n_synapses"], "sim s": 2.0,
            "spikes": int(sum(t.size for _, t in result.spikes.values())), "loop s/sim s": loop / 2.0,
            "events/s": events / loop, "neuron-steps/s": layout.n * 20_000 / loop}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from circuitsim import compose
    from circuitsim.device import compile_flags
    from circuitsim.spec import build_spec

    flags = compile_flags(build_spec(compose([])))
    print(f"# Benchmark 2: circuitsim vs the COBA reference network\n\nmachine: {machine()}\n"
          f"device: cpp_standalone, 1 thread, flags {' '.join(flags)}\n")
    run, summary = circuit_runner()
    ref = coba(args.repeats, flags, between=run)   # each reference run followed by a circuit run
    mine = summary()
    print(table([ref, mine], ["network", "neurons", "synapses", "sim s", "spikes", "loop s/sim s", "events/s",
                              "neuron-steps/s"]))
    ratio = mine["events/s"] / ref["events/s"]
    print(f"\ncircuitsim / COBA synaptic events per second: {ratio:.2f} (target >= 0.5: {'met' if ratio >= 0.5 else 'NOT met'})")
    step = ref["neuron-steps/s"] / mine["neuron-steps/s"]
    print(f"circuitsim / COBA time per neuron-step: {1e9 / mine['neuron-steps/s']:.2f} / {1e9 / ref['neuron-steps/s']:.2f} ns "
          f"= {step:.2f} (issue 22's target <= 3: {'met' if step <= 3 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
