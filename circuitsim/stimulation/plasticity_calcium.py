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
* the relative weight ``w`` (1 at the start, clipped to ``[0, w_max_factor]``) follows::

      dw/dt = A_ltp * [c_fast - theta_ltp]_+                         (fast facilitation)
              - A_ltd * 1[theta_ltd < c_fast <= theta_ltp]           (moderate calcium: LTD)
              - A_slow * [c_slow - theta_slow]_+                     (slow inhibition)

A single test pulse lifts ``c_fast`` to 1, just above ``theta_ltd`` and far below ``theta_ltp``;
bursts at 50 Hz repeated at 5 Hz sum to about 9 (facilitation); only a continuous train longer
than about 20 s lifts ``c_slow`` over ``theta_slow`` (inhibition that outlasts the train by tens of
seconds); iTBS's 8 s pauses keep ``c_slow`` below it. Without pulses the traces are 0, so the
weights do not move at all: a sham train leaves them where they were.

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
#: the protocols' structure, amplitudes (relative weight per second) fitted (see the module doc)
CALCIUM_DEFAULTS: Dict[str, object] = {
    "tau_fast": "0.5*second",  # decays between bursts (200 ms) little, between 1 Hz pulses fully
    "tau_slow": "60*second",   # integrates over a 40 s train; iTBS's mean rate keeps it low
    "theta_ltd": 0.9,          # one isolated pulse (c_fast = 1) is just above it
    "theta_ltp": 3.0,          # above what 3 pulses at 50 Hz reach alone; theta bursts sum past it
    "theta_slow": 240.0,       # reached after about 20 s of continuous theta burst (Gentner et al. 2008)
    # amplitudes (per second, relative weight) fitted so that a synapse recruited by every pulse
    # of the preset's protocol (its test pulses included: ten before, ten after, from 1 min after
    # cTBS and iTBS, at once after 1 Hz) changes as the MEP does after it in humans: iTBS 600 ->
    # x1.35 and cTBS 600 -> x0.75 (Huang et al. 2005: MEPs about +35 % and -25 % over the first
    # 10-20 min), 1 Hz x 900 at 115 % RMT -> x0.805 (Chen et al. 1997: MEPs -19.5 %). The three
    # targets fix the three amplitudes (a linear solve; experiments/plasticity/README.md)
    "A_ltp": 2.90e-3,
    "A_ltd": 1.67e-3,
    "A_slow": 1.33e-4,
}

#: integration step of the rule's run_regularly (numerical choice; bursts are 20 ms apart)
RULE_DT = 0.002


def params_si(params: Mapping[str, object]) -> Dict[str, float]:
    """The rule's parameters in SI (time constants may be given as strings with units)."""
    from circuitsim.units import to_si

    return {k: (to_si(v, "time", k) if isinstance(v, str) else float(v)) for k, v in params.items()}


def reference_weight(pulse_times, duration: float, params: Mapping[str, object], w_max: float = 2.0,
                     dt: float = RULE_DT, w_min: float = 0.0) -> Tuple[np.ndarray, np.ndarray]:
    """The relative weight of synapses whose fibre fires at ``pulse_times`` (s; one sequence, or a
    list of sequences, one per synapse), integrated from 0 to ``duration`` with step ``dt``
    exactly as the compiled rule does: its regular update runs at ``t = k * dt`` after that time
    step's synaptic events, so a pulse arriving in ``((k - 1) * dt, k * dt]`` enters update ``k``
    (an Euler step of the weight, then the exact decay of the traces).

    Returns (times, weights): ``k * dt`` and the weight after update ``k`` (steps, or synapses x steps).
    """
    p = params_si(params)
    single = len(pulse_times) == 0 or np.ndim(pulse_times[0]) == 0
    trains = [np.asarray(pulse_times, float)] if single else [np.asarray(x, float) for x in pulse_times]
    n = int(round(duration / dt)) + 1
    counts = np.zeros((len(trains), n + 1), np.int16)
    for k, tr in enumerate(trains):
        np.add.at(counts[k], np.minimum(np.ceil(tr / dt - 1e-6).astype(np.int64), n), 1)
    decay_f, decay_s = np.exp(-dt / p["tau_fast"]), np.exp(-dt / p["tau_slow"])
    cf = np.zeros(len(trains))
    cs = np.zeros(len(trains))
    w = np.ones(len(trains))
    out = np.empty((len(trains), n))
    for k in range(n):
        cf += counts[:, k]
        cs += counts[:, k]
        dw = (p["A_ltp"] * np.maximum(cf - p["theta_ltp"], 0.0)
              - p["A_ltd"] * ((cf > p["theta_ltd"]) & (cf <= p["theta_ltp"]))
              - p["A_slow"] * np.maximum(cs - p["theta_slow"], 0.0))
        w = np.clip(w + dt * dw, w_min, w_max)
        cf *= decay_f
        cs *= decay_s
        out[:, k] = w
    return np.arange(n) * dt, (out[0] if single else out)


def code(prefix: str, w: str, w_max: str, zero: str, gate: str) -> Tuple[str, str, None, str]:
    """(model, on_pre, on_post, regular) of the rule for weight ``w`` in ``[zero, w_max]``; ``gate``
    (an expression, 0 or 1 per synapse) leaves synapses that are not plastic untouched. The
    ``regular`` code runs every :data:`RULE_DT` (Synapses.run_regularly, ``when='end'``)."""
    model = "c_fast : 1\nc_slow : 1\n"
    on_pre = f"c_fast += {gate}\nc_slow += {gate}\n"
    p = prefix
    dw = (f"{p}_A_ltp*clip(c_fast - {p}_theta_ltp, 0, inf)"
          f" - {p}_A_ltd*int(c_fast > {p}_theta_ltd and c_fast <= {p}_theta_ltp)"
          f" - {p}_A_slow*clip(c_slow - {p}_theta_slow, 0, inf)")
    regular = (f"{w} = clip({w} + {p}_rule_dt*({dw}), {zero}, {w_max})\n"
               f"c_fast = c_fast*{p}_decay_fast\nc_slow = c_slow*{p}_decay_slow\n")
    return model, on_pre, None, regular


def namespace(prefix: str, params: Mapping[str, float]) -> Dict[str, float]:
    """The rule's constants for the namespace (``params`` in SI)."""
    ns = {f"{prefix}_{k}": float(v) for k, v in params.items() if not k.startswith("tau")}
    ns[f"{prefix}_rule_dt"] = RULE_DT
    ns[f"{prefix}_decay_fast"] = float(np.exp(-RULE_DT / params["tau_fast"]))
    ns[f"{prefix}_decay_slow"] = float(np.exp(-RULE_DT / params["tau_slow"]))
    return ns
