"""Stage 2c: use-case measurements in SQL over the stored samples.

Scoring is a pure function; everything it needs from the data beyond profiles and GX results
(join match rates, record completeness, label statistics, near-duplicates, text usability) is
measured here first, as plain records. Each measurement keeps the SQL it ran (hashed) so the
report can point at the exact evidence.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from auditor.store import quote_ident

# Words dropped when comparing entity names: "Acme Corp." and "ACME Corporation" are one firm.
LEGAL_SUFFIXES = (
    "inc", "incorporated", "corp", "corporation", "co", "company", "ltd", "limited", "llc",
    "plc", "gmbh", "ag", "sa", "sas", "srl", "bv", "nv", "oy", "ab", "kg", "group", "the",
)


def query_hash(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class JoinMeasure:
    left: str
    right: str
    child_rows: int
    null_children: int
    matched: int
    min_match: float
    orphan_examples: tuple[str, ...]
    query_hash: str

    @property
    def match_share(self) -> float:
        return self.matched / self.child_rows if self.child_rows else 0.0


@dataclass(frozen=True, slots=True)
class NearDuplicates:
    dataset: str
    columns: tuple[str, ...]
    rows: int
    extra_rows: int
    groups: int
    examples: tuple[tuple[str, ...], ...]
    query_hash: str

    @property
    def share(self) -> float:
        return self.extra_rows / self.rows if self.rows else 0.0


@dataclass(frozen=True, slots=True)
class LabelMeasure:
    column: str
    rows: int
    labelled: int
    positives: int | None
    class_counts: dict[str, int]
    population: str | None
    query_hash: str


@dataclass(frozen=True, slots=True)
class TextMeasure:
    column: str
    docs: int
    in_window: int
    near_empty: int
    duplicate_docs: int
    min_chars: int
    max_chars: int


@dataclass(frozen=True, slots=True)
class RecordCompleteness:
    dataset: str
    columns: tuple[str, ...]
    rows: int
    complete: int


@dataclass(frozen=True, slots=True)
class Correlation:
    feature: str
    value: float


@dataclass(slots=True)
class UseCaseMeasures:
    """Everything measured for one use case; consumed by :func:`auditor.score.score_use_case`."""

    joins: list[JoinMeasure] = field(default_factory=list)
    record_completeness: list[RecordCompleteness] = field(default_factory=list)
    label: LabelMeasure | None = None
    texts: list[TextMeasure] = field(default_factory=list)
    correlations: list[Correlation] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> Any:
    row = con.execute(sql, list(params)).fetchone()
    return row[0] if row else None


def normalised_name_sql(col: str) -> str:
    """SQL that folds case, accents, punctuation and legal suffixes out of a name."""
    suffixes = "|".join(LEGAL_SUFFIXES)
    expr = f"lower(strip_accents(CAST({quote_ident(col)} AS VARCHAR)))"
    expr = f"regexp_replace({expr}, '[^a-z0-9]+', ' ', 'g')"
    expr = f"regexp_replace(' ' || {expr} || ' ', ' ({suffixes}) ', ' ', 'g')"
    # Applied twice: RE2 has no lookahead, so adjacent suffixes ("co ltd") need a second pass.
    expr = f"regexp_replace({expr}, ' ({suffixes}) ', ' ', 'g')"
    return f"trim(regexp_replace({expr}, '\\s+', ' ', 'g'))"


def near_duplicates(con: duckdb.DuckDBPyConnection, table: str, dataset: str,
                    columns: Sequence[str], examples: int = 5) -> NearDuplicates:
    """Rows that name the same entity once case, punctuation and legal suffixes are ignored."""
    keys = ", ".join(f"{normalised_name_sql(c)} AS k{i}" for i, c in enumerate(columns))
    originals = ", ".join(quote_ident(c) for c in columns)
    key_cols = ", ".join(f"k{i}" for i in range(len(columns)))
    not_empty = " AND ".join(f"k{i} <> ''" for i in range(len(columns)))
    sql = f"""
        WITH n AS (SELECT {keys}, {originals} FROM {table}),
        g AS (SELECT {key_cols}, count(*) AS c,
                     list(DISTINCT concat_ws(' / ', {originals})) AS variants
              FROM n WHERE {not_empty} GROUP BY ALL HAVING count(*) > 1)
        SELECT coalesce(sum(c - 1), 0), count(*),
               list(variants ORDER BY c DESC, variants) FILTER (WHERE len(variants) > 1)
        FROM g"""
    extra, groups, variants = con.execute(sql).fetchone() or (0, 0, None)
    rows = _scalar(con, f"SELECT count(*) FROM {table}")
    shown = tuple(tuple(v) for v in (variants or [])[:examples])
    return NearDuplicates(dataset, tuple(columns), int(rows or 0), int(extra or 0),
                          int(groups or 0), shown, query_hash(sql))


def join_match(con: duckdb.DuckDBPyConnection, left_table: str, left_col: str,
               right_table: str, right_col: str, *, left: str, right: str,
               min_match: float) -> JoinMeasure:
    """Share of non-null child keys that find a parent (anti-join), with orphan examples.

    Null child keys count as unmatched: an invoice with no customer cannot be linked either.
    """
    lc, rc = quote_ident(left_col), quote_ident(right_col)
    sql = f"""
        SELECT count(*), count(*) FILTER (WHERE l.{lc} IS NULL),
               count(*) FILTER (WHERE l.{lc} IS NOT NULL AND EXISTS (
                   SELECT 1 FROM {right_table} r
                   WHERE CAST(r.{rc} AS VARCHAR) = CAST(l.{lc} AS VARCHAR)))
        FROM {left_table} l"""
    total, nulls, matched = con.execute(sql).fetchone() or (0, 0, 0)
    orphans = con.execute(f"""
        SELECT DISTINCT CAST(l.{lc} AS VARCHAR) AS v FROM {left_table} l
        WHERE l.{lc} IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM {right_table} r WHERE CAST(r.{rc} AS VARCHAR) = CAST(l.{lc} AS VARCHAR))
        ORDER BY v LIMIT 5""").fetchall()
    return JoinMeasure(left, right, int(total), int(nulls), int(matched), min_match,
                       tuple(o[0] for o in orphans), query_hash(sql))


def record_completeness(con: duckdb.DuckDBPyConnection, table: str, dataset: str,
                        columns: Sequence[str]) -> RecordCompleteness:
    """Rows where every required column holds a value (null and blank text count as missing)."""
    conds = " AND ".join(
        f"({quote_ident(c)} IS NOT NULL AND trim(CAST({quote_ident(c)} AS VARCHAR)) <> '')"
        for c in columns)
    rows, complete = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {conds}) FROM {table}").fetchone() or (0, 0)
    return RecordCompleteness(dataset, tuple(columns), int(rows), int(complete))


def label_stats(con: duckdb.DuckDBPyConnection, table: str, column: str, *, ref: str,
                positive: Any, population: str | None) -> LabelMeasure:
    """Label completeness and class counts inside the declared population."""
    where = f"WHERE {population}" if population else ""
    col = quote_ident(column)
    sql = f"""SELECT CAST({col} AS VARCHAR) AS v, count(*) FROM {table} {where}
              GROUP BY 1 ORDER BY 2 DESC"""
    counts = con.execute(sql).fetchall()
    class_counts = {str(v): int(c) for v, c in counts if v is not None and str(v).strip()}
    rows = sum(int(c) for _, c in counts)
    labelled = sum(class_counts.values())
    pos_key = str(positive).lower()
    positives = sum(c for v, c in class_counts.items() if v.lower() == pos_key)
    return LabelMeasure(ref, rows, labelled, positives, class_counts, population, query_hash(sql))


def text_usability(con: duckdb.DuckDBPyConnection, table: str, column: str, *, ref: str,
                   min_chars: int, max_chars: int) -> TextMeasure:
    """Documents of useful length, near-empty documents and exact duplicate documents."""
    col = quote_ident(column)
    txt = f"trim(CAST({col} AS VARCHAR))"
    docs, in_window, near_empty = con.execute(f"""
        SELECT count(*),
               count(*) FILTER (WHERE length({txt}) BETWEEN {int(min_chars)} AND {int(max_chars)}),
               count(*) FILTER (WHERE {col} IS NULL OR length({txt}) < 5)
        FROM {table}""").fetchone() or (0, 0, 0)
    dups = _scalar(con, f"""SELECT coalesce(sum(c - 1), 0) FROM (
        SELECT count(*) AS c FROM {table} WHERE length({txt}) >= 5 GROUP BY {txt})""")
    return TextMeasure(ref, int(docs), int(in_window), int(near_empty), int(dups or 0),
                       min_chars, max_chars)


def label_correlations(con: duckdb.DuckDBPyConnection, table: str, label_col: str,
                       positive: Any, features: Sequence[tuple[str, str]]) -> list[Correlation]:
    """|Pearson r| between each numeric feature in the label's table and the 0/1 label."""
    if not features:
        return []
    y = (f"CASE WHEN lower(CAST({quote_ident(label_col)} AS VARCHAR)) = "
         f"lower(CAST(? AS VARCHAR)) THEN 1.0 ELSE 0.0 END")
    parts = ", ".join(f"abs(corr(TRY_CAST({quote_ident(col)} AS DOUBLE), {y}))"
                      for _, col in features)
    params = [str(positive)] * len(features)
    row = con.execute(f"SELECT {parts} FROM {table} WHERE {quote_ident(label_col)} IS NOT NULL",
                      params).fetchone() or ()
    return [Correlation(ref, float(v)) for (ref, _), v in zip(features, row, strict=True)
            if v is not None]
