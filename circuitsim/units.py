"""Parsing of quantities with units from config values.

Config files write physical values as strings such as ``"10*ms"``, ``"2.5 nS"`` or
``"-70*mV"``. :func:`parse_quantity` is the one place where such strings become Brian2
quantities; it checks the physical dimension and names the config path of a bad value.
"""

from __future__ import annotations

import math
import re
from typing import Any

import brian2
import numpy as np
from brian2.units.fundamentalunits import DimensionMismatchError, Quantity, get_dimensions

from circuitsim.errors import ConfigError

# Units a config may use; a closed namespace so that a config value can never run code.
_UNIT_NAMES = [
    "second", "ms", "us", "ns", "minute", "hour",
    "Hz", "kHz", "MHz",
    "volt", "mV", "uV", "kV",
    "amp", "mA", "uA", "nA", "pA",
    "siemens", "mS", "uS", "nS", "pS",
    "farad", "uF", "nF", "pF",
    "ohm", "kohm", "Mohm", "Gohm",
    "coulomb", "ucoulomb", "ncoulomb",
    "meter", "mm", "um", "cm",
    "kilogram", "gram", "newton", "joule", "metre",
]
UNITS = {name: getattr(brian2, name) for name in _UNIT_NAMES if hasattr(brian2, name)}
UNITS["s"] = brian2.second  # `sim.duration=5s` on the command line


# Dimensions by name, used by the schema to say what a field expects.
DIMENSIONS = {
    "time": brian2.second,
    "rate": brian2.Hz,
    "voltage": brian2.volt,
    "current": brian2.amp,
    "conductance": brian2.siemens,
    "capacitance": brian2.farad,
    "charge": brian2.coulomb,
    "resistance": brian2.ohm,
    "dimensionless": brian2.Quantity(1.0),
}

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
# nan, inf, infinity (any case, signed), alone or before a unit: refused with their own message
_NON_FINITE = re.compile(r"^\s*[-+]?(?:nan|inf(?:inity)?)\b", re.IGNORECASE)
_PATTERN = re.compile(rf"^\s*({_NUMBER})\s*(?:\*\s*)?([A-Za-z][A-Za-z0-9]*(?:\s*[*/]\s*[A-Za-z][A-Za-z0-9]*(?:\*\*\d+)?)*)?\s*$")


def parse_quantity(value: Any, dimension: str, path: str) -> Quantity:
    """Turn a config value into a Brian2 quantity of the expected dimension.

    Parameters
    ----------
    value : str, int or float
        ``"10*ms"``, ``"10 ms"``, ``"10ms"``; a bare number only for dimensionless values.
    dimension : str
        One of :data:`DIMENSIONS` (``"time"``, ``"rate"``, ...).
    path : str
        The config path of the value, used in error messages.

    Raises
    ------
    ConfigError
        If the value has no unit, an unknown unit, or a unit of another dimension, or if it is
        not a finite number (``nan``, ``inf``, or a number beyond the float range such as
        ``1e400``).
    """
    expected = DIMENSIONS[dimension]
    example = {"time": "10*ms", "rate": "20*Hz", "voltage": "-70*mV", "current": "50*pA",
               "conductance": "1*nS", "capacitance": "200*pF", "charge": "1*ncoulomb",
               "resistance": "1*kohm", "dimensionless": "1.5"}[dimension]
    if isinstance(value, bool) or value is None:
        raise ConfigError(path, f"expected a {dimension} value such as '{example}', got {value!r}")
    if isinstance(value, (int, float)):
        if dimension == "dimensionless":
            return Quantity(_finite(float(value), value, path))
        raise ConfigError(path, f"{value!r} has no unit; write it with a {dimension} unit, e.g. '{example}'")
    if not isinstance(value, str):
        raise ConfigError(path, f"expected a string such as '{example}', got {type(value).__name__}")
    if _NON_FINITE.match(value):
        raise ConfigError(path, f"{value!r} is not a finite number; write a finite {dimension} like '{example}'")
    match = _PATTERN.match(value)
    if not match:
        raise ConfigError(path, f"cannot read {value!r} as a quantity; write it like '{example}'")
    number, unit_expr = match.groups()
    if unit_expr is None:
        if dimension == "dimensionless":
            return Quantity(_finite(float(number), value, path))
        raise ConfigError(path, f"{value!r} has no unit; write it with a {dimension} unit, e.g. '{example}'")
    try:
        unit = eval(unit_expr, {"__builtins__": {}}, UNITS)  # names restricted to UNITS
    except NameError as err:
        raise ConfigError(path, f"unknown unit in {value!r} ({err}); known units: {', '.join(sorted(UNITS))}") from None
    except Exception:
        raise ConfigError(path, f"cannot read the unit of {value!r}; write it like '{example}'") from None
    if not isinstance(unit, (Quantity, int, float)):
        raise ConfigError(path, f"cannot read the unit of {value!r}; write it like '{example}'")
    with np.errstate(over="ignore", invalid="ignore"):   # an overflow is refused just below
        quantity = _finite(float(number), value, path) * unit
    if get_dimensions(quantity) != get_dimensions(expected):
        raise ConfigError(path, f"{value!r} is not a {dimension}; write it like '{example}'")
    _finite(float(quantity), value, path)   # e.g. 1e300*kHz overflows once in SI units
    return Quantity(quantity) if not isinstance(quantity, Quantity) else quantity


def _finite(number: float, value: Any, path: str) -> float:
    """``number`` if it is finite; else a ConfigError naming ``path`` (nan, inf, 1e400 overflow)."""
    if not math.isfinite(number):
        reads = "" if str(value) == str(number) else f" (it reads as {number})"
        raise ConfigError(path, f"{value!r} is not a finite number{reads}; give a finite value")
    return number


def to_si(value: Any, dimension: str, path: str) -> float:
    """Like :func:`parse_quantity` but return the value as a float in SI units."""
    return float(parse_quantity(value, dimension, path))


__all__ = ["parse_quantity", "to_si", "UNITS", "DIMENSIONS", "DimensionMismatchError"]
