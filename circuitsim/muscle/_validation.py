"""Small input-validation helpers shared by the muscle readout modules.

Every helper raises :class:`ValueError` whose message starts with the name of
the offending parameter, so callers (and the configuration layer of the core
simulator) can point users at the field that needs fixing.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = [
    "check_finite",
    "check_positive",
    "check_nonnegative",
    "check_int",
    "check_range",
    "check_band",
    "as_1d_float",
]


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_finite(name: str, value: Any) -> float:
    """Return ``value`` as float, raising ``ValueError`` if it is not a finite real."""
    if not _is_real(value):
        raise ValueError(f"{name} must be a real number (plain SI float), got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def check_positive(name: str, value: Any) -> float:
    """Return ``value`` as float, raising ``ValueError`` unless it is finite and > 0."""
    value = check_finite(name, value)
    if value <= 0.0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


def check_nonnegative(name: str, value: Any) -> float:
    """Return ``value`` as float, raising ``ValueError`` unless it is finite and >= 0."""
    value = check_finite(name, value)
    if value < 0.0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


def check_int(name: str, value: Any, minimum: int = 1) -> int:
    """Return ``value`` as int, raising unless it is an integer >= ``minimum``.

    Floats with an integral value (e.g. ``120.0`` from a YAML/JSON config) are
    accepted.
    """
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, numbers.Integral):
        ivalue = int(value)
    elif _is_real(value) and math.isfinite(float(value)) and float(value).is_integer():
        ivalue = int(value)
    else:
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if ivalue < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {ivalue!r}")
    return ivalue


def check_range(
    name: str,
    value: Any,
    low: float,
    high: float,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as float, raising unless it lies in the given interval."""
    value = check_finite(name, value)
    ok_low = value >= low if low_inclusive else value > low
    ok_high = value <= high if high_inclusive else value < high
    if not (ok_low and ok_high):
        lb = "[" if low_inclusive else "("
        hb = "]" if high_inclusive else ")"
        raise ValueError(f"{name} must lie in {lb}{low}, {high}{hb}, got {value!r}")
    return value


def check_band(name: str, band: Any, nyquist: float | None = None) -> tuple[float, float]:
    """Validate a frequency band ``(low_hz, high_hz)`` with ``0 <= low < high``."""
    try:
        low, high = band
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low_hz, high_hz), got {band!r}") from None
    low = check_nonnegative(f"{name}[0]", low)
    high = check_positive(f"{name}[1]", high)
    if not low < high:
        raise ValueError(f"{name} must satisfy low < high, got {band!r}")
    if nyquist is not None and high > nyquist:
        raise ValueError(
            f"{name} upper edge {high} Hz exceeds the Nyquist frequency {nyquist} Hz"
        )
    return low, high


def as_1d_float(name: str, values: Any, *, allow_empty: bool = True) -> np.ndarray:
    """Convert ``values`` to a finite 1-D float array, raising ``ValueError`` otherwise."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be convertible to a 1-D float array") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return arr
