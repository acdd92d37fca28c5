"""A local webhook receiver for notifier tests: a threaded http.server on 127.0.0.1.

Paths choose the behaviour, so one server serves every case:

* ``/ok``           200, records the JSON body
* ``/fail``         500 every time (the notifier retries, then gives up)
* ``/flaky``        500 on the first request, 200 afterwards
* ``/hang``         accepts the request and never answers (until the server stops)
* ``/gone``         404 (not retryable)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """Requests the server saw, per path (thread-safe enough for tests: appends only)."""

    requests: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def count(self, path: str) -> int:
        return sum(1 for p, _, _ in self.requests if p == path)

    def bodies(self, path: str) -> list[Any]:
        return [b for p, _, b in self.requests if p == path]


def _handler(state: Received) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            return

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
            path = self.path.split("?", 1)[0]
            seen = state.count(path)
            state.requests.append((path, dict(self.headers), body))
            if path == "/hang":
                state.stop.wait(30)
                return
            if path == "/ok" or (path == "/flaky" and seen >= 1):
                code = 200
            elif path == "/gone":
                code = 404
            else:
                code = 500
            payload = b"ok" if code == 200 else b"error"
            self.send_response(code)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@contextmanager
def webhook_server() -> Iterator[tuple[str, Received]]:
    """Yield (base URL, received requests); the server stops (and hanging handlers return)
    on exit."""
    state = Received()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        state.stop.set()
        server.shutdown()
        server.server_close()
