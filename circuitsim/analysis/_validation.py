"""Private input-validation helpers shared by the analysis modules.

All helpers raise :class:`ValueError` with a message that names the offending
argument, so that errors surfacing from deep inside an analysis pipeline are
still easy to trace back to their cause.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def positive_float(value, name: str) -> float:
    """Return ``value`` as a finite float > 0, else raise ValueError."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0.0:
        raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
    return v


def nonnegative_float(value, name: str) -> float:
    """Return ``value`` as a finite float >= 0, else raise ValueError."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(v) or v < 0.0:
        raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
    return v


def finite_float(value, name: str) -> float:
    """Return ``value`` as a finite float, else raise ValueError."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v!r}")
    return v


def as_trains(trains, name: str = "trains") -> list[np.ndarray]:
    """Validate a population of spike trains.

    Parameters
    ----------
    trains : sequence of array_like
        One 1-D array of spike times (s) per neuron.

    Returns
    -------
    list of numpy.ndarray
        Sorted float64 copies of the trains.
    """
    if isinstance(trains, np.ndarray) and trains.dtype != object:
        raise ValueError(
            f"{name} must be a list of 1-D arrays (one per neuron), got a "
            f"{trains.ndim}-D numeric array; wrap a single train as [train]"
        )
    try:
        seq = list(trains)
    except TypeError:
        raise ValueError(
            f"{name} must be a list of 1-D spike-time arrays, got {type(trains).__name__}"
        ) from None
    if len(seq) == 0:
        raise ValueError(f"{name} is empty: need at least one neuron")
    out = []
    for k, tr in enumerate(seq):
        try:
            a = np.asarray(tr, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(
                f"{name}[{k}] could not be converted to an array of spike times"
            ) from None
        if a.ndim == 0:
            a = a.reshape(1)
        if a.ndim != 1:
            raise ValueError(
                f"{name}[{k}] must be 1-D (spike times in s), got shape {a.shape}"
            )
        if a.size and not np.all(np.isfinite(a)):
            raise ValueError(f"{name}[{k}] contains non-finite spike times")
        if a.size > 1 and np.any(np.diff(a) < 0):
            a = np.sort(a)
        out.append(a)
    return out


def as_signal(x, name: str, min_len: int = 1) -> np.ndarray:
    """Validate a 1-D finite real signal of at least ``min_len`` samples."""
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 1-D array of real numbers") from None
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if a.size < min_len:
        raise ValueError(
            f"{name} has {a.size} samples, need at least {min_len}"
        )
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def as_band(band, name: str = "band") -> tuple[float, float]:
    """Validate a (low, high) frequency band in Hz with 0 <= low < high."""
    try:
        lo, hi = band
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a (low_hz, high_hz) pair, got {band!r}"
        ) from None
    lo = nonnegative_float(lo, f"{name} low edge")
    hi = positive_float(hi, f"{name} high edge")
    if not lo < hi:
        raise ValueError(f"{name} must satisfy low < high, got ({lo}, {hi})")
    return lo, hi


def as_bands(bands: dict, name: str = "bands") -> dict[str, tuple[float, float]]:
    """Validate a mapping name -> (low, high)."""
    if not hasattr(bands, "items"):
        raise ValueError(f"{name} must be a dict mapping name -> (low_hz, high_hz)")
    if len(bands) == 0:
        raise ValueError(f"{name} is empty")
    return {str(k): as_band(v, f"{name}[{k!r}]") for k, v in bands.items()}


def check_same_length(arrays: Sequence[np.ndarray], names: Sequence[str]) -> None:
    lens = [a.shape[0] for a in arrays]
    if len(set(lens)) != 1:
        desc = ", ".join(f"{n}: {l}" for n, l in zip(names, lens))
        raise ValueError(f"inputs must have the same number of samples ({desc})")
