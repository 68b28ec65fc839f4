"""spec.json: the validated spec of every run, in SI units, live and loaded (issue 19 item 4)."""

import json

import pytest

from circuitsim import compose, load_result, simulate
from circuitsim.errors import ResultError
from circuitsim.io.specfile import SPEC
from circuitsim.spec import build_spec


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spec") / "run"
    overrides = ["sim.duration=0.3s", "sim.progress=false", "readout.plots=[]", "condition=dystonia_bg",
                 "circuit.pathways.gpi_thal.weight=2*nS"]
    return simulate(compose(overrides), out_dir=folder), build_spec(compose(overrides))


def test_spec_json_holds_the_validated_si_values(run):
    result, spec = run
    stored = json.loads((result.folder / SPEC).read_text())
    assert stored["units"] == "SI" and stored["run_id"] == result.run_id
    gpi_thal = stored["spec"]["pathways"]["gpi_thal"]
    # 2 nS from the override, in siemens; the condition's side scale per channel, as validated
    assert gpi_thal["weight"] == pytest.approx(spec.pathways["gpi_thal"].weight) == pytest.approx(2e-9)
    assert gpi_thal["channel_scale"] == list(spec.pathways["gpi_thal"].channel_scale)
    assert stored["spec"]["sim"]["duration"] == pytest.approx(0.3)
    assert stored["spec"]["populations"]["thal"]["params"]["I_bias"] == pytest.approx(
        spec.populations["thal"].params["I_bias"])


def test_spec_is_the_same_live_and_loaded(run):
    result, _ = run
    loaded = load_result(result.folder)
    assert loaded.spec == json.loads(json.dumps(result.spec))
    assert loaded.spec["sim"]["seed"] == result.metrics["run"]["seed"]


def test_a_spec_json_from_another_run_is_refused(run, tmp_path):
    import shutil

    result, _ = run
    copy = tmp_path / "copy"
    shutil.copytree(result.folder, copy)
    stored = json.loads((copy / SPEC).read_text())
    stored["run_id"] = "0" * 32
    (copy / SPEC).write_text(json.dumps(stored))
    with pytest.raises(ResultError):
        load_result(copy)


@pytest.mark.parametrize("overrides", [[], ["stim=tms_single", "condition=dystonia_network"],
                                       ["stim=dbs_gpi", "task=turn_left", "++readout.muscle.params.pool.pic_gain=12"]])
def test_spec_from_dict_restores_the_typed_spec(overrides):
    """spec.json read back is the RunSpec the run validated (every typed section, exactly: JSON keeps
    a float's repr); stimuli stay plain JSON."""
    import dataclasses

    from circuitsim.io.run_spec import spec_from_dict
    from circuitsim.io.specfile import spec_to_dict

    spec = build_spec(compose(overrides))
    back = spec_from_dict(json.loads(json.dumps(spec_to_dict(spec))))
    for f in dataclasses.fields(spec):
        if f.name != "stimuli":
            assert getattr(back, f.name) == getattr(spec, f.name), f.name
    assert set(back.stimuli) == set(spec.stimuli)


def test_a_reopened_run_is_redrawn_from_its_spec_json_not_its_config(run, tmp_path):
    """Issue 19: the figures of a run folder read its spec.json; a config.yaml that no longer
    validates (here: a unit this version refuses) does not stop the spectra."""
    import shutil

    from circuitsim.io.run_spec import run_spec
    from circuitsim.plots.command import plot_folder

    result, spec = run
    folder = tmp_path / "run"
    shutil.copytree(result.folder, folder)
    config = folder / "config.yaml"
    text = config.read_text()
    assert "weight: 2*nS" in text
    config.write_text(text.replace("weight: 2*nS", "weight: 2*volt"))
    with pytest.raises(Exception):
        build_spec(load_result(folder).config)
    loaded = load_result(folder)
    assert run_spec(loaded).sim == spec.sim and run_spec(loaded).pathways == spec.pathways
    written, skipped = plot_folder(folder, ["spectra"], out=tmp_path / "figs")
    assert written == ["spectra"] and not skipped
    assert (tmp_path / "figs" / "spectra.png").stat().st_size > 0


def test_the_page_recomputes_a_muscle_readout_from_spec_json(run, tmp_path):
    """app.view.ensure_muscle (a reopened run without its muscle series) takes the run's spec.json:
    the same muscle metrics as the run, with a config.yaml that no longer validates."""
    import shutil

    from circuitsim.app.view import ensure_muscle

    result, _ = run
    folder = tmp_path / "run"
    shutil.copytree(result.folder, folder)
    config = folder / "config.yaml"
    config.write_text(config.read_text().replace("weight: 2*nS", "weight: 2*volt"))
    loaded = load_result(folder)
    loaded.muscle = None
    loaded.metrics.pop("muscle")
    ensure_muscle(loaded)
    assert loaded.muscle is not None
    assert loaded.metrics["muscle"]["severity_score"] == result.metrics["muscle"]["severity_score"]
