"""Connectivity measures (circuitsim.analysis.connectivity) on synthetic signals with a known answer:
coupled vs independent signals, and the direction of a lagged drive."""

import numpy as np
import pytest

from circuitsim.analysis.connectivity import connectivity_bands, feature_names

FS = 1000.0


def _driven(seed: int, n: int = 4000, lag: int = 10, gain: float = 0.8):
    """x is an AR(2) oscillator; y follows x with a lag of ``lag`` samples; z is independent noise."""
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((n, 3))
    x, y = np.zeros(n), np.zeros(n)
    for t in range(2, n):
        x[t] = 0.55 * x[t - 1] - 0.8 * x[t - 2] + e[t, 0]
        y[t] = 0.5 * y[t - 1] + (gain * x[t - lag] if t >= lag else 0.0) + e[t, 1]
    return {"x": x, "y": y, "z": e[:, 2]}


@pytest.mark.parametrize("seed", [10, 11, 12])
def test_coupled_pair_is_coherent_and_the_drive_has_its_direction(seed):
    c = connectivity_bands(_driven(seed), FS)
    bands = ("theta", "alpha", "beta", "gamma")   # 4-80 Hz, where the AR(2) oscillator has its power

    def mean(measure, pair):
        return float(np.mean([c[measure][pair][b] for b in bands]))

    # independent pairs: coherence near its bias (about 1/(epochs x tapers) = 1/24)
    assert max(mean("coherence", "x__z"), mean("coherence", "y__z")) < 0.1
    assert mean("coherence", "x__y") > 2.5 * max(mean("coherence", "x__z"), mean("coherence", "y__z"))
    # x drives y: Granger x -> y well above y -> x and above the pairs with the independent z
    assert mean("granger", "x__y") > 4 * mean("granger", "y__x")
    others = [mean("granger", p) for p in ("x__z", "z__x", "y__z", "z__y")]
    assert mean("granger", "x__y") > 4 * max(others)


def test_scale_free_keys_and_too_short_records():
    sig = _driven(13, n=2000)
    a = connectivity_bands(sig, FS)
    b = connectivity_bands({k: 1e-10 * v for k, v in sig.items()}, FS)   # LFP proxies are ~1e-10 A
    assert a["coherence"]["x__y"]["beta"] == pytest.approx(b["coherence"]["x__y"]["beta"], rel=1e-6)
    keys = {f"connectivity.{m}.{p}.{band}" for m in a for p in a[m] for band in a[m][p]}
    assert keys == set(feature_names(["x", "y", "z"]))
    assert connectivity_bands({k: v[:600] for k, v in sig.items()}, FS) == {}   # one 0.5 s epoch: none
    silent = connectivity_bands({"x": sig["x"], "s": np.zeros(2000)}, FS)
    assert silent["coherence"]["x__s"]["beta"] is None
