"""The database connector against the real PostgreSQL and MariaDB servers, SQLite and DuckDB files.

Every test creates its own schema (PostgreSQL) or uniquely prefixed tables (MariaDB) and drops
them afterwards. The connector always gets the password ``Sup3r-S3cret!`` (PostgreSQL's trust
auth ignores it), so any leak of it into a message, a repr or a log line would show.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import jsonschema
import pyarrow as pa
import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from auditor.connector import Connector
from auditor.errors import (
    InvalidConfig,
    SourceDataError,
    SourceError,
    SourceUnavailable,
    UnknownObject,
)
from auditor.models import SampleSpec
from auditor.store import Store
from connectors import sql_adbc
from connectors.sql import PostgresConnector, SqlConnector, SqlSourceConfig
from connectors.sql_errors import ErrorContext, Scrubber, classify
from tests.conftest import MYSQL_ADMIN_URL, PG_ADMIN_URL

SECRET = "Sup3r-S3cret!"
FETCHES = ["cursor", "adbc"] if sql_adbc.available() else ["cursor"]


def _pg_url(**parts: Any) -> str:
    url = sa.engine.make_url(PG_ADMIN_URL)
    return url.set(password=url.password or SECRET, **parts).render_as_string(
        hide_password=False)


def _pg_secret() -> str:
    return sa.engine.make_url(PG_ADMIN_URL).password or SECRET


def pg(name: str, schema: str | None = None, **cfg: Any) -> SqlConnector:
    return SqlConnector(name, SqlSourceConfig(kind="postgres", url=_pg_url(), schema=schema,
                                              **cfg), Path("."))


def rows_of(conn: SqlConnector, obj: str, spec: SampleSpec | None = None,
            **options: Any) -> pa.Table:
    return conn.sample(obj, spec or SampleSpec(), options).reader.read_all()


def assert_no_secret(secret: str, *texts: object) -> None:
    for text in texts:
        assert secret not in str(text)
        assert secret.replace("!", "%21") not in str(text)


# --- PostgreSQL fixtures ------------------------------------------------------------------


@pytest.fixture
def pg_schema(pg_engine: Any, unique_name: str) -> Iterator[str]:
    """Schema with customers (many types, comments), orders (FK), a view, big and slow."""
    s = unique_name
    ddl = f"""
    CREATE SCHEMA {s};
    CREATE TABLE {s}.customers (
        id INTEGER PRIMARY KEY, name TEXT NOT NULL, email VARCHAR(120) UNIQUE,
        amount NUMERIC(12, 2), ratio NUMERIC, score DOUBLE PRECISION, born DATE,
        created_at TIMESTAMPTZ, updated_at TIMESTAMP NOT NULL, active BOOLEAN, profile JSONB,
        ref UUID, tags TEXT[], photo BYTEA, wait INTERVAL);
    COMMENT ON TABLE {s}.customers IS 'one row per customer';
    COMMENT ON COLUMN {s}.customers.email IS 'primary contact e-mail';
    INSERT INTO {s}.customers
    SELECT i, 'name ' || i, 'c' || i || '@example.com', i * 1.25, i / 7.0, i * 0.5,
           DATE '1980-01-01' + i, TIMESTAMPTZ '2026-01-01 00:00:00+00' + i * INTERVAL '1 hour',
           TIMESTAMP '2026-01-01' + i * INTERVAL '1 hour', i % 3 = 0,
           jsonb_build_object('tier', i % 4), md5(i::text)::uuid, ARRAY['a', 'b'],
           '\\x00ff'::bytea, INTERVAL '1 month 2 days'
    FROM generate_series(1, 2000) AS g(i);
    UPDATE {s}.customers SET email = NULL, amount = NULL WHERE id % 10 = 0;
    CREATE TABLE {s}.orders (
        id BIGINT PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES {s}.customers (id),
        total NUMERIC(10, 2));
    INSERT INTO {s}.orders SELECT i, 1 + i % 2000, i FROM generate_series(1, 500) AS g(i);
    CREATE VIEW {s}.active_customers AS SELECT id, name FROM {s}.customers WHERE active;
    CREATE TABLE {s}.big (id INTEGER PRIMARY KEY, payload TEXT);
    INSERT INTO {s}.big SELECT i, repeat('x', 200) FROM generate_series(1, 200000) AS g(i);
    CREATE VIEW {s}.slow AS SELECT pg_sleep(5)::text AS s, 1 AS id;
    ANALYZE {s}.customers; ANALYZE {s}.orders; ANALYZE {s}.big;
    """
    with pg_engine.begin() as con:
        con.exec_driver_sql(ddl.replace("%", "%%"))
    yield s
    with pg_engine.begin() as con:
        con.exec_driver_sql(f"DROP SCHEMA IF EXISTS {s} CASCADE")


@pytest.fixture
def pgc(pg_schema: str) -> Iterator[SqlConnector]:
    conn = pg(pg_schema, schema=pg_schema)
    yield conn
    conn.close()


# --- config and contract ------------------------------------------------------------------


def test_config_validation_and_registered_kinds() -> None:
    with pytest.raises(ValidationError, match="needs a url"):
        SqlSourceConfig(kind="sql")
    with pytest.raises(ValidationError, match="either url or"):
        SqlSourceConfig(kind="postgres", url="postgresql://a@b/c", host="h")
    with pytest.raises(ValidationError, match="exactly one of path or url"):
        SqlSourceConfig(kind="sqlite")
    with pytest.raises(ValidationError):
        SqlSourceConfig(kind="postgres", database="x", statement_timeout=0)
    cfg = SqlSourceConfig(kind="postgres", host="db", database="crm", user="app",
                          password=SECRET, options={"sslpassword": SECRET, "sslmode": "off"})
    assert_no_secret(SECRET, repr(cfg), cfg.model_dump())
    with pytest.raises(InvalidConfig) as info:
        SqlConnector("x", SqlSourceConfig(kind="sql", url=f"nonsense:{SECRET}@@"), Path("."))
    assert_no_secret(SECRET, info.value, info.value.hint)
    with pytest.raises(InvalidConfig, match="kind postgres but the url is for 'mysql'"):
        SqlConnector("x", SqlSourceConfig(kind="postgres", url="mysql://a@b/c"), Path("."))

    from auditor import registry
    from auditor.config import json_schema

    assert {"sql", "postgres", "mysql", "sqlite", "duckdb"} <= set(registry.kinds())
    conn = registry.bind("db", {"kind": "postgres", "host": "127.0.0.1", "database": "test",
                                "password": SECRET}, Path("."))
    assert isinstance(conn, PostgresConnector) and isinstance(conn, Connector)
    assert_no_secret(SECRET, repr(conn))
    conn.close()
    # Each kind has its own config schema, so a database source matches exactly one oneOf arm.
    doc = {"version": 1, "datasets": {}, "use_cases": [], "sources": {
        "db": {"kind": "postgres", "url": "postgresql://x@h/db", "schema": "crm"},
        "lite": {"kind": "sqlite", "path": "a.db"}}}
    jsonschema.validate(doc, json_schema(registry.source_schemas()))


# --- PostgreSQL: discovery ----------------------------------------------------------------


def test_pg_discovery(pg_engine: Any, pg_schema: str, pgc: SqlConnector) -> None:
    found = pgc.discover()
    assert {"customers", "orders", "active_customers", "big", "slow"} <= set(found)
    with pg(pg_schema) as default_schema:  # objects outside the default schema are qualified
        assert f"{pg_schema}.customers" in default_schema.discover()
        assert default_schema.describe(f"{pg_schema}.orders").primary_key == ("id",)

    meta = pgc.describe("customers")
    cols = {c.name: c for c in meta.columns}
    assert [c.name for c in meta.columns][:3] == ["id", "name", "email"]
    assert cols["amount"].type == "NUMERIC(12, 2)" and cols["email"].type == "VARCHAR(120)"
    assert cols["created_at"].type == "TIMESTAMP WITH TIME ZONE"
    assert cols["id"].primary_key and not cols["id"].nullable and cols["id"].unique
    assert cols["name"].nullable is False and cols["email"].nullable is True
    assert cols["email"].unique and not cols["name"].unique
    assert cols["email"].comment == "primary contact e-mail"
    assert meta.primary_key == ("id",)
    assert meta.description == "one row per customer"
    assert meta.row_count_estimate == 2000
    with pg_engine.connect() as con:
        assert meta.owner == con.exec_driver_sql("SELECT current_user").scalar()
    assert meta.location and pg_schema in meta.location
    assert_no_secret(_pg_secret(), meta)

    assert pgc.foreign_keys("orders") == [("customer_id", f"{pg_schema}.customers.id")]
    assert pgc.foreign_keys("customers") == []
    view = pgc.view_definition("active_customers")
    assert view is not None and "customers" in view and "active" in view
    assert pgc.view_definition("customers") is None
    vmeta = pgc.describe("active_customers")
    assert vmeta.primary_key == () and vmeta.row_count_estimate is None

    sample = pgc.sample("orders", SampleSpec("first", 1), {})
    assert f"foreign key customer_id -> {pg_schema}.customers.id" in sample.notes
    sample.reader.read_all()
    vsample = pgc.sample("active_customers", SampleSpec(), {})
    assert any(n.startswith("view definition: ") for n in vsample.notes)
    assert vsample.reader.read_all().num_rows == 666
    assert_no_secret(_pg_secret(), sample.notes, vsample.notes, vsample.metadata, repr(pgc))


def test_pg_unknown_table_names_close_matches(pgc: SqlConnector, pg_schema: str) -> None:
    with pytest.raises(UnknownObject) as info:
        pgc.sample("customer", SampleSpec(), {})
    assert pg_schema in str(info.value) and "'customer'" in str(info.value)
    assert "customers" in (info.value.hint or "")
    with pytest.raises(UnknownObject):
        pgc.describe("no_such_schema.customers")
    assert pgc.describe("CUSTOMERS").primary_key == ("id",)  # case-insensitive fallback


# --- PostgreSQL: types and sampling -------------------------------------------------------


@pytest.mark.parametrize("fetch", FETCHES)
def test_pg_arrow_types_and_values(pgc: SqlConnector, fetch: str) -> None:
    sample = pgc.sample("customers", SampleSpec("first", 10), {"fetch": fetch})
    table = sample.reader.read_all()
    types = {f.name: f.type for f in table.schema}
    assert types["id"] == pa.int64() and types["name"] == pa.string()
    assert types["amount"] == pa.decimal128(12, 2) and types["ratio"] == pa.float64()
    assert types["born"] == pa.date32() and types["active"] == pa.bool_()
    assert types["created_at"] == pa.timestamp("us", tz="UTC")
    assert types["updated_at"] == pa.timestamp("us")
    assert types["profile"] == pa.string() and types["ref"] == pa.string()
    assert types["photo"] == pa.binary() and types["tags"] == pa.string()
    assert types["wait"] == pa.month_day_nano_interval()
    first = table.slice(0, 1).to_pylist()[0]
    assert first["id"] == 1 and first["amount"] == Decimal("1.25")
    assert first["created_at"] == dt.datetime(2026, 1, 1, 1, tzinfo=dt.UTC)
    assert first["profile"] == '{"tier": 1}' and first["photo"] == b"\x00\xff"
    assert first["ref"] == "c4ca4238-a0b9-2382-0dcc-509a6f75849b"
    assert table.column("email").null_count == 1  # id 10
    assert any(("ADBC" if fetch == "adbc" else "server-side cursor") in n for n in sample.notes)


@pytest.mark.parametrize("fetch", FETCHES)
def test_pg_sampling_strategies(pgc: SqlConnector, fetch: str) -> None:
    opts = {"fetch": fetch}
    assert rows_of(pgc, "customers", **opts).num_rows == 2000
    first = rows_of(pgc, "customers", SampleSpec("first", 5), **opts)
    assert first.column("id").to_pylist() == [1, 2, 3, 4, 5]

    # Random N: seeded, reproducible, and different for another seed (hash of the PK).
    a = rows_of(pgc, "customers", SampleSpec("random", 50, seed=7), **opts)
    b = rows_of(pgc, "customers", SampleSpec("random", 50, seed=7), **opts)
    c = rows_of(pgc, "customers", SampleSpec("random", 50, seed=8), **opts)
    assert a.num_rows == 50 and a.column("id").to_pylist() == b.column("id").to_pylist()
    assert set(a.column("id").to_pylist()) != set(c.column("id").to_pylist())
    assert max(a.column("id").to_pylist()) > 1000  # not just the head of the table

    # Large table: TABLESAMPLE BERNOULLI pre-sample, still reproducible and exactly N rows.
    s1 = pgc.sample("big", SampleSpec("random", 500, seed=3), opts)
    assert "TABLESAMPLE BERNOULLI" in s1.notes[0]
    ids1 = s1.reader.read_all().column("id").to_pylist()
    ids2 = rows_of(pgc, "big", SampleSpec("random", 500, seed=3), **opts).column("id").to_pylist()
    assert len(ids1) == 500 and ids1 == ids2
    assert max(ids1) - min(ids1) > 150_000

    # where filter: parenthesised, so the OR cannot widen the other conditions.
    w = rows_of(pgc, "customers", SampleSpec("all", where="id <= 10 OR id = 11"), **opts)
    assert w.num_rows == 11
    wr = rows_of(pgc, "customers", SampleSpec("random", 5, seed=1, where="active"), **opts)
    assert wr.num_rows == 5 and all(wr.column("active").to_pylist())
    colon = rows_of(pgc, "customers", SampleSpec(where="name <> ':x' AND name LIKE 'name 1%'"),
                    **opts)
    assert colon.num_rows == 1111

    # Incremental: rows whose column is greater than `since`.
    inc = rows_of(pgc, "customers", incremental_column="updated_at",
                  since="2026-03-01T00:00:00", **opts)
    assert inc.num_rows == 2000 - 1416
    inc_tz = rows_of(pgc, "customers", incremental_column="created_at",
                     since=dt.datetime(2026, 3, 1, tzinfo=dt.UTC), **opts)
    assert inc_tz.num_rows == inc.num_rows
    with pytest.raises(SourceDataError, match="incremental_column 'nope'"):
        pgc.sample("customers", SampleSpec(), {"incremental_column": "nope", "since": 1})


@pytest.mark.parametrize("fetch", FETCHES)
def test_pg_streams_in_chunks(pg_schema: str, fetch: str) -> None:
    with pg(pg_schema, schema=pg_schema, chunk_rows=30_000) as conn:
        sample = conn.sample("big", SampleSpec(), {"fetch": fetch})
        sizes = [b.num_rows for b in sample.reader]
        assert sum(sizes) == 200_000 and len(sizes) >= 7 and max(sizes) <= 30_000
        assert conn._streams == []  # a drained stream gives its connection back at once
        # Closing the connector mid-stream ends the stream cleanly, with a SourceError.
        reader = conn.sample("big", SampleSpec(), {"fetch": fetch}).reader
        reader.read_next_batch()
    with pytest.raises(SourceUnavailable, match="connector was closed after"):
        while True:
            reader.read_next_batch()


def test_pg_bad_filter_is_a_data_error(pgc: SqlConnector) -> None:
    with pytest.raises(SourceDataError, match="invalid filter") as info:
        pgc.sample("customers", SampleSpec(where="no_such_column > 1"), {})
    assert "no_such_column" in str(info.value)


# --- PostgreSQL: safety and failures ------------------------------------------------------


def test_pg_sessions_are_read_only(pg_engine: Any, pg_schema: str, pgc: SqlConnector) -> None:
    pgc.discover()
    assert pgc._engine is not None
    with pgc._engine.connect() as con:
        assert con.exec_driver_sql("SHOW transaction_read_only").scalar() == "on"
        assert con.exec_driver_sql("SHOW statement_timeout").scalar() == "5min"
        with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
            con.exec_driver_sql(f"INSERT INTO {pg_schema}.orders VALUES (9999, 1, 1)")
    if sql_adbc.available():
        adbc = sql_adbc.connect(pgc._adbc_uri(), 1000)
        try:
            with adbc.cursor() as cur, pytest.raises(Exception, match="read-only transaction"):
                cur.execute(f"INSERT INTO {pg_schema}.orders VALUES (9999, 1, 1)")
        finally:
            adbc.close()
    # A filter smuggling a second statement fails as a data error, and nothing is written.
    for fetch in FETCHES:
        with pytest.raises(SourceDataError):
            pgc.sample("orders", SampleSpec(where=f"true); DELETE FROM {pg_schema}.orders; --"),
                       {"fetch": fetch})
    with pg_engine.connect() as con:
        assert con.exec_driver_sql(f"SELECT count(*) FROM {pg_schema}.orders").scalar() == 500


@pytest.mark.parametrize("fetch", FETCHES)
def test_pg_statement_timeout(pg_schema: str, fetch: str, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    with pg(pg_schema, schema=pg_schema, statement_timeout=1) as conn, pytest.raises(
            SourceUnavailable) as info:
        conn.sample("slow", SampleSpec(), {"fetch": fetch})
    assert time.monotonic() - started < 4.5
    assert "statement timeout after 1 s" in str(info.value)
    assert pg_schema in str(info.value) and "slow" in str(info.value)
    assert_no_secret(_pg_secret(), info.value, info.value.hint, caplog.text)


@pytest.mark.parametrize("fetch", FETCHES)
def test_pg_connection_dropped_mid_sample(pg_engine: Any, pg_schema: str, fetch: str) -> None:
    with pg(pg_schema, schema=pg_schema, chunk_rows=1000) as conn:
        sample = conn.sample("big", SampleSpec(), {"fetch": fetch})
        reader = sample.reader
        read = reader.read_next_batch().num_rows
        with pg_engine.connect() as admin:
            killed = admin.execute(sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :app AND pid <> pg_backend_pid()"),
                {"app": f"auditor:{pg_schema}"}).scalar()
        assert killed >= 1
        with pytest.raises(SourceUnavailable) as info:
            while True:
                read += reader.read_next_batch().num_rows
    message = str(info.value)
    assert "connection to 127.0.0.1:5432/" in message or "lost" in message
    assert f"after {read} rows were read" in message and read < 200_000
    assert pg_schema in message and "big" in message
    assert_no_secret(_pg_secret(), message, info.value.hint)


def test_pg_login_and_connect_failures_never_leak_the_password(caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    cases = [
        (_pg_url(username="no_such_role_x"), "login refused for user no_such_role_x at "),
        (_pg_url(database="no_such_db_x"), "login refused for user "),
        (_pg_url(port=1), f"cannot connect to {sa.engine.make_url(PG_ADMIN_URL).host}:1/"),
    ]
    for url, expected in cases:
        conn = SqlConnector("crm", SqlSourceConfig(kind="postgres", url=url, connect_timeout=2),
                            Path("."))
        for call in (conn.discover, lambda c=conn: c.sample("x", SampleSpec(), {})):
            with pytest.raises(SourceUnavailable) as info:
                call()
            assert expected in str(info.value), str(info.value)
            assert "source 'crm'" in str(info.value)
            assert info.value.__cause__ is None
            assert_no_secret(_pg_secret(), info.value, repr(info.value), info.value.hint,
                             repr(conn))
        conn.close()
    assert_no_secret(_pg_secret(), caplog.text)


def test_scrubber_and_classify_remove_secrets_from_driver_text() -> None:
    scrub = Scrubber([SECRET])
    text = (f"invalid dsn: host=db password={SECRET} and postgresql://u:{SECRET}@h/db and "
            f"url-encoded Sup3r-S3cret%21 and password='other' token=abc123")
    clean = scrub(text)
    assert SECRET not in clean and "Sup3r-S3cret%21" not in clean
    assert "other" not in clean and "abc123" not in clean
    ctx = ErrorContext("crm", "db:5432/crm", "app", 300, scrub)
    err = classify(RuntimeError(f"connection failed: password={SECRET} refused"), ctx)
    assert isinstance(err, SourceError) and SECRET not in str(err)


# --- MariaDB ------------------------------------------------------------------------------


@pytest.fixture
def my_tables(mysql_engine: Any, unique_name: str) -> Iterator[str]:
    p = unique_name
    stmts = [
        f"CREATE TABLE {p}_cust (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL COMMENT "
        f"'full name', amount DECIMAL(12,2), wide DECIMAL(50,10), seen DATETIME, "
        f"flag TINYINT(1), doc JSON, big BIGINT UNSIGNED, kind ENUM('a','b'), raw BLOB) "
        f"COMMENT='customers'",
        f"CREATE TABLE {p}_ord (id INT PRIMARY KEY, cust_id INT NOT NULL, "
        f"FOREIGN KEY (cust_id) REFERENCES {p}_cust (id))",
        f"INSERT INTO {p}_cust SELECT seq, CONCAT('n', seq), seq * 1.5, seq / 3, "
        f"'2026-01-01 00:00:00' + INTERVAL seq MINUTE, seq MOD 2, '{{\"a\": 1}}', "
        f"18446744073709551615, 'a', x'00ff' FROM seq_1_to_3000",
        f"INSERT INTO {p}_ord SELECT seq, seq FROM seq_1_to_100",
        f"CREATE VIEW {p}_v AS SELECT id, name FROM {p}_cust WHERE flag = 1",
        f"CREATE VIEW {p}_slow AS SELECT SLEEP(5) AS s",
        f"ANALYZE TABLE {p}_cust",
    ]
    with mysql_engine.begin() as con:
        for stmt in stmts:
            con.exec_driver_sql(stmt.replace("%", "%%"))
    yield p
    with mysql_engine.begin() as con:
        for obj in (f"VIEW IF EXISTS {p}_v", f"VIEW IF EXISTS {p}_slow",
                    f"TABLE IF EXISTS {p}_ord", f"TABLE IF EXISTS {p}_cust"):
            con.exec_driver_sql(f"DROP {obj}")


def my(name: str, **cfg: Any) -> SqlConnector:
    url = sa.engine.make_url(MYSQL_ADMIN_URL)
    return SqlConnector(name, SqlSourceConfig(
        kind="mysql", host=url.host, port=url.port, user=url.username, database=url.database,
        password=url.password, **cfg), Path("."))


def test_mariadb_discovery_sampling_and_read_only(my_tables: str, mysql_engine: Any) -> None:
    p = my_tables
    with my("erp", chunk_rows=700) as conn:
        assert {f"{p}_cust", f"{p}_ord", f"{p}_v"} <= set(conn.discover())
        meta = conn.describe(f"{p}_cust")
        cols = {c.name: c for c in meta.columns}
        assert meta.primary_key == ("id",) and meta.description == "customers"
        assert meta.owner is None and meta.row_count_estimate is not None
        assert cols["name"].comment == "full name" and cols["name"].nullable is False
        assert cols["amount"].type == "DECIMAL(12, 2)"
        db = sa.engine.make_url(MYSQL_ADMIN_URL).database
        assert conn.foreign_keys(f"{p}_ord") == [("cust_id", f"{db}.{p}_cust.id")]
        assert "flag" in (conn.view_definition(f"{p}_v") or "")

        sample = conn.sample(f"{p}_cust", SampleSpec(), {})
        sizes, batches = [], []
        for batch in sample.reader:
            sizes.append(batch.num_rows)
            batches.append(batch)
        assert sum(sizes) == 3000 and len(sizes) == 5 and max(sizes) == 700
        table = pa.Table.from_batches(batches)
        types = {f.name: f.type for f in table.schema}
        assert types["amount"] == pa.decimal128(12, 2) and types["wide"] == pa.float64()
        assert types["big"] == pa.uint64() and types["seen"] == pa.timestamp("us")
        assert types["raw"] == pa.binary() and types["kind"] == pa.string()
        assert table.column("doc")[0].as_py() == '{"a": 1}'

        first = rows_of(conn, f"{p}_cust", SampleSpec("first", 3))
        assert first.column("id").to_pylist() == [1, 2, 3]
        a = rows_of(conn, f"{p}_cust", SampleSpec("random", 20, seed=5)).column("id")
        b = rows_of(conn, f"{p}_cust", SampleSpec("random", 20, seed=5)).column("id")
        c = rows_of(conn, f"{p}_cust", SampleSpec("random", 20, seed=6)).column("id")
        assert len(a) == 20 and a.to_pylist() == b.to_pylist() and a.to_pylist() != c.to_pylist()
        w = rows_of(conn, f"{p}_cust", SampleSpec(where="name LIKE 'n1%' AND id < 100"))
        assert w.num_rows == 11
        inc = rows_of(conn, f"{p}_cust", incremental_column="seen", since="2026-01-02T00:00:00")
        assert inc.num_rows == 3000 - 1440

        assert conn._engine is not None
        with conn._engine.connect() as con, pytest.raises(sa.exc.DBAPIError, match="READ ONLY"):
            con.exec_driver_sql(f"INSERT INTO {p}_ord VALUES (9999, 1)")
        with pytest.raises(UnknownObject, match=f"{p}_cus'") as info:
            conn.sample(f"{p}_cus", SampleSpec(), {})
        assert f"{p}_cust" in (info.value.hint or "")
    with mysql_engine.connect() as con:
        assert con.exec_driver_sql(f"SELECT count(*) FROM {p}_ord").scalar() == 100


def test_mariadb_statement_timeout(my_tables: str) -> None:
    with my("erp", statement_timeout=1) as conn, pytest.raises(SourceUnavailable) as info:
        conn.sample(f"{my_tables}_slow", SampleSpec(), {})
    assert "statement timeout after 1 s" in str(info.value)


def test_mariadb_wrong_password_is_login_refused(mysql_engine: Any, unique_name: str,
                                                 caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    user = unique_name
    url = sa.engine.make_url(MYSQL_ADMIN_URL)
    with mysql_engine.begin() as con:
        con.exec_driver_sql(f"CREATE USER '{user}'@'%%' IDENTIFIED BY 'Right-pass-1'")
        con.exec_driver_sql(f"GRANT SELECT ON {url.database}.* TO '{user}'@'%%'")
    try:
        for password in (SECRET, "Right-pass-1"):
            conn = SqlConnector("erp", SqlSourceConfig(
                kind="mysql", url=url.set(username=user, password=password).render_as_string(
                    hide_password=False)), Path("."))
            if password == SECRET:
                with pytest.raises(SourceUnavailable) as info:
                    conn.sample("anything", SampleSpec(), {})
                assert (f"login refused for user {user} at {url.host}:{url.port or 3306}/"
                        f"{url.database}") in str(info.value)
                assert_no_secret(SECRET, info.value, repr(info.value), info.value.hint,
                                 repr(conn))
            else:
                assert isinstance(conn.discover(), list)
            conn.close()
    finally:
        with mysql_engine.begin() as con:
            con.exec_driver_sql(f"DROP USER IF EXISTS '{user}'@'%%'")
    assert_no_secret(SECRET, caplog.text)


# --- SQLite and DuckDB files --------------------------------------------------------------


def _sqlite_file(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT NOT NULL, amount NUMERIC(10, 2),
                               opened DATETIME, active BOOLEAN);
        CREATE TABLE notes (id INTEGER PRIMARY KEY, account_id INTEGER REFERENCES accounts(id),
                            body TEXT);
        CREATE VIEW active AS SELECT * FROM accounts WHERE active;
        CREATE VIEW slow AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c
                                                    WHERE x < 1000000000) SELECT max(x) AS m FROM c;
    """)
    con.executemany("INSERT INTO accounts VALUES (?, ?, ?, ?, ?)",
                    [(i, f"acc {i}", i * 1.5, f"2026-01-{1 + i % 28:02d} 10:00:00", i % 2)
                     for i in range(1, 301)])
    con.commit()
    con.close()
    return path


def test_sqlite_file(tmp_path: Path) -> None:
    _sqlite_file(tmp_path / "crm.db")
    before = (tmp_path / "crm.db").read_bytes()
    cfg = SqlSourceConfig(kind="sqlite", path="crm.db", statement_timeout=0.5, chunk_rows=100)
    with SqlConnector("lite", cfg, tmp_path) as conn:
        assert conn.discover() == ["accounts", "active", "notes", "slow"]
        meta = conn.describe("accounts")
        assert meta.primary_key == ("id",) and meta.columns[1].nullable is False
        assert conn.foreign_keys("notes") == [("account_id", "main.accounts.id")]
        assert "WHERE active" in (conn.view_definition("active") or "")
        sample = conn.sample("accounts", SampleSpec(), {})
        batches = list(sample.reader)
        assert [b.num_rows for b in batches] == [100, 100, 100]
        table = pa.Table.from_batches(batches)
        assert table.schema.field("amount").type == pa.decimal128(10, 2)
        assert table.schema.field("opened").type == pa.timestamp("us")
        assert table.column("opened")[0].as_py() == dt.datetime(2026, 1, 2, 10)
        assert rows_of(conn, "accounts", SampleSpec("first", 3)).column("id").to_pylist() == [
            1, 2, 3]
        a = rows_of(conn, "accounts", SampleSpec("random", 10, seed=1)).column("id").to_pylist()
        b = rows_of(conn, "accounts", SampleSpec("random", 10, seed=1)).column("id").to_pylist()
        c = rows_of(conn, "accounts", SampleSpec("random", 10, seed=2)).column("id").to_pylist()
        assert len(a) == 10 and a == b and a != c
        assert rows_of(conn, "accounts", SampleSpec(where="id <= 5")).num_rows == 5
        inc = rows_of(conn, "accounts", incremental_column="id", since=290)
        assert inc.num_rows == 10
        assert conn._engine is not None
        with conn._engine.connect() as con, pytest.raises(sa.exc.OperationalError,
                                                           match="readonly|query_only"):
            con.exec_driver_sql("INSERT INTO notes VALUES (1, 1, 'x')")
        started = time.monotonic()
        with pytest.raises(SourceUnavailable, match="statement timeout after 0.5 s"):
            conn.sample("slow", SampleSpec(), {})
        assert time.monotonic() - started < 5
        with pytest.raises(UnknownObject, match="'acounts'"):
            conn.sample("acounts", SampleSpec(), {})
    assert (tmp_path / "crm.db").read_bytes() == before
    with SqlConnector("lite", SqlSourceConfig(kind="sqlite", path="nope.db"), tmp_path) as gone:
        with pytest.raises(SourceUnavailable, match="nope.db"):
            gone.discover()
    assert not (tmp_path / "nope.db").exists()


def test_duckdb_file(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(path))
    con.execute("""
        CREATE SCHEMA sales;
        CREATE TABLE accounts (id INTEGER PRIMARY KEY, name VARCHAR NOT NULL,
                               amount DECIMAL(10, 2), opened TIMESTAMP);
        CREATE TABLE sales.orders (id INTEGER PRIMARY KEY, account_id INTEGER, total DOUBLE);
        CREATE TABLE payments (id INTEGER PRIMARY KEY, account_id INTEGER REFERENCES accounts(id));
        COMMENT ON TABLE accounts IS 'accounts table';
        INSERT INTO accounts SELECT i, 'acc ' || i, i * 1.5,
                                    TIMESTAMP '2026-01-01' + i * INTERVAL 1 HOUR
        FROM range(1, 5001) t(i);
        CREATE VIEW big_accounts AS SELECT * FROM accounts WHERE amount > 100;
        CREATE VIEW slow AS SELECT sum(i) AS s FROM range(10000000000000) t(i);
    """)
    con.close()
    cfg = SqlSourceConfig(kind="duckdb", path="wh.duckdb", chunk_rows=2000,
                          statement_timeout=0.5)
    with SqlConnector("wh", cfg, tmp_path) as conn:
        assert conn.discover() == ["accounts", "big_accounts", "payments", "sales.orders",
                                   "slow"]
        meta = conn.describe("accounts")
        assert meta.primary_key == ("id",) and meta.description == "accounts table"
        assert meta.row_count_estimate == 5000 and meta.columns[2].type == "DECIMAL(10,2)"
        assert conn.foreign_keys("payments") == [("account_id", "main.accounts.id")]
        assert "amount > 100" in (conn.view_definition("big_accounts") or "")
        sizes = [b.num_rows for b in conn.sample("accounts", SampleSpec(), {}).reader]
        assert sum(sizes) == 5000 and max(sizes) <= 2000 and len(sizes) >= 3
        first = rows_of(conn, "accounts", SampleSpec("first", 3))
        assert first.column("id").to_pylist() == [1, 2, 3]
        assert first.schema.field("amount").type == pa.decimal128(10, 2)
        a = rows_of(conn, "accounts", SampleSpec("random", 25, seed=4)).column("id").to_pylist()
        b = rows_of(conn, "accounts", SampleSpec("random", 25, seed=4)).column("id").to_pylist()
        assert len(a) == 25 and a == b
        inc = rows_of(conn, "accounts", SampleSpec(where="id % 2 = 0"),
                      incremental_column="opened", since="2026-07-01T00:00:00")
        assert inc.num_rows == len([i for i in range(1, 5001)
                                    if i % 2 == 0 and i > 181 * 24])
        with pytest.raises(duckdb.Error, match="read-only"):
            conn._duck.connection().execute("INSERT INTO sales.orders VALUES (1, 1, 1)")
        with pytest.raises(UnknownObject, match="'sales.order'"):
            conn.sample("sales.order", SampleSpec(), {})
        with pytest.raises(SourceDataError, match="invalid filter"):
            conn.sample("accounts", SampleSpec(where="nope = 1"), {})
        started = time.monotonic()
        with pytest.raises(SourceUnavailable, match="statement timeout after 0.5 s"):
            conn.sample("slow", SampleSpec(), {})
        assert time.monotonic() - started < 5
    with SqlConnector("wh", SqlSourceConfig(kind="duckdb", path="x.duckdb"), tmp_path) as gone:
        with pytest.raises(SourceUnavailable, match="does not exist"):
            gone.discover()


# --- integration: into the audit store ----------------------------------------------------


def test_pg_sample_into_audit_store(pgc: SqlConnector, tmp_path: Path) -> None:
    store = Store.open(tmp_path / "audit.duckdb")
    try:
        with store.run(config_path="audit.yml", config_hash="h", version="test",
                       as_of=dt.datetime(2026, 11, 20, tzinfo=dt.UTC)) as writer:
            sample = pgc.sample("customers", SampleSpec("random", 500, seed=1), {})
            table, rows = writer.write_sample("crm.customers", sample.reader)
            writer.write_schema("crm.customers", sample.metadata.columns)
            assert rows == 500
            described = dict(writer.con.execute(
                f'SELECT column_name, column_type FROM (DESCRIBE "{table}")').fetchall())
            assert described["amount"] == "DECIMAL(12,2)"
            assert described["created_at"] == "TIMESTAMP WITH TIME ZONE"
            assert described["wait"] == "INTERVAL" and described["photo"] == "BLOB"
            total = writer.con.execute(f'SELECT sum(amount) FROM "{table}"').fetchone()
            assert total is not None and total[0] > 0
    finally:
        store.close()
