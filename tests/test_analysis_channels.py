"""Tests for circuitsim.analysis.channels.selectivity."""

import math

import numpy as np
import pytest

from circuitsim.analysis import selectivity


def test_selectivity_extremes():
    assert selectivity(40.0, 0.0) == 1.0          # only commanded channel active
    assert selectivity(25.0, 25.0) == 0.0         # equally active
    assert selectivity(5.0, 30.0) == 0.0          # competitor wins: clipped
    assert math.isnan(selectivity(0.0, 0.0))      # nothing active: undefined


def test_selectivity_is_normalised_difference():
    rng = np.random.default_rng(0)
    for a, b in rng.uniform(0.1, 100.0, size=(50, 2)):
        s = selectivity(a, b)
        assert 0.0 <= s <= 1.0
        if a > b:
            assert s == pytest.approx((a - b) / (a + b))
    # monotone in the commanded rate, scale invariant
    vals = [selectivity(a, 10.0) for a in (10, 15, 20, 40, 80)]
    assert all(x < y for x, y in zip(vals, vals[1:]))
    assert selectivity(30.0, 10.0) == pytest.approx(selectivity(3.0, 1.0))


def test_selectivity_multiple_competitors_uses_strongest():
    assert selectivity(30.0, [5.0, 10.0, 2.0]) == pytest.approx(selectivity(30.0, 10.0))
    assert isinstance(selectivity(np.float64(3.0), np.array([1.0])), float)


@pytest.mark.parametrize("a,b", [(-1.0, 1.0), (1.0, -1.0), (np.nan, 1.0), (1.0, np.inf), (1.0, [])])
def test_selectivity_bad_input(a, b):
    with pytest.raises(ValueError, match="rate"):
        selectivity(a, b)
