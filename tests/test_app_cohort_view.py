"""The teaching page's cohort view (circuitsim/app/cohort_view.py): a patient's connectivity matrix
next to the healthy patients' mean, read from a cohort table on disk; read only, names only the
cohorts it lists, refuses bad queries with a 4xx naming the field."""

from __future__ import annotations

import csv
import http.client
import json
import os
import zlib
from pathlib import Path

import pytest

from circuitsim.analysis.connectivity import feature_names
from circuitsim.app.server import make_server
from serving import serving

REGIONS = ["ctx", "gpi", "dcn"]
BANDS = ["theta", "beta"]


def _value(patient, key):
    """A distinct, known value per patient and key."""
    return round(0.01 * patient + 0.001 * (zlib.crc32(key.encode()) % 97) / 97, 6)


def _write_cohort(folder: Path) -> dict:
    keys = feature_names(REGIONS, BANDS)
    rows = []
    for patient, cls in enumerate(["healthy", "healthy", "dystonia_bg", "dystonia_bg"]):
        for measurement in (["baseline"] if cls == "healthy" else ["baseline", "dbs_gpi"]):
            row = {"patient": patient, "class": cls, "dose": 0.0 if cls == "healthy" else 0.8,
                   "side": "" if cls == "healthy" else "right", "measurement": measurement, "severity": 0.1 * patient}
            row.update({k: _value(patient + (10 if measurement != "baseline" else 0), k) for k in keys})
            row["connectivity.coherence.ctx__gpi.beta"] = "" if patient == 3 else row["connectivity.coherence.ctx__gpi.beta"]
            rows.append(row)
    folder.mkdir(parents=True)
    with open(folder / "cohort_table.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return {"rows": rows}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("cohorts")
    _write_cohort(root / "small")
    (root / "empty_folder").mkdir()
    outside = tmp_path_factory.mktemp("outside")
    _write_cohort(outside / "secret")
    os.symlink(outside / "secret", root / "linked")                 # a symlinked cohort folder
    (root / "linked_table").mkdir()
    os.symlink(outside / "secret" / "cohort_table.csv", root / "linked_table" / "cohort_table.csv")
    srv = make_server("127.0.0.1", 0, tmp_path_factory.mktemp("app_runs"), fixed=["readout.plots=[]"])
    srv.app.cohort_dir = root
    with serving(srv, "test-app-cohort-view") as s:
        yield s


def get(server, path, host=None):
    h, port = server.server_address[:2]
    conn = http.client.HTTPConnection(h, port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": host or f"127.0.0.1:{port}"})
        response = conn.getresponse()
        payload = response.read()
        if response.getheader("Content-Type", "").startswith("application/json"):
            return response.status, json.loads(payload)
        return response.status, payload
    finally:
        conn.close()


def _tree(root: Path) -> dict:
    return {str(p): (p.lstat().st_mtime_ns, p.lstat().st_size) for p in root.rglob("*")}


def test_lists_only_real_cohort_folders(server):
    status, data = get(server, "/api/cohorts")
    assert status == 200
    assert [c["name"] for c in data["cohorts"]] == ["small"]      # no symlinks, no folder without a table
    small = data["cohorts"][0]
    assert small["patients"] == 4 and small["classes"] == ["dystonia_bg", "healthy"]
    assert small["measurements"] == ["baseline", "dbs_gpi"]


def test_patient_matrix_next_to_the_healthy_mean(server):
    status, data = get(server, "/api/cohorts/small?patient=2&measure=coherence&band=theta")
    assert status == 200
    assert data["regions"] == REGIONS and data["bands"] == BANDS
    m, h = data["matrix"], data["healthy"]["matrix"]
    i, j = REGIONS.index("ctx"), REGIONS.index("dcn")
    key = "connectivity.coherence.ctx__dcn.theta"
    assert m[i][j] == m[j][i] == pytest.approx(_value(2, key))            # symmetric
    assert m[i][i] is None
    assert data["healthy"]["n"] == 2
    assert h[i][j] == pytest.approx((_value(0, key) + _value(1, key)) / 2)
    assert data["patient"] == {"patient": 2, "class": "dystonia_bg", "dose": 0.8, "side": "right",
                               "severity": pytest.approx(0.2)}


def test_granger_is_directed_and_measurements_and_missing_values(server):
    status, data = get(server, "/api/cohorts/small?patient=3&measure=granger&band=beta&measurement=dbs_gpi")
    assert status == 200
    g = data["matrix"]
    a, b = REGIONS.index("gpi"), REGIONS.index("dcn")
    assert g[a][b] == pytest.approx(_value(13, "connectivity.granger.gpi__dcn.beta"))   # row gpi -> column dcn
    assert g[b][a] == pytest.approx(_value(13, "connectivity.granger.dcn__gpi.beta"))
    status, data = get(server, "/api/cohorts/small?patient=3&band=beta")
    assert data["matrix"][0][1] is None                                   # an empty cell of the table


@pytest.mark.parametrize("query, field", [("patient=x", "patient"), ("patient=2&measure=pli", "measure"),
                                          ("patient=2&band=omega", "band"),
                                          ("patient=2&measurement=../x", "measurement"),
                                          ("patient=2&patient=3", "patient"), ("patient=9", "patient")])
def test_bad_queries_are_refused_naming_the_field(server, query, field):
    status, data = get(server, f"/api/cohorts/small?{query}")
    assert 400 <= status < 500
    assert data["error"]["path"] == field
    assert "Traceback" not in data["error"]["message"]


@pytest.mark.parametrize("path", ["/api/cohorts/..%2F..%2Fetc", "/api/cohorts/../app_runs", "/api/cohorts/linked",
                                  "/api/cohorts/linked_table", "/api/cohorts/small/extra", "/api/cohorts/%2Fetc"])
def test_no_path_outside_the_listing(server, path):
    status, data = get(server, path)
    assert status == 404, (path, data)


def test_reads_nothing_for_another_host_and_writes_nothing(server):
    root = Path(server.app.cohort_dir)
    before, runs_before = _tree(root), _tree(server.app.out_dir)
    assert get(server, "/api/cohorts", host="evil.example:80")[0] == 403
    for path in ("/api/cohorts", "/api/cohorts/small?patient=2", "/api/cohorts/small?patient=zz"):
        get(server, path)
    assert _tree(root) == before and _tree(server.app.out_dir) == runs_before


def test_the_page_is_served(server):
    status, page = get(server, "/static/cohort.html")
    assert status == 200 and b"/static/cohort.js" in page
    status, script = get(server, "/static/cohort.js")
    assert status == 200 and b"innerHTML" not in script                  # text goes in with textContent


def test_without_a_cohort_dir_the_experiments_folder_next_to_the_runs_is_read(tmp_path):
    from circuitsim.app.cohort_view import answer

    class App:
        out_dir = tmp_path / "outputs" / "app"

    _write_cohort(tmp_path / "outputs" / "experiments" / "vp")
    status, data = answer(App(), [], {})
    assert status == 200 and [c["name"] for c in data["cohorts"]] == ["vp"]
