"""SQLAlchemy column types -> Arrow types, and row chunks -> Arrow record batches.

The Arrow schema of a database sample comes from the *declared* column types (reflected by
SQLAlchemy), not from the values of the first chunk: a column that is NULL in the first 50,000
rows still gets its real type, and every chunk of one stream has the same schema.

Mapping (see :func:`arrow_type`):

* booleans -> ``bool``; every integer type -> ``int64`` (SQLite integers are 64-bit whatever
  the declaration says, MySQL unsigned INT needs more than int32), unsigned BIGINT -> ``uint64``;
* ``NUMERIC(p, s)`` with p <= 38 -> ``decimal128(p, s)`` (exact, and DuckDB's own DECIMAL
  limit); unconstrained ``NUMERIC`` and p > 38 are cast to double precision *in the query* and
  arrive as ``float64`` (lossy beyond ~15 significant digits: documented, not silent);
* floats -> ``float64``; DATE -> ``date32``; TIMESTAMP -> ``timestamp[us]``, TIMESTAMP WITH
  TIME ZONE -> ``timestamp[us, UTC]``; TIME -> ``time64[us]``; INTERVAL ->
  ``month_day_nano_interval`` (DuckDB's INTERVAL: months stay months);
* text, CHAR, ENUM -> ``string``; BYTEA/BLOB/VARBINARY -> ``binary``;
* JSON/JSONB, UUID, time with time zone, and every type without an Arrow counterpart
  (inet, money, geometry, ranges, XML, ...) are cast to text *in the query*, so the driver
  hands over strings and no per-value Python conversion is needed;
* ARRAYs -> text (``{1,2,3}``): PostgreSQL does not enforce an array's declared dimensions,
  so a ``list<item>`` type could fail on the first two-dimensional value.

Chunks are converted column-wise: one ``zip(*rows)`` transposes the chunk, then one
``pyarrow.array`` call per column (C code). No per-row dicts are built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

__all__ = ["ColumnPlan", "arrow_type", "plan_columns", "rows_to_batch", "type_name"]

#: DuckDB's DECIMAL tops out at 38 digits, and so does Arrow's decimal128.
_MAX_DECIMAL_PRECISION = 38


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """How one column travels: its Arrow type and whether the query casts it first."""

    name: str
    arrow: pa.DataType
    #: SQL type to CAST the column to in the SELECT (None: select it as it is).
    cast: TypeEngine[Any] | None = None
    declared: str = ""


def _is_unsigned(t: TypeEngine[Any]) -> bool:
    return bool(getattr(t, "unsigned", False))


def arrow_type(t: TypeEngine[Any]) -> tuple[pa.DataType, TypeEngine[Any] | None]:
    """The Arrow type for a reflected SQLAlchemy type, and the SQL cast needed to get there."""
    if isinstance(t, sa.Boolean):
        return pa.bool_(), None
    if isinstance(t, sa.Integer):
        if isinstance(t, sa.BigInteger) and _is_unsigned(t):
            return pa.uint64(), None
        return pa.int64(), None
    if isinstance(t, sa.Float):  # before Numeric: Float is a Numeric subclass
        return pa.float64(), None
    if isinstance(t, sa.Numeric):
        p, s = t.precision, t.scale
        if p is not None and 0 < p <= _MAX_DECIMAL_PRECISION and s is not None and 0 <= s <= p:
            return pa.decimal128(p, s), None
        return pa.float64(), sa.Double()
    if isinstance(t, sa.DateTime):
        return pa.timestamp("us", tz="UTC" if t.timezone else None), None
    if isinstance(t, sa.Date):
        return pa.date32(), None
    if isinstance(t, sa.Time):
        if t.timezone:
            return pa.string(), sa.Text()
        return pa.time64("us"), None
    if isinstance(t, sa.Interval) or t._type_affinity is sa.Interval:  # PG's INTERVAL
        return pa.month_day_nano_interval(), None
    if isinstance(t, sa.JSON | sa.Uuid):
        return pa.string(), sa.Text()
    if isinstance(t, sa.Enum | sa.String):
        return pa.string(), None
    if isinstance(t, sa.LargeBinary | sa.types._Binary):
        return pa.binary(), None
    return pa.string(), sa.Text()


def type_name(t: TypeEngine[Any], dialect: Dialect) -> str:
    """The column type as the database spells it (``NUMERIC(12, 2)``, ``VARCHAR(80)``)."""
    try:
        return str(t.compile(dialect=dialect))
    except Exception:  # noqa: BLE001 - NullType and vendor types may not compile
        return str(t) if not isinstance(t, sa.types.NullType) else "UNKNOWN"


def plan_columns(columns: Sequence[sa.Column[Any]], dialect: Dialect) -> list[ColumnPlan]:
    """One :class:`ColumnPlan` per reflected column, in table order."""
    plans = []
    for col in columns:
        arrow, cast = arrow_type(col.type)
        if isinstance(cast, sa.Double) and dialect.name in ("mysql", "mariadb"):
            cast = None  # MySQL cannot CAST to DOUBLE; rows_to_batch converts the Decimals
        plans.append(ColumnPlan(col.name, arrow, cast, type_name(col.type, dialect)))
    return plans


def schema_for(plans: Sequence[ColumnPlan]) -> pa.Schema:
    return pa.schema([pa.field(p.name, p.arrow) for p in plans])


class ConversionError(Exception):
    """A value does not fit its column's declared type (SQLite's dynamic typing, zero dates)."""

    def __init__(self, column: str, declared: str, arrow: pa.DataType, what: str) -> None:
        super().__init__(
            f"column {column!r} (declared {declared}) holds {what} that does not convert to "
            f"{arrow}"
        )
        self.column = column


def rows_to_batch(rows: Sequence[Sequence[Any]], plans: Sequence[ColumnPlan],
                  schema: pa.Schema) -> pa.RecordBatch:
    """A chunk of row tuples as one RecordBatch: transpose once, then one array per column.

    The error names the column and the Python type of the value, never the value itself (it
    could be PII, and error messages end up in reports).
    """
    columns = list(zip(*rows, strict=True))
    arrays = []
    for plan, values in zip(plans, columns, strict=True):
        try:
            arrays.append(pa.array(values, type=plan.arrow))
            continue
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError, ValueError):
            pass
        try:
            if plan.arrow != pa.float64():
                raise TypeError
            # A DECIMAL wider than 38 digits whose CAST the dialect skipped (MySQL): floats.
            arrays.append(pa.array([None if v is None else float(v) for v in values],
                                   type=pa.float64()))
        except (TypeError, ValueError, OverflowError):
            bad = _first_bad(values, plan.arrow)
            raise ConversionError(plan.name, plan.declared, plan.arrow, f"a {bad} value"
                                  ) from None
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _first_bad(values: Sequence[Any], arrow: pa.DataType) -> str:
    """The type name of the first value that does not convert (slow path, errors only)."""
    for v in values:
        try:
            pa.array([v], type=arrow)
        except Exception:  # noqa: BLE001 - any failure marks the culprit
            return type(v).__name__
    return "unconvertible"
