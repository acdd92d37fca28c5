"""Lineage: emit OpenLineage events for every audit run, read lineage back, and score it.

The facade the rest of the auditor calls (the other ``lineage_*`` modules are its parts):

* **Emit** (:func:`emit_run`, after the run's COMMIT): a pure function turns the frozen
  :class:`AuditResult` and the config into events (:mod:`auditor.lineage_emit`), then a send step
  with a hard time budget delivers them (:mod:`auditor.lineage_send`). A backend that is down,
  failing or hanging costs at most ``lineage.timeout`` seconds and becomes one finding, LIN001;
  the events wait in a local NDJSON spool for ``auditor lineage send``. Because emission runs on
  the finished result, it cannot change any verdict.
* **Consume** (:func:`collect_graph`, before scoring): the run's own lineage (source → DuckDB
  snapshot, with column lineage), OpenLineage NDJSON logs, Marquez's lineage API and SQL view /
  transformation definitions merge into one :class:`LineageGraph`, stored per run
  (:data:`LINEAGE_MIGRATION`, :func:`write_graph`).
* **Score** (pure helpers for ``auditor.score``): :func:`traceability` (L1 through the graph),
  :func:`pii_feature_paths` (blocker B2 when a PII column reaches a feature unmasked) and
  :func:`unowned_datasets` (critical when no owner exists anywhere upstream).

Finding codes: LIN001 lineage backend failed (events spooled), LIN002 a lineage source could not
be read, LIN003 dataset without an owner anywhere in its lineage, LIN004 PII column reaches a
feature unmasked.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from auditor.config import LoadedConfig, UseCaseConfig, split_column_ref
from auditor.lineage_config import LineageConfig, lineage_config_of, resolve_secret
from auditor.lineage_emit import RunView, build_events, dataset_ids
from auditor.lineage_graph import (
    LINEAGE_MIGRATION,
    ColumnEdge,
    LineageGraph,
    graph_from_events,
    graph_from_marquez,
    graph_rows,
    lineage_tables_exist,
    load_graph,
    read_ndjson,
)
from auditor.lineage_send import (
    Delivery,
    default_paths,
    deliver,
    resend_spool,
    resolve_transport,
    spool_append,
    spool_read,
    to_dict,
)
from auditor.lineage_sql import graph_from_sql, split_statements
from auditor.models import AuditResult, DatasetResult, Finding

__all__ = [
    "LINEAGE_MIGRATION", "LineageConfig", "LineageGraph", "PiiPath", "Traceability",
    "collect_graph", "emit_run", "ensure_tables", "load_graph", "pii_feature_paths",
    "pii_path_findings", "traceability", "unowned_datasets", "unowned_findings", "write_graph",
]

log = logging.getLogger("auditor.lineage")


# --- emit -----------------------------------------------------------------------------------


def emit_run(result: AuditResult, loaded: LoadedConfig, *, store: Any = None,
             lineage: LineageConfig | None = None, timeout: float | None = None) -> AuditResult:
    """Send the run's events within the time budget; never raises, never slows beyond it.

    Returns ``result`` itself when delivery succeeded (or lineage is disabled), else a copy with
    one LIN001 finding appended; with ``store`` (the still-open :class:`auditor.store.Store`)
    that finding is also written to the run's findings. A non-empty spool is replayed first,
    so events reach the backend in order once it is back.
    """
    try:
        lineage = lineage or lineage_config_of(loaded.config)
        return _emit_run(result, loaded, store, lineage, timeout)
    except Exception as exc:  # noqa: BLE001 - e.g. an unwritable spool: still never fatal
        log.debug("lineage emission failed", exc_info=True)
        return _with_finding(result, store, Finding(
            "LIN001", "minor", f"lineage emission failed: {type(exc).__name__}: {exc}",
            hint="check the lineage settings and the spool directory"))


def _emit_run(result: AuditResult, loaded: LoadedConfig, store: Any, lineage: LineageConfig,
              timeout: float | None) -> AuditResult:
    _, spool = default_paths(lineage, result.store_path, loaded.base_dir)
    started = time.monotonic()
    try:
        events = [to_dict(e) for e in build_events(result, loaded.config, lineage,
                                                   loaded.base_dir)]
    except Exception as exc:  # noqa: BLE001 - lineage must never fail the audit
        log.debug("lineage events could not be built", exc_info=True)
        return _with_finding(result, store, _lin001(
            f"lineage events could not be built: {exc}", spool, 0, 0.0, lineage.timeout,
            None))
    try:
        plan = resolve_transport(lineage, base_dir=loaded.base_dir,
                                 store_path=result.store_path)
    except Exception as exc:  # noqa: BLE001 - a config problem: keep the events for later
        spool_append(spool, events)
        return _with_finding(result, store, _lin001(
            f"lineage events were not sent: {exc}", spool, len(spool_read(spool)), 0.0,
            lineage.timeout, None))
    if plan is None:
        return result
    budget = lineage.timeout if timeout is None else timeout
    if spool_read(spool):
        spool_append(spool, events)
        delivery = resend_spool(spool, plan, timeout=budget)
        pending = len(delivery.unsent)
    else:
        delivery = deliver(events, plan, timeout=budget)
        spool_append(spool, delivery.unsent)
        pending = len(delivery.unsent)
    if delivery.ok:
        return result
    elapsed = time.monotonic() - started
    return _with_finding(result, store, _lin001(
        f"lineage backend {delivery.transport} failed: {delivery.error}", spool, pending,
        elapsed, budget, delivery))


def _lin001(message: str, spool: Path, pending: int, elapsed: float, budget: float,
            delivery: Delivery | None) -> Finding:
    return Finding(
        "LIN001", "minor", f"{message}; {pending} events kept in {spool}",
        hint="check the lineage backend, then run `auditor lineage send`",
        detail={"spool": str(spool), "pending_events": pending,
                "elapsed_s": round(elapsed, 3), "timeout_s": budget,
                "sent_events": delivery.sent if delivery else 0,
                "timed_out": bool(delivery and delivery.timed_out)})


def _with_finding(result: AuditResult, store: Any, finding: Finding) -> AuditResult:
    if store is not None:
        try:
            store.con.execute(
                "INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [result.run_id, finding.code, finding.severity, finding.message,
                 finding.dataset, finding.column, finding.source, finding.hint,
                 json.dumps(finding.detail, default=str)])
        except Exception:  # noqa: BLE001 - the finding is still returned with the result
            log.debug("could not store the lineage finding", exc_info=True)
    return replace(result, findings=(*result.findings, finding))


# --- consume --------------------------------------------------------------------------------


def audit_graph(loaded: LoadedConfig, datasets: Iterable[DatasetResult], *, run_id: str,
                store_path: str, lineage: LineageConfig | None = None) -> LineageGraph:
    """The run's own lineage: exactly what :func:`emit_run` will send, as a graph."""
    lineage = lineage or lineage_config_of(loaded.config)
    ds = tuple(datasets)
    now = datetime.now(UTC)
    provisional = RunView(run_id=run_id, started_at=now, finished_at=now,
                          config_path=str(loaded.path), store_path=str(store_path), datasets=ds)
    events = [to_dict(e) for e in build_events(provisional, loaded.config, lineage,
                                               loaded.base_dir)]
    g = graph_from_events(events, origin="audit")
    for name, (ident, _) in dataset_ids(ds, loaded.config, lineage, loaded.base_dir,
                                        str(store_path)).items():
        g.node(ident.namespace, ident.name).dataset = name
    return g


def collect_graph(loaded: LoadedConfig, datasets: Iterable[DatasetResult] | Mapping[str, Any],
                  *, run_id: str, store_path: str,
                  lineage: LineageConfig | None = None) -> tuple[LineageGraph, list[Finding]]:
    """Own lineage + event logs + SQL + Marquez, merged; unreadable sources become LIN002."""
    lineage = lineage or lineage_config_of(loaded.config)
    ds = list(datasets.values()) if isinstance(datasets, Mapping) else list(datasets)
    g = audit_graph(loaded, ds, run_id=run_id, store_path=store_path, lineage=lineage)
    findings: list[Finding] = []
    for ref in lineage.event_logs:
        path = _rel(loaded.base_dir, ref)
        try:
            events, problems = read_ndjson(path)
        except OSError as exc:
            findings.append(_lin002(f"event log {path} unreadable: {exc.strerror or exc}"))
            continue
        g.merge(graph_from_events(events, origin=f"events:{path.name}"))
        if problems:
            findings.append(_lin002(f"{len(problems)} unreadable lines in event log {path}",
                                    {"problems": problems[:20]}))
    for i, src in enumerate(lineage.sql):
        sub, problems = _sql_graph(loaded, src, i, lineage)
        g.merge(sub)
        if problems:
            findings.append(_lin002(f"lineage.sql[{i}]: {problems[0]}",
                                    {"problems": problems[:20]}))
    if lineage.marquez is not None:
        starts = lineage.marquez.nodes or [n.id for n in g.nodes.values() if n.dataset]
        sub, error = fetch_marquez(lineage, starts, base_dir=loaded.base_dir)
        g.merge(sub)
        if error:
            findings.append(_lin002(f"Marquez lineage not read: {error}"))
    _mark_systems_of_record(g, lineage.systems_of_record)
    return g, findings


def _rel(base_dir: Path, ref: str) -> Path:
    p = Path(ref).expanduser()
    return p if p.is_absolute() else base_dir / p


def _lin002(message: str, detail: dict[str, Any] | None = None) -> Finding:
    return Finding("LIN002", "minor", message, detail=detail or {},
                   hint="fix or remove the source under `lineage:` in audit.yml")


def _sql_graph(loaded: LoadedConfig, src: Any, index: int,
               lineage: LineageConfig) -> tuple[LineageGraph, list[str]]:
    from auditor.lineage_naming import source_dataset_id

    if src.path:
        path = _rel(loaded.base_dir, src.path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            return LineageGraph(), [f"cannot read {path}: {exc.strerror or exc}"]
    else:
        text = src.query or ""
    namespace, levels = src.namespace or "sql", 3
    database, schema = src.default_database, src.default_schema
    dialect = src.dialect
    if src.source and src.source in loaded.config.sources:
        opts = loaded.config.sources[src.source].options
        kind = str(opts.get("kind", ""))
        probe = source_dataset_id(kind, opts, "probe_schema.probe_table", source=src.source,
                                  base_dir=loaded.base_dir,
                                  namespace_override=lineage.source_namespaces.get(src.source))
        namespace = src.namespace or probe.namespace
        parts = probe.name.split(".")
        levels = {"mysql": 2, "mariadb": 2, "sqlite": 1}.get(kind, 3)
        database = database or (parts[0] if levels == 3 and len(parts) == 3 else None)
        dialect = dialect or {"postgres": "postgres", "postgresql": "postgres",
                              "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite",
                              "mssql": "mssql"}.get(kind)
        schema = schema or {"postgres": "public", "postgresql": "public",
                            "mssql": "dbo", "duckdb": "main"}.get(kind)
    return graph_from_sql(split_statements(text), namespace=namespace, dialect=dialect,
                          default_database=database, default_schema=schema, levels=levels,
                          origin=f"sql:{index}")


def fetch_marquez(lineage: LineageConfig, node_ids: list[str], *,
                  base_dir: Path) -> tuple[LineageGraph, str | None]:
    """GET /api/v1/lineage (and /column-lineage) per start node within the Marquez budget."""
    import requests

    m = lineage.marquez
    g = LineageGraph()
    if m is None or not node_ids:
        return g, None
    deadline = time.monotonic() + m.timeout
    headers = {"Accept": "application/json"}
    try:
        token = resolve_secret(m.api_key, base_dir, "lineage.marquez.api_key")
    except Exception as exc:  # noqa: BLE001 - becomes LIN002
        return g, str(exc)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    base = m.url.rstrip("/") + "/api/v1"
    for nid in node_ids:
        paths = [("lineage", f"{base}/lineage?nodeId={quote(nid, safe='')}&depth={m.depth}")]
        if m.column_lineage:
            paths.append(("columns", f"{base}/column-lineage?nodeId={quote(nid, safe='')}"
                                     f"&depth={m.depth}&withDownstream=true"))
        got: dict[str, Any] = {}
        for key, url in paths:
            left = deadline - time.monotonic()
            if left <= 0:
                return g, f"no answer within {m.timeout:g} s"
            try:
                resp = requests.get(url, headers=headers, timeout=left)
            except requests.RequestException as exc:
                return g, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            if resp.status_code == 404:
                got[key] = {}
                continue
            if resp.status_code >= 400:
                return g, f"HTTP {resp.status_code} for {nid}"
            got[key] = resp.json()
        g.merge(graph_from_marquez(got.get("lineage") or {}, got.get("columns")))
    return g, None


def _mark_systems_of_record(g: LineageGraph, refs: list[str]) -> None:
    for ref in refs:
        for n in g.nodes.values():
            if ref in (n.id, n.namespace) or (ref.endswith("/") and n.namespace.startswith(ref)):
                n.system_of_record = n.system_of_record or "lineage.systems_of_record"


# --- the store ------------------------------------------------------------------------------


def ensure_tables(con: Any) -> None:
    """Create the lineage tables if migration 2 has not (idempotent DDL)."""
    if not lineage_tables_exist(con):
        con.execute(LINEAGE_MIGRATION)


def write_graph(writer: Any, graph: LineageGraph) -> None:
    """Queue the graph for the run's own transaction (``RunWriter.defer``)."""
    ensure_tables(writer.con)
    for sql, rows in graph_rows(graph, writer.run_id):
        writer.defer(sql, rows)


# --- score helpers (pure) -------------------------------------------------------------------


@dataclass(frozen=True)
class Traceability:
    """L1 through the graph: which use-case datasets reach a system of record."""

    use_case: str
    traced: dict[str, str]
    untraced: tuple[str, ...]

    @property
    def share(self) -> float:
        total = len(self.traced) + len(self.untraced)
        return len(self.traced) / total if total else 0.0


def traceability(graph: LineageGraph, uc: UseCaseConfig,
                 datasets: Mapping[str, DatasetResult]) -> Traceability:
    """Share of ``uc``'s datasets that are, or derive from, a declared system of record.

    A dataset traces when it (or its use-case reference) declares ``system_of_record``, or when
    it or any upstream graph node is tagged as one (``system_of_record`` tag facet, or listed in
    ``lineage.systems_of_record``). ``traced`` says which node each one traces to.
    """
    traced: dict[str, str] = {}
    untraced: list[str] = []
    for ref in uc.datasets:
        d = datasets.get(ref.ref)
        if ref.system_of_record or (d is not None and d.system_of_record):
            traced[ref.ref] = f"declared: {ref.system_of_record or d.system_of_record}"  # type: ignore[union-attr]
            continue
        node = graph.by_dataset(ref.ref)
        hit = None
        if node is not None:
            for nid in [node.id, *graph.upstream_ids(node.id)]:
                n = graph.nodes.get(nid)
                if n is not None and n.system_of_record:
                    hit = nid
                    break
        if hit:
            traced[ref.ref] = hit
        else:
            untraced.append(ref.ref)
    return Traceability(uc.use_case, traced, tuple(untraced))


@dataclass(frozen=True)
class PiiPath:
    """A PII column that reaches a declared feature without masking (blocker B2)."""

    use_case: str
    feature: str
    source_node: str
    source_field: str
    steps: tuple[ColumnEdge, ...]

    def describe(self, graph: LineageGraph | None = None) -> str:
        def label(nid: str) -> str:
            n = graph.nodes.get(nid) if graph else None
            return (n.dataset or n.name) if n else nid
        hops = [f"{label(self.source_node)}.{self.source_field}"]
        for e in reversed(self.steps):
            hops.append(f"-[{e.transformation}]-> {label(e.dst)}.{e.dst_field}")
        return " ".join(hops)


def pii_feature_paths(graph: LineageGraph, uc: UseCaseConfig,
                      datasets: Mapping[str, DatasetResult]) -> list[PiiPath]:
    """Column lineage carrying a PII column into a feature unmasked (no MASKED/INDIRECT hop).

    PII columns are those the audit detected or config declared (``DatasetResult.pii``, emitted
    as ``pii`` tags) and those tagged ``pii`` by any lineage source. A feature that *is* a PII
    column is P3's business, not a path; ``pii_policy.allowed_in_features`` is respected.
    """
    allowed = set(uc.pii_policy.allowed_in_features)
    out: list[PiiPath] = []
    for feature in uc.features:
        if feature in allowed:
            continue
        split = split_column_ref(feature, {d.ref: None for d in uc.datasets})
        node = graph.by_dataset(split[0]) if split else None
        if split is None or node is None:
            continue
        start = (node.id, split[1])
        stack: list[tuple[tuple[str, str], tuple[ColumnEdge, ...]]] = [(start, ())]
        seen = {start}
        while stack:
            (nid, fld), steps = stack.pop()
            for e in graph.column_inputs(nid, fld):
                if not e.carries:
                    continue
                key = (e.src, e.src_field)
                path = (*steps, e)
                src = graph.nodes.get(e.src)
                if src is not None and e.src_field in src.pii_fields and key != start:
                    out.append(PiiPath(uc.use_case, feature, e.src, e.src_field, path))
                if key not in seen:
                    seen.add(key)
                    stack.append((key, path))
    return sorted(out, key=lambda p: (p.feature, p.source_node, p.source_field, len(p.steps)))


def unowned_datasets(graph: LineageGraph, uc: UseCaseConfig,
                     datasets: Mapping[str, DatasetResult]) -> list[str]:
    """``uc``'s datasets with no owner on themselves or on any upstream node."""
    out = []
    for ref in uc.datasets:
        d = datasets.get(ref.ref)
        if d is not None and d.owner:
            continue
        node = graph.by_dataset(ref.ref)
        if node is not None and any(graph.nodes[n].owners for n in
                                    [node.id, *graph.upstream_ids(node.id)]
                                    if n in graph.nodes):
            continue
        out.append(ref.ref)
    return out


def unowned_findings(graph: LineageGraph, uc: UseCaseConfig,
                     datasets: Mapping[str, DatasetResult]) -> list[Finding]:
    """LIN003 (critical) per dataset with no owner anywhere in its lineage."""
    return [Finding("LIN003", "critical",
                    f"no owner for {name} or anything upstream of it (use case {uc.use_case})",
                    dataset=name, hint="set `owner:` in audit.yml or an ownership facet "
                                       "on an upstream dataset")
            for name in unowned_datasets(graph, uc, datasets)]


def pii_path_findings(graph: LineageGraph, paths: list[PiiPath]) -> list[Finding]:
    """LIN004 (blocker) per PII path into a feature; the score raises B2 from the same paths."""
    return [Finding("LIN004", "blocker",
                    f"PII column reaches feature {p.feature} unmasked: {p.describe(graph)}",
                    column=p.feature, hint="mask or drop the column upstream, or declare it "
                                           "in pii_policy.allowed_in_features with a reason",
                    detail={"use_case": p.use_case, "source": p.source_node,
                            "source_field": p.source_field,
                            "transformations": [e.transformation for e in p.steps]})
            for p in paths]
