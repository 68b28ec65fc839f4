"""The counter-based random numbers of the circuit's noise, as Brian2 functions (C++, Cython,
NumPy and, untested, CUDA implementations): ``cs_uniform``, ``cs_poisson`` and its split form
``cs_count01`` + ``cs_poisson_fix`` (see :mod:`circuitsim.circuit.models` for how the neuron
group uses them)."""

import numpy as np
from brian2 import Function

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
