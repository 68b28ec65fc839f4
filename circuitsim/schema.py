"""The config schemas: one structured-config dataclass per group (Hydra's ConfigStore).

The ``*Conf`` dataclasses give every optional field its default and make a misspelt key fail when
the config is composed; they are the one source of defaults (:func:`circuitsim.spec.build_spec`
falls back on them for a key a plain config leaves out). Physical values are strings with units
(``"10*ms"``); :mod:`circuitsim.spec` validates them into the SI :class:`~circuitsim.spec.RunSpec`.
"""

from __future__ import annotations

import copy
from dataclasses import MISSING as MISSING_FIELD
from dataclasses import dataclass, field, fields, is_dataclass
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Union, get_args, get_origin, get_type_hints

if TYPE_CHECKING:
    from omegaconf import DictConfig

RECEPTOR_NAMES = ("ampa", "nmda", "gaba")
TOPOLOGIES = ("focal", "diffuse")
DEVICES = ("runtime", "cpp_standalone", "cuda_standalone")
CODEGEN_TARGETS = ("numpy", "cython")

# name -> physical dimension of every neuron parameter of the AdEx template
NEURON_PARAMS = {
    "C": "capacitance", "gL": "conductance", "EL": "voltage", "VT": "voltage",
    "DeltaT": "voltage", "V_reset": "voltage", "V_peak": "voltage", "a": "conductance",
    "b": "current", "tau_w": "time", "t_ref": "time", "I_bias": "current",
    "g_T": "conductance", "E_T": "voltage", "V_h": "voltage", "tau_h_plus": "time", "tau_h_minus": "time",
}

# the T-type (rebound) current's parameters may be left out: g_T = 0 switches it off; the others
# are the thalamic values of the integrate-and-fire-or-burst model (Smith et al. 2000, J
# Neurophysiol 83:588: V_h -60 mV, E_T 120 mV, tau_h+ 100 ms, tau_h- 20 ms)
OPTIONAL_NEURON_PARAMS = {"g_T": "0*nS", "E_T": "120*mV", "V_h": "-60*mV",
                          "tau_h_plus": "100*ms", "tau_h_minus": "20*ms"}


@dataclass
class ReceptorConf:
    tau: str = "5*ms"
    E: str = "0*mV"
    sign: str = "excitatory"


@dataclass
class BackgroundConf:
    rate: str = "0*Hz"
    weight: str = "0*nS"
    receptor: str = "ampa"


@dataclass
class TargetRateConf:
    low: str = "0*Hz"
    high: str = "1000*Hz"
    source: str = ""


@dataclass
class PopulationConf:
    region: str = "???"
    n: int = 1
    channelled: bool = False
    description: str = ""
    model: str = "adex"
    params: Dict[str, str] = field(default_factory=dict)
    background: BackgroundConf = field(default_factory=BackgroundConf)
    target_rate: TargetRateConf = field(default_factory=TargetRateConf)


@dataclass
class PathwayConf:
    source: str = "???"
    target: str = "???"
    receptor: str = "???"
    p: float = 0.1
    weight: str = "???"
    delay: str = "1*ms"
    topology: str = "diffuse"
    rule: str = "random"
    weight_scale: float = 1.0
    p_scale: float = 1.0
    # lateralised change: extra weight factor on the synapses onto the neurons of channel
    # `circuit.side` (the target must be channelled); 1 = no lateralisation
    side_scale: float = 1.0
    enabled: bool = True
    ref: str = ""


@dataclass
class ModulatorConf:
    level: float = 1.0
    weight_gain: Dict[str, float] = field(default_factory=dict)
    background_gain: Dict[str, float] = field(default_factory=dict)


@dataclass
class CircuitConf:
    scale: float = 1.0
    channels: List[str] = field(default_factory=lambda: ["left", "right"])
    # the channel that a condition's lateralised changes (pathways' side_scale) act on; null = none
    side: Optional[str] = None
    receptors: Dict[str, ReceptorConf] = field(default_factory=dict)
    modulators: Dict[str, ModulatorConf] = field(default_factory=dict)
    populations: Dict[str, PopulationConf] = field(default_factory=dict)
    pathways: Dict[str, PathwayConf] = field(default_factory=dict)


@dataclass
class SimConf:
    duration: str = "2*second"
    dt: str = "0.1*ms"
    seed: int = 0
    device: str = "cpp_standalone"
    codegen_target: str = "cython"
    threads: int = 1
    build_dir: Optional[str] = None
    transient: str = "200*ms"
    progress: bool = True
    vectorize: bool = True
    max_wall_time: Optional[str] = None


@dataclass
class CommandConf:
    kind: str = "cortical_command"
    population: str = "ctx_e"
    channel: str = "???"
    start: str = "???"
    stop: str = "???"
    rate: str = "???"
    weight: str = "0.5*nS"


@dataclass
class TaskConf:
    name: str = "rest"
    description: str = ""
    command: Optional[CommandConf] = None


@dataclass
class MuscleConf:
    enabled: bool = True
    corticospinal_population: str = "ctx_e"
    corticospinal_fraction: float = 0.3
    muscles: List[str] = field(default_factory=lambda: ["rotator_left", "rotator_right"])
    params: Dict[str, Any] = field(default_factory=dict)


@dataclass
class ReadoutConf:
    rate_bin: str = "1*ms"
    lfp_neurons: int = 20
    lfp_dt: str = "1*ms"
    spectrum_segment: str = "0.5*second"
    plots: List[str] = field(default_factory=lambda: ["raster", "rates"])
    save_spikes: bool = True
    # region pairs whose LFP coherence metrics.json reports (GPi-cortex, GPi-DCN, STN-GPe, GPi-thalamus)
    coherence_pairs: List[List[str]] = field(
        default_factory=lambda: [["gpi", "ctx"], ["gpi", "dcn"], ["stn", "gpe"], ["gpi", "thal"]])
    selectivity_population: str = "thal"   # whose channel rates give the task's selectivity
    muscle: MuscleConf = field(default_factory=MuscleConf)


@dataclass
class FitConf:
    """A fit's targets and its loss's penalty (:mod:`circuitsim.fit`; ``+fit=<file>`` of configs/fit/)."""

    # what a missing or NaN metric adds to the loss instead of its squared error
    penalty: float = 100.0
    # dotted metric of metrics.json -> {value, tol} or {low, high}; none: the circuit's healthy rate ranges
    targets: Dict[str, Any] = field(default_factory=dict)


MISSING = "???"   # OmegaConf's mark of a value the config must give


def with_defaults(node: Any, schema: Any) -> Any:
    """``node`` (a plain mapping) with every key of ``schema`` (a schema dataclass, or an instance
    of one holding other defaults) it leaves out filled in from the schema's defaults, recursively
    for nested schemas; a nested node given in part or as null gets the rest. A field whose default
    is a mapping (``Dict[str, X]``) merges a given mapping into it entry by entry, as composing
    the config does (null stays null) (an entry of a schema type ``X`` given in part gets the rest of that entry's
    defaults, a new one those of ``X``). Required keys (``???``) stay absent; keys the schema does
    not know stay (the validator names them). Anything but a mapping comes back unchanged (the
    validator refuses it)."""
    if not isinstance(node, Mapping):
        return node
    cls = schema if isinstance(schema, type) else type(schema)
    hints = get_type_hints(cls)
    out = dict(node)
    for f in fields(cls):
        if not isinstance(schema, type):
            value = getattr(schema, f.name)
        elif f.default is not MISSING_FIELD:
            value = f.default
        elif f.default_factory is not MISSING_FIELD:
            value = f.default_factory()
        else:
            continue
        if f.name in out or not (isinstance(value, str) and value == MISSING):
            out[f.name] = _merged(out.get(f.name, _ABSENT), value, hints.get(f.name))
    return out


_ABSENT = object()   # a key the node leaves out


def _schema_type(hint: Any) -> Optional[type]:
    """The schema dataclass ``hint`` names (``X`` or ``Optional[X]``), else None."""
    args = [a for a in get_args(hint) if a is not type(None)] if get_origin(hint) is Union else [hint]
    return args[0] if len(args) == 1 and isinstance(args[0], type) and is_dataclass(args[0]) else None


def _entry_type(hint: Any) -> Any:
    """The value type of a ``Dict[str, X]`` (or ``Optional[Dict[str, X]]``) hint, else None."""
    if get_origin(hint) is Union:
        args = [a for a in get_args(hint) if a is not type(None)]
        hint = args[0] if len(args) == 1 else None
    return get_args(hint)[1] if get_origin(hint) is dict and len(get_args(hint)) == 2 else None


def _merged(given: Any, value: Any, hint: Any) -> Any:
    """``given`` (:data:`_ABSENT` where left out) over the default ``value`` of a field typed ``hint``:
    a nested schema given in part or as null, or a mapping given in part, gets the rest; anything
    else given stays (a mapping given as null is null, as when the config is composed)."""
    kind = _schema_type(hint) or (type(value) if is_dataclass(value) else None)
    if kind is not None and value is not None:
        if given is _ABSENT or given is None or isinstance(given, Mapping):
            given = {} if given is _ABSENT or given is None else given
            return with_defaults(given, value if is_dataclass(value) else kind)
        return given
    if isinstance(value, Mapping) and (given is _ABSENT or isinstance(given, Mapping)):
        entry = _entry_type(hint)
        out = {k: _merged(_ABSENT, v, entry) for k, v in value.items()}
        for k, v in ({} if given is _ABSENT else given).items():
            if k in value and isinstance(v, Mapping):
                out[k] = _merged(v, value[k], entry)
            elif k not in value and isinstance(v, Mapping) and _schema_type(entry) is not None:
                out[k] = with_defaults(v, _schema_type(entry))
            else:
                out[k] = v
        return out
    return copy.deepcopy(value) if given is _ABSENT else given


def defaults(schema: Any) -> dict:
    """The defaults of ``schema`` (a schema dataclass) as a plain dict (required keys left out)."""
    return with_defaults({}, schema)


def register_configs() -> None:
    """Register the schemas with Hydra's ConfigStore (idempotent)."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(group="circuit", name="schema", node=CircuitConf, package="circuit")
    cs.store(group="sim", name="schema", node=SimConf, package="sim")
    cs.store(group="readout", name="schema", node=ReadoutConf, package="readout")
    cs.store(group="task", name="schema", node=TaskConf, package="task")
    cs.store(group="fit", name="schema", node=FitConf, package="fit")
    # each stimulus kind's own schema (the plug-in registry's ``schema``): an option of the group
    # stim/schema, placed at stim.<name> by a preset's defaults list or `+stim/schema@stim.<name>=<kind>`
    from circuitsim.plugins import STIMULI

    for kind in STIMULI.kinds("schema"):
        cs.store(group="stim/schema", name=kind, node=STIMULI[kind].schema)


def compose(overrides: Iterable[str] = (), config_name: str = "config") -> "DictConfig":
    """Compose circuitsim's config with command-line style overrides (no output folder, no logging set-up)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    register_configs()
    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    with initialize_config_module(config_module="circuitsim.configs", version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=list(overrides))


def plain_config(cfg: Any) -> dict:
    """A composed config as a plain dict without Hydra's own node (what a run folder stores)."""
    from omegaconf import DictConfig, OmegaConf

    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)
    return {k: v for k, v in dict(cfg).items() if k != "hydra"}
