"""Candidate expectations for numbers, dates and timestamps, and rules across columns.

Part of ``auditor suggest`` (see :mod:`auditor.suggest_rules` for the entry point): robust
ranges, the sign rule, freshness judged against a column's own cadence, temporal order
between date columns and compound keys that chance does not explain.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from auditor.models import Finding
from auditor.suggest_candidates import (
    MAX_COMPOUND_COLUMNS,
    MIN_UNIQUE_VALUES,
    Candidate,
    ColumnContext,
    FindingSpec,
    Settings,
    finding,
    plain,
)

# --- Numbers ------------------------------------------------------------------------------


def negatives(con: duckdb.DuckDBPyConnection, ref: str,
              cols: list[ColumnContext]) -> dict[str, int]:
    """Count of negative values per numeric column, in one scan (the profile has only min)."""
    if not cols:
        return {}
    exprs = ", ".join(f"count(*) FILTER (WHERE {c.ref} < 0)" for c in cols)
    row = con.execute(f"SELECT {exprs} FROM {ref}").fetchone() or ()
    return {c.name: int(n) for c, n in zip(cols, row, strict=True)}


def _nice(x: float, up: bool) -> float:
    """Round outward to 3 significant digits, so bounds read well and still include x."""
    if x == 0 or not math.isfinite(x):
        return x
    exp = math.floor(math.log10(abs(x))) - 2
    k = math.ceil(x / 10.0 ** exp) if up else math.floor(x / 10.0 ** exp)
    return float(k * 10 ** exp) if exp >= 0 else round(k * 10.0 ** exp, -exp)


def numeric_rules(ctx: ColumnContext, settings: Settings, negatives: int) -> list[Candidate]:
    """The sign rule (Deequ's NonNegativeNumbersRule, or a finding) and a robust range."""
    p = ctx.profile
    nn = ctx.non_null
    if nn == 0 or p.min is None:
        return []
    out: list[Candidate] = []
    nonneg = negatives == 0
    if nonneg or negatives / nn <= 1 - settings.min_support:
        out.append(Candidate(
            "expect_column_values_to_be_between",
            {"column": ctx.name, "min_value": 0 if ctx.info.kind == "int" else 0.0},
            "non_negative", "no negative value in the sample" if nonneg else
            "values are non-negative apart from a few", 0.85, "strict", ctx.name,
            _figures(ctx, {"min": plain(p.min), "negatives": negatives}),
            finding=FindingSpec("SUG007", "major", "{pct} of values ({count} of {n}) are "
                                "negative in a column that is otherwise >= 0",
                                "check the sign convention (credit notes?) at the source")))
    q = p.quantiles or {}
    if ctx.categorical or q.get("p01") is None or q.get("p99") is None:
        return out
    p01, p99 = float(q["p01"]), float(q["p99"])
    span = (p99 - p01) or max(abs(p01), 1.0)
    lo, hi = p01 - settings.range_margin * span, p99 + settings.range_margin * span
    if nonneg:
        lo = max(lo, 0.0)
    if ctx.info.kind == "int":
        bounds: tuple[float, float] = (int(math.floor(lo)), int(math.ceil(hi)))
    else:
        bounds = (_nice(lo, up=False), _nice(hi, up=True))
    out.append(Candidate(
        "expect_column_values_to_be_between",
        {"column": ctx.name, "min_value": bounds[0], "max_value": bounds[1]}, "robust_range",
        f"1st-99th percentile widened by {settings.range_margin:g} x their spread (outliers "
        "do not move the bounds)", 0.7, "tolerant", ctx.name,
        _figures(ctx, {"p01": p01, "p99": p99, "min": plain(p.min), "max": plain(p.max)})))
    return out


def _figures(ctx: ColumnContext, figures: dict[str, Any]) -> dict[str, Any]:
    """Evidence for the suite's meta; none from personal data (a max phone number or birth
    date is itself personal data), only the count of values checked is added later."""
    return {} if ctx.pii else figures


# --- Dates and timestamps -----------------------------------------------------------------


def _iso(v: datetime | date, kind: str) -> str:
    """A bound as GX wants it: ``YYYY-MM-DD`` for DATE, ``YYYY-MM-DDTHH:MM:SS`` otherwise."""
    if kind == "date":
        return (v.date() if isinstance(v, datetime) else v).isoformat()
    if not isinstance(v, datetime):
        v = datetime(v.year, v.month, v.day)
    return v.replace(tzinfo=None, microsecond=0).isoformat()


def temporal_rules(con: duckdb.DuckDBPyConnection, ref: str, ctx: ColumnContext,
                   settings: Settings, as_of: datetime, dataset: str,
                   findings: list[Finding]) -> list[Candidate]:
    """A robust date range (bounds as ISO strings: GX coerces them to date/datetime) and the
    freshness rule or stale finding."""
    p = ctx.profile
    q = p.quantiles or {}
    out: list[Candidate] = []
    kind = ctx.info.kind
    if q.get("p01") is not None and q.get("p99") is not None:
        p01, p99 = _as_dt(q["p01"]), _as_dt(q["p99"])
        span = (p99 - p01) or timedelta(days=1)
        lo = p01 - span * settings.range_margin
        hi = p99 + span * settings.range_margin + (timedelta(days=1) if kind == "date"
                                                    else timedelta(seconds=1))
        out.append(Candidate(
            "expect_column_values_to_be_between",
            {"column": ctx.name, "min_value": _iso(lo, kind), "max_value": _iso(hi, kind)},
            "robust_range", f"1st-99th percentile widened by {settings.range_margin:g} x "
            "their spread", 0.65, "tolerant", ctx.name,
            _figures(ctx, {"p01": plain(q["p01"]), "p99": plain(q["p99"]),
                           "min": plain(p.min), "max": plain(p.max)})))
    fresh = _freshness(con, ref, ctx, settings, as_of, dataset, findings)
    return out + fresh


def _as_dt(v: Any) -> datetime:
    """A quantile (date or datetime) as a naive datetime, for bound arithmetic."""
    if isinstance(v, datetime):
        return v.replace(tzinfo=None)
    return datetime(v.year, v.month, v.day)


#: At most this many column pairs get the (table-scanning) distinct count.
MAX_COMPOUND_CHECKS = 10
#: Newest distinct values whose gaps define a column's cadence.
CADENCE_VALUES = 50


def _freshness(con: duckdb.DuckDBPyConnection, ref: str, ctx: ColumnContext,
               settings: Settings, as_of: datetime, dataset: str,
               findings: list[Finding]) -> list[Candidate]:
    """Stale finding or a max-timestamp rule, judged against the column's own cadence.

    The cadence is the largest gap between consecutive values among the newest
    :data:`CADENCE_VALUES` distinct ones: a daily load has gaps of 24 h, busy event streams
    minutes. The newest value may be up to ``freshness_factor`` cadences old; older is stale.
    Future-dated columns (due dates, planned close dates) are not load timestamps and skipped.
    """
    latest = ctx.profile.latest
    if latest is None or ctx.pii:  # a birth date is personal data, not a load timestamp
        return []
    now = as_of.astimezone(UTC) if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    if latest > now + timedelta(hours=1):
        return []
    gap = con.execute(
        f"SELECT max(g) FROM (SELECT epoch(CAST(v AS TIMESTAMP) - CAST(lag(v) OVER (ORDER BY v)"
        f" AS TIMESTAMP)) AS g FROM (SELECT DISTINCT {ctx.ref} AS v FROM {ref} "
        f"WHERE {ctx.ref} IS NOT NULL ORDER BY v DESC LIMIT {CADENCE_VALUES}))").fetchone()
    if not gap or gap[0] is None:
        return []
    cadence_h = max(float(gap[0]) / 3600.0, 1.0)
    allowed_h = settings.freshness_factor * cadence_h
    age_h = (now - latest).total_seconds() / 3600.0
    ev = {"newest": latest.replace(tzinfo=None).isoformat(), "age_hours": round(age_h, 1),
          "cadence_hours": round(cadence_h, 1), "max_age_hours": round(allowed_h, 1),
          "as_of": now.replace(tzinfo=None).isoformat()}
    if age_h > allowed_h:
        findings.append(finding(
            "SUG010", "major", f"stale: the newest value is {age_h:.1f} h old although values "
            f"arrive every {cadence_h:.1f} h or faster (allowed {allowed_h:.0f} h)", dataset,
            ctx.name, "check the extract job: it stopped delivering", kind="stale", **ev))
        return []
    if not settings.freshness_rule:
        return []
    kind = ctx.info.kind
    lo = now.replace(tzinfo=None) - timedelta(hours=math.ceil(allowed_h))
    hi = now.replace(tzinfo=None) + timedelta(days=1)
    return [Candidate(
        "expect_column_max_to_be_between",
        {"column": ctx.name, "min_value": _iso(lo, kind), "max_value": _iso(hi, kind)},
        "freshness", f"newest value at most {allowed_h:.0f} h before as_of "
        f"({settings.freshness_factor:g} x the recent cadence); bounds are absolute, "
        "regenerate them for a later as_of", 0.6, "strict", ctx.name, ev)]


def temporal_order(con: duckdb.DuckDBPyConnection, ref: str, cols: list[ColumnContext],
                   settings: Settings) -> list[Candidate]:
    """``updated_at >= created_at``-style orders between same-typed date/time columns."""
    temporal = [c for c in cols if c.info.kind in ("date", "timestamp") and c.non_null]
    pairs = [(a, b) for a, b in itertools.combinations(temporal, 2)
             if a.info.kind == b.info.kind]
    if not pairs:
        return []
    exprs = []
    for a, b in pairs:
        both = f"{a.ref} IS NOT NULL AND {b.ref} IS NOT NULL"
        exprs += [f"count(*) FILTER (WHERE {both})",
                  f"count(*) FILTER (WHERE {both} AND {a.ref} >= {b.ref})",
                  f"count(*) FILTER (WHERE {both} AND {b.ref} >= {a.ref})"]
    row = con.execute(f"SELECT {', '.join(exprs)} FROM {ref}").fetchone() or ()
    out = []
    for i, (a, b) in enumerate(pairs):
        n, ab, ba = (int(x) for x in row[3 * i: 3 * i + 3])
        if n < MIN_UNIQUE_VALUES:
            continue
        hi, lo, s_hi, s_lo = (a, b, ab / n, ba / n) if ab >= ba else (b, a, ba / n, ab / n)
        if s_hi < settings.min_support or s_lo >= settings.min_support:
            continue
        out.append(Candidate(
            "expect_column_pair_values_a_to_be_greater_than_b",
            {"column_A": hi.name, "column_B": lo.name, "or_equal": True,
             "ignore_row_if": "either_value_is_missing"}, "temporal_order",
            f"{hi.name} is not earlier than {lo.name} in {max(ab, ba)} of {n} rows", 0.85,
            "strict",
            None, {"rows_compared": n, "in_order": max(ab, ba)},
            finding=FindingSpec("SUG014", "major", "{pct} of rows ({count} of {n}) have "
                                f"{hi.name} earlier than {lo.name}",
                                "check which timestamp is wrong")))
    return out


# --- Compound keys ------------------------------------------------------------------------


def compound_keys(con: duckdb.DuckDBPyConnection, ref: str, cols: list[ColumnContext],
                  rows: int, min_lambda: float, pk: Sequence[str]) -> list[Candidate]:
    """Column pairs unique in the sample *although chance would have repeated them*.

    Under independence, the expected number of row pairs sharing both values is
    ``pairs(a) * pairs(b) / C(n, 2)`` where ``pairs(x)`` counts row pairs sharing a value of
    ``x``. A pair is proposed only when that expectation is at least ``min_lambda`` (zero
    collisions then has probability about ``exp(-min_lambda)``); uniqueness that chance
    explains (a near-unique timestamp plus anything) is not a key.
    """
    cand = [c for c in cols
            if c.info.kind in ("string", "int", "date", "bool") and not c.free_text
            and c.profile.nulls == 0 and 1 < c.profile.distinct < rows
            and c.name not in pk][:MAX_COMPOUND_COLUMNS]
    if len(cand) < 2:
        return []
    exprs = ", ".join(f"(SELECT sum(n * (n - 1) / 2) FROM (SELECT count(*) AS n FROM {ref} "
                      f"GROUP BY {c.ref}))" for c in cand)
    pairs_of = dict(zip((c.name for c in cand),
                        (float(x or 0) for x in con.execute(f"SELECT {exprs}").fetchone() or ()),
                        strict=True))
    total_pairs = rows * (rows - 1) / 2
    scored = sorted(((pairs_of[a.name] * pairs_of[b.name] / total_pairs, i, a, b)
                     for i, (a, b) in enumerate(itertools.combinations(cand, 2))),
                    key=lambda t: (-t[0], t[1]))
    out = []
    for lam, _, a, b in [t for t in scored if t[0] >= min_lambda][:MAX_COMPOUND_CHECKS]:
        distinct = con.execute(
            f"SELECT count(*) FROM (SELECT DISTINCT {a.ref}, {b.ref} FROM {ref})").fetchone()
        if distinct and int(distinct[0]) == rows:
            out.append(Candidate(
                "expect_compound_columns_to_be_unique", {"column_list": [a.name, b.name]},
                "compound_key", f"({a.name}, {b.name}) never repeats although chance alone "
                f"would repeat it about {lam:.0f} times", 0.6, "strict", None,
                {"expected_chance_repeats": round(lam, 1), "rows": rows}))
    return out
