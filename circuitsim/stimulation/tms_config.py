"""TMS configuration: the validation of a ``tms`` stimulus (registered as its validator), whose
defaults are its schema's (:mod:`circuitsim.stimulation.tms_schema`), and the preset values the
presets and experiments share (the graded pool's RMT, the ICF set). The recruitment rule itself is
described in :mod:`circuitsim.stimulation.tms`."""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any, Dict, Mapping, Optional

import numpy as np

from circuitsim.plugins import register
from circuitsim.schema import defaults, with_defaults
from circuitsim.spec import StimulusContext, check_population, check_stimulus_keys, require
from circuitsim.stimulation.protocols import check_spacing, generate_pulses, parse_intensity, validate_protocol
from circuitsim.stimulation.tms_drive import validate_tonic_drive
from circuitsim.stimulation.tms_schema import ELEMENT_SCHEMAS, TmsConf, TmsMeasureConf, TmsSiteConf
from circuitsim.units import to_si

#: the keys of a TMS node, of a site and of the measure node: the schema's
KEYS = tuple(f.name for f in fields(TmsConf) if f.name != "kind")
SITE_KEYS = tuple(f.name for f in fields(TmsSiteConf))
MEASURE_KEYS = tuple(f.name for f in fields(TmsMeasureConf))
ELEMENT_KINDS = tuple(ELEMENT_SCHEMAS)   # soma, afferent
NMDA_KEYS = ("population", "conductance", "tau_rise", "tau_decay", "threshold", "slope")
GABAB_KEYS = ("population", "element", "conductance", "tau_rise", "tau_decay", "threshold", "slope")
FACILITATION_KEYS = ("element", "gain", "threshold", "slope", "tau_rise", "tau_decay", "delay")

#: The defaults of a ``tms`` stimulus are its schema's (:mod:`circuitsim.stimulation.tms_schema`,
#: shown by ``circuitsim --cfg job stim=tms_single``); these names are read from it.
#: The resting motor threshold (%MSO) of a stimulus that gives no ``rmt``: the healthy circuit with
#: the readout's default (all-or-none) motoneuron pool (:attr:`TmsConf.rmt`, where it is cited).
DEFAULT_RMT_MSO = parse_intensity(TmsConf.rmt, "rmt")[0]
#: the default sites and measure settings (plain dicts of unit strings)
DEFAULT_SITES: Dict[str, Dict[str, Any]] = defaults(TmsConf)["sites"]
DEFAULT_MEASURE: Dict[str, Any] = defaults(TmsMeasureConf)

#: The same with the graded pool that the TMS presets use (``readout.muscle.params.pool.pic_gain``
#: = :data:`GRADED_PIC_GAIN`; :func:`circuitsim.muscle.pool.effective_drive`) and the interneuron
#: threshold of the default sites (44 %MSO): 65 %MSO, the logistic fit of P(MEP >= 50 uV) over single pulses at
#: 54-114 %MSO at rest on the tuning seeds 0, 1 and 5 pooled (216 trials: 64.9; alone 62.8, 67.0,
#: 63.8). The TMS presets state it as ``rmt: 65%MSO`` (tests/test_stim_tms.py checks that they agree);
#: the plasticity presets keep 67 %MSO, the graded-pool RMT before e6b04c6 remeasured it, so that
#: their results compare (experiments/plasticity/README.md).
GRADED_RMT_MSO = 65.0
#: The motoneuron pool's gain for sustained over brief drive in the TMS presets (fitted: MEP at
#: 120 % RMT 0.5-3 mV on the tuning seeds; see circuitsim.muscle.pool.PoolParams.pic_gain)
GRADED_PIC_GAIN = 12.0

#: The ICF set: a site's ``facilitation`` node, which the paired-pulse presets
#: (configs/stim/tms_sici.yaml, tms_icf.yaml, tms_lici.yaml, tms_cbi.yaml) and experiments/tms give
#: m1. Intracortical facilitation comes from excitatory interneurons distinct from the GABA-A ones
#: behind SICI, with a higher threshold (SICI and ICF have different conditioning thresholds and
#: interact: Ziemann et al. 1996, J Physiol 496:873; Ilic et al. 2002, J Physiol 545:153), and it is
#: NMDA-dependent (the NMDA antagonist dextromethorphan reduces ICF: Ziemann et al. 1998,
#: Neurology 51:1320). Model: a conditioning pulse recruits a fraction ``f(I)`` of the set (its own
#: logistic sigmoid, ``threshold`` 50 %MSO ~ 77 % RMT, above the 44 %MSO of the SICI interneurons);
#: their NMDA-mediated drive of the I-wave interneurons (the ``ctx_e_afferent`` fibres) raises the
#: conductances those fibres give a later test pulse by ``gain * f(I) * k(dt - delay)``, with ``k`` a
#: difference of exponentials of peak 1: rise 10 ms (NMDA EPSC rise, Hestrin et al. 1990, J Physiol
#: 422:203), decay 20 ms (model choice: ICF lasts over ISIs of about 7-20 ms, Kujirai et al. 1993;
#: Ziemann et al. 1996), starting ``delay`` 1 ms after the pulse (model choice: the set acts through a
#: synapse on the I-wave circuit; ICF appears only from ISIs of about 7-10 ms, with net inhibition at
#: 1-5 ms, Kujirai et al. 1993). k(dt - delay) is 0.19-0.34 at 2-3 ms, 0.92-1.0 at 10-15 ms, < 0.03 at
#: 100 ms (LICI) and 0 at the 0.8 s between trials. The onset lets the gain rise while the extra gain
#: at the SICI intervals stays as before (0.05 and 0.09 at 2 and 3 ms, 0.06 and 0.09 with gain 0.3 and
#: no onset), so SICI keeps its value and ICF grows (0.25-0.27 at 10-15 ms, was 0.17-0.18).
#: ``gain`` 0.45 and ``delay`` are fitted on the tuning seeds 0, 1, 5 (24 pairs per ISI, one block of
#: 2, 3, 10 and 15 ms with the dentate's drive, target muscle; SICI / ICF): gain 0.3 without onset
#: 0.67 / 1.45, gain 0.45 with 1 ms 0.64 / 1.80, gain 0.5 and 0.6 with 1.5 ms 0.62 / 2.18 and
#: 0.61 / 2.20. Without the set (seed 0, 12 pairs) the conditioning pulse inhibits at 10-15 ms
#: too (0.80, 0.75), facilitating only from 20 ms (1.57). It is not in
#: DEFAULT_SITES because it would also act within theta-burst trains (pulses 20 ms apart), whose
#: presets are fitted without it.
ICF_FACILITATION: Dict[str, Any] = {"element": "ctx_e_afferent", "gain": 0.45, "threshold": "50%MSO",
                                    "slope": "5%MSO", "tau_rise": "10*ms", "tau_decay": "20*ms", "delay": "1*ms"}


# ------------------------------------------------------------------------------- validation


def _mso(value: Any, path: str) -> float:
    number, unit = parse_intensity(value, path)
    require(unit == "MSO", path, "element thresholds and slopes are absolute: write them in %MSO")
    return number


def _validate_sites(given: Any, path: str, ctx: StimulusContext) -> Dict[str, Any]:
    """Check the sites node: ``given`` merged into the schema's default sites (a new site gets
    :class:`TmsSiteConf`'s defaults)."""
    require(given is None or isinstance(given, Mapping), path, "sites is a mapping: site name -> {elements: ...}")
    merged = with_defaults({"sites": {} if given is None else given}, TmsConf)["sites"]   # null: the defaults
    sites: Dict[str, Any] = {}
    for sname, site in merged.items():
        sp = f"{path}.{sname}"
        require(isinstance(site, Mapping), sp, "a site is a mapping with 'elements'")
        for key in site:
            require(key in SITE_KEYS, f"{sp}.{key}", f"unknown key; allowed: {', '.join(SITE_KEYS)}")
        jitter = float(site["jitter"])
        require(0 <= jitter < 0.5, f"{sp}.jitter", f"must lie in [0, 0.5) (got {jitter})")
        elements = {}
        for ename, el in (site.get("elements") or {}).items():
            ep = f"{sp}.elements.{ename}"
            if el is None:      # `elements: {name: null}` removes a default element
                continue
            require(isinstance(el, Mapping), ep, "an element is a mapping with population, kind, threshold, slope")
            kind = el.get("kind")
            require(kind in ELEMENT_KINDS, f"{ep}.kind", f"unknown element kind {kind!r}; choose one of {', '.join(ELEMENT_KINDS)}")
            el = with_defaults(el, ELEMENT_SCHEMAS[kind])   # the kind's schema fills what it leaves out
            allowed = tuple(f.name for f in fields(ELEMENT_SCHEMAS[kind]))
            for key in el:
                require(key in allowed, f"{ep}.{key}", f"unknown key for a {kind} element; allowed: {', '.join(allowed)}")
            pop = el.get("population")
            require(pop in ctx.populations, f"{ep}.population",
                    f"unknown TMS target population {pop!r}; known: {', '.join(ctx.populations)}")
            v = {"population": pop, "kind": kind, "threshold": _mso(el.get("threshold"), f"{ep}.threshold"),
                 "slope": _mso(el.get("slope"), f"{ep}.slope")}
            require(v["slope"] > 0, f"{ep}.slope", "must be positive")
            if kind == "afferent":
                for key in ("n_fibres", "fibres_per_cell"):
                    val = el.get(key)
                    require(isinstance(val, int) and not isinstance(val, bool) and val >= 1, f"{ep}.{key}",
                            f"must be a positive integer (got {val!r})")
                    v[key] = val
                require(v["fibres_per_cell"] <= v["n_fibres"], f"{ep}.fibres_per_cell", "cannot exceed n_fibres")
                for key in ("ampa", "nmda"):
                    v[key] = to_si(el[key], "conductance", f"{ep}.{key}")
                    require(v[key] >= 0, f"{ep}.{key}", "a conductance cannot be negative")
                v["delay"] = to_si(el["delay"], "time", f"{ep}.delay")
                require(v["delay"] >= ctx.sim.dt * (1 - 1e-9), f"{ep}.delay", "must be at least one time step")
                v["cell_spread"] = float(el["cell_spread"])
                require(0 <= v["cell_spread"] <= 2, f"{ep}.cell_spread",
                        f"the SD of the log of each cell's gain: give a number in [0, 2] (got {v['cell_spread']})")
            elements[ename] = v
        out = {"jitter": jitter, "elements": elements}
        gb = site.get("gabab")
        if gb:
            gp = f"{sp}.gabab"
            g = _slow_synapse(gb, gp, GABAB_KEYS, ctx)
            require(gb.get("element") in elements and elements[gb.get("element")]["kind"] == "soma",
                    f"{gp}.element", f"must name a soma element of site {sname}: {', '.join(elements)}")
            g["element"] = gb["element"]
            # its own recruitment threshold (GABA-B effects need stronger pulses than GABA-A ones);
            # without one, the element's
            el = elements[gb["element"]]
            g["threshold"] = _mso(gb["threshold"], f"{gp}.threshold") if "threshold" in gb else el["threshold"]
            g["slope"] = _mso(gb["slope"], f"{gp}.slope") if "slope" in gb else el["slope"]
            require(g["slope"] > 0, f"{gp}.slope", "must be positive")
            out["gabab"] = g
        nm = site.get("nmda")
        if nm:
            np_ = f"{sp}.nmda"
            g = _slow_synapse(nm, np_, NMDA_KEYS, ctx)
            g["threshold"] = _mso(nm.get("threshold"), f"{np_}.threshold")
            g["slope"] = _mso(nm.get("slope"), f"{np_}.slope")
            require(g["slope"] > 0, f"{np_}.slope", "must be positive")
            out["nmda"] = g
        fa = site.get("facilitation")
        if fa:
            out["facilitation"] = _validate_facilitation(fa, f"{sp}.facilitation", elements, sname)
        td = site.get("tonic_drive")
        if td:
            out["tonic_drive"] = validate_tonic_drive(td, f"{sp}.tonic_drive", elements, sname, ctx)
        sites[sname] = out
    require(sum(bool(site.get("tonic_drive")) for site in sites.values()) <= 1, f"{path}",
            "at most one site may have a tonic_drive node")
    return sites


def _validate_facilitation(node: Any, path: str, elements: Mapping[str, Any], site: str) -> Dict[str, Any]:
    """Check a site's ``facilitation`` node (the ICF set, see :data:`ICF_FACILITATION`)."""
    require(isinstance(node, Mapping), path, "a mapping with " + ", ".join(FACILITATION_KEYS))
    for key in node:
        require(key in FACILITATION_KEYS, f"{path}.{key}", f"unknown key; allowed: {', '.join(FACILITATION_KEYS)}")
    require(node.get("element") in elements, f"{path}.element",
            f"must name an element of site {site}: {', '.join(elements)}")
    require(elements[node["element"]]["kind"] == "afferent", f"{path}.element",
            "must name an afferent element (its fibres' conductances get the gain)")
    gain = node.get("gain")
    require(isinstance(gain, (int, float)) and not isinstance(gain, bool) and gain >= 0, f"{path}.gain",
            f"the peak extra gain of the fibres, a number >= 0 (got {gain!r})")
    f = {"element": node["element"], "gain": float(gain),
         "threshold": _mso(node.get("threshold"), f"{path}.threshold"),
         "slope": _mso(node.get("slope"), f"{path}.slope"),
         "tau_rise": to_si(node.get("tau_rise"), "time", f"{path}.tau_rise"),
         "tau_decay": to_si(node.get("tau_decay"), "time", f"{path}.tau_decay"),
         "delay": to_si(node.get("delay", "0*ms"), "time", f"{path}.delay")}
    require(f["slope"] > 0, f"{path}.slope", "must be positive")
    require(f["delay"] >= 0, f"{path}.delay", "the kernel's onset after the pulse cannot be negative (e.g. 3*ms)")
    require(0 < f["tau_rise"] < f["tau_decay"], f"{path}.tau_rise", "need 0 < tau_rise < tau_decay")
    return f


def _slow_synapse(node: Mapping[str, Any], path: str, allowed: Any, ctx: Optional[StimulusContext]) -> Dict[str, Any]:
    """The keys every slow synaptic node of a site shares (``gabab``, ``nmda``), checked and in SI."""
    for key in node:
        require(key in allowed, f"{path}.{key}", f"unknown key; allowed: {', '.join(allowed)}")
    check_population(node.get("population"), f"{path}.population", ctx)
    g = {"population": node["population"],
         "conductance": to_si(node.get("conductance"), "conductance", f"{path}.conductance"),
         "tau_rise": to_si(node.get("tau_rise"), "time", f"{path}.tau_rise"),
         "tau_decay": to_si(node.get("tau_decay"), "time", f"{path}.tau_decay")}
    require(g["conductance"] >= 0, f"{path}.conductance", "cannot be negative")
    require(0 < g["tau_rise"] < g["tau_decay"], f"{path}.tau_rise", "need 0 < tau_rise < tau_decay")
    return g


def _validate_measure(given: Any, path: str, ctx: Optional[StimulusContext] = None) -> Dict[str, Any]:
    """Check a measure node (``ctx``, when given, checks the volley population's name)."""
    require(given is None or isinstance(given, Mapping), path, "measure is a mapping")
    m = with_defaults(given or {}, TmsMeasureConf)
    for key in m:
        require(key in MEASURE_KEYS, f"{path}.{key}", f"unknown key; allowed: {', '.join(MEASURE_KEYS)}")
    win = m["window"]
    require(isinstance(win, (list, tuple)) and len(win) == 2, f"{path}.window", "give [start, stop] after the pulse")
    w0, w1 = (to_si(w, "time", f"{path}.window[{k}]") for k, w in enumerate(win))
    require(0 <= w0 < w1, f"{path}.window", "need 0 <= start < stop")
    out = {"window": [w0, w1]}
    out["volley_population"] = (check_population(m["volley_population"], f"{path}.volley_population", ctx)
                                if ctx is not None else str(m["volley_population"]))
    out["volley_window"] = to_si(m["volley_window"], "time", f"{path}.volley_window")
    require(out["volley_window"] > 0, f"{path}.volley_window", "must be positive")
    for key in ("pre_window", "pre_gap", "conduction_delay", "silent_resume", "silent_max"):
        out[key] = to_si(m[key], "time", f"{path}.{key}")
        require(out[key] >= 0, f"{path}.{key}", "cannot be negative")
    require(out["pre_window"] > 0, f"{path}.pre_window", "must be positive")
    out["criterion"] = to_si(m["criterion"], "voltage", f"{path}.criterion")
    require(out["criterion"] > 0, f"{path}.criterion", "must be positive")
    out["active_level"] = to_si(m["active_level"], "voltage", f"{path}.active_level")
    for key in ("background_factor", "onset_sd", "silent_fraction"):
        out[key] = float(m[key])
        require(out[key] >= 0, f"{path}.{key}", "cannot be negative")
    return out


# the kind's config schema: Hydra's ConfigStore holds it as the option `tms` of `stim/schema`
register("tms", schema=TmsConf)


@register("tms").validator
def validate_tms(stim: Mapping[str, Any], path: str, ctx: StimulusContext) -> Dict[str, Any]:
    from circuitsim.stimulation.plasticity import validate_plasticity

    check_stimulus_keys(stim, path, KEYS)
    stim = with_defaults(stim, TmsConf)   # a key the node leaves out takes the schema's default
    rmt = _mso(stim["rmt"], f"{path}.rmt")
    require(rmt > 0, f"{path}.rmt", "must be positive")
    sites = _validate_sites(stim["sites"], f"{path}.sites", ctx)
    require("protocol" in stim, f"{path}.protocol", "missing: give a list of protocol blocks (see configs/stim/tms_single.yaml)")
    blocks = validate_protocol(stim["protocol"], f"{path}.protocol", tuple(sites), ctx.sim.dt)
    for b, block in enumerate(blocks):
        for key in ("site", "conditioning_site"):
            if key in block:
                require(bool(sites[block[key]]["elements"]), f"{path}.protocol[{b}].{key.split('_')[0]}",
                        f"site {block[key]!r} has no elements")
    table = generate_pulses(blocks, ctx.sim.dt)
    check_spacing(table, ctx.sim.dt, f"{path}.protocol")
    measure = _validate_measure(stim["measure"], f"{path}.measure", ctx)
    last = float(table.time.max()) + measure["window"][1]
    require(last <= ctx.sim.duration, f"{path}.protocol",
            f"the protocol (with its {measure['window'][1] * 1e3:g} ms response window) ends at {last:.3f} s, "
            f"after sim.duration = {ctx.sim.duration:g} s; set sim.duration to at least {math.ceil(last * 10) / 10:g}*second")
    tests = table.time[table.role == "test"]
    if tests.size:
        first = float(tests.min())
        require(first - measure["pre_window"] - measure["pre_gap"] >= ctx.sim.transient - 1e-12, f"{path}.protocol",
                f"the first test pulse ({first:.3f} s) must come at least measure.pre_window + pre_gap after sim.transient "
                f"({ctx.sim.transient:g} s): the muscle readout starts there")
    intens_mso = np.where(table.unit == "RMT", table.intensity * rmt / 100.0, table.intensity)
    plasticity = validate_plasticity(stim["plasticity"] or None, f"{path}.plasticity", ctx, sites)   # {}: none
    return {"rmt": rmt, "sites": sites, "protocol": blocks, "measure": measure, "plasticity": plasticity,
            "pulses": table.to_dict(), "intensity_mso": [float(x) for x in intens_mso]}

