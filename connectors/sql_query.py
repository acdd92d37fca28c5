"""The sampling SELECT: filters, incremental reads, first N and seeded random N, per dialect.

Every identifier is quoted by SQLAlchemy (the statement is built from the reflected table);
the only raw SQL text is the user's ``where`` condition, which is wrapped in parentheses and
runs in a read-only session.

Random samples are reproducible: rows are ordered by a seeded hash of the primary key (of the
whole row without one) and the N smallest are kept; the database does a top-N sort, so memory
stays O(N), but every row is read and hashed (a full scan). On PostgreSQL a large table is
first thinned with ``TABLESAMPLE BERNOULLI(p) REPEATABLE(seed)``, p chosen from the row
estimate so that ~1.2 N + 10 sqrt(N) + 1000 rows survive; it still reads every page but
hashes and sorts only the survivors. Without a usable estimate, with a ``where`` filter or an
incremental read (whose selectivity is unknown) the plain hash order is used. MySQL/MariaDB
order by ``MD5(CONCAT_WS('|', seed, key...))`` rather than ``RAND(seed)``, whose sequence
follows the scan order and so changes when the plan does.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from auditor.errors import SourceDataError
from auditor.models import SampleSpec
from connectors.sql_catalog import Stats
from connectors.sql_types import ColumnPlan

__all__ = ["ALIAS", "build_select", "row_hash", "since_value"]

#: Alias of the sampled table in every query (the whole-row hash refers to it).
ALIAS = "_auditor_t"


def build_select(table: sa.Table, plans: Sequence[ColumnPlan], pk: Sequence[str],
                 stats: Stats, spec: SampleSpec, options: Mapping[str, Any], *,
                 dialect: str, where: str) -> tuple[sa.Select[Any], str]:
    """The sampling SELECT (identifiers quoted by SQLAlchemy) and a note saying how.

    ``where`` names the source and object in error messages.
    """
    n = spec.n
    inc_col = options.get("incremental_column")
    since = options.get("since")
    if (inc_col is None) != (since is None):
        raise SourceDataError(f"{where}: options "
                              "incremental_column and since go together")
    target = 0.0 if n is None else 1.2 * n + 10 * math.sqrt(n) + 1000
    bernoulli = (
        dialect == "postgresql" and spec.method == "random" and n is not None
        and not spec.where and inc_col is None and stats.sampleable
        and stats.current_estimate is not None and stats.current_estimate >= 4 * target
    )
    if bernoulli:
        assert stats.current_estimate is not None
        pct = min(100.0, 100.0 * target / stats.current_estimate)
        src: Any = table.tablesample(sa.func.bernoulli(sa.literal_column(f"{pct:.6f}")),
                                     name=ALIAS, seed=sa.literal_column(str(int(spec.seed))))
    else:
        src = table.alias(ALIAS)
    columns = [src.c[p.name] for p in plans]
    exprs = [sa.cast(c, p.cast).label(p.name) if p.cast is not None else c
             for c, p in zip(columns, plans, strict=True)]
    stmt = sa.select(*exprs).select_from(src)
    how = "all rows"
    if spec.where:
        # Parenthesised so an OR cannot escape the other conditions; colons escaped so
        # SQLAlchemy does not read ':x' as a bind parameter. The session is read-only.
        stmt = stmt.where(sa.text("(" + spec.where.replace(":", "\\:") + ")"))
        how += f" matching ({spec.where})"
    if inc_col is not None:
        if inc_col not in src.c:
            raise SourceDataError(
                f"{where}: incremental_column {inc_col!r} is "
                f"not a column", hint=f"columns: {', '.join(p.name for p in plans)}")
        col = src.c[inc_col]
        try:
            value = since_value(col.type, since)
        except (TypeError, ValueError) as exc:
            raise SourceDataError(f"{where}: since {since!r} "
                                  f"does not fit column {inc_col!r}: {exc}") from None
        stmt = stmt.where(col > sa.bindparam("auditor_since", value, type_=col.type))
        how += f" with {inc_col} > {since}"
    if spec.method == "all" or n is None:
        return stmt, how
    keys = [src.c[k] for k in pk]
    if spec.method == "first":
        if keys:
            return stmt.order_by(*keys).limit(n), f"first {n} by primary key of {how}"
        return stmt.limit(n), (f"first {n} of {how} in the server's order (no primary "
                               "key: not reproducible)")
    hashed = row_hash(dialect, keys or columns, spec.seed, ALIAS, whole_row=not keys)
    if hashed is None:
        raise SourceDataError(
            f"{where}: seeded random sampling is not implemented for the "
            f"{dialect} dialect", hint="use sampling.method first or all")
    on = "primary key" if keys else "whole row"
    desc = (f"random {n} of {how}: the {n} smallest seeded hashes of the {on} "
            f"(seed {spec.seed})")
    if bernoulli:
        desc += (f", among a TABLESAMPLE BERNOULLI({pct:.4g}%) REPEATABLE({spec.seed}) "
                 f"pre-sample of ~{target:.0f} rows (reproducible while the table's "
                 "physical layout is unchanged)")
    else:
        desc += " (full scan; reproducible for the same content)"
    return stmt.order_by(hashed).limit(n), desc


def row_hash(dialect: str, columns: list[Any], seed: int, alias: str,
             whole_row: bool) -> sa.ColumnElement[Any] | None:
    """A seeded hash of key columns (or the whole row) to ORDER BY; None if unsupported.

    The seed is an int we format ourselves, so it is safe as a literal (bind parameters in
    variadic ``concat_ws`` leave PostgreSQL unable to infer their type).
    """
    seed_lit: sa.ColumnElement[Any] = sa.literal_column(f"'{int(seed)}'")
    sep: sa.ColumnElement[Any] = sa.literal_column("'|'")
    if dialect == "postgresql":
        parts = ([sa.cast(sa.literal_column(f"ROW({alias}.*)"), sa.Text)] if whole_row
                 else [sa.cast(c, sa.Text) for c in columns])
        return sa.func.md5(sa.func.concat_ws(sep, seed_lit, *parts))
    if dialect in ("mysql", "mariadb"):
        return sa.func.md5(sa.func.concat_ws(sep, seed_lit, *columns))
    if dialect == "sqlite":
        return sa.func.auditor_hash(seed_lit, *columns)
    if dialect == "mssql":  # untested
        parts = [sa.cast(c, sa.Unicode) for c in columns]
        return sa.func.hashbytes(sa.literal_column("'MD5'"), sa.func.concat_ws(sep, seed_lit,
                                                                               *parts))
    if dialect == "duckdb":
        return sa.func.hash(seed_lit, *columns)
    if dialect == "snowflake":  # untested
        return sa.func.hash(seed_lit, *columns)
    return None


def since_value(column_type: TypeEngine[Any], since: Any) -> Any:
    """``since`` (YAML may already give a datetime) as the column's Python type."""
    if isinstance(since, dt.datetime | dt.date | int | float | Decimal):
        if isinstance(column_type, sa.DateTime) and isinstance(since, dt.datetime):
            return _align_tz(since, bool(column_type.timezone))
        return since
    text = str(since).strip()
    if isinstance(column_type, sa.DateTime):
        return _align_tz(dt.datetime.fromisoformat(text.replace("Z", "+00:00")),
                         bool(column_type.timezone))
    if isinstance(column_type, sa.Date):
        return dt.date.fromisoformat(text[:10])
    if isinstance(column_type, sa.Integer):
        return int(text)
    if isinstance(column_type, sa.Float):
        return float(text)
    if isinstance(column_type, sa.Numeric):
        return Decimal(text)
    return text


def _align_tz(value: dt.datetime, aware: bool) -> dt.datetime:
    """Aware for TIMESTAMPTZ (naive = UTC), naive UTC for TIMESTAMP."""
    if aware:
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if value.tzinfo:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value
