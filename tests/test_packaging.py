"""The package ships its configs and lists every subpackage, so a plain `pip install .` works."""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "circuitsim").rglob("__init__.py")}
    assert found | {"circuitsim.configs"} == listed


def test_non_editable_install_composes_from_any_directory(tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(ROOT)], check=True, cwd=tmp_path)
    code = ("import circuitsim, sys; from circuitsim import compose; c = compose(['sim.seed=4']);"
            "assert 'site' in circuitsim.__file__, circuitsim.__file__; print(c.sim.seed, len(c.circuit.populations))")
    env = dict(os.environ, PYTHONPATH=str(target))
    out = subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert out.stdout.split()[:2] == ["4", "15"]
