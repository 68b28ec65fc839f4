"""Smoke test of circuitsim.muscle.plots.plot_muscle (headless, no pyplot)."""

import io

import numpy as np
import pytest
from matplotlib.figure import Figure

from circuitsim.muscle import muscle_readout
from circuitsim.muscle.plots import plot_muscle


def test_plot_muscle_returns_figure_with_all_panels():
    rng = np.random.default_rng(0)
    T = 1.0
    ch = {
        "left": [np.sort(rng.uniform(0, T, rng.poisson(20 * T))) for _ in range(30)],
        "right": [np.sort(rng.uniform(0, T, rng.poisson(3 * T))) for _ in range(30)],
    }
    r = muscle_readout(ch, 30, T, np.random.default_rng(1))
    fig = plot_muscle(r)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 6
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50)
    assert buf.getvalue()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="readout_result"):
        plot_muscle({"not": "a result"})
