"""A batched sweep computes its points' measures and run folders in forked workers
(circuitsim.batch._finish_all) with the results of the same work done in one process."""

from __future__ import annotations

import json

import numpy as np
import pytest

from circuitsim import compose
from circuitsim.batch import simulate_batch

BASE = ["circuit.scale=0.25", "sim.duration=0.3s", "sim.transient=0.1s", "sim.progress=false",
        "readout.plots=[]", "readout.muscle.enabled=false"]


def _points():
    return [compose(BASE + [f"sim.seed={s}", f"circuit.pathways.stn_gpe.weight_scale={w}"])
            for s, w in ((0, 1.0), (1, 1.0), (0, 1.5))]


def measures(result) -> str:
    """Every metric but the run's timings, as text (NaN equals NaN there)."""
    return json.dumps({k: v for k, v in result.metrics.items() if k != "run"}, sort_keys=True, default=str)


@pytest.mark.slow
def test_workers_give_the_results_of_one_process(tmp_path):
    serial = simulate_batch(_points(), out_dirs=[tmp_path / "serial" / str(k) for k in range(3)], workers=1)
    forked = simulate_batch(_points(), out_dirs=[tmp_path / "forked" / str(k) for k in range(3)], workers=2)
    assert [r.metrics["run"]["batch"]["index"] for r in forked] == [0, 1, 2]
    for a, b in zip(serial, forked):
        assert sum(t.size for _, t in a.spikes.values()) > 100
        for pop in a.spikes:
            assert np.array_equal(a.spikes[pop][0], b.spikes[pop][0]) and np.array_equal(a.spikes[pop][1], b.spikes[pop][1])
        assert measures(a) == measures(b)
    assert measures(serial[0]) != measures(serial[1])      # (the points differ)
    for k in range(3):   # every point's folder was written, with the same files
        files = sorted(p.name for p in (tmp_path / "serial" / str(k)).iterdir())
        assert "metrics.json" in files and files == sorted(p.name for p in (tmp_path / "forked" / str(k)).iterdir())
