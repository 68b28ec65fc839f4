"""Short-term depression of the synapses that DBS pulses activate (the ``synaptic_depression`` node).

Why
---
An axon excited by every pulse of a 130 Hz train releases transmitter at 130 Hz, far above its
natural rate, and its terminals run down: the evoked postsynaptic responses fade within a few
pulses and then stay at a small steady level. Recorded during stimulation of the basal-ganglia
output nuclei:

- in human substantia nigra pars reticulata (the GPi's twin output nucleus), the evoked field
  potentials of a 30-100 Hz train fell rapidly after the first pulses, and the firing of nearby
  neurons decreased from 3 Hz on and was silenced at 50 Hz (Milosevic et al. 2018, Brain
  141:177; 1-100 Hz, 100 uA, 0.3 ms, 50-60 pulses);
- in the globus pallidus of MPTP-treated monkeys the time-locked responses to high-frequency
  stimulation faded or shrank during the first 10 s and reset after a pause (Erez et al. 2009,
  J Neurosci 29:7797: short-term depression);
- nevertheless high-frequency GPi stimulation silences the spontaneous firing of neighbouring
  GPi neurons through GABA-A and GABA-B receptors (Chiken & Nambu 2013, J Neurosci 33:2268), as
  does a single pulse for 10-25 ms (Dostrovsky et al. 2000, J Neurophysiol 84:570);
- depression and axonal failure together limit what DBS-driven axons transmit (Rosenbaum et al.
  2014, Neurobiol Dis 62:86, a Tsodyks-Markram model fitted to recordings during DBS).

Model (Tsodyks & Markram 1997, PNAS 94:719, depression only)
-------------------------------------------------------------
Every synapse a pulse drives (the stimulated efferent axons' synapses and the stimulated
afferent fibres' synapses in the target) holds a fraction ``x`` of releasable resources,
``x = 1`` at rest. A pulse that activates the synapse (and, with axonal failure, reaches it)
adds ``w * x`` to the postsynaptic conductance and uses ``U * x``; between pulses ``x``
recovers towards 1 with ``tau_rec`` (``elements`` chooses which stimulated axons' synapses depress; see below).
At a regular frequency ``f`` the efficacy relative to the
first pulse settles at (:func:`steady_state_efficacy`)::

    x_ss = (1 - E) / (1 - (1 - U) * E),   E = exp(-1 / (f * tau_rec))

so the transmitted drive, ``f * x_ss``, saturates at ``1 / (U * tau_rec)`` pulses per second
above a few tens of Hz. Defaults (the schema's :class:`~circuitsim.stimulation.dbs_schema.SynapticDepressionConf`,
also :data:`DEFAULT_DEPRESSION`): ``U = 0.5`` and
``tau_rec = 150 ms``, a model choice fitted to the recordings above rather than to synaptic
measurements: the efficacy stays above 0.7 at 5 Hz, falls below 0.5 at 30 Hz and below 0.15 at
100-130 Hz within about five pulses (the rapid attenuation of the evoked potentials above 30 Hz,
Milosevic et al. 2018), while the saturated drive (about 13 pulses/s per fibre) still silences
most GPi cells at 130 Hz (Chiken & Nambu 2013); checked in tests/test_stim_dbs.py.

Which synapses depress (``elements``, default ``[afferent_axons]``): each kind is fitted to the
recordings of its own postsynaptic cells. The afferent fibres' synapses in the target depress
as above (the evoked potentials and the firing of the stimulated nucleus, Milosevic et al. 2018;
Erez et al. 2009). The stimulated target's own efferent synapses do not by default: during GPi
stimulation in awake monkeys most pallidal-receiving thalamic neurons are inhibited (Anderson et
al. 2003, J Neurophysiol 89:1150), which needs pallidothalamic transmission that follows the
pulses. With ``elements: [efferent_axons, afferent_axons]`` the pulses no longer replace the
pallidal output they silence and the model's thalamus fires more during GPi DBS, not less
(experiments/dbs_frequency, sensitivity rows).

Limitation: the natural spikes of a stimulated axon still pass through the circuit's own
(static) synapses of that pathway; they neither share the depleted resources nor collide with
the pulse-evoked spikes.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any, Dict, Mapping, Tuple

import numpy as np

from circuitsim.schema import defaults, with_defaults
from circuitsim.stimulation.dbs_schema import SynapticDepressionConf

#: Tsodyks-Markram depression of the DBS-driven synapses (model choice; see module docstring):
#: the schema's defaults, as a dict
DEFAULT_DEPRESSION = defaults(SynapticDepressionConf)
KEYS = tuple(f.name for f in fields(SynapticDepressionConf))
AXONS = ("efferent_axons", "afferent_axons")


def validate_depression(node: Any, path: str) -> Dict[str, Any]:
    """Check a ``synaptic_depression`` node ({enabled, U, tau_rec}); SI values out."""
    from circuitsim.spec import check_choice, require
    from circuitsim.units import to_si

    node = {} if node is None else node
    require(isinstance(node, Mapping), path, "a mapping {enabled, U, tau_rec, elements}")
    for key in node:
        check_choice(key, KEYS, f"{path}.{key}")
    node = with_defaults(node, SynapticDepressionConf)
    enabled = node["enabled"]
    require(isinstance(enabled, bool), f"{path}.enabled", "must be true or false")
    try:
        u = float(node["U"])
    except (TypeError, ValueError):
        u = float("nan")
    require(0 < u <= 1, f"{path}.U", "the release fraction must lie in (0, 1], e.g. 0.5")
    tau = to_si(node["tau_rec"], "time", f"{path}.tau_rec")
    require(tau > 0, f"{path}.tau_rec", "must be positive, e.g. 150*ms")
    elements = node["elements"]
    require(isinstance(elements, (list, tuple)), f"{path}.elements", f"a list of {', '.join(AXONS)}")
    for k, e in enumerate(elements):
        check_choice(e, AXONS, f"{path}.elements[{k}]")
    return {"enabled": enabled, "U": u, "tau_rec": tau, "elements": list(elements)}


def for_element(depression: Mapping[str, Any], element: str) -> Dict[str, Any]:
    """The depression settings of one kind of stimulated axon (disabled where not listed)."""
    return {**depression, "enabled": bool(depression["enabled"] and element in depression["elements"])}


def steady_state_efficacy(frequency: float, U: float, tau_rec: float) -> float:
    """Efficacy (relative to the first pulse) of a depressing synapse driven at ``frequency``."""
    if frequency <= 0:
        return 1.0
    e = math.exp(-1.0 / (frequency * tau_rec))
    return (1.0 - e) / (1.0 - (1.0 - U) * e)


def efficacy_train(onsets: np.ndarray, U: float, tau_rec: float) -> np.ndarray:
    """Efficacy of each pulse of a train (the resources ``x`` just before it), as the synapses compute it."""
    out = np.empty(len(onsets))
    x, last = 1.0, None
    for k, t in enumerate(np.asarray(onsets, dtype=float)):
        if last is not None:
            x = 1.0 - (1.0 - x) * math.exp(-(t - last) / tau_rec)
        out[k] = x
        x -= U * x
        last = t
    return out


def axon_synapse_code(receptor: str, failure: bool, depression: Mapping[str, Any]) -> Tuple[str, str]:
    """Model and on_pre code of the Synapses that deliver stimulated axons' spikes (per receptor).

    ``active`` (set by the amplitude, or by a closed-loop controller during the run) gates a
    synapse; ``p_tx`` is the axonal transmission probability; ``x_dbs`` the resources.
    """
    model = ["active : 1", "w_dbs : siemens (constant)"]
    gate = "active"
    on_pre = []
    if failure:
        model.append("p_tx : 1 (constant)")
        on_pre.append("tx_dbs = active*int(rand() < p_tx)")
        gate = "tx_dbs"
    if depression["enabled"]:
        model += ["dx_dbs/dt = (1 - x_dbs)/tau_rec_dbs : 1 (event-driven)",
                  "U_dbs : 1 (constant)", "tau_rec_dbs : second (constant)"]
        on_pre += [f"g_{receptor}_post += w_dbs*{gate}*x_dbs", f"x_dbs -= U_dbs*x_dbs*{gate}"]
    else:
        on_pre.append(f"g_{receptor}_post += w_dbs*{gate}")
    return "\n".join(model), "\n".join(on_pre)


def depression_values(n: int, depression: Mapping[str, Any]) -> Dict[str, tuple]:
    """Initial per-synapse values (value array, Brian2 unit name) of the depression variables."""
    if not depression["enabled"]:
        return {}
    return {"x_dbs": (np.ones(n), None), "U_dbs": (np.full(n, depression["U"]), None),
            "tau_rec_dbs": (np.full(n, depression["tau_rec"]), "second")}


def resources(synapse_objects) -> Dict[str, float]:
    """Mean resources ``x`` (just after the last pulse) of the active DBS-driven synapses, per object."""
    out = {}
    for syn, _thr in synapse_objects:
        if "x_dbs" not in syn.variables:
            continue
        active = np.asarray(syn.active_[:]) > 0
        if active.any():
            out[syn.name] = float(np.mean(np.asarray(syn.x_dbs_[:])[active]))
    return out
