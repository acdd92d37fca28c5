"""The database connector: PostgreSQL, MySQL/MariaDB, SQLite, DuckDB files, any SQLAlchemy URL.

Registered under several kinds (``pyproject.toml``): ``postgres`` (psycopg 3), ``mysql``
(MySQL and MariaDB through PyMySQL), ``sqlite`` (a database file), ``duckdb`` (a DuckDB file,
read with DuckDB's own Python API) and ``sql`` (any SQLAlchemy URL: MSSQL, Oracle, Snowflake
work through their dialects when installed, but are untested; read-only sessions and statement
timeouts are only enforced for the four tested engines, so give those a read-only account).

Each kind has its own entry point (``PostgresConnector`` ... subclasses that only narrow
``kind``), so ``auditor config schema`` gets one config schema per kind and a source matches
exactly one ``oneOf`` branch; behaviour lives in :class:`SqlConnector`.

Why DuckDB is not read through SQLAlchemy: the ``duckdb-engine`` dialect trails DuckDB's
releases (its last one, 0.17, predates DuckDB 2.x, and it is reported broken with recent
DuckDB), and DuckDB's own API hands over Arrow batches directly, with no per-row conversion,
which is what the audit store wants anyway (see :mod:`connectors.sql_duckdb`).

What the connector guarantees:

* **Read-only sessions.** Every pooled connection is made read-only when it is opened
  (PostgreSQL ``SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY``, MariaDB/MySQL
  ``SET SESSION TRANSACTION READ ONLY``, SQLite ``mode=ro`` plus ``PRAGMA query_only``,
  DuckDB ``read_only=True``), so not even a hostile ``where`` filter can write.
* **Statement timeouts** (``statement_timeout``, seconds): PostgreSQL ``statement_timeout``
  (per FETCH of the server-side cursor), MariaDB ``max_statement_time`` / MySQL
  ``max_execution_time`` (the whole streamed read, since the server counts sending rows),
  SQLite and DuckDB an interrupt from a deadline around each fetch.
* **Bounded memory.** Rows move through a server-side cursor (``stream_results``) in chunks of
  ``chunk_rows`` and each chunk becomes one Arrow RecordBatch, column-wise (see
  :mod:`connectors.sql_types`); PostgreSQL uses ADBC's binary COPY instead when
  ``adbc-driver-postgresql`` is installed (~5x faster, :mod:`connectors.sql_adbc`). The
  sample is a ``RecordBatchReader`` whose Arrow schema comes from the declared column types;
  it is never materialised.
* **Reproducible samples.** ``first`` orders by the primary key; ``random`` orders by a seeded
  hash of the primary key (of the whole row without one), after a PostgreSQL
  ``TABLESAMPLE BERNOULLI ... REPEATABLE(seed)`` pre-filter on large tables.
* **No secrets in output.** The URL and password never reach an error, a log line, ``repr``,
  notes or metadata: URLs are rendered with the password hidden and driver messages are
  scrubbed (:mod:`connectors.sql_errors`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pyarrow as pa
import sqlalchemy as sa
from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator
from sqlalchemy.engine import URL, Engine

from auditor.connector import ConnectorConfig, resolve_path
from auditor.errors import (
    InvalidConfig,
    MissingDependency,
    SourceDataError,
    SourceError,
    SourceUnavailable,
)
from auditor.models import AccessInventory, ObjectMetadata, Sample, SampleSpec
from connectors import sql_adbc
from connectors.sql_catalog import Catalog, TableRef
from connectors.sql_errors import ErrorContext, Scrubber, classify, safe_repr_options
from connectors.sql_query import build_select
from connectors.sql_session import DRIVER_ERRORS, deadline, install_session_setup, sqlite_creator
from connectors.sql_types import (
    ColumnPlan,
    ConversionError,
    plan_columns,
    rows_to_batch,
    schema_for,
)

if TYPE_CHECKING:
    from connectors.sql_duckdb import DuckDbFile

__all__ = [
    "DuckdbSourceConfig",
    "MysqlSourceConfig",
    "PostgresSourceConfig",
    "SqlConnector",
    "SqlSourceConfig",
    "SqliteSourceConfig",
    "UrlSourceConfig",
]

log = logging.getLogger(__name__)

SqlKind = Literal["sql", "postgres", "mysql", "sqlite", "duckdb"]
_NETWORK_KINDS = ("postgres", "mysql")
_FILE_KINDS = ("sqlite", "duckdb")
#: Default driver per kind when a URL names only the backend (``postgresql://``).
_DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql",
            "mariadb": "mariadb+pymysql"}
_BACKENDS = {"postgres": ("postgresql",), "mysql": ("mysql", "mariadb"), "sqlite": ("sqlite",),
             "duckdb": ("duckdb",)}
_EXTRAS = {"psycopg": ("postgres", "psycopg[binary]"), "pymysql": ("mysql", "pymysql")}
_SECRET_KEYS = ("password", "passwd", "pwd", "secret", "token", "key")


class SqlSourceConfig(ConnectorConfig):
    """``sources.<name>`` for the database kinds. Give a ``url``, or the parts of one."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    kind: SqlKind = Field(description="sql (any SQLAlchemy URL), postgres, mysql, sqlite, duckdb.")
    url: SecretStr | None = Field(
        None,
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user:pw@host:5432/db; usually "
        "${env:DB_URL} or ${file:...}. Never shown in output.")
    host: str | None = Field(None, description="postgres/mysql: server host (default localhost).")
    port: int | None = Field(None, gt=0, lt=65536, description="postgres/mysql: server port.")
    database: str | None = Field(None, description="postgres/mysql: database name.")
    user: str | None = Field(None, description="postgres/mysql: user name.")
    password: SecretStr | None = Field(None, description="postgres/mysql: password (use "
                                       "${env:...} or ${file:...}). Never shown in output.")
    path: str | None = Field(None, description="sqlite/duckdb: database file, relative to the "
                             "config file.")
    schema_: str | None = Field(None, alias="schema", description="Default schema: objects in "
                                "it are named `table`, others `schema.table`.")
    statement_timeout: float = Field(300, gt=0, description="Seconds one statement may run.")
    connect_timeout: float = Field(10, gt=0, description="Seconds to wait for a connection.")
    chunk_rows: int = Field(50_000, gt=0, description="Rows per Arrow batch (memory bound).")
    options: dict[str, Any] = Field(default_factory=dict, description="Extra driver connect "
                                    "arguments (e.g. sslmode for psycopg).")

    @field_validator("options")
    @classmethod
    def _hide_secret_options(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Secret-looking driver options become SecretStr, so ``repr`` never shows them."""
        return {k: SecretStr(str(v)) if any(s in k.lower() for s in _SECRET_KEYS)
                and not isinstance(v, SecretStr) else v for k, v in value.items()}

    @model_validator(mode="after")
    def _one_way_to_connect(self) -> SqlSourceConfig:
        parts = [f for f in ("host", "port", "database", "user", "password")
                 if getattr(self, f) is not None]
        if self.kind == "sql" and self.url is None:
            raise ValueError("kind sql needs a url (any SQLAlchemy URL)")
        if self.kind in _FILE_KINDS:
            if (self.url is None) == (self.path is None):
                raise ValueError(f"kind {self.kind} needs exactly one of path or url")
            if parts:
                raise ValueError(f"kind {self.kind} takes a path, not {', '.join(parts)}")
        else:
            if self.path is not None:
                raise ValueError(f"path is for sqlite/duckdb files, not kind {self.kind}")
            if self.url is not None and parts:
                raise ValueError(f"give either url or {', '.join(parts)}, not both")
            if self.kind in _NETWORK_KINDS and self.url is None and self.database is None:
                raise ValueError(f"kind {self.kind} needs a url, or host/port/database/user/"
                                 "password")
        return self


class UrlSourceConfig(SqlSourceConfig):
    kind: Literal["sql"] = Field(description="Any SQLAlchemy URL (untested beyond the four "
                                 "built-in engines).")


class PostgresSourceConfig(SqlSourceConfig):
    kind: Literal["postgres"] = Field(description="PostgreSQL through psycopg 3.")


class MysqlSourceConfig(SqlSourceConfig):
    kind: Literal["mysql"] = Field(description="MySQL or MariaDB through PyMySQL.")


class SqliteSourceConfig(SqlSourceConfig):
    kind: Literal["sqlite"] = Field(description="A SQLite database file, opened read-only.")


class DuckdbSourceConfig(SqlSourceConfig):
    kind: Literal["duckdb"] = Field(description="A DuckDB database file, opened read-only.")


@dataclass(slots=True)
class _Stream:
    """An open sample: what it holds open until drained or the connector closes."""

    closers: list[Callable[[], Any]] = field(default_factory=list)
    closed: bool = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for closer in self.closers:
            try:
                closer()
            except (*DRIVER_ERRORS, OSError, pa.ArrowException):
                log.debug("closing a stream failed", exc_info=False)


class SqlConnector:
    """Samples tables and views of one database over a pool of read-only connections."""

    kind: ClassVar[str] = "sql"
    config_model: ClassVar[type[ConnectorConfig]] = UrlSourceConfig

    def __init__(self, name: str, config: SqlSourceConfig, base_dir: Path) -> None:
        self.name = name
        self.config = config
        self._tables: dict[tuple[str, str], sa.Table] = {}
        self._streams: list[_Stream] = []
        self._duck: DuckDbFile | None = None
        url = self._url(Path(base_dir))
        self.safe_url = url.render_as_string(hide_password=True)
        secrets = [url.password if isinstance(url.password, str) else None]
        secrets += [config.url.get_secret_value() if config.url else None]
        secrets += [v.get_secret_value() for v in config.options.values()
                    if isinstance(v, SecretStr)]
        self._scrub = Scrubber(secrets)
        self._ctx = ErrorContext(self.name, self._target(url), url.username,
                                 config.statement_timeout, self._scrub)
        self._engine: Engine | None = None
        if url.get_backend_name() == "duckdb":
            from connectors.sql_duckdb import DuckDbFile

            self._duck = DuckDbFile(name, Path(url.database or ""), config, self._ctx)
        else:
            self._engine = self._create_engine(url)

    # --- construction ---------------------------------------------------------------------

    def _url(self, base_dir: Path) -> URL:
        """The connection URL from ``url`` or its parts, with the kind's default driver."""
        cfg = self.config
        if cfg.url is not None:
            try:
                url = sa.engine.make_url(cfg.url.get_secret_value())
            except Exception:  # noqa: BLE001 - the message would echo the URL
                raise InvalidConfig(f"sources.{self.name}.url: not a valid SQLAlchemy URL",
                                    hint="form: dialect+driver://user:password@host:port/db"
                                    ) from None
        elif cfg.kind in _FILE_KINDS:
            url = URL.create(cfg.kind, database=str(resolve_path(base_dir, cfg.path or "")))
        else:
            url = URL.create(
                _DRIVERS["postgresql" if cfg.kind == "postgres" else "mysql"],
                username=cfg.user,
                password=cfg.password.get_secret_value() if cfg.password else None,
                host=cfg.host or "localhost",
                port=cfg.port,
                database=cfg.database,
            )
        backend = url.get_backend_name()
        expected = _BACKENDS.get(cfg.kind)
        if expected and backend not in expected:
            raise InvalidConfig(f"sources.{self.name}: kind {cfg.kind} but the url is for "
                                f"{backend!r}", hint=f"use kind: sql for {backend!r} URLs")
        if url.drivername in _DRIVERS:
            url = url.set(drivername=_DRIVERS[url.drivername])
        if backend in _FILE_KINDS and url.database and url.database != ":memory:":
            url = url.set(database=str(resolve_path(base_dir, url.database)))
        return url

    @staticmethod
    def _target(url: URL) -> str:
        """``host:port/database`` (or the file) for messages: never the password."""
        if url.get_backend_name() in _FILE_KINDS:
            return str(url.database)
        default = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}.get(url.get_backend_name())
        port = url.port or default or ""
        return f"{url.host or 'localhost'}:{port}/{url.database or ''}"

    def _create_engine(self, url: URL) -> Engine:
        cfg = self.config
        args: dict[str, Any] = {}
        backend = url.get_backend_name()
        # pre-ping: an audit can idle for minutes between datasets, and a server-side idle
        # timeout must not turn the next dataset into a "connection lost" finding.
        kw: dict[str, Any] = {"hide_parameters": True, "pool_pre_ping": True}
        if backend == "postgresql":
            args["connect_timeout"] = max(2, math.ceil(cfg.connect_timeout))
            args["application_name"] = f"auditor:{self.name}"[:63]
        elif backend in ("mysql", "mariadb"):
            args["connect_timeout"] = max(1, math.ceil(cfg.connect_timeout))
        elif backend == "sqlite":
            kw["creator"] = sqlite_creator(Path(url.database or ""), cfg.connect_timeout)
        args.update({k: v.get_secret_value() if isinstance(v, SecretStr) else v
                     for k, v in cfg.options.items()})
        try:
            engine = sa.create_engine(url, connect_args=args, **kw)
        except ImportError as exc:
            extra, package = _EXTRAS.get(getattr(exc, "name", "") or "", ("", str(exc.name)))
            raise MissingDependency(self.name, extra or backend, package) from None
        except sa.exc.NoSuchModuleError:
            raise MissingDependency(self.name, backend, f"a SQLAlchemy dialect for {backend}"
                                    ) from None
        except sa.exc.ArgumentError as exc:
            raise InvalidConfig(f"sources.{self.name}: {self._scrub(str(exc))}") from None
        install_session_setup(engine, cfg.statement_timeout, self.name)
        return engine

    @property
    def engine(self) -> Engine | None:
        """The pool of read-only sessions (None for DuckDB files), for optional capabilities
        such as an access inventory that need catalogue queries of their own."""
        return self._engine

    def __repr__(self) -> str:
        opts = safe_repr_options(dict(self.config.options))
        return (f"{type(self).__name__}(name={self.name!r}, kind={self.config.kind!r}, "
                f"url={self.safe_url!r}, options={opts!r})")

    # --- the contract ---------------------------------------------------------------------

    def discover(self) -> list[str]:
        """Tables and views of every non-system schema (``table`` in the default schema)."""
        if self._duck is not None:
            return self._duck.discover()
        with self._catalog() as cat:
            return [r.display for r in cat.objects()]

    def describe(self, obj: str) -> ObjectMetadata:
        """Columns (types, nullability, keys, comments), estimate, owner, table comment."""
        if self._duck is not None:
            return self._duck.describe(obj)
        with self._catalog(obj) as cat:
            ref = cat.resolve(obj, self.name)
            return cat.describe(ref, self._reflect(cat, ref), self._location(ref))

    def foreign_keys(self, obj: str) -> list[tuple[str, str]]:
        """Foreign-key columns of ``obj``: (column, ``schema.table.column``) pairs."""
        if self._duck is not None:
            return self._duck.foreign_keys(obj)
        with self._catalog(obj) as cat:
            return cat.foreign_keys(cat.resolve(obj, self.name))

    def view_definition(self, obj: str) -> str | None:
        """The SQL of a view (None for tables): lineage and suggestions start from it."""
        if self._duck is not None:
            return self._duck.view_definition(obj)
        with self._catalog(obj) as cat:
            text = cat.view_definition(cat.resolve(obj, self.name))
            return self._scrub(text) if text else None

    def sample(self, obj: str, spec: SampleSpec, options: Mapping[str, Any]) -> Sample:
        """Stream the sample ``spec`` asks for from table or view ``obj`` as Arrow batches.

        Options: ``chunk_rows`` (rows per batch, default the source's), ``incremental_column``
        + ``since`` (only rows whose column is greater than ``since``), ``fetch`` (``auto``:
        ADBC for PostgreSQL when installed; ``cursor``: the portable server-side cursor;
        ``adbc``: insist on ADBC). The first chunk is fetched here, so a bad filter, a timeout
        or a refused login raise from this call, not from the reader.
        """
        _check_spec(spec)
        chunk = _positive(options.get("chunk_rows", options.get("batch_rows",
                                                                  self.config.chunk_rows)))
        if self._duck is not None:
            return self._duck.sample(obj, spec, options, chunk)
        with self._catalog(obj) as cat:
            ref = cat.resolve(obj, self.name)
            table = self._reflect(cat, ref)
            metadata = cat.describe(ref, table, self._location(ref))
            stats = cat.stats(ref)
            notes = [f"foreign key {c} -> {t}" for c, t in cat.foreign_keys(ref)]
            view = cat.view_definition(ref)
        plans = plan_columns(list(table.columns), cat.dialect)
        where = f"source {self.name!r}, {ref.display}"
        stmt, how = build_select(table, plans, metadata.primary_key, stats, spec, options,
                                 dialect=cat.dialect.name, where=where)
        notes.insert(0, how)
        if view:
            notes.append("view definition: " + _shorten(self._scrub(view), 2000))
        reader, path = self._stream(stmt, plans, ref.display, spec.where, chunk,
                                    str(options.get("fetch", "auto")))
        notes.insert(1, f"fetched through {path}")
        return Sample(reader=reader, metadata=metadata, notes=notes)

    def access(self, objects: list[str]) -> AccessInventory | None:
        """Who can read ``objects`` and why: pg_catalog (PostgreSQL) or mysql.* (MariaDB/MySQL).

        Other databases (SQLite and DuckDB files have no grants; warehouses are not covered yet)
        return None: no inventory, so the score reports access as "not evaluated".
        Grants come back under the object names the config used.
        """
        if self._engine is None:
            return None
        dialect = self._engine.dialect.name
        if dialect == "postgresql":
            from connectors.access_postgres import postgres_access as inventory

            default = self.config.schema_ or "public"
        elif dialect in ("mysql", "mariadb"):
            from connectors.access_mysql import mysql_access as inventory

            default = self.config.schema_ or self._engine.url.database
        else:
            return None
        # qualify as the catalog names objects; report them under the config's names
        named = {(o if "." in o or not default else f"{default}.{o}"): o for o in objects}
        inv = inventory(self._engine, list(named), source=self.name)
        return replace(inv, grants=tuple(replace(g, object=named.get(g.object, g.object))
                                         for g in inv.grants),
                       owners={named.get(k, k): v for k, v in inv.owners.items()})

    def close(self) -> None:
        """Close open streams (their readers then fail cleanly) and the connection pool."""
        streams, self._streams = self._streams, []
        for s in streams:
            s.close()
        if self._engine is not None:
            self._engine.dispose()
        if self._duck is not None:
            self._duck.close()

    def __enter__(self) -> SqlConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing -------------------------------------------------------------------------

    @contextmanager
    def _errors(self, obj: str | None = None, where: str | None = None,
                rows: int | None = None) -> Iterator[None]:
        """Driver failures inside the block become SourceErrors, scrubbed, without a cause."""
        try:
            yield
        except SourceError:
            raise
        except DRIVER_ERRORS as exc:
            raise classify(exc, self._ctx, obj=obj, where=where, rows=rows) from None

    @contextmanager
    def _catalog(self, obj: str | None = None) -> Iterator[Catalog]:
        assert self._engine is not None
        with self._errors(obj), self._engine.connect() as conn, deadline(
                conn, self.config.statement_timeout):
            yield Catalog(conn, self.config.schema_)

    def _reflect(self, cat: Catalog, ref: TableRef) -> sa.Table:
        key = (ref.schema, ref.name)
        if key not in self._tables:
            self._tables[key] = cat.reflect(ref)
        return self._tables[key]

    def _location(self, ref: TableRef) -> str:
        return f"{self.safe_url} {ref.schema}.{ref.name}"

    def _stream(self, stmt: sa.Select[Any], plans: list[ColumnPlan], obj: str,
                where: str | None, chunk: int, fetch: str) -> tuple[pa.RecordBatchReader, str]:
        """The sample as a RecordBatchReader, and which path fetches it.

        PostgreSQL goes through ADBC's binary COPY when the driver is installed (see
        :mod:`connectors.sql_adbc`); everything else, and ``fetch: cursor``, through a
        server-side cursor, one batch per ``chunk`` rows. The first batch is fetched here so
        early failures raise from ``sample()``.
        """
        assert self._engine is not None
        if fetch not in ("auto", "adbc", "cursor"):
            raise SourceDataError(f"options.fetch must be auto, adbc or cursor, got {fetch!r}")
        is_pg = self._engine.dialect.name == "postgresql"
        if fetch == "adbc" and not (is_pg and sql_adbc.available()):
            raise SourceDataError(
                f"source {self.name!r}: options.fetch adbc needs PostgreSQL and the package "
                "adbc-driver-postgresql", hint='pip install "data-readiness-auditor[postgres]"')
        schema = schema_for(plans)
        stream = _Stream()
        try:
            if fetch != "cursor" and is_pg and sql_adbc.available():
                first, rest = self._open_adbc(stream, stmt, obj, where, chunk)
                how = "ADBC binary COPY"
            else:
                first, rest = self._open_cursor(stream, stmt, obj, where, chunk)
                how = f"server-side cursor, {chunk} rows per batch"
            head = self._convert(first, plans, schema, obj, 0) if first is not None else None
        except BaseException:
            stream.close()
            raise
        self._streams.append(stream)

        def batches() -> Iterator[pa.RecordBatch]:
            rows = 0
            try:
                pending: Iterable[Any] = rest
                if head is not None:
                    for piece in _slices(head, chunk):
                        rows += piece.num_rows
                        yield piece
                it = iter(pending)
                while True:
                    try:
                        part = next(it, None)
                    except (*DRIVER_ERRORS, OSError, pa.ArrowException) as exc:
                        if stream.closed:
                            raise SourceUnavailable(
                                f"source {self.name!r}, {obj}: the connector was closed after "
                                f"{rows} rows were read") from None
                        raise classify(exc, self._ctx, obj=obj, where=where, rows=rows
                                       ) from None
                    if part is None:
                        break
                    for piece in _slices(self._convert(part, plans, schema, obj, rows), chunk):
                        rows += piece.num_rows
                        yield piece
                log.debug("source %r, %s: %d rows streamed", self.name, obj, rows)
            finally:
                stream.close()
                if stream in self._streams:
                    self._streams.remove(stream)

        return pa.RecordBatchReader.from_batches(schema, batches()), how

    def _open_cursor(self, stream: _Stream, stmt: sa.Select[Any], obj: str,
                     where: str | None, chunk: int) -> tuple[Any, Iterator[Any]]:
        """Execute on a pooled connection with a server-side cursor; the first chunk, the rest."""
        assert self._engine is not None
        timeout = self.config.statement_timeout
        with self._errors(obj, where):
            conn = self._engine.connect()
            stream.closers.append(conn.close)
            with deadline(conn, timeout):
                result = conn.execution_options(stream_results=True, yield_per=chunk).execute(stmt)
                parts = result.partitions(chunk)
                first = next(parts, None)

        def rest() -> Iterator[Any]:
            while True:
                with deadline(conn, timeout):
                    part = next(parts, None)
                if not part:
                    return
                yield part

        return first, rest()

    def _open_adbc(self, stream: _Stream, stmt: sa.Select[Any], obj: str,
                   where: str | None, chunk: int) -> tuple[Any, Iterator[Any]]:
        """Run the SELECT over ADBC (binary COPY); the first Arrow batch and the reader."""
        sql = sql_adbc.compile_literal(stmt)
        millis = int(self.config.statement_timeout * 1000)
        with self._errors(obj, where):
            try:
                conn = sql_adbc.connect(self._adbc_uri(), millis)
                stream.closers.append(conn.close)
                cur = conn.cursor()
                stream.closers.insert(0, cur.close)
                sql_adbc.size_batches(cur, chunk)
                cur.execute(sql)
                reader = cur.fetch_record_batch()
                stream.closers.insert(0, reader.close)
                first = next(iter(reader), None)
            except (OSError, pa.ArrowException) as exc:
                raise classify(exc, self._ctx, obj=obj, where=where) from None
        return first, iter(reader)

    def _adbc_uri(self) -> str:
        """The libpq URI for ADBC (holds the password: never stored or shown)."""
        assert self._engine is not None
        cfg = self.config
        args: dict[str, Any] = {"connect_timeout": max(2, math.ceil(cfg.connect_timeout)),
                                "application_name": f"auditor:{self.name}"[:63]}
        args.update({k: v.get_secret_value() if isinstance(v, SecretStr) else v
                     for k, v in cfg.options.items()})
        return sql_adbc.uri_for(self._engine.url, args)

    def _convert(self, part: Any, plans: list[ColumnPlan], schema: pa.Schema, obj: str,
                 before: int) -> pa.RecordBatch:
        """A chunk (row tuples, or an ADBC batch) as a batch of the declared schema."""
        try:
            if isinstance(part, pa.RecordBatch):
                return sql_adbc.conform(part, plans, schema)
            return rows_to_batch(part, plans, schema)
        except ConversionError as exc:
            raise SourceDataError(
                f"source {self.name!r}, {obj}: {exc} (in rows {before + 1}-{before + len(part)})",
                hint="the column's declared type does not match its content; cast it in a "
                "view, or leave such rows out with `where`") from None

def _slices(batch: pa.RecordBatch, chunk: int) -> Iterator[pa.RecordBatch]:
    """Zero-copy slices of at most ``chunk`` rows (ADBC batches are sized in bytes)."""
    if batch.num_rows <= chunk:
        yield batch
        return
    for offset in range(0, batch.num_rows, chunk):
        yield batch.slice(offset, chunk)


def _check_spec(spec: SampleSpec) -> None:
    if spec.method not in ("all", "first", "random"):
        raise ValueError(f"unknown sample method {spec.method!r}")
    if spec.n is not None and spec.n < 0:
        raise ValueError(f"sample size must not be negative, got {spec.n}")


def _positive(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number <= 0:
        raise SourceDataError(f"options.chunk_rows must be a positive integer, got {value!r}")
    return number


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class PostgresConnector(SqlConnector):
    """``kind: postgres`` (entry point); same connector, its own config schema."""

    kind: ClassVar[str] = "postgres"
    config_model: ClassVar[type[ConnectorConfig]] = PostgresSourceConfig


class MysqlConnector(SqlConnector):
    """``kind: mysql`` (MySQL and MariaDB)."""

    kind: ClassVar[str] = "mysql"
    config_model: ClassVar[type[ConnectorConfig]] = MysqlSourceConfig


class SqliteConnector(SqlConnector):
    """``kind: sqlite``."""

    kind: ClassVar[str] = "sqlite"
    config_model: ClassVar[type[ConnectorConfig]] = SqliteSourceConfig


class DuckdbConnector(SqlConnector):
    """``kind: duckdb``."""

    kind: ClassVar[str] = "duckdb"
    config_model: ClassVar[type[ConnectorConfig]] = DuckdbSourceConfig

