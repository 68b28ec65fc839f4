"""The teaching page's jobs: the queue of simulations a page asked for, the worker that runs them
one at a time in their own process group, and the run folders (:class:`App`);
:mod:`circuitsim.app.server` serves it over HTTP."""

from __future__ import annotations

import logging

import io
import json
import os
import queue
import secrets
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from circuitsim.app import forms
from circuitsim.app.common import (APP_RECORD, MAX_DURATION_S, MAX_QUEUE, MAX_WALL_S, STOP_GRACE_S,
                                   VIEW_CACHE, _PROGRESS, _RUN_ID, _atomic_json, read_regular, stop_process)

logger = logging.getLogger(__name__)


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
        spec, error = forms.validate(overrides)
        if error is not None:
            return HTTPStatus.BAD_REQUEST, {"error": error, "overrides": overrides, "command": command}
        duration = spec.sim.duration   # the validated spec's value (s), not the config's unit string
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
