"""What a stimulus build function receives (:class:`BuildContext`), and the older per-role names.

The stimulus kinds themselves live in one registry, :mod:`circuitsim.plugins` (one
:class:`~circuitsim.plugins.StimulusKind` per kind: validator, builder, measure, plot, structure;
a second, different function for a role is an error). A new kind of input is new registered
functions, never an edit to the core builder, the metrics or the plots.

``register_stimulus``, ``register_measure``, ``register_plot`` and ``register_structure`` below, and
the ``STIMULUS_*`` mappings, are views onto that registry kept for existing code; new code uses
``@circuitsim.plugins.register(kind).builder`` (``.measure``, ``.plot``, ``.structure``) and
``circuitsim.plugins.STIMULI[kind]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping

from brian2 import NeuronGroup

from circuitsim.circuit.layout import Layout
from circuitsim.plugins import STIMULI, register
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
STIMULUS_BUILDERS = STIMULI.role("builder")
STIMULUS_MEASURES = STIMULI.role("measure")
STIMULUS_PLOTS = STIMULI.role("plot")
STIMULUS_STRUCTURES = STIMULI.role("structure")


def register_stimulus(kind: str) -> Callable[[StimulusBuilder], StimulusBuilder]:
    """Register ``fn(ctx, name, params)`` as the builder of stimulus ``kind`` (``register(kind).builder``)."""
    return register(kind).builder


def register_measure(kind: str):
    """Register ``fn(spec, result, name, params) -> dict`` as the measure of ``kind`` (``register(kind).measure``)."""
    return register(kind).measure


def register_plot(kind: str):
    """Register ``fn(result, name, params, subfig)`` as the ``stim.png`` panel of ``kind`` (``register(kind).plot``)."""
    return register(kind).plot


def register_structure(kind: str):
    """Register ``fn(spec, params) -> dict``: what of ``kind`` shapes the generated code (``register(kind).structure``).

    Only parameters whose change alters code, constants compiled into it, or the set of Brian2
    objects belong here; sizes of data arrays are checked separately by the build cache.
    """
    return register(kind).structure
