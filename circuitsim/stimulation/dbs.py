"""Deep brain stimulation (registers the "dbs" stimulus kind).

What a pulse does (the mechanism; nothing here acts on outputs directly)
-----------------------------------------------------------------------
An electrode in the ``target`` population delivers pulses (:mod:`~circuitsim.stimulation.waveforms`:
frequency, amplitude, pulse width, monophasic cathodic or biphasic, start/stop, cycling). Three
kinds of neural element near the electrode can be excited (config ``elements``):

``somata``
    the target's cell bodies; an activated soma fires a spike at the pulse (its membrane is set
    above the spike cut-off unless it is refractory), which then acts through all its synapses.
``efferent_axons``
    the target's own axons (one per target neuron); an activated axon carries the spike
    orthodromically to every synapse of the pathways whose source is the target, with those
    pathways' weights and delays; with ``antidromic_efferent`` it also invades its soma after
    ``local_delay``.
``afferent_axons``
    the fibres of populations projecting into the target (one per source neuron with a synapse
    in the target, per pathway in ``afferent_pathways``); an activated fibre excites its synapses
    in the target after ``local_delay`` (orthodromic) and, with ``antidromic_afferent``, makes its
    source soma fire after the pathway's delay (antidromic, e.g. motor cortex through the
    hyperdirect ``ctx_e_stn`` fibres during STN DBS, Gradinaru et al. 2009, Science 324:354). The
    antidromically invaded soma's spike also reaches the soma's other targets (its collaterals).
    Limitation: it also reaches the stimulated synapses a second time, where in reality the
    orthodromic spike and refractoriness would block it.

Which elements one pulse activates follows the strength-duration relation of Weiss / Lapicque
(Ranck 1975, Brain Res 98:417)::

    I_th(pw) = I_rh * (1 + c / pw)

with chronaxie ``c`` and rheobase ``I_rh`` per element type (``excitability``; defaults in the
kind's config schema, :class:`~circuitsim.stimulation.dbs_schema.DbsConf`, which ``circuitsim --cfg job
stim=dbs_gpi`` prints with every other default), combined with the current-distance relation ``I_th ~ r**2``
(Stoney, Thompson & Asanuma 1968, J Neurophysiol 31:659; Ranck 1975). Elements sit uniformly in
a sphere around the electrode (model choice), each at a distance drawn once per run from the
run's seed, so element ``k`` has threshold ``I_rh * (1 + c/pw) * (r_k/R)**2`` where ``I_rh`` is
the rheobase of the farthest element (at the edge, ``r = R``). The expected activated fraction
is therefore ``min(1, (I / (I_rh * (1 + c/pw)))**1.5)``: it rises monotonically with amplitude
and pulse width, and axons (chronaxie ~30-200 us) are recruited before somata (~1-10 ms) at
clinical pulse widths (Ranck 1975; Holsheimer et al. 2000, Eur J Neurosci 12:4573; McIntyre et
al. 2004, J Neurophysiol 91:1457). The activated subset is fixed for a given amplitude; a
closed-loop controller (:mod:`~circuitsim.stimulation.closed_loop`) changing the amplitude
changes it.

A voltage-controlled amplitude (``3*volt``) is converted to current through the electrode
impedance ``impedance`` (I = V / R; resistive load, model choice: clinical DBS impedances are of
the order of 1 kOhm; the electrode-tissue capacitance discussed by Butson & McIntyre 2005, Clin
Neurophysiol 116:2490, is neglected). The same impedance gives the delivered energy, the sum
over pulses and phases of I**2 * R * width.

Axonal failure at high frequency (``axonal_failure``, off by default): each axonal terminal
transmits a pulse with probability ``1 / (1 + (f / f_half)**exponent)``, a static stand-in
(model choice) for the frequency-dependent failures of Rosenbaum et al. 2014.

Short-term depression of the stimulated synapses (``synaptic_depression``, on by default for the
afferent fibres' synapses): :mod:`~circuitsim.stimulation.dbs_synapses`. What a microelectrode
would record (target and efferent rates, release efficacy): :mod:`~circuitsim.stimulation.dbs_responses`.

Metrics (``metrics.stim.<name>``)
---------------------------------
``activated_fraction`` (over all selected elements, averaged over delivered pulses, i.e. those
with an amplitude above 0; 0 without pulses), ``activated_fraction_<element>``,
``expected_fraction_<element>``, ``n_elements_<element>``, ``charge_per_phase_nc`` (programmed
cathodic phase, nC), ``net_charge_nc``, ``energy`` (J, delivered in the run), ``energy_uj``,
``mean_power_uw``, ``n_pulses`` (delivered, amplitude > 0), ``n_pulses_scheduled``,
``frequency_hz``, ``amplitude_ma``, ``pulse_width_us``, ``p_transmit``, ``locking_activated`` / ``locking_not_activated`` (fraction of pulses followed
within ``LOCK_WINDOW`` by a spike of an activated / a non-activated target soma), and for closed
loop ``fraction_time_on``, ``mean_amplitude_ma``, ``mean_biomarker``, ``n_updates``.

Pulses reach the network through a pulse-generator group and per-synapse data (``active``,
weights, delays), so changing a DBS value changes data, not generated code
(:func:`dbs_structure` lists what does change code).
"""

from __future__ import annotations

from circuitsim.plugins import register
from circuitsim.stimulation.dbs_build import (FORCED_SPIKE_OVERSHOOT, PULSE_MODEL, PULSE_RESET,  # noqa: F401
                                              PULSE_THRESHOLD, build_dbs, dbs_structure, pulse_generator_values)
from circuitsim.stimulation.dbs_elements import (ELEMENTS, Elements, Excitability, draw_elements,  # noqa: F401
                                                 element_thresholds, expected_fraction, onsets_from_params,
                                                 shape_from_params, threshold_scale, transmission_probability)
from circuitsim.stimulation.dbs_measure import LOCK_WINDOW, measure_dbs, pulse_amplitudes  # noqa: F401
from circuitsim.stimulation.dbs_plot import PSTH_BIN, PSTH_WINDOW, plot_dbs  # noqa: F401
from circuitsim.stimulation.dbs_schema import DbsConf
from circuitsim.stimulation.dbs_validate import KEYS, SHAPES, validate_dbs  # noqa: F401

register("dbs", schema=DbsConf, validator=validate_dbs, builder=build_dbs, measure=measure_dbs, plot=plot_dbs, structure=dbs_structure)
