"""Headless Chromium for tests: find or install it, load a page, report what the browser saw.

Chromium comes from Debian's ``chromium`` package (the only browser build this closed network can
install). When it is missing and we are root, :func:`find_chromium` runs ``apt-get update`` and
``apt-get install -y chromium`` once, under a time limit. :func:`require_chromium` turns a
missing browser into a skip with the reason on a developer's machine and into a failure when
``CI=true`` (a skip there would hide a broken set-up), like the database fixtures.

The page is driven through the Chrome DevTools Protocol over ``--remote-debugging-pipe`` (JSON
messages separated by NUL on file descriptors 3 and 4), so no WebSocket client is needed: the
test collects console messages, uncaught exceptions, log entries (CSP violations, failed loads)
and every network request, reads the rendered text and DOM, and saves a PNG screenshot.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
INSTALL_TIMEOUT = 900.0

#: Flags for a closed network and a container: no sandbox (root), no GPU, and none of the
#: background services that would try to reach Google (they hang or log errors offline).
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--no-default-browser-check", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions",
         "--disable-default-apps", "--disable-dev-shm-usage", "--mute-audio",
         "--hide-scrollbars", "--enable-logging=stderr", "--v=0")


class BrowserUnavailable(RuntimeError):
    """No Chromium, and it could not be installed here (the message says why)."""


def find_chromium(install: bool = True) -> str:
    """Path of the Chromium binary, installing Debian's package when missing and allowed."""
    for path in (*CANDIDATES, shutil.which("chromium") or ""):
        if path and os.access(path, os.X_OK):
            return path
    if not install:
        raise BrowserUnavailable("chromium is not installed")
    if os.geteuid() != 0:
        raise BrowserUnavailable("chromium is not installed and this is not root: "
                                 "run `apt-get update && apt-get install -y chromium`")
    if not shutil.which("apt-get"):
        raise BrowserUnavailable("chromium is not installed and there is no apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    deadline = time.monotonic() + INSTALL_TIMEOUT
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends",
                                        "chromium"]):
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                                  stdin=subprocess.DEVNULL,
                                  timeout=max(deadline - time.monotonic(), 1.0))
        except subprocess.TimeoutExpired:
            raise BrowserUnavailable(f"`{' '.join(cmd)}` timed out") from None
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise BrowserUnavailable(f"`{' '.join(cmd)}` failed: {' '.join(tail)}")
    for path in CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    raise BrowserUnavailable("apt-get installed chromium but no binary was found")


def require_chromium() -> str:
    """The Chromium path, or skip (developer machine) / fail (``CI=true``) with the reason."""
    try:
        return find_chromium()
    except BrowserUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but no headless browser: {exc}")
        pytest.skip(f"no headless browser: {exc}")


@dataclass
class PageResult:
    """What the browser saw while loading one page."""

    url: str
    text: str = ""
    dom: str = ""
    console: list[dict[str, Any]] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    height: int = 0

    def errors(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and error/warning log entries."""
        out = [f"console.{m['type']}: {m['text']}" for m in self.console
               if m["type"] in ("error", "warning", "assert")]
        out += [f"exception: {e}" for e in self.exceptions]
        out += [f"log {e.get('source')}/{e.get('level')}: {e.get('text')} {e.get('url', '')}"
                for e in self.log if e.get("level") in ("error", "warning")]
        return out


class _Pipe:
    """CDP over the browser's debugging pipe: write to its fd 3, read from its fd 4."""

    def __init__(self, to_browser: int, from_browser: int):
        self.w = to_browser
        self.r = from_browser
        self.buf = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None, timeout: float = 30.0) -> dict[str, Any]:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            data = data[os.write(self.w, data):]
        want = self.next_id
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == want:
                if "error" in reply:
                    raise RuntimeError(f"CDP {method} failed: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        for i, ev in enumerate(self.events):
            if ev["method"] == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            ev = self._read(deadline)
            if ev.get("method") == method:
                return ev
            if "method" in ev:
                self.events.append(ev)

    def drain(self, seconds: float) -> None:
        """Collect events for a short while (late console messages)."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                ev = self._read(deadline)
                if "method" in ev:
                    self.events.append(ev)
        except TimeoutError:
            pass

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from the browser")
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise RuntimeError("the browser closed the DevTools pipe (it crashed?)")
                self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)


def _high_fd(fd: int) -> int:
    """Move ``fd`` to a number ≥ 10 (close-on-exec), out of the way of the child's 3 and 4."""
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return new


def load_page(path: Path, *, screenshot: Path | None = None, width: int = 1280,
              height: int = 2400, top: int = 0, timeout: float = 60.0,
              chromium: str | None = None) -> PageResult:
    """Open ``path`` in headless Chromium and return what it saw; save a PNG if asked.

    The screenshot is ``width`` × ``height`` CSS pixels of the page from ``top`` down. The
    browser runs with its own throw-away profile and is killed (its process group) whatever
    happens.
    """
    binary = chromium or find_chromium()
    url = path.resolve().as_uri()
    result = PageResult(url=url)
    in_r, in_w = (_high_fd(fd) for fd in os.pipe())      # we write, browser reads (fd 3)
    out_r, out_w = (_high_fd(fd) for fd in os.pipe())    # browser writes (fd 4), we read
    with tempfile.TemporaryDirectory(prefix="auditor-chromium-") as profile:
        log_fd = os.open(os.path.join(profile, "chromium.log"), os.O_WRONLY | os.O_CREAT)
        null_fd = os.open(os.devnull, os.O_RDONLY)
        # posix_spawn, not Popen(preexec_fn=...): it maps the pipe ends onto fds 3 and 4
        # without running Python in the forked child (DuckDB's threads make that unsafe).
        pid = os.posix_spawn(binary, [binary, *FLAGS, f"--user-data-dir={profile}",
                                      f"--window-size={width},{height}",
                                      "--remote-debugging-pipe", "about:blank"],
                             os.environ, setsid=True, file_actions=[
                                 (os.POSIX_SPAWN_DUP2, null_fd, 0),
                                 (os.POSIX_SPAWN_DUP2, log_fd, 1),
                                 (os.POSIX_SPAWN_DUP2, log_fd, 2),
                                 (os.POSIX_SPAWN_DUP2, in_r, 3),
                                 (os.POSIX_SPAWN_DUP2, out_w, 4)])
        for fd in (in_r, out_w, log_fd, null_fd):
            os.close(fd)
        pipe = _Pipe(in_w, out_r)
        try:
            _drive(pipe, url, result, screenshot, width, height, top, timeout)
        except Exception as exc:
            log = Path(profile, "chromium.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{exc}\n--- chromium log (tail) ---\n{log}") from exc
        finally:
            try:
                pipe.send("Browser.close", timeout=5)
            except Exception:  # noqa: BLE001 - it may already be gone; killed below anyway
                pass
            _reap(pid)
            os.close(in_w)
            os.close(out_r)
    return result


def _drive(pipe: _Pipe, url: str, result: PageResult, screenshot: Path | None, width: int,
           height: int, top: int, timeout: float) -> None:
    target = pipe.send("Target.createTarget", {"url": "about:blank"}, timeout=timeout)
    session = pipe.send("Target.attachToTarget", {"targetId": target["targetId"],
                                                  "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        pipe.send(f"{domain}.enable", session=session)
    pipe.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                     "deviceScaleFactor": 1, "mobile": False},
              session=session)
    pipe.send("Page.navigate", {"url": url}, session=session, timeout=timeout)
    pipe.wait_event("Page.loadEventFired", timeout)
    pipe.drain(0.5)
    evaluate = "({text: document.body.innerText, dom: document.documentElement.outerHTML, " \
               "height: document.documentElement.scrollHeight})"
    page = pipe.send("Runtime.evaluate", {"expression": evaluate, "returnByValue": True},
                     session=session)["result"]["value"]
    result.text, result.dom, result.height = page["text"], page["dom"], page["height"]
    if screenshot is not None:
        params: dict[str, Any] = {"format": "png"}
        if top:
            params["clip"] = {"x": 0, "y": top, "width": width, "height": height, "scale": 1}
            params["captureBeyondViewport"] = True
        shot = pipe.send("Page.captureScreenshot", params, session=session, timeout=timeout)
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
    for ev in pipe.events:
        p = ev.get("params", {})
        if ev["method"] == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
            result.console.append({"type": p["type"], "text": text})
        elif ev["method"] == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            result.exceptions.append(d.get("exception", {}).get("description") or d["text"])
        elif ev["method"] == "Log.entryAdded":
            result.log.append(p["entry"])
        elif ev["method"] == "Network.requestWillBeSent":
            result.requests.append(p["request"]["url"])


def _reap(pid: int, grace: float = 5.0) -> None:
    """Wait for the browser to exit; kill its whole process group if it does not."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    try:  # helpers (zygote, utility processes) share the group
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
