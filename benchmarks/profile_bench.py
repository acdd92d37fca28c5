"""Benchmark ``auditor.profile.profile_table`` against hand-written single-SELECT "floors".

Usage::

    python benchmarks/profile_bench.py --rows 10000000 --dir /tmp/auditor-bench \
        --memory-limit 1GB --threads 2

Builds (once) a CRM-like Parquet file with :func:`crm_table.make_crm_parquet`, loads it into a
DuckDB file, then runs each measured step in a *fresh* Python process so the peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) belongs to that step alone:

* ``floor_basic``: one SELECT with nulls, empty strings, min/max, mean/stddev and string
  lengths for every column: the cheapest scan that yields the core per-column numbers.
* ``floor_full``: ``floor_basic`` plus approximate distinct counts, approximate quantiles and
  the same pattern regexes as the profiler applied naively to every string value: what a
  hand-written single SELECT computing the same per-column aggregates costs.
* ``profile``: ``profile_table`` with ``key_columns=["account_id"]``.

Connection settings (``memory_limit``, ``threads``) are applied identically to every step.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_CHILD = r"""
import json, resource, sys, time
sys.path[:0] = [{root!r}, {here!r}]
import duckdb
from auditor import profile as P

db, step, memory_limit, threads = {db!r}, {step!r}, {memory_limit!r}, {threads!r}
con = duckdb.connect(db, read_only=True)
con.execute("SET enable_progress_bar = false")
if memory_limit:
    con.execute(f"SET memory_limit = '{{memory_limit}}'")
if threads:
    con.execute(f"SET threads = {{int(threads)}}")
rel = con.sql("SELECT * FROM crm")
cols = list(zip(rel.columns, [str(t.id) for t in rel.types]))
q = P.quote_ident
NUM = P._NUMERIC_IDS
TMP = P._FRESHNESS_IDS

def basic():
    out = []
    for c, t in cols:
        r = q(c)
        out.append(f"count({{r}})")
        if t != "boolean":
            out += [f"min({{r}})", f"max({{r}})"]
        if t in NUM:
            out += [f"avg(CAST({{r}} AS DOUBLE))", f"stddev_samp(CAST({{r}} AS DOUBLE))"]
        if t == "varchar":
            out += [f"count_if(trim({{r}}) = '')", f"min(length({{r}}))",
                    f"max(length({{r}}))", f"avg(length({{r}}))"]
    return out

def full():
    out = basic()
    qs = "[" + ", ".join(str(x) for _, x in P.QUANTILES) + "]"
    for c, t in cols:
        r = q(c)
        out.append(f"approx_count_distinct({{r}})")
        if t in NUM or t in TMP:
            out.append(f"approx_quantile({{r}}, {{qs}})")
        if t == "varchar":
            for k, rx in P.PATTERN_REGEX.items():
                fn = "regexp_matches" if k == "free_text" else "regexp_full_match"
                out.append(f"count_if({{fn}}({{r}}, {{P.sql_literal(rx)}}))")
    return out

t0 = time.perf_counter()
if step == "profile":
    prof = P.profile_table(con, "crm", dataset="crm", key_columns=["account_id"])
    extra = {{"duplicate_rows": prof.duplicate_rows, "duplicate_keys": prof.duplicate_keys}}
else:
    exprs = basic() if step == "floor_basic" else full()
    con.execute("SELECT " + ", ".join(exprs) + " FROM crm").fetchall()
    extra = {{"aggregates": len(exprs)}}
wall = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"step": step, "wall_s": round(wall, 2), "peak_rss_mb": round(rss), **extra}}))
"""


def prepare(directory: Path, rows: int, seed: int) -> Path:
    """Generate the Parquet file and DuckDB database once; reuse them on later runs."""
    sys.path.insert(0, str(HERE))
    import duckdb
    from crm_table import make_crm_parquet

    directory.mkdir(parents=True, exist_ok=True)
    parquet = directory / f"crm_{rows}_{seed}.parquet"
    db = directory / f"crm_{rows}_{seed}.duckdb"
    if not parquet.exists():
        make_crm_parquet(parquet, rows, seed)
    if not db.exists():
        con = duckdb.connect(str(db))
        con.execute("SET enable_progress_bar = false")
        con.execute(f"CREATE TABLE crm AS SELECT * FROM read_parquet('{parquet}')")
        con.close()
    return db


def run_step(db: Path, step: str, memory_limit: str, threads: int) -> dict[str, object]:
    """Run one step in a fresh interpreter and return its JSON line."""
    code = _CHILD.format(
        root=str(ROOT),
        here=str(HERE),
        db=str(db),
        step=step,
        memory_limit=memory_limit,
        threads=threads,
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description="profile_table vs single-SELECT floor")
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/auditor-bench"))
    ap.add_argument("--memory-limit", default="1GB")
    ap.add_argument("--threads", type=int, default=0, help="0 = DuckDB default")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--steps", default="floor_basic,floor_full,profile")
    args = ap.parse_args()
    db = prepare(args.dir, args.rows, args.seed)
    for _ in range(args.repeat):
        for step in args.steps.split(","):
            print(json.dumps(run_step(db, step, args.memory_limit, args.threads)), flush=True)


if __name__ == "__main__":
    main()
