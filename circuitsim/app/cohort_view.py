"""The teaching page's cohort view: a virtual patient's connectivity matrix next to a healthy one.

Read-only. A *cohort* is a folder ``<cohort root>/<name>/`` holding the ``cohort_table.csv`` that
``experiments/virtual_patients/run.py`` writes (one row per patient and measurement, every
``connectivity.*`` key as a column). The cohort root is ``app.cohort_dir`` when the server has one,
else ``<out_dir>/../experiments`` (the default ``outputs/app`` gives ``outputs/experiments``, where
the experiments write). Nothing is ever written, and nothing from a request names a path: a
cohort name must be one of the folders listed (a plain name, no ``/`` or ``..``), symbolic links
are neither listed nor followed, and the table is read through the server's
:func:`~circuitsim.app.common.read_regular`.

API (GET, JSON; :func:`answer`)::

    /api/cohorts                       {cohorts: [{name, patients, classes, measurements}]}
    /api/cohorts/<name>                {name, patients: [{patient, class, dose, side, severity}],
                                        regions, bands, measures, measurements}
    /api/cohorts/<name>?patient=<i>&measure=coherence|granger&band=<band>&measurement=baseline
                                       ... plus {patient: {...}, matrix, healthy: {n, matrix}}

``matrix[i][j]`` is ``connectivity.<measure>.<region i>__<region j>.<band>`` of that patient's row
(coherence is symmetric; Granger's ``[i][j]`` is region i -> region j), None on the diagonal and
where the run had no value; ``healthy.matrix`` is the mean over the cohort's healthy patients'
baseline rows (``n`` of them), the reference the page draws next to the patient.
"""

from __future__ import annotations

import csv
import io
import math
import re
import threading
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

TABLE = "cohort_table.csv"
MEASURES = ("coherence", "granger")
#: largest cohort table read (bytes); a full cohort (about 1000 rows x 440 columns) is about 10 MB
MAX_TABLE_BYTES = 64 << 20
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_KEY = re.compile(r"^connectivity\.(coherence|granger)\.([a-z0-9_]+?)__([a-z0-9_]+)\.([a-z0-9_]+)$")
_cache: Dict[Tuple[str, int, int], List[Dict[str, str]]] = {}
_lock = threading.Lock()


class CohortViewError(Exception):
    """A request the cohort view refuses: HTTP status, message, the query field at fault."""

    def __init__(self, status: int, message: str, path: Optional[str] = None):
        super().__init__(message)
        self.status, self.message, self.path = status, message, path


def cohort_root(app: Any) -> Path:
    root = getattr(app, "cohort_dir", None)
    return Path(root) if root is not None else Path(app.out_dir).parent / "experiments"


def _folders(root: Path) -> Dict[str, Path]:
    """name -> folder of every cohort under ``root`` (real folders with a regular cohort table)."""
    out: Dict[str, Path] = {}
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return out
    for entry in entries:
        if not _NAME.match(entry.name) or entry.is_symlink() or not entry.is_dir():
            continue
        table = entry / TABLE
        if table.is_file() and not table.is_symlink():
            out[entry.name] = entry
    return out


def _rows(folder: Path) -> List[Dict[str, str]]:
    from circuitsim.app.common import read_regular

    path = folder / TABLE
    try:
        st = path.lstat()
    except OSError:
        raise CohortViewError(404, "no such cohort") from None
    if st.st_size > MAX_TABLE_BYTES:
        raise CohortViewError(413, f"the cohort table is larger than {MAX_TABLE_BYTES >> 20} MB")
    key = (str(path), st.st_mtime_ns, st.st_size)
    with _lock:
        if key in _cache:
            return _cache[key]
    data = read_regular(path)
    if data is None:
        raise CohortViewError(404, "no such cohort")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8", "replace"))))
    with _lock:
        _cache.clear()          # one table at a time: the page looks at one cohort
        _cache[key] = rows
    return rows


def _num(text: Any) -> Optional[float]:
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _layout(columns: Sequence[str]) -> Tuple[List[str], List[str]]:
    """The regions (in the table's order) and bands of the connectivity columns."""
    regions: List[str] = []
    bands: List[str] = []
    for c in columns:
        m = _KEY.match(c)
        if m:
            for r in (m.group(2), m.group(3)):
                if r not in regions:
                    regions.append(r)
            if m.group(4) not in bands:
                bands.append(m.group(4))
    return regions, bands


def matrix(row: Mapping[str, Any], measure: str, band: str, regions: Sequence[str]) -> List[List[Optional[float]]]:
    """The regions x regions matrix of one table row (see the module doc)."""
    out: List[List[Optional[float]]] = []
    for i, a in enumerate(regions):
        line: List[Optional[float]] = []
        for j, b in enumerate(regions):
            if i == j:
                line.append(None)
                continue
            pair = f"{a}__{b}" if measure == "granger" or i < j else f"{b}__{a}"
            line.append(_num(row.get(f"connectivity.{measure}.{pair}.{band}")))
        out.append(line)
    return out


def _mean(mats: Sequence[List[List[Optional[float]]]]) -> List[List[Optional[float]]]:
    if not mats:
        return []
    n = len(mats[0])
    out = []
    for i in range(n):
        line = []
        for j in range(n):
            vals = [m[i][j] for m in mats if m[i][j] is not None]
            line.append(sum(vals) / len(vals) if vals else None)
        out.append(line)
    return out


def _one(query: Mapping[str, Sequence[str]], key: str, default: Optional[str]) -> Optional[str]:
    values = query.get(key) or []
    if len(values) > 1:
        raise CohortViewError(400, f"give {key} once", key)
    return values[0] if values else default


def answer(app: Any, parts: Sequence[str], query: Mapping[str, Sequence[str]]) -> Tuple[int, Dict[str, Any]]:
    """(HTTP status, JSON) of ``/api/cohorts/<parts...>?<query>`` (errors as the server's
    ``{"error": {kind, path, message}}``)."""
    try:
        return 200, _answer(app, list(parts), query)
    except CohortViewError as err:
        return err.status, {"error": {"kind": "request", "path": err.path, "message": err.message}}


def _answer(app: Any, parts: List[str], query: Mapping[str, Sequence[str]]) -> Dict[str, Any]:
    folders = _folders(cohort_root(app))
    if not parts:
        listing = []
        for name, folder in folders.items():
            rows = _rows(folder)
            listing.append({"name": name, "patients": len({r.get("patient") for r in rows}),
                            "classes": sorted({r.get("class", "") for r in rows}),
                            "measurements": sorted({r.get("measurement", "") for r in rows})})
        return {"cohorts": listing}
    if len(parts) != 1:
        raise CohortViewError(404, "no such API route")
    name = parts[0]
    if name not in folders:
        raise CohortViewError(404, "no such cohort", "name")
    rows = _rows(folders[name])
    regions, bands = _layout(list(rows[0]) if rows else [])
    measurements = sorted({r.get("measurement", "") for r in rows})
    baseline = [r for r in rows if r.get("measurement") == "baseline"]
    out: Dict[str, Any] = {
        "name": name, "regions": regions, "bands": bands, "measures": list(MEASURES), "measurements": measurements,
        "patients": [{"patient": int(float(r["patient"])), "class": r.get("class"), "dose": _num(r.get("dose")),
                      "side": r.get("side") or None, "severity": _num(r.get("severity"))} for r in baseline]}
    patient = _one(query, "patient", None)
    if patient is None:
        return out
    if not re.fullmatch(r"[0-9]{1,6}", patient):
        raise CohortViewError(400, "patient: a patient number from the list", "patient")
    measure = _one(query, "measure", "coherence")
    if measure not in MEASURES:
        raise CohortViewError(400, f"measure: one of {', '.join(MEASURES)}", "measure")
    band = _one(query, "band", "beta" if "beta" in bands else (bands[0] if bands else ""))
    if band not in bands:
        raise CohortViewError(400, f"band: one of {', '.join(bands)}", "band")
    measurement = _one(query, "measurement", "baseline")
    if measurement not in measurements:
        raise CohortViewError(400, f"measurement: one of {', '.join(measurements)}", "measurement")
    row = next((r for r in rows if r.get("measurement") == measurement and _num(r.get("patient")) == int(patient)),
               None)
    if row is None:
        raise CohortViewError(404, f"patient {patient} has no {measurement} row in this cohort", "patient")
    healthy = [matrix(r, measure, band, regions) for r in baseline if r.get("class") == "healthy"]
    out.update({"measure": measure, "band": band, "measurement": measurement,
                "patient": {"patient": int(patient), "class": row.get("class"), "dose": _num(row.get("dose")),
                            "side": row.get("side") or None, "severity": _num(row.get("severity"))},
                "matrix": matrix(row, measure, band, regions),
                "healthy": {"n": len(healthy), "matrix": _mean(healthy)}})
    return out
