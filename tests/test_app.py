"""The teaching page (circuitsim-app): its JSON API on a real server, and the page in a real browser.

Every request goes to 127.0.0.1 (the server binds an ephemeral port there). Fast tests check the
form -> overrides -> command line translation and that bad values come back with the same
config path and message as on the command line. Slow tests run real simulations through the
server's worker, and drive the page in Debian's chromium with Playwright.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import shlex
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
import yaml

from circuitsim.api import compose
from circuitsim.app import forms
from circuitsim.app.server import make_server
from circuitsim.errors import ConfigError
from circuitsim.io.results import load_result
from circuitsim.spec import build_spec
from serving import serving

FIXED = ["readout.plots=[]"]
RUN_WAIT_S = 600          # bound on waiting for one simulation (a first build takes 15-70 s)
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(make_server("127.0.0.1", 0, tmp_path_factory.mktemp("app_runs"), fixed=FIXED),
                 "test-app-server") as srv:
        yield srv


def call(server, path, body=None, raw=None):
    """(status, decoded JSON or bytes) of one request to the test server on 127.0.0.1."""
    url = server.url.rstrip("/") + path
    assert url.startswith("http://127.0.0.1:")
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json",
                                              "X-Circuitsim-Token": server.app.token})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, payload, ctype = response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as err:
        status, payload, ctype = err.code, err.read(), err.headers.get("Content-Type", "")
    return status, (json.loads(payload) if ctype.startswith("application/json") else payload)


def spec_error(overrides):
    """The ConfigError the CLI path (compose + build_spec) raises for ``overrides``."""
    with pytest.raises(ConfigError) as info:
        build_spec(compose(overrides))
    return info.value


# ----------------------------------------------------------------------------------------- fast

def test_options_list_the_shipped_configs(server):
    status, options = call(server, "/api/options")
    assert status == 200
    root = forms.configs_dir()
    assert {c["name"] for c in options["conditions"]} == {p.stem for p in (root / "condition").glob("*.yaml")}
    assert options["conditions"][0]["name"] == "healthy"
    assert {t["name"] for t in options["tasks"]} >= {"rest", "turn_left", "turn_right"}
    for path in (root / "stim").glob("*.yaml"):
        kinds = {(node or {}).get("kind") for node in ((yaml.safe_load(path.read_text()) or {}).get("stim") or {}).values()}
        group = "dbs" if "dbs" in kinds else "tms" if "tms" in kinds else "other"
        if path.stem != "none":
            assert path.stem in {p["name"] for p in options["stim"][group]}, path
    cfg = compose([])
    assert [p["name"] for p in options["pathways"]] == list(cfg.circuit.pathways)
    assert {m["name"] for m in options["modulators"]} == set(cfg.circuit.modulators)
    status, defaults = call(server, "/api/defaults?condition=dystonia_bg")
    assert status == 200
    expected = compose(["condition=dystonia_bg"]).circuit.pathways
    assert defaults["pathways"] == {name: float(node.weight_scale) for name, node in expected.items()}


def test_form_becomes_overrides_and_an_equivalent_command_line(server):
    stim = {p["name"]: p for p in call(server, "/api/options")[1]["stim"]["dbs"]}
    form = {"condition": "dystonia_bg", "task": "turn_left", "duration": "2.5", "seed": "3",
            "pathways": {"stn_gpe": "1.5", "fsi_d1": "0.5", "gpe_stn": "1"},   # fsi_d1 0.5 = the condition's own
            "modulators": {"dopamine": "0.6", "arousal": "1"},
            "dbs": {"preset": "dbs_gpi" if "dbs_gpi" in stim else "", "frequency": "100", "amplitude": "2"},
            "extra": "circuit.pathways.gpe_stn.p_scale=0.9\n# a comment\n"}
    status, answer = call(server, "/api/command", form)
    assert status == 200
    expected = ["condition=dystonia_bg", "task=turn_left"]
    if "dbs_gpi" in stim:
        expected.append("stim=dbs_gpi")
    expected += ["sim.duration=2.5*second", "sim.seed=3", "circuit.modulators.dopamine.level=0.6",
                 "circuit.pathways.stn_gpe.weight_scale=1.5"]
    if "dbs_gpi" in stim:
        key = stim["dbs_gpi"]["key"]
        expected += [f"stim.{key}.frequency=100*Hz", f"stim.{key}.amplitude=2*mA"]
    expected += FIXED + ["circuit.pathways.gpe_stn.p_scale=0.9"]
    assert answer["overrides"] == expected
    command = answer["command"]
    assert command.startswith("circuitsim condition=dystonia_bg task=turn_left ")
    assert "'sim.duration=2.5*second'" in command       # shell-quoted: * is a glob character
    assert "readout.plots" not in command               # only which figure files are written
    # typing the shown command gives the same config as the page's run (figure list aside)
    typed = shlex.split(command)[1:]
    assert compose(typed + FIXED) == compose(answer["overrides"])
    status, checked = call(server, "/api/validate", form)
    assert status == 200 and checked["ok"] and checked["command"] == command


@pytest.mark.parametrize("form, path", [
    ({"modulators": {"dopamine": "-1"}}, "circuit.modulators.dopamine.level"),
    ({"pathways": {"stn_gpe": "-1"}}, "circuit.pathways.stn_gpe.weight_scale"),
    ({"duration": "0.5", "task": "turn_left"}, "task.command.stop"),
])
def test_bad_values_get_the_cli_error_with_its_config_path(server, form, path):
    status, answer = call(server, "/api/validate", form)
    assert status == 400
    error = answer["error"]
    cli = spec_error(answer["overrides"])
    assert error == {"kind": "config", "path": cli.path, "message": cli.message}
    assert error["path"] == path
    runs_before = call(server, "/api/runs")[1]["runs"]
    status, answer = call(server, "/api/run", form)
    assert status == 400 and answer["error"]["path"] == path
    assert call(server, "/api/runs")[1]["runs"] == runs_before      # nothing was queued or created


def test_hydra_override_errors_and_unknown_names_are_reported(server):
    status, answer = call(server, "/api/validate", {"pathways": {"stn_gpe": "abc"}})
    assert status == 400
    assert answer["error"]["kind"] == "override"
    assert answer["error"]["path"] == "circuit.pathways.stn_gpe.weight_scale"
    assert "abc" in answer["error"]["message"]
    status, answer = call(server, "/api/validate", {"extra": "circuit.pathways.stn_gpx.weight_scale=2"})
    assert status == 400 and answer["error"]["kind"] == "override"
    assert "stn_gpx" in answer["error"]["message"]
    status, answer = call(server, "/api/command", {"pathways": {"stn_gpx": "2"}})
    assert status == 400 and answer["error"]["path"] == "circuit.pathways.stn_gpx"
    status, answer = call(server, "/api/command", {"dbs": {"preset": "no_such_preset"}})
    assert status == 400 and answer["error"]["path"] == "stim"
    for line in ("hydra.run.dir=/tmp/x", "sim.build_dir=/tmp/x"):
        status, answer = call(server, "/api/command", {"extra": line})
        assert status == 400 and answer["error"]["path"] == line.split("=")[0]
    status, answer = call(server, "/api/validate", {"condition": "no_such_condition"})
    assert status == 400 and answer["error"]["path"] == "condition"


def test_runs_longer_than_the_page_allows_are_refused(server):
    runs_before = call(server, "/api/runs")[1]["runs"]
    too_long = server.app.max_duration_s + 1
    status, answer = call(server, "/api/run", {"duration": str(too_long)})
    assert status == 400 and answer["error"]["path"] == "sim.duration"
    assert "--max-duration" in answer["error"]["message"]
    assert answer["command"].startswith("circuitsim ")           # to run it in a terminal instead
    assert call(server, "/api/runs")[1]["runs"] == runs_before


def test_tms_preset_keeps_its_own_duration_unless_told(server):
    tms = [p["name"] for p in call(server, "/api/options")[1]["stim"]["tms"]]
    if not tms:
        pytest.skip("no TMS preset in configs/stim/ yet")
    status, answer = call(server, "/api/command", {"tms": {"preset": tms[0]}, "duration": "preset"})
    assert status == 200 and f"stim={tms[0]}" in answer["overrides"]
    assert not any(o.startswith("sim.duration=") for o in answer["overrides"])


def test_requests_are_checked_and_assets_are_local(server):
    status, answer = call(server, "/api/run", raw=b"not json")
    assert status == 400 and "JSON" in answer["error"]["message"]
    assert call(server, "/api/no_such_route")[0] == 404
    assert call(server, "/api/runs/..%2F..%2Fetc/view")[0] == 404
    assert call(server, "/api/runs/no_such_run/metrics.json")[0] == 404
    assert call(server, "/static/server.py")[0] == 404
    status, page = call(server, "/")
    assert status == 200 and b'src="/static/app.js"' in page
    for name in ("index.html", "app.js", "app.css"):
        status, body = call(server, f"/static/{name}")
        assert status == 200 and b"http://" not in body and b"https://" not in body   # no CDN: works offline


def test_view_data_is_plain_json():
    import numpy as np

    from circuitsim.app.view import json_safe

    data = json_safe({"x": np.float64("nan"), "y": [np.int64(3), float("inf")], "z": np.array([1.5, np.nan])})
    assert json.loads(json.dumps(data, allow_nan=False)) == {"x": None, "y": [3, None], "z": [1.5, None]}


def test_server_binds_loopback_by_default(server):
    assert server.server_address[0] == "127.0.0.1"
    from circuitsim.app import parse_args

    args = parse_args([])
    assert args.host == "127.0.0.1" and args.out_dir == "outputs/app"


# ----------------------------------------------------------------------------------------- slow

def wait_for_job(server, job_id):
    deadline = time.monotonic() + RUN_WAIT_S
    while time.monotonic() < deadline:
        status, answer = call(server, "/api/status")    # answering while the worker runs: responsive
        assert status == 200
        job = next(j for j in answer["jobs"] if j["id"] == job_id)
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.5)
    pytest.fail(f"run {job_id} did not finish within {RUN_WAIT_S} s")


@pytest.fixture(scope="module")
def finished_run(server):
    form = {"condition": "healthy", "task": "rest", "duration": "1", "pathways": {"stn_gpe": "1.2"}}
    status, answer = call(server, "/api/run", form)
    assert status == 202, answer
    job = wait_for_job(server, answer["job"]["id"])
    assert job["state"] == "done", job
    return job


@pytest.mark.slow
def test_a_run_is_an_ordinary_run_folder_with_its_command(server, finished_run):
    run_id = finished_run["id"]
    folder = server.app.out_dir / run_id
    result = load_result(folder)                          # a finished, ordinary run folder
    assert result.config["circuit"]["pathways"]["stn_gpe"]["weight_scale"] == 1.2
    assert result.metrics["run"]["duration_s"] == pytest.approx(1.0)
    record = json.loads((folder / "app.json").read_text())
    assert record["command"] == finished_run["command"]
    assert "circuit.pathways.stn_gpe.weight_scale=1.2" in shlex.split(record["command"])

    runs = call(server, "/api/runs")[1]["runs"]
    listed = next(r for r in runs if r["id"] == run_id)
    assert listed["complete"] and listed["gpi_rate_hz"] == pytest.approx(result.metrics["populations"]["gpi"]["rate_hz"])

    status, metrics = call(server, f"/api/runs/{run_id}/metrics.json")
    assert status == 200 and metrics == json.loads((folder / "metrics.json").read_text())
    status, blob = call(server, f"/api/runs/{run_id}/export.zip")
    assert status == 200
    names = zipfile.ZipFile(io.BytesIO(blob)).namelist()
    assert {f"{run_id}/metrics.json", f"{run_id}/config.yaml", f"{run_id}/spikes.npz"} <= set(names)

    status, view = call(server, f"/api/runs/{run_id}/view")
    assert status == 200
    pops = result.metrics["populations"]
    for entry in view["raster"]:
        assert len(entry["t"]) == len(entry["row"]) and entry["rows"] <= 30
        assert all(0 <= r < entry["rows"] for r in entry["row"])
        if pops[entry["pop"]]["rate_hz"] > 5:
            assert entry["t"] and 0 <= min(entry["t"]) and max(entry["t"]) <= 1.0
    assert view["mean_rates"]["gpi"] == pytest.approx(pops["gpi"]["rate_hz"])
    assert len(view["rates"]["series"]["gpi"]) == pytest.approx(1.0 / view["rates"]["dt"], abs=1)
    assert view["synchrony"]["populations"]["gpi"] == pytest.approx(pops["gpi"]["synchrony"])
    assert set(view["spectra"]) == set(result.lfp)
    muscle = view["muscle"]
    assert muscle["muscles"] == ["rotator_left", "rotator_right"]
    assert len(muscle["head_angle_deg"]) == len(muscle["series"]["rotator_left"]["envelope_uv"]) > 10

    # the view of the reopened folder (what the page shows after a restart) is the same
    server.app._views.clear()
    status, reopened = call(server, f"/api/runs/{run_id}/view")
    assert status == 200
    assert reopened["muscle"]["head_angle_deg"] == muscle["head_angle_deg"]
    assert reopened["spectra"] == view["spectra"] and reopened["raster"] == view["raster"]


APT_LOCK = "/tmp/circuitsim-tests-apt.lock"   # shared with tests/slurm/cluster.py


def _ensure_chromium() -> Path:
    """Debian's chromium; installed with apt-get when missing and running as root."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(f"{CHROMIUM} is missing and cannot be installed here (needs root and apt-get): "
                    f"apt-get install -y chromium")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # pytest-xdist runs test files in parallel workers: one apt-get at a time (dpkg's lock would
    # otherwise make the second one fail), and the second finds chromium installed
    with open(APT_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if CHROMIUM.exists():
            return CHROMIUM
        try:
            subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "chromium"], env=env,
                           check=True, timeout=900, capture_output=True)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            try:
                subprocess.run(["apt-get", "update"], env=env, check=True, timeout=600, capture_output=True)
                subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "chromium"], env=env,
                               check=True, timeout=900, capture_output=True)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
                pytest.skip(f"could not install chromium with apt-get: {err}")
    if not CHROMIUM.exists():
        pytest.skip(f"apt-get installed chromium but {CHROMIUM} is missing")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install 'circuitsim[test]' (playwright)")
    executable = _ensure_chromium()
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(executable), headless=True)
        yield chromium
        chromium.close()


@pytest.mark.slow
def test_page_in_a_real_browser(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    errors = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    assert page.locator("#condition option").count() == len(call(server, "/api/options")[1]["conditions"])
    before = page.get_attribute("#raster", "data-run")

    # move a slider with the keyboard, as a teacher would: +0.40 in steps of 0.05 (the page starts
    # from the settings of the newest run, if any)
    page.click("#pathways summary:has-text('into gpe')")      # open the pathway group
    start = float(page.input_value("#pw-stn_gpe"))
    target = f"{round(start + 0.4, 2):g}"
    page.focus("#pw-stn_gpe")
    for _ in range(8):
        page.keyboard.press("ArrowRight")
    assert page.input_value("#pw-stn_gpe-num") == target
    page.wait_for_function(f"document.querySelector('#command').textContent.includes('stn_gpe.weight_scale={target}')",
                           timeout=30_000)
    page.select_option("#duration", "1")
    page.click("#run-button")
    page.wait_for_function(f"(before) => {{ const r = document.querySelector('#raster').dataset.run;"
                           f" return r && r !== before; }}", arg=before or "", timeout=RUN_WAIT_S * 1000)
    run_id = page.get_attribute("#raster", "data-run")
    assert page.get_attribute("#rates", "data-run") == run_id
    assert page.get_attribute("#emg", "data-run") == run_id
    record = json.loads((server.app.out_dir / run_id / "app.json").read_text())
    assert f"circuit.pathways.stn_gpe.weight_scale={target}" in record["overrides"]
    # the raster was drawn: the canvas holds coloured pixels
    painted = page.evaluate("""() => { const c = document.querySelector('#raster');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let k = 3; k < d.length; k += 4) if (d[k] > 0) n++; return n; }""")
    assert painted > 1000
    gpi_rate = load_result(server.app.out_dir / run_id).metrics["populations"]["gpi"]["rate_hz"]
    assert f"{gpi_rate:.3g}" in page.inner_text("#summary")
    assert page.locator(f"#runs-list tr[data-run='{run_id}']").count() == 1
    page.screenshot(path=str(tmp_path / "app.png"), full_page=True)
    if os.environ.get("CIRCUITSIM_APP_SCREENSHOT"):
        shutil.copy(tmp_path / "app.png", os.environ["CIRCUITSIM_APP_SCREENSHOT"])

    # a bad value: the error names the config path, and nothing runs
    page.fill("#mod-dopamine-num", "-1")
    page.click("#run-button")
    page.wait_for_selector("#error:not([hidden])", timeout=60_000)
    assert "circuit.modulators.dopamine.level" in page.inner_text("#error")
    assert "negative" in page.inner_text("#error")
    page.fill("#mod-dopamine-num", "1")
    page.click("#pathways summary:has-text('into stn')")
    page.fill("#pw-gpe_stn-num", "-1")
    page.click("#run-button")
    page.wait_for_function("document.querySelector('#error').dataset.path === 'circuit.pathways.gpe_stn.weight_scale'",
                           timeout=60_000)
    assert page.get_attribute("#raster", "data-run") == run_id

    # a run can be cancelled from the page: its job ends as "cancelled" and the figures stay
    page.fill("#pw-gpe_stn-num", "1")
    page.click("#run-button")
    page.wait_for_selector("#cancel-button:not([hidden])", timeout=60_000)
    page.click("#cancel-button")
    page.wait_for_function("document.querySelector('#status').textContent.includes('cancel')", timeout=60_000)
    page.wait_for_selector("#cancel-button[hidden]", state="attached", timeout=60_000)
    cancelled = [j for j in call(server, "/api/status")[1]["jobs"] if j["state"] == "cancelled"]
    assert cancelled and not (server.app.out_dir / cancelled[-1]["id"] / "metrics.json").exists()
    assert page.get_attribute("#raster", "data-run") == run_id
    assert errors == []
    page.close()
