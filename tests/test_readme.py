"""The README's circuit tables are generated from the config; this keeps them in step."""

from pathlib import Path

from circuitsim.docs import circuit_tables

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_circuit_tables_match_config(default_cfg):
    text = README.read_text()
    start, end = "<!-- circuit-tables:start -->\n", "<!-- circuit-tables:end -->"
    assert start in text and end in text
    shown = text.split(start, 1)[1].split(end, 1)[0]
    assert shown == circuit_tables(default_cfg), "regenerate with: python -m circuitsim.docs"


def test_readme_shows_the_two_commands_and_ci_uses_one():
    text = README.read_text()
    assert "make run" in text and "make test" in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert [line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))] == ["make test"]
