"""Catalogue facts of a SQLAlchemy database: objects, columns, keys, comments, estimates, views.

Everything portable comes from SQLAlchemy's Inspector (schemas, tables, views, columns and
their types, primary/foreign/unique keys, comments, view definitions). Two facts have no
portable API and are read from the catalogue with bound parameters:

* row-count estimates: PostgreSQL ``pg_class.reltuples`` (scaled to the relation's current
  size the way the planner does, for choosing a TABLESAMPLE rate), MySQL/MariaDB
  ``information_schema.TABLES.TABLE_ROWS`` (InnoDB's estimate; exact for MyISAM);
* the owner: PostgreSQL ``pg_class.relowner``. MySQL/MariaDB tables have no owner (a view's
  DEFINER is who it runs as, not who answers for it), so it stays None.

Object names are ``schema.table``, or ``table`` for the default schema.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Inspector

from auditor.errors import UnknownObject
from auditor.models import ColumnSchema, ObjectMetadata
from connectors.sql_types import type_name

__all__ = ["SYSTEM_SCHEMAS", "Catalog", "Stats", "TableRef", "match_ref", "unknown_object"]

SYSTEM_SCHEMAS = frozenset({
    "information_schema", "pg_catalog", "pg_toast", "mysql", "performance_schema", "sys",
    "INFORMATION_SCHEMA", "guest", "temp",
})  # fmt: skip

_PG_STATS = sa.text(
    "SELECT c.relkind::text, c.reltuples, c.relpages, "
    "pg_relation_size(c.oid) / current_setting('block_size')::int, "
    "pg_get_userbyid(c.relowner) "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = :schema AND c.relname = :name"
)
_MYSQL_STATS = sa.text(
    "SELECT TABLE_ROWS, TABLE_TYPE FROM information_schema.TABLES "
    "WHERE TABLE_SCHEMA = :schema AND TABLE_NAME = :name"
)


@dataclass(frozen=True, slots=True)
class TableRef:
    """One resolved object: its real schema and name, and how discover() names it."""

    schema: str
    name: str
    is_view: bool
    display: str


@dataclass(frozen=True, slots=True)
class Stats:
    """Catalogue statistics: the estimate as stored, and scaled to the current size."""

    estimate: int | None = None
    current_estimate: float | None = None
    owner: str | None = None
    sampleable: bool = False  # a plain table/matview (TABLESAMPLE works on it)


def unknown_object(obj: str, names: list[str], source: str) -> UnknownObject:
    """UnknownObject naming the source, the object and up to three close matches."""
    lower = {n.lower(): n for n in names}
    close = difflib.get_close_matches(obj, names, n=3, cutoff=0.5) or [
        lower[c] for c in difflib.get_close_matches(obj.lower(), list(lower), n=3, cutoff=0.5)]
    hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else (
        f"this source has {len(names)} tables and views; none is close to {obj!r}")
    return UnknownObject(f"source {source!r}: no table or view {obj!r}", hint=hint)


def match_ref(obj: str, refs: list[TableRef], default_schema: str, source: str) -> TableRef:
    """The ref ``obj`` names among ``refs`` (exact, then unique case-insensitive match)."""
    wanted = [(default_schema, obj)]
    if "." in obj:
        schema, _, name = obj.partition(".")
        wanted.insert(0, (schema, name))
    for schema, name in wanted:
        exact = [r for r in refs if r.schema == schema and r.name == name]
        if exact:
            return exact[0]
        folded = [r for r in refs if r.schema.lower() == schema.lower()
                  and r.name.lower() == name.lower()]
        if len(folded) == 1:
            return folded[0]
    raise unknown_object(obj, [r.display for r in refs], source)


def _is_system(schema: str) -> bool:
    return schema in SYSTEM_SCHEMAS or schema.startswith(("pg_temp", "pg_toast"))


class Catalog:
    """Reads catalogue facts over one connection; reflected tables are cached by the caller."""

    def __init__(self, conn: Connection, default_schema: str | None) -> None:
        self.conn = conn
        self.inspector: Inspector = sa.inspect(conn)
        self.dialect = conn.dialect
        self.default_schema = default_schema or self.inspector.default_schema_name or "main"

    # --- names ----------------------------------------------------------------------------

    def _display(self, schema: str, name: str) -> str:
        return name if schema == self.default_schema else f"{schema}.{name}"

    def _names(self, schema: str) -> tuple[list[str], list[str]]:
        """Tables and views (materialized views count as views) of one schema."""
        insp = self.inspector
        tables = list(insp.get_table_names(schema=schema))
        views = list(insp.get_view_names(schema=schema))
        if self.dialect.name == "postgresql":
            views += insp.get_materialized_view_names(schema=schema)
        return tables, views

    def schemas(self) -> list[str]:
        found = [s for s in self.inspector.get_schema_names() if not _is_system(s)]
        if self.default_schema not in found:
            found.insert(0, self.default_schema)
        return found

    def objects(self) -> list[TableRef]:
        refs = []
        for schema in self.schemas():
            tables, views = self._names(schema)
            refs += [TableRef(schema, n, False, self._display(schema, n)) for n in tables]
            refs += [TableRef(schema, n, True, self._display(schema, n)) for n in views]
        return sorted(refs, key=lambda r: r.display)

    def resolve(self, obj: str, source: str) -> TableRef:
        """``schema.table`` or ``table`` -> the object; UnknownObject with close matches.

        An exact name wins; otherwise a unique case-insensitive match (``Accounts`` for
        PostgreSQL's folded ``accounts``). A dotted name is first read as schema + table, then
        as a table whose own name holds a dot.
        """
        candidates: list[tuple[str, str]] = []
        if "." in obj:
            schema, _, name = obj.partition(".")
            candidates.append((schema, name))
        candidates.append((self.default_schema, obj))
        known = set(self.schemas())
        known_lower = {s.lower(): s for s in known}
        for schema, name in candidates:
            real_schema = schema if schema in known else known_lower.get(schema.lower())
            if real_schema is None:
                continue
            tables, views = self._names(real_schema)
            for pool, is_view in ((tables, False), (views, True)):
                if name in pool:
                    return TableRef(real_schema, name, is_view, self._display(real_schema, name))
            folded = [(n, v) for pool, v in ((tables, False), (views, True)) for n in pool
                      if n.lower() == name.lower()]
            if len(folded) == 1:
                n, v = folded[0]
                return TableRef(real_schema, n, v, self._display(real_schema, n))
        raise unknown_object(obj, [r.display for r in self.objects()], source)

    # --- facts ----------------------------------------------------------------------------

    def reflect(self, ref: TableRef) -> sa.Table:
        return sa.Table(ref.name, sa.MetaData(), schema=ref.schema, autoload_with=self.conn)

    def stats(self, ref: TableRef) -> Stats:
        params = {"schema": ref.schema, "name": ref.name}
        if self.dialect.name == "postgresql":
            row = self.conn.execute(_PG_STATS, params).first()
            if row is None:
                return Stats()
            relkind, reltuples, relpages, pages, owner = row
            estimate = int(reltuples) if reltuples is not None and reltuples >= 0 else None
            if relkind not in ("r", "m"):
                estimate = None  # views, partitioned parents: no own tuples
            current = None
            if estimate is not None:
                current = float(estimate)
                if relpages and pages:
                    current = reltuples / relpages * pages
            return Stats(estimate, current, owner, relkind in ("r", "m"))
        if self.dialect.name in ("mysql", "mariadb"):
            row = self.conn.execute(_MYSQL_STATS, params).first()
            if row is None or row[0] is None or row[1] != "BASE TABLE":
                return Stats()
            return Stats(int(row[0]), float(row[0]), None, False)
        return Stats()

    def _pk(self, ref: TableRef) -> tuple[str, ...]:
        if ref.is_view:
            return ()
        pk = self.inspector.get_pk_constraint(ref.name, schema=ref.schema) or {}
        return tuple(pk.get("constrained_columns") or ())

    def _unique(self, ref: TableRef) -> set[str]:
        """Columns that are unique on their own (single-column constraints and indexes)."""
        if ref.is_view:
            return set()
        found: set[str] = set()
        try:
            for uc in self.inspector.get_unique_constraints(ref.name, schema=ref.schema):
                if len(uc.get("column_names") or []) == 1:
                    found.add(uc["column_names"][0])
        except NotImplementedError:
            pass
        for ix in self.inspector.get_indexes(ref.name, schema=ref.schema):
            cols = ix.get("column_names") or []
            if ix.get("unique") and len(cols) == 1 and cols[0] is not None:
                found.add(cols[0])
        return found

    def _comment(self, ref: TableRef) -> str | None:
        try:
            return self.inspector.get_table_comment(ref.name, schema=ref.schema).get("text")
        except NotImplementedError:
            return None

    def describe(self, ref: TableRef, table: sa.Table, location: str) -> ObjectMetadata:
        pk = self._pk(ref)
        unique = self._unique(ref)
        if len(pk) == 1:
            unique.add(pk[0])
        columns = tuple(
            ColumnSchema(
                name=c.name,
                type=type_name(c.type, self.dialect),
                nullable=bool(c.nullable) if not c.primary_key else False,
                primary_key=c.name in pk,
                unique=c.name in unique,
                comment=c.comment,
            )
            for c in table.columns
        )
        stats = self.stats(ref)
        return ObjectMetadata(
            columns=columns,
            primary_key=pk,
            row_count_estimate=stats.estimate,
            owner=stats.owner,
            description=self._comment(ref),
            location=location,
        )

    def foreign_keys(self, ref: TableRef) -> list[tuple[str, str]]:
        """(column, ``schema.table.column``) for every foreign-key column, in key order."""
        if ref.is_view:
            return []
        kw: dict[str, Any] = {}
        if self.dialect.name == "postgresql":
            kw["postgresql_ignore_search_path"] = True  # always report the referred schema
        out = []
        for fk in self.inspector.get_foreign_keys(ref.name, schema=ref.schema, **kw):
            schema = fk.get("referred_schema") or ref.schema
            for col, target in zip(fk["constrained_columns"], fk["referred_columns"],
                                   strict=False):
                out.append((col, f"{schema}.{fk['referred_table']}.{target}"))
        return out

    def view_definition(self, ref: TableRef) -> str | None:
        if not ref.is_view:
            return None
        try:
            text = self.inspector.get_view_definition(ref.name, schema=ref.schema)
        except (NotImplementedError, sa.exc.NoSuchTableError):
            return None
        return str(text).strip() if text else None
