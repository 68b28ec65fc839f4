"""Where each population's neurons sit in the circuit's single NeuronGroup."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

from circuitsim.spec import RunSpec


@dataclass(frozen=True)
class Layout:
    """Index ranges of populations (and their channels) in the neuron group.

    Channelled populations are stored channel by channel: neurons
    ``start + c*n_per_channel ... start + (c+1)*n_per_channel - 1`` belong to channel ``c``.
    """

    slices: Dict[str, Tuple[int, int]]      # population -> (start, stop)
    pop_index: np.ndarray                   # int, population number of every neuron
    channel: np.ndarray                     # int, channel of every neuron, -1 if none
    names: Tuple[str, ...]

    @property
    def n(self) -> int:
        return int(self.pop_index.size)

    def indices(self, pop: str, channel: int | None = None) -> np.ndarray:
        """Neuron indices of a population, optionally of one channel only."""
        start, stop = self.slices[pop]
        idx = np.arange(start, stop)
        if channel is None:
            return idx
        return idx[self.channel[start:stop] == channel]


def make_layout(spec: RunSpec) -> Layout:
    slices, pops, chans = {}, [], []
    start = 0
    for k, pop in enumerate(spec.populations.values()):
        slices[pop.name] = (start, start + pop.n)
        pops.append(np.full(pop.n, k, dtype=np.int32))
        if pop.channelled:
            chans.append(np.repeat(np.arange(pop.n_channels, dtype=np.int32), pop.n_per_channel))
        else:
            chans.append(np.full(pop.n, -1, dtype=np.int32))
        start += pop.n
    return Layout(slices=slices, pop_index=np.concatenate(pops), channel=np.concatenate(chans),
                  names=tuple(spec.populations))
