"""Tests for auditor.profile on real DuckDB tables.

Every expected number is recomputed here in plain Python from the very rows loaded into
DuckDB (no typed-in magic numbers), so a test fails only if the SQL disagrees with the
definition written in the module docstring.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from auditor import profile as P
from auditor.errors import UnknownObject
from auditor.profile import MAX_VALUE_CHARS, QUANTILES, profile_table

AS_OF = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
WHITESPACE = " \t\n\r\x0b\x0c\u00a0"

# Values with a known pattern-class membership (classes are not exclusive).
PATTERN_VALUES: dict[str, frozenset[str]] = {
    "anna.smith@example.com": frozenset({"email"}),
    "b.o'neil+tag@mail.example.org": frozenset({"email"}),
    "+33 6 12 34 56 78": frozenset({"phone"}),
    "(555) 234-5678": frozenset({"phone"}),
    "0612345678": frozenset({"phone", "numeric"}),
    "2024-03-15": frozenset({"date"}),
    "2024-03-15T10:20:30Z": frozenset({"date"}),
    "15/03/2024": frozenset({"date"}),
    "03-15-2024": frozenset({"date"}),
    "15.03.2024": frozenset({"date"}),
    "15 March 2024": frozenset({"date"}),
    "March 15, 2024": frozenset({"date"}),
    "42": frozenset({"numeric"}),
    "-3.14": frozenset({"numeric"}),
    "1,234,567.89": frozenset({"numeric"}),
    "the customer called twice about billing": frozenset({"free_text"}),
    "Prefers contact by post": frozenset({"free_text"}),
    "ACC-00123": frozenset({"code"}),
    "SKU_12B": frozenset({"code"}),
    "FR": frozenset({"code"}),
    "hello": frozenset(),
    "Paris": frozenset(),
}


def _rows(n: int, seed: int) -> list[dict[str, Any]]:
    """Deterministic mixed-type rows, including NULLs, blanks and exact duplicate rows."""
    rng = random.Random(seed)
    cats = ["alpha", "beta", "gamma", "delta", "", "  ", "\t"]
    pattern_keys = list(PATTERN_VALUES)
    base = datetime(2024, 1, 1)
    out = []
    for i in range(n):
        out.append(
            {
                "id": i,
                "amount": None if rng.random() < 0.1 else round(rng.uniform(-50, 500), 2),
                "qty": rng.choice([None, 1, 2, 3, 5, 8, 13]),
                "category": rng.choice(cats + [None]),
                "contact": rng.choice(pattern_keys + [None]),
                "created": base + timedelta(minutes=rng.randrange(0, 500_000)),
                "updated_tz": (base + timedelta(hours=rng.randrange(0, 9000))).replace(tzinfo=UTC),
                "day": date(2023, 1, 1) + timedelta(days=rng.randrange(0, 700)),
                "flag": rng.choice([True, False, None]),
                "acct": None if rng.random() < 0.05 else f"A{rng.randrange(0, n // 3)}",
                "region": rng.choice(["EU", "US", None]),
            }
        )
    # exact duplicates of some rows (ids included), so duplicate_rows > 0
    out.extend(dict(out[j]) for j in range(0, n, 37))
    out.extend(dict(out[j]) for j in range(0, n, 111))
    return out


def _load(con: duckdb.DuckDBPyConnection, name: str, rows: list[dict[str, Any]],
          schema: pa.Schema) -> None:  # fmt: skip
    tbl = pa.Table.from_pylist(rows, schema=schema)
    con.register("incoming", tbl)
    con.execute(f"CREATE TABLE {P.quote_ident(name)} AS SELECT * FROM incoming")
    con.unregister("incoming")


SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("amount", pa.float64()),
        ("qty", pa.int32()),
        ("category", pa.string()),
        ("contact", pa.string()),
        ("created", pa.timestamp("us")),
        ("updated_tz", pa.timestamp("us", tz="UTC")),
        ("day", pa.date32()),
        ("flag", pa.bool_()),
        ("acct", pa.string()),
        ("region", pa.string()),
    ]
)


@pytest.fixture(scope="module")
def mixed() -> tuple[duckdb.DuckDBPyConnection, list[dict[str, Any]]]:
    con = duckdb.connect()
    rows = _rows(1500, seed=7)
    _load(con, "mixed", rows, SCHEMA)
    return con, rows


# --- Independent reference computations -------------------------------------------------------


def quantile_cont(xs: list[float], q: float) -> float:
    s = sorted(xs)
    pos = q * (len(s) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def quantile_disc(xs: list[Any], q: float) -> Any:
    s = sorted(xs)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def top(values: list[Any], k: int) -> tuple[tuple[Any, int], ...]:
    counts = Counter(v for v in values if v is not None)
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k])


def col(rows: list[dict[str, Any]], name: str) -> list[Any]:
    return [r[name] for r in rows]


# --- Tests ------------------------------------------------------------------------------------


def test_numeric_column_stats(mixed):
    con, rows = mixed
    prof = profile_table(con, "mixed", dataset="m", as_of=AS_OF)
    assert prof.rows == len(rows)
    for name in ("amount", "qty"):
        vals = [v for v in col(rows, name) if v is not None]
        c = prof.column(name)
        assert c is not None
        assert c.rows == len(rows)
        assert c.nulls == len(rows) - len(vals)
        assert c.distinct == len(set(vals))
        assert c.min == min(vals) and c.max == max(vals)
        assert c.mean == pytest.approx(statistics.fmean(vals))
        assert c.stddev == pytest.approx(statistics.stdev(vals))
        assert c.quantiles is not None
        assert list(c.quantiles) == [n for n, _ in QUANTILES]
        for qname, q in QUANTILES:
            assert c.quantiles[qname] == pytest.approx(quantile_cont(vals, q))
        assert c.top_values == top(vals, 5)
        assert c.patterns == {} and c.min_length is None


def test_string_column_stats_and_patterns(mixed):
    con, rows = mixed
    prof = profile_table(con, "mixed", dataset="m", as_of=AS_OF, top_k=3)
    for name in ("category", "contact"):
        vals = [v for v in col(rows, name) if v is not None]
        c = prof.column(name)
        assert c.nulls == len(rows) - len(vals)
        assert c.empty == sum(1 for v in vals if v.strip(WHITESPACE) == "")
        assert c.distinct == len(set(vals))
        assert (c.min, c.max) == (min(vals), max(vals))
        assert c.min_length == min(map(len, vals))
        assert c.max_length == max(map(len, vals))
        assert c.mean_length == pytest.approx(statistics.fmean(map(len, vals)))
        assert c.top_values == top(vals, 3)
        assert c.mean is None and c.quantiles is None
    contact = [v for v in col(rows, "contact") if v is not None]
    expected = {k: sum(1 for v in contact if k in PATTERN_VALUES[v]) for k in P.PATTERN_CLASSES}
    assert prof.column("contact").patterns == expected
    assert prof.column("category").missing_share == pytest.approx(
        sum(1 for v in col(rows, "category") if v is None or v.strip(WHITESPACE) == "")
        / len(rows)
    )


def test_temporal_columns_freshness_and_quantiles(mixed):
    con, rows = mixed
    prof = profile_table(con, "mixed", dataset="m", as_of=AS_OF)
    created = col(rows, "created")
    c = prof.column("created")
    assert c.latest == max(created).replace(tzinfo=UTC)  # naive TIMESTAMP taken as UTC
    assert c.freshness_hours == pytest.approx(
        (AS_OF - max(created).replace(tzinfo=UTC)).total_seconds() / 3600
    )
    for qname, q in QUANTILES:
        assert c.quantiles[qname] == quantile_disc(created, q)

    tz = prof.column("updated_tz")
    assert tz.latest == max(col(rows, "updated_tz"))
    assert tz.freshness_hours == pytest.approx(
        (AS_OF - max(col(rows, "updated_tz"))).total_seconds() / 3600
    )

    day = prof.column("day")
    last = max(col(rows, "day"))
    assert day.max == last
    assert day.latest == datetime(last.year, last.month, last.day, tzinfo=UTC)
    assert day.freshness_hours == pytest.approx((AS_OF - day.latest).total_seconds() / 3600)
    assert day.quantiles["p50"] == quantile_disc(col(rows, "day"), 0.5)
    assert prof.column("amount").latest is None


def test_naive_as_of_is_utc(mixed):
    con, _ = mixed
    a = profile_table(con, "mixed", dataset="m", as_of=AS_OF.replace(tzinfo=None))
    b = profile_table(con, "mixed", dataset="m", as_of=AS_OF)
    assert a.column("created").freshness_hours == b.column("created").freshness_hours


def test_boolean_column(mixed):
    con, rows = mixed
    c = profile_table(con, "mixed", dataset="m").column("flag")
    vals = [v for v in col(rows, "flag") if v is not None]
    assert c.type == "BOOLEAN"
    assert c.nulls == len(rows) - len(vals)
    assert c.distinct == len(set(vals))
    assert c.top_values == top(vals, 5)
    assert (c.min, c.max) == (min(vals), max(vals))
    assert c.mean is None and c.quantiles is None and c.patterns == {}


def test_duplicate_rows_and_keys(mixed):
    con, rows = mixed
    prof = profile_table(con, "mixed", dataset="m", key_columns=["acct", "region"])
    row_counts = Counter(tuple(sorted(r.items())) for r in rows)
    assert prof.duplicate_rows == sum(n - 1 for n in row_counts.values())
    assert prof.duplicate_rows > 0
    keys = [(r["acct"], r["region"]) for r in rows]
    complete = Counter(k for k in keys if None not in k)
    assert prof.duplicate_keys == sum(n - 1 for n in complete.values() if n > 1)
    assert prof.null_keys == sum(1 for k in keys if None in k)
    assert prof.key_columns == ("acct", "region")

    single = profile_table(con, "mixed", dataset="m", key_columns=["id"])
    ids = Counter(r["id"] for r in rows)
    assert single.duplicate_keys == sum(n - 1 for n in ids.values())
    assert single.null_keys == 0
    assert profile_table(con, "mixed", dataset="m").duplicate_keys is None


def test_missing_table_and_key_column_raise(mixed):
    con, _ = mixed
    with pytest.raises(UnknownObject):
        profile_table(con, "no such table", dataset="x")
    with pytest.raises(UnknownObject):
        profile_table(con, "mixed", dataset="x", key_columns=["nope"])


def test_zero_row_table():
    con = duckdb.connect()
    con.execute("CREATE TABLE empty_t (a INTEGER, b VARCHAR, c TIMESTAMP, d BOOLEAN, e INT[])")
    prof = profile_table(con, "empty_t", dataset="e", key_columns=["a"])
    assert prof.rows == 0 and prof.duplicate_rows == 0
    assert prof.duplicate_keys == 0 and prof.null_keys == 0
    for c in prof.columns:
        assert (c.rows, c.nulls, c.empty, c.distinct) == (0, 0, 0, 0)
        assert c.min is None and c.max is None and c.top_values == ()
        assert c.null_share == 0.0 and c.latest is None and c.quantiles is None


def test_awkward_names_nested_null_and_wide_columns():
    con = duckdb.connect()
    n = 60
    table = 'odd "table" ñame'
    con.execute(
        f"""
        CREATE TABLE {P.quote_ident(table)} AS
        SELECT i AS "col with space",
               'v' || (i % 4) AS "quote""d",
               i % 3 AS "ünïcødé",
               NULL AS "all null",
               CAST(NULL AS VARCHAR) AS "null text",
               [i, i % 2] AS "list col",
               {{'a': i % 5, 'b': 'x'}} AS "struct col",
               repeat(chr(CAST(65 + (i % 2) AS INTEGER)), 100000) AS wide
        FROM range({n}) t(i)
        """
    )
    prof = profile_table(con, table, dataset="odd", key_columns=['quote"d'])
    assert [c.name for c in prof.columns] == [
        "col with space", 'quote"d', "ünïcødé", "all null", "null text", "list col",
        "struct col", "wide",
    ]  # fmt: skip
    assert prof.column("col with space").distinct == n
    assert prof.column('quote"d').top_values == top([f"v{i % 4}" for i in range(n)], 5)
    assert prof.duplicate_keys == n - 4
    for name in ("all null", "null text"):
        c = prof.column(name)
        assert c.nulls == n and c.distinct == 0 and c.top_values == ()
        assert c.min is None and c.mean is None
    lst = prof.column("list col")
    assert lst.distinct == n and lst.top_values == () and lst.min is None
    st = prof.column("struct col")
    assert st.distinct == 5 and st.nulls == 0 and st.quantiles is None
    wide = prof.column("wide")
    assert wide.min_length == wide.max_length == 100000
    assert len(wide.min) == MAX_VALUE_CHARS and wide.min.endswith("…")
    assert wide.min.startswith("AAA") and wide.max.startswith("BBB")
    assert [n_ for _, n_ in wide.top_values] == [n // 2, n // 2]
    assert all(len(v) == MAX_VALUE_CHARS for v, _ in wide.top_values)


def test_schema_qualified_and_prequoted_names(mixed):
    con, rows = mixed
    con.execute("CREATE SCHEMA IF NOT EXISTS s2")
    con.execute('CREATE OR REPLACE TABLE s2."run 1__mixed" AS SELECT * FROM mixed')
    assert profile_table(con, 's2."run 1__mixed"', dataset="m").rows == len(rows)
    con.execute("CREATE OR REPLACE TABLE s2.plain AS SELECT * FROM mixed LIMIT 10")
    assert profile_table(con, "s2.plain", dataset="m").rows == 10


def test_high_cardinality_path(mixed, monkeypatch):
    """Force the >EXACT_ROWS code path on small data: approximate distinct and quantiles,
    sampled top-value candidates with exact counts, row-level pattern counts."""
    con, rows = mixed
    monkeypatch.setattr(P, "EXACT_ROWS", 100)
    monkeypatch.setattr(P, "GROUPBY_MAX_DISTINCT", 8)
    monkeypatch.setattr(P, "QUANTILE_EXACT_ROWS", 100)
    prof = profile_table(con, "mixed", dataset="m", as_of=AS_OF)

    ids = col(rows, "id")
    c = prof.column("id")
    assert c.distinct == pytest.approx(len(set(ids)), rel=0.1)
    counts = Counter(ids)
    for value, n in c.top_values:
        assert counts[value] == n and n > 1  # exact counts; singletons are not reported
    assert c.quantiles is not None
    qs = list(c.quantiles.values())
    assert qs == sorted(qs) and min(ids) <= qs[0] and qs[-1] <= max(ids)

    contact = [v for v in col(rows, "contact") if v is not None]
    expected = {k: sum(1 for v in contact if k in PATTERN_VALUES[v]) for k in P.PATTERN_CLASSES}
    assert prof.column("contact").patterns == expected  # 22 distinct > 8: row-level pass
    assert prof.column("region").distinct == 2  # low cardinality stays exact
    assert prof.duplicate_rows == sum(
        n - 1 for n in Counter(tuple(sorted(r.items())) for r in rows).values()
    )


def test_dominant_value_found_by_sampled_top_values(monkeypatch):
    """A placeholder repeated in a high-cardinality column is reported with its exact count."""
    con = duckdb.connect()
    vals = [f"user{i}@example.com" for i in range(3000)] + ["n/a"] * 400 + ["x@y.org"] * 2
    random.Random(3).shuffle(vals)
    _load(con, "emails", [{"e": v} for v in vals], pa.schema([("e", pa.string())]))
    monkeypatch.setattr(P, "EXACT_ROWS", 100)
    monkeypatch.setattr(P, "GROUPBY_MAX_DISTINCT", 10)
    monkeypatch.setattr(P, "TOPK_SAMPLE_ROWS", 1000)
    c = profile_table(con, "emails", dataset="e").column("e")
    assert c.top_values[0] == ("n/a", 400)
    assert c.patterns["email"] == 3002
