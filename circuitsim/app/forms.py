"""What the teaching page offers, and how its form becomes command-line overrides.

Everything the page lists is read from the shipped configs (``circuitsim.configs``): the
conditions, tasks and stimulation presets are the files of ``condition/``, ``task/`` and
``stim/``; pathways and modulators come from the composed circuit. A new preset file therefore
appears in the page without a code change. The form is turned into the same Hydra overrides a
user would type after ``circuitsim``, and validated by the same composition and schema
(:func:`circuitsim.api.compose`, :func:`circuitsim.spec.build_spec`).

Safety: the page is a web page, so whatever it sends is treated as untrusted. Every override the
form produces (the sliders' and the free-text field's alike, the server's own ``--set``
overrides aside) is parsed with Hydra's own override parser and must pass
:func:`check_override`: a plain ``key=value`` (no ``+``, ``++``, ``~`` or ``@package``), a key
on the allow-list :data:`ALLOWED_KEYS` (the circuit, the task, the stimulation and a few
simulation and readout keys; never ``hydra.*`` or ``sim.build_dir``), config groups
(:data:`GROUPS`) only by the name of a shipped preset, a single value (no sweep), no dict
values and no interpolation or resolver (``${...}``) anywhere. The form itself is bounded
(:data:`MAX_EXTRA_CHARS`, :data:`MAX_EXTRA_LINES`, :data:`MAX_OVERRIDES`), so no request can
hold the compose lock for long.
"""

from __future__ import annotations

import logging
import math
import re
import shlex
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import yaml

logger = logging.getLogger(__name__)

#: override keys that only choose which figure files are written or how progress is logged;
#: they do not change the simulation and are left out of the command line shown to the class
DISPLAY_EXCLUDED = ("readout.plots", "sim.progress")
#: config paths the page may set: a key must equal one of these, or start with one ending in "."
#: (everything else, e.g. ``hydra.*``, ``sim.build_dir``, ``sim.device``, is for the command line)
ALLOWED_KEYS = ("circuit.", "task.", "stim.", "sim.duration", "sim.seed", "sim.dt", "sim.transient",
                "readout.rate_bin", "readout.lfp_neurons", "readout.lfp_dt", "readout.spectrum_segment",
                "readout.muscle.")
#: config groups the page may choose; the value must name a shipped preset (a list of them for stim)
GROUPS = ("condition", "task", "stim")
#: bounds on one form: free-text characters and lines, characters of one override, overrides in all
MAX_EXTRA_CHARS = 4000
MAX_EXTRA_LINES = 40
MAX_OVERRIDE_CHARS = 500
MAX_OVERRIDES = 200
MAX_VALUE_CHARS = 100   # one form field (a slider's number, a seed, a preset name)
#: the fields a form may have (anything else is refused, so a typo is never silently ignored)
FORM_FIELDS = ("condition", "task", "duration", "seed", "pathways", "modulators", "dbs", "tms", "other", "extra")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")
#: simulated durations offered (s); short, so a run answers within seconds
DURATIONS_S = (1.0, 1.5, 2.0, 2.5, 3.0)
PRESET_DURATION = "preset"

_compose_lock = threading.Lock()


class FormError(ValueError):
    """A form value the page sent is not usable; ``path`` names the config key (or form field)."""

    def __init__(self, path: Optional[str], message: str, kind: str = "form"):
        self.path = path
        self.message = message
        self.kind = kind
        super().__init__(f"{path}: {message}" if path else message)

    def as_dict(self) -> Dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "message": self.message}


def configs_dir() -> Path:
    """The folder of the shipped configs (``circuitsim.configs``)."""
    return Path(str(resources.files("circuitsim.configs")))


def _comment_summary(path: Path, limit: int = 400) -> str:
    """The leading comment of a config file, as one line (its hypothesis and sources)."""
    lines = []
    for line in path.read_text().splitlines():
        s = line.strip()
        if not s.startswith("#"):
            if lines:
                break
            continue
        text = s.lstrip("#").strip()
        if text.startswith("@package"):
            continue
        lines.append(text)
    summary = " ".join(x for x in lines if x)
    return summary if len(summary) <= limit else summary[: limit - 3].rstrip() + "..."


def _load_yaml(path: Path) -> Dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        logger.warning("cannot read %s: %s", path, err)
        return {}
    return data if isinstance(data, dict) else {}


def _si(value: Any, dimension: str) -> Optional[float]:
    """A value of a preset file the page lists, in SI, by the config layer's one unit parser (the
    one :func:`circuitsim.spec.build_spec` uses); None where it does not parse. Only for the
    catalogue (composing and validating every preset would take seconds each); a run's values come
    from its spec (``spec.json``)."""
    from circuitsim.errors import ConfigError
    from circuitsim.units import to_si

    try:
        return to_si(value, dimension, "")
    except (ConfigError, TypeError, ValueError):
        return None


def _number(value: Any) -> Optional[float]:
    try:
        x = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def compose_config(overrides: List[str]):
    """:func:`circuitsim.api.compose` under a lock (Hydra's global state is not thread-safe)."""
    from circuitsim.api import compose

    with _compose_lock:
        return compose(overrides)


def stim_presets(folder: Optional[Path] = None) -> Dict[str, List[Dict[str, Any]]]:
    """The stimulation presets of ``configs/stim/``, sorted into ``dbs``, ``tms`` and ``other``.

    A preset counts as DBS (or TMS) when one of its stimuli has ``kind: dbs`` (``kind: tms``).
    For DBS the page may change ``frequency`` and ``amplitude`` of that stimulus, but only when
    the preset has these keys (``key_frequency``/``key_amplitude`` say which); a preset written
    in another style is still offered, without those controls.
    """
    folder = folder or configs_dir() / "stim"
    out: Dict[str, List[Dict[str, Any]]] = {"dbs": [], "tms": [], "other": []}
    for path in sorted(folder.glob("*.yaml")):
        name = path.stem
        if name == "none":
            continue
        data = _load_yaml(path)
        stims = data.get("stim") if isinstance(data.get("stim"), dict) else {}
        kinds = {key: (node or {}).get("kind") for key, node in stims.items() if isinstance(node, dict)}
        duration = _si((data.get("sim") or {}).get("duration"), "time") if isinstance(data.get("sim"), dict) else None
        entry: Dict[str, Any] = {"name": name, "description": _comment_summary(path), "duration_s": duration,
                                 "kinds": sorted({str(k) for k in kinds.values() if k})}
        dbs_key = next((k for k, kind in kinds.items() if kind == "dbs"), None)
        if dbs_key is not None:
            node = stims[dbs_key]
            entry.update({
                "key": dbs_key, "target": node.get("target"),
                "closed_loop": "controller" in node,
                "frequency_hz": _si(node.get("frequency"), "rate"),
                "amplitude_ma": (None if _si(node.get("amplitude"), "current") is None
                                 else _si(node.get("amplitude"), "current") * 1e3),
                "pulse_width_us": (None if _si(node.get("pulse_width"), "time") is None
                                   else _si(node.get("pulse_width"), "time") * 1e6),
            })
            entry["key_frequency"] = "frequency" in node and entry["frequency_hz"] is not None
            entry["key_amplitude"] = "amplitude" in node and entry["amplitude_ma"] is not None
            out["dbs"].append(entry)
        elif "tms" in kinds.values():
            out["tms"].append(entry)
        else:
            out["other"].append(entry)
    return out


def _group_names(folder: Path) -> List[str]:
    return sorted(p.stem for p in folder.glob("*.yaml"))


@dataclass
class Catalog:
    """Everything the page can choose from, read once from the configs (see :func:`load_catalog`)."""

    conditions: List[Dict[str, Any]]
    tasks: List[Dict[str, Any]]
    stim: Dict[str, List[Dict[str, Any]]]
    pathways: List[Dict[str, Any]]
    modulators: List[Dict[str, Any]]
    default_duration_s: float
    _defaults: Dict[str, Dict[str, Any]] = field(default_factory=dict, repr=False)

    def pathway_names(self) -> List[str]:
        return [p["name"] for p in self.pathways]

    def group_names(self, group: str) -> List[str]:
        """The presets the page may choose for a config group (``condition``, ``task``, ``stim``)."""
        if group == "condition":
            return [c["name"] for c in self.conditions]
        if group == "task":
            return [t["name"] for t in self.tasks]
        return ["none"] + [e["name"] for entries in self.stim.values() for e in entries]

    def as_dict(self) -> Dict[str, Any]:
        return {"conditions": self.conditions, "tasks": self.tasks, "stim": self.stim,
                "pathways": self.pathways, "modulators": self.modulators,
                "durations_s": list(DURATIONS_S), "default_duration_s": self.default_duration_s}

    def defaults(self, condition: str) -> Dict[str, Any]:
        """Pathway weight scales and modulator levels of ``condition`` (what the sliders start at)."""
        if condition not in {c["name"] for c in self.conditions}:
            raise FormError("condition", f"unknown condition {str(condition)[:80]!r}; choose one of "
                                         f"{', '.join(c['name'] for c in self.conditions)}")
        if condition not in self._defaults:
            cfg = compose_config([f"condition={condition}"])
            circuit = cfg.circuit
            self._defaults[condition] = {
                "condition": condition,
                # the composed config holds every schema default (PathwayConf, ModulatorConf)
                "pathways": {name: float(node.weight_scale) for name, node in circuit.pathways.items()},
                "modulators": {name: float(node.level) for name, node in circuit.modulators.items()},
                "seed": int(cfg.sim.seed),
            }
        return self._defaults[condition]


def load_catalog() -> Catalog:
    """Read the conditions, tasks, stimulation presets, pathways and modulators from the configs."""
    root = configs_dir()
    names = _group_names(root / "condition")
    names.sort(key=lambda n: (n != "healthy", n))   # the healthy circuit first
    conditions = [{"name": n, "description": _comment_summary(root / "condition" / f"{n}.yaml")} for n in names]
    tasks = []
    for n in _group_names(root / "task"):
        data = _load_yaml(root / "task" / f"{n}.yaml")
        command = data.get("command") or {}
        tasks.append({"name": n, "description": " ".join(str(data.get("description", "")).split()),
                      "start_s": _si(command.get("start"), "time") if command else None,
                      "stop_s": _si(command.get("stop"), "time") if command else None})
    tasks.sort(key=lambda t: (t["name"] != "rest", t["name"]))
    cfg = compose_config([])
    circuit = cfg.circuit
    regions = {name: str(node.region) for name, node in circuit.populations.items()}
    pathways = []
    for name, node in circuit.pathways.items():
        src, tgt = str(node.source), str(node.target)
        pathways.append({"name": name, "source": src, "target": tgt, "receptor": str(node.receptor),
                         "group": f"into {regions.get(tgt, tgt)}", "ref": str(node.ref or ""),
                         "weight": str(node.weight), "weight_scale": float(node.weight_scale)})
    modulators = [{"name": name, "level": float(node.level)} for name, node in circuit.modulators.items()]
    return Catalog(conditions=conditions, tasks=tasks, stim=stim_presets(root / "stim"), pathways=pathways,
                   modulators=modulators, default_duration_s=_si(cfg.sim.duration, "time") or 2.0)


# --------------------------------------------------------------------------- form -> overrides

def _text(value: Any, path: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise FormError(path, f"expected a number or text, got {type(value).__name__}")
    text = str(value).strip()
    if len(text) > MAX_VALUE_CHARS:
        raise FormError(path, f"a value from the page has at most {MAX_VALUE_CHARS} characters")
    if any(ch.isspace() for ch in text):
        raise FormError(path, f"{text!r} contains white space; enter a single value")
    return text


def _changed(value: str, default: Any) -> bool:
    x = _number(value)
    return x is None or default is None or not math.isclose(x, float(default), rel_tol=1e-9, abs_tol=1e-12)


def _pick(options: List[Dict[str, Any]], name: str, what: str) -> Dict[str, Any]:
    for entry in options:
        if entry["name"] == name:
            return entry
    raise FormError(what, f"unknown preset {name[:80]!r}; choose one of {', '.join(e['name'] for e in options) or 'none'}")


def form_overrides(form: Mapping[str, Any], catalog: Catalog, fixed: List[str] = ()) -> List[str]:
    """The Hydra overrides of one page form, in the order a person would type them.

    Parameters
    ----------
    form : mapping
        ``condition``, ``task``, ``duration`` (seconds or ``"preset"``), ``seed``,
        ``pathways`` (name -> weight scale), ``modulators`` (name -> level), ``dbs``
        (``{"preset", "frequency" [Hz], "amplitude" [mA]}``), ``tms`` (``{"preset"}``),
        ``other`` (``{"preset"}``) and ``extra`` (more overrides, one per line). Numbers may come
        as text; they are passed on as typed, so the schema judges them exactly as on the CLI.
        Pathway weight scales and modulator levels equal to the condition's are left out.
    catalog : Catalog
        What may be chosen.
    fixed : list of str
        Overrides of the server (e.g. ``readout.plots=[]``), placed before ``extra``.

    Raises
    ------
    FormError
        For a name the configs do not know (a pathway, modulator or preset) or a malformed
        free-text override; values are checked later by the schema.
    """
    unknown = [str(k) for k in form if k not in FORM_FIELDS]
    if unknown:
        raise FormError(unknown[0][:80], f"unknown form field; the page sends {', '.join(FORM_FIELDS)}")
    for name in ("pathways", "modulators", "dbs", "tms", "other"):
        if form.get(name) is not None and not isinstance(form[name], Mapping):
            raise FormError(name, f"expected an object (name -> value), got {type(form[name]).__name__}")
    extra = form.get("extra")
    if extra is not None and not isinstance(extra, str):
        raise FormError("extra", f"expected text (one override per line), got {type(extra).__name__}")
    extra = extra or ""
    if len(extra) > MAX_EXTRA_CHARS or len(extra.splitlines()) > MAX_EXTRA_LINES:
        raise FormError("extra", f"too long: at most {MAX_EXTRA_LINES} lines and {MAX_EXTRA_CHARS} characters "
                                 f"of overrides from the page; run circuitsim on the command line for more",
                        kind="override")
    condition = _text(form.get("condition") or "healthy", "condition")
    defaults = catalog.defaults(condition)
    task = _text(form.get("task") or "rest", "task")
    if task not in {t["name"] for t in catalog.tasks}:
        raise FormError("task", f"unknown task {task!r}; choose one of {', '.join(t['name'] for t in catalog.tasks)}")
    out = [f"condition={condition}", f"task={task}"]

    presets: List[str] = []
    stim_values: List[str] = []
    dbs = form.get("dbs") or {}
    if dbs.get("preset"):
        entry = _pick(catalog.stim["dbs"], str(dbs["preset"]), "stim")
        presets.append(entry["name"])
        for field_name, unit, flag in (("frequency", "Hz", "key_frequency"), ("amplitude", "mA", "key_amplitude")):
            value = _text(dbs.get(field_name), f"stim.{entry['key']}.{field_name}")
            if value and entry.get(flag):
                stim_values.append(f"stim.{entry['key']}.{field_name}={value}*{unit}")
    for group in ("tms", "other"):
        choice = (form.get(group) or {}).get("preset")
        if choice:
            presets.append(_pick(catalog.stim[group], str(choice), "stim")["name"])
    if len(presets) == 1:
        out.append(f"stim={presets[0]}")
    elif presets:
        out.append(f"stim=[{','.join(presets)}]")

    duration = _text(form.get("duration"), "sim.duration")
    if duration and duration != PRESET_DURATION:
        out.append(f"sim.duration={duration}*second")
    seed = _text(form.get("seed"), "sim.seed")
    if seed and _changed(seed, defaults["seed"]):
        out.append(f"sim.seed={seed}")

    # sliders: form section -> (what it holds, the config key each slider sets)
    for section, kind, key in (("modulators", "modulator", "level"), ("pathways", "pathway", "weight_scale")):
        known = defaults[section]
        for name, value in (form.get(section) or {}).items():
            if name not in known:
                raise FormError(f"circuit.{section}.{str(name)[:80]}", f"unknown {kind}; known: {', '.join(known)}")
            text = _text(value, f"circuit.{section}.{name}.{key}")
            if text and _changed(text, known[name]):
                out.append(f"circuit.{section}.{name}.{key}={text}")
    out.extend(stim_values)
    for line in out:
        check_override(line, catalog)
    out.extend(fixed)   # the server's own overrides (circuitsim-app --set): trusted, not checked

    for line in extra.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key = line.split("=", 1)[0].lstrip("+~").strip()
        if "=" not in line and not line.startswith("~"):
            raise FormError(key[:80] or None, f"{line[:80]!r} is not an override; write key=value, e.g. "
                                              f"circuit.pathways.gpe_stn.p_scale=0.5", kind="override")
        check_override(line, catalog)
        out.append(line)
    if len(out) > MAX_OVERRIDES:
        raise FormError(None, f"{len(out)} overrides are more than the page accepts ({MAX_OVERRIDES})", kind="override")
    return out


def _command_line_only(key: Optional[str], what: str) -> FormError:
    return FormError(key, f"{what} cannot be used from the page; run circuitsim on the command line for that",
                     kind="override")


def _check_value(key: str, value: Any) -> None:
    if isinstance(value, Mapping):
        raise FormError(key, "a dict value cannot be set from the page; set one key at a time "
                             "(e.g. circuit.pathways.stn_gpe.weight_scale=1.5)", kind="override")
    if isinstance(value, (list, tuple)):
        for item in value:
            _check_value(key, item)
    elif isinstance(value, str):
        if "${" in value:
            raise _command_line_only(key, "an interpolation or resolver (${...})")
    elif value is not None and not isinstance(value, (bool, int, float)):
        raise FormError(key, f"a value of type {type(value).__name__} cannot be set from the page", kind="override")


def check_override(line: str, catalog: Catalog) -> None:
    """Refuse an override the page may not send (see the module docstring for the rules).

    The line is parsed with Hydra's own override parser, so what is checked is what Hydra will
    apply. Raises :class:`FormError` (kind ``override``) naming the key.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType, ValueType

    guess = line.split("=", 1)[0].strip()[:80] or None
    if len(line) > MAX_OVERRIDE_CHARS:
        raise FormError(guess, f"an override from the page has at most {MAX_OVERRIDE_CHARS} characters",
                        kind="override")
    if "${" in line:   # in a key, a value or a quoted string: OmegaConf would resolve it
        raise _command_line_only(guess, "an interpolation or resolver (${...})")
    try:
        override = OverridesParser.create().parse_override(line)
    except RecursionError:
        raise FormError(guess, "the value is nested too deeply", kind="override") from None
    except Exception as err:   # Hydra's grammar errors: its first line says what is wrong
        first = (str(err).strip().splitlines() or ["cannot parse"])[0][:200]
        raise FormError(guess, f"{line[:80]!r} is not a valid override: {first}", kind="override") from None
    key = override.key_or_group
    if override.type != OverrideType.CHANGE:
        raise _command_line_only(key, "adding or deleting keys (+, ++, ~)")
    if override.package is not None:
        raise _command_line_only(key, "a package (@...)")
    if override.value_type != ValueType.ELEMENT:
        raise _command_line_only(key, "a sweep (several values)")
    if not _KEY.match(key):
        raise FormError(key, "cannot be set from the page: write a dotted config key, "
                             "e.g. circuit.pathways.gpe_stn.p_scale", kind="override")
    value = override.value()
    _check_value(key, value)
    if key in GROUPS:
        names = catalog.group_names(key)
        chosen = value if (key == "stim" and isinstance(value, list)) else [value]
        for name in chosen:
            if not isinstance(name, str) or name not in names:
                raise FormError(key, f"unknown preset {str(name)[:80]!r}; choose one of {', '.join(names)}",
                                kind="override")
        return
    if not any(key == allowed or (allowed.endswith(".") and key.startswith(allowed)) for allowed in ALLOWED_KEYS):
        raise FormError(key, "cannot be set from the page (it names a path on the server, Hydra's own settings "
                             "or how the server runs); the page sets "
                             f"{', '.join(a + '*' if a.endswith('.') else a for a in ALLOWED_KEYS)}; "
                             "run circuitsim on the command line for that", kind="override")


def command_line(overrides: List[str]) -> str:
    """The ``circuitsim ...`` command a class can type to reproduce a run (shell-quoted)."""
    shown = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") not in DISPLAY_EXCLUDED]
    return " ".join(["circuitsim"] + [shlex.quote(o) for o in shown])


def _override_error(err: Exception) -> Dict[str, Any]:
    """A Hydra/OmegaConf composition error as ``{kind, path, message}``."""
    message = str(err).strip()
    path = getattr(err, "full_key", None)
    cause = err.__cause__ or err.__context__
    if cause is not None:
        path = path or getattr(cause, "full_key", None)
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
        if first and first not in message:
            message = f"{message}\n{first}"
    # Hydra lists its search path after the options; the options are what the user needs
    message = message.split("\nConfig search path")[0].strip()
    if len(message) > 1000:
        message = message[:997].rstrip() + "..."
    return {"kind": "override", "path": path or None, "message": message}


def validate(overrides: List[str]):
    """Compose ``overrides`` and validate them as the CLI does.

    Returns
    -------
    (spec, None) or (None, error)
        ``spec``: the validated :class:`~circuitsim.spec.RunSpec` (SI values); ``error`` is ``{"kind": "override" | "config" | "error", "path", "message"}``: a Hydra
        override or composition error, or circuitsim's :class:`~circuitsim.errors.ConfigError`
        (with its config path).
    """
    from circuitsim.errors import CircuitsimError, ConfigError
    from circuitsim.spec import build_spec

    try:
        cfg = compose_config(overrides)
    except Exception as err:  # Hydra/OmegaConf raise many types; all mean "bad override"
        return None, _override_error(err)
    try:
        spec = build_spec(cfg)
    except ConfigError as err:
        return None, {"kind": "config", "path": err.path, "message": err.message}
    except CircuitsimError as err:
        return None, {"kind": "config", "path": None, "message": str(err)}
    except Exception:   # a gap in the schema's checks: the page shows a short line, the log the details
        logger.exception("cannot check the overrides %s", overrides)
        return None, {"kind": "error", "path": None,
                      "message": "these settings could not be checked (the server's log has the details)"}
    return spec, None
