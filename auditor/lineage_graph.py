"""The lineage graph: dataset nodes, dataset edges and column edges, from any OpenLineage source.

Sources are OpenLineage events (our own, or NDJSON logs written by any producer), a Marquez API
response, and SQL (see :mod:`auditor.lineage_sql`). Every source reduces to the same three
record kinds, so traceability, PII-path and ownership questions are answered one way whatever the
lineage came from. Events are merged per run as the spec requires (metadata is additive across a
run's events, notes §2); facets on the same node replace earlier ones key by key.

Column edges keep OpenLineage's ``type``/``subtype``/``masking`` and a normalised
``transformation``: IDENTITY, TRANSFORMATION, AGGREGATION, DIRECT (no subtype), INDIRECT, MASKED
(masking flag, legacy ``transformationType: MASKED`` or a masking function) or UNKNOWN (the
producer gave no transformation).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.lineage_naming import parse_node_id

#: Transformations that carry a value through unmasked (PII paths, B2). INDIRECT and MASKED
#: do not; UNKNOWN does, because a producer that says nothing must not hide a PII leak.
CARRYING = frozenset({"IDENTITY", "TRANSFORMATION", "AGGREGATION", "DIRECT", "UNKNOWN"})
_SOR_KEYS = {"system_of_record", "systemofrecord", "sor", "system-of-record"}
_PII_KEYS = {"pii", "personal_data", "gdpr", "sensitive"}


@dataclass
class Node:
    """A dataset in the graph, with what lineage sources said about it."""

    id: str
    namespace: str
    name: str
    owners: set[str] = field(default_factory=set)
    system_of_record: str | None = None
    pii_fields: set[str] = field(default_factory=set)
    fields: list[str] = field(default_factory=list)
    origins: set[str] = field(default_factory=set)
    dataset: str | None = None

    def merge(self, other: Node) -> None:
        self.owners |= other.owners
        self.system_of_record = self.system_of_record or other.system_of_record
        self.pii_fields |= other.pii_fields
        self.fields = self.fields or other.fields
        self.origins |= other.origins
        self.dataset = self.dataset or other.dataset


@dataclass(frozen=True, slots=True)
class Edge:
    """Dataset ``src`` feeds dataset ``dst`` (through ``job`` when known)."""

    src: str
    dst: str
    job: str | None = None
    origin: str = ""


@dataclass(frozen=True, slots=True)
class ColumnEdge:
    """Column ``src_field`` of ``src`` feeds column ``dst_field`` of ``dst``."""

    src: str
    src_field: str
    dst: str
    dst_field: str
    transformation: str = "UNKNOWN"
    type: str | None = None
    subtype: str | None = None
    masking: bool | None = None
    # Where an edge came from and how it is described do not make it a different edge.
    description: str | None = field(default=None, compare=False)
    origin: str = field(default="", compare=False)

    @property
    def carries(self) -> bool:
        return self.transformation in CARRYING


def dataset_node_id(namespace: str, name: str) -> str:
    return f"dataset:{namespace}:{name}"


def classify(type_: str | None, subtype: str | None, masking: bool | None,
             legacy: str | None = None) -> str:
    """Normalise OpenLineage's transformation description into one word."""
    sub = (subtype or "").upper()
    if masking or (legacy or "").upper() == "MASKED" or sub == "MASKED":
        return "MASKED"
    t = (type_ or "").upper()
    if t == "DIRECT":
        return sub if sub in ("IDENTITY", "TRANSFORMATION", "AGGREGATION") else "DIRECT"
    if t == "INDIRECT":
        return "INDIRECT"
    if (legacy or "").upper() == "IDENTITY":
        return "IDENTITY"
    return "UNKNOWN"


class LineageGraph:
    """Nodes by id, dataset edges and column edges; merged from any number of sources."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.edges: set[Edge] = set()
        self.column_edges: set[ColumnEdge] = set()

    # --- building ---------------------------------------------------------------------------

    def node(self, namespace: str, name: str, origin: str = "") -> Node:
        nid = dataset_node_id(namespace, name)
        n = self.nodes.get(nid)
        if n is None:
            n = self.nodes[nid] = Node(nid, namespace, name)
        if origin:
            n.origins.add(origin)
        return n

    def add_edge(self, src: str, dst: str, job: str | None = None, origin: str = "") -> None:
        if src != dst:
            self.edges.add(Edge(src, dst, job, origin))

    def prune_edges(self) -> LineageGraph:
        """Drop job-less edges that a job-carrying edge between the same datasets explains.

        Column lineage facets imply dataset edges without naming the job; the run that carried
        the facet names it, so only that edge is kept.
        """
        with_job = {(e.src, e.dst) for e in self.edges if e.job}
        self.edges = {e for e in self.edges if e.job or (e.src, e.dst) not in with_job}
        return self

    def merge(self, other: LineageGraph) -> LineageGraph:
        for nid, n in other.nodes.items():
            if nid in self.nodes:
                self.nodes[nid].merge(n)
            else:
                self.nodes[nid] = Node(n.id, n.namespace, n.name, set(n.owners),
                                       n.system_of_record, set(n.pii_fields), list(n.fields),
                                       set(n.origins), n.dataset)
        self.edges |= other.edges
        self.column_edges |= other.column_edges
        return self.prune_edges()

    def apply_facets(self, n: Node, facets: dict[str, Any] | None) -> None:
        """Owners, system-of-record and PII tags, and the schema, from dataset facets."""
        facets = facets or {}
        for owner in (facets.get("ownership") or {}).get("owners") or []:
            if isinstance(owner, dict) and owner.get("name"):
                n.owners.add(str(owner["name"]))
        for tag in (facets.get("tags") or {}).get("tags") or []:
            if not isinstance(tag, dict):
                continue
            key = str(tag.get("key", "")).lower()
            value = str(tag.get("value", ""))
            if key in _SOR_KEYS and value.lower() not in ("false", "no", "0"):
                n.system_of_record = value or "true"
            elif key in _PII_KEYS and value.lower() not in ("false", "no", "0") and \
                    tag.get("field"):
                n.pii_fields.add(str(tag["field"]))
        fields = (facets.get("schema") or {}).get("fields") or []
        names = [str(f["name"]) for f in fields if isinstance(f, dict) and f.get("name")]
        if names:
            n.fields = names
        self._column_lineage(n, facets.get("columnLineage"), origin=next(iter(n.origins), ""))

    def _column_lineage(self, n: Node, facet: Any, origin: str) -> None:
        if not isinstance(facet, dict):
            return
        for dst_field, spec in (facet.get("fields") or {}).items():
            if not isinstance(spec, dict):
                continue
            legacy = spec.get("transformationType")
            for inp in spec.get("inputFields") or []:
                if not isinstance(inp, dict) or not inp.get("field"):
                    continue
                src = self.node(str(inp["namespace"]), str(inp["name"]), origin)
                transforms = inp.get("transformations") or [{}]
                for t in transforms:
                    t = t if isinstance(t, dict) else {}
                    kind = classify(t.get("type"), t.get("subtype"), t.get("masking"), legacy)
                    self.column_edges.add(ColumnEdge(
                        src.id, str(inp["field"]), n.id, str(dst_field), kind, t.get("type"),
                        t.get("subtype"), t.get("masking"), t.get("description"), origin))
                self.add_edge(src.id, n.id, None, origin)

    # --- reading ----------------------------------------------------------------------------

    def upstream_ids(self, start: str, depth: int = 50) -> list[str]:
        """Every dataset ``start`` derives from (breadth-first, nearest first)."""
        return self._walk(start, depth, up=True)

    def downstream_ids(self, start: str, depth: int = 50) -> list[str]:
        return self._walk(start, depth, up=False)

    def _walk(self, start: str, depth: int, *, up: bool) -> list[str]:
        adj: dict[str, set[str]] = {}
        for e in self.edges:
            a, b = (e.dst, e.src) if up else (e.src, e.dst)
            adj.setdefault(a, set()).add(b)
        seen = {start}
        order: list[str] = []
        queue: deque[tuple[str, int]] = deque([(start, 0)])
        while queue:
            cur, d = queue.popleft()
            if d >= depth:
                continue
            for nxt in sorted(adj.get(cur, ())):
                if nxt not in seen:
                    seen.add(nxt)
                    order.append(nxt)
                    queue.append((nxt, d + 1))
        return order

    def edges_into(self, nid: str) -> list[Edge]:
        return sorted((e for e in self.edges if e.dst == nid), key=lambda e: e.src)

    def edges_from(self, nid: str) -> list[Edge]:
        return sorted((e for e in self.edges if e.src == nid), key=lambda e: e.dst)

    def column_inputs(self, nid: str, fld: str) -> list[ColumnEdge]:
        return sorted((c for c in self.column_edges if c.dst == nid and c.dst_field == fld),
                      key=lambda c: (c.src, c.src_field))

    def column_outputs(self, nid: str, fld: str) -> list[ColumnEdge]:
        return sorted((c for c in self.column_edges if c.src == nid and c.src_field == fld),
                      key=lambda c: (c.dst, c.dst_field))

    def by_dataset(self, dataset: str) -> Node | None:
        """The node an audited dataset maps to (its source identity)."""
        for n in self.nodes.values():
            if n.dataset == dataset:
                return n
        return None

    def find(self, ref: str) -> Node | None:
        """Look a node up by audited dataset name, node id, ``namespace/name`` or name."""
        if (n := self.by_dataset(ref)) is not None:
            return n
        if ref in self.nodes:
            return self.nodes[ref]
        matches = [n for n in self.nodes.values()
                   if ref in (n.name, f"{n.namespace}/{n.name}", f"{n.namespace}:{n.name}")]
        return sorted(matches, key=lambda n: n.id)[0] if matches else None


# --- OpenLineage events ---------------------------------------------------------------------


def read_ndjson(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Events from an NDJSON log, and a problem per unreadable line (never raises on content)."""
    events: list[dict[str, Any]] = []
    problems: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{path}:{i}: not JSON ({exc.msg})")
                continue
            if isinstance(ev, dict):
                events.append(ev)
            else:
                problems.append(f"{path}:{i}: not an event object")
    return events, problems


def graph_from_events(events: Iterable[dict[str, Any]], origin: str = "events") -> LineageGraph:
    """Merge Run/Dataset/Job events into a graph (run events grouped by runId first)."""
    g = LineageGraph()
    runs: dict[str, dict[str, Any]] = {}
    for ev in events:
        schema = str(ev.get("schemaURL", ""))
        if schema.endswith("/DatasetEvent") or ("dataset" in ev and "job" not in ev):
            ds = ev.get("dataset") or {}
            if ds.get("namespace") and ds.get("name"):
                g.apply_facets(g.node(ds["namespace"], ds["name"], origin), ds.get("facets"))
            continue
        job = ev.get("job") or {}
        key = (ev.get("run") or {}).get("runId") or f"job:{job.get('namespace')}:{job.get('name')}"
        acc = runs.setdefault(key, {"job": job, "inputs": {}, "outputs": {}})
        for side in ("inputs", "outputs"):
            for ds in ev.get(side) or []:
                if not isinstance(ds, dict) or not ds.get("namespace") or not ds.get("name"):
                    continue
                k = (ds["namespace"], ds["name"])
                merged = acc[side].setdefault(k, {})
                merged.update(ds.get("facets") or {})
    for acc in runs.values():
        job = acc["job"]
        job_id = f"job:{job.get('namespace')}:{job.get('name')}" if job.get("name") else None
        ins = [g.node(ns, name, origin) for ns, name in acc["inputs"]]
        outs = [g.node(ns, name, origin) for ns, name in acc["outputs"]]
        for (ns, name), facets in [*acc["inputs"].items(), *acc["outputs"].items()]:
            g.apply_facets(g.node(ns, name, origin), facets)
        for i in ins:
            for o in outs:
                g.add_edge(i.id, o.id, job_id, origin)
    return g.prune_edges()


# --- Marquez --------------------------------------------------------------------------------


def graph_from_marquez(lineage: dict[str, Any], columns: dict[str, Any] | None = None,
                       origin: str = "marquez") -> LineageGraph:
    """Marquez ``GET /lineage`` (and optionally ``/column-lineage``) responses → graph."""
    g = LineageGraph()
    for item in lineage.get("graph") or []:
        if item.get("type") == "DATASET":
            _, ns, name, _ = parse_node_id(item["id"])
            n = g.node(ns, name, origin)
            data = item.get("data") or {}
            g.apply_facets(n, data.get("facets"))
            for f in data.get("fields") or []:
                if isinstance(f, dict) and f.get("name") and f["name"] not in n.fields:
                    n.fields.append(str(f["name"]))
                    if any(str(t).lower() in _PII_KEYS for t in f.get("tags") or []):
                        n.pii_fields.add(str(f["name"]))
    for item in lineage.get("graph") or []:
        if item.get("type") != "JOB":
            continue
        ins = [e["origin"] for e in item.get("inEdges") or [] if
               str(e.get("origin", "")).startswith("dataset:")]
        outs = [e["destination"] for e in item.get("outEdges") or [] if
                str(e.get("destination", "")).startswith("dataset:")]
        for i in ins:
            for o in outs:
                si, so = (_ensure(g, i, origin), _ensure(g, o, origin))
                g.add_edge(si, so, item["id"], origin)
    for item in (columns or {}).get("graph") or []:
        data = item.get("data") or {}
        if item.get("type") != "DATASET_FIELD" or not data.get("field"):
            continue
        dst = g.node(str(data["namespace"]), str(data["dataset"]), origin)
        for inp in data.get("inputFields") or []:
            src = g.node(str(inp["namespace"]), str(inp["dataset"]), origin)
            transforms = inp.get("transformations") or [
                {"type": None, "subtype": None, "masking": None}]
            for t in transforms:
                kind = classify(t.get("type"), t.get("subtype"), t.get("masking"),
                                inp.get("transformationType") or data.get("transformationType"))
                g.column_edges.add(ColumnEdge(src.id, str(inp["field"]), dst.id,
                                              str(data["field"]), kind, t.get("type"),
                                              t.get("subtype"), t.get("masking"),
                                              inp.get("transformationDescription"), origin))
            g.add_edge(src.id, dst.id, None, origin)
    return g.prune_edges()


def _ensure(g: LineageGraph, nid: str, origin: str) -> str:
    _, ns, name, _ = parse_node_id(nid)
    return g.node(ns, name, origin).id


# --- the audit store ------------------------------------------------------------------------

LINEAGE_MIGRATION = """
CREATE TABLE IF NOT EXISTS lineage_nodes (
    run_id VARCHAR, node_id VARCHAR, namespace VARCHAR, name VARCHAR, dataset VARCHAR,
    owners JSON, system_of_record VARCHAR, pii_fields JSON, fields JSON, origins JSON);
CREATE TABLE IF NOT EXISTS lineage_edges (
    run_id VARCHAR, src_id VARCHAR, dst_id VARCHAR, job_id VARCHAR, origin VARCHAR);
CREATE TABLE IF NOT EXISTS lineage_column_edges (
    run_id VARCHAR, src_id VARCHAR, src_field VARCHAR, dst_id VARCHAR, dst_field VARCHAR,
    transformation VARCHAR, type VARCHAR, subtype VARCHAR, masking BOOLEAN,
    description VARCHAR, origin VARCHAR);
"""

NODE_INSERT = "INSERT INTO lineage_nodes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
EDGE_INSERT = "INSERT INTO lineage_edges VALUES (?, ?, ?, ?, ?)"
COLUMN_INSERT = "INSERT INTO lineage_column_edges VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


def graph_rows(g: LineageGraph, run_id: str) -> Iterator[tuple[str, list[list[Any]]]]:
    """(INSERT statement, rows) for the three tables, ready for ``RunWriter.defer``."""
    yield NODE_INSERT, [
        [run_id, n.id, n.namespace, n.name, n.dataset, json.dumps(sorted(n.owners)),
         n.system_of_record, json.dumps(sorted(n.pii_fields)), json.dumps(n.fields),
         json.dumps(sorted(n.origins))] for n in sorted(g.nodes.values(), key=lambda n: n.id)]
    yield EDGE_INSERT, [[run_id, e.src, e.dst, e.job, e.origin]
                        for e in sorted(g.edges, key=lambda e: (e.src, e.dst, e.job or ""))]
    yield COLUMN_INSERT, [
        [run_id, c.src, c.src_field, c.dst, c.dst_field, c.transformation, c.type, c.subtype,
         c.masking, c.description, c.origin]
        for c in sorted(g.column_edges, key=lambda c: (c.dst, c.dst_field, c.src, c.src_field,
                                                       c.transformation))]


def lineage_tables_exist(con: Any) -> bool:
    row = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name IN "
                      "('lineage_nodes', 'lineage_edges', 'lineage_column_edges')").fetchone()
    return bool(row and row[0] == 3)


def load_graph(con: Any, run_id: str | None = None) -> tuple[LineageGraph, str | None]:
    """The graph recorded with ``run_id`` (default: the latest run that recorded one)."""
    g = LineageGraph()
    if not lineage_tables_exist(con):
        return g, None
    if run_id is None:
        row = con.execute(
            "SELECT n.run_id FROM lineage_nodes n LEFT JOIN runs r USING (run_id) "
            "GROUP BY n.run_id ORDER BY max(r.started_at) DESC NULLS LAST, n.run_id DESC "
            "LIMIT 1").fetchone()
        if not row:
            return g, None
        run_id = str(row[0])
    for (nid, ns, name, ds, owners, sor, pii, fields, origins) in con.execute(
            "SELECT node_id, namespace, name, dataset, owners, system_of_record, pii_fields, "
            "fields, origins FROM lineage_nodes WHERE run_id = ?", [run_id]).fetchall():
        g.nodes[nid] = Node(nid, ns, name, set(json.loads(owners or "[]")), sor,
                            set(json.loads(pii or "[]")), list(json.loads(fields or "[]")),
                            set(json.loads(origins or "[]")), ds)
    for src, dst, job, origin in con.execute(
            "SELECT src_id, dst_id, job_id, origin FROM lineage_edges WHERE run_id = ?",
            [run_id]).fetchall():
        g.edges.add(Edge(src, dst, job, origin or ""))
    for row in con.execute(
            "SELECT src_id, src_field, dst_id, dst_field, transformation, type, subtype, "
            "masking, description, origin FROM lineage_column_edges WHERE run_id = ?",
            [run_id]).fetchall():
        g.column_edges.add(ColumnEdge(*row[:9], origin=row[9] or ""))
    return g, run_id
