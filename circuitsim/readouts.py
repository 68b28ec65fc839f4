"""Readouts computed after the network run: what reaches the muscles.

The corticospinal cells of a channel are the first ``readout.muscle.corticospinal_fraction`` of
that channel's ``ctx_e`` neurons; their spikes (after ``sim.transient``) drive the channel's
motoneuron pool (:mod:`circuitsim.muscle`). Channel ``k`` drives muscle ``k`` of
``readout.muscle.muscles``; the first is the left rotator (positive head angle = to the left).
"""

from __future__ import annotations

import numpy as np

from circuitsim.analysis.spectra import after_transient
from circuitsim.io.results import MuscleSeries, Result
from circuitsim.muscle import MuscleParams, muscle_readout
from circuitsim.plugins import STIMULI
from circuitsim.spec import MuscleConf, RunSpec

#: the default corticospinal population (``readout.muscle.corticospinal_population``; a run's own
#: is ``spec.readout.muscle.corticospinal_population``)
CORTICOSPINAL_POPULATION = MuscleConf.corticospinal_population


def corticospinal_spikes(spec: RunSpec, result: Result, t0: float) -> tuple[dict, int]:
    """Muscle name -> spike trains (s, from t0) of its channel's corticospinal cells."""
    name = spec.readout.muscle.corticospinal_population
    pop = spec.populations[name]
    n_cs = max(1, int(round(spec.readout.muscle.corticospinal_fraction * pop.n_per_channel)))
    i, t = result.spikes[name]
    keep = t >= t0
    i, t = i[keep], t[keep] - t0
    out = {}
    for c, muscle in enumerate(spec.readout.muscle.muscles):
        cells = np.flatnonzero(result.channels[name] == c)[:n_cs]
        out[muscle] = [t[i == cell] for cell in cells]
    return out, n_cs


def add_muscle_readout(spec: RunSpec, result: Result) -> None:
    """Run the muscle model on the run's corticospinal output; adds ``metrics['muscle']``."""
    if not spec.readout.muscle.enabled:
        return
    t0 = spec.sim.transient
    spikes, n_cs = corticospinal_spikes(spec, result, t0)
    lfp = result.lfp.get("gpi")
    fs = 1.0 / result.lfp_dt
    if lfp is not None:
        lfp = after_transient(lfp, fs, t0)
    rng = np.random.default_rng(np.random.SeedSequence([spec.sim.seed, 0x3C1E]))
    readout = muscle_readout(spikes, n_cs, spec.sim.duration - t0, rng,
                             params=MuscleParams.from_dict(dict(spec.readout.muscle.params)),
                             lfp=lfp, lfp_fs=fs if lfp is not None else None)
    # back on the run's clock (the readout starts at the end of the transient)
    readout.time = readout.time + t0
    readout.unit_spikes = {m: [np.asarray(s) + t0 for s in trains] for m, trains in readout.unit_spikes.items()}
    result.muscle_readout = readout
    result.muscle = MuscleSeries.from_readout(readout)
    result.metrics["muscle"] = readout.metrics


def add_stimulus_measures(spec: RunSpec, result: Result) -> None:
    """Each stimulus kind's registered measure; adds ``metrics['stim'][<name>]`` (see the registry)."""
    stim_metrics = {}
    for name, params in spec.stimuli.items():
        measure = STIMULI[params["kind"]].measure
        if measure is not None:
            stim_metrics[name] = measure(spec, result, name, params)
    if stim_metrics:
        result.metrics["stim"] = stim_metrics
