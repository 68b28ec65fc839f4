"""The metric catalogue (issue 19): every metric's name, unit and definition in one place, from which
the metrics reference, circuitsim-compare's labels and the experiments' measure names come."""

import pytest

from circuitsim import catalogue, compare, docs, listing
from circuitsim.experiments import Point, run_points


def test_every_metric_has_a_unit_a_definition_and_one_pattern():
    patterns = [m.pattern for m in catalogue.METRICS]
    assert len(patterns) == len(set(patterns))
    for m in catalogue.METRICS:
        assert m.unit and m.text and m.when, m
    assert catalogue.find("populations.gpi.rate_hz").unit == "Hz"
    assert catalogue.find("muscle.head_angle_deg.peak").unit == "deg"
    assert catalogue.find("populations.gpi.no_such_measure") is None


def test_the_reference_the_listing_and_the_compare_labels_come_from_it():
    table = docs.metrics_reference()
    assert all(f"`{m.pattern}`" in table for m in catalogue.METRICS)
    assert "| `populations.<pop>.rate_hz` | Hz |" in table
    assert [k for k, _ in listing.metrics()] == [m.pattern for m in catalogue.METRICS]
    assert dict(compare.KEY_MEASURES)["populations.gpi.rate_hz"] == "GPi rate (Hz)"
    assert dict(compare.KEY_MEASURES)["lfp.stn.band_power.beta"] == "STN LFP beta (rel.)"
    assert all(label == catalogue.label(key) for key, label in compare.KEY_MEASURES)


def test_an_experiment_measure_must_name_a_metric(tmp_path):
    with pytest.raises(ValueError, match="populations.gpi.rate"):
        run_points([Point("a", [])], [0], tmp_path, {"gpi": "populations.gpi.rate"})
    assert not (tmp_path / "runs").exists()
