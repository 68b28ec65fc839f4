"""Transcranial magnetic stimulation (registers the "tms" stimulus kind).

What a pulse does (the recruitment rule)
----------------------------------------
A coil position is a *site* (``m1``: motor cortex; ``cerebellum``: cerebellar cortex). Each
site lists *elements* that a pulse can excite, each with a threshold and a slope in percent of
maximum stimulator output (%MSO). Element ``e`` has a fixed threshold
``theta_e = threshold + slope * logit(u_e)`` (``u_e`` uniform, drawn once per run from the
seed), so a pulse of effective intensity ``I`` recruits every element with ``theta_e < I`` and
the recruited fraction is the logistic sigmoid

    f(I) = 1 / (1 + exp(-(I - threshold) / slope))

(:func:`recruited_fraction`). The same elements answer to repeated pulses, as the same axons
lie under a fixed coil. The effective intensity of each pulse is ``I * (1 + jitter * z)``
(``z`` standard normal, one per pulse and site; model choice for the trial-to-trial variation
of coil coupling and cortical excitability that makes MEPs vary, Kiers et al. 1993).

Element kinds:

``soma``
    The recruited neuron fires at the pulse: a ``SpikeGeneratorGroup`` of pulse times drives
    one-to-one ``Synapses`` that set ``v`` above the spike cut-off ``V_peak`` of a neuron that
    is not refractory; it spikes at the next step and its spike propagates through every
    pathway of the circuit. Direct activation of pyramidal axons (D-wave).
``afferent``
    The pulse excites the axons of excitatory fibres that end on the population (intracortical
    and thalamocortical axons in M1): each cell receives ``fibres_per_cell`` of ``n_fibres``
    fibres; a recruited fibre gives its AMPA and NMDA conductances after ``delay``. Pyramidal
    cells fire trans-synaptically when enough fibres converge (I-waves), and recruited
    interneurons can veto this (SICI).

In M1 the interneurons (``ctx_i``) have the lowest threshold, the excitatory afferents a higher
one and direct activation of pyramidal cells the highest, following the account of I-waves and
D-waves of Di Lazzaro et al. 2004 (Clin Neurophysiol 115:255) and 2012 (Clin Neurophysiol
123:858): at threshold TMS excites pyramidal tract neurons trans-synaptically, low-threshold
GABA-A interneurons mediate SICI (Ziemann 2004, review of TMS pharmacology; Kujirai et al.
1993), NMDA-dependent excitation ICF (Ziemann 2004). A site's ``gabab`` node adds the slow
GABA-B inhibition that the synchronously recruited interneurons cause in pyramidal cells (GABA-B
responses need synchronous interneuron firing, Scanziani 2000 Neuron 25:673), whose time course
(Connors, Malenka & Silva 1988, J Physiol 406:443) gives the cortical silent period.

The ``gabab`` node has its own recruitment sigmoid (``threshold``, ``slope``; without them the
element's): GABA-B effects need stronger pulses than GABA-A ones. SICI appears with conditioning
pulses from about 60-70 % RMT (Kujirai et al. 1993), while LICI needs a conditioning pulse at or
above the motor threshold (Valls-Sole et al. 1992; Sanger, Garg & Chen 2001, J Physiol 530:307)
and the silent period appears near it; so a subthreshold pulse (SICI, ICF) recruits GABA-A but
hardly any GABA-B inhibition. A site's optional ``nmda`` node (none by default) adds a slow excitatory conductance to the
NMDA receptors of a population (so it is under the neuron's Mg2+ block), with its own sigmoid
and an NMDA time course (rise about 10 ms, decay about 100 ms; Hestrin et al. 1990, J Physiol
422:203; Destexhe et al. 1998): the NMDA-dependent facilitation behind ICF (ICF is reduced by
the NMDA antagonist dextromethorphan, Ziemann et al. 1998, Neurology 51:1320). Each afferent
element may give every target cell a gain on its fibres (``cell_spread``: SD of its log, mean 1;
0 by default), the cell-to-cell spread of the drive a pulse gives (position and orientation in
the induced field).

A site's optional ``facilitation`` node is the ICF set (the paired-pulse presets give m1 the one in
:data:`circuitsim.stimulation.tms_config.ICF_FACILITATION`): excitatory interneurons distinct from
the SICI ones, with a higher threshold (Ziemann et al. 1996, J Physiol 496:873; Ilic et al. 2002,
J Physiol 545:153), whose NMDA-dependent drive (Ziemann et al. 1998) makes the I-wave fibres of its
``element`` give a later pulse larger conductances: each fibre spike is scaled by ``1 + g(t)``,
``g`` the sum over the site's pulses of ``gain`` times the fraction the node's sigmoid recruits
times a difference-of-exponentials kernel of peak 1 that starts ``delay`` after the pulse
(:func:`facilitation_gain`). It turns the GABA-A-dominated response at 10-15 ms into ICF while
leaving most of SICI at 2-3 ms.

A site's optional ``tonic_drive`` node (:mod:`circuitsim.stimulation.tms_drive`; the CBI preset gives
m1 one) scales its element's fibre conductances with the ongoing rate of a population (the dentate):
a cerebellar pulse that silences the dentate through the Purkinje cells withdraws it (CBI).

Intensity
---------
Pulse intensities are ``"<x>%MSO"`` (absolute) or ``"<x>%RMT"`` (percent of the resting motor
threshold ``rmt`` of the stimulus, itself in %MSO). The RMT of a circuit is measured with
``stim=tms_threshold`` (single pulses over a range of intensities and seeds, logistic fit of
the fraction of trials with an MEP, :func:`fit_motor_threshold`,
:func:`circuitsim.drivers.measure_motor_threshold`)
and stored as :data:`DEFAULT_RMT_MSO` (healthy circuit) so that relative intensities cost no
extra runs.

MEP (measured post hoc on the muscle readout's EMG)
---------------------------------------------------
The readout has no conduction time, so a conduction delay (``measure.conduction_delay``) is
added to every latency and to the time axis of the figure. For each test pulse and muscle:
peak-to-peak amplitude in ``measure.window`` after the pulse; an MEP is *present* when it is at
least ``measure.criterion`` (50 uV, Rossini et al. 1994, 2015) and ``measure.background_factor``
times the peak-to-peak of an equally long pre-stimulus window (the model's relaxed muscle is
not fully silent); latency: first sample of the window whose magnitude exceeds half the
criterion and ``measure.onset_sd`` pre-stimulus standard deviations.

Evoked volley (measured on the spikes, :func:`evoked_volley`)
-------------------------------------------------------------
The cortical activity a test pulse evokes, what epidural recordings see as D- and I-waves: the
spikes per cell of ``measure.volley_population`` (``ctx_e``) within ``measure.volley_window``
(6 ms) after the pulse, less those of the same window before it. Unlike the MEP it carries no
motor-unit noise and does not saturate when the pool is fully recruited, so after-effects of a
protocol show in it (``tms.volley_post_pre_ratio``) with few trials.
"""


from __future__ import annotations

import logging
import math
import zlib
from typing import Any, Dict, Mapping

import numpy as np

from circuitsim.circuit.registry import BuildContext
from circuitsim.plugins import register
from circuitsim.stimulation.protocols import PulseTable
# the defaults and the validator, the measures and the plot live in their own modules; their
# public names stay importable from here
from circuitsim.stimulation.tms_config import (DEFAULT_MEASURE, DEFAULT_RMT_MSO, DEFAULT_SITES,  # noqa: F401
                                               ELEMENT_KINDS, KEYS, _mso, _validate_measure,
                                               _validate_sites, validate_tms)
from circuitsim.stimulation.tms_measure import (_around_trains, _mean, _sem, _summary, _test_conditions,  # noqa: F401
                                                _volley_summary, analyse, evoked_volley, fit_motor_threshold,
                                                measure_tms, mep_measures, silent_period)
from circuitsim.stimulation.tms_plot import plot_tms  # noqa: F401
# the recruitment sigmoid and the slow time courses a pulse leaves (GABA-B, NMDA, the ICF set)
from circuitsim.stimulation.tms_kernels import facilitation_gain, gabab_trace, recruited_fraction, slow_trace  # noqa: F401
from circuitsim.stimulation.tms_drive import build_relay, depth_per_synapse, drive_node

logger = logging.getLogger(__name__)


def element_thresholds(n: int, threshold: float, slope: float, rng: np.random.Generator) -> np.ndarray:
    """Fixed per-element thresholds (%MSO) whose empirical distribution is the sigmoid's."""
    u = rng.uniform(1e-9, 1 - 1e-9, n)
    return threshold + slope * np.log(u / (1 - u))



# ---------------------------------------------------------------------------------- build


def _rng(seed: int, *names: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed] + [zlib.crc32(n.encode()) for n in names]))


def recruitment(params: Mapping[str, Any], layout_indices, seed: int, name: str) -> Dict[str, Any]:
    """Which elements each pulse recruits.

    Parameters
    ----------
    params : validated TMS parameters
    layout_indices : callable(population) -> global neuron indices
    seed, name : the run's seed and the stimulus name (random streams derive from them)

    Returns
    -------
    dict with, per element ``"<site>.<element>"``: ``thresholds`` (%MSO), ``targets`` (global
    indices of the somata, or of the fibres' target cells), and ``events``: (element index,
    pulse index) pairs; plus ``effective_intensity`` per pulse (%MSO) and ``fractions``
    (pulse x element recruited fraction).
    """
    table = PulseTable.from_dict(params["pulses"])
    intensity = np.asarray(params["intensity_mso"], float)
    eff = intensity.copy()
    for sname, site in params["sites"].items():
        on = table.site == sname
        if site["jitter"] > 0 and np.any(on):
            z = _rng(seed, name, sname, "jitter").standard_normal(int(np.sum(on)))
            eff[on] = intensity[on] * np.maximum(0.0, 1.0 + site["jitter"] * z)
    out: Dict[str, Any] = {"effective_intensity": eff, "elements": {}}
    for sname, site in params["sites"].items():
        pulses = np.flatnonzero(table.site == sname)
        for ename, el in site["elements"].items():
            key = f"{sname}.{ename}"
            rng = _rng(seed, name, key)
            pop_idx = np.asarray(layout_indices(el["population"]))
            n = pop_idx.size if el["kind"] == "soma" else el["n_fibres"]
            theta = element_thresholds(n, el["threshold"], el["slope"], rng)
            rec = {"kind": el["kind"], "population": el["population"], "thresholds": theta}
            if el["kind"] == "afferent":
                k = el["fibres_per_cell"]
                pre = np.concatenate([rng.choice(n, size=k, replace=False) for _ in range(pop_idx.size)])
                rec["fibre_i"] = pre.astype(np.int64)
                rec["fibre_j"] = np.repeat(pop_idx, k).astype(np.int64)
                # each cell's gain on its fibres (lognormal, mean 1): the cell-to-cell spread of
                # the drive a pulse gives (position and orientation in the induced field)
                sd = el.get("cell_spread", 0.0)
                gain = np.exp(sd * rng.standard_normal(pop_idx.size) - sd ** 2 / 2) if sd > 0 else np.ones(pop_idx.size)
                rec["fibre_gain"] = np.repeat(gain, k)
            else:
                rec["targets"] = pop_idx
            ev_e, ev_p = [], []
            frac = np.zeros(len(table))
            for p in pulses:
                hit = np.flatnonzero(theta < eff[p])
                ev_e.append(hit)
                ev_p.append(np.full(hit.size, p))
                frac[p] = hit.size / n
            rec["event_element"] = np.concatenate(ev_e) if ev_e else np.zeros(0, np.int64)
            rec["event_pulse"] = np.concatenate(ev_p) if ev_p else np.zeros(0, np.int64)
            rec["fraction"] = frac
            out["elements"][key] = rec
    return out


def _gabab_step(dt: float) -> float:
    return 1e-3 if dt <= 1e-3 else dt


@register("tms").structure
def tms_structure(spec: Any, params: Mapping[str, Any]) -> Dict[str, Any]:
    """What of a TMS stimulus shapes the generated code; every other value is data.

    The sites, their elements (kind, population, fibre counts) and GABA-B node, the number of
    pulses per site (it bounds the padded event arrays, :func:`_padded_events`), the plasticity
    node, and the length of the GABA-B conductance table (compiled in; it follows
    ``sim.duration``). Intensities, thresholds, slopes, jitter, weights, delays, pulse times and
    the seed are data: a recruitment curve or a new seed reuses the build.
    """
    table = PulseTable.from_dict(params["pulses"])
    sites = {}
    for sname, site in params["sites"].items():
        sites[sname] = {
            "elements": {e: {k: el.get(k) for k in ("kind", "population", "n_fibres", "fibres_per_cell")}
                         for e, el in site["elements"].items()},
            "gabab": None if not site.get("gabab") else [site["gabab"]["population"], site["gabab"]["element"]],
            "nmda": None if not site.get("nmda") else site["nmda"]["population"],
            "facilitation": None if not site.get("facilitation") else site["facilitation"]["element"],
            "tonic_drive": None if not site.get("tonic_drive") else [site["tonic_drive"]["population"],
                                                                      site["tonic_drive"]["element"]],
            "pulses": int(np.sum(table.site == sname)),
        }
    gabab = any(site.get("gabab") or site.get("nmda") or site.get("facilitation") for site in params["sites"].values())
    step = _gabab_step(spec.sim.dt)
    return {"sites": sites, "plasticity": params.get("plasticity") or {},
            "gabab_steps": int(math.ceil(spec.sim.duration / step)) + 1 if gabab else 0}


def _padded_events(index: np.ndarray, times: np.ndarray, capacity: int, n_real: int, duration: float,
                   dt: float) -> tuple:
    """Pad a generator's events to ``capacity`` so the array sizes do not depend on the seed.

    Which elements a pulse recruits is drawn from the seed, so the number of events varies; the
    compiled program's arrays have fixed sizes. The padding events belong to one extra generator
    neuron (index ``n_real``) that has no synapses, at distinct time steps after the end of the
    run, so they never act (and would not act in a longer run either).
    """
    pad = capacity - index.size
    if pad <= 0:
        return index, times
    first = int(math.ceil(duration / dt)) + 1
    return (np.concatenate([index, np.full(pad, n_real, dtype=np.int64)]),
            np.concatenate([times, (first + np.arange(pad)) * dt]))


@register("tms").builder
def build_tms(ctx: BuildContext, name: str, params: Mapping[str, Any]) -> None:
    from brian2 import SpikeGeneratorGroup, Synapses, TimedArray, mV, ms, second, siemens

    from circuitsim.stimulation import plasticity as stdp

    spec = ctx.spec
    dt = spec.sim.dt
    table = PulseTable.from_dict(params["pulses"])
    rec = recruitment(params, ctx.layout.indices, spec.sim.seed, name)
    prefix = f"tms_{name}"

    # somata: one generator neuron per (element, target cell), one-to-one synapses
    soma_targets, soma_i, soma_t = [], [], []
    fib_i, fib_j, fib_ampa, fib_nmda, fib_delay, fib_src_i, fib_src_t = [], [], [], [], [], [], []
    fib_fac = []   # per fibre synapse: the site whose facilitation node (ICF set) scales it, or ""
    fib_site, fib_elem = [], []   # per fibre synapse: its site and element (the tonic_drive node's gate)
    plastic_conf = params.get("plasticity") or {}
    plastic_elements = list(plastic_conf.get("elements") or []) if plastic_conf.get("enabled") else []
    fib_ranges: Dict[str, tuple] = {}   # element -> (first, stop) of its synapses among the fibres
    soma_offset = fib_offset = n_fib_syn = 0   # n_fib_syn: the fibres' synapses so far
    soma_capacity = fib_capacity = 0    # every element recruited by every pulse of its site
    for key, el in rec["elements"].items():
        site, ename = key.split(".", 1)
        conf = params["sites"][site]["elements"][ename]
        times = table.time[el["event_pulse"]]
        n_pulses = int(np.sum(table.site == site))
        if el["kind"] == "soma":
            soma_capacity += n_pulses * el["targets"].size
            soma_targets.append(el["targets"])
            soma_i.append(el["event_element"] + soma_offset)
            soma_t.append(times)
            soma_offset += el["targets"].size
        else:
            n_f = conf["n_fibres"]
            fib_capacity += n_pulses * n_f
            fib_ranges[key] = (n_fib_syn, n_fib_syn + el["fibre_i"].size)
            n_fib_syn += el["fibre_i"].size
            fib_i.append(el["fibre_i"] + fib_offset)
            fib_j.append(el["fibre_j"])
            fib_ampa.append(conf["ampa"] * el["fibre_gain"])
            fib_nmda.append(conf["nmda"] * el["fibre_gain"])
            fib_delay.append(np.full(el["fibre_i"].size, conf["delay"]))
            fac = params["sites"][site].get("facilitation")
            fib_fac.append(np.full(el["fibre_i"].size, site if fac and fac["element"] == ename else ""))
            fib_site.append(np.full(el["fibre_i"].size, site))
            fib_elem.append(np.full(el["fibre_i"].size, ename))
            fib_src_i.append(el["event_element"] + fib_offset)
            fib_src_t.append(times)
            fib_offset += n_f
    ctx.namespace[f"{prefix}_overshoot"] = 1 * mV
    if soma_offset:
        gi, gt = _padded_events(np.concatenate(soma_i).astype(np.int64), np.round(np.concatenate(soma_t) / dt) * dt,
                                soma_capacity, soma_offset, spec.sim.duration, dt)
        gen = SpikeGeneratorGroup(soma_offset + 1, gi, gt * second,
                                  name=f"{prefix}_soma_pulses")
        syn = Synapses(gen, ctx.group,
                       on_pre=f"v_post = v_post + int(not_refractory_post)*(V_peak_post + {prefix}_overshoot - v_post)",
                       name=f"{prefix}_soma")
        syn.connect(i=np.arange(soma_offset), j=np.concatenate(soma_targets).astype(np.int64))
        ctx.objects += [gen, syn]
    if fib_offset:
        gi, gt = _padded_events(np.concatenate(fib_src_i).astype(np.int64),
                                np.round(np.concatenate(fib_src_t) / dt) * dt, fib_capacity, fib_offset,
                                spec.sim.duration, dt)
        gen = SpikeGeneratorGroup(fib_offset + 1, gi, gt * second,
                                  name=f"{prefix}_fibre_pulses")
        model = "w_ampa : siemens (constant)\nw_nmda : siemens (constant)"
        gain = ""
        # the tonic_drive node (tms_drive.py): fibres leave from relay neurons that hold the drive
        drive = drive_node(params)
        source = gen if drive is None else build_relay(ctx, prefix, gen, fib_offset + 1, drive[1])
        if drive is not None:
            model += "\ndrive_depth : 1 (constant)"
            gain = "*(1 + drive_depth*(drive_pre - 1))"
        fac_sites = sorted(set(np.concatenate(fib_fac).tolist()) - {""})
        if fac_sites:
            # the ICF set's facilitation (facilitation_gain): each site's gain table, gated per
            # synapse by fac_<site> (1 on the facilitated element's fibres), read when a spike arrives
            step = _gabab_step(dt)
            fgain = facilitation_gain(params, spec.sim.duration, step)
            terms = []
            for site in fac_sites:
                ta_name = f"{prefix}_fgain_{site}"
                ctx.namespace[ta_name] = TimedArray(fgain[site], dt=step * second, name=ta_name)
                model += f"\nfac_{site} : 1 (constant)"
                terms.append(f"fac_{site}*{ta_name}(t)")
            gain += "*(1 + " + " + ".join(terms) + ")"
        on_pre, on_post = f"g_ampa_post += w_ampa{gain}\ng_nmda_post += w_nmda{gain}", None
        if plastic_elements:
            # plastic fibres (plasticity.elements): a relative weight w_rel scales both
            # conductances; plastic_on = 0 keeps the other elements' fibres fixed
            rule = stdp.rule_namespace(ctx, name, plastic_conf)
            wm = f"{rule}_fibre_wmax"
            ctx.namespace[wm] = plastic_conf["w_max_factor"]
            traces, pre_rule, on_post = stdp.triplet_code(rule, "w_rel", wm, "0", eta=f"plastic_on*{rule}_eta")
            model += "\nw_rel : 1\nplastic_on : 1 (constant)\n" + traces
            on_pre = f"g_ampa_post += w_rel*w_ampa{gain}\ng_nmda_post += w_rel*w_nmda{gain}\n" + pre_rule
        fibres = Synapses(source, ctx.group, model, on_pre=on_pre, on_post=on_post, name=f"{prefix}_fibres")
        fibres.connect(i=np.concatenate(fib_i), j=np.concatenate(fib_j))
        fibres.w_ampa = np.concatenate(fib_ampa) * siemens
        fibres.w_nmda = np.concatenate(fib_nmda) * siemens
        # a relay spikes one step after its generator neuron: the same arrival times
        fibres.delay = (np.concatenate(fib_delay) - (0.0 if drive is None else dt)) * second
        if drive is not None:
            fibres.drive_depth = depth_per_synapse(drive[1], np.concatenate(fib_site), np.concatenate(fib_elem), drive[0])
        all_fac = np.concatenate(fib_fac)
        for site in fac_sites:
            setattr(fibres, f"fac_{site}", (all_fac == site).astype(float))
        ctx.objects += [gen, fibres]
        if plastic_elements:
            fibres.w_rel = 1.0
            gate = np.zeros(n_fib_syn)
            for key in plastic_elements:
                gate[slice(*fib_ranges[key])] = 1.0
            fibres.plastic_on = gate
            fibre_trace = stdp.weight_trace(fibres, "w_rel", gate.size, f"{prefix}_fibres_trace")
            ctx.objects.append(fibre_trace)
            logger.info("plasticity: fibres of %s under triplet STDP, eta %g", ", ".join(plastic_elements),
                        plastic_conf["eta"])

    # slow GABA-B conductance: g_gaba follows the trace (low-passed by the GABA-A time constant)
    step = _gabab_step(dt)
    for pop, g in gabab_trace(params, spec.sim.duration, step).items():
        ta_name = f"{prefix}_gabab_{pop}"
        ctx.namespace[ta_name] = TimedArray(g * siemens, dt=step * second, name=ta_name)
        start, stop = ctx.layout.slices[pop]
        ctx.group[start:stop].run_regularly(f"g_gaba += {ta_name}(t)*dt/tau_gaba", when="before_groups",
                                            name=f"{prefix}_gabab_{pop}_input")

    # slow NMDA excitation (ICF): g_nmda follows the trace T exactly when it receives
    # (T / tau_nmda + dT/dt) dt each step (g_nmda decays with tau_nmda by itself)
    for pop, g in slow_trace(params, spec.sim.duration, step, "nmda").items():
        ta_name = f"{prefix}_nmda_{pop}"
        ctx.namespace[ta_name] = TimedArray(g * siemens, dt=step * second, name=ta_name)
        ctx.namespace[ta_name + "_d"] = TimedArray(np.gradient(g, step) * siemens / second, dt=step * second,
                                                   name=ta_name + "_d")
        start, stop = ctx.layout.slices[pop]
        ctx.group[start:stop].run_regularly(f"g_nmda += ({ta_name}(t)/tau_nmda + {ta_name}_d(t))*dt",
                                            when="before_groups", name=f"{prefix}_nmda_{pop}_input")

    plastic = stdp.build_plasticity(ctx, name, plastic_conf)

    fractions = {key: el["fraction"].tolist() for key, el in rec["elements"].items()}
    eff = rec["effective_intensity"].tolist()

    def record() -> Dict[str, Any]:
        out = {"fractions": fractions, "effective_intensity": eff}
        weights = plastic() if plastic is not None else {}
        for key in plastic_elements:
            a, b = fib_ranges[key]
            rows = (fibre_trace.record >= a) & (fibre_trace.record < b)   # the element's sampled synapses
            weights[key] = stdp.weight_summary(np.asarray(fibres.w_rel_[:], float)[a:b], 1.0,
                                               plastic_conf["w_max_factor"], fibre_trace.t_,
                                               np.asarray(fibre_trace.w_rel_)[rows], 1.0)
        if weights:
            out["plasticity"] = weights
        return out

    ctx.recorders[name] = record
    logger.info("TMS %s: %d pulses, %d soma and %d fibre events", name, len(table),
                int(sum(x.size for x in soma_i)), int(sum(x.size for x in fib_src_i)))



__all__ = ["recruited_fraction", "element_thresholds", "recruitment", "gabab_trace", "slow_trace", "facilitation_gain", "mep_measures",
           "silent_period", "fit_motor_threshold", "evoked_volley", "analyse",
           "DEFAULT_SITES", "DEFAULT_RMT_MSO", "DEFAULT_MEASURE"]
