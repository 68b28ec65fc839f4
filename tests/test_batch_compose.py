"""A batched sweep composes its points with one Hydra composition per distinct set of config-group
choices (circuitsim.batch.compose_points), and gets the configs Hydra composes point by point."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException

from circuitsim import api, compose
from circuitsim.batch import compose_points
from circuitsim.schema import plain_config

POINTS = [
    ["task=turn_left", f"circuit.pathways.stn_gpe.weight_scale={w}", f"sim.seed={s}", "sim.duration=0.3s",
     "readout.plots=[]", "circuit.populations.stn.params.I_bias=0.1*nA"]
    for w in (0.5, 1.5) for s in (0, 1)
] + [
    # no group choice, a value given as a list, an added key (composed the slow way)
    ["sim.seed=3", "circuit.pathways.stn_gpe.weight_scale=0.75", "readout.plots=[raster]",
     "+circuit.populations.ctx_e.params.g_T=5*nS"],
    ["sim.seed=4", "circuit.pathways.stn_gpe.weight_scale=0.75", "readout.plots=[raster]",
     "+circuit.populations.ctx_e.params.g_T=5*nS"],
]


def test_compose_points_equals_hydra_point_by_point(monkeypatch):
    calls = []
    real = api.compose
    monkeypatch.setattr(api, "compose", lambda ovs: calls.append(list(ovs)) or real(ovs))
    fast = compose_points(POINTS)
    assert len(calls) == 2     # one composition per distinct set of the other overrides
    for point, cfg in zip(POINTS, fast):
        assert plain_config(cfg) == plain_config(compose(point)), point
    assert plain_config(fast[0]) != plain_config(fast[1])   # (the points differ)


def test_compose_points_refuses_a_key_the_config_lacks():
    with pytest.raises(ConfigCompositionException, match="sim.no_such_key"):
        compose(["sim.no_such_key=1"])
    with pytest.raises(ConfigCompositionException, match="sim.no_such_key"):
        compose_points([["sim.no_such_key=1"]])
