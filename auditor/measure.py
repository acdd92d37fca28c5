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

from auditor.models import NearDuplicateSummary
from auditor.sqlident import quote_ident

# Words dropped when comparing entity names: "Acme Corp." and "ACME Corporation" are one firm,
# and so are "Initech GmbH" and "Initech Deutschland GmbH" (a country qualifier).
LEGAL_SUFFIXES = (
    "inc", "incorporated", "corp", "corporation", "co", "company", "ltd", "limited", "llc",
    "plc", "gmbh", "ag", "sa", "sas", "srl", "bv", "nv", "oy", "ab", "kg", "group", "the",
    "holding", "holdings",
)
COUNTRY_WORDS = (
    "deutschland", "germany", "france", "uk", "usa", "us", "america", "espana", "spain",
    "italia", "italy", "nederland", "netherlands", "schweiz", "suisse", "switzerland",
    "austria", "osterreich", "international", "europe", "emea", "global",
)
# Spelling variants ("Confectionery" / "Confectionary") within a block of names that share
# their first four characters: edit distance at most 10% of the longer normalised name.
# (Jaro-Winkler was tried first: its prefix bonus pairs "Copperfield Care" with
# "Copperfield Market".)
FUZZY_SIMILARITY = 0.90
FUZZY_MAX_KEYS = 200_000


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
    """SQL that folds case, accents, punctuation, legal suffixes and country words out."""
    drop = "|".join(LEGAL_SUFFIXES + COUNTRY_WORDS)
    expr = f"lower(strip_accents(CAST({quote_ident(col)} AS VARCHAR)))"
    expr = f"replace({expr}, '.', '')"  # "G.m.b.H." -> "gmbh", "B.V." -> "bv"
    expr = f"regexp_replace({expr}, '[^a-z0-9]+', ' ', 'g')"
    expr = f"regexp_replace(' ' || {expr} || ' ', ' ({drop}) ', ' ', 'g')"
    # Applied twice: RE2 has no lookahead, so adjacent words ("co ltd") need a second pass.
    expr = f"regexp_replace({expr}, ' ({drop}) ', ' ', 'g')"
    return f"trim(regexp_replace({expr}, '\\s+', ' ', 'g'))"


def near_duplicates(con: duckdb.DuckDBPyConnection, table: str, dataset: str,
                    columns: Sequence[str], examples: int = 5) -> NearDuplicateSummary:
    """Rows that name the same entity once case, punctuation, legal suffixes and country
    words are ignored, plus spelling variants (edit distance) among names sharing a prefix.

    Extra rows = rows beyond the first in each cluster of equivalent names.
    """
    key = " || '|' || ".join(f"coalesce({normalised_name_sql(c)}, '')" for c in columns)
    originals = "concat_ws(' / ', " + ", ".join(quote_ident(c) for c in columns) + ")"
    not_empty = " AND ".join(f"{quote_ident(c)} IS NOT NULL" for c in columns)
    sql = f"""
        SELECT {key} AS k, count(*) AS c, list(DISTINCT {originals} ORDER BY {originals}) AS v
        FROM {quote_ident(table)} WHERE {not_empty} GROUP BY 1 HAVING k <> ''"""
    groups = {k: (int(c), list(v)) for k, c, v in con.execute(sql).fetchall()}
    parent = {k: k for k in groups}

    def find(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    if 1 < len(groups) <= FUZZY_MAX_KEYS:
        keys = duckdb.connect()
        keys.execute("CREATE TABLE k (k VARCHAR)")
        keys.executemany("INSERT INTO k VALUES (?)", [[k] for k in groups])
        edges = keys.execute(f"""
            SELECT a.k, b.k FROM k a JOIN k b
              ON left(a.k, 4) = left(b.k, 4) AND a.k < b.k
             AND abs(length(a.k) - length(b.k)) <= 3
            WHERE 1 - levenshtein(a.k, b.k) / greatest(length(a.k), length(b.k))
                  >= {FUZZY_SIMILARITY}""").fetchall()
        keys.close()
        for a, b in edges:
            parent[find(a)] = find(b)
    clusters: dict[str, list[str]] = {}
    for k in groups:
        clusters.setdefault(find(k), []).append(k)
    dup = [ks for ks in clusters.values() if sum(groups[k][0] for k in ks) > 1]
    extra = sum(sum(groups[k][0] for k in ks) - 1 for ks in dup)
    variants = sorted((sorted({v for k in ks for v in groups[k][1]}) for ks in dup),
                      key=lambda v: (-len(v), v))
    rows = _scalar(con, f"SELECT count(*) FROM {quote_ident(table)}")
    shown = tuple(tuple(v) for v in variants if len(v) > 1)[:examples]
    return NearDuplicateSummary(tuple(columns), int(rows or 0), extra, len(dup), shown,
                                query_hash(sql))


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
                   SELECT 1 FROM {quote_ident(right_table)} r
                   WHERE CAST(r.{rc} AS VARCHAR) = CAST(l.{lc} AS VARCHAR)))
        FROM {quote_ident(left_table)} l"""
    total, nulls, matched = con.execute(sql).fetchone() or (0, 0, 0)
    orphans = con.execute(f"""
        SELECT DISTINCT CAST(l.{lc} AS VARCHAR) AS v FROM {quote_ident(left_table)} l
        WHERE l.{lc} IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM {quote_ident(right_table)} r
            WHERE CAST(r.{rc} AS VARCHAR) = CAST(l.{lc} AS VARCHAR))
        ORDER BY v LIMIT 5""").fetchall()
    return JoinMeasure(left, right, int(total), int(nulls), int(matched), min_match,
                       tuple(o[0] for o in orphans), query_hash(sql))


def record_completeness(con: duckdb.DuckDBPyConnection, table: str, dataset: str,
                        columns: Sequence[str]) -> RecordCompleteness:
    """Rows where every required column holds a value (null and blank text count as missing)."""
    conds = " AND ".join(
        f"({quote_ident(c)} IS NOT NULL AND trim(CAST({quote_ident(c)} AS VARCHAR)) <> '')"
        for c in columns)
    sql = f"SELECT count(*), count(*) FILTER (WHERE {conds}) FROM {quote_ident(table)}"
    rows, complete = con.execute(sql).fetchone() or (0, 0)
    return RecordCompleteness(dataset, tuple(columns), int(rows), int(complete))


def label_stats(con: duckdb.DuckDBPyConnection, table: str, column: str, *, ref: str,
                positive: Any, population: str | None) -> LabelMeasure:
    """Label completeness and class counts inside the declared population."""
    # config validation guarantees one expression (duckdb.SQLExpression), never a statement
    where = f"WHERE ({population})" if population else ""
    col = quote_ident(column)
    sql = f"""SELECT CAST({col} AS VARCHAR) AS v, count(*) FROM {quote_ident(table)} {where}
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
        FROM {quote_ident(table)}""").fetchone() or (0, 0, 0)
    dups = _scalar(con, f"""SELECT coalesce(sum(c - 1), 0) FROM (
        SELECT count(*) AS c FROM {quote_ident(table)} WHERE length({txt}) >= 5 GROUP BY {txt})""")
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
    sql = (f"SELECT {parts} FROM {quote_ident(table)} "
           f"WHERE {quote_ident(label_col)} IS NOT NULL")
    row = con.execute(sql, params).fetchone() or ()
    return [Correlation(ref, float(v)) for (ref, _), v in zip(features, row, strict=True)
            if v is not None]
