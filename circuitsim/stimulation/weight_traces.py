"""Sampled weight traces of plastic synapses, shared by the cortical and the cerebellar rules
(:mod:`circuitsim.stimulation.plasticity`, :mod:`circuitsim.stimulation.plasticity_cerebellum`);
a leaf, so that neither rule module imports the other's."""

from __future__ import annotations

import numpy as np

TRACE_DT = 0.01        # s, sampling of the weight trace (numerical choice)
TRACE_SYNAPSES = 200   # synapses sampled per pathway for the trace (numerical choice)


def weight_trace(syn, variable: str, n: int, name: str):
    """A StateMonitor of up to TRACE_SYNAPSES of the ``n`` synapses' weights, every TRACE_DT."""
    from brian2 import StateMonitor, second

    sample = np.linspace(0, n - 1, min(n, TRACE_SYNAPSES)).astype(np.int64)
    return StateMonitor(syn, variable, record=sample, dt=TRACE_DT * second, name=name)
