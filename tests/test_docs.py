"""The documentation: a strict Sphinx build (warnings are errors, nitpicky references), generated
references that fail the build when they drift from the code, and the tutorial executed."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from circuitsim import docs as gen

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _build(out: Path, execute: bool) -> subprocess.CompletedProcess:
    env = dict(os.environ, CIRCUITSIM_DOCS_EXECUTE="force" if execute else "off")
    return subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html",
                           "-d", str(out / "doctrees"), str(DOCS), str(out / "html")],
                          capture_output=True, text=True, env=env, timeout=900, cwd=ROOT)


def test_docs_build_strictly_without_running_the_tutorial(tmp_path):
    out = _build(tmp_path, execute=False)
    assert out.returncode == 0, (out.stdout + out.stderr)[-5000:]
    html = tmp_path / "html"
    for page in ("index", "getting-started", "tutorial", "model", "validation", "literature", "performance",
                 "contributing", "changelog", "reference/config", "reference/metrics", "reference/api",
                 "guide/circuit", "guide/conditions", "guide/tasks", "guide/muscle", "guide/stimulation",
                 "guide/sweeps", "guide/fitting", "guide/comparing", "guide/teaching"):
        assert (html / f"{page}.html").is_file(), page
    config = (html / "reference" / "config.html").read_text()
    assert "sim.duration" in config and "circuit.pathways.&lt;name&gt;.weight_scale" in config
    metrics = (html / "reference" / "metrics.html").read_text()
    assert "muscle.severity_score" in metrics
    api = (html / "reference" / "api.html").read_text()
    assert "circuitsim.simulate" in api and "Run one simulation" in api   # from the docstring
    model = (html / "model.html").read_text()
    for name in ("gpi", "stn_gpe", "Starr et al. 2005"):   # generated from configs/circuit/default.yaml
        assert name in model, name


def test_config_reference_fails_on_an_undescribed_key(monkeypatch, default_cfg):
    from circuitsim.app.forms import configs_dir

    rows = gen.config_rows(default_cfg, configs_dir())
    assert {"sim.duration", "readout.lfp_dt", "circuit.pathways.<name>.weight_scale"} <= {r[0] for r in rows}
    notes = dict(gen.CONFIG_NOTES)
    notes.pop("circuit.pathways.<name>.p_scale")
    monkeypatch.setattr(gen, "CONFIG_NOTES", notes)
    with pytest.raises(gen.DocsDriftError, match="p_scale"):
        gen.config_rows(default_cfg, configs_dir())
    monkeypatch.setattr(gen, "CONFIG_NOTES", {**gen.CONFIG_NOTES, "circuit.pathways.<name>.gone": "x",
                                              "circuit.pathways.<name>.p_scale": "y"})
    with pytest.raises(gen.DocsDriftError, match="gone"):
        gen.config_rows(default_cfg, configs_dir())


def test_metrics_reference_fails_on_an_undocumented_or_a_stale_key():
    runs = [{"populations": {"gpi": {"rate_hz": 80.0, "new_measure": 1.0}}}]
    with pytest.raises(gen.DocsDriftError, match="new_measure"):
        gen.check_metrics(runs, present=())
    with pytest.raises(gen.DocsDriftError, match="cv_isi"):   # documented, but no run produced it
        gen.check_metrics([{"populations": {"gpi": {"rate_hz": 80.0}}}], present=("always",))


def test_no_tracked_file_points_outside_the_repository():
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    offenders = []
    for name in listed.stdout.splitlines():
        path = ROOT / name
        if not path.is_file() or path.suffix in (".png", ".npz", ".parquet"):
            continue
        text = path.read_text(errors="replace")
        if "shared/" + "reference" in text or re.search(r"/work/" + r"shared", text):
            offenders.append(name)
    assert not offenders, offenders


def test_project_hygiene_files():
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.startswith("MIT License")
    assert 'license = { text = "MIT" }' in (ROOT / "pyproject.toml").read_text()
    cff = (ROOT / "CITATION.cff").read_text()
    from circuitsim import __version__

    assert "cff-version:" in cff and f"version: {__version__}" in cff
    assert (ROOT / "CHANGELOG.md").read_text().startswith("# Changelog")
    literature = (DOCS / "literature.md").read_text()
    for source in ("Starr et al. 2005, J Neurophysiol 93:3165", "Silberstein et al. 2003, Brain 126:2597"):
        assert source in literature


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_tutorial_runs_and_renders_with_outputs(tmp_path):
    """The tutorial notebook executes (healthy, raster, dystonia, sweep, DBS) inside a strict build."""
    out = _build(tmp_path, execute=True)
    assert out.returncode == 0, (out.stdout + out.stderr)[-8000:]
    page = (tmp_path / "html" / "tutorial.html").read_text()
    assert page.count("<img") >= 2                     # the raster and the sweep figure
    assert re.search(r"GPi: \d+\.\d Hz", page)           # a printed measure
    assert "builds reused: [True, True, True]" in page  # the sweep reused the build of step 3
    assert "circuitsim Result" in page                  # the result's notebook view
    assert "simulated 2.00 of 2.00 s" in page          # the program's progress reached the notebook
