"""Input checks for the leaf libraries (:mod:`circuitsim.analysis`, :mod:`circuitsim.muscle`).

One module and one argument order: every helper takes the value first and its name second
(``positive_float(fs, "fs")``), and raises :class:`ValueError` whose message starts with that
name, so an error from deep inside an analysis or readout names the field that needs fixing.
It is a leaf like the libraries that use it: it imports nothing of the package.

A real number is a plain number or a 0-d array; strings and booleans are refused (a config's
unit strings are turned into numbers by :mod:`circuitsim.spec`, never here).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

__all__ = ["finite_float", "positive_float", "nonnegative_float", "as_int", "float_in_range", "as_band",
           "as_bands", "as_1d_float", "as_signal", "as_trains", "check_same_length"]


def finite_float(value: Any, name: str) -> float:
    """``value`` as a finite float, else ValueError."""
    if isinstance(value, (bool, str, bytes)):
        raise ValueError(f"{name} must be a real number (plain SI float), got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number (plain SI float), got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v!r}")
    return v


def positive_float(value: Any, name: str) -> float:
    """``value`` as a finite float > 0, else ValueError."""
    v = finite_float(value, name)
    if v <= 0.0:
        raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
    return v


def nonnegative_float(value: Any, name: str) -> float:
    """``value`` as a finite float >= 0, else ValueError."""
    v = finite_float(value, name)
    if v < 0.0:
        raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
    return v


def as_int(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``; a float with an integral value (``120.0`` from YAML or
    JSON) is accepted."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, (int, np.integer)):
        ivalue = int(value)
    elif isinstance(value, (float, np.floating)) and math.isfinite(float(value)) and float(value).is_integer():
        ivalue = int(value)
    else:
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if ivalue < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {ivalue!r}")
    return ivalue


def float_in_range(value: Any, name: str, low: float, high: float, *, low_inclusive: bool = True,
                   high_inclusive: bool = True) -> float:
    """``value`` as a float within the interval, else ValueError."""
    v = finite_float(value, name)
    ok_low = v >= low if low_inclusive else v > low
    ok_high = v <= high if high_inclusive else v < high
    if not (ok_low and ok_high):
        lb, hb = "[" if low_inclusive else "(", "]" if high_inclusive else ")"
        raise ValueError(f"{name} must lie in {lb}{low}, {high}{hb}, got {v!r}")
    return v


def as_band(band: Any, name: str = "band", nyquist: float | None = None) -> tuple[float, float]:
    """A frequency band ``(low_hz, high_hz)`` with ``0 <= low < high`` (and ``high <= nyquist``)."""
    try:
        lo, hi = band
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (low_hz, high_hz) pair, got {band!r}") from None
    lo = nonnegative_float(lo, f"{name} low edge")
    hi = positive_float(hi, f"{name} high edge")
    if not lo < hi:
        raise ValueError(f"{name} must satisfy low < high, got ({lo}, {hi})")
    if nyquist is not None and hi > nyquist:
        raise ValueError(f"{name} upper edge {hi} Hz exceeds the Nyquist frequency {nyquist} Hz")
    return lo, hi


def as_bands(bands: Any, name: str = "bands") -> dict[str, tuple[float, float]]:
    """A mapping name -> (low, high)."""
    if not hasattr(bands, "items"):
        raise ValueError(f"{name} must be a dict mapping name -> (low_hz, high_hz)")
    if len(bands) == 0:
        raise ValueError(f"{name} is empty")
    return {str(k): as_band(v, f"{name}[{k!r}]") for k, v in bands.items()}


def as_1d_float(values: Any, name: str, *, allow_empty: bool = True, scalar: bool = True) -> np.ndarray:
    """``values`` as a finite 1-D float array (a scalar becomes one sample unless ``scalar`` is False)."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 1-D array of real numbers") from None
    if arr.ndim == 0 and scalar:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one-dimensional), got shape {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def as_signal(x: Any, name: str, min_len: int = 1) -> np.ndarray:
    """A 1-D finite real signal of at least ``min_len`` samples."""
    a = as_1d_float(x, name, scalar=False)
    if a.size < min_len:
        raise ValueError(f"{name} has {a.size} samples, need at least {min_len}")
    return a


def as_trains(trains: Any, name: str = "trains") -> list[np.ndarray]:
    """A population of spike trains (one 1-D array of times in s per neuron) as sorted float64 copies."""
    if isinstance(trains, np.ndarray) and trains.dtype != object:
        raise ValueError(f"{name} must be a list of 1-D arrays (one per neuron), got a {trains.ndim}-D numeric "
                         f"array; wrap a single train as [train]")
    try:
        seq = list(trains)
    except TypeError:
        raise ValueError(f"{name} must be a list of 1-D spike-time arrays, got {type(trains).__name__}") from None
    if len(seq) == 0:
        raise ValueError(f"{name} is empty: need at least one neuron")
    out = []
    for k, tr in enumerate(seq):
        try:
            a = np.asarray(tr, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"{name}[{k}] could not be converted to an array of spike times") from None
        if a.ndim == 0:
            a = a.reshape(1)
        if a.ndim != 1:
            raise ValueError(f"{name}[{k}] must be 1-D (spike times in s), got shape {a.shape}")
        if a.size and not np.all(np.isfinite(a)):
            raise ValueError(f"{name}[{k}] contains non-finite spike times")
        if a.size > 1 and np.any(np.diff(a) < 0):
            a = np.sort(a)
        out.append(a)
    return out


def check_same_length(arrays: Sequence[np.ndarray], names: Sequence[str]) -> None:
    """ValueError unless every array has the same number of samples (first axis)."""
    lens = [a.shape[0] for a in arrays]
    if len(set(lens)) != 1:
        desc = ", ".join(f"{n}: {k}" for n, k in zip(names, lens))
        raise ValueError(f"inputs must have the same number of samples ({desc})")
