"""What a new user meets first: `circuitsim --help`, `circuitsim-list`, a Result's repr in a
notebook, and progress that reaches Python's logging instead of file descriptor 1."""

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from circuitsim import listing
from circuitsim.io.results import Result
from circuitsim.progress import ProgramProgress

BIN = Path(sys.executable).parent
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _run(tool, *args, cwd=None):
    return subprocess.run([str(BIN / tool), *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_help_is_short_and_lists_the_groups_without_schemas(tmp_path):
    out = _run("circuitsim", "--help", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    assert len(text.splitlines()) < 60, text
    assert "schema" not in text and "powered by hydra" not in text.lower()
    assert text.startswith("circuitsim")
    # every condition, task and stimulation preset file is offered (read from the configs, not hard-coded)
    groups = text.split("Config groups", 1)[1].split("\n\n", 1)[0]
    for group in ("condition", "task", "stim"):
        block = groups.split(f"  {group}:", 1)[1]
        block = block.split("\n  ", 1)[0] + "".join(
            line for line in block.split("\n")[1:] if line.startswith(" " * 13))   # wrapped lines
        for path in (CONFIGS / group).glob("*.yaml"):
            assert path.stem in block, (group, path.stem)
    assert "--cfg job --package" in text and "circuitsim-list" in text
    assert not list(tmp_path.iterdir())   # help writes no run folder


def test_help_picks_up_a_new_condition_from_a_config_dir(tmp_path):
    (tmp_path / "condition").mkdir()
    (tmp_path / "condition" / "mine.yaml").write_text("# @package _global_\n# My hypothesis.\ncondition_name: mine\n")
    out = _run("circuitsim", "--config-dir", str(tmp_path), "--help", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "mine" in next(line for line in out.stdout.splitlines() if line.strip().startswith("condition:"))


def test_run_folder_log_is_named_after_the_app(tmp_path):
    out = _run("circuitsim", "--cfg", "hydra", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "name: circuitsim" in out.stdout


@pytest.mark.parametrize("what", sorted(listing.LISTS))
def test_list_command_prints_one_described_line_per_choice(what):
    out = _run("circuitsim-list", what)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    names = [line.split()[0] for line in lines]
    assert len(names) == len(set(names)) and len(lines) >= 3
    assert all(len(line.split(None, 1)) == 2 for line in lines), "every entry has a description"
    expected = {
        "conditions": {p.stem for p in (CONFIGS / "condition").glob("*.yaml")},
        "tasks": {p.stem for p in (CONFIGS / "task").glob("*.yaml")},
        "stimuli": {p.stem for p in (CONFIGS / "stim").glob("*.yaml")} - {"none"},
    }.get(what)
    if expected is not None:
        assert set(names) == expected
    if what == "pathways":
        assert "stn_gpe" in names and "stn -> gpe" in out.stdout
    if what == "metrics":
        assert "populations.<pop>.rate_hz" in names and "muscle.severity_score" in names


def test_list_command_refuses_an_unknown_list_in_one_line():
    out = _run("circuitsim-list", "neurons")
    assert out.returncode == 2
    assert "invalid choice" in out.stderr and "Traceback" not in out.stderr


def _result(n_pops=15, folder=None):
    rng = np.random.default_rng(0)
    pops = {f"pop{k}": {"rate_hz": float(rng.uniform(1, 90)), "cv_isi": 0.5, "target_rate_hz": [1.0, 50.0]}
            for k in range(n_pops)}
    pops["gpi"] = {"rate_hz": 80.0, "cv_isi": 0.6, "burst_fraction": 0.0, "target_rate_hz": [70.0, 95.0]}
    metrics = {"populations": pops, "channels": {"selectivity": 0.9},
               "muscle": {"severity_score": 0.1, "co_contraction_index": 0.2},
               "run": {"seed": 3, "duration_s": 2.0, "condition": "dystonia_bg", "task": "left", "n_neurons": 1670}}
    spikes = {p: (rng.integers(0, 100, 200_000), np.sort(rng.uniform(0, 2, 200_000))) for p in pops}
    return Result(metrics=metrics, config={"stim": {"dbs_gpi": {"kind": "dbs"}}}, spikes=spikes,
                  rates={p: rng.uniform(0, 100, 2000) for p in pops}, folder=folder)


def test_result_repr_is_short_and_names_the_run(tmp_path):
    result = _result()
    text = repr(result)
    assert len(text) < 2000
    for fragment in ("dystonia_bg", "seed=3", "gpi 80.0", "dbs_gpi", "severity score 0.100"):
        assert fragment in text, fragment
    many = _result(n_pops=400)   # however many populations, the repr stays short
    assert len(repr(many)) < 2000


def test_result_html_shows_key_measures_and_links_figures(tmp_path, monkeypatch):
    (tmp_path / "raster.png").write_bytes(b"png")
    result = _result(folder=tmp_path)
    page = result._repr_html_()
    assert "<table>" in page and "channel selectivity" in page and "0.90" in page
    assert f"href='{tmp_path / 'raster.png'}'" in page
    monkeypatch.chdir(tmp_path.parent)   # a folder below the working directory is linked relative to it
    assert f"href='{tmp_path.name}/raster.png'" in result._repr_html_()
    result.metrics["run"]["condition"] = "<script>"
    assert "<script>" not in result._repr_html_()   # escaped


def test_program_progress_lines_become_log_messages(tmp_path, caplog):
    out = tmp_path / "stdout.txt"
    progress = ProgramProgress(out, duration_s=2.0)
    with caplog.at_level(logging.INFO, logger="circuitsim.device"):
        out.write_text("Starting simulation at t=0 s for duration 2 s\n0.5 s (25%) simulated in 1s, esti")
        progress.poll()
        assert not [r for r in caplog.records if "simulated" in r.getMessage()]   # line not complete yet
        with open(out, "a") as fh:
            fh.write("mated 3s remaining.\n2 s (100%) simulated in 4s\n")
        progress.poll()
    messages = [r.getMessage() for r in caplog.records if r.name == "circuitsim.device"]
    assert messages[0].startswith("simulated 0.50 of 2.00 s ( 25%)")
    assert messages[1].startswith("simulated 2.00 of 2.00 s (100%)")
    from circuitsim.app.server import _PROGRESS   # the teaching page's progress bar reads the same line
    assert _PROGRESS.search(messages[0]).groups() == ("0.50", "2.00")


def test_plain_script_shows_progress_logs_but_configured_logging_is_left_alone(tmp_path):
    code = ("import logging, sys; from circuitsim.progress import show_progress_logs; show_progress_logs(); "
            "logging.getLogger('circuitsim.device').info('compiling'); "
            "logging.getLogger('circuitsim.x').debug('hidden')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stderr.strip() == "circuitsim: compiling" and out.stdout == ""
    configured = "import logging; logging.basicConfig(level=logging.WARNING); " + code.replace("import logging, sys; ", "")
    out = subprocess.run([sys.executable, "-c", configured], capture_output=True, text=True, timeout=120)
    assert "compiling" not in out.stderr   # the application's own WARNING level wins
