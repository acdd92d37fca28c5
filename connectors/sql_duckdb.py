"""``kind: duckdb``: a DuckDB database file, read with DuckDB's own Python API.

Why not SQLAlchemy: the ``duckdb-engine`` dialect trails DuckDB's releases (its last one,
0.17 of March 2025, predates DuckDB 2.x and is reported broken with recent DuckDB; it is not
installed here to check), and DuckDB hands over Arrow record batches natively, so there is
nothing to convert and no per-row Python. The catalogue comes from ``duckdb_tables()``,
``duckdb_views()``, ``duckdb_columns()`` and ``duckdb_constraints()`` with bound parameters;
the sampling SELECT is the same SQLAlchemy-built statement as for the other engines
(identifiers quoted by SQLAlchemy's PostgreSQL rules, which DuckDB shares), compiled with
literal values.

The file is opened ``read_only=True`` with external access disabled (a ``where`` filter cannot
read other files) and extension auto-install off. DuckDB has no statement timeout, so a timer
interrupts the connection when one execute or fetch runs past ``statement_timeout``. A file
that another process has open for writing cannot be opened (DuckDB's lock) and is reported as
unavailable.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from auditor.errors import SourceDataError, SourceError, SourceUnavailable
from auditor.models import ColumnSchema, ObjectMetadata, Sample, SampleSpec
from connectors.sql_adbc import compile_literal
from connectors.sql_catalog import Stats, TableRef, match_ref
from connectors.sql_errors import ErrorContext, classify
from connectors.sql_query import build_select
from connectors.sql_types import ColumnPlan

if TYPE_CHECKING:
    from connectors.sql import SqlSourceConfig

__all__ = ["DuckDbFile"]

_OBJECTS = """
SELECT schema_name, table_name, false FROM duckdb_tables()
WHERE database_name = current_database() AND NOT internal AND NOT temporary
UNION ALL
SELECT schema_name, view_name, true FROM duckdb_views()
WHERE database_name = current_database() AND NOT internal AND NOT temporary
"""
_COLUMNS = """
SELECT column_name, data_type, is_nullable, comment FROM duckdb_columns()
WHERE database_name = current_database() AND schema_name = ? AND table_name = ?
ORDER BY column_index
"""
_CONSTRAINTS = """
SELECT constraint_type, constraint_column_names, referenced_table, referenced_column_names
FROM duckdb_constraints()
WHERE database_name = current_database() AND schema_name = ? AND table_name = ?
ORDER BY constraint_index
"""
_TABLE = """
SELECT estimated_size, comment, NULL FROM duckdb_tables()
WHERE database_name = current_database() AND schema_name = ? AND table_name = ?
UNION ALL
SELECT NULL, comment, sql FROM duckdb_views()
WHERE database_name = current_database() AND schema_name = ? AND view_name = ?
"""


def _sa_type(duck_type: str) -> sa.types.TypeEngine[Any]:
    """A SQLAlchemy type close enough to render ``since`` literals for the column."""
    t = duck_type.upper()
    if t.startswith("TIMESTAMP"):
        return sa.DateTime(timezone="TIME ZONE" in t or t == "TIMESTAMPTZ")
    if t == "DATE":
        return sa.Date()
    if t.startswith("DECIMAL"):
        return sa.Numeric()
    if t in ("DOUBLE", "FLOAT", "REAL"):
        return sa.Float()
    if t.endswith("INT") or t in ("INTEGER", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT"):
        return sa.Integer()
    return sa.String()


class DuckDbFile:
    """One read-only DuckDB connection to a database file; one cursor per open sample."""

    def __init__(self, name: str, path: Path, config: SqlSourceConfig,
                 ctx: ErrorContext) -> None:
        self.name = name
        self.path = path
        self.config = config
        self.ctx = ctx
        self.default_schema: str = config.schema_ or "main"
        self._con: duckdb.DuckDBPyConnection | None = None
        self._cursors: list[duckdb.DuckDBPyConnection] = []

    # --- connection -----------------------------------------------------------------------

    def connection(self) -> duckdb.DuckDBPyConnection:
        """The read-only connection, opened on first use."""
        if self._con is not None:
            return self._con
        where = f"source {self.name!r}: DuckDB file {self.path}"
        if not self.path.is_file():
            raise SourceUnavailable(f"{where} does not exist",
                                    hint="check `path` (relative to the config file)")
        try:
            self._con = duckdb.connect(str(self.path), read_only=True, config={
                "enable_external_access": "false",
                "autoinstall_known_extensions": "false",
                "autoload_known_extensions": "false",
            })
        except duckdb.IOException as exc:
            text = str(exc).lower()
            if "lock" in text:
                raise SourceUnavailable(f"{where} is open for writing by another process",
                                        hint="DuckDB allows one writer or many readers; retry "
                                        "when the writer has finished") from None
            raise SourceDataError(f"{where} cannot be opened: {self.ctx.scrub(str(exc))}",
                                  hint="is it a DuckDB database file of a supported version?"
                                  ) from None
        except duckdb.Error as exc:
            raise SourceDataError(f"{where} cannot be opened: {self.ctx.scrub(str(exc))}"
                                  ) from None
        return self._con

    @contextmanager
    def _errors(self, obj: str | None = None, where: str | None = None,
                rows: int | None = None) -> Iterator[None]:
        try:
            yield
        except SourceError:
            raise
        except duckdb.Error as exc:
            raise classify(exc, self.ctx, obj=obj, where=where, rows=rows) from None

    @contextmanager
    def _deadline(self, cur: duckdb.DuckDBPyConnection) -> Iterator[None]:
        """Interrupt ``cur`` if the block runs past the statement timeout."""
        timer = threading.Timer(self.config.statement_timeout, cur.interrupt)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def _query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        cur = self.connection().cursor()
        try:
            with self._errors(), self._deadline(cur):
                return cur.execute(sql, params or []).fetchall()
        finally:
            cur.close()

    # --- catalogue ------------------------------------------------------------------------

    def _refs(self) -> list[TableRef]:
        refs = []
        for schema, name, is_view in self._query(_OBJECTS):
            display = name if schema == self.default_schema else f"{schema}.{name}"
            refs.append(TableRef(schema, name, bool(is_view), display))
        return sorted(refs, key=lambda r: r.display)

    def _resolve(self, obj: str) -> TableRef:
        return match_ref(obj, self._refs(), self.default_schema, self.name)

    def discover(self) -> list[str]:
        return [r.display for r in self._refs()]

    def _constraints(self, ref: TableRef) -> list[tuple[Any, ...]]:
        return self._query(_CONSTRAINTS, [ref.schema, ref.name])

    def _describe(self, ref: TableRef) -> tuple[ObjectMetadata, str | None]:
        cols = self._query(_COLUMNS, [ref.schema, ref.name])
        pk: tuple[str, ...] = ()
        unique: set[str] = set()
        for ctype, names, _, _ in self._constraints(ref):
            if ctype == "PRIMARY KEY":
                pk = tuple(names)
            if ctype in ("PRIMARY KEY", "UNIQUE") and len(names) == 1:
                unique.add(names[0])
        info = self._query(_TABLE, [ref.schema, ref.name, ref.schema, ref.name])
        estimate, comment, view_sql = info[0] if info else (None, None, None)
        columns = tuple(
            ColumnSchema(name=n, type=str(t), nullable=bool(nullable) and n not in pk,
                         primary_key=n in pk, unique=n in unique, comment=c or None)
            for n, t, nullable, c in cols
        )
        metadata = ObjectMetadata(
            columns=columns, primary_key=pk,
            row_count_estimate=int(estimate) if estimate is not None else None,
            owner=None, description=comment or None,
            location=f"duckdb:///{self.path} {ref.schema}.{ref.name}",
        )
        return metadata, (str(view_sql).strip() if view_sql else None)

    def describe(self, obj: str) -> ObjectMetadata:
        return self._describe(self._resolve(obj))[0]

    def foreign_keys(self, obj: str) -> list[tuple[str, str]]:
        ref = self._resolve(obj)
        out = []
        for ctype, names, table, targets in self._constraints(ref):
            if ctype == "FOREIGN KEY":
                for col, target in zip(names, targets, strict=False):
                    out.append((col, f"{ref.schema}.{table}.{target}"))
        return out

    def view_definition(self, obj: str) -> str | None:
        return self._describe(self._resolve(obj))[1]

    # --- sampling -------------------------------------------------------------------------

    def sample(self, obj: str, spec: SampleSpec, options: Mapping[str, Any],
               chunk: int) -> Sample:
        ref = self._resolve(obj)
        metadata, view_sql = self._describe(ref)
        table = sa.Table(ref.name, sa.MetaData(),
                         *[sa.Column(c.name, _sa_type(c.type)) for c in metadata.columns],
                         schema=ref.schema)
        plans = [ColumnPlan(c.name, pa.null(), None, c.type) for c in metadata.columns]
        where = f"source {self.name!r}, {ref.display}"
        stmt, how = build_select(table, plans, metadata.primary_key,
                                 Stats(metadata.row_count_estimate), spec, options,
                                 dialect="duckdb", where=where)
        notes = [how, f"fetched through DuckDB's Arrow reader, {chunk} rows per batch"]
        notes += [f"foreign key {c} -> {t}" for c, t in self.foreign_keys(obj)]
        if view_sql:
            notes.append("view definition: " + " ".join(view_sql.split())[:2000])
        cur = self.connection().cursor()
        self._cursors.append(cur)
        try:
            with self._errors(ref.display, spec.where), self._deadline(cur):
                inner = cur.sql(compile_literal(stmt)).to_arrow_reader(chunk)
                first = next(iter(inner), None)
        except BaseException:
            self._release(cur)
            raise
        reader = pa.RecordBatchReader.from_batches(
            inner.schema, self._batches(cur, inner, first, ref.display, spec.where))
        return Sample(reader=reader, metadata=metadata, notes=notes)

    def _batches(self, cur: duckdb.DuckDBPyConnection, inner: pa.RecordBatchReader,
                 first: pa.RecordBatch | None, obj: str,
                 where: str | None) -> Iterator[pa.RecordBatch]:
        rows = 0
        try:
            if first is not None:
                rows += first.num_rows
                yield first
            while True:
                try:
                    with self._errors(obj, where, rows), self._deadline(cur):
                        batch = next(iter(inner), None)
                except pa.ArrowException:
                    if cur not in self._cursors:
                        raise SourceUnavailable(
                            f"source {self.name!r}, {obj}: the connector was closed after "
                            f"{rows} rows were read") from None
                    raise
                if batch is None:
                    return
                rows += batch.num_rows
                yield batch
        finally:
            self._release(cur)

    def _release(self, cur: duckdb.DuckDBPyConnection) -> None:
        if cur in self._cursors:
            self._cursors.remove(cur)
            try:
                cur.close()
            except duckdb.Error:
                pass

    def close(self) -> None:
        for cur in list(self._cursors):
            self._release(cur)
        if self._con is not None:
            self._con.close()
            self._con = None
