import pytest
from brian2 import Hz, mV, ms, nS

from circuitsim.errors import ConfigError
from circuitsim.units import parse_quantity, to_si


@pytest.mark.parametrize("text, dim, expected", [
    ("10*ms", "time", 10 * ms), ("10 ms", "time", 10 * ms), ("10ms", "time", 10 * ms),
    ("2s", "time", 2000 * ms), ("-70*mV", "voltage", -70 * mV), ("2.5e-1 nS", "conductance", 0.25 * nS),
    ("130*Hz", "rate", 130 * Hz),
])
def test_parse_quantity_accepts_common_spellings(text, dim, expected):
    assert float(parse_quantity(text, dim, "x")) == pytest.approx(float(expected))


def test_dimensionless_accepts_bare_numbers():
    assert to_si(1.5, "dimensionless", "x") == 1.5
    assert to_si("3", "dimensionless", "x") == 3.0


@pytest.mark.parametrize("value, fragment", [
    ("10", "has no unit"), (10, "has no unit"), ("10*mV", "is not a time"), ("10*parsec", "unknown unit"),
    ("ten ms", "cannot read"), (None, "expected a time"), ("__import__('os')", "cannot read"),
])
def test_bad_quantities_name_the_path(value, fragment):
    with pytest.raises(ConfigError) as err:
        parse_quantity(value, "time", "sim.duration")
    assert err.value.path == "sim.duration"
    assert fragment in str(err.value)
    assert str(err.value).startswith("sim.duration:")


@pytest.mark.parametrize("value, dim", [
    ("nan", "time"), ("inf", "time"), ("-inf*ms", "time"), ("NaN ms", "time"), ("Infinity*Hz", "rate"),
    ("1e400us", "time"), ("1e400*Hz", "rate"), ("1e306*kHz", "rate"), (float("nan"), "dimensionless"),
    (float("inf"), "dimensionless"), ("1e400", "dimensionless"), ("-inf", "dimensionless"),
])
def test_non_finite_values_are_refused_naming_the_path(value, dim):
    # nan, inf and numbers beyond the float range (1e400, or 1e306 kHz = 1e309 Hz) would reach the
    # simulation as nan/inf; each is refused where it is read, under its own name
    with pytest.raises(ConfigError) as err:
        parse_quantity(value, dim, "stim.dbs_gpi.pulse_width")
    assert err.value.path == "stim.dbs_gpi.pulse_width"
    assert "not a finite number" in str(err.value)
    assert "\n" not in str(err.value)


def test_large_finite_values_still_parse():
    assert to_si("1e300*kHz", "rate", "x") == pytest.approx(1e303)
    assert to_si("1e-300*ms", "time", "x") == pytest.approx(1e-303)
