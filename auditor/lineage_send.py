"""The send step: OpenLineage transports under a hard time budget, plus the local spool.

A lineage backend that is down, failing or hanging must never fail an audit nor slow it beyond
``lineage.timeout``. The openlineage-python HTTP transport raises on non-2xx, retries with backoff
(5 times by default) and its ``timeout`` is per socket operation, so on its own it gives no bound
(DNS, a server that trickles bytes, retries). Hence: events go out one by one, in order, from a
daemon worker thread; the caller waits at most the budget; each HTTP request's timeout is capped
by what is left of it; the first failure stops the worker (order matters: a COMPLETE must not
overtake its START). Whatever was not confirmed is appended to an NDJSON spool that
``auditor lineage send`` replays. Delivery is therefore at-least-once: an event in flight when
the budget ran out may arrive *and* be spooled; runs ids are deterministic, so a replay is a
duplicate of the same event, which consumers tolerate.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openlineage.client.event_v2 import (
    DatasetEvent,
    InputDataset,
    Job,
    JobEvent,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
    StaticDataset,
)
from openlineage.client.serde import Serde

from auditor.lineage_config import LineageConfig, resolve_secret

log = logging.getLogger("auditor.lineage")
Event = RunEvent | DatasetEvent | JobEvent


@dataclass(frozen=True)
class TransportPlan:
    """What to send through, decided from audit config, then OpenLineage env, then default.

    ``config`` is an openlineage-python transport config (it may hold a resolved API key, so it
    is never logged or stored); ``describe`` is the safe, human-readable version.
    """

    kind: str
    config: dict[str, Any] | None
    describe: str
    timeout: float
    origin: str = "config"


@dataclass
class Delivery:
    """Outcome of one send step."""

    sent: int
    unsent: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    elapsed: float = 0.0
    timed_out: bool = False
    transport: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None and not self.unsent


def default_paths(lineage: LineageConfig, store_path: str | Path,
                  base_dir: Path) -> tuple[Path, Path]:
    """(archive file, spool file): beside the store unless configured."""
    root = Path(store_path).resolve().parent if str(store_path) != ":memory:" \
        else base_dir / ".auditor"
    archive = _rel(lineage.file, base_dir) if lineage.file else root / "lineage" / "events.ndjson"
    spool = _rel(lineage.spool, base_dir) if lineage.spool else root / "lineage" / "spool.ndjson"
    return archive, spool


def _rel(p: str, base_dir: Path) -> Path:
    path = Path(p).expanduser()
    return path if path.is_absolute() else base_dir / path


def _retry(retries: int) -> dict[str, Any]:
    return {"total": retries, "connect": retries, "read": 0, "status": retries,
            "backoff_factor": 0.1, "status_forcelist": [500, 502, 503, 504],
            "allowed_methods": ["POST"]}


def resolve_transport(lineage: LineageConfig, *, base_dir: Path,
                      store_path: str | Path) -> TransportPlan | None:
    """The transport for this run; ``None`` when lineage is disabled.

    Precedence: ``OPENLINEAGE_DISABLED=true``; the audit config's ``lineage.transport``; the
    standard OpenLineage configuration (``OPENLINEAGE_URL`` + ``_ENDPOINT`` + ``_API_KEY``, an
    ``openlineage.yml`` / ``OPENLINEAGE_CONFIG`` file, ``OPENLINEAGE__TRANSPORT__*``); else the
    local NDJSON archive. Raises :class:`auditor.errors.SecretError` for a missing API key.
    """
    if os.environ.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true" or \
            not lineage.enabled:
        return None
    archive, _ = default_paths(lineage, store_path, base_dir)
    t = lineage.timeout
    kind = lineage.transport
    if kind is None and os.environ.get("OPENLINEAGE_URL"):
        url = os.environ["OPENLINEAGE_URL"]
        cfg: dict[str, Any] = {"type": "http", "url": url, "timeout": t,
                               "endpoint": os.environ.get("OPENLINEAGE_ENDPOINT",
                                                          "api/v1/lineage"),
                               "retry": _retry(lineage.retries)}
        if key := os.environ.get("OPENLINEAGE_API_KEY"):
            cfg["auth"] = {"type": "api_key", "apiKey": key}
        return TransportPlan("http", cfg, f"http {_safe_url(url)} (OPENLINEAGE_URL)", t, "env")
    if kind is None:
        env_cfg = _openlineage_env_transport()
        if env_cfg:
            return TransportPlan(str(env_cfg.get("type")), env_cfg,
                                 f"{env_cfg.get('type')} (OpenLineage configuration)", t, "env")
        kind = "file"
    if kind == "http":
        if not lineage.url:
            raise ValueError("lineage.transport is http but lineage.url is not set")
        cfg = {"type": "http", "url": lineage.url, "endpoint": lineage.endpoint, "timeout": t,
               "retry": _retry(lineage.retries)}
        if lineage.compression:
            cfg["compression"] = lineage.compression
        key = resolve_secret(lineage.api_key, base_dir, "lineage.api_key")
        if key:
            cfg["auth"] = {"type": "api_key", "apiKey": key}
        return TransportPlan("http", cfg, f"http {_safe_url(lineage.url)}", t)
    if kind == "kafka":
        if lineage.kafka is None:
            raise ValueError("lineage.transport is kafka but lineage.kafka is not set")
        cfg = {"type": "kafka", "topic": lineage.kafka.topic, "config": lineage.kafka.config,
               "flush": True}
        if lineage.kafka.message_key:
            cfg["messageKey"] = lineage.kafka.message_key
        return TransportPlan("kafka", cfg, f"kafka topic {lineage.kafka.topic}", t)
    if kind == "console":
        return TransportPlan("console", {"type": "console"}, "console (log INFO)", t)
    archive.parent.mkdir(parents=True, exist_ok=True)
    return TransportPlan("file", {"type": "file", "log_file_path": str(archive), "append": True},
                         f"file {archive}", t, "config" if lineage.transport else "default")


def _safe_url(url: str) -> str:
    """Drop user:password@ from a URL before it reaches a message."""
    from urllib.parse import urlsplit, urlunsplit

    p = urlsplit(url)
    netloc = p.hostname or ""
    if p.port:
        netloc += f":{p.port}"
    return urlunsplit((p.scheme, netloc, p.path, "", ""))


def _openlineage_env_transport() -> dict[str, Any] | None:
    """openlineage.yml / OPENLINEAGE_CONFIG / OPENLINEAGE__* exactly as the client reads them.

    Uses the client's own readers, without constructing a client: its constructor writes
    ``OPENLINEAGE__TRANSPORT__TRANSPORTS__DEFAULT_HTTP__*`` into ``os.environ`` (notes §4.3).
    """
    from openlineage.client.client import OpenLineageClient
    from openlineage.client.utils import deep_merge_dicts

    merged: dict[str, Any] = {}
    if path := OpenLineageClient._find_yaml_config_path():
        merged = OpenLineageClient._get_config_file_content(path)
    if env := OpenLineageClient._load_config_from_env_variables():
        merged = deep_merge_dicts(env, merged)
    transport = merged.get("transport") if isinstance(merged, dict) else None
    return transport if isinstance(transport, dict) and transport.get("type") else None


def make_transport(plan: TransportPlan) -> Any:
    """Build the openlineage-python transport (kafka needs confluent-kafka installed)."""
    from openlineage.client.transport import get_default_factory

    if plan.kind == "file" and plan.config:
        Path(plan.config["log_file_path"]).parent.mkdir(parents=True, exist_ok=True)
    return get_default_factory().create(dict(plan.config or {}))


def to_dict(event: Event | dict[str, Any]) -> dict[str, Any]:
    """The wire form of an event (what the spool and archive hold)."""
    return event if isinstance(event, dict) else Serde.to_dict(event)


def event_from_dict(d: dict[str, Any]) -> Event:
    """Rehydrate a wire-form event into client classes so every transport accepts it.

    The client has no deserializer (notes §4.1); facets stay plain dicts, which ``Serde``
    writes back unchanged, so the bytes sent equal the bytes spooled.
    """
    schema = str(d.get("schemaURL", ""))
    kw = {"eventTime": d["eventTime"], "producer": d.get("producer", "")}
    if schema.endswith("/DatasetEvent"):
        ds = d["dataset"]
        return DatasetEvent(dataset=StaticDataset(namespace=ds["namespace"], name=ds["name"],
                                                  facets=ds.get("facets") or {}), **kw)
    job = Job(namespace=d["job"]["namespace"], name=d["job"]["name"],
              facets=d["job"].get("facets") or {})
    inputs = [InputDataset(namespace=i["namespace"], name=i["name"],
                           facets=i.get("facets") or {}, inputFacets=i.get("inputFacets") or {})
              for i in d.get("inputs") or []]
    outputs = [OutputDataset(namespace=o["namespace"], name=o["name"],
                             facets=o.get("facets") or {},
                             outputFacets=o.get("outputFacets") or {})
               for o in d.get("outputs") or []]
    if schema.endswith("/JobEvent"):
        return JobEvent(job=job, inputs=inputs, outputs=outputs, **kw)
    run = Run(runId=d["run"]["runId"], facets=d["run"].get("facets") or {})
    state = RunState(d["eventType"]) if d.get("eventType") else None
    return RunEvent(eventType=state, run=run, job=job, inputs=inputs, outputs=outputs, **kw)


def deliver(events: Sequence[Event | dict[str, Any]], plan: TransportPlan, *,
            timeout: float | None = None) -> Delivery:
    """Send ``events`` in order within ``timeout`` seconds; never raises.

    Returns what was sent and the unsent remainder (wire form), to be spooled by the caller.
    """
    budget = plan.timeout if timeout is None else timeout
    started = time.monotonic()
    deadline = started + budget
    wire = [to_dict(e) for e in events]
    progress = {"sent": 0}
    error: list[str] = []
    stop = threading.Event()

    def work() -> None:
        transport = None
        try:
            transport = make_transport(plan)
            for ev, raw in zip(events, wire, strict=True):
                if stop.is_set():
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                if hasattr(transport, "timeout") and plan.kind == "http":
                    transport.timeout = max(0.05, min(plan.timeout, left))
                transport.emit(ev if not isinstance(ev, dict) else event_from_dict(raw))
                progress["sent"] += 1
        except Exception as exc:  # noqa: BLE001 - any transport failure is a lineage finding
            error.append(_describe_error(exc))
        finally:
            if transport is not None:
                with contextlib.suppress(Exception):
                    transport.close(timeout=0.1) if plan.kind == "kafka" else transport.close()

    worker = threading.Thread(target=work, name=_WORKER, daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    timed_out = worker.is_alive()
    stop.set()
    sent = progress["sent"]
    msg = error[0] if error else (f"no answer within {budget:g} s" if timed_out else None)
    return Delivery(sent=sent, unsent=wire[sent:], error=msg,
                    elapsed=time.monotonic() - started, timed_out=timed_out,
                    transport=plan.describe)


def _describe_error(exc: BaseException) -> str:
    """A short, secret-free reason (requests' messages run to several nested reprs)."""
    import requests

    text = str(exc)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason or ''}".strip()
    if isinstance(exc, requests.exceptions.RetryError):
        m = re.search(r"too many (\d{3}) error responses", text)
        return f"HTTP {m.group(1)} (after retries)" if m else "HTTP error (after retries)"
    if isinstance(exc, requests.Timeout):
        return "no answer before the time budget ran out (timeout)"
    if isinstance(exc, requests.ConnectionError):
        for needle, short in (("refused", "connection refused"),
                              ("Name or service not known", "unknown host"),
                              ("nodename nor servname", "unknown host"),
                              ("timed out", "connection timed out"),
                              ("reset", "connection reset")):
            if needle in text:
                return short
        return "connection failed"
    first = text.split("\n", 1)[0]
    if "Authorization" in first or "Bearer" in first:
        first = "request rejected"
    return f"{type(exc).__name__}: {first[:300]}"


class _QuietRetries(logging.Filter):
    """urllib3 logs every retry at WARNING; inside the send budget they are expected noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return threading.current_thread().name != _WORKER


_WORKER = "auditor-lineage-send"
logging.getLogger("urllib3.connectionpool").addFilter(_QuietRetries())


# --- the spool ------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An advisory lock beside the spool: an audit and `lineage send` may overlap."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_suffix(path.suffix + ".lock")
    with open(lock, "a+") as fh:
        try:
            import fcntl

            fcntl.flock(fh, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - Windows: best effort without a lock
            pass
        yield


def spool_append(path: Path, events: Sequence[dict[str, Any]]) -> None:
    """Append unsent events (one JSON object per line, fsynced: they are the only copy)."""
    if not events:
        return
    with _locked(path), open(path, "a", encoding="utf-8") as fh:
        for ev in events:
            fh.write(json.dumps(ev, sort_keys=True, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def spool_read(path: Path) -> list[dict[str, Any]]:
    """Spooled events in order; a torn last line (crash mid-write) is skipped."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("skipping a malformed line in lineage spool %s", path)
    return out


def resend_spool(path: Path, plan: TransportPlan, *, timeout: float | None = None) -> Delivery:
    """Replay the spool in order; keep what still could not be sent (atomic rewrite)."""
    with _locked(path):
        events = spool_read(path)
        if not events:
            return Delivery(sent=0, transport=plan.describe)
        result = deliver(events, plan, timeout=timeout)
        tmp = path.with_suffix(path.suffix + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            for ev in result.unsent:
                fh.write(json.dumps(ev, sort_keys=True, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return result
