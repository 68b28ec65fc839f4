"""Sensing for closed-loop DBS as a sensing-enabled stimulator or a wearable does it.

Stimulus-locked components (the ``sensing`` node of an ``lfp_band_power`` controller)
-----------------------------------------------------------------------------------
The model's LFP proxy (:mod:`circuitsim.analysis.lfp`) contains the synaptic currents every
pulse evokes in the recorded region, and their mean shifts when stimulation switches on or off.
A controller that reads the raw proxy therefore sees its own stimulation: the relative band
power drops when it switches on and jumps at every switch, so the loop cycles on its own
switching. Sensing-enabled stimulators record the LFP through artifact-rejecting, AC-coupled
front ends (Stanslaski et al. 2012, IEEE Trans Neural Syst Rehabil Eng 20:410) and the adaptive
DBS studies that followed remove stimulus-locked components by blanking or template
subtraction before computing band power (e.g. Swann et al. 2018, J Neural Eng 15:046006). Here,
on the samples of the analysis window (``sample_dt`` bins):

``template`` (default)
    every sample is labelled by the time since the last delivered pulse (its phase, in
    ``sample_dt`` bins, while pulses arrive; one more label for samples without a pulse in the
    last 1.5 periods); the mean of each label over the window (the stimulus-locked template and
    the unstimulated baseline) is subtracted. What remains is activity not locked to the pulses.
``blanking``
    samples that start less than ``blank`` after a pulse are replaced by linear interpolation
    between their unblanked neighbours, then the mean of the stimulated and of the unstimulated
    samples is subtracted (AC coupling). Cheaper, but the evoked currents that outlast the blanking
    interval stay in the signal.
``none``
    the raw proxy (the behaviour before this module; the loop sees its own pulses).

Wearable biomarker (``biomarker: emg_envelope``)
------------------------------------------------
What a surface-EMG wearable on the two neck rotators reads: every control period the
corticospinal spikes of the last ``window`` go through the muscle model of the readout
(:func:`circuitsim.muscle.muscle_readout`: motoneuron pool, surface EMG, envelope) and the
biomarker is the mean rectified-EMG envelope above the noise floor, summed over the two muscles,
in microvolts. It sees the symptom itself (both muscles active, or one held on), not a neural
proxy of it, and carries no stimulus-locked component.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np

METHODS = ("template", "blanking", "none")
DEFAULT_SENSING = {"method": "template", "blank": "2*ms"}
#: a sample counts as stimulated when a pulse came less than this many periods before it
STIMULATED_PERIODS = 1.5


def validate_sensing(node: Any, path: str, sample_dt: float) -> Dict[str, Any]:
    """Check a ``sensing`` node ({method, blank}); SI values out."""
    from circuitsim.spec import check_choice, require
    from circuitsim.units import to_si

    node = {} if node is None else node
    require(isinstance(node, Mapping), path, "a mapping {method: template|blanking|none, blank: 2*ms}")
    for key in node:
        check_choice(key, ("method", "blank"), f"{path}.{key}")
    method = check_choice(node.get("method", DEFAULT_SENSING["method"]), METHODS, f"{path}.method")
    blank = to_si(node.get("blank", DEFAULT_SENSING["blank"]), "time", f"{path}.blank")
    require(blank > 0, f"{path}.blank", "must be positive, e.g. 2*ms")
    return {"method": method, "blank": blank}


def _phase(times: np.ndarray, onsets: np.ndarray) -> np.ndarray:
    """Time since the last pulse at or before each time (inf where there was none)."""
    onsets = np.sort(np.asarray(onsets, dtype=float))
    k = np.searchsorted(onsets, times + 1e-12, side="right") - 1
    out = np.full(times.size, np.inf)
    has = k >= 0
    out[has] = times[has] - onsets[k[has]]
    return out


def remove_stimulus_locked(x: np.ndarray, t_start: np.ndarray, sample_dt: float, onsets: Sequence[float],
                           period: float, method: str, blank: float) -> np.ndarray:
    """The samples ``x`` (starting at ``t_start``, each ``sample_dt`` long) with the pulse-locked part removed.

    ``onsets``: the delivered pulses (any that precede the window count for the phase).
    """
    x = np.asarray(x, dtype=float)
    if method == "none":
        return x
    t_start = np.asarray(t_start, dtype=float)
    phase = _phase(t_start, np.asarray(onsets, dtype=float))
    stimulated = phase < STIMULATED_PERIODS * period
    y = x.copy()
    if method == "blanking":
        # a sample [t, t + sample_dt) overlaps the blanking interval after a pulse when the pulse
        # came less than `blank` before its start, or falls inside it
        phase_end = _phase(t_start + sample_dt - 1e-12, np.asarray(onsets, dtype=float))
        hit = (phase < blank) | (phase_end < phase)
        keep = ~hit
        if keep.sum() >= 2 and hit.any():
            idx = np.arange(x.size)
            y[hit] = np.interp(idx[hit], idx[keep], x[keep])
        for mask in (stimulated, ~stimulated):
            if mask.any():
                y[mask] -= y[mask].mean()
        return y
    labels = np.where(stimulated, np.floor(np.where(stimulated, phase, 0.0) / sample_dt), -1).astype(int)
    for label in np.unique(labels):
        mask = labels == label
        y[mask] -= x[mask].mean()
    return y


# ----------------------------------------------------------------------- wearable EMG


def emg_envelope_uv(spikes: Mapping[str, list], n_cs: int, window: float, seed: int, muscle_params) -> Optional[float]:
    """Summed mean rectified-EMG envelope (above the noise floor) of the two rotators, in microvolts.

    ``spikes``: muscle -> list of spike-time arrays (s, from the window's start) of its
    corticospinal cells. The same muscle model as the run's readout, fresh each window.
    """
    from circuitsim.muscle import muscle_readout

    readout = muscle_readout(spikes, n_cs, window, np.random.default_rng(seed), params=muscle_params)
    total = 0.0
    for name in readout.muscles:
        total += float(np.mean(np.maximum(readout.envelope[name] - readout.noise_floor_v, 0.0)))
    return total * 1e6
