"""The DuckDB audit store: the only owner of the store connection and its DDL.

A run exists once its row in ``runs`` is committed. Its records (schemas, profiles, results,
findings, scores) are buffered and written with that row in one short transaction at the end, so
they become visible together; a crash, a bug or Ctrl-C before that leaves no run behind and never
touches earlier runs. Sample tables are written as the run goes (in DuckDB a failed statement
aborts the whole open transaction, so a long run transaction would let one bad source or one bad
regex poison the run); the samples of a run that never committed are dropped when it fails, or
swept at the next open after a crash. A run whose *sources* failed still commits (status
``partial``): the failure is a finding in it.

The schema is versioned in ``_auditor_meta``; migrations run in order inside a transaction.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from auditor.errors import StoreError
from auditor.lineage_graph import LINEAGE_MIGRATION
from auditor.models import (
    AccessInventory,
    AuditResult,
    ColumnSchema,
    DatasetResult,
    ExpectationOutcome,
    Finding,
    RejectedRow,
    TableProfile,
    UseCaseScore,
)
from auditor.sqlident import quote_ident

SAMPLES_SCHEMA = "samples"

MIGRATIONS: list[tuple[int, str]] = [
    (1, """
    CREATE SCHEMA IF NOT EXISTS samples;
    CREATE TABLE runs (
        run_id VARCHAR PRIMARY KEY, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ,
        config_path VARCHAR, config_hash VARCHAR, status VARCHAR, auditor_version VARCHAR,
        as_of TIMESTAMPTZ, summary JSON);
    CREATE TABLE datasets (
        run_id VARCHAR, dataset VARCHAR, source VARCHAR, object VARCHAR, status VARCHAR,
        rows BIGINT, source_rows BIGINT, sample_table VARCHAR, rejected_rows BIGINT,
        owner VARCHAR, error VARCHAR);
    CREATE TABLE columns (
        run_id VARCHAR, dataset VARCHAR, position INTEGER, name VARCHAR, type VARCHAR,
        nullable BOOLEAN, primary_key BOOLEAN, comment VARCHAR);
    CREATE TABLE table_profiles (
        run_id VARCHAR, dataset VARCHAR, rows BIGINT, duplicate_rows BIGINT,
        key_columns JSON, duplicate_keys BIGINT, null_keys BIGINT);
    CREATE TABLE column_profiles (
        run_id VARCHAR, dataset VARCHAR, column_name VARCHAR, profile JSON,
        null_share DOUBLE, distinct_count BIGINT, freshness_hours DOUBLE);
    CREATE TABLE expectation_results (
        run_id VARCHAR, dataset VARCHAR, suite VARCHAR, idx INTEGER, expectation_type VARCHAR,
        column_name VARCHAR, kwargs JSON, success BOOLEAN, element_count BIGINT,
        unexpected_count BIGINT, missing_count BIGINT, unexpected_percent DOUBLE,
        observed_value JSON, examples JSON, severity VARCHAR, meta JSON, engine VARCHAR,
        error VARCHAR);
    CREATE TABLE rejected_rows (
        run_id VARCHAR, dataset VARCHAR, line BIGINT, reason VARCHAR, column_name VARCHAR,
        raw VARCHAR);
    CREATE TABLE pii_columns (
        run_id VARCHAR, dataset VARCHAR, column_name VARCHAR, reason VARCHAR);
    CREATE TABLE findings (
        run_id VARCHAR, code VARCHAR, severity VARCHAR, message VARCHAR, dataset VARCHAR,
        column_name VARCHAR, source VARCHAR, hint VARCHAR, detail JSON);
    CREATE TABLE scores (
        run_id VARCHAR, use_case VARCHAR, kind VARCHAR, band VARCHAR, score DOUBLE,
        coverage DOUBLE, blockers JSON, criticals JSON, group_weights JSON, per_dataset JSON);
    CREATE TABLE score_checks (
        run_id VARCHAR, use_case VARCHAR, check_id VARCHAR, name VARCHAR, grp VARCHAR,
        scope VARCHAR, status VARCHAR, severity VARCHAR, value DOUBLE, display VARCHAR,
        n BIGINT, ci95_low DOUBLE, fail DOUBLE, target DOUBLE, utility DOUBLE, weight DOUBLE,
        points_lost DOUBLE, max_points DOUBLE, blocker VARCHAR, reason VARCHAR, fix VARCHAR,
        evidence JSON);
    """),
    (2, """
    CREATE TABLE access_grants (
        run_id VARCHAR, source VARCHAR, dataset VARCHAR, object VARCHAR, column_name VARCHAR,
        grantee VARCHAR, privilege VARCHAR, via VARCHAR, path JSON, can_login BOOLEAN,
        row_filtered BOOLEAN, masked BOOLEAN, detail VARCHAR);
    CREATE TABLE access_roles (
        run_id VARCHAR, source VARCHAR, name VARCHAR, can_login BOOLEAN, superuser BOOLEAN,
        member_of JSON, members JSON);
    """),
    (3, LINEAGE_MIGRATION),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def _sample_ref(table: str) -> str:
    return f"{SAMPLES_SCHEMA}.{quote_ident(table)}"


def _json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


class Store:
    """An open audit store. Use :meth:`open` and :meth:`run`."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path):
        self.con = con
        self.path = path

    @classmethod
    def open(cls, path: Path | str, *, lock_timeout: float = 30.0,
             memory_limit: str | None = "512MB", read_only: bool = False) -> Store:
        """Open (creating and migrating) the store; wait up to ``lock_timeout`` for a lock.

        DuckDB allows one writing process per file; a second audit started by an overlapping
        cron job waits here instead of failing half-way. ``memory_limit`` bounds DuckDB's buffer
        cache (it spills beyond it): 512MB keeps a whole audit (with GX and pyarrow imported)
        under 1 GB at 10M rows without changing wall times (benchmarks/README.md).
        """
        if str(path) == ":memory:":
            store = cls(duckdb.connect(":memory:"), Path(":memory:"))
            store._migrate()
            store._use_samples_schema()
            return store
        path = Path(path)
        if path.is_dir():
            raise StoreError(f"audit store {str(path)!r} is a directory",
                             hint="set store.path to a file such as .auditor/audit.duckdb")
        if read_only and not path.exists():
            raise StoreError(f"audit store {str(path)!r} does not exist",
                             hint="run `auditor audit` first")
        path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + lock_timeout
        while True:
            try:
                con = duckdb.connect(str(path), read_only=read_only)
                break
            except duckdb.IOException as exc:
                locked = "lock" in str(exc).lower()
                if locked and time.monotonic() < deadline:
                    time.sleep(0.25)
                    continue
                if locked:
                    holder = str(exc).split("Conflicting lock is held in", 1)[-1].split(".")[0]
                    raise StoreError(
                        f"audit store {str(path)!r} is in use by another process"
                        f"{' (' + holder.strip() + ')' if 'PID' in holder else ''}; "
                        f"waited {lock_timeout:.0f} s",
                        hint="another auditor run may hold it; retry later") from None
                raise StoreError(f"cannot open audit store {str(path)!r}: {exc}") from None
            except duckdb.Error as exc:
                raise StoreError(f"cannot open audit store {str(path)!r}: {exc}",
                                 hint="the file may not be a DuckDB database") from None
        if memory_limit:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        store = cls(con, path)
        if not read_only:
            store._migrate()
            store._sweep_orphans()
        store._use_samples_schema()
        return store

    def close(self) -> None:
        self.con.close()

    def _use_samples_schema(self) -> None:
        """Put ``samples`` on the search path: sample tables are then plain identifiers."""
        if self.schema_version():
            self.con.execute(f"SET search_path = '{SAMPLES_SCHEMA},main'")

    # --- schema ---------------------------------------------------------------------------

    def schema_version(self) -> int:
        exists = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = '_auditor_meta'"
        ).fetchone()
        if not exists or not exists[0]:
            return 0
        row = self.con.execute(
            "SELECT value FROM _auditor_meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self) -> None:
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise StoreError(f"audit store {str(self.path)!r} has schema version {current}, "
                             f"newer than this auditor's {SCHEMA_VERSION}",
                             hint="upgrade the auditor or use another store path")
        if current == SCHEMA_VERSION:
            return
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute("CREATE TABLE IF NOT EXISTS _auditor_meta "
                             "(key VARCHAR PRIMARY KEY, value VARCHAR)")
            for version, sql in MIGRATIONS:
                if version > current:
                    self.con.execute(sql)
            self.con.execute("INSERT OR REPLACE INTO _auditor_meta VALUES "
                             "('schema_version', ?)", [str(SCHEMA_VERSION)])
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise

    # --- runs -----------------------------------------------------------------------------

    @contextmanager
    def run(self, *, config_path: str, config_hash: str, version: str,
            as_of: datetime) -> Iterator[RunWriter]:
        """One atomic run: everything written through the yielded writer commits together."""
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        writer = RunWriter(self, run_id)
        writer.defer(
            "INSERT INTO runs (run_id, started_at, config_path, config_hash, status, "
            "auditor_version, as_of) VALUES (?, ?, ?, ?, 'running', ?, ?)",
            [[run_id, datetime.now(UTC), config_path, config_hash, version, as_of]])
        try:
            yield writer
        except BaseException:
            writer.discard()
            raise
        writer.commit()

    def _sweep_orphans(self) -> None:
        """Drop sample tables of runs that never committed (a crash mid-run)."""
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND "
            "split_part(table_name, '__', 1) NOT IN (SELECT run_id FROM runs)",
            [SAMPLES_SCHEMA]).fetchall()
        for (name,) in rows:
            self.con.execute(f"DROP TABLE IF EXISTS {SAMPLES_SCHEMA}.{quote_ident(name)}")

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        cur = self.con.execute(
            "SELECT run_id, started_at, finished_at, config_hash, status, summary FROM runs "
            "ORDER BY started_at DESC LIMIT ?", [limit])
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


class RunWriter:
    """Writes one run's records; only valid inside :meth:`Store.run`."""

    def __init__(self, store: Store, run_id: str):
        self.store = store
        self.con = store.con
        self.run_id = run_id
        self._pending: list[tuple[str, list[list[Any]]]] = []
        self._samples: list[str] = []

    def defer(self, sql: str, rows: list[list[Any]]) -> None:
        """Queue rows for the run's final transaction."""
        if rows:
            self._pending.append((sql, rows))

    def commit(self) -> None:
        """Write the run row and every queued record in one transaction."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            for sql, rows in self._pending:
                self.con.executemany(sql, rows)
            self.con.execute("COMMIT")
        except BaseException as exc:
            self.con.execute("ROLLBACK")
            self.discard()
            if isinstance(exc, duckdb.Error):
                raise StoreError(f"could not write run {self.run_id} to the audit store: "
                                 f"{exc}") from None
            raise
        self._pending.clear()

    def discard(self) -> None:
        """Drop this run's sample tables (the run never committed)."""
        for table in self._samples:
            try:
                self.con.execute(f"DROP TABLE IF EXISTS {_sample_ref(table)}")
            except duckdb.Error:
                pass  # swept at the next open
        self._pending.clear()

    def write_sample(self, dataset: str, reader: pa.RecordBatchReader) -> tuple[str, int]:
        """Stream Arrow batches into a sample table; returns (table name, rows).

        The name is one identifier in the ``samples`` schema, which is on the connection's
        search path, so stages quote it like any other name.
        """
        table = f"{self.run_id}__{dataset}"
        view = f"__incoming_{uuid.uuid4().hex[:8]}"
        # Own cursor: DuckDB 2 refuses register() while the connection has an unfinished
        # result, and stages leave those behind after fetchone().
        cur = self.con.cursor()
        self._samples.append(table)
        try:
            cur.register(view, reader)
            cur.execute(f"CREATE TABLE {_sample_ref(table)} AS SELECT * FROM {view}")
        finally:
            cur.close()
        rows = self.con.execute(f"SELECT count(*) FROM {_sample_ref(table)}").fetchone()
        return table, int(rows[0]) if rows else 0

    def mask_columns(self, table: str, expressions: dict[str, str]) -> None:
        """Overwrite PII columns in a stored sample with masked values (SQL per column)."""
        if not expressions:
            return
        sets = ", ".join(f"{quote_ident(col)} = {expr}" for col, expr in expressions.items())
        self.con.execute(f"UPDATE {_sample_ref(table)} SET {sets}")

    def drop_sample(self, table: str) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {_sample_ref(table)}")
        self._samples.remove(table)

    def write_schema(self, dataset: str, columns: Sequence[ColumnSchema]) -> None:
        self.defer(
            "INSERT INTO columns VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [[self.run_id, dataset, i, c.name, c.type, c.nullable, c.primary_key, c.comment]
             for i, c in enumerate(columns)])

    def write_rejected(self, dataset: str, rows: Sequence[RejectedRow]) -> None:
        if rows:
            self.defer(
                "INSERT INTO rejected_rows VALUES (?, ?, ?, ?, ?, ?)",
                [[self.run_id, dataset, r.line, r.reason, r.column, r.raw] for r in rows])

    def write_profile(self, profile: TableProfile) -> None:
        self.defer(
            "INSERT INTO table_profiles VALUES (?, ?, ?, ?, ?, ?, ?)",
            [[self.run_id, profile.dataset, profile.rows, profile.duplicate_rows,
              _json(list(profile.key_columns)), profile.duplicate_keys, profile.null_keys]])
        self.defer(
            "INSERT INTO column_profiles VALUES (?, ?, ?, ?, ?, ?, ?)",
            [[self.run_id, profile.dataset, c.name, _json(asdict(c)), c.null_share, c.distinct,
              c.freshness_hours] for c in profile.columns])

    def write_expectations(self, outcomes: Sequence[ExpectationOutcome]) -> None:
        self.defer(
            "INSERT INTO expectation_results VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[self.run_id, o.dataset, o.suite, i, o.expectation_type, o.column, _json(o.kwargs),
              o.success, o.element_count, o.unexpected_count, o.missing_count,
              o.unexpected_percent, _json(o.observed_value), _json(list(o.examples)),
              o.severity, _json(o.meta), o.engine, o.error] for i, o in enumerate(outcomes)])

    def write_pii(self, dataset: str, reasons: dict[str, str]) -> None:
        if reasons:
            self.defer("INSERT INTO pii_columns VALUES (?, ?, ?, ?)",
                                 [[self.run_id, dataset, c, r] for c, r in reasons.items()])

    def write_access(self, dataset: str, inv: AccessInventory) -> None:
        self.defer(
            "INSERT INTO access_grants VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[self.run_id, inv.source, dataset, g.object, g.column, g.grantee, g.privilege,
              g.via, _json(list(g.path)), g.can_login, g.row_filtered, g.masked, g.detail]
             for g in inv.grants])

    def write_roles(self, inv: AccessInventory) -> None:
        self.defer(
            "INSERT INTO access_roles VALUES (?, ?, ?, ?, ?, ?, ?)",
            [[self.run_id, inv.source, r.name, r.can_login, r.superuser, _json(list(r.member_of)),
              _json(list(r.members))] for r in inv.roles])

    def write_dataset(self, d: DatasetResult) -> None:
        self.defer(
            "INSERT INTO datasets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[self.run_id, d.name, d.source, d.object, d.status, d.rows, d.source_rows,
              d.sample_table, d.rejected_rows, d.owner, d.error]])

    def write_findings(self, findings: Sequence[Finding]) -> None:
        if findings:
            self.defer(
                "INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [[self.run_id, f.code, f.severity, f.message, f.dataset, f.column, f.source,
                  f.hint, _json(f.detail)] for f in findings])

    def write_scores(self, scores: Sequence[UseCaseScore]) -> None:
        for s in scores:
            self.defer(
                "INSERT INTO scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [[self.run_id, s.use_case, s.kind, s.band.value, s.score, s.coverage,
                  _json([asdict(b) for b in s.blockers]), _json(list(s.criticals)),
                  _json(s.group_weights), _json(s.per_dataset)]])
            self.defer(
                "INSERT INTO score_checks VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [[self.run_id, s.use_case, c.check, c.name, c.group, c.scope, c.status,
                  c.severity, c.value, c.display, c.n, c.ci95_low, c.fail, c.target, c.utility,
                  c.weight, c.points_lost, c.max_points, c.blocker, c.reason, c.fix,
                  _json(c.evidence)] for c in s.checks])

    def finish(self, result: AuditResult, status: str) -> None:
        summary = {u.use_case: {"band": u.band.value, "score": round(u.score, 1)}
                   for u in result.use_cases}
        self.defer(
            "UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE run_id = ?",
            [[result.finished_at, status, _json(summary), self.run_id]])
