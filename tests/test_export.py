"""Data that leaves circuitsim (issue 18): NWB files (circuitsim-export, Result.to_nwb) that
nwbinspector accepts and that keep every spike, and the Neo bridge (Result.to_neo) that Elephant
measures agree with circuitsim's on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pynwb = pytest.importorskip("pynwb")
nwbinspector = pytest.importorskip("nwbinspector")

from circuitsim import compose, load_result, simulate  # noqa: E402
from circuitsim.io import results as rio  # noqa: E402

BIN = Path(sys.executable).parent
BAD = ("CRITICAL", "PYNWB_VALIDATION", "ERROR")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning",
                                        "ignore::PendingDeprecationWarning")


def _fake_folder(path: Path) -> Path:
    """A small finished run folder (two populations, one silent neuron) without simulating."""
    rng = np.random.default_rng(3)
    t_a = np.sort(rng.uniform(0, 1.0, 40))
    i_a = rng.integers(0, 3, 40).astype(np.int32)     # neuron 3 of 'a' stays silent
    res = rio.Result(metrics={"populations": {"a": {"rate_hz": 10.0}, "b": {"rate_hz": 2.0}},
                              "run": {"seed": 5, "duration_s": 1.0, "dt_s": 1e-4, "condition": "healthy",
                                      "versions": {"circuitsim": "0.1.0"},
                                      "regions": {"ctx": ["a"], "thal": ["b"]}}},
                     config={"sim": {"seed": 5, "duration": "1*second"}, "condition_name": "healthy"},
                     spikes={"a": (i_a, t_a), "b": (np.array([1, 0], np.int32), np.array([0.25, 0.5]))},
                     sizes={"a": 4, "b": 2}, rates={"a": rng.uniform(0, 20, 100), "b": np.zeros(100)}, rate_dt=0.01,
                     lfp={"ctx": rng.normal(size=1000)}, lfp_dt=1e-3,
                     channels={"a": np.array([0, 0, 1, 1]), "b": np.array([-1, -1])},
                     regions={"ctx": ["a"], "thal": ["b"]})
    folder = rio.prepare_folder(path)
    rio.write_data(folder, res)
    rio.finish(folder, res)
    return folder


def _inspect(path: Path) -> list:
    messages = list(nwbinspector.inspect_nwbfile(nwbfile_path=str(path)))
    bad = [m for m in messages if m.importance.name in BAD]
    assert not bad, [(m.importance.name, m.check_function_name, m.message) for m in bad]
    return messages


def _read_units(path: Path) -> dict:
    """population -> (neuron_index, spike time) of every spike, in the NWB file."""
    out: dict = {}
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        units = io.read().units
        pops, idx = units["population"][:], units["neuron_index"][:]
        for k in range(len(units)):
            times = np.asarray(units["spike_times"][k])
            i, t = out.setdefault(pops[k], ([], []))
            i += [int(idx[k])] * times.size
            t += list(times)
    return {p: (np.array(i, int), np.array(t)) for p, (i, t) in out.items()}


def _assert_same_spikes(path: Path, folder: Path) -> None:
    own = load_result(folder)
    back = _read_units(path)
    assert set(back) == set(own.spikes)
    for pop, (i, t) in own.spikes.items():
        bi, bt = back[pop]
        assert bt.size == t.size, pop          # per-population spike count
        a = sorted(zip(np.asarray(i).tolist(), np.asarray(t).tolist()))
        b = sorted(zip(bi.tolist(), bt.tolist()))
        assert a == b, pop                     # every spike: the same neuron and the same time, bitwise


def test_export_of_a_run_folder_passes_the_inspector_and_keeps_every_spike(tmp_path):
    from circuitsim.io.nwb import export

    folder = _fake_folder(tmp_path / "run")
    (path,) = export(folder)
    assert path == folder / "run.nwb"
    _inspect(path)
    _assert_same_spikes(path, folder)
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        f = io.read()
        units = f.units.to_dataframe()
        assert len(units) == 6                                  # every neuron, the silent one too
        silent = units[(units.population == "a") & (units.neuron_index == 3)]
        assert len(silent) == 1 and len(silent.spike_times.iloc[0]) == 0
        assert list(units[units.population == "a"].channel) == [0, 0, 1, 1]
        assert set(units.region) == {"ctx", "thal"}
        assert f.units.resolution == pytest.approx(1e-4)
        rate = f.processing["ecephys"]["rate_a"]
        assert rate.unit == "Hz" and rate.rate == pytest.approx(100.0)
        assert np.array_equal(rate.data[:], load_result(folder).rates["a"])
        assert f.processing["ecephys"]["lfp_ctx"].unit == "A"
        assert "seed: 5" in f.notes and "circuitsim: 0.1.0" in f.notes


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path):
    for target in (tmp_path / "nothing", tmp_path):     # a missing folder; a folder without any run
        out = subprocess.run([str(BIN / "circuitsim-export"), str(target)], capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 2, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("circuitsim-export: "), out.stderr
        assert "Traceback" not in out.stderr


def test_a_sweep_folder_gives_one_file_per_run(tmp_path):
    from circuitsim.io.nwb import main

    for k in range(2):
        _fake_folder(tmp_path / "sweep" / str(k))
    (tmp_path / "sweep" / "2").mkdir()          # a run that never finished: nothing to export
    assert main([str(tmp_path / "sweep"), "--out", str(tmp_path / "nwb")]) == 0
    assert sorted(p.relative_to(tmp_path / "nwb").as_posix() for p in (tmp_path / "nwb").rglob("*.nwb")) == [
        "0/run.nwb", "1/run.nwb"]


def test_neo_spike_trains_and_elephant_cv(tmp_path):
    elephant = pytest.importorskip("elephant")
    import quantities as pq
    from elephant.statistics import cv, isi

    from circuitsim.analysis.spiketrains import cv_isi

    res = load_result(_fake_folder(tmp_path / "run"))
    block = res.to_neo()
    trains = block.segments[0].spiketrains
    assert len(trains) == 6
    assert {g.name for g in block.groups} == {"a", "b"}
    st = next(s for s in trains if s.annotations["population"] == "a" and s.annotations["neuron_index"] == 2)
    i, t = res.spikes["a"]
    assert np.array_equal(np.sort(t[i == 2]), st.rescale(pq.s).magnitude)
    assert st.annotations["channel"] == 1 and st.t_stop == 1.0 * pq.s
    mine = [s for s in trains if s.annotations["population"] == "a"]
    el = np.mean([cv(isi(s)) for s in mine if len(s) >= 3])
    ours = cv_isi([s.magnitude for s in mine])
    assert el == pytest.approx(ours, rel=1e-12)
    del elephant


@pytest.mark.slow
def test_default_run_exports_through_the_command_line(tmp_path):
    """Acceptance of issue 18: circuitsim-export on a default run (shortened to 1 s) writes an NWB file
    that nwbinspector accepts, with the run's spikes per population; a DBS run's pulses are intervals."""
    elephant = pytest.importorskip("elephant")
    from elephant.statistics import cv, isi

    from circuitsim.analysis.spiketrains import cv_isi

    folder = tmp_path / "default"
    result = simulate(compose(["sim.duration=1s", "sim.progress=false", "readout.plots=[]"]), out_dir=folder)
    out = subprocess.run([str(BIN / "circuitsim-export"), str(folder), "--out", str(tmp_path / "d.nwb")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    _inspect(tmp_path / "d.nwb")
    _assert_same_spikes(tmp_path / "d.nwb", folder)
    with pynwb.NWBHDF5IO(str(tmp_path / "d.nwb"), "r") as io:
        f = io.read()
        behavior = f.processing["behavior"]
        assert behavior["head_angle"].unit == "radians"
        assert {behavior[n].unit for n in behavior.data_interfaces if n.endswith("_force")} == {"N"}
        assert set(f.processing["ecephys"].data_interfaces) >= {f"rate_{p}" for p in result.spikes}

    # Elephant's CV of the Neo trains of GPi equals circuitsim's cv_isi of the same trains
    trains = [s for s in result.to_neo().segments[0].spiketrains if s.annotations["population"] == "gpi"]
    assert len(trains) == result.sizes["gpi"]
    el = np.mean([cv(isi(s)) for s in trains if len(s) >= 3])
    assert el == pytest.approx(cv_isi([s.magnitude for s in trains]), rel=1e-12)
    del elephant

    dbs = simulate(compose(["sim.duration=0.5s", "sim.progress=false", "readout.plots=[]", "stim=dbs_gpi"]),
                   out_dir=tmp_path / "dbs")
    path = dbs.to_nwb(tmp_path / "dbs.nwb")
    _inspect(path)
    params = dbs.extra["stimuli"]["dbs_gpi"]
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        pulses = io.read().intervals["dbs_gpi_pulses"].to_dataframe()
    from circuitsim.stimulation.dbs import onsets_from_params

    onsets = onsets_from_params(params, dbs.metrics["run"]["dt_s"])
    assert len(pulses) == onsets.size == dbs.metrics["stim"]["dbs_gpi"]["n_pulses_scheduled"]
    assert np.allclose(pulses.start_time, onsets) and np.all(pulses.stop_time > pulses.start_time)
    assert np.allclose(pulses.amplitude_A, params["amplitude"])
