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
import threading
import zipfile
from pathlib import Path

import pytest

from circuitsim.app import forms
from circuitsim.app.server import MAX_BODY, MAX_JSON_DEPTH, TOKEN_HEADER, make_server

FIXED = ["readout.plots=[]"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = make_server("127.0.0.1", 0, tmp_path_factory.mktemp("app_security_runs"), fixed=FIXED)
    thread = threading.Thread(target=srv.serve_forever, name="test-app-security-server", daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=10)


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


def test_errors_never_show_exception_text(server):
    for path in ("/api/runs/x/view", "/api/no_such_route", "/api/defaults?condition=../../etc",
                 "/api/runs/" + "a" * 300 + "/view", "/static/../server.py"):
        status, answer, _ = request(server, "GET", path)
        assert_refused(status, answer)
