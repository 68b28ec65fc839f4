"""Fast tests of what experiments/ share (circuitsim.experiments): no simulation."""

import csv
import math
from pathlib import Path

import pytest

from circuitsim.experiments import lookup, markdown, summarise, write_rows, write_table

ROWS = [
    {"condition": "healthy", "seed": 0, "severity": 0.1},
    {"condition": "healthy", "seed": 1, "severity": 0.3},
    {"condition": "dystonia_bg", "seed": 0, "severity": 0.5},
    {"condition": "dystonia_bg", "seed": 1, "severity": float("nan")},
]


def test_summarise_mean_sd_per_group_skips_nan():
    table = summarise(ROWS, by=["condition"], columns=["severity"])
    assert [t["condition"] for t in table] == ["healthy", "dystonia_bg"]
    assert table[0]["severity_mean"] == pytest.approx(0.2)
    assert table[0]["severity_sd"] == pytest.approx(0.1414213, rel=1e-5)
    assert table[1]["severity_mean"] == pytest.approx(0.5)
    assert math.isnan(table[1]["severity_sd"])      # one finite value: no spread
    assert table[1]["n"] == 2


@pytest.mark.parametrize("as_str", [True, False])
def test_write_table_takes_a_str_or_a_path(tmp_path, as_str):
    """Experiment scripts pass ``args.out`` (a str from argparse); both kinds must work."""
    out = tmp_path / "nested" / "out"
    table = summarise(ROWS, by=["condition"], columns=["severity"])
    text = write_table(table, str(out) if as_str else out, by=["condition"], columns={"severity": "severity"})
    assert (out / "table.md").read_text() == text + "\n"
    with open(out / "table.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["condition"] for r in rows] == ["healthy", "dystonia_bg"]
    assert float(rows[0]["severity_mean"]) == pytest.approx(0.2)
    assert "0.2 ± 0.14" in text


def test_write_rows_keeps_every_field_in_first_seen_order(tmp_path):
    path = write_rows([{"a": 1}, {"b": 2, "a": 3}], str(tmp_path))
    assert isinstance(path, Path) and path.name == "runs.csv"
    with open(path) as fh:
        assert next(csv.reader(fh)) == ["a", "b"]


def test_lookup_and_markdown_missing_values():
    assert lookup({"a": {"b": 2}}, "a.b") == 2.0
    assert math.isnan(lookup({"a": {"b": None}}, "a.b"))
    assert math.isnan(lookup({"a": {}}, "a.b.c"))
    text = markdown([{"x": 1, "y_mean": float("nan"), "y_sd": float("nan"), "n": 1}], ["x"], {"y": "Y"})
    assert text.splitlines()[-1] == "| 1 | – | 1 |"
