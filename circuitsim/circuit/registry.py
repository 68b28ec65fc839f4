"""Registry of stimulus kinds (Nengo-style): a new kind of input is new registered functions,
never an edit to the core builder, the metrics or the plots.

A kind ``k`` registers up to four functions, each in its own module of
:mod:`circuitsim.stimulation`:

* a validator, ``circuitsim.spec.register_stimulus_validator(k)``: config node -> SI parameters;
* a build function, :func:`register_stimulus`: ``fn(ctx, name, params)`` adds Brian2 objects
  (to ``ctx.objects``) and constants (to ``ctx.namespace``), and may ask for extra recordings
  through ``ctx.recorders`` (called after the run, their return values land in
  ``result.extra["stim_data"][name]``);
* a measure, :func:`register_measure`: ``fn(spec, result, name, params) -> dict`` computed after
  the run and the muscle readout; the dict is stored at ``metrics["stim"][name]``, and may also
  write other top-level sections of ``result.metrics`` (e.g. ``tms``);
* a plot, :func:`register_plot`: ``fn(result, name, params, subfig)`` draws the stimulus's row of
  ``stim.png`` into a matplotlib ``SubFigure``;
* a structure, :func:`register_structure`: ``fn(spec, params) -> dict``, the parameters that
  shape the generated code (the compile-once build cache keys the stimulus on this only; every
  other parameter must reach the program as array *values*). A kind without one is keyed on all
  its parameters, so changing any of them builds a new program.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping

from brian2 import NeuronGroup

from circuitsim.circuit.layout import Layout
from circuitsim.spec import RunSpec


@dataclass
class BuildContext:
    """What a stimulus build function may use and extend."""

    spec: RunSpec
    layout: Layout
    group: NeuronGroup
    connections: Mapping[str, Any] = field(default_factory=dict)  # pathway -> Connections (global i, j)
    synapses: Mapping[str, Any] = field(default_factory=dict)     # receptor -> Synapses of the circuit
    objects: List[Any] = field(default_factory=list)         # extra Brian2 objects for the network
    namespace: Dict[str, Any] = field(default_factory=dict)  # extra names for generated code
    #: stimulus name -> callable() returning data to keep (called after the run, while readable)
    recorders: Dict[str, Callable[[], Any]] = field(default_factory=dict)


StimulusBuilder = Callable[[BuildContext, str, Mapping[str, Any]], None]
STIMULUS_BUILDERS: Dict[str, StimulusBuilder] = {}
STIMULUS_MEASURES: Dict[str, Callable[..., Dict[str, Any]]] = {}
STIMULUS_PLOTS: Dict[str, Callable[..., None]] = {}
STIMULUS_STRUCTURES: Dict[str, Callable[..., Dict[str, Any]]] = {}


def register_stimulus(kind: str) -> Callable[[StimulusBuilder], StimulusBuilder]:
    """Register ``fn(ctx, name, params)`` as the build function of stimulus ``kind``."""

    def decorator(fn: StimulusBuilder) -> StimulusBuilder:
        STIMULUS_BUILDERS[kind] = fn
        return fn

    return decorator


def register_measure(kind: str):
    """Register ``fn(spec, result, name, params) -> dict`` as the measure of stimulus ``kind``."""

    def decorator(fn):
        STIMULUS_MEASURES[kind] = fn
        return fn

    return decorator


def register_plot(kind: str):
    """Register ``fn(result, name, params, subfig)`` as the ``stim.png`` panel of stimulus ``kind``."""

    def decorator(fn):
        STIMULUS_PLOTS[kind] = fn
        return fn

    return decorator


def register_structure(kind: str):
    """Register ``fn(spec, params) -> dict``: what of stimulus ``kind`` shapes the generated code.

    Only parameters whose change alters code, constants compiled into it, or the set of Brian2
    objects belong here; sizes of data arrays are checked separately by the build cache.
    """

    def decorator(fn):
        STIMULUS_STRUCTURES[kind] = fn
        return fn

    return decorator
