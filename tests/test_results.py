"""Result folders: atomic completion marker, clear errors for incomplete or corrupt folders,
finished results are never overwritten."""

import json

import numpy as np
import pytest

from circuitsim import compose, load_result, simulate
from circuitsim.errors import ResultError, ResultExistsError
from circuitsim.io import results as rio


def _fake_result():
    return rio.Result(metrics={"populations": {"a": {"rate_hz": 1.0, "cv_isi": float("nan")}},
                               "run": {"seed": 1, "duration_s": 1.0}},
                      config={"sim": {"seed": 1}},
                      spikes={"a": (np.array([0, 1], np.int32), np.array([0.1, 0.2]))},
                      sizes={"a": 2}, rates={"a": np.ones(10)}, rate_dt=0.1,
                      channels={"a": np.array([-1, -1])})


def test_roundtrip(tmp_path):
    res = _fake_result()
    folder = rio.prepare_folder(tmp_path / "r")
    rio.write_data(folder, res)
    assert not rio.is_complete(folder)
    rio.finish(folder, res)
    back = load_result(folder)
    assert back.metrics["populations"]["a"]["cv_isi"] is None  # NaN is written as null
    assert np.array_equal(back.spikes["a"][1], res.spikes["a"][1])
    assert back.sizes == {"a": 2}
    assert back.rate_dt == pytest.approx(0.1)


def test_incomplete_folder_is_not_a_result(tmp_path):
    folder = rio.prepare_folder(tmp_path / "killed")
    rio.write_data(folder, _fake_result())   # killed before metrics.json
    with pytest.raises(ResultError, match="incomplete run"):
        load_result(folder)


def test_missing_and_corrupt_folders(tmp_path):
    with pytest.raises(ResultError, match="no such result folder"):
        load_result(tmp_path / "nothing")
    folder = tmp_path / "corrupt"
    folder.mkdir()
    (folder / "metrics.json").write_text("{not json")
    with pytest.raises(ResultError, match="corrupt JSON"):
        load_result(folder)
    (folder / "metrics.json").write_text(json.dumps({"run": {"duration_s": 1}}))
    (folder / "spikes.npz").write_bytes(b"garbage")
    with pytest.raises(ResultError, match="corrupt data file"):
        load_result(folder)


def test_finished_results_are_not_overwritten(tmp_path, monkeypatch):
    import circuitsim.api as api

    folder = tmp_path / "done"
    res = _fake_result()
    rio.prepare_folder(folder)
    rio.write_data(folder, res)
    rio.finish(folder, res)
    before = (folder / "metrics.json").read_bytes()
    monkeypatch.setattr(api, "build_network", lambda *a, **k: pytest.fail("must not build"))
    with pytest.raises(ResultExistsError, match="already holds a finished run"):
        simulate(compose(), out_dir=folder)
    assert (folder / "metrics.json").read_bytes() == before


def test_muscle_time_series_are_written_and_read_back(tmp_path):
    from types import SimpleNamespace

    rng = np.random.default_rng(0)
    series = {name: {"m1": rng.normal(size=50), "m2": rng.normal(size=50)}
              for name in rio.MUSCLE_SERIES}
    res = _fake_result()
    res.extra["muscle"] = SimpleNamespace(time=np.arange(50) / 2000.0, head_angle=rng.normal(size=50), **series)
    folder = rio.prepare_folder(tmp_path / "m")
    rio.write_data(folder, res)
    rio.finish(folder, res)
    back = load_result(folder).extra["muscle_series"]
    assert np.array_equal(back["head_angle"], res.extra["muscle"].head_angle)
    assert np.array_equal(back["time"], res.extra["muscle"].time)
    for name in rio.MUSCLE_SERIES:
        assert np.array_equal(back[f"m2.{name}"], series[name]["m2"])


def test_spec_of_is_the_stored_spec_else_the_config_validated_again():
    from omegaconf import OmegaConf

    config = OmegaConf.to_container(compose(["stim=tms_sici", "sim.duration=20*second"]), resolve=True)
    old = rio.Result(metrics={"run": {}}, config=config)          # a folder from before spec.json
    spec = rio.spec_of(old)
    assert spec["sim"]["duration"] == pytest.approx(20.0) and spec["stimuli"]["tms_sici"]["kind"] == "tms"
    stored = rio.Result(metrics={"run": {}}, config=config, spec={"sim": {"duration": 1.0}})
    assert rio.spec_of(stored) == {"sim": {"duration": 1.0}}
    assert rio.spec_of(rio.Result(metrics={"run": {}}, config={"circuit": "not a mapping"})) == {}

    # the teaching page's TMS markers are the protocol's pulses (conditioning ones too), not a
    # reconstruction from the protocol blocks
    from circuitsim.app.view import _stimuli

    entry = next(e for e in _stimuli(spec) if e["name"] == "tms_sici")
    times = np.unique(spec["stimuli"]["tms_sici"]["pulses"]["time"])
    assert entry["pulses"] == pytest.approx(times, abs=1e-4) and len(entry["pulses"]) > 8


def test_a_stored_run_resumes_only_with_the_same_config_and_the_same_source(tmp_path):
    from circuitsim._version import source_digest, tree_digest

    config = {"sim": {"seed": 4}}
    res = rio.Result(metrics={"run": {"seed": 4, "versions": {"source": source_digest()}}}, config=config,
                     spikes={"a": (np.zeros(0, np.int32), np.zeros(0))}, sizes={"a": 1}, channels={"a": np.array([-1])})
    folder = rio.prepare_folder(tmp_path / "run")
    assert rio.stored_run(folder, config) == (None, None)                  # nothing finished: nothing to say
    rio.write_data(folder, res)
    rio.finish(folder, res)
    assert rio.stored_run(folder, config) == (res.metrics, None) and rio.made_by_this_code(folder)
    assert rio.stored_run(folder, {"sim": {"seed": 5}}) == (None, "it was made with another config")
    metrics = json.loads((folder / "metrics.json").read_text())
    for source in ("0123456789abcdef", None):     # other code, or a run from before sources were recorded
        metrics["run"]["versions"] = {"source": source} if source else {}
        (folder / "metrics.json").write_text(json.dumps(metrics))
        stored, why = rio.stored_run(folder, config)
        assert stored is None and rio.stored_metrics(folder, config) is None and not rio.made_by_this_code(folder)
        assert why.startswith("it was made by another version of the circuitsim code") and source_digest() in why
    # the digest follows every source file's content and path
    tree = tmp_path / "pkg"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.py").write_text("x = 1\n")
    (tree / "sub" / "b.py").write_text("y = 2\n")
    first = tree_digest(tree)
    assert len(first) == 16 and tree_digest(tree) == first and source_digest() == source_digest()
    (tree / "sub" / "b.py").write_text("y = 3\n")
    changed = tree_digest(tree)
    (tree / "sub" / "b.py").rename(tree / "b.py")
    assert len({first, changed, tree_digest(tree)}) == 3


def test_the_result_is_typed_and_its_muscle_series_has_one_shape_live_and_loaded(tmp_path):
    """Issue 19: named fields per stage; the muscle series the same MuscleSeries live and loaded;
    ``extra`` only a view onto the fields."""
    live = simulate(compose(["circuit.scale=0.25", "sim.duration=0.5s", "sim.transient=0.1s", "sim.progress=false",
                             "readout.plots=[]", "task=turn_left", "task.command.start=0.15s",
                             "task.command.stop=0.4s"]), out_dir=tmp_path / "run")
    assert set(live.stimuli) == {"task"} and live.extra["stimuli"] is live.stimuli
    assert set(live.spectra) == set(live.lfp) and live.lfp_currents
    assert live.lfp_signal.fs == 1.0 / live.lfp_dt and live.lfp_signal.time("gpi")[0] == 0.0
    assert isinstance(live.muscle, rio.MuscleSeries) and live.muscle_readout is live.extra["muscle"]
    loaded = load_result(tmp_path / "run")
    assert loaded.stimuli is None and loaded.muscle_readout is None and "stimuli" not in loaded.extra
    assert isinstance(loaded.muscle, rio.MuscleSeries) and loaded.muscle.muscles == live.muscle.muscles
    for name in ("time", "head_angle"):
        assert np.array_equal(getattr(loaded.muscle, name), getattr(live.muscle, name))
    for name in rio.MUSCLE_SERIES:
        for m in live.muscle.muscles:
            assert np.array_equal(getattr(loaded.muscle, name)[m], getattr(live.muscle, name)[m])
    assert loaded.muscle.noise_floor_v == live.muscle.noise_floor_v is not None
