"""Benchmark the database connector: 1M CRM-like rows from PostgreSQL into the DuckDB store.

Usage::

    python benchmarks/pg_sample_bench.py --rows 1000000 \
        --url postgresql+psycopg://postgres@127.0.0.1:5432/test

Loads (once per row count) the table ``auditor_bench.crm_<rows>`` with the rows of
:func:`crm_table.make_crm_parquet` (DuckDB writes CSV, psycopg ``COPY ... FROM STDIN``), then
runs each measured step in a *fresh* Python process so the peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) belongs to that step alone:

* ``imports``: only the imports of the connector and the store: the RSS every connector step
  starts from. Wall times are measured after the imports (a fixed ~1 s, reported as
  ``imports_s``), so they compare the data path only.
* ``copy``: the floor: a bare ``COPY (SELECT * FROM crm) TO STDOUT`` through psycopg, every
  chunk read and thrown away. Nothing is parsed, so no client can be faster.
* ``connector_store``: ``SqlConnector.sample(..., SampleSpec("all"))`` streamed into a DuckDB
  audit store with ``Store.open(...).run(...)`` + ``RunWriter.write_sample`` (what ``auditor
  audit`` does): fetch + Arrow + DuckDB insert. Uses ADBC's binary COPY when installed.
* ``connector_read``: the same sample drained without a store (fetch + Arrow only).
* ``connector_store_cursor`` / ``connector_read_cursor``: the same through the portable
  server-side cursor path (``options: {fetch: cursor}``), tuples converted column-wise.

The table is loaded by a separate process too: Linux keeps ``ru_maxrss`` across ``fork`` +
``exec``, so a parent that had loaded it would inflate every child's figure.

Prints one JSON line per step and each step's ratio to ``copy``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_DDL = """
CREATE TABLE {table} (
    id BIGINT, account_id TEXT, first_name TEXT, last_name TEXT, email TEXT, phone TEXT,
    country TEXT, city TEXT, industry TEXT, status TEXT, annual_revenue DOUBLE PRECISION,
    employees INTEGER, lead_score DOUBLE PRECISION, is_customer BOOLEAN,
    created_at TIMESTAMP, last_activity_at TIMESTAMPTZ, birth_date DATE, notes TEXT,
    postal_code TEXT, last_order_amount NUMERIC(12, 2)
)
"""

_CHILD = r"""
import json, resource, sys, time, datetime as dt, os
t_start = time.perf_counter()
sys.path[:0] = [{root!r}, {here!r}]
url, table, step, chunk, store_dir = {url!r}, {table!r}, {step!r}, {chunk!r}, {store!r}
from pathlib import Path
import psycopg
from sqlalchemy.engine import make_url
if step != "copy":
    from auditor.models import SampleSpec
    from auditor.store import Store
    from connectors.sql import SqlConnector, SqlSourceConfig
    from connectors import sql_adbc
    sql_adbc.available()  # imports the ADBC driver when installed
imports = time.perf_counter() - t_start
t0 = time.perf_counter()  # timed from here: imports are a fixed cost, reported apart
rows = 0
wall = None
if step == "copy":
    u = make_url(url)
    with psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database,
                         password=u.password) as con, open(os.devnull, "wb") as sink:
        with con.cursor().copy(f"COPY (SELECT * FROM auditor_bench.{{table}}) TO STDOUT") as cp:
            for data in cp:
                sink.write(data)
        wall = time.perf_counter() - t0  # the count below is not part of the floor
        rows = con.execute(f"SELECT count(*) FROM auditor_bench.{{table}}").fetchone()[0]
elif step != "imports":
    conn = SqlConnector("bench", SqlSourceConfig(kind="postgres", url=url, chunk_rows=chunk),
                        Path("."))
    fetch = "cursor" if step.endswith("_cursor") else "auto"
    sample = conn.sample(f"auditor_bench.{{table}}", SampleSpec(), {{"fetch": fetch}})
    if step.startswith("connector_store"):
        store = Store.open(Path(store_dir) / f"store-{{os.getpid()}}.duckdb")
        with store.run(config_path="bench", config_hash="bench", version="bench",
                       as_of=dt.datetime.now(dt.UTC)) as writer:
            _, rows = writer.write_sample("crm", sample.reader)
        store.close()
    else:
        for batch in sample.reader:
            rows += batch.num_rows
    conn.close()
wall = time.perf_counter() - t0 if wall is None else wall
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"step": step, "rows": rows, "wall_s": round(wall, 2),
                   "imports_s": round(imports, 2), "peak_rss_mb": round(rss)}}))
"""


def prepare(url: str, rows: int, seed: int, directory: Path) -> str:
    """Create and fill ``auditor_bench.crm_<rows>`` unless it already holds ``rows`` rows."""
    sys.path[:0] = [str(ROOT), str(HERE)]
    import duckdb
    import sqlalchemy as sa
    from crm_table import make_crm_parquet

    table = f"crm_{rows}"
    engine = sa.create_engine(url)
    with engine.begin() as con:
        con.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS auditor_bench")
        have = con.execute(sa.text(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = "
            "'auditor_bench' AND table_name = :t"), {"t": table}).scalar()
        if have:
            n = con.exec_driver_sql(f"SELECT count(*) FROM auditor_bench.{table}").scalar()
            if n == rows:
                return table
            con.exec_driver_sql(f"DROP TABLE auditor_bench.{table}")
    directory.mkdir(parents=True, exist_ok=True)
    parquet = directory / f"crm_{rows}_{seed}.parquet"
    if not parquet.exists():
        make_crm_parquet(parquet, rows, seed)
    csv = directory / f"crm_{rows}_{seed}.csv"
    duckdb.sql(f"COPY (SELECT * FROM read_parquet('{parquet}')) TO '{csv}' (HEADER false)")
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(_DDL.format(table=f"auditor_bench.{table}"))
        with open(csv, "rb") as fh, cur.copy(
                f"COPY auditor_bench.{table} FROM STDIN (FORMAT csv)") as cp:
            while data := fh.read(1 << 20):
                cp.write(data)
        cur.execute(f"ANALYZE auditor_bench.{table}")
        raw.commit()
    finally:
        raw.close()
    csv.unlink()
    return table


def run_step(url: str, table: str, step: str, chunk: int, store: Path) -> dict[str, object]:
    code = _CHILD.format(root=str(ROOT), here=str(HERE), url=url, table=table, step=step,
                         chunk=chunk, store=str(store))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description="SqlConnector vs bare COPY on PostgreSQL")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--chunk-rows", type=int, default=50_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/auditor-bench"))
    ap.add_argument("--steps", default="imports,copy,connector_read,connector_store,"
                    "connector_read_cursor,connector_store_cursor")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--drop", action="store_true",
                    help="drop the auditor_bench schema afterwards (default: keep it for reruns)")
    ap.add_argument("--prepare-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.prepare_only:
        print(prepare(args.url, args.rows, args.seed, args.dir))
        return
    table = subprocess.run(
        [sys.executable, __file__, "--prepare-only", "--rows", str(args.rows), "--seed",
         str(args.seed), "--url", args.url, "--dir", str(args.dir)],
        check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="auditor-pg-bench-") as store:
        for _ in range(args.repeat):
            for step in args.steps.split(","):
                res = run_step(args.url, table, step, args.chunk_rows, Path(store))
                print(json.dumps(res), flush=True)
                best = results.get(step)
                if best is None or float(res["wall_s"]) < float(best["wall_s"]):  # type: ignore[arg-type]
                    results[step] = res
    if "copy" in results:
        floor = float(results["copy"]["wall_s"])  # type: ignore[arg-type]
        for step in results:
            if step not in ("copy", "imports"):
                ratio = float(results[step]["wall_s"]) / floor  # type: ignore[arg-type]
                print(f"{step}/copy wall-time ratio: {ratio:.1f}x "
                      f"(peak RSS {results[step]['peak_rss_mb']} MB vs "
                      f"{results['copy']['peak_rss_mb']} MB)")
    if args.drop:
        import sqlalchemy as sa

        engine = sa.create_engine(args.url)
        with engine.begin() as con:
            con.exec_driver_sql("DROP SCHEMA IF EXISTS auditor_bench CASCADE")
        engine.dispose()


if __name__ == "__main__":
    main()
