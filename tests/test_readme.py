"""The README is a five-minute introduction: short, with commands that work and links that resolve."""

import re
import shlex
from pathlib import Path

import pytest

from circuitsim import compose

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _bash_lines():
    text = README.read_text()
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line:
                yield line


def test_readme_is_short():
    assert len(README.read_text().splitlines()) < 250


def test_readme_shows_the_two_commands_and_ci_uses_one():
    text = README.read_text()
    assert "make run" in text and "make test" in text
    ci = (ROOT / ".ci" / "run").read_text()
    assert [line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))] == ["make test"]
    makefile = (ROOT / "Makefile").read_text()
    for target in ("run:", "test:", "docs:"):
        assert f"\n{target}" in makefile, target


def _first_point(overrides):
    """A sweep's overrides with each swept key at its first value (what its first run composes)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    out = []
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.get_key_element()
        if key.startswith("hydra"):
            continue
        if override.is_sweep_override():
            value = next(iter(override.sweep_string_iterator()))
            out.append(f"{key}={value}")
        else:
            out.append(f"{key}={override.get_value_element_as_str()}")
    return out


def test_readme_example_commands_compose():
    commands = [shlex.split(line) for line in _bash_lines() if line.startswith("circuitsim ")]
    assert len(commands) >= 4
    for args in commands:
        overrides = [a for a in args[1:] if a != "-m"]
        cfg = compose(_first_point(overrides))   # raises on an unknown key, group or value
        from circuitsim.spec import build_spec

        build_spec(cfg)                           # and the values validate


def test_readme_python_names_exist():
    import circuitsim

    block = re.search(r"```python\n(.*?)```", README.read_text(), flags=re.S).group(1)
    names = re.search(r"from circuitsim import ([\w, ]+)", block).group(1)
    for name in names.split(","):
        assert hasattr(circuitsim, name.strip()), name


@pytest.mark.parametrize("target", sorted(set(re.findall(r"\]\(((?!https?://)[^)#]+)\)", README.read_text()))))
def test_readme_links_resolve(target):
    assert (ROOT / target).exists(), target
