"""PostgreSQL rows as Arrow through ADBC (``adbc-driver-postgresql``): the fast path.

Why: fetching rows as Python tuples (psycopg's server-side cursor) and converting them to
Arrow costs ~4-5x a bare ``COPY ... TO STDOUT`` for a 1M-row CRM table, and most of that is
per-value Python work that no amount of tuning removes (``benchmarks/pg_sample_bench.py``).
The Apache Arrow project's ADBC PostgreSQL driver runs the query as ``COPY (...) TO STDOUT
(FORMAT binary)`` and decodes it to Arrow in C, in batches of ~16 MB, so the sample streams at
close to COPY speed with bounded memory.

It is optional: without the package the connector uses the portable server-side cursor, and a
dataset can ask for that path with ``options: {fetch: cursor}``. The session is set up like the
SQLAlchemy pool's (read-only, ``statement_timeout``, ``application_name``). Differences worth
knowing:

* the query is one ``COPY`` statement, so ``statement_timeout`` bounds the *whole* read rather
  than each fetch; the default 300 s covers tens of millions of rows;
* bound parameters would make the driver leave COPY for a row-at-a-time protocol, so the
  SELECT is compiled with literal values (SQLAlchemy renders and escapes them; the only values
  are the ``since`` of an incremental read and numbers the connector computes);
* ``±infinity`` timestamps and dates arrive as out-of-range values, where psycopg raises.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import URL

from connectors.sql_types import ColumnPlan, ConversionError

__all__ = ["available", "compile_literal", "conform", "connect", "size_batches", "uri_for"]

#: The driver sizes batches in bytes; ~256 bytes per row maps ``chunk_rows`` onto that, within
#: 1-16 MiB (16 MiB is the driver's default). Larger batches are then sliced to ``chunk_rows``.
_BYTES_PER_ROW = 256
_MIN_BATCH_BYTES = 1 << 20
_MAX_BATCH_BYTES = 16 << 20


def available() -> bool:
    """True when the ADBC PostgreSQL driver can be imported."""
    try:
        import adbc_driver_postgresql.dbapi  # noqa: F401
    except ImportError:
        return False
    return True


def uri_for(url: URL, connect_args: Mapping[str, Any]) -> str:
    """A libpq URI for ``url`` with the connect arguments as query parameters.

    The result holds the password: it goes to the driver and nowhere else.
    """
    query = {k: str(v) for k, v in url.query.items()}
    query.update({k: str(v) for k, v in connect_args.items()})
    return url.set(drivername="postgresql", query=query).render_as_string(hide_password=False)


def connect(uri: str, timeout_ms: int) -> Any:
    """An ADBC connection whose session is read-only with a statement timeout."""
    import adbc_driver_postgresql.dbapi as adbc

    conn = adbc.connect(uri)
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            cur.execute(f"SET statement_timeout = {int(timeout_ms)}")
        conn.commit()
    except BaseException:
        conn.close()
        raise
    return conn


def size_batches(cursor: Any, chunk_rows: int) -> None:
    """Ask the driver for batches of about ``chunk_rows`` rows (bounded memory per batch)."""
    hint = min(_MAX_BATCH_BYTES, max(_MIN_BATCH_BYTES, chunk_rows * _BYTES_PER_ROW))
    cursor.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(hint)})


def compile_literal(stmt: sa.Select[Any]) -> str:
    """The SELECT as PostgreSQL text with literal values.

    Compiled for a ``numeric_dollar`` paramstyle so ``%`` in a ``where`` filter stays single
    (psycopg's pyformat would double it, and ADBC does no parameter processing).
    """
    from sqlalchemy.dialects.postgresql import psycopg

    dialect = psycopg.dialect(paramstyle="numeric_dollar")
    return str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def conform(batch: pa.RecordBatch, plans: Sequence[ColumnPlan],
            schema: pa.Schema) -> pa.RecordBatch:
    """The batch cast to the connector's schema (derived from the declared column types).

    ADBC returns int4 as int32, NUMERIC as an opaque string extension, enums and other
    non-built-in types as opaque binary; extension columns are unwrapped to their storage and
    everything is cast to the declared Arrow type (a decimal that does not fit raises).
    """
    if batch.schema.equals(schema, check_metadata=False):
        return batch
    arrays = []
    for i, plan in enumerate(plans):
        arr = batch.column(i)
        if isinstance(arr.type, pa.BaseExtensionType):
            arr = arr.storage
        if not arr.type.equals(plan.arrow):
            try:
                arr = pc.cast(arr, plan.arrow)
            except pa.ArrowException:
                raise ConversionError(plan.name, plan.declared, plan.arrow,
                                      f"values of type {arr.type}") from None
        arrays.append(arr)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
