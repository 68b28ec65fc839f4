"""Documentation generated from the code and the configs, so it never drifts from them.

    python -m circuitsim.docs                 # print the circuit tables (Markdown)
    python -m circuitsim.docs --write DIR     # write every generated page fragment into DIR

The documentation build (``docs/conf.py``) calls :func:`write_generated`, which writes

* ``circuit.md``: the populations and pathways of ``configs/circuit/default.yaml`` with their sources;
* ``config.md``: every config key of the schemas in :mod:`circuitsim.spec` with its default and its
  description, taken from the key's comment in ``configs/<group>/default.yaml`` or from
  :data:`CONFIG_NOTES`;
* ``metrics.md``: every key of ``metrics.json``, its unit and meaning, from the metric catalogue
  (:mod:`circuitsim.catalogue`);
* ``conditions.md``, ``stimuli.md``, ``tasks.md``: what ``circuitsim-list`` prints.

A schema field without a description, or a description of a field that no longer exists, raises
:class:`DocsDriftError` and so fails the build; the tutorial checks every ``metrics.json`` key it
meets against the catalogue (:func:`check_metrics`).
"""

from __future__ import annotations

import dataclasses
import re
import sys
import typing
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

from circuitsim.catalogue import METRICS as CATALOGUE
from circuitsim.catalogue import DriftError, check_metrics, metric_keys  # noqa: F401  (re-exported)
from circuitsim.spec import build_spec


#: The generated documentation no longer matches the code (a key without description, or the
#: reverse); the metric catalogue raises the same error (:func:`check_metrics`).
DocsDriftError = DriftError


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

#: Every key of ``metrics.json`` as (pattern, description, when it is there): a view of the metric
#: catalogue (:data:`circuitsim.catalogue.METRICS`, which also holds each key's unit and label).
METRICS: List[Tuple[str, str, str]] = [(m.pattern, m.text, m.when) for m in CATALOGUE]


def metrics_reference() -> str:
    """The metrics reference table, from the metric catalogue (key, unit, meaning, when present)."""
    lines = ["| key | unit | meaning | present |", "|---|---|---|---|"]
    for m in CATALOGUE:
        unit = "" if m.unit in ("text", "list", "various") else ("–" if m.unit == "1" else m.unit)
        lines.append(f"| `{m.pattern}` | {unit} | {m.text} | {m.when} |")
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
