"""The cheap figure path: fixed margins (no layout engine, one draw), and figures drawn by a
forked child in sweeps give the same files. Timing is measured by benchmarks/bench_figures.py."""

from __future__ import annotations

import os

import pytest

from circuitsim import compose, simulate
from circuitsim.plots import FIGURES, background, write_figures

DEFAULT = ["raster", "rates", "spectra", "channels", "muscle", "summary"]


@pytest.fixture(scope="module")
def result():
    # the structure of tests/test_performance_identity.py (one cached build for both)
    return simulate(compose(["circuit.scale=0.25", "sim.duration=0.4s", "sim.transient=0.1s", "sim.progress=false",
                             "readout.plots=[]", "task=turn_left", "task.command.start=0.15s",
                             "task.command.stop=0.3s", "sim.seed=0"]))


def test_default_figures_have_no_layout_pass(result):
    for name in DEFAULT:
        fig = FIGURES[name](result)
        assert fig.get_layout_engine() is None, name
        assert fig.axes, name


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_figures_drawn_in_the_background_equal_those_drawn_in_process(result, tmp_path):
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    write_figures(here, result, DEFAULT)
    background.enable()
    try:
        assert background.active()
        write_figures(there, result, DEFAULT)
        background.wait()
    finally:
        background.disable()
    assert not background.active()
    made = sorted(p.name for p in here.glob("*.png"))
    assert made == sorted(f"{n}.png" for n in DEFAULT)
    assert sorted(p.name for p in there.iterdir()) == made     # no temporary file left
    for name in made:
        assert (here / name).read_bytes() == (there / name).read_bytes(), name
