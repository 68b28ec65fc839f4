"""Neuron model templates as Brian2 equations with units.

All populations share one adaptive exponential integrate-and-fire template (Brette & Gerstner
2005, J Neurophysiol 94:3637) with per-neuron parameters, so the whole circuit is one
``NeuronGroup`` and every parameter can change without new code. Synapses are conductances of
three receptor types; NMDA has the voltage-dependent Mg2+ block of Jahr & Stevens 1990
(J Neurosci 10:3178) at [Mg2+] = 1 mM.
"""

from brian2 import Equations

#: Per-neuron parameters of the AdEx template (names match circuitsim.spec.NEURON_PARAMS)
#: plus the per-neuron background input.
ADEX_EQUATIONS = Equations(
    """
    dv/dt = (gL*(EL - v) + gL*DeltaT*exp((v - VT)/DeltaT) - w + I_bias + I_exc + I_inh)/C : volt (unless refractory)
    dw/dt = (a*(v - EL) - w)/tau_w : amp
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
    nu_bg : hertz
    w_bg_ampa : siemens
    w_bg_nmda : siemens
    w_bg_gaba : siemens
    pop : integer (constant)
    channel : integer (constant)
    """
)

ADEX_THRESHOLD = "v > V_peak"
ADEX_RESET = "v = V_reset; w += b"
ADEX_REFRACTORY = "t_ref"

#: Background input: Poisson spike counts per time step, one draw per neuron, delivered to the
#: receptor(s) with a non-zero background weight.
BACKGROUND_CODE = """
k_bg = poisson(nu_bg*dt)
g_ampa += w_bg_ampa*k_bg
g_nmda += w_bg_nmda*k_bg
g_gaba += w_bg_gaba*k_bg
"""
