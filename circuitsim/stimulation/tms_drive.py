"""A site's ``tonic_drive`` node: a tonic facilitation of an afferent element's fibres by the ongoing
spikes of a population of the circuit, read at the time each fibre spike arrives.

What it stands for (the CBI preset and experiments/tms give m1 :data:`TONIC_DRIVE`): the dentate nucleus fires
tonically (Thach 1968) and facilitates the motor cortex through the motor thalamus (VL); cerebellar
stimulation excites Purkinje cells, whose inhibition silences the dentate and withdraws this
facilitation, so a test pulse 5-7 ms later gives a smaller MEP: cerebellar-brain inhibition (CBI;
Ugawa et al. 1995, Ann Neurol 37:703; Daskalakis et al. 2004, J Physiol 557:689, who found that CBI
interacts with the intracortical circuits of SICI, ICF and LICI, i.e. with the interneurons that
generate the I-waves). In the circuit the dentate -> thalamus -> cortex path ends on the
pyramidal cells, where its conductance (about 1.4 nS) is negligible against the synchronous drive
of a test pulse (about 18 recruited I-wave fibres of 2.7 nS each), so withdrawing it leaves the MEP
unchanged: with the dentate silenced for 13 ms by the cerebellar pulse, shorter cerebellar delays
and a dentato-thalamic drive up to 6 times stronger gave no CBI (experiments/tms/README.md). The node
carries the same dentate spikes to the I-wave fibres of M1 instead.

Model: each fibre spike of ``element`` gives its conductances times ``1 + depth * (D(t) / rate - 1)``,
where ``D(t)`` is the spike rate per cell of ``population`` after ``latency``, low-passed with ``tau``,
and ``rate`` the population's resting rate in the healthy circuit (factor about 1 there). The factor
never falls below ``1 - depth``. It is driven by the circuit's own dentate spikes, so a condition or a
plasticity protocol that changes the dentate's firing or its Purkinje inhibition changes CBI and the
test pulse's efficacy with it.

Timing: a cerebellar pulse fires the Purkinje cells at once; the circuit's Purkinje -> dentate delay
(``pc_dcn``, 2 ms) silences the dentate from about 3 ms; ``latency`` (1 ms) is the rest of the path to
the I-wave fibres, fitted so that the withdrawal reaches a test pulse given 5-7 ms after the cerebellar
one but not one at 3 ms (CBI at 5-7 ms, none at 3 ms: Ugawa et al. 1995). The path is shorter than
animal data suggest: monosynaptic Purkinje -> nuclear IPSPs (Ito et al. 1970, Exp Brain Res 10:64)
and EPSPs in fast pyramidal tract neurons about 3 ms after stimulation of the dentate nucleus in the
cat (disynaptic through VL; Shinoda, Futami & Kano 1985, Neurosci Res 2:133) would put the withdrawal
1-2 ms later, past the model's single I-wave volley (0.5 ms after the test pulse), where the human
motor cortex has later I-waves for it to act on. ``tau`` 10 ms (model choice): 30 dentate cells are a
small sample, and 5 ms left the drive a test pulse meets with a trial-to-trial SD of 26-40 % (21-24 %
at 10 ms, tuning seeds 0, 1, 5).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import numpy as np

from circuitsim.spec import StimulusContext, check_population, require
from circuitsim.units import to_si

TONIC_DRIVE_KEYS = ("population", "element", "depth", "rate", "latency", "tau")

#: the dentato-thalamo-cortical facilitation of the M1 I-wave fibres (see the module docstring), as the
#: CBI preset (configs/stim/tms_cbi.yaml) and experiments/tms give it to m1. ``rate`` 42 Hz: the healthy
#: dentate's resting rate in the model (41.5-41.8 Hz on the tuning seeds 0, 1, 5 with this protocol;
#: primate dentate 30-60 Hz, Thach 1968). ``depth`` fitted on the tuning seeds (both rotators; ratio at
#: 5-7 ms / at 3 ms): with 12 pairs per interval 0.3 gave 0.63, 0.88, 0.58 / 1.03, 1.47, 0.84 and 0.4 gave
#: 0.61, 0.69, 0.37 / 0.95, 0.80, 0.62; with 24 pairs 0.4 gave 0.62, 0.57, 0.80 / 0.88, 1.60, 0.93 (mean
#: 0.66 / 1.13) and 0.5 gave 0.47, 0.69, 0.71 / 0.83, 1.24, 0.92 (mean 0.62 / 0.99). The 3-ms ratios
#: scatter around 1 with the trials: the drive a 3-ms test pulse meets is the unconditioned one. CBI
#: <= 0.8 at 5-7 ms and about 1 at 3 ms: Ugawa et al. 1995.
TONIC_DRIVE: Dict[str, Any] = {"population": "dcn", "element": "ctx_e_afferent", "depth": 0.5, "rate": "42*Hz",
                               "latency": "1*ms", "tau": "10*ms"}


def validate_tonic_drive(node: Any, path: str, elements: Mapping[str, Any], site: str,
                         ctx: Optional[StimulusContext]) -> Dict[str, Any]:
    """Check a site's ``tonic_drive`` node, in SI."""
    require(isinstance(node, Mapping), path, "a mapping with " + ", ".join(TONIC_DRIVE_KEYS))
    for key in node:
        require(key in TONIC_DRIVE_KEYS, f"{path}.{key}", f"unknown key; allowed: {', '.join(TONIC_DRIVE_KEYS)}")
    require(node.get("element") in elements and elements[node["element"]]["kind"] == "afferent", f"{path}.element",
            f"must name an afferent element of site {site}: {', '.join(e for e, v in elements.items() if v['kind'] == 'afferent')}")
    pop = check_population(node.get("population"), f"{path}.population", ctx) if ctx is not None else node.get("population")
    depth = node.get("depth")
    require(isinstance(depth, (int, float)) and not isinstance(depth, bool) and 0 <= depth <= 1, f"{path}.depth",
            f"the fraction of the fibres' efficacy that the drive carries: a number in [0, 1] (got {depth!r})")
    out = {"population": pop, "element": node["element"], "depth": float(depth),
           "rate": to_si(node.get("rate"), "rate", f"{path}.rate"),
           "latency": to_si(node.get("latency"), "time", f"{path}.latency"),
           "tau": to_si(node.get("tau"), "time", f"{path}.tau")}
    require(out["rate"] > 0, f"{path}.rate", "the population's resting rate: must be positive (e.g. 45*Hz)")
    require(out["latency"] > 0, f"{path}.latency", "must be positive (at least one time step)")
    require(out["tau"] > 0, f"{path}.tau", "must be positive")
    return out


def drive_node(params: Mapping[str, Any]) -> Optional[tuple]:
    """(site, node) of the one site with a ``tonic_drive`` node, or None."""
    found = [(s, site["tonic_drive"]) for s, site in params["sites"].items() if site.get("tonic_drive")]
    return found[0] if found else None


def build_relay(ctx: Any, prefix: str, gen: Any, n: int, node: Mapping[str, Any]) -> Any:
    """The fibres' presynaptic group when a site has a ``tonic_drive`` node: one relay neuron per
    generator neuron, which spikes one time step after its generator neuron (so the fibres' delays are
    shortened by one step) and holds ``drive`` = D(t) / rate, fed by every spike of the node's
    population after ``latency``."""
    from brian2 import NeuronGroup, Synapses, second

    dt = ctx.spec.sim.dt
    tau = f"{prefix}_drive_tau"
    ctx.namespace[tau] = node["tau"] * second
    relay = NeuronGroup(n, f"fire : 1\nddrive/dt = -drive/{tau} : 1", threshold="fire > 0.5", reset="fire = 0",
                        method="exact", name=f"{prefix}_relay")
    relay.drive = 1.0
    trigger = Synapses(gen, relay, on_pre="fire_post = 1", name=f"{prefix}_relay_trigger")
    trigger.connect(j="i")
    start, stop = ctx.layout.slices[node["population"]]
    n_src = stop - start
    inc = f"{prefix}_drive_inc"
    ctx.namespace[inc] = 1.0 / (n_src * node["tau"] * node["rate"])
    feed = Synapses(ctx.group[start:stop], relay, on_pre=f"drive_post += {inc}", name=f"{prefix}_drive_feed")
    feed.connect()
    feed.delay = max(node["latency"], dt) * second
    ctx.objects += [relay, trigger, feed]
    return relay


def depth_per_synapse(node: Optional[Mapping[str, Any]], site_of_fibre: np.ndarray, element_of_fibre: np.ndarray,
                      site: Optional[str]) -> np.ndarray:
    """Each fibre synapse's depth: the node's on its element's fibres, 0 elsewhere."""
    out = np.zeros(site_of_fibre.size)
    if node is not None:
        out[(site_of_fibre == site) & (element_of_fibre == node["element"])] = node["depth"]
    return out
