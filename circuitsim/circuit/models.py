"""Neuron model templates as Brian2 equations with units.

All populations share one adaptive exponential integrate-and-fire template (Brette & Gerstner
2005, J Neurophysiol 94:3637) with per-neuron parameters, so the whole circuit is one
``NeuronGroup`` and every parameter can change without new code. Synapses are conductances of
three receptor types; NMDA has the voltage-dependent Mg2+ block of Jahr & Stevens 1990
(J Neurosci 10:3178) at [Mg2+] = 1 mM.

A population can also have a low-threshold Ca2+ (T-type) current that turns release from
hyperpolarisation into a rebound burst, in the integrate-and-fire-or-burst form of Smith et al.
2000 (J Neurophysiol 83:588): ``I_T = g_T * h_T * [v > V_h] * (E_T - v)``, whose inactivation
``h_T`` recovers towards 1 with ``tau_h_plus`` while ``v <= V_h`` and decays with ``tau_h_minus``
while ``v > V_h``. With ``g_T = 0`` (the default of every population) it is inert, and a neuron
that never falls below ``V_h`` (e.g. a pacemaker firing from a reset above it) never bursts.

The LFP proxy (Mazzoni et al. 2015) sums the magnitudes of neurons' synaptic currents, and it
needs them averaged over a readout bin, not sampled at its edge: a current that jumps at every
DBS pulse (130 Hz, events shorter than the 1 ms bin) point-sampled at 1 kHz folds its pulse
harmonics into the 1-100 Hz band (aliasing). So the readout integrates the magnitudes into
charges, ``dQ_exc/dt = sum_i |I_exc,i|`` and ``dQ_inh/dt = sum_i |I_inh,i|`` over each
population's recorded neurons (:data:`LFP_CHARGES`; in the builder's ``lfp_sums`` group, so only
recorded neurons pay for it); with the forward-Euler update each step adds exactly ``dt`` times
the magnitudes the neurons' step used, and the builder turns charge differences over a bin into
the bin's mean magnitude (a box-car filter exact to the time step; see
:func:`circuitsim.circuit.builder.lfp_currents`). The charges feed nothing back, so spike trains
do not change.

Noise comes from :data:`cs_poisson`, a counter-based Poisson generator: the count of a neuron in
a time step is a pure function of (seed, stream, the neuron's index within its circuit, time
step). So a neuron's input does not depend on how many other neurons are simulated, in which
order, on how many threads, or whether other circuits share the network (batched sweeps), and a
seed is data (a per-neuron integer), not compiled code. The circuit draws the counts in the
split form of :data:`NOISE_CODE` (a vectorised loop settles nearly every count), with the same
counts as ``cs_poisson``.
"""

import re
from typing import Any, Sequence

from brian2 import Equations

# the noise's random-number functions live in circuitsim.circuit.rng (re-exported here)
from circuitsim.circuit.rng import (FUNCTIONS, _COUNT01_CPP, _FIX_CPP, _POISSON_CPP, _UNIFORM_CPP,  # noqa: F401
                                    _numpy_cs_count01, _numpy_cs_poisson, _numpy_cs_poisson_fix,
                                    _numpy_cs_uniform, cs_count01, cs_poisson, cs_poisson_fix, cs_uniform)

#: Per-neuron parameters of the AdEx template and its T-type current (names match
#: circuitsim.spec.NEURON_PARAMS)
#: plus the per-neuron background input and the keys of the neuron's random stream. A stimulus kind
#: that feeds every neuron (the motor command) adds its own variables (circuitsim.plugins.NeuronCode).
_ADEX_TEXT = """
    dv/dt = (gL*(EL - v) + gL*DeltaT*exp((v - VT)/DeltaT) - w + I_bias + I_exc + I_inh + I_T)/C : volt (unless refractory)
    dw/dt = (a*(v - EL) - w)/tau_w : amp
    I_T = g_T*h_T*int(v > V_h)*(E_T - v) : amp
    dh_T/dt = int(v <= V_h)*(1 - h_T)/tau_h_plus - int(v > V_h)*h_T/tau_h_minus : 1
    dg_ampa/dt = -g_ampa/tau_ampa : siemens
    dg_nmda/dt = -g_nmda/tau_nmda : siemens
    dg_gaba/dt = -g_gaba/tau_gaba : siemens
    I_exc = g_ampa*(E_ampa - v) + g_nmda*(E_nmda - v)/(1 + exp(-0.062*v/mV)/3.57) : amp
    I_inh = g_gaba*(E_gaba - v) : amp
    C : farad (constant)
    gL : siemens (constant)
    EL : volt (constant)
    VT : volt (constant)
    DeltaT : volt (constant)
    V_reset : volt (constant)
    V_peak : volt (constant)
    a : siemens (constant)
    b : amp (constant)
    tau_w : second (constant)
    t_ref : second (constant)
    I_bias : amp
    g_T : siemens (constant)
    E_T : volt (constant)
    V_h : volt (constant)
    tau_h_plus : second (constant)
    tau_h_minus : second (constant)
    nu_bg : hertz
    w_bg_ampa : siemens
    w_bg_nmda : siemens
    w_bg_gaba : siemens
    rng_seed : integer (constant)
    rng_index : integer (constant)
    k_bg : 1
    pop : integer (constant)
    channel : integer (constant)
    """
_NMDA_TERM = " + g_nmda*(E_nmda - v)/(1 + exp(-0.062*v/mV)/3.57)"
_NMDA_DECAY = "dg_nmda/dt = -g_nmda/tau_nmda : siemens"


def _t_lines(text: str) -> tuple:
    """The template's T-current lines: ``I_T = ... : amp`` and ``dh_T/dt = ... : 1``."""
    i_t = re.search(r"^\s*I_T = (.*) : amp\s*$", text, re.M)
    h_t = re.search(r"^\s*dh_T/dt = (.*) : 1\s*$", text, re.M)
    assert i_t and h_t, "the template's T-current lines changed"
    return i_t, h_t


#: Per-neuron values that every neuron's step reads (the state update, the background's draw and
#: its addition) and that are the same in all neurons of a population: with ``table=True``
#: (:func:`adex_equations`) they are kept once per population, in the builder's
#: ``neuron_params`` group, and each neuron reads them through its row ``prow`` (a Brian2
#: reference with an index, as a linked variable). The same values enter the same arithmetic, so
#: every spike is the same; a neuron's state streamed through memory in every step shrinks from
#: about 200 to about 90 bytes, which keeps large circuits (scale 60: 100,000 neurons) in the
#: CPU caches. ``V_peak``, ``V_reset`` and ``b`` (threshold and reset; ``V_peak`` is read through
#: ``V_peak_post`` by stimuli's synapses, which Brian2 cannot chain to a second index) and the
#: T current's parameters (read only in the populations that have one) stay per neuron.
#: The name of that table's group (the device marks the loops reading it, see
#: :func:`circuitsim.brian_adapter.build_program`).
PARAM_TABLE = "neuron_params"
TABLE_PARAMS = ("C", "gL", "EL", "VT", "DeltaT", "a", "tau_w", "t_ref", "I_bias",
                "nu_bg", "w_bg_ampa", "w_bg_nmda", "w_bg_gaba")


def adex_equations(nmda: bool = True, t_inline: bool = True, variables: str = "",
                   table: bool = False) -> Equations:
    """The template; ``nmda=False`` leaves out the NMDA conductance's decay and Mg2+-blocked
    current (for a circuit where nothing opens NMDA receptors: ``g_nmda`` stays 0, so the spikes
    are the same, and the neuron step saves an exp() per neuron); ``t_inline=False`` makes ``I_T``
    and ``h_T`` stored variables that :func:`t_current_code`, run on the populations that have a
    T current only, updates before the neurons' step (see
    :func:`circuitsim.circuit.builder.mechanisms`). ``variables``: equation lines a stimulus kind
    adds (its :class:`~circuitsim.plugins.NeuronCode`), declared after the background input's.
    ``table=True``: the :data:`TABLE_PARAMS` are linked variables (the builder points them at its
    per-population table through the neuron's row ``prow``)."""
    text = _ADEX_TEXT
    if variables:
        anchor = "    w_bg_gaba : siemens\n"
        assert anchor in text, "the template's background lines changed"
        text = text.replace(anchor, anchor + "".join(f"    {line.strip()}\n" for line in variables.split("\n")
                                                     if line.strip()))
    if not nmda:
        assert _NMDA_TERM in text and _NMDA_DECAY in text
        text = text.replace(_NMDA_TERM, "").replace(_NMDA_DECAY, "g_nmda : siemens")
    if not t_inline:
        i_t, h_t = _t_lines(text)
        text = text.replace(i_t.group(0), "\n    I_T : amp").replace(h_t.group(0), "\n    h_T : 1")
    if table:
        for name in TABLE_PARAMS:
            line = re.search(rf"^    {name} : (\w+)( \(constant\))?$", text, re.M)
            assert line, f"the template's line of {name} changed"
            text = text.replace(line.group(0), f"    {name} : {line.group(1)} (linked)")
        text += "    prow : integer (constant)\n"
    return Equations(text)


def t_current_code() -> str:
    """One forward-Euler step of the T current, as the template's own lines: ``I_T`` from the
    step's ``v`` and ``h_T``, then ``h_T`` (the order the neurons' state update uses)."""
    i_t, h_t = _t_lines(_ADEX_TEXT)
    return f"I_T = {i_t.group(1)}\nh_T += dt*({h_t.group(1)})"


ADEX_EQUATIONS = adex_equations()

#: Recorded current -> the variable of the readout's `lfp_sums` group integrating its magnitudes (since t = 0).
LFP_CHARGES = {"I_exc": "Q_exc", "I_inh": "Q_inh"}

#: The neuron group's size is padded to a multiple of this many neurons (unconnected, silent).
#: Numerical choice: with every circuit (and every copy of a batched sweep) a whole number of
#: 64-neuron blocks, gcc's vectorised loops (8 doubles per AVX-512 register) never leave a
#: neuron to a scalar remainder loop, so each neuron's arithmetic is the same whether it runs
#: alone or in a batch (bitwise-identical spike trains).
NEURON_BLOCK = 64

ADEX_THRESHOLD = "v > V_peak"
ADEX_RESET = "v = V_reset; w += b"
ADEX_REFRACTORY = "t_ref"

#: Random streams of :data:`cs_poisson` (any fixed, distinct integers; a stimulus kind's own
#: stream, as the motor command's, takes a number of its own here).
STREAM_BACKGROUND = 0
STREAM_COMMAND = 1

#: The background counts of this time step, one per neuron, in three steps so that the frequent
#: work vectorises: (1) a loop of integer and floating-point arithmetic only (gcc vectorises it)
#: draws each stream's uniform number and settles counts of 0 and 1 for means up to 1 (nearly
#: every draw: background means are 0.01-0.2 per step), marking the rest -1; (2) a light loop
#: computes the marked counts in full (``cs_poisson_fix``: the same inversion as ``cs_poisson``, so
#: the counts are those of ``cs_poisson``); (3) the counts are added to the conductances
#: (arithmetic only, vectorised). A stimulus kind's stream (the motor command's) adds its
#: statements to each step (:class:`circuitsim.plugins.NeuronCode`).
NOISE_CODE = f"""
k_bg = cs_count01(nu_bg*dt, cs_uniform(rng_seed, {STREAM_BACKGROUND}, rng_index, t_in_timesteps))
"""
FIX_CODE = f"""
k_bg = cs_poisson_fix(k_bg, nu_bg*dt, rng_seed, {STREAM_BACKGROUND}, rng_index, t_in_timesteps)
"""

#: Background input: Poisson counts per time step delivered to the receptor(s) with a non-zero
#: background weight.
BACKGROUND_CODE = """
g_ampa += w_bg_ampa*k_bg
g_nmda += w_bg_nmda*k_bg
g_gaba += w_bg_gaba*k_bg
"""


def noise_code(nmda: bool = True, codes: Sequence[Any] = ()) -> tuple:
    """(noise, fix, background) code: :data:`NOISE_CODE`, :data:`FIX_CODE` and
    :data:`BACKGROUND_CODE`, less the NMDA line where nothing opens NMDA receptors (the counts
    that are left are the same, so are the spikes), each followed by the statements of the
    stimulus kinds' ``codes`` (:class:`circuitsim.plugins.NeuronCode`: ``draw``, ``fix``, ``inputs``)."""
    def keep(code: str) -> str:
        return "\n".join(line for line in code.split("\n") if nmda or "nmda" not in line)

    def add(code: str, role: str) -> str:
        return code + "".join(getattr(c, role).strip() + "\n" for c in codes if getattr(c, role).strip())
    return add(keep(NOISE_CODE), "draw"), add(keep(FIX_CODE), "fix"), add(keep(BACKGROUND_CODE), "inputs")
