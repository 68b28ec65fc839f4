"""A calcium-based rule for the synapses of the fibres that TMS pulses recruit (rule ``calcium``).

Why not spike-timing rules: during a theta-burst train at 80 % AMT the pyramidal cells are
silenced by the interneurons the pulses recruit (``ctx_e`` fires at about 0.05 Hz through a 40 s
cTBS in this model), so a rule that needs postsynaptic spikes barely moves, and moves the same
way for cTBS and iTBS. The human data say the *pattern* of the pulses sets the direction
(Huang et al. 2005, Neuron 45:201: cTBS 40 s depresses, iTBS potentiates; 20 s of cTBS
potentiates, Gentner et al. 2008, Cereb Cortex 18:2046; doubled protocols reverse, Gamboa et
al. 2010, Exp Brain Res 204:181). Huang et al. 2011 (Clin Neurophysiol 122:1011) model this as
postsynaptic Ca2+ entry that starts a fast facilitatory and a slowly building, stronger
inhibitory process whose sum is the after-effect. This module implements that idea per synapse,
with the low-calcium LTD of the calcium control hypothesis (Shouval, Bear & Cooper 2002, PNAS
99:10831; low-frequency LTD, Dudek & Bear 1992, PNAS 89:4363) for 1 Hz rTMS (Chen et al. 1997,
Neurology 48:1398):

* every presynaptic spike (a pulse that recruits the fibre) adds 1 to a fast calcium trace
  ``c_fast`` (decay ``tau_fast``) and to a slow one ``c_slow`` (decay ``tau_slow``);
* the relative weight is ``w = clip(1 + p - d, 0, w_max_factor)`` (1 at the start), the sum of a
  facilitatory process ``p`` and an inhibitory one ``d`` (Huang et al. 2011), which grow with::

      dp/dt = A_ltp * [c_fast - theta_ltp]_+ - p / tau_ltp                 (fast facilitation)
      dd/dt = A_ltd * 1[theta_ltd < c_fast <= theta_ltp]                   (moderate calcium: LTD)
              + A_slow * [c_slow - theta_slow]_+ - d / tau_ltd              (slow inhibition)

  and fade back to baseline with their own time constants (unconsolidated early-phase LTP and
  LTD decay, Frey & Morris 1997, Nature 385:533): ``tau_ltp`` 20 min, ``tau_ltd`` 30 min, chosen
  from the durations Huang et al. 2005 report (iTBS facilitation lasting about 15-20 min: the
  facilitatory process's time constant is that duration, so a fully recruited synapse keeps about
  half its facilitation at 15 min; cTBS 600 depression up to about an hour: the inhibitory
  process's half-life is about 20 min, so a third is left at 60 min). A model choice: one
  exponential per process, with no consolidation into a lasting change. (The earlier ``tau_ltp``
  of 10 min let the iTBS facilitation in the circuit vanish by 10 min.)

A single test pulse lifts ``c_fast`` to 1, just above ``theta_ltd`` and far below ``theta_ltp``;
bursts at 50 Hz repeated at 5 Hz sum to about 9 (facilitation); only a continuous train longer
than about 20 s lifts ``c_slow`` over ``theta_slow`` (inhibition that outlasts the train by tens of
seconds); iTBS's 8 s pauses keep ``c_slow`` below it. Without pulses the weights only return
towards 1: a sham train (test pulses only) leaves them where they were.

**Skipping time.** Minutes to an hour of after-effect in the full circuit would cost far more
than the rule needs: without pulses (``c_fast`` below ``theta_ltd``, ``c_slow`` below
``theta_slow``) the rule's processes and traces only decay exponentially, and nothing else in
the circuit remembers the train. ``plasticity.skips: [{at, by}, ...]`` makes the rule jump ahead:
at run time ``at`` every process and trace decays over ``by`` more seconds, so test pulses after
it probe the weights as they are ``by`` seconds later (the experiment's sparse time course:
blocks of test pulses at minutes 0.2-60 after the train). Exact for the rule under the condition
above, which :func:`skip_violations` checks.

The parameters (:data:`CALCIUM_DEFAULTS`) are fitted to the after-effects on the MEP in humans
(cortical data; :mod:`experiments.plasticity` documents the fit and what it reproduces), with the
function :func:`reference_weight` below, which integrates the same equations for one synapse
recruited by a given list of pulse times. The fit used a synapse recruited by every pulse; in the
circuit only the fibres a train recruits change (about 20 % of them at 70 % RMT).

Only the presynaptic pattern enters (a model choice): the NMDA dependence of the TBS after-effects
(Huang et al. 2007, Clin Neurophysiol 118:1028) and the postsynaptic state are not modelled.
"""

from __future__ import annotations

from typing import Dict, Mapping, Sequence, Tuple

import numpy as np

#: rule ``calcium``: time constants (s) and thresholds (trace units: one pulse adds 1) chosen from
#: the protocols' structure, the decay of the two processes from the after-effects' durations,
#: amplitudes (per second) fitted (see the module doc)
CALCIUM_DEFAULTS: Dict[str, object] = {
    "tau_fast": "0.5*second",  # decays between bursts (200 ms) little, between 1 Hz pulses fully
    "tau_slow": "60*second",   # integrates over a 40 s train; iTBS's mean rate keeps it low
    # the facilitatory and the inhibitory process fade at their own rates (Huang et al. 2011: two
    # processes with different time courses); unconsolidated early-phase LTP and LTD return to
    # baseline (Frey & Morris 1997, Nature 385:533). Chosen from the durations in Huang et al. 2005:
    # iTBS facilitation lasting about 15-20 min (tau_ltp: 20 min), cTBS 600 depression lasting up to
    # about an hour (tau_ltd: 30 min). Not fitted to the circuit; 1 Hz rTMS does not reach the
    # facilitatory process, so tau_ltp does not change its after-effect
    "tau_ltp": "1200*second",
    "tau_ltd": "1800*second",
    "theta_ltd": 0.9,          # one isolated pulse (c_fast = 1) is just above it
    "theta_ltp": 3.0,          # above what 3 pulses at 50 Hz reach alone; theta bursts sum past it
    "theta_slow": 240.0,       # reached after about 20 s of continuous theta burst (Gentner et al. 2008)
    # amplitudes (per second) fitted so that a synapse recruited by every pulse of the preset's
    # protocol (its test pulses included: ten before, ten after, from 1 min after cTBS and iTBS, at
    # once after 1 Hz) changes, at the end of the preset's run, as the MEP does after it in humans:
    # iTBS 600 -> x1.35 and cTBS 600 -> x0.75 (Huang et al. 2005: MEPs about +35 % and -25 % over
    # the first 10-20 min), 1 Hz x 900 at 115 % RMT -> x0.805 (Chen et al. 1997: MEPs -19.5 %). The
    # three targets fix the three amplitudes (a linear solve: the weight's change is linear in
    # them; experiments/plasticity/fit_calcium.py)
    "A_ltp": 3.37e-3,
    "A_ltd": 2.14e-3,
    "A_slow": 1.45e-4,
}

#: integration step of the rule's run_regularly (numerical choice; bursts are 20 ms apart)
RULE_DT = 0.002
#: the rule's processes and traces, with the time constant each decays with
DECAYING = (("c_fast", "tau_fast"), ("c_slow", "tau_slow"), ("p_ca", "tau_ltp"), ("d_ca", "tau_ltd"))


def params_si(params: Mapping[str, object]) -> Dict[str, float]:
    """The rule's parameters in SI (time constants may be given as strings with units)."""
    from circuitsim.units import to_si

    return {k: (to_si(v, "time", k) if isinstance(v, str) else float(v)) for k, v in params.items()}


def skip_steps(skips: Sequence[Tuple[float, float]], dt: float = RULE_DT) -> Dict[int, float]:
    """{rule step: time skipped there (s)} for ``skips`` [(at, by), ...] (s)."""
    out: Dict[int, float] = {}
    for at, by in skips:
        k = int(round(at / dt))
        out[k] = out.get(k, 0.0) + float(by)
    return out


def reference_weight(pulse_times, duration: float, params: Mapping[str, object], w_max: float = 2.0,
                     dt: float = RULE_DT, w_min: float = 0.0, skips: Sequence[Tuple[float, float]] = (),
                     traces: bool = False):
    """The relative weight of synapses whose fibre fires at ``pulse_times`` (s; one sequence, or a
    list of sequences, one per synapse), integrated from 0 to ``duration`` with step ``dt``
    exactly as the compiled rule does: its regular update runs at ``t = k * dt`` after that time
    step's synaptic events, so a pulse arriving in ``((k - 1) * dt, k * dt]`` enters update ``k``
    (an Euler step of the two processes, the weight ``clip(1 + p - d)``, then the exact decay of the
    processes and traces). ``skips`` [(at, by), ...]: at the update at ``at`` the decays also run
    over ``by`` more seconds (the rule's time jumps ahead; see :func:`code`).

    Returns (times, weights): ``k * dt`` (rule time, skips not added) and the weight after update
    ``k`` (steps, or synapses x steps); with ``traces``, also {name: value after the last update}.
    """
    p = params_si(params)
    single = len(pulse_times) == 0 or np.ndim(pulse_times[0]) == 0
    trains = [np.asarray(pulse_times, float)] if single else [np.asarray(x, float) for x in pulse_times]
    n = int(round(duration / dt)) + 1
    counts = np.zeros((len(trains), n + 1), np.int16)
    for k, tr in enumerate(trains):
        np.add.at(counts[k], np.minimum(np.ceil(tr / dt - 1e-6).astype(np.int64), n), 1)
    jumps = skip_steps(skips, dt)
    decay = {k: np.exp(-dt / p[tau]) for k, tau in DECAYING}
    state = {k: np.zeros(len(trains)) for k, _ in DECAYING}
    cf, cs, pp, dd = (state[k] for k in ("c_fast", "c_slow", "p_ca", "d_ca"))
    out = np.empty((len(trains), n))
    for k in range(n):
        cf += counts[:, k]
        cs += counts[:, k]
        pp += dt * p["A_ltp"] * np.maximum(cf - p["theta_ltp"], 0.0)
        dd += dt * (p["A_ltd"] * ((cf > p["theta_ltd"]) & (cf <= p["theta_ltp"]))
                    + p["A_slow"] * np.maximum(cs - p["theta_slow"], 0.0))
        out[:, k] = np.clip(1.0 + pp - dd, w_min, w_max)
        extra = jumps.get(k)
        for name, tau in DECAYING:
            state[name] *= decay[name] if extra is None else np.exp(-(dt + extra) / p[tau])
    t = np.arange(n) * dt
    w = out[0] if single else out
    if traces:
        return t, w, {k: (v[0] if single else v).copy() for k, v in state.items()}
    return t, w


def code(prefix: str, w: str, w_max: str, zero: str, gate: str, skips: bool = False) -> Tuple[str, str, None, str]:
    """(model, on_pre, on_post, regular) of the rule for weight ``w`` in ``[zero, w_max]``; ``gate``
    (an expression, 0 or 1 per synapse) leaves synapses that are not plastic untouched. The
    ``regular`` code runs every :data:`RULE_DT` (Synapses.run_regularly, ``when='end'``).

    ``skips``: the decay factors are the TimedArrays ``<prefix>_decay_<name>(t)`` (set by
    :func:`namespace`), so that at a skip the rule's processes and traces decay over the skipped
    time too."""
    model = "c_fast : 1\nc_slow : 1\np_ca : 1\nd_ca : 1\n"
    on_pre = f"c_fast += {gate}\nc_slow += {gate}\n"
    p = prefix
    ltp = f"{p}_A_ltp*clip(c_fast - {p}_theta_ltp, 0, inf)"
    ltd = (f"{p}_A_ltd*int(c_fast > {p}_theta_ltd and c_fast <= {p}_theta_ltp)"
           f" + {p}_A_slow*clip(c_slow - {p}_theta_slow, 0, inf)")
    regular = (f"p_ca = p_ca + {p}_rule_dt*({ltp})\n"
               f"d_ca = d_ca + {p}_rule_dt*({ltd})\n"
               f"{w} = clip(1 + p_ca - d_ca, {zero}, {w_max})\n")
    for name, _ in DECAYING:
        factor = f"{p}_decay_{name}(t)" if skips else f"{p}_decay_{name}"
        regular += f"{name} = {name}*{factor}\n"
    return model, on_pre, None, regular


def namespace(prefix: str, params: Mapping[str, float], skips: Sequence[Tuple[float, float]] = (),
              duration: float = 0.0) -> Dict[str, object]:
    """The rule's constants for the namespace (``params`` in SI); with ``skips``, the decay factors
    per rule step as TimedArrays over ``duration``."""
    ns: Dict[str, object] = {f"{prefix}_{k}": float(v) for k, v in params.items() if not k.startswith("tau")}
    ns[f"{prefix}_rule_dt"] = RULE_DT
    if not skips:
        for name, tau in DECAYING:
            ns[f"{prefix}_decay_{name}"] = float(np.exp(-RULE_DT / params[tau]))
        return ns
    from brian2 import TimedArray, second

    n = int(round(duration / RULE_DT)) + 2
    extra = np.zeros(n)
    for k, by in skip_steps(skips).items():
        if k < n:
            extra[k] += by
    for name, tau in DECAYING:
        ns[f"{prefix}_decay_{name}"] = TimedArray(np.exp(-(RULE_DT + extra) / params[tau]), dt=RULE_DT * second,
                                                  name=f"{prefix}_decay_{name}")
    return ns


def skip_violations(pulse_times, skips: Sequence[Tuple[float, float]], params: Mapping[str, object]) -> list:
    """The skips at which a synapse recruited at ``pulse_times`` (s) still has ``c_fast`` above
    ``theta_ltd`` or ``c_slow`` above ``theta_slow`` (where a skip is not exact for the rule):
    [(at, c_fast, c_slow), ...]; empty when every skip is exact."""
    p = params_si(params)
    t = np.sort(np.asarray(pulse_times, float))
    out = []
    for k, (at, _) in enumerate(skips):
        before = t[t <= at]
        # time from each pulse to the skip, with the earlier skips' time added
        gap = at - before + np.array([sum(by for a, by in skips[:k] if x < a) for x in before])
        cf = float(np.exp(-gap / p["tau_fast"]).sum())
        cs = float(np.exp(-gap / p["tau_slow"]).sum())
        if cf > p["theta_ltd"] or cs > p["theta_slow"]:
            out.append((at, cf, cs))
    return out
