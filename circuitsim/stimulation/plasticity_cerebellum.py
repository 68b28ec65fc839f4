"""A climbing-fibre-gated rule for parallel fibre -> Purkinje cell synapses (rule ``cf_gated``).

At the parallel-fibre synapse the climbing fibre decides the direction: parallel-fibre activity
paired with climbing-fibre activity depresses it (LTD; Ito & Kano 1982, Neurosci Lett 33:253),
parallel-fibre activity alone potentiates it (postsynaptic LTP; Lev-Ram et al. 2002, PNAS
99:8389; Coesmans et al. 2004, Neuron 44:691, who showed that the climbing fibre's calcium
signal is what turns potentiation into depression). LTD needs the parallel-fibre input shortly
*before* the climbing fibre (up to about 100-200 ms; Wang, Denk & Hausser 2000, Nat Neurosci
3:1266).

Per synapse (weight ``w``, clipped to ``[0, w_max_factor * w0]``):

* parallel-fibre spike: transmission, then ``e = e * exp(-(t - t_pf)/tau_e) + 1`` (eligibility
  trace of recent parallel-fibre input) and ``w += a_ltp * w0``;
* climbing-fibre spike onto the synapse's Purkinje cell (the circuit's ``io -> pc`` pathway,
  same delay): ``w -= a_ltd * w0 * e(t)``.

With parallel- and climbing-fibre spikes uncorrelated the mean drift per parallel-fibre spike is
``w0 * (a_ltp - a_ltd * nu_cf * tau_e)``: it is zero at the climbing-fibre rate ``balance_rate``
when ``a_ltp = a_ltd * balance_rate * tau_e`` (set so here), whatever the parallel-fibre rate,
so the weights are stable at rest (the drift that made the triplet rule collapse these
weights by 90-99 % under a sham train is gone). Only a change of the climbing-fibre rate, or
parallel-fibre input correlated with it, moves them: more climbing-fibre activity depresses,
less potentiates (the inverse of the cortical BCM rule; Coesmans et al. 2004).

``a_ltd`` is fitted to pairing LTD in slices (Coesmans et al. 2004: 300 parallel-fibre +
climbing-fibre pairings at 1 Hz depress the synapse by about a quarter to a third:
``a_ltd = 1e-3`` per pairing with the parallel fibre just before the climbing fibre gives -26 %);
``tau_e`` 150 ms after the LTD window of Wang et al. 2000. ``balance_rate`` (default 1.9 Hz) is a
calibration: the rate at which the weights of the healthy circuit at rest (seed 0, a 58 s sham
train) hold still. It lies above the model's complex-spike rate (``io`` at about 1.2 Hz, near the
1 Hz of Armstrong & Rawson 1979, J Physiol 289:425) because parallel- and climbing-fibre firing are
correlated in the circuit (both follow the cortical drive), which adds LTD. A consequence: the
potentiation by parallel-fibre input alone is small, ``a_ltp = a_ltd * 1.9 Hz * 0.15 s`` = 2.9e-4 per
spike (+9 % after 300 spikes, where Coesmans et al. 2004 and Lev-Ram et al. 2002 report more).

**A balance measured in the run** (``balance_rate: measured``, the ``ctbs_cerebellum`` preset).
One calibrated rate holds only for the circuit it was calibrated on: under a sham train the
parallel-fibre weights drift by about -9 % in the cerebellar dystonia condition (its bursting dentate changes
the olive's firing) and +31 % in the network dystonia condition within a minute (held-out seeds 10-14,
experiments/tms). With ``measured`` each synapse's potentiation per parallel-fibre spike is the
depression per parallel-fibre spike it would have received at rest: until the stimulus's first
train pulse the weights are frozen and every synapse sums the depression its climbing-fibre
spikes would have caused and counts its parallel-fibre spikes; from then on a parallel-fibre
spike potentiates by that sum over that count (times ``w0``). The synapses thus start at the
steady state of their own circuit's resting activity, as a slow homeostatic set point would keep
them (synaptic homeostasis, Turrigiano 2008, Cell 135:422; metaplasticity, Abraham 2008, Nat Rev
Neurosci 9:387); the window before the train stands in for that process, which is far slower than
a session (model choice). Only a change of the climbing- or parallel-fibre activity or of their
correlation after the window moves the weights.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

logger = logging.getLogger(__name__)

#: rule ``cf_gated`` (see the module doc for the sources)
CF_DEFAULTS: Dict[str, Any] = {"tau_e": "150*ms", "a_ltd": 1e-3}
CF_BALANCE_RATE = "1.9*Hz"   # no drift at rest, healthy seed 0 (see the module doc)


def climbing_fibre_pathway(spec_pathways: Mapping[str, Any], pathway: str, source: str = "io") -> Optional[str]:
    """The enabled pathway from ``source`` (the inferior olive) onto the target of ``pathway``, or None."""
    target = spec_pathways[pathway].target
    for name, pw in spec_pathways.items():
        if pw.source == source and pw.target == target and name != pathway:
            return name
    return None


def ltp_amplitude(params: Mapping[str, float], balance_rate: float) -> float:
    """``a_ltp`` that balances climbing-fibre LTD at ``balance_rate`` (uncorrelated firing)."""
    return params["a_ltd"] * balance_rate * params["tau_e"]


def calibration_end(ctx, name: str) -> float:
    """The end of the measured balance's window: the stimulus's first train pulse (s)."""
    pulses = ctx.spec.stimuli[name]["pulses"]
    t = np.asarray(pulses["time"], float)[np.asarray(pulses["role"]) == "train"]
    if not t.size:
        raise ValueError(f"stim.{name}.plasticity.balance_rate: 'measured' needs a train (the balance is "
                         "measured before the first train pulse); give a rate instead, e.g. 1.9*Hz")
    return float(t.min())


def build_cf_gated(ctx, prefix: str, pathway: str, conf: Mapping[str, Any], stimulus: str = "") -> Tuple[Any, float, float, Any]:
    """Rebuild ``pathway`` (parallel fibres) as plastic Synapses gated by the climbing fibres.

    The pathway's synapses keep their place in the receptor's shared Synapses with weight 0 (the
    caller silences them). Returns (synapses, w0, w_max, weight monitor) as build_plasticity does.
    """
    from brian2 import Synapses, second, siemens

    from circuitsim.stimulation.weight_traces import weight_trace

    spec = ctx.spec
    pw = spec.pathways[pathway]
    conn = ctx.connections[pathway]
    params = conf["params"]
    w0 = pw.weight
    w_max = conf["w_max_factor"] * w0
    measured = conf["balance_rate"] == "measured"
    a_ltp = 0.0 if measured else ltp_amplitude(params, conf["balance_rate"])
    t_cal = calibration_end(ctx, stimulus) if measured else 0.0
    ns = {f"{prefix}_{pathway}_wmax": w_max * siemens, f"{prefix}_{pathway}_w0": w0 * siemens,
          f"{prefix}_tau_e": params["tau_e"] * second, f"{prefix}_a_ltd": params["a_ltd"] * conf["eta"],
          f"{prefix}_a_ltp": a_ltp * conf["eta"], f"{prefix}_t_cal": t_cal * second}
    ctx.namespace.update(ns)
    wm, w0n, tc = f"{prefix}_{pathway}_wmax", f"{prefix}_{pathway}_w0", f"{prefix}_t_cal"
    # measured: frozen before t_cal, where each synapse counts its parallel-fibre spikes and sums the
    # depression its climbing-fibre spikes would have caused; afterwards it potentiates by their ratio
    ltp = f"ltd_pf/clip(n_pf, 1, inf)" if measured else f"{prefix}_a_ltp"
    syn = Synapses(ctx.group, ctx.group, "w_pf : siemens\ne_pf : 1\nt_pf : second\nn_pf : 1\nltd_pf : 1",
                   on_pre=f"""
                   g_{pw.receptor}_post += w_pf
                   e_pf = e_pf*exp(-(t - t_pf)/{prefix}_tau_e) + 1
                   t_pf = t
                   n_pf += int(t < {tc})
                   w_pf = clip(w_pf + int(t >= {tc})*{ltp}*{w0n}, 0*siemens, {wm})
                   """, name=f"{prefix}_{pathway}")
    syn.connect(i=conn.i.astype(np.int64), j=conn.j.astype(np.int64))
    syn.w_pf = w0 * siemens
    syn.t_pf = -1e9 * second
    syn.delay = pw.delay * second
    objects = [syn]
    cf = climbing_fibre_pathway(spec.pathways, pathway)
    cf_conn = ctx.connections.get(cf) if cf else None
    if cf_conn is not None and cf_conn.n:
        # one climbing-fibre -> synapse link for every (climbing fibre, parallel-fibre synapse onto
        # the same Purkinje cell); a Synapses whose target is the plastic Synapses
        post = np.asarray(conn.j, np.int64)
        order = np.argsort(post, kind="stable")
        cf_i, cf_j = [], []
        for src, tgt in zip(np.asarray(cf_conn.i, np.int64), np.asarray(cf_conn.j, np.int64)):
            a, b = np.searchsorted(post[order], [tgt, tgt + 1])
            cf_i.append(np.full(b - a, src, np.int64))
            cf_j.append(order[a:b])
        cf_i, cf_j = np.concatenate(cf_i), np.concatenate(cf_j)
        if cf_i.size:
            ltd = f"{prefix}_a_ltd*e_pf_post*exp(-(t - t_pf_post)/{prefix}_tau_e)"
            depress = (f"ltd_pf_post += int(t < {tc})*{ltd}\n"
                       f"w_pf_post = clip(w_pf_post - int(t >= {tc})*{ltd}*{w0n}, 0*siemens, {wm})")
            gate = Synapses(ctx.group, syn, on_pre=depress, name=f"{prefix}_{pathway}_cf")
            gate.connect(i=cf_i, j=cf_j)
            gate.delay = spec.pathways[cf].delay * second
            objects.append(gate)
            logger.info("plasticity: %s gated by the climbing fibres of %s (%d links)", pathway, cf, cf_i.size)
    else:
        logger.warning("plasticity: no climbing-fibre pathway onto %s's target; %s only potentiates",
                       pathway, pathway)
    mon = weight_trace(syn, "w_pf", conn.n, f"{prefix}_{pathway}_trace")
    objects.append(mon)
    ctx.objects += objects
    return syn, w0, w_max, mon
