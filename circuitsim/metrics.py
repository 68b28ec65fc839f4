"""Metrics of one run, computed from its raw data after the start-up transient.

The keys written here are the ones tools and users rely on (see the README's metrics
reference); add keys freely, rename none. Definitions:

* ``populations.<pop>``: ``rate_hz`` (mean per neuron), ``cv_isi`` (mean ISI CV),
  ``burst_fraction`` (fraction of spikes in Poisson-surprise bursts, Legendy & Salcman 1985),
  ``pause_fraction`` (fraction of time in pauses: ISIs > max(5 x mean ISI, 100 ms)),
  ``synchrony`` (Golomb's chi on 5 ms bins, 0 = asynchronous, 1 = identical trains).
* ``lfp.<region>.band_power.<band>``: relative power of the region's LFP proxy (Mazzoni et al.
  2015: sum|I_exc| delayed 6 ms - 1.65 sum|I_inh| over recorded neurons) in each band, divided
  by its 1-100 Hz power (Welch, ``readout.spectrum_segment``); ``lfp.<region>.power_4_10hz`` the
  same for 4-10 Hz, the pallidal band of dystonia (Silberstein et al. 2003).
* ``coherence.<a>__<b>.<band>``: mean magnitude-squared coherence of two regions' LFP proxies.
* ``connectivity.coherence.<a>__<b>.<band>``, ``connectivity.granger.<a>__<b>.<band>``: coherence
  of every pair of regions and spectral Granger causality a -> b of every ordered pair, per band
  (:mod:`circuitsim.analysis.connectivity`; absent with less than 1 s after the transient).
* ``connectivity.bold.correlation.<a>__<b>``: correlation of the regions' BOLD-like signals
  (Balloon-Windkessel, :mod:`circuitsim.analysis.bold`; only in runs of 20 s or more after the
  transient).
* ``channels.selectivity``: during the task's command, the thalamic rate increase of the
  commanded channel (a) against the other channel (b): max(0, (a - b)/(a + b)) with negative
  increases counted as 0; 1 = only the commanded channel active, 0 = both equally. ``null``
  without a command (task ``rest``).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional

import numpy as np

from circuitsim.analysis import bold as bold_mod
from circuitsim.analysis import channels as chan
from circuitsim.analysis import connectivity as conn
from circuitsim.analysis import lfp as lfp_mod
from circuitsim.analysis import spectra as sp
from circuitsim.analysis import spiketrains as st
from circuitsim.io.results import Result
from circuitsim.spec import ReadoutConf, RunSpec

logger = logging.getLogger(__name__)

#: the default region pairs whose coherence is reported and selectivity population: readout config
#: (``readout.coherence_pairs``, ``readout.selectivity_population``); the run's own are in its spec
COHERENCE_PAIRS = tuple(tuple(pair) for pair in ReadoutConf().coherence_pairs)
SELECTIVITY_POPULATION = ReadoutConf.selectivity_population
#: pallidal low-frequency band of dystonia (Silberstein et al. 2003, Brain 126:2597)
LOW_FREQUENCY_BAND = (4.0, 10.0)


def population_trains(result: Result, pop: str, t_start: float, t_stop: float = np.inf,
                      neurons: Optional[np.ndarray] = None) -> list:
    """Spike trains of ``pop`` in [t_start, t_stop), optionally of some neurons only (local indices)."""
    i, t = result.spikes[pop]
    keep = (t >= t_start) & (t < t_stop)
    trains = st.trains_from_indices(i[keep], t[keep], result.sizes[pop])
    return trains if neurons is None else [trains[k] for k in neurons]


def population_rates(result: Result, duration: float) -> Dict[str, np.ndarray]:
    """Binned population rate (Hz per neuron) of every population over the whole run."""
    n_bins = int(round(duration / result.rate_dt))
    edges = np.arange(n_bins + 1) * result.rate_dt
    out = {}
    for pop, (_, t) in result.spikes.items():
        counts, _ = np.histogram(t, bins=edges)
        out[pop] = counts / (result.sizes[pop] * result.rate_dt)
    return out


def region_lfps(spec: RunSpec, result: Result) -> Dict[str, np.ndarray]:
    """LFP proxy of every region from the recorded synaptic currents of its populations."""
    currents = result.lfp_currents or {}
    fs = 1.0 / spec.readout.lfp_dt
    out = {}
    for region, pops in spec.regions().items():
        exc = [currents[p][0] for p in pops if p in currents]
        inh = [currents[p][1] for p in pops if p in currents]
        if exc:
            out[region] = lfp_mod.lfp_proxy(np.vstack(exc).T, np.vstack(inh).T, fs)
    return out


#: The spike measures of ``populations.<pop>`` in metrics.json: name -> f(trains, t0, analysed),
#: for trains restricted to the ``analysed`` seconds from ``t0``.
SPIKE_MEASURES = {
    "rate_hz": lambda trains, t0, analysed: st.mean_rate_hz(trains, analysed, t_start=t0),
    "cv_isi": lambda trains, t0, analysed: st.cv_isi(trains),
    "burst_fraction": lambda trains, t0, analysed: st.burst_fraction(trains),
    "pause_fraction": lambda trains, t0, analysed: st.pause_fraction(trains, analysed, t_start=t0),
    "synchrony": lambda trains, t0, analysed: (st.synchrony_chi(trains, analysed, t_start=t0)
                                               if len(trains) > 1 else float("nan")),
}


def spike_measures(trains: list, t0: float, analysed: float, names=None) -> Dict[str, float]:
    """The :data:`SPIKE_MEASURES` ``names`` (default all) of ``trains`` over ``[t0, t0 + analysed)``."""
    return {name: SPIKE_MEASURES[name](trains, t0, analysed) for name in (names or SPIKE_MEASURES)}


def _channel_rates(spec: RunSpec, result: Result, t0: float, t1: float) -> Dict[str, Dict[str, float]]:
    out: Dict[str, Dict[str, float]] = {}
    for name, pop in spec.populations.items():
        if not pop.channelled:
            continue
        out[name] = {}
        for c, cname in enumerate(spec.channels):
            neurons = np.flatnonzero(result.channels[name] == c)
            trains = population_trains(result, name, t0, t1, neurons)
            out[name][cname] = st.mean_rate_hz(trains, t1 - t0, t_start=t0)
    return out


def channel_metrics(spec: RunSpec, result: Result) -> Dict[str, Any]:
    """Per-channel rates at baseline and during the command, and the selectivity index."""
    task = spec.task
    if task is None:
        return {"selectivity": None, "commanded": None,
                "rates_hz": _channel_rates(spec, result, spec.sim.transient, spec.sim.duration)}
    base0 = spec.sim.transient
    base1 = task["start"]
    if base1 - base0 < 0.2:
        logger.warning("less than 200 ms of baseline before the command; selectivity is noisy")
    baseline = _channel_rates(spec, result, base0, max(base1, base0 + 1e-3))
    during = _channel_rates(spec, result, task["start"], task["stop"])
    pop = spec.readout.selectivity_population
    cmd = task["channel_name"]
    others = [c for c in spec.channels if c != cmd]
    rise = {c: max(0.0, during[pop][c] - baseline[pop][c]) for c in spec.channels}
    selectivity = chan.selectivity(rise[cmd], max(rise[c] for c in others))
    return {"selectivity": selectivity, "commanded": cmd, "population": pop,
            "baseline_rates_hz": baseline, "command_rates_hz": during}


def _segment(spec: RunSpec) -> float:
    """The Welch segment (s): ``readout.spectrum_segment``, at most half the analysed time."""
    return min(spec.readout.spectrum_segment, (spec.sim.duration - spec.sim.transient) / 2)


def lfp_spectra(spec: RunSpec, result: Result) -> Dict[str, tuple]:
    """Each region's LFP power spectrum after the transient, ``region -> (f, psd)`` (reads ``result.lfp``)."""
    seg = _segment(spec)
    if seg < 0.25:
        analysed = spec.sim.duration - spec.sim.transient
        logger.warning("only %.2f s analysed after sim.transient: spectra resolve %.1f Hz, so narrow bands "
                       "(delta, alpha, 4-10 Hz) may be null; simulate at least %.1f s for full spectra",
                       analysed, 1 / seg, spec.sim.transient + 2 * spec.readout.spectrum_segment)
    fs = 1.0 / spec.readout.lfp_dt
    return {region: sp.psd_after_transient(x, fs, spec.sim.transient, seg) for region, x in result.lfp.items()}


def compute_metrics(spec: RunSpec, result: Result) -> Dict[str, Any]:
    """The measures of a run whose ``rates``, ``lfp`` and ``spectra`` are set (by
    ``circuitsim.api.finish_run``, in that order); nothing of ``result`` is changed."""
    t0 = spec.sim.transient
    analysed = spec.sim.duration - t0
    pops: Dict[str, Any] = {}
    for name, pop in spec.populations.items():
        pops[name] = spike_measures(population_trains(result, name, t0), t0, analysed)
        pops[name].update({"n_neurons": pop.n, "target_rate_hz": [pop.target_low, pop.target_high]})

    metrics: Dict[str, Any] = {"populations": pops}
    fs = 1.0 / spec.readout.lfp_dt
    skip = int(round(t0 * fs))
    seg = _segment(spec)
    lfp_metrics = {}
    for region, (f, psd) in (result.spectra or {}).items():
        lfp_metrics[region] = {"band_power": sp.band_powers(f, psd),
                               "power_4_10hz": sp.band_powers(f, psd, {"low": LOW_FREQUENCY_BAND})["low"],
                               "peak_hz": sp.peak_frequency(f, psd, 2.0, 80.0)}
    metrics["lfp"] = lfp_metrics
    coherence = {}
    for a, b in spec.readout.coherence_pairs:
        if a in result.lfp and b in result.lfp:
            coherence[f"{a}__{b}"] = sp.coherence_bands(sp.after_transient(result.lfp[a], fs, t0),
                                                               sp.after_transient(result.lfp[b], fs, t0), fs, segment_s=seg)
    metrics["coherence"] = coherence
    connectivity = conn.connectivity_bands({r: sp.after_transient(x, fs, t0) for r, x in result.lfp.items()}, fs)
    if connectivity:
        metrics["connectivity"] = connectivity
    activity = bold_mod.region_activity(spec.regions(), result.lfp_currents or {}, skip)
    bold = bold_mod.bold_correlation(activity, fs, min_duration_s=bold_mod.MIN_DURATION_S)
    if bold:
        metrics.setdefault("connectivity", {})["bold"] = bold
    metrics["channels"] = channel_metrics(spec, result)
    return metrics


def absolute_band_power(result: Result, region: str, band=LOW_FREQUENCY_BAND, segment_s: float = 0.5) -> float:
    """Absolute power (nA²) of a region's LFP proxy in ``band`` (Hz) after the run's transient.

    metrics.json's band powers are relative (band / 1-100 Hz power), and during DBS the currents
    evoked by the pulses raise that total; the absolute power shows whether the rhythm itself
    changed. Welch segments of ``segment_s``, at most half the analysed time; NaN for a region
    without an LFP proxy.
    """
    x = result.lfp.get(region)
    if x is None:
        return float("nan")
    fs = 1.0 / result.lfp_dt
    f, psd = sp.psd_after_transient(x, fs, result.metrics["run"]["transient_s"], segment_s)
    return float(sp.band_powers(f, psd, {"b": tuple(band)}, relative=False)["b"]) * 1e18
