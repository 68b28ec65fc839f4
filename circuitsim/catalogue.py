"""The metric catalogue: every key of ``metrics.json`` with its unit, definition and label, in one place.

Everything that names a metric reads it from here: the documentation's metrics reference
(:func:`circuitsim.docs.metrics_reference`, which writes ``docs/reference/metrics.md``), the
check that the reference and the runs' ``metrics.json`` agree (:func:`check_metrics`), the
labels of ``circuitsim-compare`` (:func:`label`), ``circuitsim --list metrics`` and the
experiments' measures (:func:`circuitsim.experiments.run_points` refuses a dotted key the
catalogue does not know, :func:`find`).

A :class:`Metric`'s ``pattern`` is a dotted key in which ``<pop>``, ``<region>``, ``<band>`` ...
stand for one key and ``**`` for any number. ``unit``: ``1`` for a dimensionless number (a
fraction, a ratio, a relative power), ``count``, ``integer``, ``bool``, ``text``, ``list`` or a
physical unit. ``when`` is ``always`` (every run), ``command`` (a task with a command), ``rest``
(no command), ``muscle`` (muscle readout on), ``dbs``, ``closed_loop``, ``tms``, ``batch`` (only
there) or ``optional``. ``label``: the short name figures use (placeholders filled in by
:func:`label`); empty where no figure shows the metric.

This module imports nothing of the package (the foundation layer).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Iterable, Iterator, List, Mapping, NamedTuple, Optional, Sequence


class Metric(NamedTuple):
    pattern: str
    unit: str
    text: str
    when: str
    label: str = ""


#: units that are not physical (a label adds no "(unit)" for them)
PLAIN_UNITS = ("1", "count", "integer", "bool", "text", "list", "various")

#: how a label writes a population's or region's name
DISPLAY_NAMES = {"gpi": "GPi", "gpe": "GPe", "stn": "STN", "dcn": "DCN", "thal": "thalamus", "ctx": "cortex",
                 "d1": "D1", "d2": "D2"}

#: every key of metrics.json: (pattern, unit, definition, when present, figure label)
METRICS: Sequence[Metric] = (
    Metric('populations.<pop>.rate_hz', 'Hz', 'Mean firing rate per neuron (Hz), after `sim.transient`.', 'always', '<pop> rate'),
    Metric('populations.<pop>.cv_isi', '1', 'Mean coefficient of variation of the inter-spike intervals; null with too few spikes.', 'always', '<pop> ISI CV'),
    Metric('populations.<pop>.burst_fraction', '1', "Fraction of spikes in Poisson-surprise bursts (Legéndy & Salcman 1985; surprise ≥ 3, seed ISIs < ½ the neuron's mean ISI).", 'always', '<pop> burst fraction'),
    Metric('populations.<pop>.pause_fraction', '1', 'Fraction of time in pauses: ISIs longer than max(5 × mean ISI, 100 ms) (after Elias et al. 2007).', 'always', '<pop> pause fraction'),
    Metric('populations.<pop>.synchrony', '1', "Golomb's χ on 5 ms bins: 0 asynchronous, 1 identical trains.", 'always', '<pop> synchrony'),
    Metric('populations.<pop>.n_neurons', 'count', 'Neurons in the population.', 'always'),
    Metric('populations.<pop>.target_rate_hz', 'Hz', 'The cited healthy range [low, high] (Hz).', 'always'),
    Metric('lfp.<region>.band_power.<band>', '1', "Relative power of the region's LFP proxy in delta 1–4, theta 4–8, alpha 8–13, beta 13–30, gamma 30–80 Hz, each divided by the 1–100 Hz power (Welch, `readout.spectrum_segment`).", 'always', '<region> LFP <band> (rel.)'),
    Metric('lfp.<region>.power_4_10hz', '1', 'Relative 4–10 Hz power, the pallidal band of dystonia (Silberstein et al. 2003).', 'always', '<region> LFP 4-10 Hz (rel.)'),
    Metric('lfp.<region>.peak_hz', 'Hz', 'Frequency of the largest spectral peak in 2–80 Hz.', 'always', '<region> LFP peak'),
    Metric('coherence.<a>__<b>.<band>', '1', "Mean magnitude-squared coherence of two regions' LFP proxies per band (`gpi__ctx`, `gpi__dcn`, `stn__gpe`, `gpi__thal`).", 'always'),
    Metric('connectivity.coherence.<a>__<b>.<band>', '1', "Magnitude-squared coherence of the LFP proxies of every pair of regions (a before b in the order of `<region>`), multitaper (0.5 s epochs), mean over the band's bins (`circuitsim.analysis.connectivity`, library spectral_connectivity).", 'optional'),
    Metric('connectivity.granger.<a>__<b>.<band>', '1', "Pairwise spectral Granger causality from region a to region b (Geweke 1982; nonparametric, Dhamala et al. 2008), every ordered pair, mean over the band's bins; >= 0, biased upward in short runs.", 'optional'),
    Metric('connectivity.bold.correlation.<a>__<b>', '1', "Correlation of two regions' BOLD-like signals: each region's synaptic activity through the Balloon-Windkessel model (Friston et al. 2000), sampled every 0.1 s (`circuitsim.analysis.bold`); only in runs of 20 s or more after the transient.", 'optional'),
    Metric('channels.selectivity', '1', "During the command: max(0, (a − b)/(a + b)) of the rises a, b of the commanded and the other channel's thalamic rate over baseline; 1 = only the commanded channel, 0 = both equally; null at rest.", 'always', 'channel selectivity'),
    Metric('channels.commanded', 'text', 'The commanded channel (null at rest).', 'always'),
    Metric('channels.population', 'text', 'The population whose channel rates give the selectivity (`thal`).', 'command'),
    Metric('channels.baseline_rates_hz.<pop>.<channel>', 'Hz', 'Rate of each channelled population per channel before the command.', 'command'),
    Metric('channels.command_rates_hz.<pop>.<channel>', 'Hz', 'The same during the command.', 'command'),
    Metric('channels.rates_hz.<pop>.<channel>', 'Hz', 'At rest: rate of each channelled population per channel.', 'rest'),
    Metric('muscle.<muscle>.mean_force', 'N', 'Mean muscle force (N).', 'muscle'),
    Metric('muscle.<muscle>.emg_rms', 'V', 'Root-mean-square surface EMG (V).', 'muscle'),
    Metric('muscle.<muscle>.tremor_power', '1', 'Relative 3–8 Hz power of the rectified EMG (of 1–100 Hz).', 'muscle', '<muscle> tremor power (rel.)'),
    Metric('muscle.<muscle>.alpha_power', '1', 'Relative 8–12 Hz power of the rectified EMG.', 'muscle'),
    Metric('muscle.<muscle>.beta_power', '1', 'Relative 15–30 Hz power of the rectified EMG.', 'muscle'),
    Metric('muscle.<muscle>.active_fraction', '1', "Fraction of the time the muscle's EMG envelope is above the noise floor (0 = relaxed throughout).", 'muscle'),
    Metric('muscle.co_contraction_index', '1', "2·Σ min(a, b) / Σ (a + b) of the two rotators' EMG envelopes above noise (Falconer & Winter 1985), over the time when either muscle is active: 1 identical, 0 one silent; null when both are relaxed (active < 0.1 s).", 'muscle', 'co-contraction index'),
    Metric('muscle.head_angle_deg.mean', 'deg', 'Mean head yaw (degrees, positive = to the left).', 'muscle', 'mean head angle'),
    Metric('muscle.head_angle_deg.peak', 'deg', 'Largest absolute head yaw (degrees).', 'muscle', 'peak head angle'),
    Metric('muscle.head_angle_deg.frac_beyond', '1', 'Fraction of time beyond 5°.', 'muscle'),
    Metric('muscle.head_angle_deg.jerks_per_s', '1/s', 'Phasic head movements per second: peaks of the angular speed above 30°/s, at least 0.1 s apart (`readout.muscle.params.jerk_velocity_deg_s`, `jerk_min_interval_s`).', 'muscle', 'head jerks'),
    Metric('muscle.lfp_emg_coherence.<band>', '1', 'Coherence of the GPi LFP proxy with the rectified EMG of the more active muscle (theta, alpha).', 'muscle'),
    Metric('muscle.severity_score', '1', 'Dystonia severity in [0, 1]: the mean of the co-contraction, posture and tremor sub-scores (see the muscle page); an undefined co-contraction and the tremor of a relaxed agonist count 0.', 'muscle', 'severity score'),
    Metric('stim.<name>.target', 'text', 'DBS: the stimulated population.', 'dbs'),
    Metric('stim.<name>.n_pulses', 'count', 'Pulses delivered.', 'dbs'),
    Metric('stim.<name>.n_pulses_scheduled', 'count', 'DBS: pulses scheduled.', 'dbs'),
    Metric('stim.<name>.frequency_hz', 'Hz', 'DBS: pulse frequency.', 'dbs'),
    Metric('stim.<name>.amplitude_ma', 'mA', 'DBS: cathodic amplitude (mA).', 'dbs'),
    Metric('stim.<name>.pulse_width_us', 'µs', 'DBS: cathodic phase width (µs).', 'dbs'),
    Metric('stim.<name>.charge_per_phase_nc', 'nC', 'DBS: charge of the cathodic phase (nC).', 'dbs'),
    Metric('stim.<name>.net_charge_nc', 'nC', 'DBS: net charge per pulse (0 when balanced).', 'dbs'),
    Metric('stim.<name>.energy', 'J', 'DBS: energy delivered, Σ I²·R·width over phases and pulses (J).', 'dbs'),
    Metric('stim.<name>.energy_uj', 'µJ', 'The same in µJ.', 'dbs'),
    Metric('stim.<name>.mean_power_uw', 'µW', 'DBS: mean power while stimulating (µW).', 'dbs'),
    Metric('stim.<name>.p_transmit', '1', 'DBS: probability that an axon terminal transmits a pulse (axonal failure).', 'dbs'),
    Metric('stim.<name>.activated_fraction', '1', 'DBS: fraction of all selected elements activated, mean over pulses.', 'dbs'),
    Metric('stim.<name>.activated_fraction_<element>', '1', 'DBS: the same per element (somata, efferent or afferent axons).', 'dbs'),
    Metric('stim.<name>.expected_fraction_<element>', '1', 'DBS: the fraction the strength–duration law predicts.', 'dbs'),
    Metric('stim.<name>.n_elements_<element>', 'count', 'DBS: elements of that kind near the electrode.', 'dbs'),
    Metric('stim.<name>.locking_activated', '1', 'DBS: fraction of pulses followed within 2 ms by a spike of an activated target soma.', 'dbs'),
    Metric('stim.<name>.locking_not_activated', '1', 'DBS: the same for the other target somata.', 'dbs'),
    Metric('stim.<name>.target_rate_before_hz', 'Hz', "DBS: mean rate of the target somata the pulses do not excite, before stimulation (Hz; a microelectrode's view).", 'dbs'),
    Metric('stim.<name>.target_rate_during_hz', 'Hz', 'DBS: the same during stimulation, after a 0.1 s settling time (Hz).', 'dbs'),
    Metric('stim.<name>.target_rate_ratio', '1', 'DBS: during / before for those somata.', 'dbs'),
    Metric('stim.<name>.activated_rate_during_hz', 'Hz', 'DBS: rate of the directly excited target somata during stimulation (Hz).', 'dbs'),
    Metric('stim.<name>.efferent_rate_before_hz_<pop>', 'Hz', 'DBS: rate of a population the stimulated efferent axons reach, before stimulation (Hz).', 'dbs'),
    Metric('stim.<name>.efferent_rate_during_hz_<pop>', 'Hz', 'DBS: the same during stimulation (Hz).', 'dbs'),
    Metric('stim.<name>.efferent_rate_ratio_<pop>', '1', 'DBS: during / before for that population.', 'dbs'),
    Metric('stim.<name>.release_efficacy', '1', 'DBS: resources of the active stimulated synapses at the last pulse, relative to a rested synapse (Tsodyks-Markram depression; 1 without it).', 'dbs'),
    Metric('stim.<name>.release_efficacy_expected', '1', 'DBS: the Tsodyks-Markram steady state at the stimulation frequency.', 'dbs'),
    Metric('stim.<name>.fraction_time_on', '1', 'Closed-loop DBS: fraction of time stimulating.', 'closed_loop'),
    Metric('stim.<name>.mean_amplitude_ma', 'mA', 'Closed-loop DBS: mean amplitude.', 'closed_loop'),
    Metric('stim.<name>.mean_biomarker', '1', 'Closed-loop DBS: mean biomarker.', 'closed_loop'),
    Metric('stim.<name>.n_updates', 'count', 'Closed-loop DBS: controller updates.', 'closed_loop'),
    Metric('stim.<name>.switches_per_s', '1/s', 'Closed-loop DBS: on/off transitions per second of control.', 'closed_loop'),
    Metric('stim.<name>.reversals_per_s', '1/s', 'Closed-loop DBS: changes of direction of the amplitude per second (how often a graded law hunts).', 'closed_loop'),
    Metric('stim.<name>.controller.<series>', 'list', 'Closed-loop DBS: the controller trace, lists `t` (s), `level` (0-1 of the maximum) and `biomarker` (null before the first full window).', 'closed_loop'),
    Metric('stim.<name>.**', 'various', 'TMS: `n_test_pulses`, `protocol_span_s`, `rmt_mso`, `intensity_mso`, `activated_fraction.<site>.<element>`, `plasticity.<pathway or site.element>.*` (see the stimulation page).', 'tms'),
    Metric('tms.**', 'various', 'TMS measures where the protocol has them: `mep_amplitude_mv`, `mep_latency_ms`, `silent_period_ms`, `sici_ratio`, `icf_ratio`, `cbi_ratio`, `motor_threshold`, `mep_post_pre_ratio`, `volley_*`, and `per_muscle.<muscle>.*`.', 'tms'),
    Metric('run.seed', 'integer', 'The master seed.', 'always'),
    Metric('run.duration_s', 's', 'Simulated time (s).', 'always'),
    Metric('run.dt_s', 's', 'Time step (s).', 'always'),
    Metric('run.transient_s', 's', 'Start-up time left out of every measure (s).', 'always'),
    Metric('run.device', 'text', 'The Brian2 device the run used.', 'always'),
    Metric('run.threads', 'count', 'OpenMP threads.', 'always'),
    Metric('run.n_neurons', 'count', 'Neurons simulated.', 'always'),
    Metric('run.n_synapses', 'count', 'Synapses simulated.', 'always'),
    Metric('run.synapses_per_pathway.<pathway>', 'count', 'Synapses of each pathway.', 'always'),
    Metric('run.build_s', 's', 'Time spent compiling (0 when the build was reused).', 'always'),
    Metric('run.build_reused', 'bool', 'Whether the compiled program of this circuit structure was reused.', 'always'),
    Metric('run.sim_s', 's', 'Wall time of the simulation itself.', 'always'),
    Metric('run.sim_cpu_s', 's', 'Its CPU time.', 'always'),
    Metric('run.sim_loop_s', 's', "Brian2's own time in the simulation loop.", 'always'),
    Metric('run.sim_peak_mb', 'MB', 'Peak memory of the compiled program (MB).', 'always'),
    Metric('run.wall_s', 's', 'Wall time of the whole `simulate()` call.', 'always'),
    Metric('run.channels', 'text', 'The action channels.', 'always'),
    Metric('run.regions.<region>', 'text', 'The populations of each region.', 'always'),
    Metric('run.versions.<package>', 'text', 'Versions of circuitsim, Brian2, NumPy, SciPy and Python; `source`: a digest of the circuitsim code (a stored run resumes only with the same).', 'always'),
    Metric('run.condition', 'text', "The condition's name.", 'always'),
    Metric('run.task', 'text', 'The commanded channel (null at rest).', 'always'),
    Metric('run.run_id', 'text', 'Identifier written into every file of the run folder.', 'optional'),
    Metric('run.batch.size', 'count', 'Batched sweeps: copies in the batch.', 'batch'),
    Metric('run.batch.index', 'integer', "Batched sweeps: this copy's index.", 'batch'),
)


class DriftError(RuntimeError):
    """Metric keys and the catalogue disagree (a key nobody described, or a described key no run has)."""


@lru_cache(maxsize=None)
def _pattern(pattern: str, groups: bool = False) -> "re.Pattern[str]":
    """The pattern as a regular expression (``groups``: each placeholder a named group)."""
    out = re.escape(pattern).replace(r"\*\*", ".+").replace(r"\<", "<").replace(r"\>", ">")
    out = re.sub(r"<([^>]+)>", r"(?P<\1>[^.]+)" if groups else "[^.]+", out)
    return re.compile(out + "$")


def find(key: str) -> Optional[Metric]:
    """The catalogue entry whose pattern matches the dotted ``key`` (None: not a known metric)."""
    return next((m for m in METRICS if _pattern(m.pattern).match(key)), None)


def label(key: str) -> str:
    """The figure label of a concrete key (``populations.gpi.rate_hz`` -> ``GPi rate (Hz)``): the
    entry's label with its placeholders filled in, and the unit where it is a physical one."""
    metric = find(key)
    if metric is None:
        raise KeyError(f"{key!r} is no metric of the catalogue (circuitsim.catalogue.METRICS)")
    text = metric.label or key
    for name, value in _pattern(metric.pattern, groups=True).match(key).groupdict().items():
        text = text.replace(f"<{name}>", DISPLAY_NAMES.get(value, value))
    return text if metric.unit in PLAIN_UNITS else f"{text} ({metric.unit})"


def metric_keys(metrics: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted keys of every leaf of a metrics dict (lists and empty dicts are leaves)."""
    for key, value in metrics.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from metric_keys(value, path + ".")
        else:
            yield path


def check_metrics(runs: Sequence[Mapping[str, Any]], present: Iterable[str] = ("always",)) -> None:
    """Check runs' metrics against :data:`METRICS`.

    ``present`` names the kinds of keys these runs have (``always``, ``command``, ``muscle``,
    ``dbs`` ...). Raises :class:`DriftError` when a key matches no pattern of those kinds (or of
    kind ``optional``), or when a pattern of those kinds matched no key.
    """
    present = set(present)
    compiled = [(_pattern(m.pattern), m.pattern, m.when) for m in METRICS if m.when in present | {"optional"}]
    seen, undocumented = set(), set()
    for metrics in runs:
        for key in metric_keys(metrics):
            hit = next((p for rx, p, _ in compiled if rx.match(key)), None)
            if hit is None:
                undocumented.add(key)
            else:
                seen.add(hit)
    stale = [p for _, p, when in compiled if when in present and p not in seen]
    if undocumented or stale:
        raise DriftError(
            "metrics reference out of step with metrics.json: "
            + (f"undocumented keys {sorted(undocumented)[:20]} (describe them in circuitsim.catalogue.METRICS); "
               if undocumented else "")
            + (f"documented keys no run produced: {stale}" if stale else ""))


def unknown_measures(keys: Iterable[str]) -> List[str]:
    """The dotted keys among ``keys`` that name no metric of the catalogue."""
    return [k for k in keys if find(k) is None]
