"""Metrics of one run, computed from its raw data after the start-up transient.

The keys written here are the ones tools and users rely on (see the README's metrics
reference); add keys freely, rename none.
"""

from __future__ import annotations

from typing import Any, Dict

import numpy as np

from circuitsim.analysis import spiketrains as st
from circuitsim.io.results import Result
from circuitsim.spec import RunSpec


def population_trains(result: Result, pop: str, t_start: float) -> list:
    """Spike trains of every neuron of ``pop`` from ``t_start`` on."""
    i, t = result.spikes[pop]
    keep = t >= t_start
    return st.trains_from_indices(i[keep], t[keep], result.sizes[pop])


def population_rates(result: Result, duration: float) -> Dict[str, np.ndarray]:
    """Binned population rate (Hz per neuron) of every population over the whole run."""
    n_bins = int(round(duration / result.rate_dt))
    edges = np.arange(n_bins + 1) * result.rate_dt
    out = {}
    for pop, (_, t) in result.spikes.items():
        counts, _ = np.histogram(t, bins=edges)
        out[pop] = counts / (result.sizes[pop] * result.rate_dt)
    return out


def compute_metrics(spec: RunSpec, result: Result) -> Dict[str, Any]:
    t0 = spec.sim.transient
    analysed = spec.sim.duration - t0
    result.rates = population_rates(result, spec.sim.duration)
    pops: Dict[str, Any] = {}
    for name, pop in spec.populations.items():
        trains = population_trains(result, name, t0)
        pops[name] = {
            "rate_hz": st.mean_rate_hz(trains, analysed, t_start=t0),
            "cv_isi": st.cv_isi(trains),
            "n_neurons": pop.n,
            "target_rate_hz": [pop.target_low, pop.target_high],
        }
    return {"populations": pops}
