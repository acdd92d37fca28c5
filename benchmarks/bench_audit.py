"""Time ingest, profile and validation of a CRM-like table next to hand-written DuckDB floors.

Usage::

    python benchmarks/bench_audit.py --rows 1000000 [--rows 10000000] \
        [--data-dir benchmarks/data] [--memory-limit 1GB] [--threads 2] [--repeat 1] \
        [--json out.json]

For each ``--rows`` size the script generates (once, cached in ``--data-dir``) a 20-column
CRM-like Parquet file with :func:`crm_table.make_crm_parquet`, writes a 30-expectation GX 1.x
suite for its columns (``crm_suite.json`` in the data dir), and then runs every step below in a
**fresh Python process**, so each step's peak RSS is its own (the parent reads it from
``os.wait4``, i.e. the kernel's ``ru_maxrss`` for that one child; RSS includes the interpreter,
pyarrow, DuckDB and, for validation, Great Expectations):

============== ============================================================================
step           what is timed (wall and CPU time of the work itself, not interpreter start-up)
============== ============================================================================
ingest         the project's path: ``FileConnector.sample(all)`` streamed as Arrow batches into
               a fresh audit store (a DuckDB file in the data dir) by ``RunWriter.write_sample``
               inside ``Store.run`` (run committed, store closed)
profile        ``auditor.profile.profile_table`` on the ingested sample, key ``id``
validation     ``auditor.validate.run_suite`` (native DuckDB engine) with the 30 expectations;
               ``load_suite`` (GX import and suite validation, ~2-3 s whatever the size) is
               reported separately and not included
floor-profile  ONE hand-written SELECT over the ingested table (see :func:`floor_profile_sql`)
floor-checks   ONE hand-written SELECT computing the 30 checks (see :data:`CHECKS`)
floor-ingest   ``CREATE TABLE AS SELECT * FROM read_parquet(...)`` in a scratch DuckDB file:
               context for the ingest figure, not part of the targets
============== ============================================================================

Diagnostics (only when named in ``--steps``): ``floor-profile-parts`` times each group of the
floor-profile aggregates as its own SELECT; ``validation-no-examples`` is ``run_suite`` with
``example_limit=0`` (no example-value queries).

Every step opens its DuckDB connections with the same ``memory_limit`` and ``threads`` (for
ingest: the store's connection *and* the connector's own in-memory connection).

What the floor-profile SELECT computes, per column, in one scan: ``count(c)`` (nulls),
``approx_count_distinct`` (HyperLogLog), ``min``/``max``, ``avg``/``stddev_samp`` of numeric
columns, ``approx_quantile`` (t-digest) of p01..p99 for numeric and temporal columns,
``approx_top_k(c, 5)`` (values only, no counts) and, for strings, the empty/whitespace count,
min/max/mean length and the six pattern-class counts with the profiler's own guarded regexes
(:func:`auditor.profile.pattern_condition`); per table: ``count(*)``, duplicate rows as
``count(*) - count(DISTINCT hash(all columns))`` and duplicate/null keys of ``id`` from
``count(id)`` and ``count(DISTINCT id)`` (the two DISTINCT aggregates as scalar subqueries of the
same statement: inside the main aggregate they made DuckDB 2.0.1 pick a ~25% dearer plan).
Where ``profile_table`` is exact but exactness would need buffering or a GROUP BY (distinct
counts of low-cardinality columns, quantiles up to 10M rows, top values with counts) the floor
uses DuckDB's approximate aggregate: the floor never does more exact work than the profile.
It is not a lower bound on every plan, though: the row-level pattern regexes are its dearest
part, and ``profile_table`` classifies low-cardinality columns per distinct value instead, which
one scan cannot do. The ``floor-profile-parts`` diagnostic reports a stricter floor without the
pattern regexes and ``approx_top_k``. Everything both compute exactly (nulls, empty, min/max,
mean/stddev, lengths, pattern counts, duplicate rows and keys) is cross-checked.

The floor-checks SELECT computes, for each expectation, the number the native engine reports:
the unexpected count (row-wise checks, uniqueness as a GROUP BY subquery, distinct values
outside a set) or the observed value (row count, column set, min/max/mean/median/stdev,
distinct count). The script raises ``AssertionError`` unless every native result equals its
floor value, every expectation ran natively and without error.

Targets (issue): profile + validation within 2x the two floors; peak RSS under 1 GB at 10M rows.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (str(ROOT), str(HERE)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from crm_table import CITIES, COLUMNS, COUNTRIES, make_crm_parquet  # noqa: E402

DATASET = "crm"
KEY_COLUMNS = ("id",)
AS_OF = datetime(2026, 1, 1, tzinfo=UTC)
SEED = 42
TARGET_RATIO = 2.0
TARGET_RSS_MB = 1024.0
TARGET_ROWS = 10_000_000
AUDITOR_STEPS = ("ingest", "profile", "validation")
FLOOR_STEPS = ("floor-profile", "floor-checks", "floor-ingest")
ALL_STEPS = AUDITOR_STEPS + FLOOR_STEPS
#: Diagnostics, run only when named in ``--steps``: the floor-profile SELECT split into groups
#: of aggregates (one SELECT per group), and validation without example values.
DIAG_STEPS = ("floor-profile-parts", "validation-no-examples")
FLOOR_OF = {"ingest": "floor-ingest", "profile": "floor-profile", "validation": "floor-checks",
            "validation-no-examples": "floor-checks"}

# --- the suite and its hand-written floor ------------------------------------------------------

UNEXPECTED = "unexpected"  # compared with ExpectationOutcome.unexpected_count
OBSERVED = "observed"  # compared with ExpectationOutcome.observed_value


@dataclass(frozen=True, slots=True)
class Check:
    """One expectation of the suite and the hand-written SQL computing the same number.

    ``floor`` is an aggregate (or scalar subquery) over ``$T``, the ingested table; ``$NAME``
    is its name as a string literal.
    """

    type: str
    kwargs: dict[str, Any]
    floor: str
    measure: str


def _lits(values: Sequence[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _dup_rows_sql(keys: str, kept: str) -> str:
    """GX uniqueness: every row of a duplicated key is unexpected (not just the extra copies)."""
    return (
        f"(SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM $T WHERE {kept} "
        f"GROUP BY {keys} HAVING count(*) > 1))"
    )


STATUSES = ["active", "prospect", "lead", "churned"]
SHIP_CITIES = [c for c in CITIES if c not in ("Chicago", "Toronto")]
EMAIL_RX = r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"
NOTES_EMAIL_RX = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"

CHECKS: tuple[Check, ...] = (
    # table shape
    Check("expect_table_row_count_to_be_between", {"min_value": 1}, "count(*)", OBSERVED),
    Check(
        "expect_table_columns_to_match_set",
        {"column_set": list(COLUMNS), "exact_match": True},
        "(SELECT list(column_name ORDER BY column_name) FROM information_schema.columns "
        "WHERE table_schema = 'samples' AND table_name = $NAME)",
        OBSERVED,
    ),
    # completeness
    Check("expect_column_values_to_not_be_null", {"column": "id"}, "count_if(id IS NULL)",
          UNEXPECTED),
    Check("expect_column_values_to_not_be_null", {"column": "email", "mostly": 0.95},
          "count_if(email IS NULL)", UNEXPECTED),
    Check("expect_column_values_to_not_be_null", {"column": "last_activity_at", "mostly": 0.85},
          "count_if(last_activity_at IS NULL)", UNEXPECTED),
    # uniqueness
    Check("expect_column_values_to_be_unique", {"column": "id"},
          _dup_rows_sql("id", "id IS NOT NULL"), UNEXPECTED),
    Check("expect_compound_columns_to_be_unique", {"column_list": ["account_id", "email"]},
          _dup_rows_sql("account_id, email", "account_id IS NOT NULL OR email IS NOT NULL"),
          UNEXPECTED),
    # value sets
    Check("expect_column_values_to_be_in_set",
          {"column": "country", "value_set": list(COUNTRIES)},
          f"count_if(country NOT IN ({_lits(COUNTRIES)}))", UNEXPECTED),
    Check("expect_column_values_to_be_in_set", {"column": "status", "value_set": STATUSES},
          f"count_if(status NOT IN ({_lits(STATUSES)}))", UNEXPECTED),
    Check("expect_column_values_to_not_be_in_set", {"column": "email", "value_set": ["", "n/a"]},
          "count_if(email IN ('', 'n/a'))", UNEXPECTED),
    # ranges
    Check("expect_column_values_to_be_between", {"column": "annual_revenue", "min_value": 0},
          "count_if(annual_revenue < 0)", UNEXPECTED),
    Check("expect_column_values_to_be_between",
          {"column": "employees", "min_value": 1, "max_value": 10000, "mostly": 0.9},
          "count_if(employees NOT BETWEEN 1 AND 10000)", UNEXPECTED),
    Check("expect_column_values_to_be_between",
          {"column": "created_at", "min_value": "2019-01-01T00:00:00",
           "max_value": "2023-06-30T00:00:00"},
          "count_if(created_at NOT BETWEEN TIMESTAMP '2019-01-01' AND TIMESTAMP '2023-06-30')",
          UNEXPECTED),
    Check("expect_column_values_to_be_between",
          {"column": "last_activity_at", "min_value": "2024-01-01T00:00:00+00:00",
           "max_value": "2025-06-30T00:00:00+00:00"},
          "count_if(last_activity_at NOT BETWEEN TIMESTAMPTZ '2024-01-01 00:00:00+00' "
          "AND TIMESTAMPTZ '2025-06-30 00:00:00+00')", UNEXPECTED),
    Check("expect_column_values_to_be_between",
          {"column": "birth_date", "min_value": "1900-01-01", "max_value": "2000-12-31"},
          "count_if(birth_date NOT BETWEEN DATE '1900-01-01' AND DATE '2000-12-31')",
          UNEXPECTED),
    Check("expect_column_values_to_be_between",
          {"column": "last_order_amount", "min_value": 0, "max_value": 20000},
          "count_if(last_order_amount NOT BETWEEN 0 AND 20000)", UNEXPECTED),
    # formats
    Check("expect_column_values_to_match_regex", {"column": "email", "regex": EMAIL_RX},
          f"count_if(NOT regexp_matches(email, '{EMAIL_RX}'))", UNEXPECTED),
    Check("expect_column_values_to_match_regex", {"column": "postal_code", "regex": r"^\d{5}$"},
          "count_if(NOT regexp_matches(postal_code, '^[0-9]{5}$'))", UNEXPECTED),
    Check("expect_column_values_to_match_regex",
          {"column": "account_id", "regex": r"^ACC-\d{7}$"},
          "count_if(NOT regexp_matches(account_id, '^ACC-[0-9]{7}$'))", UNEXPECTED),
    Check("expect_column_values_to_not_match_regex",
          {"column": "notes", "regex": NOTES_EMAIL_RX},
          f"count_if(regexp_matches(notes, '{NOTES_EMAIL_RX}'))", UNEXPECTED),
    Check("expect_column_values_to_match_regex_list",
          {"column": "phone", "regex_list": [r"^\+\d", r"^\(\d{3}\) \d{3}-\d{4}$"]},
          "count_if(NOT (regexp_matches(phone, '^\\+[0-9]') OR "
          "regexp_matches(phone, '^\\([0-9]{3}\\) [0-9]{3}-[0-9]{4}$')))", UNEXPECTED),
    Check("expect_column_value_lengths_to_be_between",
          {"column": "first_name", "min_value": 4, "max_value": 20},
          "count_if(length(first_name) NOT BETWEEN 4 AND 20)", UNEXPECTED),
    Check("expect_column_value_lengths_to_equal", {"column": "postal_code", "value": 5},
          "count_if(length(postal_code) <> 5)", UNEXPECTED),
    # aggregates
    Check("expect_column_min_to_be_between",
          {"column": "lead_score", "min_value": 0, "max_value": 1},
          "min(lead_score)", OBSERVED),
    Check("expect_column_max_to_be_between", {"column": "employees", "max_value": 50000},
          "max(employees)", OBSERVED),
    Check("expect_column_mean_to_be_between",
          {"column": "annual_revenue", "min_value": 50000, "max_value": 200000},
          "avg(annual_revenue)", OBSERVED),
    Check("expect_column_median_to_be_between",
          {"column": "lead_score", "min_value": 40, "max_value": 60},
          "quantile_cont(lead_score, 0.5)", OBSERVED),
    Check("expect_column_stdev_to_be_between",
          {"column": "lead_score", "min_value": 20, "max_value": 40},
          "stddev_samp(lead_score)", OBSERVED),
    Check("expect_column_unique_value_count_to_be_between",
          {"column": "industry", "min_value": 1, "max_value": 20},
          "count(DISTINCT industry)", OBSERVED),
    Check("expect_column_distinct_values_to_be_in_set",
          {"column": "city", "value_set": SHIP_CITIES},
          f"count(DISTINCT city) FILTER (WHERE city NOT IN ({_lits(SHIP_CITIES)}))", UNEXPECTED),
)
assert len(CHECKS) == 30


def suite_json() -> dict[str, Any]:
    """The suite as GX 1.x JSON (what ``ExpectationSuite.to_json_dict()`` looks like)."""
    return {
        "name": "crm_bench",
        "meta": {"generated_by": "benchmarks/bench_audit.py"},
        "expectations": [{"type": c.type, "kwargs": c.kwargs, "meta": {}} for c in CHECKS],
    }


def write_suite(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(suite_json(), indent=2) + "\n", encoding="utf-8")
    return path


def floor_checks_sql(ref: str, table: str) -> str:
    """The single SELECT of the floor-checks step."""
    name = "'" + table.replace("'", "''") + "'"
    exprs = [c.floor.replace("$T", ref).replace("$NAME", name) for c in CHECKS]
    return "SELECT " + ",\n       ".join(f"{e} AS f{i}" for i, e in enumerate(exprs)) + \
        f"\nFROM {ref}"


# --- the floor-profile SELECT ------------------------------------------------------------------

_NUMERIC = {"tinyint", "smallint", "integer", "bigint", "hugeint", "utinyint", "usmallint",
            "uinteger", "ubigint", "float", "double", "decimal"}
_TEMPORAL = {"date", "timestamp", "timestamp with time zone", "timestamp_s", "timestamp_ms",
             "timestamp_ns"}


def _floor_profile_items(con: duckdb.DuckDBPyConnection, ref: str,
                         key: str) -> list[tuple[str, str, str]]:
    """(column or "" for table-level, stat, SQL aggregate) of the floor-profile SELECT."""
    from auditor import profile as P

    rel = con.sql(f"SELECT * FROM {ref}")
    cols = [(n, str(t.id).lower()) for n, t in zip(rel.columns, rel.types, strict=True)]
    qs = "[" + ", ".join(str(q) for _, q in P.QUANTILES) + "]"
    ws = ", ".join(str(x) for x in (0, 9, 10, 11, 12, 13, 32, 160))
    out: list[tuple[str, str, str]] = [("", "rows", "count(*)")]
    for name, tid in cols:
        c = P.quote_ident(name)
        out += [(name, "non_null", f"count({c})"),
                (name, "approx_distinct", f"approx_count_distinct({c})"),
                (name, "min", f"min({c})"), (name, "max", f"max({c})")]
        if tid in _NUMERIC:
            out += [(name, "mean", f"avg(CAST({c} AS DOUBLE))"),
                    (name, "stddev", f"stddev_samp(CAST({c} AS DOUBLE))")]
        if tid in _NUMERIC or tid in _TEMPORAL:
            out.append((name, "quantiles", f"approx_quantile({c}, {qs})"))
        out.append((name, "top", f"approx_top_k({c}, 5)"))
        if tid == "varchar":
            out += [
                (name, "empty", f"count_if(CASE WHEN ascii({c}) IN ({ws}) THEN "
                                f"regexp_full_match({c}, {P.sql_literal(P.WHITESPACE_RE)}) "
                                "ELSE false END)"),
                (name, "min_length", f"min(length({c}))"),
                (name, "max_length", f"max(length({c}))"),
                (name, "mean_length", f"avg(length({c}))"),
            ]
            out += [(name, f"pattern:{k}", f"count_if({P.pattern_condition(c, k)})")
                    for k in P.PATTERN_CLASSES]
    k = P.quote_ident(key)
    all_cols = ", ".join(P.quote_ident(n) for n, _ in cols)
    # As scalar subqueries: a DISTINCT aggregate in the main SELECT switches DuckDB (2.0.1) to a
    # plan that made the whole statement ~25% dearer (10M rows: 23.5 s wall / 45 CPU s against
    # 17.4 + 2.0 s as two statements); the subqueries keep it one statement at the lower cost.
    out += [("", "duplicate_rows",
             f"(SELECT count(*) - count(DISTINCT hash({all_cols})) FROM {ref})"),
            ("", "duplicate_keys", f"(SELECT count({k}) - count(DISTINCT {k}) FROM {ref})"),
            ("", "null_keys", f"count(*) - count({k})")]
    return out


def floor_profile_sql(con: duckdb.DuckDBPyConnection, ref: str,
                      key: str = KEY_COLUMNS[0]) -> tuple[str, list[tuple[str, str]]]:
    """The single SELECT of the floor-profile step and the (column, stat) of each output."""
    out = _floor_profile_items(con, ref, key)
    sql = "SELECT " + ",\n       ".join(e for _, _, e in out) + f"\nFROM {ref}"
    return sql, [(n, s) for n, s, _ in out]


def floor_profile_exprs(con: duckdb.DuckDBPyConnection, ref: str,
                        key: str = KEY_COLUMNS[0]) -> list[str]:
    return [e for _, _, e in _floor_profile_items(con, ref, key)]


# --- steps (each runs in its own process; callable in-process for the smoke test) --------------


@dataclass(slots=True)
class Context:
    parquet: str
    store: str
    suite: str
    memory_limit: str | None
    threads: int
    table: str | None = None


def _rss_mb() -> float | None:
    """Current RSS of this process in MB (Linux), None elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


def _configure(con: duckdb.DuckDBPyConnection, ctx: Context) -> None:
    con.execute("SET enable_progress_bar = false")
    if ctx.memory_limit:
        con.execute(f"SET memory_limit = '{ctx.memory_limit}'")
    if ctx.threads:
        con.execute(f"SET threads = {int(ctx.threads)}")


def _open_store(ctx: Context, *, read_only: bool = True) -> Any:
    from auditor.store import Store

    store = Store.open(ctx.store, memory_limit=ctx.memory_limit or None, read_only=read_only)
    _configure(store.con, ctx)
    return store


def _plain(value: Any) -> Any:
    """JSON-friendly value: ISO strings for dates, floats for decimals, lists for tuples."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Clock:
    """Marks the start of the timed work (after imports and connection set-up).

    ``cpu_s`` is user + system time of every thread of the process over the same span: on a
    shared host it moves much less than wall time when other processes compete for the cores.
    """

    def __init__(self) -> None:
        self.rss_start = _rss_mb()
        self.cpu0 = _cpu_s()
        self.t0 = time.perf_counter()

    def done(self, **extra: Any) -> dict[str, Any]:
        wall = time.perf_counter() - self.t0
        return {"wall_s": wall, "cpu_s": _cpu_s() - self.cpu0, "rss_start_mb": self.rss_start,
                **extra}


def step_ingest(ctx: Context) -> dict[str, Any]:
    from auditor import __version__
    from auditor.models import SampleSpec
    from auditor.store import Store
    from connectors.files import FileConnector, FileSourceConfig

    parquet = Path(ctx.parquet).resolve()
    clock = _Clock()
    connector = FileConnector(
        "bench", FileSourceConfig(kind="file", path=str(parquet.parent)), parquet.parent
    )
    # The connector's own in-memory connection gets the same limits as the store's.
    _configure(connector._connection(), ctx)
    store = Store.open(ctx.store, memory_limit=ctx.memory_limit or None)
    _configure(store.con, ctx)
    try:
        with store.run(config_path="benchmarks/bench_audit.py", config_hash="bench",
                       version=__version__, as_of=AS_OF) as writer:
            sample = connector.sample(parquet.name, SampleSpec(method="all"), {})
            table, rows = writer.write_sample(DATASET, sample.reader)
    finally:
        connector.close()
        store.close()
    return clock.done(table=table, rows=rows)


def step_floor_ingest(ctx: Context) -> dict[str, Any]:
    scratch = Path(ctx.store).with_name("floor_ingest.duckdb")
    scratch.unlink(missing_ok=True)
    clock = _Clock()
    con = duckdb.connect(str(scratch))
    try:
        _configure(con, ctx)
        src = ctx.parquet.replace("'", "''")
        con.execute(f"CREATE TABLE crm AS SELECT * FROM read_parquet('{src}')")
        rows = con.execute("SELECT count(*) FROM crm").fetchone()[0]  # type: ignore[index]
    finally:
        con.close()
    result = clock.done(rows=int(rows))
    scratch.unlink(missing_ok=True)
    return result


def _profile_summary(prof: Any) -> dict[str, Any]:
    cols = {}
    for c in prof.columns:
        cols[c.name] = _plain({
            "nulls": c.nulls, "empty": c.empty, "distinct": c.distinct, "min": c.min,
            "max": c.max, "mean": c.mean, "stddev": c.stddev, "min_length": c.min_length,
            "max_length": c.max_length, "mean_length": c.mean_length,
            "patterns": dict(c.patterns),
        })
    return {"rows": prof.rows, "duplicate_rows": prof.duplicate_rows,
            "duplicate_keys": prof.duplicate_keys, "null_keys": prof.null_keys, "columns": cols}


def step_profile(ctx: Context) -> dict[str, Any]:
    from auditor.profile import profile_table

    store = _open_store(ctx)
    try:
        clock = _Clock()
        prof = profile_table(store.con, str(ctx.table), dataset=DATASET,
                             key_columns=list(KEY_COLUMNS), as_of=AS_OF)
        result = clock.done()
    finally:
        store.close()
    return {**result, "rows": prof.rows, "profile": _profile_summary(prof)}


def step_validation(ctx: Context, example_limit: int = 5) -> dict[str, Any]:
    from auditor.validate import load_suite, run_suite

    store = _open_store(ctx)
    try:
        t_load = time.perf_counter()
        suite = load_suite(Path(ctx.suite))
        load_s = time.perf_counter() - t_load
        clock = _Clock()
        outcomes = run_suite(store.con, str(ctx.table), suite, dataset=DATASET,
                             example_limit=example_limit)
        result = clock.done(load_s=load_s)
    finally:
        store.close()
    return {**result, "outcomes": [
        {"type": o.expectation_type, "column": o.column, "success": o.success,
         "element_count": o.element_count, "unexpected_count": o.unexpected_count,
         "observed_value": _plain(o.observed_value), "engine": o.engine, "error": o.error}
        for o in outcomes]}


def step_floor_profile(ctx: Context) -> dict[str, Any]:
    from auditor.store import SAMPLES_SCHEMA, quote_ident

    store = _open_store(ctx)
    try:
        ref = f"{SAMPLES_SCHEMA}.{quote_ident(str(ctx.table))}"
        sql, keys = floor_profile_sql(store.con, ref)
        clock = _Clock()
        row = store.con.execute(sql).fetchall()[0]
        result = clock.done()
    finally:
        store.close()
    table: dict[str, Any] = {}
    cols: dict[str, dict[str, Any]] = {}
    for (col, stat), value in zip(keys, row, strict=True):
        target = table if not col else cols.setdefault(col, {"patterns": {}})
        if stat.startswith("pattern:"):
            target["patterns"][stat.split(":", 1)[1]] = int(value)
        else:
            target[stat] = _plain(value)
    return {**result, "rows": table["rows"], "aggregates": len(keys),
            "profile": {**table, "columns": cols}}


_PROFILE_GROUPS: dict[str, Callable[[str], bool]] = {
    "counts, min/max, mean/stddev, empty, lengths": lambda stat: stat in (
        "rows", "non_null", "min", "max", "mean", "stddev", "empty", "min_length", "max_length",
        "mean_length"),
    "approx_count_distinct": lambda stat: stat == "approx_distinct",
    "approx_quantile": lambda stat: stat == "quantiles",
    "approx_top_k": lambda stat: stat == "top",
    "pattern regexes": lambda stat: stat.startswith("pattern:"),
    "duplicate rows": lambda stat: stat == "duplicate_rows",
    "duplicate/null keys": lambda stat: stat in ("duplicate_keys", "null_keys"),
}


def step_floor_profile_parts(ctx: Context) -> dict[str, Any]:
    """Diagnostic: each group of the floor-profile's aggregates as its own SELECT."""
    from auditor.store import SAMPLES_SCHEMA, quote_ident

    store = _open_store(ctx)
    parts: dict[str, dict[str, float]] = {}
    try:
        ref = f"{SAMPLES_SCHEMA}.{quote_ident(str(ctx.table))}"
        _, keys = floor_profile_sql(store.con, ref)
        exprs = floor_profile_exprs(store.con, ref)
        total = _Clock()
        for group, wanted in _PROFILE_GROUPS.items():
            chosen = [e for e, (_, stat) in zip(exprs, keys, strict=True) if wanted(stat)]
            clock = _Clock()
            store.con.execute("SELECT " + ", ".join(chosen) + f" FROM {ref}").fetchall()
            done = clock.done()
            parts[group] = {"wall_s": done["wall_s"], "cpu_s": done["cpu_s"],
                            "aggregates": len(chosen)}
        result = total.done()
    finally:
        store.close()
    return {**result, "parts": parts}


def step_validation_no_examples(ctx: Context) -> dict[str, Any]:
    """Diagnostic: run_suite with ``example_limit=0`` (no example-value queries)."""
    result = step_validation(ctx, example_limit=0)
    result.pop("outcomes")
    return result


def step_floor_checks(ctx: Context) -> dict[str, Any]:
    from auditor.store import SAMPLES_SCHEMA, quote_ident

    store = _open_store(ctx)
    try:
        ref = f"{SAMPLES_SCHEMA}.{quote_ident(str(ctx.table))}"
        sql = floor_checks_sql(ref, str(ctx.table))
        clock = _Clock()
        row = store.con.execute(sql).fetchall()[0]
        result = clock.done()
    finally:
        store.close()
    return {**result, "values": [_plain(v) for v in row]}


STEPS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "ingest": step_ingest,
    "profile": step_profile,
    "validation": step_validation,
    "floor-profile": step_floor_profile,
    "floor-checks": step_floor_checks,
    "floor-ingest": step_floor_ingest,
    "floor-profile-parts": step_floor_profile_parts,
    "validation-no-examples": step_validation_no_examples,
}


def run_step_subprocess(step: str, ctx: Context, workdir: Path) -> dict[str, Any]:
    """Run one step in a fresh interpreter; peak RSS is that child's ``ru_maxrss``."""
    out = workdir / f"{step}.json"
    out.unlink(missing_ok=True)
    spec = json.dumps({"step": step, "ctx": asdict(ctx), "out": str(out)})
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", spec])
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"step {step} failed with exit code {proc.returncode}")
    result = json.loads(out.read_text(encoding="utf-8"))
    result["process_s"] = time.perf_counter() - started
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux: kilobytes
    return result


def _child(spec_json: str) -> None:
    spec = json.loads(spec_json)
    result = STEPS[spec["step"]](Context(**spec["ctx"]))
    Path(spec["out"]).write_text(json.dumps(result, default=str), encoding="utf-8")


# --- cross-checks ------------------------------------------------------------------------------


def _same(a: Any, b: Any, rel: float = 1e-9) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-9)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y, rel) for x, y in zip(a, b, strict=True))
    return a == b


def cross_check_validation(outcomes: Sequence[dict[str, Any]],
                           floor_values: Sequence[Any]) -> list[str]:
    """Differences between native results and the floor-checks SELECT (empty when all agree)."""
    problems = []
    if len(outcomes) != len(CHECKS) or len(floor_values) != len(CHECKS):
        return [f"expected {len(CHECKS)} results, got {len(outcomes)} native and "
                f"{len(floor_values)} floor values"]
    for i, (check, o, f) in enumerate(zip(CHECKS, outcomes, floor_values, strict=True)):
        where = f"#{i} {check.type}({check.kwargs.get('column', '')})"
        if o["engine"] != "duckdb-sql":
            problems.append(f"{where}: ran in {o['engine']}, not natively")
        if o["error"]:
            problems.append(f"{where}: error {o['error']}")
        native = o["unexpected_count"] if check.measure == UNEXPECTED else o["observed_value"]
        if not _same(native, f):
            problems.append(f"{where}: native {check.measure} {native!r} != floor {f!r}")
    return problems


_EXACT_STATS = ("nulls", "empty", "min", "max", "mean", "stddev", "min_length", "max_length",
                "mean_length", "patterns")


def cross_check_profile(prof: dict[str, Any], floor: dict[str, Any]) -> list[str]:
    """Differences in what profile_table and the floor both compute exactly."""
    problems = []
    for key in ("rows", "duplicate_rows", "duplicate_keys", "null_keys"):
        if prof[key] != floor[key]:
            problems.append(f"{key}: profile {prof[key]!r} != floor {floor[key]!r}")
    for name, p in prof["columns"].items():
        f = dict(floor["columns"][name])
        f["nulls"] = floor["rows"] - f["non_null"]
        f.setdefault("empty", 0)
        for stat in _EXACT_STATS:
            if not _same(p.get(stat), f.get(stat), rel=1e-6):
                problems.append(f"{name}.{stat}: profile {p.get(stat)!r} != floor {f.get(stat)!r}")
    return problems


# --- driver ------------------------------------------------------------------------------------


def ensure_parquet(data_dir: Path, rows: int, seed: int = SEED) -> Path:
    path = data_dir / f"crm_{rows}_{seed}.parquet"
    if not path.exists():
        tmp = path.with_suffix(".parquet.part")
        make_crm_parquet(tmp, rows, seed)
        tmp.rename(path)
    return path


def run_size(rows: int, data_dir: Path, *, memory_limit: str | None, threads: int,
             repeat: int = 1, steps: Sequence[str] = ALL_STEPS, in_process: bool = False,
             log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Every step for one table size; raises AssertionError when a cross-check fails."""
    data_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    parquet = ensure_parquet(data_dir, rows)
    log(f"{rows:,} rows: {parquet} ready in {time.perf_counter() - t0:.1f} s")
    suite = write_suite(data_dir / "crm_suite.json")
    runs: list[dict[str, dict[str, Any]]] = []
    for rep in range(repeat):
        work = Path(tempfile.mkdtemp(prefix=f"store-{rows}-", dir=data_dir))
        try:
            ctx = Context(str(parquet), str(work / "audit.duckdb"), str(suite), memory_limit,
                          threads)
            results: dict[str, dict[str, Any]] = {}
            for step in ("ingest", *[s for s in steps if s != "ingest"]):
                if in_process:
                    res = STEPS[step](ctx)
                    res["peak_rss_mb"] = None
                else:
                    res = run_step_subprocess(step, ctx, work)
                if step == "ingest":
                    ctx.table = res["table"]
                results[step] = res
                rss = res["peak_rss_mb"]
                log(f"  run {rep + 1}/{repeat} {step:<22} {res['wall_s']:8.2f} s"
                    + (f"  peak RSS {rss:6.0f} MB" if rss is not None else ""))
            runs.append(results)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    checks = profile_checks = None
    last = runs[-1]
    if "validation" in last and "floor-checks" in last:
        checks = cross_check_validation(last["validation"]["outcomes"],
                                        last["floor-checks"]["values"])
        if checks:
            raise AssertionError("native validation disagrees with the floor:\n  "
                                 + "\n  ".join(checks))
    if "profile" in last and "floor-profile" in last:
        profile_checks = cross_check_profile(last["profile"]["profile"],
                                             last["floor-profile"]["profile"])
        if profile_checks:
            raise AssertionError("profile_table disagrees with the floor:\n  "
                                 + "\n  ".join(profile_checks))
    return summarise(rows, runs, checks, profile_checks)


def summarise(rows: int, runs: list[dict[str, dict[str, Any]]], checks: list[str] | None,
              profile_checks: list[str] | None) -> dict[str, Any]:
    """Best (minimum) wall and CPU time and largest peak RSS of each step over the repeats."""
    steps: dict[str, dict[str, Any]] = {}
    for name in runs[0]:
        rss = [r[name]["peak_rss_mb"] for r in runs if r[name]["peak_rss_mb"] is not None]
        steps[name] = {
            "wall_s": min(r[name]["wall_s"] for r in runs),
            "cpu_s": min(r[name]["cpu_s"] for r in runs),
            "walls_s": [r[name]["wall_s"] for r in runs],
            "peak_rss_mb": max(rss) if rss else None,
            "rss_start_mb": runs[-1][name].get("rss_start_mb"),
        }
        if "load_s" in runs[-1][name]:
            steps[name]["load_suite_s"] = min(r[name]["load_s"] for r in runs)
        if "parts" in runs[-1][name]:
            steps[name]["parts"] = {
                g: {k: min(r[name]["parts"][g][k] for r in runs) for k in ("wall_s", "cpu_s")}
                for g in runs[-1][name]["parts"]}
    for step, floor in FLOOR_OF.items():
        if step in steps and floor in steps and steps[floor]["wall_s"] > 0:
            steps[step]["ratio"] = steps[step]["wall_s"] / steps[floor]["wall_s"]
            steps[step]["cpu_ratio"] = steps[step]["cpu_s"] / max(steps[floor]["cpu_s"], 1e-9)
    out: dict[str, Any] = {"rows": rows, "repeats": len(runs), "steps": steps}
    if all(s in steps for s in ("profile", "validation", "floor-profile", "floor-checks")):
        num = steps["profile"]["wall_s"] + steps["validation"]["wall_s"]
        den = steps["floor-profile"]["wall_s"] + steps["floor-checks"]["wall_s"]
        cnum = steps["profile"]["cpu_s"] + steps["validation"]["cpu_s"]
        cden = steps["floor-profile"]["cpu_s"] + steps["floor-checks"]["cpu_s"]
        out["combined"] = {"auditor_s": num, "floor_s": den, "ratio": num / den,
                           "auditor_cpu_s": cnum, "floor_cpu_s": cden, "cpu_ratio": cnum / cden,
                           "pass": num / den <= TARGET_RATIO}
    parts = steps.get("floor-profile-parts", {}).get("parts")
    if parts and "profile" in steps:
        # A stricter floor: the floor-profile without its two dearest groups (row-level pattern
        # regexes, approx_top_k), as the sum of separately timed SELECTs.
        core = [p for g, p in parts.items() if g not in ("pattern regexes", "approx_top_k")]
        core_wall = sum(p["wall_s"] for p in core)
        core_cpu = sum(p["cpu_s"] for p in core)
        out["core_floor"] = {
            "wall_s": core_wall, "cpu_s": core_cpu,
            "profile_ratio": steps["profile"]["wall_s"] / core_wall,
            "profile_cpu_ratio": steps["profile"]["cpu_s"] / core_cpu,
        }
        if "combined" in out:
            c = out["combined"]
            out["core_floor"]["combined_ratio"] = c["auditor_s"] / (
                core_wall + steps["floor-checks"]["wall_s"])
            out["core_floor"]["combined_cpu_ratio"] = c["auditor_cpu_s"] / (
                core_cpu + steps["floor-checks"]["cpu_s"])
    rss = [(steps[s]["peak_rss_mb"], s) for s in AUDITOR_STEPS
           if s in steps and steps[s]["peak_rss_mb"] is not None]
    if rss:
        peak, where = max(rss)
        out["memory"] = {"peak_rss_mb": peak, "step": where, "pass": peak < TARGET_RSS_MB}
    if runs[-1].get("validation"):
        failing = [o for o in runs[-1]["validation"]["outcomes"] if not o["success"]]
        out["validation"] = {"expectations": len(CHECKS), "failing": len(failing),
                             "cross_check": "ok" if checks == [] else None}
    if profile_checks is not None:
        out["profile_cross_check"] = "ok" if not profile_checks else profile_checks
    return out


def environment(memory_limit: str | None, threads: int) -> dict[str, Any]:
    import pyarrow

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "memory_limit": memory_limit,
        "threads": threads or "duckdb default",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def print_table(results: Sequence[dict[str, Any]], env: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    def verdict(ok: bool) -> str:
        return "[green]PASS[/green]" if ok else "[red]FAIL[/red]"

    console = Console(width=None if sys.stdout.isatty() else 120)
    table = Table(title=f"auditor vs hand-written DuckDB floor: {env['date']}, {env['cpus']} "
                        f"CPUs, duckdb {env['duckdb']}, pyarrow {env['pyarrow']}, memory_limit "
                        f"{env['memory_limit']}, threads {env['threads']}")
    for col in ("step", "rows", "wall s", "CPU s", "peak RSS MB", "wall ratio", "CPU ratio",
                "target"):
        table.add_column(col, justify="left" if col in ("step", "target") else "right")
    for res in results:
        rows = f"{res['rows']:,}"
        for name in (*ALL_STEPS, *DIAG_STEPS):
            s = res["steps"].get(name)
            if s is None:
                continue
            rss = "-" if s["peak_rss_mb"] is None else f"{s['peak_rss_mb']:.0f}"
            ratio = f"{s['ratio']:.2f}x" if "ratio" in s else ""
            cpu_ratio = f"{s['cpu_ratio']:.2f}x" if "cpu_ratio" in s else ""
            table.add_row(name, rows, f"{s['wall_s']:.2f}", f"{s['cpu_s']:.2f}", rss, ratio,
                          cpu_ratio, "")
        comb = res.get("combined")
        if comb:
            table.add_row("[bold]profile + validation[/bold]", rows, f"{comb['auditor_s']:.2f}",
                          f"{comb['auditor_cpu_s']:.2f}", "", f"[bold]{comb['ratio']:.2f}x[/bold]",
                          f"{comb['cpu_ratio']:.2f}x",
                          f"{verdict(comb['pass'])} wall <= {TARGET_RATIO:g}x floor")
        mem = res.get("memory")
        if mem:
            scope = "" if res["rows"] >= TARGET_ROWS else " (10M target)"
            table.add_row("[bold]max RSS, auditor steps[/bold]", rows, "", "",
                          f"[bold]{mem['peak_rss_mb']:.0f}[/bold]", "", "",
                          f"{verdict(mem['pass'])} < {TARGET_RSS_MB:.0f} MB{scope}")
        table.add_section()
    console.print(table)
    console.print(f"load average (1/5/15 min) at start {env['load_average_at_start']}, at end "
                  f"{env.get('load_average_at_end')}: other processes on the host inflate wall "
                  "times; CPU s (user + system of the step's process) is steadier.")
    console.print("wall/CPU: best of the repeats, the timed work only; ratios: ingest to "
                  "floor-ingest, profile to floor-profile, validation to floor-checks. "
                  "Validation excludes load_suite (GX import + suite validation).")
    for res in results:
        parts = res["steps"].get("floor-profile-parts", {}).get("parts")
        if parts:
            console.print(f"{res['rows']:,} rows, floor-profile aggregates as separate SELECTs: "
                          + "; ".join(f"{g} {p['wall_s']:.2f} s ({p['cpu_s']:.2f} CPU s)"
                                      for g, p in parts.items()))
        core = res.get("core_floor")
        if core:
            line = (f"{res['rows']:,} rows, stricter floor-profile without pattern regexes and "
                    f"approx_top_k: {core['wall_s']:.2f} s ({core['cpu_s']:.2f} CPU s); profile "
                    f"is {core['profile_ratio']:.2f}x ({core['profile_cpu_ratio']:.2f}x CPU)")
            if "combined_ratio" in core:
                line += (f", profile + validation {core['combined_ratio']:.2f}x "
                         f"({core['combined_cpu_ratio']:.2f}x CPU) of it plus floor-checks")
            console.print(line)
        v = res.get("validation")
        if v:
            load = res["steps"]["validation"].get("load_suite_s", 0.0)
            console.print(f"{res['rows']:,} rows: {v['expectations']} expectations, "
                          f"{v['failing']} failing; load_suite {load:.1f} s; native counts == "
                          f"floor counts: {v['cross_check']}; profile cross-check: "
                          f"{res.get('profile_cross_check')}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, action="append",
                    help="table size; repeat the flag for several sizes (default 1,000,000)")
    ap.add_argument("--data-dir", type=Path, default=HERE / "data",
                    help="cache for generated Parquet files and scratch stores (git-ignored)")
    ap.add_argument("--memory-limit", default="1GB", help="DuckDB memory_limit for every step")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 0,
                    help="DuckDB threads for every step (0 = DuckDB default)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per size; best wall is kept")
    ap.add_argument("--steps", default=",".join(ALL_STEPS),
                    help="comma-separated steps (ingest always runs); diagnostics: "
                         + ", ".join(DIAG_STEPS))
    ap.add_argument("--json", type=Path, help="also write the figures as JSON here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child)
        return 0
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = sorted(set(steps) - set(ALL_STEPS) - set(DIAG_STEPS))
    if unknown:
        ap.error(f"unknown step(s): {', '.join(unknown)}")
    env = environment(args.memory_limit, args.threads)
    results = []
    for rows in args.rows or [1_000_000]:
        results.append(run_size(rows, args.data_dir.resolve(), memory_limit=args.memory_limit,
                                threads=args.threads, repeat=args.repeat, steps=steps,
                                log=lambda m: print(m, file=sys.stderr, flush=True)))
    env["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print_table(results, env)
    if args.json:
        args.json.write_text(json.dumps({"environment": env, "results": results}, indent=2,
                                        default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
