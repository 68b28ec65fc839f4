"""Synaptic plasticity of selected synapses: the after-effects of rTMS and theta burst.

Three rules (``plasticity.rule``), each for the synapses it suits:

``calcium`` (the presets ``ctbs_m1``, ``itbs_m1``, ``rtms_1hz``)
    For the synapses of the I-wave fibres that M1 pulses recruit (``elements``): a calcium rule
    after Huang et al. 2011 (Clin Neurophysiol 122:1011) and the calcium control hypothesis
    (Shouval, Bear & Cooper 2002), fitted to the MEP after-effects of cTBS, iTBS (Huang et al.
    2005) and 1 Hz rTMS (Chen et al. 1997); :mod:`circuitsim.stimulation.plasticity_calcium`.
    Driven by the pulses only, so it does not move without them (a sham train leaves it still).
``cf_gated`` (the preset ``ctbs_cerebellum``)
    For parallel fibre -> Purkinje cell synapses (``pathways: [grc_pc]``): parallel-fibre input
    alone potentiates, paired with the climbing fibre depresses (Coesmans et al. 2004),
    balanced at rest; :mod:`circuitsim.stimulation.plasticity_cerebellum`.
``triplet_stdp`` (default; no preset uses it)
    The minimal all-to-all triplet STDP model of Pfister & Gerstner 2006 (J Neurosci 26:9673),
    parameters fitted to visual-cortex slice data (their table 4, "visual cortex, all-to-all,
    minimal"): presynaptic traces ``r1`` (tau_plus 16.8 ms), ``r2`` (tau_x 101 ms), postsynaptic
    traces ``o1`` (tau_minus 33.7 ms), ``o2`` (tau_y 125 ms);

    * at a presynaptic spike: ``w -= eta * w_max * o1 * (A2_minus + A3_minus * r2)``, then
      ``r1 += 1, r2 += 1``;
    * at a postsynaptic spike: ``w += eta * w_max * r1 * (A2_plus + A3_plus * o2)``, then
      ``o1 += 1, o2 += 1``.

    With uncorrelated pre- and postsynaptic firing it drifts at a rate proportional to
    ``A3_plus * tau_plus * tau_y * nu_post - A2_minus * tau_minus`` (a BCM-like threshold at
    ``nu_post`` of about 18 Hz), so cortical cells firing at a few Hz depress every synapse all
    the time; ``balance_rate`` sets ``A2_minus`` so that this drift is zero at a given
    postsynaptic rate (Pfister & Gerstner 2006 make ``A2_minus`` depend on the mean rate for the
    same reason). During a TBS train at 80 % AMT the pyramidal cells are silenced by the recruited
    interneurons, so this rule changes the I-wave fibres little and in the same direction for cTBS
    and iTBS (why the presets use ``calcium``); on ``grc_pc`` it let the weights collapse by 90-99 %
    under a sham train (why ``ctbs_cerebellum`` uses ``cf_gated``).

Weights are clipped to ``[0, w_max]`` with ``w_max = w_max_factor * `` the initial weight. ``eta``
scales every amplitude of a rule; 1 is the fitted or published rule and every preset leaves it
there (no preset multiplies an amplitude).

Configured at ``stim.<name>.plasticity`` of a TMS stimulus, off by default::

    plasticity: {enabled: true, rule: calcium, pathways: [], elements: [m1.ctx_e_afferent]}

``skips`` (calcium rule only): ``[{at: <run time>, by: <time>}, ...]``: at ``at`` the rule's
processes and traces decay over ``by`` more seconds, so that later test pulses probe the weights
minutes to an hour after a train without simulating the circuit in between
(:mod:`circuitsim.stimulation.plasticity_calcium`; exact while no pulse's calcium is above threshold).

Two kinds of synapse can be plastic:

``pathways``
    Pathways of the circuit (default ``[ctx_e_ctx_e]`` when neither list is given). The selected
    pathway's synapses keep their place in the receptor's shared ``Synapses`` object with weight
    0, and the same connections (same pre/post indices and delays) are built again as a plastic
    ``Synapses`` object here (no change to the circuit builder).
``elements``
    Afferent elements of the stimulus's own sites (``<site>.<element>``, e.g.
    ``m1.ctx_e_afferent``): the synapses of the fibres that the pulses recruit onto their target
    cells, which generate the I-waves and so the MEP. Theta burst stimulation changes exactly
    these circuits: cTBS suppresses the earliest I-wave (Di Lazzaro et al. 2005, J Physiol
    565:945) and iTBS raises later ones (Di Lazzaro et al. 2008, J Physiol 586:3871). Each fibre
    synapse carries a relative weight (1 at the start, bounded by ``[0, w_max_factor]``) that
    scales both its AMPA and NMDA conductances. Its presynaptic spikes are the pulses that recruit
    the fibre, so it has no spontaneous drift.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

import numpy as np

from circuitsim.spec import StimulusContext, require
from circuitsim.stimulation import plasticity_calcium as calcium
from circuitsim.stimulation.plasticity_calcium import CALCIUM_DEFAULTS
from circuitsim.stimulation.plasticity_cerebellum import CF_BALANCE_RATE, CF_DEFAULTS, build_cf_gated
from circuitsim.stimulation.weight_traces import TRACE_DT, TRACE_SYNAPSES, weight_trace  # noqa: F401 (re-exported)
from circuitsim.units import to_si

logger = logging.getLogger(__name__)

RULES = ("triplet_stdp", "calcium", "cf_gated")

#: Pfister & Gerstner 2006, table 4, visual cortex, all-to-all interactions, minimal model.
TRIPLET_DEFAULTS = {
    "tau_plus": "16.8*ms", "tau_minus": "33.7*ms", "tau_x": "101*ms", "tau_y": "125*ms",
    "A2_plus": 5e-10, "A3_plus": 6.2e-3, "A2_minus": 7e-3, "A3_minus": 2.3e-4,
}


KEYS = ("enabled", "rule", "pathways", "elements", "eta", "w_max_factor", "params", "balance_rate", "skips")


def _number(value: Any, path: str) -> float:
    """A finite plain number, or a one-line error naming the field."""
    try:
        number = float(value) if not isinstance(value, bool) else float("nan")
    except (TypeError, ValueError):
        number = float("nan")
    require(bool(np.isfinite(number)), path, f"must be a finite number (got {value!r})")
    return number


def validate_plasticity(node: Any, path: str, ctx: StimulusContext,
                        sites: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Check a plasticity node; ``{"enabled": False}`` when absent or off.

    ``sites`` are the stimulus's validated sites, against which ``elements`` are checked.
    """
    if node is None:
        return {"enabled": False}
    require(isinstance(node, Mapping), path,
            "plasticity is a mapping: {enabled, rule, pathways, elements, eta, w_max_factor, params}")
    for key in node:
        require(key in KEYS, f"{path}.{key}", f"unknown key; allowed: {', '.join(KEYS)}")
    enabled = node.get("enabled", False)
    require(isinstance(enabled, bool), f"{path}.enabled", f"must be true or false (got {enabled!r})")
    rule = node.get("rule", "triplet_stdp")
    require(rule in RULES, f"{path}.rule", f"unknown plasticity rule {rule!r}; choose one of {', '.join(RULES)}")
    for key in ("pathways", "elements"):
        require(node.get(key) is None or isinstance(node.get(key), Sequence) and not isinstance(node.get(key), str),
                f"{path}.{key}", f"must be a list (got {node.get(key)!r})")
    elements = list(node.get("elements") or [])
    pathways = list(node.get("pathways") or ([] if "pathways" in node or elements else ["ctx_e_ctx_e"]))
    for k, p in enumerate(pathways):
        require(p in ctx.pathways, f"{path}.pathways[{k}]",
                f"unknown or disabled pathway {p!r}; known: {', '.join(ctx.pathways)}")
    require(len(set(pathways)) == len(pathways), f"{path}.pathways", "a pathway is listed twice")
    afferents = [f"{sname}.{ename}" for sname, site in (sites or {}).items()
                 for ename, el in site["elements"].items() if el["kind"] == "afferent"]
    for k, e in enumerate(elements):
        require(e in afferents, f"{path}.elements[{k}]",
                f"not an afferent element of this stimulus's sites: {e!r}; known: {', '.join(afferents) or 'none'} "
                "(written <site>.<element>)")
    require(len(set(elements)) == len(elements), f"{path}.elements", "an element is listed twice")
    require(not enabled or pathways or elements, path, "nothing is plastic: list pathways or elements")
    eta = _number(node.get("eta", 1.0), f"{path}.eta")
    require(eta >= 0, f"{path}.eta", f"cannot be negative (got {eta})")
    w_max_factor = _number(node.get("w_max_factor", 2.0), f"{path}.w_max_factor")
    require(w_max_factor >= 1, f"{path}.w_max_factor", f"must be at least 1 (got {w_max_factor})")
    if enabled and rule == "calcium":
        require(not pathways, f"{path}.pathways", "the calcium rule acts on the fibres that pulses recruit: "
                "list them under elements (e.g. [m1.ctx_e_afferent]) and set pathways: []")
    if enabled and rule == "cf_gated":
        require(not elements, f"{path}.elements", "the cf_gated rule is for parallel-fibre pathways (e.g. "
                "pathways: [grc_pc]); remove elements")
    defaults = {"triplet_stdp": TRIPLET_DEFAULTS, "calcium": CALCIUM_DEFAULTS, "cf_gated": CF_DEFAULTS}[rule]
    given = dict(node.get("params") or {})
    for key in given:
        require(key in defaults, f"{path}.params.{key}",
                f"unknown parameter of rule {rule}; allowed: {', '.join(defaults)}")
    params = {}
    for key, default in defaults.items():
        value = given.get(key, default)
        if key.startswith("tau"):
            params[key] = to_si(value, "time", f"{path}.params.{key}")
            require(params[key] > 0, f"{path}.params.{key}", "must be positive")
        else:
            params[key] = _number(value, f"{path}.params.{key}")
            require(params[key] >= 0, f"{path}.params.{key}", "cannot be negative")
    skips = _validate_skips(node.get("skips"), f"{path}.skips", rule, ctx.sim.duration)
    balance = node.get("balance_rate")
    if rule == "calcium":
        require(balance is None, f"{path}.balance_rate", "the calcium rule does not drift without pulses; "
                "remove balance_rate")
    elif rule == "cf_gated" and balance == "measured":
        pass   # per synapse, before the stimulus's first train pulse (plasticity_cerebellum)
    elif rule == "cf_gated":
        balance = to_si(CF_BALANCE_RATE if balance is None else balance, "rate", f"{path}.balance_rate")
        require(balance > 0, f"{path}.balance_rate", "must be positive (the resting climbing-fibre rate), "
                "or 'measured'")
    elif balance is not None:
        rate = to_si(balance, "rate", f"{path}.balance_rate")
        require(rate > 0, f"{path}.balance_rate", "must be positive")
        require("A2_minus" not in given, f"{path}.balance_rate", "sets params.A2_minus; give one of the two")
        params["A2_minus"] = params["A3_plus"] * params["tau_plus"] * params["tau_y"] * rate / params["tau_minus"]
        balance = rate
    return {"enabled": enabled, "rule": rule, "pathways": pathways, "elements": elements, "eta": eta,
            "w_max_factor": w_max_factor, "params": params, "balance_rate": balance, "skips": skips}


def _validate_skips(node: Any, path: str, rule: str, duration: float) -> list:
    """``skips``: [{at, by}, ...] of the calcium rule, in SI, ``at`` increasing inside the run."""
    if node is None:
        return []
    require(rule == "calcium", path, "only the calcium rule can skip time; remove skips")
    require(isinstance(node, Sequence) and not isinstance(node, str), path,
            "a list of {at: <time>, by: <time>} (e.g. [{at: 90*second, by: 240*second}])")
    out, last = [], 0.0
    for k, item in enumerate(node):
        require(isinstance(item, Mapping) and set(item) == {"at", "by"}, f"{path}[{k}]",
                "give {at: <time in the run>, by: <time skipped>}")
        at = to_si(item["at"], "time", f"{path}[{k}].at")
        by = to_si(item["by"], "time", f"{path}[{k}].by")
        require(last < at < duration, f"{path}[{k}].at", f"must lie after the previous skip and inside sim.duration "
                f"({duration:g} s) (got {at:g} s)")
        require(by > 0, f"{path}[{k}].by", f"must be positive (got {by:g} s)")
        out.append((at, by))
        last = at
    return out


def _receptor_slice(ctx, pathway: str) -> tuple:
    """(receptor, start, stop) of a pathway's synapses inside the receptor's shared Synapses
    (the builder concatenates the pathways of a receptor in config order, skipping empty ones)."""
    spec = ctx.spec
    receptor = spec.pathways[pathway].receptor
    start = 0
    for name, pw in spec.pathways.items():
        if pw.receptor != receptor or not ctx.connections[name].n:
            continue
        if name == pathway:
            return receptor, start, start + ctx.connections[name].n
        start += ctx.connections[name].n
    return receptor, start, start


def rule_namespace(ctx, name: str, conf: Mapping[str, Any]) -> str:
    """Put the rule's constants of stimulus ``name`` into the namespace; return their prefix.

    The prefix names the rule (``stdp_<name>`` for triplet STDP, ``ca_<name>`` for the calcium
    rule), so that :func:`triplet_code`, which the TMS builder calls for plastic fibres, returns
    the code of the configured rule.
    """
    from brian2 import second

    if conf.get("rule") == "calcium":
        prefix = f"ca_{name}"
        params = dict(conf["params"])
        for k in ("A_ltp", "A_ltd", "A_slow"):
            params[k] = params[k] * conf["eta"]
        ctx.namespace.update(calcium.namespace(prefix, params, conf.get("skips") or (), ctx.spec.sim.duration))
        ctx.namespace[f"{prefix}_eta"] = 1.0   # the gate of the fibres' increments (eta is in the amplitudes)
        return prefix
    prefix = f"stdp_{name}"
    ctx.namespace.update({f"{prefix}_{k}": (v * second if k.startswith("tau") else v)
                          for k, v in conf["params"].items()})
    ctx.namespace[f"{prefix}_eta"] = conf["eta"]
    return prefix


def triplet_code(prefix: str, w: str, w_max: str, zero: str, eta: Optional[str] = None) -> tuple:
    """The triplet rule for the weight variable ``w`` bounded by ``[zero, w_max]``.

    ``eta`` is the expression of the learning rate (default: the stimulus's ``eta``; a synapse
    variable may gate it, e.g. ``"plastic_on*stdp_x_eta"``).

    Returns (model, on_pre, on_post): the four event-driven traces, and the updates that follow
    a presynaptic spike (depression, then the presynaptic traces) and a postsynaptic one
    (potentiation, then the postsynaptic traces). Transmission is the caller's: it comes first
    in ``on_pre``, so a spike is transmitted with the weight it found.
    """
    eta = eta or f"{prefix}_eta"
    if prefix.startswith("ca_"):   # the calcium rule (rule_namespace); its regular update: build_plasticity
        model, on_pre, on_post, _ = calcium.code(prefix, w, w_max, zero, eta)
        return model, on_pre, on_post
    model = f"""
        dr1/dt = -r1/{prefix}_tau_plus : 1 (event-driven)
        dr2/dt = -r2/{prefix}_tau_x : 1 (event-driven)
        do1/dt = -o1/{prefix}_tau_minus : 1 (event-driven)
        do2/dt = -o2/{prefix}_tau_y : 1 (event-driven)
    """
    on_pre = f"""
        {w} = clip({w} - {eta}*{w_max}*o1*({prefix}_A2_minus + {prefix}_A3_minus*r2), {zero}, {w_max})
        r1 += 1
        r2 += 1
    """
    on_post = f"""
        {w} = clip({w} + {eta}*{w_max}*r1*({prefix}_A2_plus + {prefix}_A3_plus*o2), {zero}, {w_max})
        o1 += 1
        o2 += 1
    """
    return model, on_pre, on_post


def weight_summary(w: np.ndarray, w0: float, w_max: float, t: np.ndarray, trace: np.ndarray,
                   unit: float) -> Dict[str, Any]:
    """Final weights ``w`` against the initial one ``w0`` (all SI), and the mean over time of
    the sampled weights ``trace`` (synapses x times ``t``).

    ``unit`` converts to what the keys say: 1e9 for conductances (nS), 1 for relative weights.
    """
    trace = np.asarray(trace, float)
    suffix = "_ns" if unit == 1e9 else ""
    return {f"weight_initial{suffix}": w0 * unit, f"weight_final_mean{suffix}": float(w.mean()) * unit,
            "relative_change": float(w.mean() / w0 - 1.0) if w0 > 0 else float("nan"),
            "fraction_at_max": float(np.mean(w >= 0.999 * w_max)),
            "fraction_at_zero": float(np.mean(w <= 1e-6 * w0)),
            "trace_t_s": np.asarray(t, float).tolist(),
            f"trace_mean{suffix}": (trace.mean(axis=0) * unit).tolist() if trace.size else []}


def build_plasticity(ctx, name: str, conf: Mapping[str, Any]) -> Optional[Callable[[], Dict[str, Any]]]:
    """Make the configured pathways plastic; returns a recorder of their weights (or None).

    The plastic ``elements`` of a TMS stimulus are built with its fibres
    (:func:`circuitsim.stimulation.tms.build_tms`, with :func:`triplet_code`); for the calcium
    rule their regular update (slow traces, weight) is added here.
    """
    if not conf or not conf.get("enabled"):
        return None
    from brian2 import Synapses, second, siemens

    if conf.get("rule") == "calcium" and conf.get("elements"):
        fibres = [o for o in ctx.objects if getattr(o, "name", "") == f"tms_{name}_fibres"]
        if fibres:
            prefix = f"ca_{name}"
            *_, regular = calcium.code(prefix, "w_rel", f"{prefix}_fibre_wmax", "0", "1", skips=bool(conf.get("skips")))
            fibres[0].run_regularly(regular, dt=calcium.RULE_DT * second, when="end", name=f"{prefix}_rule")
    if not conf.get("pathways"):
        return None
    prefix = rule_namespace(ctx, name, conf)
    built = {}
    for pathway in conf["pathways"]:
        pw = ctx.spec.pathways[pathway]
        conn = ctx.connections[pathway]
        if not conn.n:
            logger.warning("plasticity: pathway %s has no synapses at this scale", pathway)
            continue
        receptor, a, b = _receptor_slice(ctx, pathway)
        ctx.synapses[receptor].weight[a:b] = 0 * siemens   # silenced here, rebuilt as plastic below
        if conf.get("rule") == "cf_gated":
            syn, w0, w_max, mon = build_cf_gated(ctx, f"cf_{name}", pathway, conf, stimulus=name)
            built[pathway] = (syn, w0, w_max, mon, "w_pf")
            continue
        w_max = conf["w_max_factor"] * pw.weight
        wm = f"{prefix}_{pathway}_wmax"
        ctx.namespace[wm] = w_max * siemens
        model, on_pre, on_post = triplet_code(prefix, "w_stdp", wm, "0*siemens")
        syn = Synapses(ctx.group, ctx.group, "w_stdp : siemens\n" + model,
                       on_pre=f"g_{receptor}_post += w_stdp\n" + on_pre, on_post=on_post,
                       name=f"{prefix}_{pathway}")
        syn.connect(i=conn.i.astype(np.int64), j=conn.j.astype(np.int64))
        syn.w_stdp = pw.weight * siemens
        syn.delay = pw.delay * second
        # a sample of the weights over time, for the after-effect figure and tests
        mon = weight_trace(syn, "w_stdp", conn.n, f"{prefix}_{pathway}_trace")
        ctx.objects += [syn, mon]
        built[pathway] = (syn, pw.weight, w_max, mon, "w_stdp")
        logger.info("plasticity: %s (%d synapses) under triplet STDP, eta %g", pathway, conn.n, conf["eta"])

    def record() -> Dict[str, Any]:
        return {pathway: weight_summary(np.asarray(getattr(syn, var + "_")[:], float), w0, w_max, mon.t_,
                                        getattr(mon, var + "_"), 1e9)
                for pathway, (syn, w0, w_max, mon, var) in built.items()}

    return record


#: the name to call for the plastic fibres' code (the TMS builder still calls triplet_code, which
#: returns the configured rule's code: the prefix from rule_namespace names the rule)
element_rule_code = triplet_code
