"""A small stand-in for Marquez on 127.0.0.1: POST and GET /api/v1/lineage (+ column-lineage).

CI has no network and no Docker, so the emit path is tested against this threaded
``http.server``. It applies the Marquez ingestion rules the auditor must respect (notes §8.2):
routing on the text after the last ``/`` of ``schemaURL`` (a missing one means RunEvent);
``eventTime``, ``run.runId``, ``job.namespace/name`` and ``producer`` required (422);
``_producer`` and ``_schemaURL`` required on every facet (422); ``jobType`` needing
``processingType``, ``integration`` *and* ``jobType``; ``documentation.description``,
``sql.query``, ``nominalTime.nominalStartTime`` and the parent facet's ids; zoned timestamps
only (a ``[Zone/Id]`` suffix or a naive time is 400); the namespace character set (400); and it
stores data-quality facets only when they arrive as input facets. Events of a run are merged;
a job's node shows its latest run's inputs and outputs.

``mode`` switches failure behaviour for the resilience tests: ``ok``, ``error`` (500 on every
POST) and ``hang`` (accept, never answer until the server stops).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import deque
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

NAMESPACE_RE = re.compile(r"^[a-zA-Z:;=/0-9_\-.@+]{1,1024}$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_FACET_REQUIRED = {
    "jobType": ("processingType", "integration", "jobType"),
    "documentation": ("description",),
    "sql": ("query",),
    "nominalTime": ("nominalStartTime",),
    "ownership": ("owners",),
}
_INPUT_ONLY = ("dataQualityMetrics", "dataQualityAssertions")


class Rejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class MarquezFake:
    """Start with :meth:`start`, point ``lineage.url`` at :attr:`url`, stop with :meth:`stop`."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.events: list[dict[str, Any]] = []
        self.rejected: list[tuple[int, str]] = []
        self.requests = 0
        self.datasets: dict[tuple[str, str], dict[str, Any]] = {}
        self.jobs: dict[tuple[str, str], dict[str, Any]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.column_lineage: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> MarquezFake:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                fake._post(self)

            def do_GET(self) -> None:  # noqa: N802
                fake._get(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- HTTP -------------------------------------------------------------------------------

    def _reply(self, h: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _post(self, h: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests += 1
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length)
        if self.mode == "hang":
            self._release.wait(60)
            return
        if self.mode == "error":
            self._reply(h, 500, {"code": 500, "message": "internal error"})
            return
        if urlsplit(h.path).path != "/api/v1/lineage":
            self._reply(h, 404, {"code": 404, "message": "HTTP 404 Not Found"})
            return
        try:
            event = json.loads(raw)
            status = self.ingest(event)
        except json.JSONDecodeError:
            status, msg = 400, "Unable to process JSON"
            self.rejected.append((status, msg))
            self._reply(h, status, {"code": status, "message": msg})
            return
        except Rejected as exc:
            self.rejected.append((exc.status, str(exc)))
            self._reply(h, exc.status, {"code": exc.status, "message": str(exc)})
            return
        h.send_response(status)
        h.send_header("Content-Length", "0")
        h.end_headers()

    def _get(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        q = parse_qs(parts.query)
        node = (q.get("nodeId") or [""])[0]
        depth = int((q.get("depth") or ["20"])[0])
        if parts.path == "/api/v1/lineage":
            graph = self.lineage(node, depth)
        elif parts.path == "/api/v1/column-lineage":
            graph = self.columns(node, depth)
        else:
            self._reply(h, 404, {"code": 404, "message": "HTTP 404 Not Found"})
            return
        if graph is None:
            self._reply(h, 404, {"code": 404, "message": f"node {node} not found"})
        else:
            self._reply(h, 200, {"graph": graph})

    # --- ingestion rules --------------------------------------------------------------------

    def ingest(self, event: dict[str, Any]) -> int:
        """Validate like Marquez and store; returns the HTTP status (raises Rejected)."""
        kind = str(event.get("schemaURL") or "").rsplit("/", 1)[-1] or "RunEvent"
        if kind not in ("RunEvent", "DatasetEvent", "JobEvent"):
            kind = "RunEvent"
        _check_time(event.get("eventTime"))
        if not event.get("producer"):
            raise Rejected(422, "producer must not be null")
        if kind == "DatasetEvent":
            ds = event.get("dataset") or {}
            self._dataset(ds, ds.get("facets"), None)
        else:
            job = event.get("job") or {}
            if not job.get("namespace") or not job.get("name"):
                raise Rejected(422, "job.namespace and job.name must not be null")
            if kind == "RunEvent":
                run_id = (event.get("run") or {}).get("runId")
                if not run_id:
                    raise Rejected(422, "run.runId must not be null")
                try:
                    uuid.UUID(str(run_id))
                except ValueError:
                    run_id = str(uuid.uuid3(uuid.NAMESPACE_URL, str(run_id)))
                _check_facets((event.get("run") or {}).get("facets"), "run")
                parent = ((event.get("run") or {}).get("facets") or {}).get("parent")
                if parent and not ((parent.get("run") or {}).get("runId") and
                                   (parent.get("job") or {}).get("namespace") and
                                   (parent.get("job") or {}).get("name")):
                    raise Rejected(422, "parent facet needs run.runId and job.namespace/name")
            _check_facets(job.get("facets"), "job")
            _check_namespace(job["namespace"])
            for side in ("inputs", "outputs"):
                for ds in event.get(side) or []:
                    extra = ds.get("inputFacets") if side == "inputs" else ds.get("outputFacets")
                    _check_facets(extra, side)
                    self._dataset(ds, ds.get("facets"), extra if side == "inputs" else None)
            self._job(event, kind)
        with self._lock:
            self.events.append(event)
        return 201

    def _dataset(self, ds: dict[str, Any], facets: dict[str, Any] | None,
                 input_facets: dict[str, Any] | None) -> None:
        if not ds.get("namespace") or not ds.get("name"):
            raise Rejected(422, "dataset namespace and name must not be null")
        _check_namespace(ds["namespace"])
        if "#" in ds["name"]:
            raise Rejected(400, "dataset name must not contain '#'")
        _check_facets(facets, "dataset")
        with self._lock:
            rec = self.datasets.setdefault((ds["namespace"], ds["name"]),
                                           {"facets": {}, "inputFacets": {}, "fields": []})
            rec["facets"].update({k: v for k, v in (facets or {}).items()
                                  if k not in _INPUT_ONLY})
            rec["inputFacets"].update({k: v for k, v in (input_facets or {}).items()
                                       if k in _INPUT_ONLY})
            schema = (facets or {}).get("schema") or {}
            if schema.get("fields"):
                rec["fields"] = [{"name": f["name"], "type": f.get("type"), "tags": []}
                                 for f in schema["fields"]]
            for fld, spec in ((facets or {}).get("columnLineage") or {}).get("fields",
                                                                           {}).items():
                self.column_lineage[(ds["namespace"], ds["name"], fld)] = \
                    list(spec.get("inputFields") or [])

    def _job(self, event: dict[str, Any], kind: str) -> None:
        job = event["job"]
        key = (job["namespace"], job["name"])
        with self._lock:
            rec = self.jobs.setdefault(key, {"facets": {}, "latest_run": None,
                                             "inputs": set(), "outputs": set()})
            rec["facets"].update(job.get("facets") or {})
            ins = {(d["namespace"], d["name"]) for d in event.get("inputs") or []}
            outs = {(d["namespace"], d["name"]) for d in event.get("outputs") or []}
            if kind == "JobEvent":
                rec["inputs"], rec["outputs"] = ins, outs
                return
            run_id = event["run"]["runId"]
            run = self.runs.setdefault(run_id, {"job": key, "states": [], "inputs": set(),
                                                "outputs": set(), "facets": {}})
            run["states"].append(event.get("eventType"))
            run["inputs"] |= ins
            run["outputs"] |= outs
            run["facets"].update((event.get("run") or {}).get("facets") or {})
            if rec["latest_run"] != run_id:
                rec["latest_run"] = run_id
            rec["inputs"], rec["outputs"] = set(run["inputs"]), set(run["outputs"])

    # --- reading ----------------------------------------------------------------------------

    def lineage(self, node_id: str, depth: int) -> list[dict[str, Any]] | None:
        ds_ids = {f"dataset:{ns}:{n}" for ns, n in self.datasets}
        job_ids = {f"job:{ns}:{n}" for ns, n in self.jobs}
        if node_id not in ds_ids and node_id not in job_ids:
            return None
        edges: set[tuple[str, str]] = set()
        for (ns, n), rec in self.jobs.items():
            jid = f"job:{ns}:{n}"
            edges |= {(f"dataset:{a}:{b}", jid) for a, b in rec["inputs"]}
            edges |= {(jid, f"dataset:{a}:{b}") for a, b in rec["outputs"]}
        seen = {node_id}
        queue = deque([(node_id, 0)])
        while queue:
            cur, d = queue.popleft()
            if d >= depth * 2:
                continue
            for a, b in edges:
                for nxt in ((b,) if a == cur else ()) + ((a,) if b == cur else ()):
                    if nxt not in seen:
                        seen.add(nxt)
                        queue.append((nxt, d + 1))
        out = []
        for nid in sorted(seen):
            kind = "DATASET" if nid.startswith("dataset:") else "JOB"
            out.append({"id": nid, "type": kind, "data": self._data(nid, kind),
                        "inEdges": [{"origin": a, "destination": b} for a, b in sorted(edges)
                                    if b == nid],
                        "outEdges": [{"origin": a, "destination": b} for a, b in sorted(edges)
                                     if a == nid]})
        return out

    def _data(self, nid: str, kind: str) -> dict[str, Any]:
        if kind == "DATASET":
            for (ns, n), rec in self.datasets.items():
                if f"dataset:{ns}:{n}" == nid:
                    return {"namespace": ns, "name": n, "fields": rec["fields"],
                            "facets": {**rec["facets"], **rec["inputFacets"]}}
        for (ns, n), rec in self.jobs.items():
            if f"job:{ns}:{n}" == nid:
                return {"namespace": ns, "name": n, "facets": rec["facets"],
                        "latestRun": rec["latest_run"]}
        return {}

    def columns(self, node_id: str, depth: int) -> list[dict[str, Any]] | None:
        if not node_id.startswith("dataset:"):
            return None
        wanted = {(ns, n) for ns, n in self.datasets if f"dataset:{ns}:{n}" == node_id}
        if not wanted:
            return None
        out = []
        for (ns, n, fld), inputs in sorted(self.column_lineage.items()):
            touches = (ns, n) in wanted or any((i["namespace"], i["name"]) in wanted
                                               for i in inputs)
            if not touches:
                continue
            out.append({"id": f"datasetField:{ns}:{n}:{fld}", "type": "DATASET_FIELD",
                        "data": {"namespace": ns, "dataset": n, "field": fld,
                                 "inputFields": [{"namespace": i["namespace"],
                                                  "dataset": i["name"], "field": i["field"],
                                                  "transformations": i.get("transformations")
                                                  or []} for i in inputs]},
                        "inEdges": [], "outEdges": []})
        return out


def _check_time(value: Any) -> None:
    if not value:
        raise Rejected(422, "eventTime must not be null")
    text = str(value)
    if "[" in text or not _RFC3339.match(text):
        raise Rejected(400, "Unable to process JSON")
    datetime.fromisoformat(text.replace("Z", "+00:00"))


def _check_namespace(ns: str) -> None:
    if not NAMESPACE_RE.match(ns):
        raise Rejected(400, f"namespace {ns!r} contains characters Marquez does not allow")


def _check_facets(facets: dict[str, Any] | None, where: str) -> None:
    for key, facet in (facets or {}).items():
        if not isinstance(facet, dict):
            raise Rejected(422, f"{where} facet {key} is not an object")
        for req in ("_producer", "_schemaURL"):
            if not facet.get(req):
                raise Rejected(422, f"{where} facet {key}: {req} must not be null")
        for req in _FACET_REQUIRED.get(key, ()):
            if facet.get(req) in (None, ""):
                raise Rejected(422, f"{where} facet {key}: {req} must not be null")
