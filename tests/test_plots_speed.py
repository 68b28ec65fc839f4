"""The cheap figure path: fixed margins (no layout engine, one draw), and figures drawn by a
forked child in sweeps give the same files. Timing is measured by benchmarks/bench_figures.py."""

from __future__ import annotations

import os

import pytest

from circuitsim import compose, simulate
from circuitsim.plots import FIGURES, background, write_figures

DEFAULT = ["raster", "rates", "spectra", "channels", "muscle", "summary"]


def run(duration: str = "0.4s", transient: str = "0.1s", start: str = "0.15s", stop: str = "0.3s"):
    # the structure of tests/test_performance_identity.py (one cached build for both)
    return simulate(compose(["circuit.scale=0.25", f"sim.duration={duration}", f"sim.transient={transient}",
                             "sim.progress=false", "readout.plots=[]", "task=turn_left",
                             f"task.command.start={start}", f"task.command.stop={stop}", "sim.seed=0"]))


@pytest.fixture(scope="module")
def result():
    return run()


def test_a_run_shorter_than_the_smoothing_kernel_has_its_figures(tmp_path):
    """50 ms of rates are shorter than the 20 ms-sd Gaussian's 161 bins: the kernel is cut to the
    record (np.convolve's "same" output would otherwise be longer than the time axis)."""
    short = run("0.05s", "0s", "0.01s", "0.04s")
    write_figures(tmp_path, short, ["rates", "channels"])
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["channels.png", "rates.png"]


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


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_detached_child_saves_the_figures_and_holds_the_folder_until_then(result, tmp_path):
    """A single CLI run does not wait for its figures: they are saved by a child that keeps the
    run folder's writer lock (a second writer is refused) until the last one is written."""
    from circuitsim.errors import ResultBusyError
    from circuitsim.io import results as rio

    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    write_figures(here, result, DEFAULT)
    rio.prepare_folder(there)
    background.enable(detach=True)
    try:
        assert background.detached()
        write_figures(there, result, DEFAULT)
        rio.release_folder(there)        # the parent is done with the folder; the child still holds it
        if background.pending():
            try:
                rio.prepare_folder(there, overwrite=True)
            except ResultBusyError:
                pass                     # refused while the child draws (unless it is already done)
            else:
                rio.release_folder(there)
        assert background.wait_for_folder(there)
        background.wait()
    finally:
        background.disable()
    assert not background.detached()
    for name in sorted(p.name for p in here.glob("*.png")):
        assert (here / name).read_bytes() == (there / name).read_bytes(), name
    assert not list(there.glob(".*.tmp.png"))
