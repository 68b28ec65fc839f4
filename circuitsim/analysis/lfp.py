"""LFP proxy computed from synaptic currents of a point-neuron network.

The simulator hands :func:`lfp_proxy` each recorded neuron's synaptic currents as the *mean over
each sample interval* (``readout.lfp_dt``, box-car exact to the time step: the neuron model
integrates its currents into charges and the builder differences them; see
:func:`circuitsim.circuit.builder.lfp_currents`), not as point samples. Sample k covers
``[k*lfp_dt, (k+1)*lfp_dt)``. Point samples alias whatever the currents carry above fs/2 into the
analysed band; a 130 Hz DBS pulse train's harmonics, e.g. 7 x 130 = 910 Hz, appear at 1 kHz
sampling as lines at |130 k - 1000 m| Hz (90, 40, ... Hz). The box-car's response is
sinc(f/fs): it passes 1-100 Hz within 4 % (power) and attenuates those harmonics by
sinc(0.91)^2 ~ 1e-2 in power; it is not a steep anti-alias filter, so a strong pulse artefact
still leaves small lines (a shorter ``readout.lfp_dt`` folds only higher, weaker and more
attenuated harmonics into the band).
"""

from __future__ import annotations

import numpy as np

from circuitsim.checks import nonnegative_float, positive_float

__all__ = ["lfp_proxy"]


def _summed_abs(current, name: str) -> np.ndarray:
    try:
        a = np.asarray(current, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric array") from None
    if a.ndim == 1:
        out = np.abs(a)
    elif a.ndim == 2:
        out = np.abs(a).sum(axis=1)
    else:
        raise ValueError(
            f"{name} must be 1-D (time) or 2-D (time x neurons), got shape {a.shape}"
        )
    if out.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return out


def lfp_proxy(i_ampa, i_gaba, fs, delay_s=0.006, gaba_weight=1.65) -> np.ndarray:
    """Weighted-sum-of-currents LFP proxy of Mazzoni et al. (2015).

    ``LFP(t) = sum_i |I_AMPA,i(t - delay_s)| - gaba_weight * sum_i |I_GABA,i(t)|``

    with the published optimum ``delay_s = 6 ms`` and ``gaba_weight = 1.65``
    (the "WS" proxy, fitted against the LFP of a multicompartment model of the
    same pyramidal population).  The currents should be those
    onto the pyramidal (excitatory) cells of the population.  Absolute values
    are taken per neuron before summing, so the sign convention of the
    recorded currents does not matter.

    Parameters
    ----------
    i_ampa, i_gaba : array_like
        AMPA and GABA synaptic currents (A).  1-D: one population-level time
        series (its absolute value is used); 2-D: ``(time, neurons)``, in
        which case ``sum_i |I_i|`` is formed over the neuron axis.  Both must
        have the same number of time samples (the number of neurons may
        differ).
    fs : float
        Sampling rate of the currents (Hz).
    delay_s : float, optional
        Delay applied to the AMPA term (s). Default 0.006.  It is rounded to
        ``round(delay_s * fs)`` samples.
    gaba_weight : float, optional
        Relative weight of the GABA term. Default 1.65.

    Returns
    -------
    numpy.ndarray
        1-D proxy (A, arbitrary sign/scale relative to a true LFP) with the
        same number of samples as the inputs.  For the first ``d`` samples,
        where ``t - delay_s`` precedes the recording, the AMPA term is padded
        with its first sample (edge padding).

    Raises
    ------
    ValueError
        On mismatched lengths, bad shapes, non-finite values, negative
        ``delay_s``/``gaba_weight``, or a delay not shorter than the signal.

    References
    ----------
    Mazzoni A, Lindén H, Cuntz H, Lansner A, Panzeri S, Einevoll GT (2015)
    Computing the local field potential (LFP) from integrate-and-fire network
    models. PLoS Comput Biol 11:e1004584.
    """
    fs = positive_float(fs, "fs (Hz)")
    delay_s = nonnegative_float(delay_s, "delay_s (s)")
    gaba_weight = nonnegative_float(gaba_weight, "gaba_weight")
    a = _summed_abs(i_ampa, "i_ampa")
    g = _summed_abs(i_gaba, "i_gaba")
    if a.size != g.size:
        raise ValueError(
            f"i_ampa and i_gaba must have the same number of time samples, got "
            f"{a.size} and {g.size}"
        )
    d = int(round(delay_s * fs))
    if d >= a.size:
        raise ValueError(
            f"delay_s = {delay_s} s ({d} samples at {fs} Hz) is not shorter than "
            f"the signal ({a.size} samples)"
        )
    if d > 0:
        a = np.concatenate([np.full(d, a[0]), a[:-d]])
    return a - gaba_weight * g
