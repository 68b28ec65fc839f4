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
