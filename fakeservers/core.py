"""Local HTTP(S) servers that speak a vendor's wire protocol, with fault injection.

The SaaS connectors are tested against these (no internet at test time) and the SaaS demo in
``sample_data/saas.yml`` audits through them. Each vendor module subclasses :class:`FakeApp`
(a WSGI app on werkzeug) and renders the vendor's own bodies for the vendor-specific faults;
the transport faults (timeout, connection cut mid-body, malformed JSON, 5xx) are rendered here
so they behave identically for every vendor.

Facts about each protocol come from ``shared/specs/connector-protocols.md``.
"""

from __future__ import annotations

import re
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

FaultKind = Literal["expired", "quota", "throttle", "error500", "unavailable", "timeout", "cut",
                    "malformed", "repeat_cursor", "denied"]


@dataclass(slots=True)
class Fault:
    """One scheduled fault: hits the ``times`` requests whose path matches, after ``skip``."""

    kind: FaultKind
    path: str = ".*"
    times: int = 1
    skip: int = 0
    retry_after: float | None = None
    delay: float = 2.0
    hits: int = 0


class Faults:
    """Thread-safe schedule of faults for one fake server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, kind: FaultKind, *, path: str = ".*", times: int = 1, skip: int = 0,
            retry_after: float | None = None, delay: float = 2.0) -> Fault:
        """``times=-1`` = every matching request from then on."""
        fault = Fault(kind, path, times, skip, retry_after, delay)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, target: str) -> Fault | None:
        with self._lock:
            for f in self._faults:
                if f.times == 0 or not re.search(f.path, target):
                    continue
                if f.skip > 0:
                    f.skip -= 1
                    continue
                if f.times > 0:
                    f.times -= 1
                f.hits += 1
                return f
        return None


@dataclass(frozen=True, slots=True)
class Logged:
    """A request as the fake saw it (for assertions on what the client sent)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    #: What fault patterns match (:meth:`FakeApp.fault_target`).
    target: str = ""


class FakeApp:
    """Base WSGI app: logging, fault dispatch; vendors implement :meth:`handle`."""

    def __init__(self) -> None:
        self.faults = Faults()
        self.log: list[Logged] = []
        self._lock = threading.Lock()

    # vendor hooks
    def handle(self, request: Request, fault: Fault | None) -> Response:
        raise NotImplementedError

    def vendor_fault(self, kind: FaultKind, fault: Fault, request: Request) -> Response:
        """The vendor's response for expired / quota / throttle / denied / 5xx."""
        raise NotImplementedError

    def fault_target(self, request: Request) -> str:
        """What fault ``path`` patterns match: path and query; RPC fakes add the method."""
        return request.full_path if request.query_string else request.path

    def requests_to(self, pattern: str) -> list[Logged]:
        with self._lock:
            return [r for r in self.log if re.search(pattern, r.target or r.path)]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        request = Request(environ)
        body = request.get_data()
        target = self.fault_target(request)
        with self._lock:
            self.log.append(Logged(request.method, request.path,
                                   request.args.to_dict(flat=False), dict(request.headers), body,
                                   target))
        fault = self.faults.take(target)
        response = self._respond(request, fault)
        return response(environ, start_response)

    def _respond(self, request: Request, fault: Fault | None) -> Response:
        if fault is None or fault.kind == "repeat_cursor":
            return self.handle(request, fault)
        if fault.kind == "timeout":
            time.sleep(fault.delay)
            return self.handle(request, None)
        if fault.kind in ("cut", "malformed"):
            resp = self.handle(request, None)
            data = resp.get_data()
            half = data[: max(1, len(data) // 2)]
            if fault.kind == "malformed":
                resp.set_data(half)
                return resp
            return _cut_response(resp, half, len(data))
        resp = self.vendor_fault(fault.kind, fault, request)
        if fault.retry_after is not None:
            resp.headers["Retry-After"] = f"{fault.retry_after:g}"
        return resp


class _CutBody:
    """A body that stops after ``half`` of a declared ``Content-Length``; then the server drops
    the connection (werkzeug closes a connection whose app fails after the headers went out)."""

    def __init__(self, half: bytes) -> None:
        self.half = half

    def __iter__(self) -> Iterator[bytes]:
        yield self.half
        raise ConnectionAbortedError("fault injection: connection cut mid-body")


def _cut_response(resp: Response, half: bytes, full_length: int) -> Response:
    cut = Response(_CutBody(half), status=resp.status_code, headers=dict(resp.headers),
                   direct_passthrough=True)
    cut.headers["Content-Length"] = str(full_length)
    return cut


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log_error(self, *args: Any) -> None:
        pass

    def log(self, *args: Any, **kwargs: Any) -> None:
        pass


@dataclass
class FakeServer:
    """Serve a :class:`FakeApp` on 127.0.0.1 in a thread; ``tls=True`` serves HTTPS with a
    throw-away CA (trustme) whose PEM is at :attr:`ca_pem`."""

    app: FakeApp
    tls: bool = False
    port: int = 0
    host: str = "127.0.0.1"
    ca_pem: Path | None = None
    _server: BaseWSGIServer | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _tmp: Any = field(default=None, repr=False)

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self._server.server_port}"

    def start(self) -> FakeServer:
        ctx = self._tls_context() if self.tls else None
        self._server = make_server(self.host, self.port, self.app, threaded=True,
                                   request_handler=_QuietHandler, ssl_context=ctx)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name=f"fake-{type(self.app).__name__}")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _tls_context(self) -> ssl.SSLContext:
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert(self.host, "localhost")
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        self._tmp = tempfile.TemporaryDirectory(prefix="fake-ca-")
        self.ca_pem = Path(self._tmp.name) / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_pem))
        return ctx


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None,
                  content_type: str = "application/json") -> Response:
    import json

    return Response(json.dumps(data, default=str), status=status, headers=headers or {},
                    content_type=content_type)
