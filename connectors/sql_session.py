"""Per-dialect session set-up and SQL fragments for the database connector.

* :func:`install_session_setup` makes every new pooled connection read-only and bounds its
  statements, *then commits*: the SETs run in the driver's implicit transaction, and the
  pool's rollback-on-return would otherwise undo them after the first use.
* :func:`deadline` is the statement timeout for SQLite (which has none): a progress handler
  interrupts the statement once the deadline set around each execute/fetch has passed.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

__all__ = ["DRIVER_ERRORS", "deadline", "install_session_setup", "sqlite_creator"]

log = logging.getLogger(__name__)

_DEADLINE_KEY = "auditor_deadline"
#: SQLite VM instructions between two deadline checks (~1 ms of work).
_PROGRESS_STEPS = 20_000


def _driver_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [sa.exc.SQLAlchemyError, sqlite3.Error]
    try:
        import psycopg

        errors.append(psycopg.Error)
    except ImportError:
        pass
    try:
        import pymysql

        errors.append(pymysql.err.Error)
    except ImportError:
        pass
    try:
        import adbc_driver_manager

        errors.append(adbc_driver_manager.Error)
    except ImportError:
        pass
    try:
        import duckdb

        errors.append(duckdb.Error)
    except ImportError:
        pass
    return tuple(errors)


#: Exceptions a driver may raise (wrapped by SQLAlchemy or not); anything else is a bug.
DRIVER_ERRORS: tuple[type[BaseException], ...] = _driver_errors()


class _Deadline:
    """Monotonic deadline a SQLite progress handler checks; None means no statement running."""

    __slots__ = ("until",)

    def __init__(self) -> None:
        self.until: float | None = None

    def expired(self) -> int:
        return 1 if self.until is not None and time.monotonic() > self.until else 0


def _sqlite_hash(*values: Any) -> int:
    """Seeded, deterministic 64-bit hash of a row's values (SQLite has no md5)."""
    h = hashlib.blake2b(digest_size=8)
    for v in values:
        h.update(repr(v).encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return int.from_bytes(h.digest(), "big", signed=True)


def sqlite_creator(path: Path, timeout: float) -> Callable[[], sqlite3.Connection]:
    """Connections to ``path`` opened with ``mode=ro``: the file cannot be written or created.

    ``check_same_thread=False`` because DuckDB pulls the sample's batches from its own
    threads; one connection is still used by one stream at a time.
    """
    uri = "file:" + urllib.parse.quote(str(path)) + "?mode=ro"

    def create() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)

    return create


def install_session_setup(engine: Engine, timeout: float, source: str) -> None:
    """Read-only + statement timeout on every new connection of ``engine``."""
    backend = engine.dialect.name
    millis = max(1, int(timeout * 1000))

    def setup(dbapi_conn: Any, record: Any) -> None:
        if backend == "sqlite":
            dbapi_conn.execute("PRAGMA query_only = ON")
            guard = _Deadline()
            dbapi_conn.set_progress_handler(guard.expired, _PROGRESS_STEPS)
            record.info[_DEADLINE_KEY] = guard
            dbapi_conn.create_function("auditor_hash", -1, _sqlite_hash, deterministic=True)
            return
        cur = dbapi_conn.cursor()
        try:
            if backend == "postgresql":
                cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                cur.execute(f"SET statement_timeout = {millis}")
            elif backend in ("mysql", "mariadb"):
                cur.execute("SELECT VERSION()")
                row = cur.fetchone()
                if "mariadb" in str(row[0] if row else "").lower():
                    cur.execute(f"SET SESSION max_statement_time = {millis / 1000:.3f}")
                else:
                    cur.execute(f"SET SESSION max_execution_time = {millis}")
                cur.execute("SET SESSION TRANSACTION READ ONLY")
            else:
                log.info("source %r: the %s dialect gets no read-only session or statement "
                         "timeout from the auditor; use a read-only account", source, backend)
        finally:
            cur.close()
        dbapi_conn.commit()

    sa.event.listen(engine, "connect", setup)


@contextmanager
def deadline(conn: Connection, timeout: float) -> Iterator[None]:
    """Interrupt SQLite statements running past ``timeout`` seconds (no-op elsewhere)."""
    guard = None
    try:
        guard = conn.connection.info.get(_DEADLINE_KEY)
    except sa.exc.SQLAlchemyError:
        guard = None
    if guard is None:
        yield
        return
    guard.until = time.monotonic() + timeout
    try:
        yield
    finally:
        guard.until = None
