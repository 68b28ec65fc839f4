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
harmonics into the 1-100 Hz band (aliasing). So the template also integrates the magnitudes into
charges, ``dQ_exc/dt = |I_exc|`` and ``dQ_inh/dt = |I_inh|`` (:data:`LFP_CHARGES`); with the
forward-Euler update each step adds exactly ``dt`` times the magnitude the step used, and the
builder turns charge differences over a bin into the bin's mean magnitude (a box-car filter
exact to the time step; see :func:`circuitsim.circuit.builder.lfp_currents`). The charges feed
nothing back, so spike trains do not change.

Noise comes from :data:`cs_poisson`, a counter-based Poisson generator: the count of a neuron in
a time step is a pure function of (seed, stream, the neuron's index within its circuit, time
step). So a neuron's input does not depend on how many other neurons are simulated, in which
order, on how many threads, or whether other circuits share the network (batched sweeps), and a
seed is data (a per-neuron integer), not compiled code. The circuit draws the counts in the
split form of :data:`NOISE_CODE` (a vectorised loop settles nearly every count), with the same
counts as ``cs_poisson``.
"""

import numpy as np
from brian2 import Equations, Function

#: Per-neuron parameters of the AdEx template and its T-type current (names match
#: circuitsim.spec.NEURON_PARAMS)
#: plus the per-neuron background input, the per-neuron motor-command slot (rate, weight and
#: time window; see circuitsim.stimulation.command), the keys of the neuron's random stream and
#: the charges of the LFP readout (the integrals of I_exc and I_inh since t = 0).
ADEX_EQUATIONS = Equations(
    """
    dv/dt = (gL*(EL - v) + gL*DeltaT*exp((v - VT)/DeltaT) - w + I_bias + I_exc + I_inh + I_T)/C : volt (unless refractory)
    dw/dt = (a*(v - EL) - w)/tau_w : amp
    I_T = g_T*h_T*int(v > V_h)*(E_T - v) : amp
    dh_T/dt = int(v <= V_h)*(1 - h_T)/tau_h_plus - int(v > V_h)*h_T/tau_h_minus : 1
    dg_ampa/dt = -g_ampa/tau_ampa : siemens
    dg_nmda/dt = -g_nmda/tau_nmda : siemens
    dg_gaba/dt = -g_gaba/tau_gaba : siemens
    I_exc = g_ampa*(E_ampa - v) + g_nmda*(E_nmda - v)/(1 + exp(-0.062*v/mV)/3.57) : amp
    I_inh = g_gaba*(E_gaba - v) : amp
    dQ_exc/dt = abs(I_exc) : coulomb
    dQ_inh/dt = abs(I_inh) : coulomb
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
    nu_cmd : hertz
    w_cmd : siemens
    t_cmd_on : second
    t_cmd_off : second
    rng_seed : integer (constant)
    rng_index : integer (constant)
    k_bg : 1
    k_cmd : 1
    pop : integer (constant)
    channel : integer (constant)
    """
)

#: Recorded current -> the state variable integrating its magnitude (since t = 0), for the LFP proxy.
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

#: Random streams of :data:`cs_poisson` (any fixed, distinct integers).
STREAM_BACKGROUND = 0
STREAM_COMMAND = 1

#: The background and motor-command counts of this time step, one per neuron and stream, in
#: three steps so that the frequent work vectorises: (1) a loop of integer and floating-point
#: arithmetic only (gcc vectorises it) draws each stream's uniform number and settles counts of
#: 0 and 1 for means up to 1 (nearly every draw: background means are 0.01-0.2 per step), marking
#: the rest -1; (2) a light loop computes the marked counts in full (``cs_poisson_fix``: the
#: same inversion as ``cs_poisson``, so the counts are those of ``cs_poisson``); (3) the counts are
#: added to the conductances (arithmetic only, vectorised). The command stream's mean is zero
#: outside ``t_cmd_on <= t < t_cmd_off`` (count 0, no draw needed).
_CMD_MEAN = "nu_cmd*dt*int(t >= t_cmd_on)*int(t < t_cmd_off)"
NOISE_CODE = f"""
k_bg = cs_count01(nu_bg*dt, cs_uniform(rng_seed, {STREAM_BACKGROUND}, rng_index, t_in_timesteps))
k_cmd = cs_count01({_CMD_MEAN}, cs_uniform(rng_seed, {STREAM_COMMAND}, rng_index, t_in_timesteps))
"""
FIX_CODE = f"""
k_bg = cs_poisson_fix(k_bg, nu_bg*dt, rng_seed, {STREAM_BACKGROUND}, rng_index, t_in_timesteps)
k_cmd = cs_poisson_fix(k_cmd, {_CMD_MEAN}, rng_seed, {STREAM_COMMAND}, rng_index, t_in_timesteps)
"""

#: Background input: Poisson counts per time step delivered to the receptor(s) with a non-zero
#: background weight; then the motor command's extra Poisson input to AMPA.
BACKGROUND_CODE = """
g_ampa += w_bg_ampa*k_bg
g_nmda += w_bg_nmda*k_bg
g_gaba += w_bg_gaba*k_bg
g_ampa += w_cmd*k_cmd
"""

# ------------------------------------------------------------------ counter-based Poisson counts
#
# u = SplitMix64 finaliser (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number
# generators", OOPSLA) of a per-neuron key (seed, stream and index, spread by odd multipliers)
# combined with the mixed time step (and the chunk number), mapped to (0, 1) with 53 bits; the
# count is then drawn by inversion of the Poisson distribution (Devroye 1986, ch. X.3) in chunks
# of mean at most _CHUNK, summed (a sum of independent Poisson counts is Poisson). For a mean
# m <= 1 the partial sums of exp(-m)'s alternating series bound P(0) from below and above, which
# settles counts of 0 and 1 without computing exp() (nearly all draws: the background means are
# 0.1-0.2 per step). Every branch is a pure function of the arguments, so a draw is reproducible
# wherever the neuron is simulated.
_CHUNK = 8.0        # numerical choice: exp(-8) is far from underflow; inversion takes ~8 steps
_MAX_K = 200        # guard of the inversion loop (P(k > 200 | mean 8) is below 1e-150)
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
_K_SEED = 0xD1B54A32D192ED03     # odd multipliers spreading seed and stream over 64 bits
_K_STREAM = 0xAEF17502108EF2D9

_HELPERS_CPP = f"""
#ifndef CIRCUITSIM_CS_RNG
#define CIRCUITSIM_CS_RNG
#include <stdint.h>
#include <math.h>
static inline uint64_t _cs_mix(uint64_t z)
{{
    z += {_GOLDEN:#x}ULL;
    z = (z ^ (z >> 30)) * {_M1:#x}ULL;
    z = (z ^ (z >> 27)) * {_M2:#x}ULL;
    return z ^ (z >> 31);
}}
static inline uint64_t _cs_base(int64_t seed, int64_t stream, int64_t index, int64_t step)
{{
    const uint64_t key = (uint64_t)seed * {_K_SEED:#x}ULL ^ (uint64_t)stream * {_K_STREAM:#x}ULL ^ (uint64_t)index;
    return _cs_mix(key ^ _cs_mix((uint64_t)step));
}}
static inline double _cs_u53(uint64_t h)
{{
    return ((double)(h >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}}
#endif
"""

_UNIFORM_CPP = _HELPERS_CPP + """
static inline double cs_uniform(int64_t seed, int64_t stream, int64_t index, int64_t step)
{
    return _cs_u53(_cs_base(seed, stream, index, step));
}
"""

_CHUNKS_CPP = _HELPERS_CPP + f"""
#ifndef CIRCUITSIM_CS_CHUNKS
#define CIRCUITSIM_CS_CHUNKS
static int32_t _cs_poisson_chunks(double lam, double u, int64_t seed, int64_t stream, int64_t index, int64_t step)
{{
    int32_t total = 0;
    uint64_t chunk = 0, base = 0;
    while (lam > 0.0)
    {{
        const double part = lam < {_CHUNK!r} ? lam : {_CHUNK!r};
        lam -= part;
        if (chunk > 0)
        {{
            if (chunk == 1)
                base = _cs_base(seed, stream, index, step);
            u = _cs_u53(_cs_mix(base + chunk));
        }}
        chunk++;
        if (part <= 1.0)
        {{
            // bounds of P(0) = exp(-part) from its alternating series (valid for part <= 1)
            const double low0 = 1.0 - part * (1.0 - part * (0.5 - part * (1.0 / 6.0)));
            if (u <= low0)
                continue;
            const double high0 = 1.0 - part * (1.0 - 0.5 * part);
            if (u > high0 && u <= low0 * (1.0 + part))
            {{
                total += 1;
                continue;
            }}
        }}
        double p = exp(-part);
        double F = p;
        int32_t k = 0;
        while (u > F && k < {_MAX_K})
        {{
            k++;
            p *= part / k;
            F += p;
        }}
        total += k;
    }}
    return total;
}}
#endif
"""

_POISSON_CPP = _CHUNKS_CPP + f"""
static inline int32_t cs_poisson(double lam, double u, int64_t seed, int64_t stream, int64_t index, int64_t step)
{{
    if (!(lam > 0.0))
        return 0;
    if (lam <= 1.0)
    {{
        // the counts 0 and 1 of _cs_poisson_chunks's first chunk (nearly every draw), decided
        // without a branch on u: a count of 0 or 1 drawn at random no longer mispredicts
        const double low0 = 1.0 - lam * (1.0 - lam * (0.5 - lam * (1.0 / 6.0)));
        const double high0 = 1.0 - lam * (1.0 - 0.5 * lam);
        const int32_t zero = u <= low0;
        const int32_t one = (u > high0) & (u <= low0 * (1.0 + lam));
        if (__builtin_expect(zero | one, 1))
            return one;
    }}
    return _cs_poisson_chunks(lam, u, seed, stream, index, step);
}}
"""


#: counts 0 and 1 settled by the series bounds of P(0) (as in cs_poisson, for means up to 1)
#: without a branch; -1 where they do not settle the count (or the mean is above 1)
_COUNT01_CPP = """
static inline double cs_count01(double lam, double u)
{
    const double low0 = 1.0 - lam * (1.0 - lam * (0.5 - lam * (1.0 / 6.0)));
    const double high0 = 1.0 - lam * (1.0 - 0.5 * lam);
    const double one = (u > high0 && u <= low0 * (1.0 + lam)) ? 1.0 : -1.0;
    const double small = u <= low0 ? 0.0 : one;
    return lam <= 0.0 ? 0.0 : (lam <= 1.0 ? small : -1.0);
}
"""

_FIX_CPP = _CHUNKS_CPP + """
static inline double cs_poisson_fix(double k, double lam, int64_t seed, int64_t stream, int64_t index, int64_t step)
{
    if (__builtin_expect(k >= 0.0, 1))
        return k;
    return (double)_cs_poisson_chunks(lam, _cs_u53(_cs_base(seed, stream, index, step)), seed, stream, index, step);
}
"""


def _helpers_cython(tag: str) -> str:
    return f"""
from libc.math cimport exp as _cs_exp_{tag}
cdef inline unsigned long long _cs_mix_{tag}(unsigned long long z) nogil:
    z += {_GOLDEN}ULL
    z = (z ^ (z >> 30)) * {_M1}ULL
    z = (z ^ (z >> 27)) * {_M2}ULL
    return z ^ (z >> 31)

cdef inline unsigned long long _cs_base_{tag}(long long seed, long long stream, long long index, long long step) nogil:
    cdef unsigned long long key = (<unsigned long long>seed) * {_K_SEED}ULL ^ (<unsigned long long>stream) * {_K_STREAM}ULL ^ <unsigned long long>index
    return _cs_mix_{tag}(key ^ _cs_mix_{tag}(<unsigned long long>step))

cdef inline double _cs_u53_{tag}(unsigned long long h) nogil:
    return (<double>(h >> 11) + 0.5) * (1.0 / 9007199254740992.0)
"""


_UNIFORM_CYTHON = _helpers_cython("u") + """
cdef inline double cs_uniform(long long seed, long long stream, long long index, long long step) nogil:
    return _cs_u53_u(_cs_base_u(seed, stream, index, step))
"""

_POISSON_CYTHON = _helpers_cython("p") + f"""
cdef inline int cs_poisson(double lam, double u, long long seed, long long stream, long long index, long long step) nogil:
    cdef unsigned long long base = 0, chunk = 0
    cdef double part, p, F, low0, high0
    cdef int k, total = 0
    if not (lam > 0.0):
        return 0
    while lam > 0.0:
        part = lam if lam < {_CHUNK!r} else {_CHUNK!r}
        lam -= part
        if chunk > 0:
            if chunk == 1:
                base = _cs_base_p(seed, stream, index, step)
            u = _cs_u53_p(_cs_mix_p(base + chunk))
        chunk += 1
        if part <= 1.0:
            low0 = 1.0 - part * (1.0 - part * (0.5 - part * (1.0 / 6.0)))
            if u <= low0:
                continue
            high0 = 1.0 - part * (1.0 - 0.5 * part)
            if u > high0 and u <= low0 * (1.0 + part):
                total += 1
                continue
        p = _cs_exp_p(-part)
        F = p
        k = 0
        while u > F and k < {_MAX_K}:
            k += 1
            p *= part / k
            F += p
        total += k
    return total
"""


_COUNT01_CYTHON = """
cdef inline double cs_count01(double lam, double u) nogil:
    cdef double low0 = 1.0 - lam * (1.0 - lam * (0.5 - lam * (1.0 / 6.0)))
    cdef double high0 = 1.0 - lam * (1.0 - 0.5 * lam)
    if lam <= 0.0:
        return 0.0
    if lam > 1.0:
        return -1.0
    if u <= low0:
        return 0.0
    if u > high0 and u <= low0 * (1.0 + lam):
        return 1.0
    return -1.0
"""

# cs_poisson's Cython code under other names (a code object may use both), and the fix-up
_FIX_CYTHON = (_POISSON_CYTHON.replace("cs_poisson(", "_cs_poisson_f(")
               .replace("_cs_mix_p", "_cs_mix_f").replace("_cs_base_p", "_cs_base_f")
               .replace("_cs_u53_p", "_cs_u53_f").replace("_cs_exp_p", "_cs_exp_f")) + """
cdef inline double cs_poisson_fix(double k, double lam, long long seed, long long stream, long long index, long long step) nogil:
    if k >= 0.0:
        return k
    return <double>_cs_poisson_f(lam, _cs_u53_f(_cs_base_f(seed, stream, index, step)), seed, stream, index, step)
"""


def _mix(z: np.ndarray) -> np.ndarray:
    z = z + np.uint64(_GOLDEN)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_M1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
    return z ^ (z >> np.uint64(31))


def _numpy_base(seed, stream, index, step) -> np.ndarray:
    u64 = lambda x: np.asarray(x).astype(np.int64).view(np.uint64)  # noqa: E731  (two's complement, as in C)
    with np.errstate(over="ignore"):
        key = u64(seed) * np.uint64(_K_SEED) ^ u64(stream) * np.uint64(_K_STREAM) ^ u64(index)
        return _mix(key ^ _mix(u64(step)))


def _u53(h: np.ndarray) -> np.ndarray:
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def _numpy_cs_uniform(seed, stream, index, step):
    """NumPy version of the generated-code ``cs_uniform`` (identical values)."""
    seed, stream, index, step = np.broadcast_arrays(*(np.asarray(x).astype(np.int64) for x in (seed, stream, index, step)))
    return _u53(_numpy_base(seed, stream, index, step))


def _numpy_cs_poisson(lam, u, seed, stream, index, step):
    """NumPy version of the generated-code ``cs_poisson`` (exp() may differ in the last bit)."""
    lam, u, seed, stream, index, step = np.broadcast_arrays(
        np.asarray(lam, dtype=np.float64), np.asarray(u, dtype=np.float64),
        *(np.asarray(x).astype(np.int64) for x in (seed, stream, index, step)))
    lam, u = lam.copy(), u.copy()
    total = np.zeros(lam.shape, dtype=np.int32)
    chunk, base = 0, None
    with np.errstate(over="ignore"):
        while np.any(lam > 0):
            active = lam > 0
            part = np.where(active, np.minimum(lam, _CHUNK), 0.0)
            lam = lam - part
            if chunk > 0:
                base = _numpy_base(seed, stream, index, step) if base is None else base
                u = _u53(_mix(base + np.uint64(chunk)))
            chunk += 1
            small = part <= 1.0
            low0 = 1.0 - part * (1.0 - part * (0.5 - part * (1.0 / 6.0)))
            high0 = 1.0 - part * (1.0 - 0.5 * part)
            one = active & small & (u > low0) & (u > high0) & (u <= low0 * (1.0 + part))
            total += one.astype(np.int32)
            active &= ~(small & (u <= low0)) & ~one
            p = np.exp(-part)
            F = p.copy()
            k = np.zeros(lam.shape, dtype=np.int32)
            todo = active & (u > F)
            while np.any(todo):
                k[todo] += 1
                p = np.where(todo, p * part / np.maximum(k, 1), p)
                F = np.where(todo, F + p, F)
                todo = todo & (u > F) & (k < _MAX_K)
            total += np.where(active, k, 0).astype(np.int32)
    return total


def _numpy_cs_count01(lam, u):
    """NumPy version of the generated-code ``cs_count01`` (identical values)."""
    lam, u = np.broadcast_arrays(np.asarray(lam, dtype=np.float64), np.asarray(u, dtype=np.float64))
    low0 = 1.0 - lam * (1.0 - lam * (0.5 - lam * (1.0 / 6.0)))
    high0 = 1.0 - lam * (1.0 - 0.5 * lam)
    one = np.where((u > high0) & (u <= low0 * (1.0 + lam)), 1.0, -1.0)
    small = np.where(u <= low0, 0.0, one)
    return np.where(lam <= 0.0, 0.0, np.where(lam <= 1.0, small, -1.0))


def _numpy_cs_poisson_fix(k, lam, seed, stream, index, step):
    """NumPy version of the generated-code ``cs_poisson_fix``: ``k`` where it is >= 0, else the
    count ``cs_poisson`` draws."""
    k, lam, seed, stream, index, step = np.broadcast_arrays(
        np.asarray(k, dtype=np.float64), np.asarray(lam, dtype=np.float64),
        *(np.asarray(x).astype(np.int64) for x in (seed, stream, index, step)))
    out = k.astype(np.float64, copy=True)
    todo = k < 0
    if np.any(todo):
        u = _numpy_cs_uniform(seed[todo], stream[todo], index[todo], step[todo])
        out[todo] = _numpy_cs_poisson(lam[todo], u, seed[todo], stream[todo], index[todo], step[todo])
    return out


#: ``cs_uniform(seed, stream, index, step)``: a uniform number in (0, 1), a pure function of its
#: integer arguments (C++, Cython and NumPy give identical values).
cs_uniform = Function(_numpy_cs_uniform, arg_units=[1, 1, 1, 1], return_unit=1,
                      arg_types=["integer", "integer", "integer", "integer"], return_type="float", stateless=True)
cs_uniform.implementations.add_implementation("cpp", _UNIFORM_CPP, name="cs_uniform")
cs_uniform.implementations.add_implementation("cython", _UNIFORM_CYTHON, name="cs_uniform")

#: ``cs_poisson(mean, u, seed, stream, index, step)``: a Poisson count with the given mean, drawn
#: by inversion from ``u = cs_uniform(seed, stream, index, step)`` (further uniforms for means
#: above _CHUNK come from the same key).
cs_poisson = Function(_numpy_cs_poisson, arg_units=[1, 1, 1, 1, 1, 1], return_unit=1,
                      arg_types=["float", "float", "integer", "integer", "integer", "integer"],
                      return_type="integer", stateless=True)
cs_poisson.implementations.add_implementation("cpp", _POISSON_CPP, name="cs_poisson")
cs_poisson.implementations.add_implementation("cython", _POISSON_CYTHON, name="cs_poisson")


def _cuda(code: str) -> str:
    """The C++ code as CUDA host/device functions (for brian2cuda; not tested on a GPU)."""
    return code.replace("static inline", "__host__ __device__ static inline")


cs_uniform.implementations.add_implementation("cuda", _cuda(_UNIFORM_CPP), name="cs_uniform")
cs_poisson.implementations.add_implementation("cuda", _cuda(_POISSON_CPP), name="cs_poisson")

#: ``cs_count01(mean, u)``: the count ``cs_poisson`` draws from ``u`` where the series bounds settle
#: it as 0 or 1 (mean <= 1), else -1 (branch-free: vectorised in the noise loop).
cs_count01 = Function(_numpy_cs_count01, arg_units=[1, 1], return_unit=1, arg_types=["float", "float"],
                      return_type="float", stateless=True)
cs_count01.implementations.add_implementation("cpp", _COUNT01_CPP, name="cs_count01")
cs_count01.implementations.add_implementation("cython", _COUNT01_CYTHON, name="cs_count01")
cs_count01.implementations.add_implementation("cuda", _cuda(_COUNT01_CPP), name="cs_count01")

#: ``cs_poisson_fix(k, mean, seed, stream, index, step)``: ``k`` if >= 0, else the count
#: ``cs_poisson(mean, cs_uniform(seed, stream, index, step), ...)``.
cs_poisson_fix = Function(_numpy_cs_poisson_fix, arg_units=[1, 1, 1, 1, 1, 1], return_unit=1,
                          arg_types=["float", "float", "integer", "integer", "integer", "integer"],
                          return_type="float", stateless=True)
cs_poisson_fix.implementations.add_implementation("cpp", _FIX_CPP, name="cs_poisson_fix")
cs_poisson_fix.implementations.add_implementation("cython", _FIX_CYTHON, name="cs_poisson_fix")
cs_poisson_fix.implementations.add_implementation("cuda", _cuda(_FIX_CPP), name="cs_poisson_fix")

#: Every function the circuit's generated code calls (for the run's namespace).
FUNCTIONS = {"cs_uniform": cs_uniform, "cs_poisson": cs_poisson, "cs_count01": cs_count01,
             "cs_poisson_fix": cs_poisson_fix}
