"""The audit store: migrations, atomic runs, crash safety, lock handling."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from auditor.errors import StoreError
from auditor.store import SCHEMA_VERSION, Store


def _reader(n: int) -> pa.RecordBatchReader:
    table = pa.table({"id": list(range(n)), "name": [f"n{i}" for i in range(n)]})
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=100))


def _one_run(store: Store, rows: int = 10) -> str:
    with store.run(config_path="c.yml", config_hash="h", version="t",
                   as_of=datetime.now(UTC)) as w:
        w.write_sample("crm.accounts", _reader(rows))
        w.defer("UPDATE runs SET status = 'ok' WHERE run_id = ?", [[w.run_id]])
        return w.run_id


def test_new_store_is_migrated(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "a.duckdb")
    assert store.schema_version() == SCHEMA_VERSION
    store.close()
    # reopening is a no-op, not a second migration
    store = Store.open(tmp_path / "a.duckdb")
    assert store.schema_version() == SCHEMA_VERSION
    store.close()


def test_failed_statement_mid_run_does_not_poison_the_run(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "a.duckdb")
    with store.run(config_path="c.yml", config_hash="h", version="t",
                   as_of=datetime.now(UTC)) as w:
        w.write_sample("a", _reader(3))
        with pytest.raises(duckdb.Error):
            w.con.execute("SELECT regexp_matches('x', '(')")  # e.g. a bad user regex
        w.write_sample("b", _reader(4))
    assert len(store.runs()) == 1
    store.close()


def test_failed_run_leaves_no_trace_and_keeps_earlier_runs(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "a.duckdb")
    first = _one_run(store)
    with pytest.raises(RuntimeError):
        with store.run(config_path="c.yml", config_hash="h", version="t",
                       as_of=datetime.now(UTC)) as w:
            w.write_sample("crm.accounts", _reader(5))
            raise RuntimeError("boom mid-run")
    assert [r["run_id"] for r in store.runs()] == [first]
    tables = store.con.execute("SELECT table_name FROM information_schema.tables "
                               "WHERE table_schema = 'samples'").fetchall()
    assert tables == [(f"{first}__crm.accounts",)]
    store.close()


def test_killed_process_mid_run_does_not_damage_store(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    store = Store.open(path)
    first = _one_run(store, rows=50)
    store.close()
    script = textwrap.dedent(f"""
        import os, pyarrow as pa
        from datetime import datetime, UTC
        from auditor.store import Store
        s = Store.open({str(path)!r})
        with s.run(config_path="c", config_hash="h", version="t", as_of=datetime.now(UTC)) as w:
            t = pa.table({{"id": list(range(200000))}})
            w.write_sample("big", pa.RecordBatchReader.from_batches(t.schema, t.to_batches()))
            os._exit(9)   # simulated crash: no commit, no rollback, no close
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == 9, proc.stderr.decode()
    store = Store.open(path)
    assert [r["run_id"] for r in store.runs()] == [first]
    n = store.con.execute(f'SELECT count(*) FROM samples."{first}__crm.accounts"').fetchone()
    assert n == (50,)
    # the crashed run's sample table was swept as an orphan on open
    tables = store.con.execute("SELECT table_name FROM information_schema.tables "
                               "WHERE table_schema = 'samples'").fetchall()
    assert tables == [(f"{first}__crm.accounts",)]
    store.close()


def test_store_from_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    Store.open(path).close()
    con = duckdb.connect(str(path))
    con.execute("UPDATE _auditor_meta SET value = '999' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(StoreError, match="newer than this auditor"):
        Store.open(path)


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    path.write_text("this is not duckdb")
    with pytest.raises(StoreError, match="cannot open audit store"):
        Store.open(path)


def test_second_writer_waits_then_fails_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    Store.open(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(path)!r}); "
                               "print('ready', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"ready"
        started = time.monotonic()
        with pytest.raises(StoreError, match="is in use by another process"):
            Store.open(path, lock_timeout=1.0)
        assert time.monotonic() - started >= 1.0
    finally:
        holder.kill()
        holder.wait()


def test_older_store_is_migrated_and_keeps_its_runs(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import auditor.store as store_mod

    path = tmp_path / "a.duckdb"
    monkeypatch.setattr(store_mod, "MIGRATIONS", store_mod.MIGRATIONS[:1])
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", 1)
    old = Store.open(path)
    first = _one_run(old)
    assert old.schema_version() == 1
    old.close()
    monkeypatch.undo()
    store = Store.open(path)
    assert store.schema_version() == SCHEMA_VERSION > 1
    assert [r["run_id"] for r in store.runs()] == [first]
    assert store.con.execute("SELECT count(*) FROM access_grants").fetchone() == (0,)
    store.close()
