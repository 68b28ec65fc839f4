"""Registry of stimulus build functions (Nengo-style): a new kind of input is a new registered
function, never an edit to the core builder."""

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
    objects: List[Any] = field(default_factory=list)         # extra Brian2 objects for the network
    namespace: Dict[str, Any] = field(default_factory=dict)  # extra names for generated code


StimulusBuilder = Callable[[BuildContext, str, Mapping[str, Any]], None]
STIMULUS_BUILDERS: Dict[str, StimulusBuilder] = {}


def register_stimulus(kind: str) -> Callable[[StimulusBuilder], StimulusBuilder]:
    """Register ``fn(ctx, name, params)`` as the build function of stimulus ``kind``."""

    def decorator(fn: StimulusBuilder) -> StimulusBuilder:
        STIMULUS_BUILDERS[kind] = fn
        return fn

    return decorator
