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

import logging

import ipaddress
import json
import mimetypes
import re
import secrets
import socket
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Optional, Sequence
from urllib.parse import parse_qs, urlsplit

from circuitsim.app import forms
# (APP_RECORD, MAX_QUEUE, _PROGRESS, Job, stop_process ... are re-exported: code and tests import them from here)
from circuitsim.app.common import (APP_RECORD, LINGER_BYTES, LINGER_S, MAX_BODY, MAX_DURATION_S,  # noqa: F401
                                   MAX_JSON_DEPTH, MAX_QUEUE, MAX_WALL_S, STOP_GRACE_S, TOKEN_HEADER, VIEW_CACHE,
                                   _PROGRESS, _STATIC_NAME, _TOKEN_META, RequestError, _no_constant, group_running,
                                   json_depth_ok, read_regular, static_dir, stop_process)
from circuitsim.app.jobs import App, Job, worker_command  # noqa: F401

logger = logging.getLogger(__name__)


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
