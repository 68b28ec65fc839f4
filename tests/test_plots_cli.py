"""circuitsim-plot: a finished run folder's figures drawn again from what the folder stores are the
live run's figures, pixel for pixel; a bad path or a folder without a result is one line, exit 2."""

import subprocess
import sys

import numpy as np
import pytest
from matplotlib.image import imread

from circuitsim import compose, simulate
from circuitsim.io.results import MUSCLE_UNIT_SPIKES, load_result
from circuitsim.plots.command import FROM_FOLDER, main
from circuitsim.plots import _write


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plotcli")
    result = simulate(compose(["sim.duration=0.6s", "sim.transient=0.1s", "readout.plots=[]"]), out_dir=tmp / "run")
    return tmp, result


def test_figures_from_a_folder_are_the_live_figures(run):
    tmp, live = run
    loaded = load_result(tmp / "run")
    units = loaded.extra[MUSCLE_UNIT_SPIKES]
    for m, trains in live.muscle_readout.unit_spikes.items():   # the motor units' spikes, stored exactly
        assert len(units[m]) == len(trains) and all(np.array_equal(a, b) for a, b in zip(units[m], trains))
    assert sum(len(t) for t in units[loaded.muscle.muscles[0]]) > 0 or sum(len(t) for t in units[loaded.muscle.muscles[1]]) > 0
    (tmp / "live").mkdir()
    _write(tmp / "live", live, FROM_FOLDER)
    proc = subprocess.run([sys.executable, "-m", "circuitsim.plots.command", str(tmp / "run"), "--out", str(tmp / "again")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in FROM_FOLDER:
        a, b = imread(tmp / "live" / f"{name}.png"), imread(tmp / "again" / f"{name}.png")
        assert a.shape == b.shape and np.array_equal(a, b), name
    assert "stim" not in proc.stdout   # no stimulus in this run: nothing to say about stim.png


def test_some_figures_into_the_run_folder(run, capsys):
    tmp, _ = run
    assert main([str(tmp / "run"), "--figures", "raster,muscle"]) == 0
    assert (tmp / "run" / "raster.png").is_file() and (tmp / "run" / "muscle.png").is_file()
    assert not (tmp / "run" / "rates.png").exists()


@pytest.mark.parametrize("case", ["missing", "unfinished", "figure"])
def test_bad_input_is_one_line(run, tmp_path, capsys, case):
    args = {"missing": [str(tmp_path / "nowhere")],
            "unfinished": [str(tmp_path)],
            "figure": [str(run[0] / "run"), "--figures", "raster,histogram"]}[case]
    if case == "unfinished":
        (tmp_path / "config.yaml").write_text("sim: {}\n")   # a killed run: no metrics.json
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("circuitsim-plot: ")
    assert {"missing": "no such result folder", "unfinished": "no metrics.json",
            "figure": "'histogram'"}[case] in err
