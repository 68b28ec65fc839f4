"""The stimulus plug-in registry: one typed entry per stimulus kind (Nengo's ``Builder.register``).

A stimulus kind (``cortical_command``, ``dbs``, ``tms``, ...) is a :class:`StimulusKind`: up to
six functions and a config schema, each registered once with :func:`register`, which refuses a second, different
function for the same role:

* ``validator`` ``fn(stim, path, ctx) -> dict``: checks a config node before anything is built
  and returns its parameters in SI units (``"kind"`` is added); a stimulus that needs Python
  during the run sets ``"runtime_only"`` to the reason (the run then uses the runtime device);
* ``builder`` ``fn(ctx, name, params)``: adds Brian2 objects (``ctx.objects``), constants
  (``ctx.namespace``) and recorders (``ctx.recorders``, called after the run; their values land in
  ``result.stim_data[name]``); ``ctx`` is a :class:`circuitsim.circuit.registry.BuildContext`;
* ``measure`` ``fn(spec, result, name, params) -> dict``: computed after the run and the muscle
  readout, stored at ``metrics["stim"][name]`` (it may also write other top-level sections);
* ``plot`` ``fn(result, name, params, subfig)``: the stimulus's row of ``stim.png``;
* ``structure`` ``fn(spec, params) -> dict``: the parameters that shape the generated code (the
  compile-once build cache keys the stimulus on these only; every other parameter must reach the
  program as array values). A kind without one is keyed on all its parameters;
* ``pulses`` ``fn(name, params, dt, data) -> dict``: the stimulus's pulses as columns of equal
  length (``start_time``, ``stop_time`` in s, and any others), plus ``_kind`` and ``_desc`` (a
  sentence); ``data`` is the run's ``stim_data[name]`` or None. The NWB export writes one
  interval table per stimulus from it (:mod:`circuitsim.io.nwb_file`);
* ``schema``: the kind's structured config (a dataclass of unit strings with the defaults, as
  the other config groups' schemas in :mod:`circuitsim.schema`). :func:`circuitsim.schema.register_configs`
  stores it in Hydra's ConfigStore as the option ``<kind>`` of the group ``stim/schema``, so a preset
  (``defaults: [/stim/schema/<kind>@stim.<name>]``) or the command line
  (``+stim/schema@stim.<name>=<kind>``) gets its defaults, shown by ``--cfg job``, and a
  misspelt key fails when the config is composed;
* ``neuron``: a :class:`NeuronCode`, what the kind adds to every neuron's code (state variables
  and the statements that draw and deliver its input) where a config holds the kind; the
  circuit builder splices it into the neuron template (the motor command's Poisson stream).

A kind registered ``batchable=True`` keeps all its parameters in per-neuron data, so one compiled
program (and a batched sweep, :mod:`circuitsim.batch`) serves every value of them.

Usage, in the module that implements the role::

    from circuitsim.plugins import register

    @register("dbs").validator
    def validate_dbs(stim, path, ctx): ...

Layering: this module imports nothing of the package, so the config layer (:mod:`circuitsim.spec`)
dispatches on it without importing the plug-ins. The built-in plug-ins (:data:`BUILTIN_PLUGINS`,
named as strings like entry points) are imported on the first look-up, not at import time.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, MutableMapping, Optional, Tuple

#: packages whose import registers the built-in stimulus kinds (loaded on the first look-up)
BUILTIN_PLUGINS: Tuple[str, ...] = ("circuitsim.stimulation",)

Validator = Callable[..., Dict[str, Any]]   # (stim: Mapping, path: str, ctx: spec.StimulusContext) -> dict
Builder = Callable[..., None]               # (ctx: BuildContext, name: str, params: Mapping) -> None
Measure = Callable[..., Dict[str, Any]]     # (spec: RunSpec, result: Result, name: str, params) -> dict
Plot = Callable[..., None]                  # (result: Result, name: str, params, subfig) -> None
Structure = Callable[..., Dict[str, Any]]   # (spec: RunSpec, params) -> dict
Pulses = Callable[..., Dict[str, Any]]      # (name: str, params, dt: float, data: Mapping | None) -> columns
Schema = type                               # a dataclass: the kind's structured config

ROLES: Tuple[str, ...] = ("validator", "builder", "measure", "plot", "structure", "pulses", "schema", "neuron")


@dataclass(frozen=True)
class NeuronCode:
    """What a stimulus kind adds to the code of every neuron of the circuit (one ``NeuronGroup``).

    ``variables``: equation lines (``"nu_cmd : hertz"``) declared in the neuron template;
    ``data``: those of them the kind's builder fills per neuron (the builder sets them to 0 first);
    ``draw``, ``fix``, ``inputs``: statements appended, in this order of kinds, to the background
    input's three steps (the vectorised draw of this step's counts, settling the rare counts the
    draw left at -1, adding the counts to the conductances; :func:`circuitsim.circuit.models.noise_code`).
    """

    variables: str = ""
    data: Tuple[str, ...] = ()
    draw: str = ""
    fix: str = ""
    inputs: str = ""


class DuplicateRegistrationError(ValueError):
    """A second, different function registered for the same role of one stimulus kind."""


def _label(fn: Callable) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


@dataclass
class StimulusKind:
    """Everything the simulator knows about one kind of stimulus (see the module docstring)."""

    name: str
    validator: Optional[Validator] = None
    builder: Optional[Builder] = None
    measure: Optional[Measure] = None
    plot: Optional[Plot] = None
    structure: Optional[Structure] = None
    pulses: Optional[Pulses] = None
    schema: Optional[Schema] = None
    neuron: Optional[NeuronCode] = None
    batchable: bool = False

    def set(self, role: str, fn: Callable) -> Callable:
        """Attach ``fn`` as ``role``; a different function already there is an error."""
        if role not in ROLES:
            raise ValueError(f"unknown stimulus plug-in role {role!r}; one of {', '.join(ROLES)}")
        old = getattr(self, role)
        # the same function again (a module reloaded) replaces itself; anything else is a clash
        if old is not None and old is not fn and _label(old) != _label(fn):
            raise DuplicateRegistrationError(
                f"stimulus kind {self.name!r} already has a {role} ({_label(old)}); "
                f"{_label(fn)} cannot replace it: give the new kind another name")
        setattr(self, role, fn)
        return fn

    def _decorator(self, role: str) -> Callable[[Callable], Callable]:
        return lambda fn: self.set(role, fn)

    @property
    def roles(self) -> Tuple[str, ...]:
        """The roles this kind has registered."""
        return tuple(r for r in ROLES if getattr(self, r) is not None)


class _RoleDecorators:
    """What ``register(kind)`` returns: one decorator per role (``@register("dbs").builder``)."""

    def __init__(self, kind: StimulusKind) -> None:
        self.kind = kind
        self.validator = kind._decorator("validator")
        self.builder = kind._decorator("builder")
        self.measure = kind._decorator("measure")
        self.plot = kind._decorator("plot")
        self.structure = kind._decorator("structure")
        self.pulses = kind._decorator("pulses")
        self.schema = kind._decorator("schema")
        self.neuron = kind._decorator("neuron")


class StimulusRegistry:
    """Stimulus kinds by name; dispatch goes through here (``STIMULI[kind].builder(...)``)."""

    def __init__(self, plugins: Tuple[str, ...] = BUILTIN_PLUGINS) -> None:
        self._kinds: Dict[str, StimulusKind] = {}
        self._plugins = plugins
        self._loaded = False

    def register(self, kind: str, batchable: Optional[bool] = None, **roles: Any) -> _RoleDecorators:
        """The decorators of ``kind`` (created on first use); keyword roles are attached at once."""
        if not isinstance(kind, str) or not kind.isidentifier():
            raise ValueError(f"a stimulus kind is an identifier (got {kind!r})")
        entry = self._kinds.setdefault(kind, StimulusKind(kind))
        if batchable is not None:
            entry.batchable = bool(batchable)
        for role, fn in roles.items():
            entry.set(role, fn)
        return _RoleDecorators(entry)

    def unregister(self, kind: str, role: Optional[str] = None) -> None:
        """Forget ``kind`` (or one of its roles); for tests."""
        if role is None:
            self._kinds.pop(kind, None)
        elif kind in self._kinds:
            setattr(self._kinds[kind], role, None)

    def load(self) -> None:
        """Import the built-in plug-in packages once (each registers its kinds on import)."""
        if not self._loaded:
            self._loaded = True
            for name in self._plugins:
                importlib.import_module(name)

    def __getitem__(self, kind: str) -> StimulusKind:
        self.load()
        if kind not in self._kinds:
            raise KeyError(f"unknown stimulus kind {kind!r}; known: {', '.join(self.kinds())}")
        return self._kinds[kind]

    def get(self, kind: str) -> Optional[StimulusKind]:
        self.load()
        return self._kinds.get(kind)

    def __contains__(self, kind: object) -> bool:
        self.load()
        return kind in self._kinds

    def __iter__(self) -> Iterator[str]:
        self.load()
        return iter(sorted(self._kinds))

    def kinds(self, role: str = "validator") -> Tuple[str, ...]:
        """Names of the kinds that registered ``role`` (a config may name only validated kinds)."""
        self.load()
        return tuple(sorted(k for k, v in self._kinds.items() if getattr(v, role) is not None))

    def batchable(self) -> Tuple[str, ...]:
        """Names of the kinds whose parameters are all per-neuron data (a batched sweep can hold them)."""
        self.load()
        return tuple(sorted(k for k, v in self._kinds.items() if v.batchable))

    def role(self, role: str) -> "RoleView":
        """``kind -> function`` for one role, as a mapping (the older per-role dictionaries)."""
        return RoleView(self, role)


class RoleView(MutableMapping):
    """One role of every kind as a ``kind -> function`` mapping; writing registers (tests patch it)."""

    def __init__(self, registry: StimulusRegistry, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown stimulus plug-in role {role!r}; one of {', '.join(ROLES)}")
        self._registry, self._role = registry, role

    def __getitem__(self, kind: str) -> Callable:
        entry = self._registry.get(kind)
        fn = getattr(entry, self._role) if entry is not None else None
        if fn is None:
            raise KeyError(kind)
        return fn

    def __setitem__(self, kind: str, fn: Callable) -> None:
        self._registry.register(kind, **{self._role: fn})

    def __delitem__(self, kind: str) -> None:
        self[kind]   # KeyError when absent
        self._registry.unregister(kind, self._role)
        if not self._registry._kinds[kind].roles:
            self._registry.unregister(kind)

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry.kinds(self._role))

    def __len__(self) -> int:
        return len(self._registry.kinds(self._role))


#: the registry of this process
STIMULI = StimulusRegistry()


def register(kind: str, batchable: Optional[bool] = None, **roles: Any) -> _RoleDecorators:
    """Register roles of stimulus ``kind``: ``@register("dbs").builder`` or ``register("dbs", plot=fn)``."""
    return STIMULI.register(kind, batchable=batchable, **roles)


def stimulus_kind(kind: str) -> StimulusKind:
    """The registered :class:`StimulusKind` named ``kind`` (KeyError listing the known ones)."""
    return STIMULI[kind]


__all__ = ["BUILTIN_PLUGINS", "ROLES", "STIMULI", "DuplicateRegistrationError", "NeuronCode", "RoleView", "StimulusKind",
           "StimulusRegistry", "register", "stimulus_kind"]
