"""Read one committed run back from the audit store as plain dicts (no models, no connections).

Renderers of stored runs (the HTML report, history views) need the run exactly as it was
committed, without re-running anything: this module is the only place that knows how the store
tables map back onto the shapes of the JSON report (``use_cases[]``, ``datasets[]``,
``findings[]``). It reads the audit tables only, never the sample tables in schema ``samples``:
what a report shows must be what the run stored for reports, where PII is already masked.

Optional tables (access inventory, lineage, added by later migrations or other features) are
read when they exist and skipped otherwise, so an older or newer store still renders.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb

from auditor.errors import StoreError
from auditor.sqlident import quote_ident

#: Run references that mean "the most recent run".
LATEST = ("latest", "")


def _loads(value: Any) -> Any:
    """Decode a JSON column; DuckDB hands JSON back as text."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def find_table(con: duckdb.DuckDBPyConnection, table: str) -> tuple[str, set[str]] | None:
    """(qualified name, column names) of an audit table, or None when it does not exist.

    ``main`` is preferred; other schemas are searched too because DDL run on a store connection
    after open lands in the first schema of its search path (``samples``).
    """
    rows = con.execute(
        "SELECT table_schema, column_name FROM information_schema.columns "
        "WHERE table_name = ? ORDER BY table_schema <> 'main', table_schema", [table]).fetchall()
    if not rows:
        return None
    schema = rows[0][0]
    return (f"{quote_ident(schema)}.{quote_ident(table)}",
            {col for sch, col in rows if sch == schema})


def list_runs(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent runs first (id, times, status, verdict summary)."""
    runs = _rows(con, "SELECT run_id, started_at, finished_at, status, summary FROM runs "
                      "ORDER BY started_at DESC, run_id DESC LIMIT ?", [limit])
    for r in runs:
        r["summary"] = _loads(r["summary"]) or {}
    return runs


def resolve_run_id(con: duckdb.DuckDBPyConnection, ref: str | None) -> str:
    """Turn ``latest`` (or nothing) or a run id into a stored run id; a clear error otherwise.

    Only committed runs have a row in ``runs``, so a run that crashed is "not found" too.
    """
    if ref is None or ref.strip().lower() in LATEST:
        row = con.execute("SELECT run_id FROM runs ORDER BY started_at DESC, run_id DESC "
                          "LIMIT 1").fetchone()
        if not row:
            raise StoreError("the audit store has no runs yet", hint="run `auditor audit` first")
        return str(row[0])
    ref = ref.strip()
    if con.execute("SELECT 1 FROM runs WHERE run_id = ?", [ref]).fetchone():
        return ref
    known = [r["run_id"] for r in list_runs(con, 5)]
    raise StoreError(f"run {ref!r} not found in the audit store",
                     hint=("recent runs: " + ", ".join(known) + " (or use `latest`; "
                           "`auditor runs` lists them)") if known
                     else "the store has no runs yet: run `auditor audit` first")


# --- one run --------------------------------------------------------------------------------


def read_run(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """Everything a report shows about ``run_id``, as plain dicts in the JSON report's shapes.

    Keys: ``run``, ``use_cases``, ``datasets``, ``findings``, ``access`` (None without an
    inventory table) and ``lineage`` (None when no lineage was recorded for the run).
    """
    runs = _rows(con, "SELECT * FROM runs WHERE run_id = ?", [run_id])
    if not runs:
        raise StoreError(f"run {run_id!r} not found in the audit store")
    run = runs[0]
    run["summary"] = _loads(run.get("summary")) or {}
    return {
        "run": run,
        "use_cases": _use_cases(con, run_id),
        "datasets": _datasets(con, run_id),
        "findings": _findings(con, run_id),
        "access": _access(con, run_id),
        "lineage": read_lineage(con, run_id),
    }


def _use_cases(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict[str, Any]]:
    # rowid keeps the order the run wrote them in (config order; checks in scoring order)
    scores = _rows(con, "SELECT * FROM scores WHERE run_id = ? ORDER BY rowid", [run_id])
    checks = _rows(con, "SELECT * FROM score_checks WHERE run_id = ? ORDER BY rowid", [run_id])
    by_uc: dict[str, list[dict[str, Any]]] = {}
    for c in checks:
        by_uc.setdefault(c["use_case"], []).append({
            "check": c["check_id"], "name": c["name"], "group": c["grp"], "scope": c["scope"],
            "status": c["status"], "severity": c["severity"], "value": c["value"],
            "display": c["display"], "n": c["n"], "ci95_low": c["ci95_low"],
            "fail": c["fail"], "target": c["target"], "utility": c["utility"],
            "weight": c["weight"], "points_lost": c["points_lost"] or 0.0,
            "max_points": c["max_points"] or 0.0, "blocker": c["blocker"],
            "reason": c["reason"], "fix": c["fix"], "owner": c.get("owner"),
            "evidence": _loads(c["evidence"]) or {}})
    return [{
        "use_case": s["use_case"], "kind": s["kind"], "band": s["band"],
        "score": s["score"] or 0.0, "coverage": s["coverage"] or 0.0,
        "blockers": _loads(s["blockers"]) or [], "criticals": _loads(s["criticals"]) or [],
        "group_weights": _loads(s["group_weights"]) or {},
        "per_dataset": _loads(s["per_dataset"]) or {},
        "checks": by_uc.get(s["use_case"], []),
    } for s in scores]


def _datasets(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict[str, Any]]:
    datasets = _rows(con, "SELECT * FROM datasets WHERE run_id = ? ORDER BY rowid", [run_id])
    schema: dict[str, list[dict[str, Any]]] = {}
    for c in _rows(con, "SELECT dataset, name, type, nullable, primary_key, comment FROM columns "
                        "WHERE run_id = ? ORDER BY dataset, position", [run_id]):
        schema.setdefault(c.pop("dataset"), []).append(c)
    tables = {t["dataset"]: t for t in _rows(
        con, "SELECT * FROM table_profiles WHERE run_id = ?", [run_id])}
    col_profiles: dict[str, list[dict[str, Any]]] = {}
    for c in _rows(con, "SELECT dataset, profile FROM column_profiles WHERE run_id = ? "
                        "ORDER BY rowid", [run_id]):
        col_profiles.setdefault(c["dataset"], []).append(_loads(c["profile"]) or {})
    expectations: dict[str, list[dict[str, Any]]] = {}
    for e in _rows(con, "SELECT * FROM expectation_results WHERE run_id = ? "
                        "ORDER BY dataset, suite, idx", [run_id]):
        for key in ("kwargs", "observed_value", "examples", "meta"):
            e[key] = _loads(e[key])
        e["column"] = e.pop("column_name")
        expectations.setdefault(e["dataset"], []).append(e)
    pii: dict[str, dict[str, str]] = {}
    for p in _rows(con, "SELECT dataset, column_name, reason FROM pii_columns WHERE run_id = ? "
                        "ORDER BY rowid", [run_id]):
        pii.setdefault(p["dataset"], {})[p["column_name"]] = p["reason"]
    out = []
    for d in datasets:
        name = d["dataset"]
        t = tables.get(name)
        profile = None
        if t is not None:
            profile = {"rows": t["rows"], "duplicate_rows": t["duplicate_rows"],
                       "key_columns": _loads(t["key_columns"]) or [],
                       "duplicate_keys": t["duplicate_keys"], "null_keys": t["null_keys"],
                       "columns": col_profiles.get(name, [])}
        out.append({
            "name": name, "source": d["source"], "object": d["object"], "status": d["status"],
            "rows": d["rows"] or 0, "source_rows": d["source_rows"],
            "rejected_rows": d["rejected_rows"] or 0, "owner": d["owner"], "error": d["error"],
            "columns": schema.get(name, []), "profile": profile,
            "expectations": expectations.get(name, []), "pii": pii.get(name, {}),
        })
    return out


def _findings(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict[str, Any]]:
    rows = _rows(con, "SELECT code, severity, message, dataset, column_name, source, hint, "
                      "detail FROM findings WHERE run_id = ? ORDER BY rowid", [run_id])
    for f in rows:
        f["column"] = f.pop("column_name")
        f["detail"] = _loads(f["detail"]) or {}
    return rows


def _access(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any] | None:
    grants_table = find_table(con, "access_grants")
    if grants_table is None:
        return None
    grants = _rows(con, f"SELECT * FROM {grants_table[0]} WHERE run_id = ? "
                        "ORDER BY dataset, column_name NULLS FIRST, grantee, rowid", [run_id])
    for g in grants:
        g["column"] = g.pop("column_name")
        g["path"] = _loads(g.get("path")) or []
    roles: list[dict[str, Any]] = []
    roles_table = find_table(con, "access_roles")
    if roles_table is not None:
        roles = _rows(con, f"SELECT * FROM {roles_table[0]} WHERE run_id = ? "
                           "ORDER BY source, name", [run_id])
        for r in roles:
            r["member_of"] = _loads(r.get("member_of")) or []
            r["members"] = _loads(r.get("members")) or []
    if not grants and not roles:
        return None
    return {"grants": grants, "roles": roles}


def read_lineage(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any] | None:
    """The lineage graph the run recorded (nodes, edges, column edges), or None.

    The lineage tables belong to the lineage feature and may not exist in a store; columns are
    read by name so added columns do not break the report.
    """
    tables = {t: find_table(con, t)
              for t in ("lineage_nodes", "lineage_edges", "lineage_column_edges")}
    found = {t: f[0] for t, f in tables.items() if f is not None and "run_id" in f[1]}
    if "lineage_nodes" not in found or "lineage_edges" not in found:
        return None
    try:
        nodes = _rows(con, f"SELECT * FROM {found['lineage_nodes']} WHERE run_id = ?",
                      [run_id])
        edges = _rows(con, f"SELECT * FROM {found['lineage_edges']} WHERE run_id = ?",
                      [run_id])
        column_edges: list[dict[str, Any]] = []
        if "lineage_column_edges" in found:
            column_edges = _rows(con, f"SELECT * FROM {found['lineage_column_edges']} "
                                      "WHERE run_id = ?", [run_id])
    except duckdb.Error:
        return None  # a lineage schema this reader does not understand: skip the section
    if not nodes and not edges:
        return None
    for n in nodes:
        for key in ("owners", "pii_fields", "fields", "origins"):
            n[key] = _loads(n.get(key)) or []
    return {"nodes": nodes, "edges": edges, "column_edges": column_edges}


# --- history --------------------------------------------------------------------------------


def read_history(con: duckdb.DuckDBPyConnection, run_id: str,
                 limit: int = 20) -> dict[str, Any]:
    """Score per use case and rows per dataset over the runs up to and including ``run_id``.

    Only earlier runs count, so the report of an old run shows the trend as it was then.
    Returns ``{"runs": [{run_id, started_at}], "scores": {use_case: [point]}, "rows":
    {dataset: [point]}}``, oldest first; a point is ``{run_id, started_at, value[, band]}``.
    """
    runs = _rows(con, "SELECT run_id, started_at FROM runs WHERE started_at <= (SELECT "
                      "started_at FROM runs WHERE run_id = ?) ORDER BY started_at DESC, "
                      "run_id DESC LIMIT ?", [run_id, limit])
    runs.reverse()
    ids = [r["run_id"] for r in runs]
    started: dict[str, datetime] = {r["run_id"]: r["started_at"] for r in runs}
    order = {rid: i for i, rid in enumerate(ids)}
    scores: dict[str, list[dict[str, Any]]] = {}
    rows: dict[str, list[dict[str, Any]]] = {}
    if ids:
        for rid, uc, score, band in con.execute(
                "SELECT run_id, use_case, score, band FROM scores WHERE list_contains(?, run_id)",
                [ids]).fetchall():
            scores.setdefault(uc, []).append({"run_id": rid, "started_at": started[rid],
                                              "value": score, "band": band})
        for rid, ds, n, status in con.execute(
                "SELECT run_id, dataset, rows, status FROM datasets "
                "WHERE list_contains(?, run_id)", [ids]).fetchall():
            if status == "ok":
                rows.setdefault(ds, []).append({"run_id": rid, "started_at": started[rid],
                                                "value": n})
    for series in (*scores.values(), *rows.values()):
        series.sort(key=lambda p: order[p["run_id"]])
    return {"runs": runs, "scores": scores, "rows": rows}
