"""Builder: a validated :class:`~circuitsim.spec.RunSpec` -> an explicit Brian2 ``Network``.

The whole circuit is one ``NeuronGroup`` (see :mod:`circuitsim.circuit.models`) with one
``Synapses`` object per receptor type holding the synapses of every pathway of that type.
Few objects mean little generated code (a short build) and little per-step overhead; every
per-neuron and per-synapse value is data, so it can change without new code.

A new kind of stimulus is a build function registered in :mod:`circuitsim.circuit.registry`;
the builder itself does not change.

Only the mechanisms a circuit uses are generated (:func:`mechanisms`): no NMDA conductance and
Mg2+ block where nothing opens NMDA receptors, a stimulus kind's neuron code (the motor command's
Poisson stream) only where the config holds that kind.

LFP readout: of ``readout.lfp_neurons`` neurons of each population, a small group ``lfp_sums``,
one row per population, integrates the summed magnitudes of their synaptic currents into the
charges ``Q_exc``, ``Q_inh`` (since t = 0; the sum is a Brian2 summed variable formed every step
before the neurons' update, so the other neurons pay nothing; see
:mod:`circuitsim.circuit.models`), and its monitor records them every ``readout.lfp_dt``; :func:`lfp_currents` turns them into each bin's
mean, ``(Q[k+1] - Q[k]) / (t[k+1] - t[k])``: the population's ``sum_i |I_i|`` averaged over
``[k*lfp_dt, (k+1)*lfp_dt)``, exact to the time step (the edges are step times; the last edge is
the end of the run, the sums' final state), not a point sample, so currents that change within a
bin (a DBS pulse's synaptic events) alias into the LFP's band only through the box-car's sinc
side lobes (see :mod:`circuitsim.analysis.lfp`). Summing in the network keeps the recording to
one row per population: 918 s of the default circuit record 0.2 GB instead of 4.4 GB.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

import numpy as np
from brian2.units.fundamentalunits import get_unit
from brian2 import (Hz, NeuronGroup, Network, SpikeMonitor, StateMonitor, Synapses, amp, farad,
                    mV, ms, second, siemens, volt)

from circuitsim.circuit.connectivity import Connections
from circuitsim.circuit.registry import STIMULUS_BUILDERS, BuildContext
from circuitsim.circuit.layout import Layout
from circuitsim.circuit.models import (ADEX_REFRACTORY, ADEX_RESET, ADEX_THRESHOLD, FUNCTIONS,
                                       LFP_CHARGES, NEURON_BLOCK, PARAM_TABLE, TABLE_PARAMS, adex_equations,
                                       noise_code, t_current_code)
from circuitsim.plugins import STIMULI
from circuitsim.spec import NEURON_PARAMS, RECEPTOR_NAMES, Pathway, RunSpec

logger = logging.getLogger(__name__)

_SI_UNITS = {"capacitance": farad, "conductance": siemens, "voltage": volt, "current": amp,
             "time": second}

@dataclass
class BuiltNetwork:
    net: Network
    group: NeuronGroup
    synapses: Dict[str, Synapses]
    spike_monitor: SpikeMonitor
    lfp_monitor: Optional[StateMonitor]    # per-population sums of Q_exc, Q_inh; see lfp_currents()
    lfp_neurons: Dict[str, np.ndarray]     # population -> its row of lfp_monitor (an array of one)
    namespace: Dict[str, Any]
    n_synapses: Dict[str, int]             # pathway -> synapse count
    recorders: Dict[str, Any] = None       # stimulus name -> callable() giving its recorded data


#: At most this many compiled loops update the T current; more runs of adjacent populations with
#: one (a batched sweep has one run per copy) become one span from the first run's start to the
#: last one's end. Its other neurons have g_T = 0 and compute I_T = 0, which they add as they add
#: their stored 0 (the same spikes: tests/test_performance_identity.py computes the T current in
#: every neuron). Numerical choice: every loop is one more C++ file to compile (seconds each),
#: while the span costs the T current's few operations per neuron and step.
T_CURRENT_LOOPS = 2


#: Networks of at least this many neurons read their populations' shared parameters from a table
#: (``param_table`` of :func:`mechanisms`). Numerical choice, measured with
#: ``benchmarks/bench_step.py --scales 1 60`` (docs/performance.md, fifth round): the table's
#: vector gathers made the default circuit's step 1.45x slower at scale 1 (1,728 neurons, whose
#: state stays in the CPU caches) and 0.75x at scale 60 (100,224 neurons, 25 MB of per-neuron
#: state, streamed from memory in every step). 65,536 neurons hold about 16 MB of that state,
#: half the 32 MB L3 cache of the machine measured. Since then the standalone program reads the
#: table through per-block buffers instead of gathers (:mod:`circuitsim.blocked_step`, scale 60
#: 0.80x more, bitwise the same); the threshold was not measured again.
TABLE_MIN_NEURONS = 65536


def namespace_for(spec: RunSpec) -> Dict[str, Any]:
    """Constants and functions referenced by the generated code (receptor kinetics, noise)."""
    ns: Dict[str, Any] = dict(FUNCTIONS)
    for name, rec in spec.receptors.items():
        ns[f"tau_{name}"] = rec.tau * second
        ns[f"E_{name}"] = rec.E * volt
    return ns


def mechanisms(spec: RunSpec) -> Dict[str, bool]:
    """Which optional mechanisms the circuit's neurons compute (structural: part of the build key).

    ``nmda``: the NMDA conductance and its Mg2+ block, where a pathway or a population's
    background uses the receptor, or a stimulus's parameters name it (the TMS fibres'); else
    ``g_nmda`` would stay 0 in every neuron. ``neuron_code``: the stimulus kinds of the config
    that add code to every neuron (their :class:`~circuitsim.plugins.NeuronCode`, e.g. the motor
    command's Poisson stream); a kind not in the config adds nothing. Leaving a mechanism out
    does not change a spike (tests/test_performance_identity.py); it saves the neuron step an
    exp() (NMDA) and the noise a hash per neuron (command). ``t_current``: the
    populations with a T current (``g_T`` not 0); only their neurons update it
    (:func:`circuitsim.circuit.models.t_current_code`), the others add a stored ``I_T`` of 0.
    ``param_table``: the parameters that are the same within a population
    (:data:`~circuitsim.circuit.models.TABLE_PARAMS`) are read from one row per population
    instead of one value per neuron, in ``cpp_standalone`` with ``sim.vectorize`` where
    :func:`vector_gathers`, in networks of at least ``TABLE_MIN_NEURONS`` (the same spikes:
    tests/test_performance_identity.py).
    """
    def names_nmda(x: Any) -> bool:
        if isinstance(x, Mapping):
            return any(names_nmda(k) or names_nmda(v) for k, v in x.items())
        if isinstance(x, (list, tuple)):
            return any(names_nmda(v) for v in x)
        return isinstance(x, str) and "nmda" in x.lower()

    nmda = (any(pw.receptor == "nmda" for pw in spec.pathways.values())
            or any(pop.bg_receptor == "nmda" for pop in spec.populations.values())
            or any(names_nmda(stim) for stim in spec.stimuli.values()))
    neuron_code = tuple(sorted({stim["kind"] for stim in spec.stimuli.values()
                                if STIMULI[stim["kind"]].neuron is not None}))
    t_current = tuple(p.name for p in spec.populations.values() if p.params["g_T"] != 0)
    table = (spec.sim.device == "cpp_standalone" and spec.sim.vectorize and vector_gathers()
             and sum(p.n for p in spec.populations.values()) >= TABLE_MIN_NEURONS)
    return {"nmda": bool(nmda), "neuron_code": neuron_code, "t_current": t_current, "param_table": table}


def vector_gathers() -> bool:
    """Whether the standalone program is compiled for a CPU whose vector gathers gcc uses: Brian2's
    ``-march=native`` on a CPU with AVX-512. Only then do the loops that read the per-population
    table (:data:`~circuitsim.circuit.models.TABLE_PARAMS`) vectorise, with the same vector
    ``exp()`` as the loops over per-neuron values, so the same spikes; elsewhere (SSE2's portable
    ``-march=x86-64``, which the reference spike trains use; gcc 12's tuning for AVX2-only AMD
    CPUs, which turns gathers off) the parameters stay per neuron, as before."""
    from brian2 import prefs

    if "-march=native" not in prefs["codegen.cpp.extra_compile_args_gcc"]:
        return False
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return " avx512f" in flags


def _code_of(objects) -> str:
    """The abstract code of Brian2 objects and of the objects they contain (run_regularly, pathways)."""
    seen, texts, todo = set(), [], list(objects)
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        for attr in ("abstract_code", "code"):
            code = getattr(obj, attr, None)
            if isinstance(code, str):
                texts.append(code)
            elif isinstance(code, Mapping):
                texts.extend(str(c) for c in code.values())
        todo.extend(getattr(obj, "contained_objects", ()))
        todo.extend(getattr(obj, "_pathways", ()))
    return "\n".join(texts)


def lfp_rows(spec: RunSpec, layout: Layout) -> Dict[str, np.ndarray]:
    """The neurons of each population whose synaptic currents are recorded (evenly spread)."""
    out = {}
    for name in spec.populations:
        idx = layout.indices(name)
        n = min(spec.readout.lfp_neurons, idx.size)
        out[name] = idx[np.linspace(0, idx.size - 1, n).astype(int)] if n else idx[:0]
    return out


def lfp_currents(built: BuiltNetwork) -> Dict[str, np.ndarray]:
    """Mean summed current magnitudes of each population's recorded neurons in each LFP bin.

    Returns ``{"I_exc": ..., "I_inh": ...}``, arrays of shape (populations, bins) in amp (rows as
    ``built.lfp_neurons``): row p, bin k is ``sum_i |I_i|`` over population p's recorded neurons,
    averaged over ``[t[k], t[k+1])`` with ``t[k]`` the monitor's k-th recording time and the last
    bin ending at the end of the run, so there are as many bins as recordings. Each value is the
    bin's charge difference divided by the bin's length in whole time steps; the sum at a
    recording holds every step before it (the monitor records at the start of a step, the sums
    are formed after the neurons' update of the step before), the final sum every step of the run.

    Precision: the charges grow over a run; a bin's mean current carries a relative rounding
    error of about ``2.2e-16 * |Q(T)| / |Q[k+1] - Q[k]|``, i.e. ``~2e-16 * T / lfp_dt``
    for a current of steady size (2e-10 for 918 s at 1 ms): negligible in float64.
    """
    mon = built.lfp_monitor
    if mon is None:
        return {}
    dt = float(built.group.clock.dt_)
    t_rec = np.asarray(mon.t_[:], dtype=float)
    t_end = float(np.asarray(built.group.t_))
    # bin edges as step counts: a recording at t sees the steps n with n*dt < t (tolerance for
    # rounding in t; lfp_dt >= dt keeps edges distinct)
    edges = np.ceil(np.append(t_rec, t_end) / dt - 1e-6)
    width = np.diff(edges) * dt
    sums = mon.source
    out = {}
    for current, charge in LFP_CHARGES.items():
        q = np.asarray(getattr(mon, charge + "_"), dtype=float)            # (populations, recordings)
        q_end = np.asarray(getattr(sums, charge + "_")[:], dtype=float)
        out[current] = np.diff(np.hstack([q, q_end[:, None]]), axis=1) / width
    return out


def padded_size(n: int) -> int:
    """Size of the neuron group holding ``n`` neurons: the next multiple of NEURON_BLOCK."""
    return -(-n // NEURON_BLOCK) * NEURON_BLOCK


def _weights(pathway: Pathway, connections: Connections, layout: Layout) -> np.ndarray:
    """Each synapse's weight: the pathway's, times its target channel's factor if lateralised."""
    w = np.full(connections.n, pathway.weight)
    if pathway.channel_scale:
        w *= np.asarray(pathway.channel_scale)[layout.channel[connections.j]]
    return w


def _param_table(group: NeuronGroup, per_neuron: Dict[str, tuple], pop: np.ndarray, n_pops: int) -> NeuronGroup:
    """Point the group's :data:`~circuitsim.circuit.models.TABLE_PARAMS` at a table of one row
    per population (row ``n_pops``: the padding neurons), the group ``neuron_params``, through each
    neuron's row ``prow``, and fill the table from ``per_neuron`` (name -> (values of every neuron,
    unit); a population's neurons share one value); returns the table's group (it has no
    equations to integrate, so it compiles to no code in the network). Call it after the group's subgroups and
    synapses exist: a ``Subgroup`` cannot refer to a variable with an index of its own (Brian2
    2.9 raises), and a ``Synapses`` object made later would leave the table's names out of its
    ``_post`` variables."""
    prow = np.where(pop < 0, n_pops, pop).astype(np.int32)
    first = np.full(n_pops + 1, 0)
    first[prow[::-1]] = np.arange(prow.size)[::-1]          # a neuron of each row (empty rows: neuron 0)
    rows = NeuronGroup(n_pops + 1, "\n".join(f"{key} : {group.equations[key].unit!r} (constant)"
                                             for key in TABLE_PARAMS), name=PARAM_TABLE)
    for key in TABLE_PARAMS:
        value, unit = per_neuron[key]
        if not np.array_equal(value[first[prow]], value):
            raise RuntimeError(f"{key} differs within a population; it cannot be kept once per population")
        setattr(rows, key, value[first] * unit)
        group.variables.add_reference(key, rows, key, index="prow")
    group.prow = prow
    return rows


def build_network(spec: RunSpec, layout: Layout, connections: Mapping[str, Connections],
                  rng: np.random.Generator, rng_keys: Optional[tuple] = None) -> BuiltNetwork:
    """Create every Brian2 object of the circuit. Call after the device has been chosen.

    The group is padded with unconnected, silent neurons up to :func:`padded_size` (see
    ``NEURON_BLOCK``). ``rng_keys`` = (seed, index) arrays of the group's size give each neuron's
    random stream (default: the run's seed and the neuron's index); batched sweeps pass their own.
    """
    n_real = layout.n
    n = padded_size(n_real)
    mech = mechanisms(spec)
    codes = [STIMULI[kind].neuron for kind in mech["neuron_code"]]
    variables = "\n".join(code.variables for code in codes)
    table = bool(mech.get("param_table"))
    group = NeuronGroup(n, adex_equations(nmda=mech["nmda"], t_inline=False, variables=variables, table=table),
                        threshold=ADEX_THRESHOLD, reset=ADEX_RESET,
                        refractory=ADEX_REFRACTORY, method="euler", name="neurons")
    values: Dict[str, np.ndarray] = {key: np.empty(n) for key in NEURON_PARAMS}
    bg = {f"w_bg_{r}": np.zeros(n) for r in RECEPTOR_NAMES}
    nu_bg = np.zeros(n)
    v0 = np.empty(n)
    # padding neurons: the first population's cell type without bias or input, at rest
    first = next(iter(spec.populations.values()))
    for key in NEURON_PARAMS:
        values[key][n_real:] = 0.0 if key == "I_bias" else first.params[key]
    v0[n_real:] = first.params["EL"]
    for pop in spec.populations.values():
        start, stop = layout.slices[pop.name]
        for key in NEURON_PARAMS:
            values[key][start:stop] = pop.params[key]
        nu_bg[start:stop] = pop.bg_rate
        bg[f"w_bg_{pop.bg_receptor}"][start:stop] = pop.bg_weight
        # initial membrane potentials spread between rest and threshold, so the circuit starts asynchronous
        v0[start:stop] = rng.uniform(pop.params["EL"], pop.params["VT"], stop - start)
    per_neuron = {key: (values[key], _SI_UNITS[dim]) for key, dim in NEURON_PARAMS.items()}
    per_neuron.update({key: (arr, siemens) for key, arr in bg.items()}, nu_bg=(nu_bg, Hz))
    pad = np.full(n - n_real, -1, dtype=np.int32)
    # the table's parameters are linked last (see _param_table): kept aside until then
    in_table = {key: per_neuron.pop(key) for key in (TABLE_PARAMS if table else ())}
    for key, (value, unit) in per_neuron.items():
        setattr(group, key, value * unit)
    group.v = v0 * volt
    group.pop = np.concatenate([layout.pop_index, pad])
    group.channel = np.concatenate([layout.channel, pad])
    seeds, index = rng_keys if rng_keys is not None else (np.full(n, spec.sim.seed), np.arange(n))
    group.rng_seed = np.asarray(seeds, dtype=np.int32)
    group.rng_index = np.asarray(index, dtype=np.int32)
    # a stimulus kind's per-neuron data (the motor command's rate, weight, window): 0 unless its builder sets it
    for code in codes:
        for key in code.data:
            setattr(group, key, np.zeros(n) * get_unit(group.variables[key].dim))
    # background and the kinds' counts: settled in a vectorised loop, the rare rest in full, then added
    noise, fix, background = noise_code(nmda=mech["nmda"], codes=codes)
    group.run_regularly(noise, when="before_groups", order=-2, name="noise")
    group.run_regularly(fix, when="before_groups", order=-1, name="noise_fix")
    group.run_regularly(background, when="before_groups", name="background")
    # the T current, in the populations that have one (runs of adjacent ones merged), before the
    # neurons' state update (order 0), from the v and h_T that update starts from
    runs = []
    for name in mech["t_current"]:
        start, stop = layout.slices[name]
        if runs and runs[-1][1] == start:
            runs[-1][1] = stop
        else:
            runs.append([start, stop])
    if len(runs) > T_CURRENT_LOOPS:
        runs = [[runs[0][0], runs[-1][1]]]
    for k, (start, stop) in enumerate(runs):
        group[start:stop].run_regularly(t_current_code(), when="groups", order=-1, name=f"t_current_{k}")

    synapses: Dict[str, Synapses] = {}
    n_syn: Dict[str, int] = {}
    for receptor in RECEPTOR_NAMES:
        names = [p for p, pw in spec.pathways.items() if pw.receptor == receptor and connections[p].n]
        if not names:
            continue
        syn = Synapses(group, group, "weight : siemens", on_pre=f"g_{receptor}_post += weight",
                       name=f"syn_{receptor}")
        i = np.concatenate([connections[p].i for p in names])
        j = np.concatenate([connections[p].j for p in names])
        syn.connect(i=i, j=j)
        syn.weight = np.concatenate([_weights(spec.pathways[p], connections[p], layout) for p in names]) * siemens
        syn.delay = np.concatenate([np.full(connections[p].n, spec.pathways[p].delay) for p in names]) * second
        synapses[receptor] = syn
        for p in names:
            n_syn[p] = connections[p].n
    for p in spec.pathways:
        n_syn.setdefault(p, 0)

    spike_monitor = SpikeMonitor(group, name="spikes")
    rows = {name: idx for name, idx in lfp_rows(spec, layout).items() if idx.size}
    lfp_monitor, lfp_objects, lfp_index = None, [], {}
    if rows:
        # one row per population: the charges of its recorded neurons, dQ/dt = sum_i |I_i|. The
        # summed-variable updater runs at the sums' order - 1 = -1, before the neurons' state
        # update (order 0), so it sees the currents that update uses; recorded as charges (bin
        # means in lfp_currents)
        sums = NeuronGroup(len(rows), "\n".join(f"d{q}/dt = abs_{i} : coulomb\nabs_{i} : amp"
                                                for i, q in LFP_CHARGES.items()),
                           method="euler", order=0, name="lfp_sums")
        adder = Synapses(group, sums, "\n".join(f"abs_{i}_post = abs({i}_pre) : amp (summed)" for i in LFP_CHARGES),
                         name="lfp_adder")
        adder.connect(i=np.concatenate(list(rows.values())),
                      j=np.repeat(np.arange(len(rows)), [idx.size for idx in rows.values()]))
        lfp_monitor = StateMonitor(sums, list(LFP_CHARGES.values()), record=True, dt=spec.readout.lfp_dt * second, name="lfp_charges")
        lfp_objects = [sums, adder, lfp_monitor]
        lfp_index = {name: np.array([k]) for k, name in enumerate(rows)}

    ctx = BuildContext(spec=spec, layout=layout, group=group, connections=connections, synapses=synapses)
    for name, stim in spec.stimuli.items():
        STIMULUS_BUILDERS[stim["kind"]](ctx, name, stim)

    tables = []   # linked after every subgroup of the group was made (Brian2's subgroups refuse a reference with an index)
    if table:
        tables.append(_param_table(group, in_table, np.concatenate([layout.pop_index, pad]), len(spec.populations)))
    # a mechanism left out (see mechanisms()) must be one nothing uses
    if not mech["nmda"] and re.search(r"\bg_nmda", _code_of([group, *synapses.values(), *ctx.objects])):
        raise RuntimeError("the circuit's code opens NMDA receptors, but mechanisms() left them out "
                           "(a circuitsim bug: extend mechanisms())")
    objects = [group, *tables, *synapses.values(), spike_monitor, *ctx.objects]
    objects += lfp_objects
    net = Network(*objects, name="circuit")
    namespace = namespace_for(spec)
    namespace.update(ctx.namespace)
    logger.info("built circuit: %d neurons, %d synapses in %d pathways", n, sum(n_syn.values()), len(spec.pathways))
    return BuiltNetwork(net=net, group=group, synapses=synapses, spike_monitor=spike_monitor,
                        lfp_monitor=lfp_monitor, lfp_neurons=lfp_index, namespace=namespace, n_synapses=n_syn,
                        recorders=ctx.recorders)
