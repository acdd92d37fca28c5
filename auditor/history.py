"""Run history: reading earlier runs back out of the audit store, and retention.

Every run already keeps its profiles, expectation results, findings and scores in the store,
stamped with its start time, ``as_of`` and config hash; this module turns those rows into small
frozen snapshots that :mod:`auditor.drift` compares without touching SQL. History is keyed by
dataset and use-case *name*, not by config hash: editing ``audit.yml`` (a new expectation, a
changed threshold) must not reset the baseline a scheduled check compares against.

Only committed runs exist in the store (see :mod:`auditor.store`), so nothing here can see a
half-written run. Datasets that failed to load in a run are left out of that run's history: a
source outage is reported by the run itself (exit 3), not as every column "drifting".

Retention (:func:`prune`) deletes whole runs (every table with a ``run_id`` column, plus their
sample tables) in one transaction, and never deletes the latest run of any dataset.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from auditor.sqlident import quote_ident
from auditor.store import SAMPLES_SCHEMA, Store

#: DuckDB type names whose quantiles are numbers (DECIMAL ones are stored as strings).
NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                 "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL")

#: Bands from best to worst; a move to a larger rank is a regression.
BAND_RANK: dict[str, int] = {
    "Ready": 0, "Conditionally ready": 1,
    "Not ready — B (validity)": 2, "Not ready — C (access/legal)": 2,
}


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One committed run."""

    run_id: str
    started_at: datetime
    finished_at: datetime | None
    as_of: datetime | None
    config_path: str
    config_hash: str
    status: str


@dataclass(frozen=True, slots=True)
class ColumnStats:
    """What drift rules need of one column profile (the stored profile JSON, trimmed)."""

    name: str
    type: str
    rows: int
    nulls: int
    null_share: float
    distinct: int
    freshness_hours: float | None = None
    #: p01..p99 for numeric columns only (temporal quantiles are strings and are not compared)
    quantiles: dict[str, float] | None = None
    top_values: tuple[tuple[str, int], ...] = ()
    pii: bool = False

    @property
    def non_null(self) -> int:
        return self.rows - self.nulls


@dataclass(frozen=True, slots=True)
class DatasetSnapshot:
    """One dataset as one run loaded it."""

    run: RunInfo
    dataset: str
    rows: int
    source_rows: int | None
    columns: dict[str, ColumnStats] = field(default_factory=dict)

    @property
    def volume(self) -> int:
        """Rows in the source when the connector knows them (a sample caps ``rows``)."""
        return self.source_rows if self.source_rows is not None else self.rows

    @property
    def lag_hours(self) -> float | None:
        """Age of the dataset: the smallest non-negative freshness over its temporal columns.

        Future-dated columns (close dates, due dates) say nothing about loading and are ignored;
        the freshest past column stands for the table (a static birth date next to a daily
        ``loaded_at`` must not make the table look stale).
        """
        lags = [c.freshness_hours for c in self.columns.values()
                if c.freshness_hours is not None and c.freshness_hours >= 0]
        return min(lags) if lags else None


@dataclass(frozen=True, slots=True)
class UseCaseSnapshot:
    """One use case's verdict in one run, with points lost per check (for explanations)."""

    run: RunInfo
    use_case: str
    band: str
    score: float
    coverage: float
    blockers: tuple[str, ...] = ()
    lost: dict[str, float] = field(default_factory=dict)

    @property
    def rank(self) -> int:
        return BAND_RANK.get(self.band, 2)


@dataclass(frozen=True, slots=True)
class Comparison:
    """A run and, per dataset and use case, its earlier snapshots (oldest first)."""

    run: RunInfo
    datasets: dict[str, DatasetSnapshot]
    failed_datasets: tuple[str, ...]
    use_cases: dict[str, UseCaseSnapshot]
    dataset_history: dict[str, list[DatasetSnapshot]]
    use_case_history: dict[str, list[UseCaseSnapshot]]

    @property
    def prior_runs(self) -> int:
        """Distinct earlier runs involved in the comparison."""
        ids = {s.run.run_id for h in self.dataset_history.values() for s in h}
        ids |= {s.run.run_id for h in self.use_case_history.values() for s in h}
        return len(ids)


# --- reading --------------------------------------------------------------------------------

_RUN_COLS = "r.run_id, r.started_at, r.finished_at, r.as_of, r.config_path, r.config_hash, " \
            "r.status"


def _run(row: tuple[Any, ...]) -> RunInfo:
    return RunInfo(row[0], _utc(row[1]), _utc(row[2]), _utc(row[3]), row[4] or "",
                   row[5] or "", row[6] or "")


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value


def run_info(con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> RunInfo | None:
    """A committed run by id, or the latest one when ``run_id`` is None."""
    sql = f"SELECT {_RUN_COLS} FROM runs r WHERE r.finished_at IS NOT NULL"
    params: list[Any] = []
    if run_id is not None:
        sql += " AND r.run_id = ?"
        params.append(run_id)
    row = con.execute(sql + " ORDER BY r.started_at DESC LIMIT 1", params).fetchone()
    return _run(row) if row else None


def _recent(con: duckdb.DuckDBPyConnection, select: str, key: str, *,
            before: datetime | None, limit: int, run_id: str | None) -> list[tuple[Any, ...]]:
    """Rows of ``select`` (filtered on one ``?`` key, joined to runs as ``r``) from committed
    runs started before ``before`` (or only ``run_id``): the last ``limit``, oldest first."""
    sql = select + " AND r.finished_at IS NOT NULL"
    params: list[Any] = [key]
    if before is not None:
        sql += " AND r.started_at < ?"
        params.append(before)
    if run_id is not None:
        sql += " AND r.run_id = ?"
        params.append(run_id)
    sql += " ORDER BY r.started_at DESC LIMIT ?"
    params.append(limit)
    return con.execute(sql, params).fetchall()[::-1]


def dataset_history(con: duckdb.DuckDBPyConnection, dataset: str, *,
                    before: datetime | None = None, limit: int = 20,
                    run_id: str | None = None) -> list[DatasetSnapshot]:
    """The last ``limit`` successful loads of ``dataset`` started before ``before`` (or only
    the one of ``run_id``), oldest first."""
    heads = _recent(con, f"SELECT {_RUN_COLS}, d.rows, d.source_rows FROM datasets d JOIN "
                         "runs r USING (run_id) WHERE d.dataset = ? AND d.status = 'ok'",
                    dataset, before=before, limit=limit, run_id=run_id)
    if not heads:
        return []
    ids = [h[0] for h in heads]
    cols = _column_stats(con, ids, dataset)
    return [DatasetSnapshot(run=_run(h[:7]), dataset=dataset, rows=int(h[7] or 0),
                            source_rows=None if h[8] is None else int(h[8]),
                            columns=cols.get(h[0], {})) for h in heads]


def _column_stats(con: duckdb.DuckDBPyConnection, run_ids: list[str],
                  dataset: str) -> dict[str, dict[str, ColumnStats]]:
    marks = ", ".join("?" * len(run_ids))
    pii = {(r, c) for r, c in con.execute(
        f"SELECT run_id, column_name FROM pii_columns WHERE dataset = ? AND run_id IN ({marks})",
        [dataset, *run_ids]).fetchall()}
    out: dict[str, dict[str, ColumnStats]] = {}
    rows = con.execute(
        f"SELECT run_id, column_name, profile FROM column_profiles WHERE dataset = ? "
        f"AND run_id IN ({marks})", [dataset, *run_ids]).fetchall()
    for run_id, name, profile in rows:
        out.setdefault(run_id, {})[name] = _stats(json.loads(profile), (run_id, name) in pii)
    return out


def _stats(p: dict[str, Any], pii: bool) -> ColumnStats:
    rows = int(p.get("rows") or 0)
    nulls = int(p.get("nulls") or 0)
    q = p.get("quantiles") or None
    numeric = None
    if q and str(p.get("type") or "").upper().startswith(NUMERIC_TYPES):
        try:
            numeric = {k: float(v) for k, v in q.items() if v is not None}
        except (TypeError, ValueError):
            numeric = None
        if numeric is not None and not all(math.isfinite(v) for v in numeric.values()):
            numeric = None
    top = tuple((str(v), int(n)) for v, n in (p.get("top_values") or ()))
    fresh = p.get("freshness_hours")
    return ColumnStats(name=p["name"], type=str(p.get("type") or ""), rows=rows, nulls=nulls,
                       null_share=nulls / rows if rows else 0.0,
                       distinct=int(p.get("distinct") or 0),
                       freshness_hours=None if fresh is None else float(fresh),
                       quantiles=numeric, top_values=top, pii=pii)


def use_case_history(con: duckdb.DuckDBPyConnection, use_case: str, *,
                     before: datetime | None = None, limit: int = 20,
                     run_id: str | None = None) -> list[UseCaseSnapshot]:
    """The last ``limit`` verdicts of ``use_case`` from runs started before ``before`` (or
    only the one of ``run_id``), oldest first."""
    heads = _recent(con, f"SELECT {_RUN_COLS}, s.band, s.score, s.coverage, s.blockers FROM "
                         "scores s JOIN runs r USING (run_id) WHERE s.use_case = ?",
                    use_case, before=before, limit=limit, run_id=run_id)
    if not heads:
        return []
    ids = [h[0] for h in heads]
    marks = ", ".join("?" * len(ids))
    lost: dict[str, dict[str, float]] = {}
    for run_id, check, points in con.execute(
            f"SELECT run_id, check_id, sum(points_lost) FROM score_checks WHERE use_case = ? "
            f"AND run_id IN ({marks}) GROUP BY ALL", [use_case, *ids]).fetchall():
        lost.setdefault(run_id, {})[check] = float(points or 0.0)
    out = []
    for h in heads:
        blockers = tuple(sorted({b.get("id", "?") for b in json.loads(h[10] or "[]")}))
        out.append(UseCaseSnapshot(run=_run(h[:7]), use_case=use_case, band=h[7],
                                   score=float(h[8] or 0.0), coverage=float(h[9] or 0.0),
                                   blockers=blockers, lost=lost.get(h[0], {})))
    return out


def names(con: duckdb.DuckDBPyConnection) -> tuple[list[str], list[str]]:
    """Dataset and use-case names that appear in any committed run."""
    ds = [r[0] for r in con.execute(
        "SELECT DISTINCT dataset FROM datasets JOIN runs USING (run_id) "
        "WHERE finished_at IS NOT NULL ORDER BY 1").fetchall()]
    uc = [r[0] for r in con.execute(
        "SELECT DISTINCT use_case FROM scores JOIN runs USING (run_id) "
        "WHERE finished_at IS NOT NULL ORDER BY 1").fetchall()]
    return ds, uc


def load_comparison(con: duckdb.DuckDBPyConnection, run_id: str, *,
                    window: int = 20) -> Comparison:
    """Snapshots of ``run_id`` and of up to ``window`` earlier runs per dataset and use case."""
    run = run_info(con, run_id)
    if run is None:
        raise LookupError(f"run {run_id!r} is not in the audit store")
    ds_rows = con.execute("SELECT dataset, status FROM datasets WHERE run_id = ? ORDER BY 1",
                          [run_id]).fetchall()
    uc_rows = con.execute("SELECT use_case FROM scores WHERE run_id = ? ORDER BY 1",
                          [run_id]).fetchall()
    datasets: dict[str, DatasetSnapshot] = {}
    ds_hist: dict[str, list[DatasetSnapshot]] = {}
    for name, status in ds_rows:
        if status != "ok":
            continue
        mine = dataset_history(con, name, run_id=run_id, limit=1)
        if mine:
            datasets[name] = mine[0]
            ds_hist[name] = dataset_history(con, name, before=run.started_at, limit=window)
    use_cases: dict[str, UseCaseSnapshot] = {}
    uc_hist: dict[str, list[UseCaseSnapshot]] = {}
    for (name,) in uc_rows:
        mine_uc = use_case_history(con, name, run_id=run_id, limit=1)
        if mine_uc:
            use_cases[name] = mine_uc[0]
            uc_hist[name] = use_case_history(con, name, before=run.started_at, limit=window)
    failed = tuple(n for n, st in ds_rows if st != "ok")
    return Comparison(run=run, datasets=datasets, failed_datasets=failed, use_cases=use_cases,
                      dataset_history=ds_hist, use_case_history=uc_hist)


# --- retention ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What :func:`prune` deleted (or would delete, with ``dry_run``)."""

    cutoff: datetime
    deleted_runs: tuple[str, ...]
    protected_runs: tuple[str, ...]
    rows_deleted: dict[str, int]
    samples_dropped: int
    dry_run: bool = False


def _run_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every main-schema table with a ``run_id`` column: today's tables and any added later
    (by another feature's migration) are pruned alike, so no run leaves rows behind."""
    rows = con.execute(
        "SELECT DISTINCT c.table_name FROM information_schema.columns c JOIN "
        "information_schema.tables t ON t.table_schema = c.table_schema AND "
        "t.table_name = c.table_name WHERE c.column_name = 'run_id' AND "
        "c.table_schema = 'main' AND t.table_type = 'BASE TABLE' ORDER BY 1").fetchall()
    names_ = [r[0] for r in rows]
    # runs last: a reader never sees a run row whose records are already gone
    return sorted(names_, key=lambda n: n == "runs")


def _samples_of(con: duckdb.DuckDBPyConnection, run_ids: Iterable[str]) -> list[str]:
    wanted = set(run_ids)
    rows = con.execute("SELECT table_name FROM information_schema.tables WHERE "
                       "table_schema = ?", [SAMPLES_SCHEMA]).fetchall()
    return [r[0] for r in rows if r[0].split("__", 1)[0] in wanted]


def _drop_sample(con: duckdb.DuckDBPyConnection, table: str) -> None:
    con.execute(f"DROP TABLE IF EXISTS {SAMPLES_SCHEMA}.{quote_ident(table)}")


def prune(store: Store, keep: timedelta, *, now: datetime | None = None,
          dry_run: bool = False) -> PruneResult:
    """Delete runs that started before ``now - keep``, all their rows and samples, atomically.

    The latest run of every dataset is kept whatever its age, and so is its latest successful
    load when that is an earlier run: a dataset audited once a quarter (or whose source was
    retired or is failing) keeps its last known state, the baseline its next run is compared
    with. Runs are judged by ``started_at`` (when the run happened), not by
    ``as_of`` (the reference time it measured freshness against).
    """
    now = now or datetime.now(UTC)
    cutoff = now - keep
    con = store.con
    old = [r[0] for r in con.execute(
        "SELECT run_id FROM runs WHERE started_at < ? ORDER BY started_at", [cutoff]).fetchall()]
    latest = {r[0] for r in con.execute(
        "SELECT arg_max(d.run_id, r.started_at) FROM datasets d JOIN runs r USING (run_id) "
        "GROUP BY d.dataset UNION SELECT arg_max(d.run_id, r.started_at) FROM datasets d "
        "JOIN runs r USING (run_id) WHERE d.status = 'ok' GROUP BY d.dataset").fetchall()}
    protected = tuple(r for r in old if r in latest)
    doomed = [r for r in old if r not in latest]
    tables = _run_tables(con)
    counts: dict[str, int] = {}
    samples = _samples_of(con, doomed)
    if dry_run or not doomed:
        if doomed:
            marks = ", ".join("?" * len(doomed))
            for t in tables:
                row = con.execute(f"SELECT count(*) FROM {quote_ident(t)} WHERE run_id IN "
                                  f"({marks})", doomed).fetchone()
                counts[t] = int(row[0]) if row else 0
        return PruneResult(cutoff, tuple(doomed), protected, counts, len(samples), dry_run)
    marks = ", ".join("?" * len(doomed))
    con.execute("BEGIN TRANSACTION")
    try:
        for t in tables:
            row = con.execute(f"DELETE FROM {quote_ident(t)} WHERE run_id IN ({marks})",
                              doomed).fetchone()
            counts[t] = int(row[0]) if row else 0
        for table in samples:
            _drop_sample(con, table)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    try:
        con.execute("CHECKPOINT")  # give the space back to the file now, not at some later run
    except duckdb.Error:
        pass
    return PruneResult(cutoff, tuple(doomed), protected, counts, len(samples))
