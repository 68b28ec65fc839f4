"""Documentation generated from the code and the configs, so it never drifts from them.

    python -m circuitsim.docs                 # print the circuit tables (Markdown)
    python -m circuitsim.docs --write DIR     # write every generated page fragment into DIR

The documentation build (``docs/conf.py``) calls :func:`write_generated`, which writes

* ``circuit.md``: the populations and pathways of ``configs/circuit/default.yaml`` with their sources;
* ``config.md``: every config key of the schemas in :mod:`circuitsim.spec` with its default and its
  description, taken from the key's comment in ``configs/<group>/default.yaml`` or from
  :data:`CONFIG_NOTES`;
* ``metrics.md``: every key of ``metrics.json`` described in :data:`METRICS`;
* ``conditions.md``, ``stimuli.md``, ``tasks.md``: what ``circuitsim-list`` prints.

A schema field without a description, or a description of a field that no longer exists, raises
:class:`DocsDriftError` and so fails the build; the tutorial checks every ``metrics.json`` key it
meets against :data:`METRICS` (:func:`check_metrics`).
"""

from __future__ import annotations

import dataclasses
import re
import sys
import typing
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

from circuitsim.spec import build_spec


class DocsDriftError(RuntimeError):
    """The generated documentation no longer matches the code (a key without description, or the reverse)."""


# --------------------------------------------------------------------------- circuit tables


def circuit_tables(cfg: Any) -> str:
    """Markdown tables of the populations and pathways of a composed config."""
    spec = build_spec(cfg)
    circuit = cfg["circuit"]
    lines = ["| population | region | neurons | per channel | target rate | source |",
             "|---|---|---|---|---|---|"]
    for name, pop in spec.populations.items():
        per = "yes" if pop.channelled else "no"
        lines.append(f"| `{name}` | {pop.region} | {pop.n} | {per} | {pop.target_low:g}–{pop.target_high:g} Hz "
                     f"| {pop.target_source} |")
    lines += ["", "| pathway | source → target | receptor | sign | p | weight | delay | topology | reference |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, pw in circuit["pathways"].items():
        sign = spec.receptors[pw["receptor"]].sign
        lines.append(f"| `{name}` | {pw['source']} → {pw['target']} | {pw['receptor']} | {sign} | {pw['p']:g} "
                     f"| {pw['weight']} | {pw['delay']} | {pw['topology']} | {pw.get('ref', '')} |")
    return "\n".join(lines) + "\n"


def parameter_comments(path: Path) -> Dict[str, str]:
    """Population -> the comment written right above its ``params:`` line in the circuit YAML."""
    out: Dict[str, str] = {}
    current, pending, inside = None, [], False
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        if not stripped:
            continue
        if indent == 0:
            inside = stripped.startswith("populations:")
            pending = []
            continue
        if not inside:
            continue
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        if indent == 2 and stripped.endswith(":"):
            current = stripped[:-1]
        elif stripped.startswith("params:") and current is not None and pending:
            out[current] = " ".join(pending)
        pending = []
    return out


def population_parameters(cfg: Any, circuit_yaml: Optional[Path] = None) -> str:
    """One table of every population's neuron parameters (as written in the config, with units)
    and the basis of its parameter set (the comment above its ``params`` in the circuit YAML)."""
    circuit = cfg["circuit"]
    notes = parameter_comments(circuit_yaml) if circuit_yaml is not None else {}
    names: List[str] = []
    for pop in circuit["populations"].values():
        names += [k for k in pop["params"] if k not in names]
    lines = ["| population | " + " | ".join(f"`{n}`" for n in names) + " | background | basis |",
             "|---" * (len(names) + 3) + "|"]
    for name, pop in circuit["populations"].items():
        bg = pop.get("background") or {}
        cells = [str(pop["params"].get(n, "")).replace("*", " ") for n in names]
        background = f"{bg.get('rate', '')} × {bg.get('weight', '')} ({bg.get('receptor', '')})".replace("*", " ")
        basis = notes.get(name) or "model choice (`I_bias` tuned to the cited rate)"
        lines.append(f"| `{name}` | " + " | ".join(cells) + f" | {background} | {_cell(basis)} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- config reference

#: Descriptions of schema fields that have no comment in ``configs/<group>/default.yaml``.
#: ``<name>`` stands for any key of a mapping (a population, a pathway, a receptor, ...).
CONFIG_NOTES: Dict[str, str] = {
    "circuit.scale": "multiplies every population size; in-degrees are kept, so rates stay put",
    "circuit.channels": "the motor action channels (the two head rotators); channelled populations are split by them",
    "circuit.side": "the channel that a condition's lateralised changes (pathways' `side_scale`) act on; null = none",
    "circuit.receptors.<r>.tau": "decay time constant of the synaptic conductance",
    "circuit.receptors.<r>.E": "reversal potential",
    "circuit.receptors.<r>.sign": "`excitatory` or `inhibitory` (LFP proxy, tables)",
    "circuit.modulators.<m>.level": "1 = healthy; below 1 a loss (e.g. `dopamine` 0.1: severe depletion)",
    "circuit.modulators.<m>.weight_gain": "per pathway: the weight is multiplied by max(0, 1 + gain·(level − 1))",
    "circuit.modulators.<m>.background_gain": "per population (`*` = all): the same factor on the background rate",
    "circuit.populations.<pop>.region": "the region it belongs to (LFP proxy, figures)",
    "circuit.populations.<pop>.n": "neurons (per channel if `channelled`), before `circuit.scale`",
    "circuit.populations.<pop>.channelled": "split into the action channels",
    "circuit.populations.<pop>.description": "one line: what the population is",
    "circuit.populations.<pop>.model": "neuron model; `adex` (adaptive exponential integrate-and-fire)",
    "circuit.populations.<pop>.params": "AdEx parameters `C gL EL VT DeltaT V_reset V_peak a b tau_w t_ref I_bias`; "
                                        "optional T-type rebound current `g_T E_T V_h tau_h_plus tau_h_minus` "
                                        "(see the model page)",
    "circuit.populations.<pop>.background.rate": "summed rate of the Poisson background input per neuron",
    "circuit.populations.<pop>.background.weight": "its peak conductance per event",
    "circuit.populations.<pop>.background.receptor": "its receptor",
    "circuit.populations.<pop>.target_rate.low": "lower end of the cited healthy rate range",
    "circuit.populations.<pop>.target_rate.high": "upper end of the cited healthy rate range",
    "circuit.populations.<pop>.target_rate.source": "the range's source (see the literature page)",
    "circuit.pathways.<name>.source": "presynaptic population",
    "circuit.pathways.<name>.target": "postsynaptic population",
    "circuit.pathways.<name>.receptor": "receptor of its synapses (`ampa`, `nmda`, `gaba`)",
    "circuit.pathways.<name>.p": "connection probability: each target neuron gets round(p·p_scale·candidates) inputs",
    "circuit.pathways.<name>.weight": "peak conductance per synapse",
    "circuit.pathways.<name>.delay": "conduction delay",
    "circuit.pathways.<name>.topology": "`focal` (within a channel) or `diffuse` (across channels)",
    "circuit.pathways.<name>.rule": "connection rule; `random` (fixed in-degree)",
    "circuit.pathways.<name>.weight_scale": "multiplies the weight (what conditions and sweeps change)",
    "circuit.pathways.<name>.p_scale": "multiplies the connection probability",
    "circuit.pathways.<name>.side_scale": "extra weight factor onto the neurons of channel `circuit.side`; 1 = none",
    "circuit.pathways.<name>.enabled": "`false` removes the pathway",
    "circuit.pathways.<name>.ref": "the pathway's source (see the literature page)",
    "task.name": "the task's name (`rest`, `turn_left`, `turn_right`)",
    "task.description": "what the task does",
    "task.command.kind": "`cortical_command`: extra Poisson excitation of one channel",
    "task.command.population": "the commanded population",
    "task.command.channel": "the commanded channel",
    "task.command.start": "command onset",
    "task.command.stop": "command offset",
    "task.command.rate": "summed extra Poisson rate per neuron",
    "task.command.weight": "peak conductance per extra input event",
    "readout.muscle.enabled": "run the muscle readout (motor units, EMG, head posture)",
    "readout.muscle.params": "fields of `circuitsim.muscle.MuscleParams` (`pool`, `emg`, `posture`, `severity`, ...)",
}

#: schema of each top-level group documented in the config reference
_GROUPS = ("sim", "readout", "task", "circuit")


def _schemas() -> Dict[str, type]:
    from circuitsim import spec

    return {"sim": spec.SimConf, "readout": spec.ReadoutConf, "task": spec.TaskConf, "circuit": spec.CircuitConf}


_PLACEHOLDER = {"receptors": "<r>", "modulators": "<m>", "populations": "<pop>", "pathways": "<name>"}


def _unwrap(tp: Any) -> Any:
    """The dataclass inside Optional[...] / Dict[str, ...], with whether it is a mapping."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union:
        inner = [a for a in args if a is not type(None)]
        return _unwrap(inner[0]) if len(inner) == 1 else (None, False)
    if origin in (dict, Dict) and len(args) == 2 and dataclasses.is_dataclass(args[1]):
        return args[1], True
    if dataclasses.is_dataclass(tp):
        return tp, False
    return None, False


def schema_fields(schema: type, prefix: str) -> Iterator[Tuple[str, Any]]:
    """(dotted path, schema default or None) of every field of a schema dataclass (mappings of
    dataclasses as ``<name>``)."""
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        path = f"{prefix}.{f.name}"
        inner, mapping = _unwrap(hints[f.name])
        if inner is None:
            default = None
            if f.default is not dataclasses.MISSING and f.default != "???":
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            yield path, default
            continue
        sub = f"{path}.{_PLACEHOLDER.get(f.name, '<name>')}" if mapping else path
        yield from schema_fields(inner, sub)


def yaml_comments(path: Path, prefix: str) -> Dict[str, str]:
    """``dotted.key -> comment`` of the ``key: value  # comment`` lines of a YAML file."""
    out: Dict[str, str] = {}
    stack: List[Tuple[int, str]] = []
    last: Optional[str] = None
    for raw in path.read_text().splitlines():
        if not raw.strip():
            continue
        indent = len(raw) - len(raw.lstrip())
        stripped = raw.strip()
        if stripped.startswith("#"):
            if last is not None and indent > 0 and indent >= _indent_of(last, stack):   # continued comment
                out[last] = (out.get(last, "") + " " + stripped.lstrip("#").strip()).strip()
            continue
        match = re.match(r"([A-Za-z_][\w]*):(.*)$", stripped)
        if match is None or stripped.startswith("- "):
            last = None
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = ".".join([prefix] + [k for _, k in stack] + [match.group(1)])
        stack.append((indent, match.group(1)))
        rest = match.group(2)
        comment = rest.split(" #", 1)[1].strip() if " #" in rest else ""
        if comment:
            out[key] = comment
            last = key
        else:
            last = None
    return out


def _indent_of(key: str, stack: List[Tuple[int, str]]) -> int:
    return stack[-1][0] + 1 if stack else 0


def _lookup(cfg: Any, dotted: str) -> Any:
    node = cfg
    for part in dotted.split("."):
        if part.startswith("<"):
            return None
        try:
            node = node[part]
        except (KeyError, TypeError, IndexError):
            return None
    return node


def _value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value)
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{…}" if value else "{}"
    return str(value)


def config_rows(cfg: Any, configs: Path) -> List[Tuple[str, str, str]]:
    """(key, default, description) of every schema field; raises DocsDriftError where one is missing."""
    comments: Dict[str, str] = {}
    for group in ("sim", "readout"):
        comments.update(yaml_comments(configs / group / "default.yaml", group))
    rows, missing, used = [], [], set()
    for group, schema in _schemas().items():
        for path, schema_default in schema_fields(schema, group):
            text = comments.get(path) or CONFIG_NOTES.get(path)
            if path in CONFIG_NOTES and not comments.get(path):
                used.add(path)
            if not text:
                missing.append(path)
                continue
            value = _lookup(cfg, path)
            if path.startswith("task.") or "<" in path:   # no single default: the schema's, if any
                value = "" if schema_default in (None, "", {}, []) else schema_default
            rows.append((path, "" if value == "" else _value(value), text))
    unused = sorted(set(CONFIG_NOTES) - used - {p for p in CONFIG_NOTES if p in comments})
    stale = [p for p in unused if p not in {r[0] for r in rows}]
    if missing or stale:
        raise DocsDriftError(
            "config reference out of step with circuitsim.spec: "
            + (f"no description for {', '.join(missing)} (add a '# comment' after the key in "
               f"configs/<group>/default.yaml or an entry in circuitsim.docs.CONFIG_NOTES); " if missing else "")
            + (f"CONFIG_NOTES describes keys the schemas no longer have: {', '.join(stale)}" if stale else ""))
    # the muscle readout's own parameters, as far as the default config sets them
    for path, text in comments.items():
        if path.startswith("readout.muscle.params.") and path not in {r[0] for r in rows}:
            rows.append((path, _value(_lookup(cfg, path)), text))
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def config_reference(cfg: Any, configs: Path) -> str:
    lines = []
    for group in _GROUPS:
        lines += [f"## `{group}`", "", "| key | default | meaning |", "|---|---|---|"]
        for path, value, text in config_rows(cfg, configs):
            if path.split(".", 1)[0] == group:
                cell = _cell(f"`{value}`" if value != "" else "")
                lines.append(f"| `{path}` | {cell} | {_cell(text)} |")
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- metrics reference

#: Every key of ``metrics.json``: (pattern, description, when it is there). ``<pop>``, ``<region>``,
#: ``<band>`` ... stand for one key; ``**`` for any number. ``when`` is ``always`` (every run),
#: ``command`` (a task with a command), ``rest`` (no command), ``muscle`` (muscle readout on),
#: ``dbs``, ``closed_loop``, ``tms``, ``batch`` (only there).
METRICS: List[Tuple[str, str, str]] = [
    ("populations.<pop>.rate_hz", "Mean firing rate per neuron (Hz), after `sim.transient`.", "always"),
    ("populations.<pop>.cv_isi", "Mean coefficient of variation of the inter-spike intervals; null with too few "
                                 "spikes.", "always"),
    ("populations.<pop>.burst_fraction", "Fraction of spikes in Poisson-surprise bursts (Legéndy & Salcman 1985; "
                                         "surprise ≥ 3, seed ISIs < ½ the neuron's mean ISI).", "always"),
    ("populations.<pop>.pause_fraction", "Fraction of time in pauses: ISIs longer than max(5 × mean ISI, 100 ms) "
                                         "(after Elias et al. 2007).", "always"),
    ("populations.<pop>.synchrony", "Golomb's χ on 5 ms bins: 0 asynchronous, 1 identical trains.", "always"),
    ("populations.<pop>.n_neurons", "Neurons in the population.", "always"),
    ("populations.<pop>.target_rate_hz", "The cited healthy range [low, high] (Hz).", "always"),
    ("lfp.<region>.band_power.<band>", "Relative power of the region's LFP proxy in delta 1–4, theta 4–8, alpha "
                                       "8–13, beta 13–30, gamma 30–80 Hz, each divided by the 1–100 Hz power "
                                       "(Welch, `readout.spectrum_segment`).", "always"),
    ("lfp.<region>.power_4_10hz", "Relative 4–10 Hz power, the pallidal band of dystonia (Silberstein et al. "
                                  "2003).", "always"),
    ("lfp.<region>.peak_hz", "Frequency of the largest spectral peak in 2–80 Hz.", "always"),
    ("coherence.<a>__<b>.<band>", "Mean magnitude-squared coherence of two regions' LFP proxies per band "
                                  "(`gpi__ctx`, `gpi__dcn`, `stn__gpe`, `gpi__thal`).", "always"),
    ("connectivity.coherence.<a>__<b>.<band>", "Magnitude-squared coherence of the LFP proxies of every pair of "
                                               "regions (a before b in the order of `<region>`), multitaper "
                                               "(0.5 s epochs), mean over the band's bins "
                                               "(`circuitsim.analysis.connectivity`, library spectral_connectivity).",
     "optional"),
    ("connectivity.granger.<a>__<b>.<band>", "Pairwise spectral Granger causality from region a to region b "
                                             "(Geweke 1982; nonparametric, Dhamala et al. 2008), every ordered "
                                             "pair, mean over the band's bins; >= 0, biased upward in short runs.",
     "optional"),
    ("connectivity.bold.correlation.<a>__<b>", "Correlation of two regions' BOLD-like signals: each region's "
                                               "synaptic activity through the Balloon-Windkessel model (Friston "
                                               "et al. 2000), sampled every 0.1 s (`circuitsim.analysis.bold`); "
                                               "only in runs of 20 s or more after the transient.", "optional"),
    ("channels.selectivity", "During the command: max(0, (a − b)/(a + b)) of the rises a, b of the commanded "
                             "and the other channel's thalamic rate over baseline; 1 = only the commanded channel, "
                             "0 = both equally; null at rest.", "always"),
    ("channels.commanded", "The commanded channel (null at rest).", "always"),
    ("channels.population", "The population whose channel rates give the selectivity (`thal`).", "command"),
    ("channels.baseline_rates_hz.<pop>.<channel>", "Rate of each channelled population per channel before the "
                                                   "command.", "command"),
    ("channels.command_rates_hz.<pop>.<channel>", "The same during the command.", "command"),
    ("channels.rates_hz.<pop>.<channel>", "At rest: rate of each channelled population per channel.", "rest"),
    ("muscle.<muscle>.mean_force", "Mean muscle force (N).", "muscle"),
    ("muscle.<muscle>.emg_rms", "Root-mean-square surface EMG (V).", "muscle"),
    ("muscle.<muscle>.tremor_power", "Relative 3–8 Hz power of the rectified EMG (of 1–100 Hz).", "muscle"),
    ("muscle.<muscle>.alpha_power", "Relative 8–12 Hz power of the rectified EMG.", "muscle"),
    ("muscle.<muscle>.beta_power", "Relative 15–30 Hz power of the rectified EMG.", "muscle"),
    ("muscle.<muscle>.active_fraction", "Fraction of the time the muscle's EMG envelope is above the noise floor "
                                        "(0 = relaxed throughout).", "muscle"),
    ("muscle.co_contraction_index", "2·Σ min(a, b) / Σ (a + b) of the two rotators' EMG envelopes above noise "
                                    "(Falconer & Winter 1985), over the time when either muscle is active: 1 "
                                    "identical, 0 one silent; null when both are relaxed (active < 0.1 s).",
     "muscle"),
    ("muscle.head_angle_deg.mean", "Mean head yaw (degrees, positive = to the left).", "muscle"),
    ("muscle.head_angle_deg.peak", "Largest absolute head yaw (degrees).", "muscle"),
    ("muscle.head_angle_deg.frac_beyond", "Fraction of time beyond 5°.", "muscle"),
    ("muscle.head_angle_deg.jerks_per_s", "Phasic head movements per second: peaks of the angular speed above 30°/s, at least 0.1 s apart (`readout.muscle.params.jerk_velocity_deg_s`, `jerk_min_interval_s`).", "muscle"),
    ("muscle.lfp_emg_coherence.<band>", "Coherence of the GPi LFP proxy with the rectified EMG of the more active "
                                        "muscle (theta, alpha).", "muscle"),
    ("muscle.severity_score", "Dystonia severity in [0, 1]: the mean of the co-contraction, posture and tremor "
                              "sub-scores (see the muscle page); an undefined co-contraction and the tremor of "
                              "a relaxed agonist count 0.", "muscle"),
    ("stim.<name>.target", "DBS: the stimulated population.", "dbs"),
    ("stim.<name>.n_pulses", "Pulses delivered.", "dbs"),
    ("stim.<name>.n_pulses_scheduled", "DBS: pulses scheduled.", "dbs"),
    ("stim.<name>.frequency_hz", "DBS: pulse frequency.", "dbs"),
    ("stim.<name>.amplitude_ma", "DBS: cathodic amplitude (mA).", "dbs"),
    ("stim.<name>.pulse_width_us", "DBS: cathodic phase width (µs).", "dbs"),
    ("stim.<name>.charge_per_phase_nc", "DBS: charge of the cathodic phase (nC).", "dbs"),
    ("stim.<name>.net_charge_nc", "DBS: net charge per pulse (0 when balanced).", "dbs"),
    ("stim.<name>.energy", "DBS: energy delivered, Σ I²·R·width over phases and pulses (J).", "dbs"),
    ("stim.<name>.energy_uj", "The same in µJ.", "dbs"),
    ("stim.<name>.mean_power_uw", "DBS: mean power while stimulating (µW).", "dbs"),
    ("stim.<name>.p_transmit", "DBS: probability that an axon terminal transmits a pulse (axonal failure).", "dbs"),
    ("stim.<name>.activated_fraction", "DBS: fraction of all selected elements activated, mean over pulses.", "dbs"),
    ("stim.<name>.activated_fraction_<element>", "DBS: the same per element (somata, efferent or afferent axons).",
     "dbs"),
    ("stim.<name>.expected_fraction_<element>", "DBS: the fraction the strength–duration law predicts.", "dbs"),
    ("stim.<name>.n_elements_<element>", "DBS: elements of that kind near the electrode.", "dbs"),
    ("stim.<name>.locking_activated", "DBS: fraction of pulses followed within 2 ms by a spike of an activated "
                                      "target soma.", "dbs"),
    ("stim.<name>.locking_not_activated", "DBS: the same for the other target somata.", "dbs"),
    ("stim.<name>.target_rate_before_hz", "DBS: mean rate of the target somata the pulses do not excite, "
                                          "before stimulation (Hz; a microelectrode's view).", "dbs"),
    ("stim.<name>.target_rate_during_hz", "DBS: the same during stimulation, after a 0.1 s settling time (Hz).", "dbs"),
    ("stim.<name>.target_rate_ratio", "DBS: during / before for those somata.", "dbs"),
    ("stim.<name>.activated_rate_during_hz", "DBS: rate of the directly excited target somata during stimulation "
                                             "(Hz).", "dbs"),
    ("stim.<name>.efferent_rate_before_hz_<pop>", "DBS: rate of a population the stimulated efferent axons reach, "
                                                  "before stimulation (Hz).", "dbs"),
    ("stim.<name>.efferent_rate_during_hz_<pop>", "DBS: the same during stimulation (Hz).", "dbs"),
    ("stim.<name>.efferent_rate_ratio_<pop>", "DBS: during / before for that population.", "dbs"),
    ("stim.<name>.release_efficacy", "DBS: resources of the active stimulated synapses at the last pulse, relative "
                                     "to a rested synapse (Tsodyks-Markram depression; 1 without it).", "dbs"),
    ("stim.<name>.release_efficacy_expected", "DBS: the Tsodyks-Markram steady state at the stimulation frequency.",
     "dbs"),
    ("stim.<name>.fraction_time_on", "Closed-loop DBS: fraction of time stimulating.", "closed_loop"),
    ("stim.<name>.mean_amplitude_ma", "Closed-loop DBS: mean amplitude.", "closed_loop"),
    ("stim.<name>.mean_biomarker", "Closed-loop DBS: mean biomarker.", "closed_loop"),
    ("stim.<name>.n_updates", "Closed-loop DBS: controller updates.", "closed_loop"),
    ("stim.<name>.switches_per_s", "Closed-loop DBS: on/off transitions per second of control.", "closed_loop"),
    ("stim.<name>.reversals_per_s", "Closed-loop DBS: changes of direction of the amplitude per second "
                                    "(how often a graded law hunts).", "closed_loop"),
    ("stim.<name>.controller.<series>", "Closed-loop DBS: the controller trace, lists `t` (s), `level` (0-1 of "
                                        "the maximum) and `biomarker` (null before the first full window).",
     "closed_loop"),
    ("stim.<name>.**", "TMS: `n_test_pulses`, `protocol_span_s`, `rmt_mso`, `intensity_mso`, "
                       "`activated_fraction.<site>.<element>`, `plasticity.<pathway or site.element>.*` (see the "
                       "stimulation page).", "tms"),
    ("tms.**", "TMS measures where the protocol has them: `mep_amplitude_mv`, `mep_latency_ms`, `silent_period_ms`, "
               "`sici_ratio`, `icf_ratio`, `cbi_ratio`, `motor_threshold`, `mep_post_pre_ratio`, `volley_*`, and "
               "`per_muscle.<muscle>.*`.", "tms"),
    ("run.seed", "The master seed.", "always"),
    ("run.duration_s", "Simulated time (s).", "always"),
    ("run.dt_s", "Time step (s).", "always"),
    ("run.transient_s", "Start-up time left out of every measure (s).", "always"),
    ("run.device", "The Brian2 device the run used.", "always"),
    ("run.threads", "OpenMP threads.", "always"),
    ("run.n_neurons", "Neurons simulated.", "always"),
    ("run.n_synapses", "Synapses simulated.", "always"),
    ("run.synapses_per_pathway.<pathway>", "Synapses of each pathway.", "always"),
    ("run.build_s", "Time spent compiling (0 when the build was reused).", "always"),
    ("run.build_reused", "Whether the compiled program of this circuit structure was reused.", "always"),
    ("run.sim_s", "Wall time of the simulation itself.", "always"),
    ("run.sim_cpu_s", "Its CPU time.", "always"),
    ("run.sim_loop_s", "Brian2's own time in the simulation loop.", "always"),
    ("run.sim_peak_mb", "Peak memory of the compiled program (MB).", "always"),
    ("run.wall_s", "Wall time of the whole `simulate()` call.", "always"),
    ("run.channels", "The action channels.", "always"),
    ("run.regions.<region>", "The populations of each region.", "always"),
    ("run.versions.<package>", "Versions of circuitsim, Brian2, NumPy, SciPy and Python.", "always"),
    ("run.condition", "The condition's name.", "always"),
    ("run.task", "The commanded channel (null at rest).", "always"),
    ("run.run_id", "Identifier written into every file of the run folder.", "optional"),
    ("run.batch.size", "Batched sweeps: copies in the batch.", "batch"),
    ("run.batch.index", "Batched sweeps: this copy's index.", "batch"),
]


def _pattern(pattern: str) -> "re.Pattern[str]":
    out = re.escape(pattern).replace(r"\*\*", ".+")
    out = re.sub(r"<[^>]+>", "[^.]+", out.replace(r"\<", "<").replace(r"\>", ">"))
    return re.compile(out + "$")


def metric_keys(metrics: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted keys of every leaf of a metrics dict (lists and empty dicts are leaves)."""
    for key, value in metrics.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from metric_keys(value, path + ".")
        else:
            yield path


def check_metrics(runs: Sequence[Mapping[str, Any]], present: Iterable[str] = ("always",)) -> None:
    """Check runs' metrics against :data:`METRICS`.

    ``present`` names the kinds of keys these runs have (``always``, ``command``, ``muscle``,
    ``dbs`` ...). Raises :class:`DocsDriftError` when a key matches no pattern of those kinds (or
    of kind ``optional``), or when a pattern of those kinds matched no key.
    """
    present = set(present)
    compiled = [(_pattern(p), p, when) for p, _, when in METRICS if when in present | {"optional"}]
    seen, undocumented = set(), set()
    for metrics in runs:
        for key in metric_keys(metrics):
            hit = next((p for rx, p, _ in compiled if rx.match(key)), None)
            if hit is None:
                undocumented.add(key)
            else:
                seen.add(hit)
    stale = [p for _, p, when in compiled if when in present and p not in seen]
    if undocumented or stale:
        raise DocsDriftError(
            "metrics reference out of step with metrics.json: "
            + (f"undocumented keys {sorted(undocumented)[:20]} (describe them in circuitsim.docs.METRICS); "
               if undocumented else "")
            + (f"documented keys no run produced: {stale}" if stale else ""))


def metrics_reference() -> str:
    lines = ["| key | meaning | present |", "|---|---|---|"]
    for pattern, text, when in METRICS:
        lines.append(f"| `{pattern}` | {text} | {when} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- lists


def listing_table(what: str) -> str:
    from circuitsim import listing

    lines = ["| name | description |", "|---|---|"]
    for name, text in listing.LISTS[what]():
        lines.append(f"| `{name}` | {_cell(text)} |")
    return "\n".join(lines) + "\n"


def write_generated(out: Path) -> List[Path]:
    """Write every generated fragment into ``out`` (Markdown, included by the documentation pages)."""
    from circuitsim.api import compose
    from circuitsim.app.forms import configs_dir

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = compose()
    pages = {
        "circuit.md": circuit_tables(cfg),
        "parameters.md": population_parameters(cfg, configs_dir() / "circuit" / "default.yaml"),
        "config.md": config_reference(cfg, configs_dir()),
        "metrics.md": metrics_reference(),
        "conditions.md": listing_table("conditions"),
        "stimuli.md": listing_table("stimuli"),
        "tasks.md": listing_table("tasks"),
    }
    written = []
    for name, text in pages.items():
        path = out / name
        if not path.exists() or path.read_text() != text:   # unchanged files keep Sphinx's cache
            path.write_text(text)
        written.append(path)
    return written


def main(argv: Optional[Sequence[str]] = None) -> None:
    from circuitsim.api import compose

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--write"] and len(argv) == 2:
        for path in write_generated(Path(argv[1])):
            print(path)
        return
    print(circuit_tables(compose()), end="")


if __name__ == "__main__":
    main()
