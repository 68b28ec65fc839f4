"""The teaching page's web server: a JSON API over the standard library's HTTP server.

Requests are answered by a :class:`~http.server.ThreadingHTTPServer`; simulations run one at a
time, fed by a queue to a background worker thread that starts each run as a process of its own
(:mod:`circuitsim.app.worker`, in its own process group), so the page stays responsive while a
run is going, shows its state, and can cancel it; a run past the wall-clock limit
(``--max-wall``) is stopped, and so is the running one when the server stops. Every run is an
ordinary run folder under ``out_dir`` (written by :func:`circuitsim.api.simulate`) plus
``app.json``, the page's record of the form, the overrides and the equivalent command line; any
finished run folder there can be reopened.

API (all JSON unless noted)::

    GET  /                         the page (static files under /static/)
    GET  /api/options              conditions, tasks, stimulation presets, pathways, modulators
    GET  /api/defaults?condition=  the condition's pathway scales and modulator levels
    POST /api/command              form -> {overrides, command}                (no validation)
    POST /api/validate             form -> {ok, overrides, command} or 400 {error}
    POST /api/run                  form -> 202 {job} (queued) or 400 {error}
    POST /api/jobs/<id>/cancel     a queued job never starts (200); a running one is stopped (202,
                                   then state "cancelled"); 409 if it has ended
    GET  /api/status               {jobs, busy, queued}
    GET  /api/runs                 run folders under out_dir, newest first
    GET  /api/runs/<id>/view       what the page draws for one run
    GET  /api/runs/<id>/metrics.json, /api/runs/<id>/export.zip   downloads
    GET  /api/cohorts[/<name>]     the cohort view (/static/cohort.html), read only: cohort_view.py

Security model (see also docs/app.md). The server is meant for one person's machine: it binds
127.0.0.1 by default, and it assumes that any other web page open in the same browser may try
to use it. Therefore:

* every request must name the server itself in ``Host`` (its port, and ``localhost``, an IP
  address or a name given with ``--allow-host``), so a DNS-rebinding page cannot read or post;
  an ``Origin`` header, when sent, must be the page's own origin; a ``Sec-Fetch-Site:
  cross-site`` request is refused;
* a POST must be ``Content-Type: application/json`` (a cross-site form cannot send that without
  a CORS preflight, which this server never grants) and carry ``X-Circuitsim-Token``, a random
  token made at each start and written into the served page (``<meta name="circuitsim-token">``);
* a POST body must have a ``Content-Length`` (411 otherwise, e.g. chunked), at most
  :data:`MAX_BODY` bytes (413), JSON nested at most :data:`MAX_JSON_DEPTH` deep and without
  ``NaN``/``Infinity`` (400);
* the form's overrides are parsed by Hydra's override parser and checked against an allow-list of
  config paths (:func:`circuitsim.app.forms.check_override`): never ``hydra.*``,
  ``sim.build_dir`` or other server settings, no dict values, no ``${...}`` interpolation or
  resolver, no ``+``/``++``/``~``;
* every refused request gets a 4xx JSON answer ``{"error": {kind, path, message}}`` with a
  short message, never exception text (unexpected errors are 500 with a generic message; the
  details go to the server's log);
* a run folder's downloads contain regular files only: symbolic links are neither followed nor
  zipped;
* other methods than GET/HEAD/POST get 405, and a connection silent for :attr:`Handler.timeout`
  seconds is closed.
"""

from __future__ import annotations

import io
import ipaddress
import json
import logging
import mimetypes
import os
import queue
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence
from urllib.parse import parse_qs, urlsplit

from circuitsim.app import forms

logger = logging.getLogger(__name__)

APP_RECORD = "app.json"
#: at most this many runs wait in the queue (one more may be running)
MAX_QUEUE = 8
#: longest biological time (s) one page run may simulate by default (circuitsim-app --max-duration)
MAX_DURATION_S = 60.0
#: wall-clock limit of one page run, compilation included (s; circuitsim-app --max-wall)
MAX_WALL_S = 900.0
#: after SIGTERM, a job's process has this long to clean up before SIGKILL (s)
STOP_GRACE_S = 5.0
#: rendered views kept in memory
VIEW_CACHE = 16
#: largest request body accepted (bytes); a form is a few kB
MAX_BODY = 1 << 20
#: deepest JSON nesting accepted in a request body (a form is 2 deep)
MAX_JSON_DEPTH = 8
#: after refusing a body unread, drop at most this much of it, for at most this long (a lingering close)
LINGER_BYTES, LINGER_S = 4 << 20, 1.0
#: header a POST must carry, with the token written into the served page
TOKEN_HEADER = "X-Circuitsim-Token"
_TOKEN_META = "circuitsim-token"
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_STATIC_NAME = re.compile(r"^[A-Za-z0-9_-]+\.(html|js|css|svg|png)$")
_PROGRESS = re.compile(r"simulated ([0-9.]+) of ([0-9.]+) s")


def static_dir() -> Path:
    return Path(str(resources.files("circuitsim.app") / "static"))


def _atomic_json(path: Path, data: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def stop_process(proc: "subprocess.Popen[bytes]", grace_s: float = STOP_GRACE_S) -> None:
    """Stop a job's process group: SIGTERM (the job stops its compiled program and cleans up), then
    SIGKILL after ``grace_s`` (the compiled program dies with its parent)."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, grace_s)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            continue
    try:   # what is left of the group (e.g. a compiler started by the job) goes too
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    # SIGKILL is delivered asynchronously: return only once no member of the group still runs, so
    # that a caller (and a test) sees the job's children gone, not dying
    deadline = time.monotonic() + grace_s
    while group_running(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.01)


def group_running(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (zombies, which only wait to be reaped, do
    not count; where /proc is missing, whether the group has any member)."""
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in proc_dir.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":   # state, ppid, pgrp
            return True
    return False


def read_regular(path: Path) -> Optional[bytes]:
    """The bytes of ``path`` if it is a regular file (not a symbolic link, device or pipe), else None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return None
        return fh.read()


class RequestError(Exception):
    """A request the server refuses: HTTP status and a short message."""

    def __init__(self, status: int, message: str, path: Optional[str] = None):
        super().__init__(message)
        self.status, self.message, self.path = status, message, path


def json_depth_ok(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text nests arrays and objects at most ``limit`` deep (strings skipped).

    Checked before :func:`json.loads`, whose recursion a deeply nested body would exhaust.
    """
    depth = 0
    for token in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text):
        ch = token.group()
        if ch in "[{":
            depth += 1
            if depth > limit:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


@dataclass
class Job:
    """One simulation requested by the page."""

    id: str
    folder: Path
    form: Dict[str, Any]
    overrides: List[str]
    command: str
    state: str = "queued"            # queued | running | done | failed | cancelled
    message: str = "waiting for the worker"
    progress: Optional[float] = None
    created: float = field(default_factory=time.time)
    started: Optional[float] = None
    finished: Optional[float] = None
    error: Optional[Dict[str, Any]] = None
    #: set by :meth:`App.cancel`, or by the server's shutdown; the worker thread stops the process
    stop: threading.Event = field(default_factory=threading.Event, repr=False)
    pid: Optional[int] = field(default=None, repr=False)

    def as_dict(self) -> Dict[str, Any]:
        now = time.time()
        elapsed = None
        if self.started is not None:
            elapsed = (self.finished or now) - self.started
        return {"id": self.id, "run": self.id, "state": self.state, "message": self.message,
                "progress": self.progress, "elapsed_s": elapsed, "command": self.command,
                "overrides": self.overrides, "error": self.error, "created": self.created}


def worker_command() -> List[str]:
    """The command of one job's process (see :mod:`circuitsim.app.worker`)."""
    return [sys.executable, "-m", "circuitsim.app.worker"]


class App:
    """State of the server: the catalog of choices, the job queue and its worker, the run folders.

    Parameters
    ----------
    out_dir : path
        Run folders are created here (one per run) and listed from here.
    fixed : sequence of str
        Overrides added to every run (e.g. ``readout.plots=[]`` or ``sim.device=runtime``).
    max_duration_s : float
        Longest biological time one run may simulate (``circuitsim-app --max-duration``).
    max_wall_s : float
        Wall-clock limit of one run, compilation included (``circuitsim-app --max-wall``); a run
        still going after it is stopped and reported as failed (error kind ``timeout``). 0 = none.

    Each run is a process of its own (:mod:`circuitsim.app.worker`, in its own process group),
    started by one worker thread, so a run can be cancelled, or stopped at its wall-clock limit,
    and the server stops its run when it stops (:meth:`close`).
    """

    def __init__(self, out_dir: Path | str, fixed: Sequence[str] = (), max_duration_s: float = MAX_DURATION_S,
                 max_wall_s: float = MAX_WALL_S):
        #: random per start; the served page carries it, and every POST must send it back
        self.token = secrets.token_urlsafe(32)
        self.out_dir = Path(out_dir).resolve()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.fixed = list(fixed)
        self.max_duration_s = float(max_duration_s)
        self.max_wall_s = float(max_wall_s)
        self.command = worker_command()
        self.catalog = forms.load_catalog()
        self.jobs: "OrderedDict[str, Job]" = OrderedDict()
        self.queue: "queue.Queue[Optional[Job]]" = queue.Queue()
        self.current: Optional[Job] = None
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self._views: "OrderedDict[str, bytes]" = OrderedDict()
        self._summaries: Dict[str, tuple] = {}
        self.worker = threading.Thread(target=self._work, name="circuitsim-app-worker", daemon=True)
        self.worker.start()

    # ------------------------------------------------------------------ forms
    def overrides(self, form: Dict[str, Any]) -> List[str]:
        return forms.form_overrides(form, self.catalog, self.fixed)

    def submit(self, form: Dict[str, Any]) -> tuple[int, Dict[str, Any]]:
        """Validate ``form`` and queue its run; (HTTP status, answer)."""
        try:
            overrides = self.overrides(form)
        except forms.FormError as err:
            return HTTPStatus.BAD_REQUEST, {"error": err.as_dict()}
        command = forms.command_line(overrides)
        cfg, error = forms.validate(overrides)
        if error is not None:
            return HTTPStatus.BAD_REQUEST, {"error": error, "overrides": overrides, "command": command}
        from circuitsim.units import to_si

        duration = to_si(cfg.sim.duration, "time", "sim.duration")
        if duration > self.max_duration_s:
            return HTTPStatus.BAD_REQUEST, {"error": {
                "kind": "form", "path": "sim.duration",
                "message": f"{duration:g} s of biological time is more than this page runs ({self.max_duration_s:g} s, "
                           f"circuitsim-app --max-duration); choose a shorter duration, or run the command line "
                           f"below in a terminal"}, "overrides": overrides, "command": command}
        with self.lock:
            if self.closing.is_set():
                return HTTPStatus.SERVICE_UNAVAILABLE, {"error": {"kind": "busy", "path": None,
                                                                  "message": "the server is stopping"}}
            if sum(j.state == "queued" for j in self.jobs.values()) >= MAX_QUEUE:
                return HTTPStatus.TOO_MANY_REQUESTS, {"error": {"kind": "busy", "path": None, "message":
                                                                f"{MAX_QUEUE} runs are already waiting; try again later"}}
            run_id = self._new_id()
            folder = self.out_dir / run_id
            folder.mkdir(parents=True)
            job = Job(id=run_id, folder=folder, form=form, overrides=overrides, command=command)
            self.jobs[run_id] = job
        _atomic_json(folder / APP_RECORD, self._record(job))
        self.queue.put(job)
        logger.info("queued run %s: %s", run_id, command)
        return HTTPStatus.ACCEPTED, {"job": job.as_dict()}

    def _new_id(self) -> str:
        stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
        run_id, k = stamp, 1
        while (self.out_dir / run_id).exists() or run_id in self.jobs:
            k += 1
            run_id = f"{stamp}_{k}"
        return run_id

    def _record(self, job: Job) -> Dict[str, Any]:
        record = {"form": job.form, "overrides": job.overrides, "command": job.command, "fixed": self.fixed,
                  "created": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(job.created))}
        if job.state in ("cancelled", "failed"):
            record.update({"state": job.state, "message": job.message})
        return record

    # ------------------------------------------------------------------ cancel
    def cancel(self, job_id: str) -> tuple[int, Dict[str, Any]]:
        """Cancel a queued job (it never starts; its folder is removed) or stop a running one."""
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                return HTTPStatus.NOT_FOUND, {"error": {"kind": "request", "path": None, "message": "no such job"}}
            if job.state == "queued":
                job.state, job.message, job.finished = "cancelled", "cancelled before it started", time.time()
                job.stop.set()
                shutil.rmtree(job.folder, ignore_errors=True)
                logger.info("cancelled queued run %s", job.id)
                return HTTPStatus.OK, {"job": job.as_dict()}
            if job.state != "running":
                return HTTPStatus.CONFLICT, {"error": {"kind": "request", "path": None,
                                                       "message": f"run {job.id} has already ended ({job.state})"},
                                             "job": job.as_dict()}
            job.message = "stopping"
            job.stop.set()
        logger.info("cancelling running run %s", job.id)
        return HTTPStatus.ACCEPTED, {"job": job.as_dict()}

    # ------------------------------------------------------------------ worker
    def _work(self) -> None:
        while True:
            job = self.queue.get()
            if job is None:
                return
            if job.state != "queued":      # cancelled while it waited
                continue
            try:
                self._run(job)
            except Exception:   # keep the worker alive whatever a run does
                logger.exception("run %s failed", job.id)
                job.state, job.message = "failed", "the server could not run it (its log has the details)"
                job.error = {"kind": "error", "path": None, "message": job.message}
                job.finished = job.finished or time.time()

    def _run(self, job: Job) -> None:
        with self.lock:
            if job.state != "queued":
                return
            self.current = job
            job.state, job.started, job.message = "running", time.time(), "starting"
        reports: List[Dict[str, Any]] = []
        tail: "deque[str]" = deque(maxlen=40)
        read_end, write_end = os.pipe()
        try:
            proc = subprocess.Popen(self.command + ["--fd", str(write_end), "--folder", str(job.folder)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    pass_fds=(write_end,), start_new_session=True)
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        job.pid = proc.pid
        readers = [threading.Thread(target=self._read_reports, args=(job, read_end, reports), daemon=True,
                                    name=f"circuitsim-app-reports-{job.id}"),
                   threading.Thread(target=self._read_output, args=(job, proc.stdout, tail), daemon=True,
                                    name=f"circuitsim-app-output-{job.id}")]
        for thread in readers:
            thread.start()
        try:
            proc.stdin.write(json.dumps({"overrides": job.overrides}).encode())
            proc.stdin.close()
        except OSError:   # it died at once; its exit code and output say why
            pass
        deadline = job.started + self.max_wall_s if self.max_wall_s > 0 else None
        timed_out = False
        while proc.poll() is None:
            remaining = None if deadline is None else deadline - time.time()
            if remaining is not None and remaining <= 0:
                timed_out = True
                break
            if job.stop.wait(timeout=0.5 if remaining is None else min(0.5, remaining)):
                break
        if proc.poll() is None:
            stop_process(proc)
        for thread in readers:
            thread.join(timeout=STOP_GRACE_S)
        final = next((r for r in reversed(reports) if "state" in r), {})
        with self.lock:
            job.finished = time.time()
            job.pid = None
            self.current = None
            if timed_out:
                job.state = "failed"
                job.message = (f"stopped after {job.finished - job.started:.0f} s: runs from this page may take at most "
                               f"{self.max_wall_s:g} s (circuitsim-app --max-wall)")
                job.error = {"kind": "timeout", "path": None, "message": job.message}
            elif final.get("state") == "done" and proc.returncode == 0:
                job.state = "done"
                job.message = f"finished in {job.finished - job.started:.1f} s"
            elif job.stop.is_set():
                job.state = "cancelled"
                job.message = "stopped: the server stopped" if self.closing.is_set() else "cancelled while it ran"
            else:
                job.state = "failed"
                job.error = final.get("error") or {"kind": "error", "path": None, "message":
                                                   f"the run's process ended with exit code {proc.returncode}"}
                job.message = str(job.error.get("message") or "failed").splitlines()[0][:300]
        if job.state == "done":
            logger.info("run %s %s", job.id, job.message)
            try:   # the page asks for it next: prepare it now
                self.view(job.id)
            except Exception:   # the run folder is complete; the view is retried when the page asks
                logger.exception("cannot prepare the view of run %s", job.id)
        else:
            logger.warning("run %s %s: %s", job.id, job.state, job.message)
            if job.state == "failed" and tail:
                logger.info("last output of run %s:\n%s", job.id, "\n".join(tail))
            try:
                _atomic_json(job.folder / APP_RECORD, self._record(job))
            except OSError:
                pass

    @staticmethod
    def _read_reports(job: Job, fd: int, reports: List[Dict[str, Any]]) -> None:
        with os.fdopen(fd, "rb") as fh:
            for line in fh:
                try:
                    report = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(report, dict):
                    continue
                reports.append(report)
                message = report.get("log")
                if isinstance(message, str) and message and job.state == "running" and not job.stop.is_set():
                    job.message = message[:300]
                    match = _PROGRESS.search(message)
                    if match and float(match.group(2)) > 0:
                        job.progress = float(match.group(1)) / float(match.group(2))

    @staticmethod
    def _read_output(job: Job, stream, tail: "deque[str]") -> None:
        with stream:
            for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    tail.append(line[:500])
                    logger.debug("run %s: %s", job.id, line)

    def close(self) -> None:
        """Stop: cancel the queued runs, stop the running one (its process group), end the worker."""
        self.closing.set()
        with self.lock:
            for job in self.jobs.values():
                if job.state == "queued":
                    job.state, job.message, job.finished = "cancelled", "cancelled: the server stopped", time.time()
                    shutil.rmtree(job.folder, ignore_errors=True)
                job.stop.set()
        self.queue.put(None)
        if self.worker.is_alive() and threading.current_thread() is not self.worker:
            self.worker.join(timeout=2 * STOP_GRACE_S + 5)

    # ------------------------------------------------------------------ runs
    def folder(self, run_id: str) -> Path:
        if not _RUN_ID.match(run_id):
            raise KeyError(run_id)
        folder = (self.out_dir / run_id).resolve()
        if folder.parent != self.out_dir or not folder.is_dir():
            raise KeyError(run_id)
        return folder

    def _cache(self, run_id: str, data: bytes) -> None:
        with self.lock:
            self._views[run_id] = data
            self._views.move_to_end(run_id)
            while len(self._views) > VIEW_CACHE:
                self._views.popitem(last=False)

    def view(self, run_id: str) -> bytes:
        """The page's data of a finished run (computed on first request, then cached)."""
        from circuitsim.app.view import build_view
        from circuitsim.io.results import load_result

        with self.lock:
            if run_id in self._views:
                return self._views[run_id]
        folder = self.folder(run_id)
        result = load_result(folder)
        view = build_view(result, self.record(folder))
        data = json.dumps(view, allow_nan=False).encode()
        self._cache(run_id, data)
        return data

    @staticmethod
    def record(folder: Path) -> Dict[str, Any]:
        try:
            data = json.loads((folder / APP_RECORD).read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _summary(self, folder: Path) -> Dict[str, Any]:
        from circuitsim.app.view import dotted

        path = folder / "metrics.json"
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return {}
        cached = self._summaries.get(str(folder))
        if cached and cached[0] == mtime:
            return cached[1]
        try:
            metrics = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        run = metrics.get("run", {})
        summary = {"condition": run.get("condition"), "task": run.get("task"), "duration_s": run.get("duration_s"),
                   "seed": run.get("seed"), "gpi_rate_hz": dotted(metrics, "populations.gpi.rate_hz"),
                   "severity": dotted(metrics, "muscle.severity_score"), "wall_s": run.get("wall_s")}
        self._summaries[str(folder)] = (mtime, summary)
        return summary

    def runs(self) -> List[Dict[str, Any]]:
        """Run folders under ``out_dir`` (finished, running, failed), newest first."""
        out = []
        for folder in self.out_dir.iterdir():
            if not folder.is_dir() or not _RUN_ID.match(folder.name):
                continue
            complete = (folder / "metrics.json").is_file()
            job = self.jobs.get(folder.name)
            if job is None and not complete and not (folder / APP_RECORD).is_file():
                continue
            record = self.record(folder)
            state = job.state if job is not None else ("done" if complete else str(record.get("state") or "incomplete"))
            try:
                created = folder.stat().st_mtime if job is None else job.created
            except OSError:
                continue
            entry = {"id": folder.name, "state": state, "complete": complete, "created": created,
                     "command": record.get("command"), "form": record.get("form")}
            entry.update(self._summary(folder) if complete else {})
            if job is not None and job.error:
                entry["error"] = job.error
            out.append(entry)
        out.sort(key=lambda e: e["created"], reverse=True)
        return out

    def export_zip(self, run_id: str) -> bytes:
        """The run folder as a zip: regular files only (symbolic links are neither followed nor stored)."""
        folder = self.folder(run_id)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for root, dirs, files in os.walk(folder, followlinks=False):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith("."):
                        continue
                    path = Path(root) / name
                    data = read_regular(path)
                    if data is not None:
                        zf.writestr(f"{run_id}/{path.relative_to(folder).as_posix()}", data)
        return buffer.getvalue()

    def status(self) -> Dict[str, Any]:
        with self.lock:
            jobs = [j.as_dict() for j in list(self.jobs.values())[-20:]]
        return {"jobs": jobs, "busy": self.current is not None, "queued": self.queue.qsize(),
                "current": self.current.id if self.current else None}


class Handler(BaseHTTPRequestHandler):
    """Routes of the page's server (see the module docstring)."""

    server_version = "circuitsim-app"
    app: App  # set on the subclass made by make_server
    #: seconds a connection may stay silent (a slow or stalled client does not hold a thread for ever)
    timeout = 60

    def log_message(self, format: str, *args: Any) -> None:   # noqa: A002 (stdlib signature)
        logger.debug("%s - %s", self.address_string(), format % args)

    # ------------------------------------------------------------------ helpers
    def _send(self, status: int, body: bytes, content_type: str, extra: Optional[Dict[str, str]] = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data, allow_nan=False, default=str).encode(), "application/json")

    def _error(self, status: int, message: str, path: Optional[str] = None, kind: str = "request") -> None:
        self._json(status, {"error": {"kind": kind, "path": path, "message": message}})

    def _check_origin(self, api: bool) -> None:
        """Refuse requests not meant for this server (Host), or sent by another site (Origin)."""
        host = self.headers.get("Host")
        if not self.server.host_ok(host):
            raise RequestError(HTTPStatus.FORBIDDEN, f"this server answers only requests for {self.server.url} "
                                                     f"(wrong Host header); open the page at that address")
        if not api:
            return
        origin = self.headers.get("Origin")
        if origin is not None and origin.strip().lower().rstrip("/") != f"http://{host.strip().lower()}":
            raise RequestError(HTTPStatus.FORBIDDEN, "requests from other web pages are refused (Origin is not "
                                                     "this page)")
        site = (self.headers.get("Sec-Fetch-Site") or "").strip().lower()
        if site not in ("", "same-origin", "none"):
            raise RequestError(HTTPStatus.FORBIDDEN, "requests from other web pages are refused (Sec-Fetch-Site)")

    def finish(self) -> None:
        super().finish()
        if getattr(self, "_unread_body", False):
            self._drain()

    def _drain(self) -> None:
        """After refusing a request whose body was not read: a lingering close (send FIN, read and drop
        what the client still sends, briefly), so the client reads the answer instead of a reset."""
        deadline, total = time.monotonic() + LINGER_S, 0
        try:
            self.connection.shutdown(socket.SHUT_WR)
            while total < LINGER_BYTES and time.monotonic() < deadline:
                self.connection.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = self.connection.recv(1 << 16)
                if not chunk:
                    break
                total += len(chunk)
        except OSError:
            pass

    def _body(self) -> Dict[str, Any]:
        """The JSON object of a POST, after the checks of the module docstring (RequestError if refused)."""
        self.close_connection = True   # a refused body may be left unread: never reuse the connection
        self._unread_body = True
        media = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media != "application/json":
            raise RequestError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send the form as Content-Type: application/json")
        token = self.headers.get(TOKEN_HEADER) or ""
        if not secrets.compare_digest(token.encode("utf-8", "replace"), self.app.token.encode()):
            raise RequestError(HTTPStatus.FORBIDDEN, f"missing or wrong {TOKEN_HEADER} header; reload the page "
                                                     f"(the token changes each time the server starts)")
        if self.headers.get("Transfer-Encoding") is not None:
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length, not chunked")
        text = self.headers.get("Content-Length")
        if text is None:
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "a POST needs a Content-Length header")
        if not text.strip().isdigit():
            raise RequestError(HTTPStatus.BAD_REQUEST, "Content-Length must be a number of bytes")
        length = int(text)
        if length > MAX_BODY:
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the request body is larger than {MAX_BODY} bytes")
        try:
            raw = self.rfile.read(length) if length else b""
        except OSError:   # the socket's time-out (Handler.timeout): a body that never arrives
            raise RequestError(HTTPStatus.REQUEST_TIMEOUT, "the request body did not arrive") from None
        self._unread_body = False
        if len(raw) != length:
            raise RequestError(HTTPStatus.BAD_REQUEST, "the request body is shorter than its Content-Length")
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise RequestError(HTTPStatus.BAD_REQUEST, "the request body is not UTF-8 text") from None
        if not json_depth_ok(body):
            raise RequestError(HTTPStatus.BAD_REQUEST, f"the request body is nested more than {MAX_JSON_DEPTH} deep")
        try:
            data = json.loads(body or "{}", parse_constant=_no_constant)
        except (ValueError, RecursionError):
            raise RequestError(HTTPStatus.BAD_REQUEST, "the request body is not JSON") from None
        if not isinstance(data, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, "the request body must be a JSON object")
        self.close_connection = False
        return data

    def _static(self, name: str) -> None:
        if not _STATIC_NAME.match(name) or not (static_dir() / name).is_file():
            self._error(HTTPStatus.NOT_FOUND, "no such file")
            return
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype.endswith("javascript"):
            ctype += "; charset=utf-8"
        data = (static_dir() / name).read_bytes()
        if name == "index.html":   # the per-start token the page sends back with each POST
            data = data.replace(b"<head>", f'<head>\n<meta name="{_TOKEN_META}" content="{self.app.token}">'.encode(), 1)
        self._send(HTTPStatus.OK, data, ctype, {"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"})

    # ------------------------------------------------------------------ routes
    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_OPTIONS(self) -> None:  # noqa: N802
        """No CORS preflight is ever granted: other web pages cannot send JSON here."""
        self.close_connection = True
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, "cross-origin requests are not accepted")

    def _not_allowed(self) -> None:
        self.close_connection = True
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, "this server answers GET and POST only")

    do_PUT = do_DELETE = do_PATCH = do_TRACE = do_CONNECT = _not_allowed  # noqa: N815

    def do_GET(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        app = self.app
        try:
            self._check_origin(api=bool(parts) and parts[0] == "api")
            if not parts or parts == ["index.html"]:
                return self._static("index.html")
            if parts == ["favicon.ico"]:
                return self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
            if parts[0] == "static" and len(parts) == 2:
                return self._static(parts[1])
            if parts[0] != "api" or len(parts) < 2:
                return self._error(HTTPStatus.NOT_FOUND, "no such page")
            route = parts[1]
            if route == "options" and len(parts) == 2:
                data = app.catalog.as_dict()
                data.update({"fixed": app.fixed, "out_dir": str(app.out_dir), "max_duration_s": app.max_duration_s})
                return self._json(HTTPStatus.OK, data)
            if route == "defaults" and len(parts) == 2:
                condition = (parse_qs(url.query).get("condition") or ["healthy"])[0]
                try:
                    return self._json(HTTPStatus.OK, app.catalog.defaults(condition))
                except forms.FormError as err:
                    return self._json(HTTPStatus.BAD_REQUEST, {"error": err.as_dict()})
            if route == "status" and len(parts) == 2:
                return self._json(HTTPStatus.OK, app.status())
            if route == "jobs" and len(parts) == 3:
                job = app.jobs.get(parts[2])
                if job is None:
                    return self._error(HTTPStatus.NOT_FOUND, "no such job")
                return self._json(HTTPStatus.OK, job.as_dict())
            if route == "runs" and len(parts) == 2:
                return self._json(HTTPStatus.OK, {"runs": app.runs()})
            if route == "runs" and len(parts) == 4:
                return self._run_file(parts[2], parts[3])
            if route == "cohorts":   # the cohort view, read only (circuitsim/app/cohort_view.py)
                from circuitsim.app import cohort_view

                return self._json(*cohort_view.answer(app, parts[2:], parse_qs(url.query)))
            return self._error(HTTPStatus.NOT_FOUND, "no such API route")
        except RequestError as err:
            return self._error(err.status, err.message, err.path)
        except (BrokenPipeError, ConnectionResetError):
            return None
        except Exception:   # answer, never drop the connection; the details go to the log only
            logger.exception("GET %s failed", self.path)
            return self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error (the server's log has the details)",
                               kind="error")

    def _run_file(self, run_id: str, what: str) -> None:
        from circuitsim.errors import ResultError

        app = self.app
        try:
            folder = app.folder(run_id)
        except KeyError:
            return self._error(HTTPStatus.NOT_FOUND, "no such run")
        if what == "view":
            try:
                return self._send(HTTPStatus.OK, app.view(run_id), "application/json")
            except ResultError as err:
                return self._error(HTTPStatus.CONFLICT, str(err), kind="result")
        if what == "metrics.json":
            data = read_regular(folder / "metrics.json")
            if data is None:
                return self._error(HTTPStatus.CONFLICT, f"run {run_id} has not finished (no metrics.json)", kind="result")
            return self._send(HTTPStatus.OK, data, "application/json",
                              {"Content-Disposition": f'attachment; filename="{run_id}_metrics.json"'})
        if what == "export.zip":
            return self._send(HTTPStatus.OK, app.export_zip(run_id), "application/zip",
                              {"Content-Disposition": f'attachment; filename="{run_id}.zip"'})
        if what == "info":
            return self._json(HTTPStatus.OK, app.record(folder))
        return self._error(HTTPStatus.NOT_FOUND, "no such file of a run")

    def do_POST(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        app = self.app
        try:
            self._check_origin(api=True)
            form = self._body()
            if url.path == "/api/command":
                try:
                    overrides = app.overrides(form)
                except forms.FormError as err:
                    return self._json(HTTPStatus.BAD_REQUEST, {"error": err.as_dict()})
                return self._json(HTTPStatus.OK, {"overrides": overrides, "command": forms.command_line(overrides)})
            if url.path == "/api/validate":
                try:
                    overrides = app.overrides(form)
                except forms.FormError as err:
                    return self._json(HTTPStatus.BAD_REQUEST, {"error": err.as_dict()})
                command = forms.command_line(overrides)
                _, error = forms.validate(overrides)
                if error is not None:
                    return self._json(HTTPStatus.BAD_REQUEST, {"error": error, "overrides": overrides, "command": command})
                return self._json(HTTPStatus.OK, {"ok": True, "overrides": overrides, "command": command})
            if url.path == "/api/run":
                status, data = app.submit(form)
                return self._json(status, data)
            parts = [p for p in url.path.split("/") if p]
            if len(parts) == 4 and parts[:2] == ["api", "jobs"] and parts[3] == "cancel":
                status, data = app.cancel(parts[2])
                return self._json(status, data)
            return self._error(HTTPStatus.NOT_FOUND, "no such API route")
        except RequestError as err:
            return self._error(err.status, err.message, err.path)
        except (BrokenPipeError, ConnectionResetError):
            return None
        except Exception:
            logger.exception("POST %s failed", self.path)
            return self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error (the server's log has the details)",
                               kind="error")


class AppServer(ThreadingHTTPServer):
    """The HTTP server holding one :class:`App`."""

    daemon_threads = True

    def __init__(self, address: tuple, app: App, allow_hosts: Sequence[str] = ()):
        handler = type("BoundHandler", (Handler,), {"app": app})
        super().__init__(address, handler)
        self.app = app
        names = {"localhost"} | {h.strip().lower().rstrip(".") for h in allow_hosts if h.strip()}
        bound = str(self.server_address[0])
        if not is_loopback(bound):   # served on the network (the user chose so): the machine's own names
            names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        self.allowed_names = names

    def host_ok(self, header: Optional[str]) -> bool:
        """Whether a Host header names this server: its port, and an IP address, localhost or an allowed name.

        A page served from another name (DNS rebinding: attacker.example resolving to 127.0.0.1)
        sends that name and is refused.
        """
        if not header:
            return False
        header = header.strip().lower()
        match = re.fullmatch(r"(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::([0-9]{1,5}))?", header)
        if match is None:
            return False
        name, port = match.group(1), int(match.group(2) or 80)
        if port != self.server_address[1]:
            return False
        name = name.strip("[]").rstrip(".")
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return name in self.allowed_names

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/"

    def server_close(self) -> None:
        super().server_close()
        self.app.close()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_server(host: str = "127.0.0.1", port: int = 0, out_dir: Path | str = "outputs/app",
                fixed: Sequence[str] = (), max_duration_s: float = MAX_DURATION_S,
                allow_hosts: Sequence[str] = (), max_wall_s: float = MAX_WALL_S) -> AppServer:
    """Create (not start) the server; ``port=0`` picks a free port (see ``server.url``).

    ``allow_hosts``: more names the page may be opened under (the ``Host`` header), besides
    ``localhost`` and IP addresses.
    """
    if not is_loopback(host):
        logger.warning("serving on %s: anyone who can reach this address can start simulations and read "
                       "the run folders under %s", host, out_dir)
    return AppServer((host, port), App(out_dir, fixed, max_duration_s, max_wall_s), allow_hosts)
