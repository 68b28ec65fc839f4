"""The teaching page is safe by default: what a hostile web page (or a careless request) may not do.

Each test talks to the real server, started here on 127.0.0.1 with an ephemeral port, through
http.client, so headers (Host, Origin, Content-Type, Content-Length, Transfer-Encoding) are sent
exactly as written. Every refusal must be a 4xx JSON answer with a short message, never
exception text, and must leave nothing behind (no run folder, no queued job).
"""

from __future__ import annotations

import http.client
import io
import json
import os
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from circuitsim.app import forms
from circuitsim.app.server import MAX_BODY, MAX_JSON_DEPTH, TOKEN_HEADER, make_server
from serving import serving

FIXED = ["readout.plots=[]"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(make_server("127.0.0.1", 0, tmp_path_factory.mktemp("app_security_runs"), fixed=FIXED),
                 "test-app-security-server") as srv:
        yield srv


def request(server, method, path, body=None, headers=None, token=True, content_type="application/json"):
    """(status, decoded JSON or bytes, headers) of one raw request to the test server on 127.0.0.1."""
    host, port = server.server_address[:2]
    assert host == "127.0.0.1"
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        sent = {"Host": f"127.0.0.1:{port}"}
        if body is not None:
            sent["Content-Length"] = str(len(body))
        if content_type is not None and method == "POST":
            sent["Content-Type"] = content_type
        if token and method == "POST":
            sent[TOKEN_HEADER] = server.app.token
        sent.update(headers or {})
        for key, value in sent.items():
            if value is not None:
                conn.putheader(key, value)
        conn.endheaders()
        if body:
            conn.send(body)
        response = conn.getresponse()
        payload = response.read()
        ctype = response.getheader("Content-Type", "")
        data = json.loads(payload) if ctype.startswith("application/json") else payload
        return response.status, data, dict(response.getheaders())
    finally:
        conn.close()


def post(server, path, form, **kwargs):
    return request(server, "POST", path, json.dumps(form).encode(), **kwargs)


def folders(server):
    return sorted(p.name for p in server.app.out_dir.iterdir())


def assert_refused(status, answer, expected_status=None):
    """A 4xx with a short JSON error message and no exception text."""
    assert 400 <= status < 500, (status, answer)
    if expected_status is not None:
        assert status == expected_status, (status, answer)
    message = answer["error"]["message"]
    assert message and len(message) < 1200
    for leak in ("Traceback", "Error:", "Exception", "File \""):
        assert leak not in message, message


# ------------------------------------------------------------------------- who may ask

def test_cross_origin_post_is_refused(server):
    before = folders(server)
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{server.server_address[1] + 1}"):
        status, answer, _ = post(server, "/api/run", {"duration": "1"}, headers={"Origin": origin})
        assert_refused(status, answer, 403)
        assert "other web pages" in answer["error"]["message"]
    status, answer, _ = post(server, "/api/run", {"duration": "1"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert_refused(status, answer, 403)
    assert folders(server) == before and server.app.queue.qsize() == 0
    # the page's own origin is accepted
    port = server.server_address[1]
    status, answer, _ = post(server, "/api/command", {}, headers={"Origin": f"http://127.0.0.1:{port}",
                                                                   "Sec-Fetch-Site": "same-origin"})
    assert status == 200 and answer["command"].startswith("circuitsim ")


def test_host_must_name_this_server(server):
    port = server.server_address[1]
    for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1:{port + 1}", f"rebind.127.0.0.1.nip.io:{port}"):
        status, answer, _ = request(server, "GET", "/api/runs", headers={"Host": host})
        assert_refused(status, answer, 403)
        status, answer, _ = post(server, "/api/command", {}, headers={"Host": host})
        assert_refused(status, answer, 403)
    status, page, _ = request(server, "GET", "/", headers={"Host": f"evil.example:{port}"})
    assert status == 403                       # a rebinding page cannot read the token either
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
        status, answer, _ = request(server, "GET", "/api/status", headers={"Host": host})
        assert status == 200 and "jobs" in answer


def test_posts_need_json_content_type_and_the_page_token(server):
    before = folders(server)
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
        status, answer, _ = post(server, "/api/run", {"duration": "1"}, content_type=ctype)
        assert_refused(status, answer, 415)
    status, answer, _ = post(server, "/api/run", {"duration": "1"}, token=False)
    assert_refused(status, answer, 403)
    assert TOKEN_HEADER in answer["error"]["message"]
    status, answer, _ = post(server, "/api/run", {"duration": "1"}, token=False, headers={TOKEN_HEADER: "guess"})
    assert_refused(status, answer, 403)
    assert folders(server) == before
    # the served page carries this start's token (that is how the page's script gets it)
    status, page, headers = request(server, "GET", "/")
    assert status == 200
    assert f'<meta name="circuitsim-token" content="{server.app.token}">'.encode() in page
    assert headers.get("X-Frame-Options") == "DENY"
    status, answer, _ = request(server, "OPTIONS", "/api/run", headers={"Origin": "http://evil.example",
                                                                        "Access-Control-Request-Method": "POST"})
    assert status == 405 and not any(k.lower().startswith("access-control") for k in _)


# ------------------------------------------------------------------------- bodies

def test_chunked_body_without_length_is_refused(server):
    before = folders(server)
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=60)
    body = json.dumps({"duration": "1"}).encode()
    conn.request("POST", "/api/run", body=iter([body[:5], body[5:]]), encode_chunked=True,
                 headers={"Content-Type": "application/json", TOKEN_HEADER: server.app.token,
                          "Transfer-Encoding": "chunked"})
    response = conn.getresponse()
    answer = json.loads(response.read())
    conn.close()
    assert_refused(response.status, answer, 411)
    # no Content-Length at all (and no body) is refused the same way, not read as an empty form
    status, answer, _ = request(server, "POST", "/api/run", body=None)
    assert_refused(status, answer, 411)
    assert folders(server) == before and server.app.queue.qsize() == 0


def test_large_body_is_refused_before_it_is_read(server):
    status, answer, _ = request(server, "POST", "/api/run", body=None,
                                headers={"Content-Length": str(MAX_BODY + 1)})
    assert_refused(status, answer, 413)
    status, answer, _ = request(server, "POST", "/api/run", body=None, headers={"Content-Length": "-5"})
    assert_refused(status, answer, 400)


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 200_000])
def test_deeply_nested_json_is_refused(server, depth):
    objects = min(depth, 100_000)             # '{"a":' is 5 bytes: stay below the body limit
    for body in ("[" * depth + "]" * depth, '{"extra": ' + "[" * depth + "]" * depth + "}",
                 '{"a":' * objects + "1" + "}" * objects):
        assert len(body) <= MAX_BODY
        status, answer, _ = request(server, "POST", "/api/run", body.encode())
        assert_refused(status, answer, 400)
        assert "nested" in answer["error"]["message"]
    # brackets inside strings are text, not nesting
    status, answer, _ = post(server, "/api/command", {"extra": "# " + "[" * 50})
    assert status == 200


@pytest.mark.parametrize("form, path", [
    ({"pathways": [1, 2]}, "pathways"),
    ({"modulators": "dopamine"}, "modulators"),
    ({"dbs": [1]}, "dbs"),
    ({"extra": 5}, "extra"),
    ({"extra": ["sim.seed=1"]}, "extra"),
    ({"condition": {"a": 1}}, "condition"),
    ({"seed": [1]}, "sim.seed"),
    ({"no_such_field": 1}, "no_such_field"),
    ({"seed": "1" * 5000}, "sim.seed"),
    ({"dbs": {"preset": "x" * 5000}}, "stim"),
    ({"pathways": {"x" * 5000: "1"}}, "circuit.pathways." + "x" * 80),
])
def test_malformed_forms_get_400_naming_the_field(server, form, path):
    for route in ("/api/command", "/api/validate", "/api/run"):
        status, answer, _ = post(server, route, form)
        assert_refused(status, answer, 400)
        assert answer["error"]["path"] == path


def test_json_non_numbers_and_bad_bytes_are_refused(server):
    for body in (b'{"seed": NaN}', b'{"seed": Infinity}', b"\xff\xfe{}", b"[1, 2]", b"not json"):
        status, answer, _ = request(server, "POST", "/api/validate", body)
        assert_refused(status, answer, 400)


# ------------------------------------------------------------------------- overrides

@pytest.mark.parametrize("line, path", [
    ("sim={build_dir:/tmp/circuitsim_evil}", "sim"),
    ("sim.build_dir=/tmp/circuitsim_evil", "sim.build_dir"),
    ("hydra.run.dir=/tmp/circuitsim_evil", "hydra.run.dir"),
    ("hydra/launcher=basic", "hydra/launcher"),
    ("sim.device=runtime", "sim.device"),
    ("sim.threads=64", "sim.threads"),
    ("readout.plots=[raster]", "readout.plots"),
    ("circuit={scale:1}", "circuit"),
    ("circuit.pathways.stn_gpe={weight_scale:3}", "circuit.pathways.stn_gpe"),
    ("circuit.pathways.stn_gpe.weight_scale=[1,{a:2}]", "circuit.pathways.stn_gpe.weight_scale"),
    ("+circuit.pathways.stn_gpe.wieght=2*nS", "circuit.pathways.stn_gpe.wieght"),
    ("++sim.build_dir=/tmp/x", "sim.build_dir"),
    ("~circuit.pathways.stn_gpe", "circuit.pathways.stn_gpe"),
    ("circuit.scale@_global_=1", "circuit.scale"),
    ("sim.seed=1,2,3", "sim.seed"),
    ("sim.seed=range(1,3)", "sim.seed"),
    ("condition=../../../tmp/x", "condition"),
    ("stim=[dbs_gpi,no_such_preset]", "stim"),
    ("task={name:x}", "task"),
])
def test_overrides_outside_the_allow_list_are_refused(server, line, path):
    before = folders(server)
    for route in ("/api/command", "/api/validate", "/api/run"):
        status, answer, _ = post(server, route, {"extra": line})
        assert_refused(status, answer, 400)
        assert answer["error"]["kind"] == "override" and answer["error"]["path"] == path
    assert folders(server) == before and server.app.queue.qsize() == 0


@pytest.mark.parametrize("form", [
    {"extra": "circuit.pathways.stn_gpe.ref=${oc.env:HOME}"},
    {"extra": "task.description='${oc.env:HOME}'"},
    {"extra": "task.description=str(${oc.env:HOME})"},
    {"extra": "task.description=a\\${oc.env:HOME}"},
    {"extra": "stim.x.target=${sim.build_dir}"},
    {"seed": "${oc.env:HOME}"},
    {"pathways": {"stn_gpe": "${oc.env:HOME}"}},
    {"duration": "${oc.env:HOME}"},
])
def test_interpolations_and_resolvers_are_refused(server, form):
    home = os.environ.get("HOME", "/root")
    before = folders(server)
    for route in ("/api/command", "/api/validate", "/api/run"):
        status, answer, _ = post(server, route, form)
        assert_refused(status, answer, 400)
        assert "${...}" in answer["error"]["message"]
        assert home not in json.dumps(answer)
    assert folders(server) == before


def test_the_page_s_own_overrides_pass(server):
    """What the page legitimately sends still works: presets, sliders, a duration and free-text keys."""
    dbs = [p["name"] for p in request(server, "GET", "/api/options")[1]["stim"]["dbs"]]
    form = {"condition": "dystonia_bg", "task": "turn_left", "duration": "2", "seed": "4",
            "pathways": {"stn_gpe": "1.3"}, "modulators": {"dopamine": "0.8"},
            "dbs": {"preset": dbs[0] if dbs else ""},
            "extra": "circuit.pathways.gpe_stn.p_scale=0.9\nsim.dt=0.1*ms\ntask.command.rate=40*Hz\n"
                     "readout.rate_bin=2*ms\nstim=[" + ",".join(dbs[:1] + ["tms_single"]) + "]"}
    status, answer, _ = post(server, "/api/command", form)
    assert status == 200, answer
    assert "circuit.pathways.gpe_stn.p_scale=0.9" in answer["overrides"]


def test_override_text_is_bounded(server):
    lines = "\n".join(f"circuit.pathways.stn_gpe.weight_scale={1 + k / 1e6}" for k in range(20_000))
    assert len(lines) < MAX_BODY
    status, answer, _ = post(server, "/api/validate", {"extra": lines})
    assert_refused(status, answer, 400)
    assert answer["error"]["path"] == "extra"
    status, answer, _ = post(server, "/api/validate", {"extra": "circuit.pathways.stn_gpe.ref=" + "x" * 1000})
    assert_refused(status, answer, 400)
    status, answer, _ = post(server, "/api/validate", {"extra": "x=" + "[" * 300 + "]" * 300})
    assert_refused(status, answer, 400)


def test_check_override_uses_hydra_s_parser():
    catalog = forms.load_catalog()
    forms.check_override("circuit.pathways.stn_gpe.weight_scale=1.5", catalog)
    forms.check_override("stim=[dbs_gpi,tms_single]", catalog)
    with pytest.raises(forms.FormError) as info:
        forms.check_override("sim = {build_dir: /x}", catalog)      # spaces do not hide the key from the parser
    assert info.value.path == "sim"
    with pytest.raises(forms.FormError) as info:
        forms.check_override("circuit.scale=[", catalog)
    assert info.value.path == "circuit.scale" and "not a valid override" in info.value.message


# ------------------------------------------------------------------------- downloads

def test_export_zip_holds_regular_files_only(server, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the zip")
    secret_dir = tmp_path / "secret_dir"
    secret_dir.mkdir()
    (secret_dir / "inner.txt").write_text("not for the zip either")
    run_id = "2000-01-01_00-00-00_symlinks"
    folder = server.app.out_dir / run_id
    (folder / "sub").mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({"run": {}}))
    (folder / "sub" / "data.txt").write_text("regular")
    (folder / "link.txt").symlink_to(secret)
    (folder / "sub" / "link_dir").symlink_to(secret_dir, target_is_directory=True)
    os.mkfifo(folder / "pipe")                  # would block a reader that follows it
    status, blob, _ = request(server, "GET", f"/api/runs/{run_id}/export.zip")
    assert status == 200
    archive = zipfile.ZipFile(io.BytesIO(blob))
    assert sorted(archive.namelist()) == [f"{run_id}/metrics.json", f"{run_id}/sub/data.txt"]
    assert b"not for the zip" not in b"".join(archive.read(n) for n in archive.namelist())
    # a metrics.json that is a symbolic link is not served either
    (folder / "metrics.json").unlink()
    (folder / "metrics.json").symlink_to(secret)
    status, answer, _ = request(server, "GET", f"/api/runs/{run_id}/metrics.json")
    assert_refused(status, answer, 409)
    # a run folder that is itself a symbolic link is no run
    (server.app.out_dir / "2000-01-01_00-00-01").symlink_to(secret_dir, target_is_directory=True)
    status, answer, _ = request(server, "GET", "/api/runs/2000-01-01_00-00-01/export.zip")
    assert_refused(status, answer, 404)


def test_other_methods_get_405(server):
    for method in ("PUT", "DELETE", "PATCH"):
        status, answer, _ = request(server, method, "/api/run", body=b"{}")
        assert_refused(status, answer, 405)


def test_errors_never_show_exception_text(server):
    for path in ("/api/runs/x/view", "/api/no_such_route", "/api/defaults?condition=../../etc",
                 "/api/runs/" + "a" * 300 + "/view", "/static/../server.py"):
        status, answer, _ = request(server, "GET", path)
        assert_refused(status, answer)


# ------------------------------------------------------------------------- cancel, limits, stopping

STUB_WORKER = r'''
"""Stands in for circuitsim.app.worker: reports like it, starts a child (as the compiled program
would be) and then waits; with --ignore-term it ignores SIGTERM (a run stuck in C code)."""
import argparse, json, os, signal, subprocess, sys, time
parser = argparse.ArgumentParser()
parser.add_argument("--fd", type=int)
parser.add_argument("--folder")
args, _ = parser.parse_known_args()
request = json.load(sys.stdin)
if os.environ.get("STUB_IGNORE_TERM"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
out = os.fdopen(args.fd, "w", buffering=1)
out.write(json.dumps({"log": f"child {child.pid}"}) + "\n")
out.write(json.dumps({"log": "simulated 0.50 of 1.00 s (50%), 1.0 s wall"}) + "\n")
while True:
    time.sleep(3600)
'''

WAIT_S = 120   # bound on waiting for a state change of a stub job (it changes within seconds)


def alive(pid):
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_job(server, job_id, states):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        status, job, _ = request(server, "GET", f"/api/jobs/{job_id}")
        assert status == 200
        if job["state"] in states:
            return job
        time.sleep(0.1)
    pytest.fail(f"job {job_id} did not reach {states} within {WAIT_S} s: {job}")


@pytest.fixture
def stub_server(tmp_path):
    stub = tmp_path / "stub_worker.py"
    stub.write_text(STUB_WORKER)
    srv = make_server("127.0.0.1", 0, tmp_path / "runs", fixed=FIXED)
    srv.app.command = [sys.executable, str(stub)]
    with serving(srv, "test-app-stub-server", join_timeout=30):
        yield srv


def children(pid):
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def running_stub(server):
    """Queue a run and wait until its stub process and the stub's child are up: (job id, pid, child pid)."""
    status, answer, _ = post(server, "/api/run", {"duration": "1"})
    assert status == 202, answer
    job_id = answer["job"]["id"]
    wait_job(server, job_id, ("running",))
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        message = request(server, "GET", f"/api/jobs/{job_id}")[1]["message"]
        if message.startswith("child ") or message.startswith("simulated"):
            break
        time.sleep(0.1)
    pid = server.app.jobs[job_id].pid
    kids = children(pid)
    assert pid and alive(pid) and kids and all(alive(k) for k in kids)
    return job_id, pid, kids


def test_the_page_cancels_a_queued_and_a_running_job(stub_server):
    server = stub_server
    job_a, pid, kids = running_stub(server)
    status, answer, _ = post(server, "/api/run", {"duration": "1", "seed": "7"})
    assert status == 202
    job_b = answer["job"]["id"]
    assert answer["job"]["state"] == "queued"
    # other pages cannot cancel
    status, answer, _ = post(server, f"/api/jobs/{job_b}/cancel", {}, headers={"Origin": "http://evil.example"})
    assert_refused(status, answer, 403)
    # the queued job: removed, never started, its folder gone
    status, answer, _ = post(server, f"/api/jobs/{job_b}/cancel", {})
    assert status == 200 and answer["job"]["state"] == "cancelled"
    assert not (server.app.out_dir / job_b).exists()
    # the running job: its process group is stopped
    status, answer, _ = post(server, f"/api/jobs/{job_a}/cancel", {})
    assert status == 202
    job = wait_job(server, job_a, ("cancelled", "failed", "done"))
    assert job["state"] == "cancelled", job
    assert not alive(pid) and not any(alive(k) for k in kids)
    record = json.loads((server.app.out_dir / job_a / "app.json").read_text())
    assert record["state"] == "cancelled"
    assert next(r for r in request(server, "GET", "/api/runs")[1]["runs"] if r["id"] == job_a)["state"] == "cancelled"
    # ended jobs and unknown ids
    status, answer, _ = post(server, f"/api/jobs/{job_a}/cancel", {})
    assert_refused(status, answer, 409)
    status, answer, _ = post(server, "/api/jobs/no_such_job/cancel", {})
    assert_refused(status, answer, 404)
    assert server.app.jobs[job_b].state == "cancelled"          # the worker skipped it
    assert server.app.current is None


def test_a_job_that_ignores_sigterm_is_killed(stub_server, monkeypatch):
    monkeypatch.setenv("STUB_IGNORE_TERM", "1")
    job_id, pid, kids = running_stub(stub_server)
    assert post(stub_server, f"/api/jobs/{job_id}/cancel", {})[0] == 202
    assert wait_job(stub_server, job_id, ("cancelled", "failed", "done"))["state"] == "cancelled"
    assert not alive(pid) and not any(alive(k) for k in kids)


def test_a_run_past_the_wall_clock_limit_is_stopped(stub_server):
    stub_server.app.max_wall_s = 1.0
    job_id, pid, kids = running_stub(stub_server)
    job = wait_job(stub_server, job_id, ("cancelled", "failed", "done"))
    assert job["state"] == "failed" and job["error"]["kind"] == "timeout"
    assert "--max-wall" in job["error"]["message"]
    assert not alive(pid) and not any(alive(k) for k in kids)


def test_stopping_the_server_stops_its_job(tmp_path):
    stub = tmp_path / "stub_worker.py"
    stub.write_text(STUB_WORKER)
    srv = make_server("127.0.0.1", 0, tmp_path / "runs", fixed=FIXED)
    srv.app.command = [sys.executable, str(stub)]
    with serving(srv, "test-app-stop-server", join_timeout=30):
        job_id, pid, kids = running_stub(srv)
        status, answer, _ = post(srv, "/api/run", {"duration": "1", "seed": "9"})
        queued = answer["job"]["id"]
    assert not alive(pid) and not any(alive(k) for k in kids)
    assert srv.app.jobs[job_id].state == "cancelled" and srv.app.jobs[queued].state == "cancelled"
    assert not srv.app.worker.is_alive()


def worker_processes(out_dir):
    """pids of the job processes (circuitsim.app.worker) running into ``out_dir``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"circuitsim.app.worker" in cmdline and any(str(out_dir).encode() in a for a in cmdline):
                found.append(int(entry.name))
    return [pid for pid in found if alive(pid)]


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        kids = children(todo.pop())
        out += kids
        todo += kids
    return out


class AppProcess:
    """``circuitsim-app`` as a separate process on 127.0.0.1 (a free port), as a teacher starts it."""

    def __init__(self, out_dir, *args):
        import queue as _queue
        import re
        import subprocess

        self.proc = subprocess.Popen([sys.executable, "-c", "from circuitsim.app import main; main()",
                                      "--port", "0", "--out-dir", str(out_dir), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = _queue.Queue()
        self.output = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + WAIT_S
        self.port = None
        while self.port is None and time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except _queue.Empty:
                assert self.proc.poll() is None, "".join(self.output)
                continue
            match = re.search(r"open http://127\.0\.0\.1:(\d+)/", line)
            if match:
                self.port = int(match.group(1))
        assert self.port, "".join(self.output)
        self.server_address = ("127.0.0.1", self.port)
        page = request(self, "GET", "/")[1].decode()
        self.app = type("AppInfo", (), {"token": re.search(r'name="circuitsim-token" content="([^"]+)"', page).group(1)})

    def _read(self):
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_circuitsim_app_stops_cleanly_on_a_signal(tmp_path, sig):
    import signal as _signal

    out_dir = tmp_path / "runs"
    app = AppProcess(out_dir)
    try:
        status, answer, _ = post(app, "/api/run", {"duration": "60"})
        assert status == 202, answer
        wait_job(app, answer["job"]["id"], ("running",))
        deadline = time.monotonic() + WAIT_S
        workers = []
        while not workers and time.monotonic() < deadline:
            workers = worker_processes(out_dir)
            time.sleep(0.1)
        assert workers, "".join(app.output)
        family = workers + [p for w in workers for p in descendants(w)]
        app.proc.send_signal(getattr(_signal, sig))
        rc = app.proc.wait(timeout=WAIT_S)
    finally:
        if app.proc.poll() is None:
            app.proc.kill()
            app.proc.wait()
    app.reader.join(timeout=WAIT_S)   # the output up to the end
    output = "".join(app.output)
    assert rc == 0, output
    assert "Traceback" not in output and "unexpected error" not in output.lower(), output
    assert "stopped" in output
    assert not any(alive(p) for p in family), [p for p in family if alive(p)]
    assert worker_processes(out_dir) == []


@pytest.mark.slow
def test_cancel_stops_the_compiled_program(server):
    """A real run on the standalone device: cancelling it while the compiled program runs stops that program."""
    status, answer, _ = post(server, "/api/run", {"duration": "60"})
    assert status == 202, answer
    job_id = answer["job"]["id"]
    wait_job(server, job_id, ("running",))
    deadline = time.monotonic() + 900      # a first build of this structure takes up to a few minutes
    program = []
    while not program and time.monotonic() < deadline:
        pid = server.app.jobs[job_id].pid
        assert server.app.jobs[job_id].state == "running", server.app.jobs[job_id]
        for p in descendants(pid) if pid else []:
            try:
                if b"--results_dir" in Path(f"/proc/{p}/cmdline").read_bytes():
                    program.append(p)
            except OSError:
                pass
        time.sleep(0.2)
    assert program, "the compiled program never started"
    status, answer, _ = post(server, f"/api/jobs/{job_id}/cancel", {})
    assert status == 202
    assert wait_job(server, job_id, ("cancelled", "failed", "done"))["state"] == "cancelled"
    assert not any(alive(p) for p in program)
    assert not (server.app.out_dir / job_id / "metrics.json").exists()
