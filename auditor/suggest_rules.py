"""Candidate expectations for ``auditor suggest``: schema, completeness, keys and text.

:func:`generate` walks the columns of one sampled table and asks each rule family for
candidates (strict form plus a policy, see :mod:`auditor.suggest_candidates`) and for direct
findings. Numbers, dates and rules across columns live in :mod:`auditor.suggest_numeric`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb

from auditor import expectation_sql as xsql
from auditor import suggest_numeric as num
from auditor import suggest_patterns as pat
from auditor.models import Finding, ObjectMetadata, TableProfile
from auditor.suggest_candidates import (
    FREE_TEXT_SHARE,
    MAX_PATTERN_LENGTH,
    MIN_PROSE_LENGTH,
    MIN_RETAIN_COMPLETENESS,
    MIN_UNIQUE_VALUES,
    NUMERIC_KINDS,
    SHORT_TEXT_FACTOR,
    Candidate,
    ColumnContext,
    FindingSpec,
    Policy,
    Settings,
    declared_finding,
    finding,
    pct,
)

_ID_NAME = re.compile(r"(?:^|_)(?:id|key|code|number|no|nr|uuid|guid)$", re.IGNORECASE)
_SAFE_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SAFE_VALUE = re.compile(r"^[\w .-]*$")

# --- Entry point --------------------------------------------------------------------------


def generate(
    con: duckdb.DuckDBPyConnection,
    table: str,
    *,
    dataset: str,
    profile: TableProfile,
    metadata: ObjectMetadata | None,
    key: Sequence[str],
    pii: dict[str, tuple[str, ...]],
    settings: Settings,
    as_of: datetime,
) -> tuple[list[Candidate], list[Finding]]:
    """Candidates and direct findings for one sampled table (see module docstring)."""
    ref = xsql.quote_ident(table)
    infos = {c.name: c for c in xsql.describe_table(con, table)}
    schemas = {c.name: c for c in metadata.columns} if metadata else {}
    pk = tuple(key) or (metadata.primary_key if metadata else ())
    cols: list[ColumnContext] = []
    for p in profile.columns:
        ctx = ColumnContext(p, infos[p.name], schemas.get(p.name), pii.get(p.name),
                            declared_key=p.name in pk, sole_key=tuple(pk) == (p.name,))
        nn = ctx.non_null
        if nn and ctx.info.kind in ("string", "int"):
            ctx.categorical = (p.distinct <= settings.max_categories
                               and nn / max(p.distinct, 1) >= settings.min_per_category
                               and ctx.pii is None and not ctx.declared_key)
        if nn and ctx.info.kind == "string" and not ctx.categorical:
            ctx.free_text = p.patterns.get("free_text", 0) / nn >= FREE_TEXT_SHARE
        cols.append(ctx)

    cands: list[Candidate] = [Candidate(
        "expect_table_row_count_to_be_between", {"min_value": 1}, "non_empty",
        "an empty extract means the load failed, not that the data is clean", 1.0, "fact",
        evidence={"rows": profile.rows}, severity="critical")]
    findings: list[Finding] = []
    if profile.rows == 0:
        findings.append(finding(
            "SUG016", "major", "the sample has no rows: only the schema can be suggested",
            dataset, None, "check the source object and the sampling `where` filter",
            kind="empty_sample", n=0))
    if profile.duplicate_rows:
        share = profile.duplicate_rows / profile.rows
        findings.append(finding(
            "SUG006", "major", f"{profile.duplicate_rows} rows ({pct(share)}) are exact copies "
            "of another row", dataset, None, "remove repeated exports of the same record",
            kind="duplicate_rows", count=profile.duplicate_rows, n=profile.rows))

    inferred = types_inferred(metadata)
    lengths = _length_quantiles(con, ref, [c for c in cols if c.info.kind == "string"])
    negatives = num.negatives(con, ref, [c for c in cols if c.info.kind in NUMERIC_KINDS])
    for ctx in cols:
        cands += _schema_rules(ctx, inferred)
        cands += _completeness(con, ref, ctx, cols, settings, dataset, findings)
        cands += _uniqueness(ctx)
        if ctx.info.kind == "string":
            cands += _string_rules(con, ref, ctx, settings, dataset, lengths.get(ctx.name),
                                   findings)
        elif ctx.info.kind in NUMERIC_KINDS:
            if ctx.categorical:  # integer codes: a value set (no spelling variants)
                cands += _value_set(con, ref, ctx, dataset, findings)
            cands += num.numeric_rules(ctx, settings, negatives.get(ctx.name, 0))
        elif ctx.info.kind in ("date", "timestamp"):
            cands += num.temporal_rules(con, ref, ctx, settings, as_of, dataset, findings)
    if len(pk) > 1:
        cands.append(Candidate(
            "expect_compound_columns_to_be_unique", {"column_list": list(pk)}, "declared_key",
            f"({', '.join(pk)}) is the declared key", 1.0, "declared", severity="critical",
            finding=declared_finding("key values repeat")))
    cands += num.temporal_order(con, ref, cols, settings)
    if settings.compound_lambda is not None and profile.rows >= 50:
        cands += num.compound_keys(con, ref, cols, profile.rows, settings.compound_lambda, pk)
    return cands, findings


# --- Schema, completeness, uniqueness -----------------------------------------------------

_TYPE_LISTS: dict[str, list[str]] = {
    # any integer width (INTEGER reaches pandas as int32); integer columns with NULLs become
    # float64 (see auditor.validate), which is not a type change of the source
    "int": ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "Int64",
            "float64"],
    "float": ["float64", "Float64"],
    "float32": ["float32", "float64"],
    "decimal": ["float64", "Float64"],
    "timestamp": ["datetime64[us]", "datetime64[ns]", "datetime64[ms]", "datetime64[s]"],
    "date": ["date"],
}


#: Source formats whose column types are inferred from text by a sniffer (CSV, JSON, Excel):
#: one stray value changes a column's type, so a type rule is worth having (Deequ's
#: RetainTypeRule likewise applies to inferred types only). Typed sources declare theirs.
TEXT_FORMATS = (".csv", ".tsv", ".txt", ".json", ".jsonl", ".ndjson", ".xlsx", ".xls")


def types_inferred(metadata: ObjectMetadata | None) -> bool:
    """Whether the column types were inferred from text (unknown counts as inferred)."""
    if metadata is None or not metadata.location:
        return True
    return metadata.location.lower().endswith(TEXT_FORMATS)


def _schema_rules(ctx: ColumnContext, inferred: bool) -> list[Candidate]:
    """Existence (always) and a pandas type list (only where types were inferred)."""
    out = [Candidate("expect_column_to_exist", {"column": ctx.name}, "column_exists",
                     "the column is part of the extract's schema", 1.0, "fact", ctx.name,
                     {"type": ctx.profile.type}, severity="critical")]
    if not inferred:
        return out
    types = _TYPE_LISTS.get(ctx.info.kind)
    if ctx.info.kind == "bool" and ctx.profile.nulls == 0:
        types = ["bool"]
    if types:
        out.append(Candidate(
            "expect_column_values_to_be_in_type_list", {"column": ctx.name, "type_list": types},
            "type", f"{ctx.profile.type} in the source; a text export that turns it into "
            "strings (one bad value does) breaks every numeric or date rule downstream", 0.95,
            "fact", ctx.name, {"source_type": ctx.profile.type}))
    return out


def _completeness(con: duckdb.DuckDBPyConnection, ref: str, ctx: ColumnContext,
                  cols: list[ColumnContext], settings: Settings, dataset: str,
                  findings: list[Finding]) -> list[Candidate]:
    """Declared NOT NULL, complete-if-complete, retained completeness or a conditional rule."""
    p = ctx.profile
    declared = ctx.declared_key or (ctx.schema is not None and (
        ctx.schema.nullable is False or ctx.schema.primary_key))
    kwargs = {"column": ctx.name}
    ev = {"rows": p.rows, "nulls": p.nulls, "non_null_share": round(1 - p.null_share, 4)}
    if declared:
        why = "declared NOT NULL" if ctx.schema is not None and ctx.schema.nullable is False \
            else "declared key column"
        return [Candidate("expect_column_values_to_not_be_null", kwargs, "declared_not_null",
                          why, 1.0, "declared", ctx.name, ev, "critical",
                          declared_finding("nulls"))]
    if p.rows == 0 or 1 - p.null_share <= MIN_RETAIN_COMPLETENESS:
        return []
    if p.nulls == 0:
        return [Candidate("expect_column_values_to_not_be_null", kwargs, "complete",
                          "no null in the sample", 0.9, "completeness", ctx.name, ev)]
    explained = _explained_nulls(con, ref, ctx, cols)
    out = [Candidate("expect_column_values_to_not_be_null", kwargs, "retain_completeness",
                     "nulls occur; the non-null share must not fall below what the sample "
                     "supports", 0.85, "completeness", ctx.name, ev)]
    if explained is not None:
        group_col, null_when, set_when = explained
        out[0].evidence["nulls_explained_by"] = {"column": group_col, "null_when": null_when}
        out[0].reason = (f"nulls occur exactly when {group_col} is one of "
                         f"{', '.join(map(str, null_when))} (structural, not a defect)")
        if _SAFE_IDENT.match(group_col) and all(_SAFE_VALUE.match(str(v)) for v in set_when):
            cond = f"{group_col} in {_py_list(set_when)}"
            out.append(Candidate(
                "expect_column_values_to_not_be_null",
                {"column": ctx.name, "row_condition": cond, "condition_parser": "pandas"},
                "conditional_not_null", f"always set when {group_col} is one of "
                f"{', '.join(map(str, set_when))}", 0.8, "strict", ctx.name,
                {"group_column": group_col, "set_when": set_when}))
    elif 1 - p.null_share >= settings.min_support:
        out[0].finding = FindingSpec(
            "SUG001", "major", "{pct} of rows ({count} of {n}) have no value in a column that "
            "is otherwise filled", "fill the gaps at the source, or declare the column optional")
    return out


def _py_list(values: Sequence[Any]) -> str:
    """A Python list literal for a pandas ``row_condition`` (values were checked safe)."""
    return "[" + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in values) + "]"


def _explained_nulls(con: duckdb.DuckDBPyConnection, ref: str, ctx: ColumnContext,
                     cols: list[ColumnContext]) -> tuple[str, list[Any], list[Any]] | None:
    """A categorical column whose values split rows into all-null and all-set groups.

    ``paid_date`` is null exactly when ``status`` is open/overdue/cancelled: those nulls are
    structure, not defects. At least 10 nulls and 3 rows per all-null group are required so a
    tiny group cannot "explain" random nulls by chance.
    """
    if ctx.profile.nulls < 10:
        return None
    groups = [g for g in cols if g is not ctx and g.categorical and not g.profile.nulls]
    if not groups:
        return None
    # one scan for every candidate grouping column (GROUPING SETS), not one per column
    refs = [g.ref for g in groups]
    flags = ", ".join(f"grouping({r})" for r in refs)
    rows = con.execute(
        f"SELECT {flags}, {', '.join(refs)}, count(*), count({ctx.ref}) FROM {ref} "
        f"GROUP BY GROUPING SETS ({', '.join(f'({r})' for r in refs)})").fetchall()
    k = len(groups)
    by_group: dict[int, list[tuple[Any, int, int]]] = {}
    for row in rows:
        i = next(j for j in range(k) if row[j] == 0)
        by_group.setdefault(i, []).append((row[k + i], int(row[2 * k]), int(row[2 * k + 1])))
    for i, g in enumerate(groups):
        stats = sorted(by_group.get(i, []), key=lambda t: str(t[0]))
        null_when = [v for v, n, c in stats if c == 0]
        set_when = [v for v, n, c in stats if c == n]
        if (null_when and set_when and len(null_when) + len(set_when) == len(stats)
                and all(n >= 3 for v, n, c in stats if c == 0)):
            return g.name, null_when, set_when
    return None


def _uniqueness(ctx: ColumnContext) -> list[Candidate]:
    """Declared keys/unique columns, and identifier-like columns unique in the sample."""
    p = ctx.profile
    kwargs = {"column": ctx.name}
    nn = ctx.non_null
    ev = {"non_null": nn, "distinct": p.distinct}
    schema_unique = ctx.schema is not None and (ctx.schema.unique or (
        ctx.schema.primary_key and ctx.sole_key))
    if ctx.sole_key or schema_unique:
        why = "declared key" if ctx.sole_key else "declared unique"
        return [Candidate("expect_column_values_to_be_unique", kwargs, "declared_unique", why,
                          1.0, "declared", ctx.name, ev, "critical",
                          declared_finding("repeated values"))]
    id_like = _ID_NAME.search(ctx.name) is not None
    if (id_like and ctx.info.kind in ("string", "int") and nn >= MIN_UNIQUE_VALUES
            and p.distinct >= 0.99 * nn):
        return [Candidate(
            "expect_column_values_to_be_unique", kwargs, "unique_identifier",
            "an identifier-like column that is (almost) unique in the sample", 0.8, "strict",
            ctx.name, ev, finding=FindingSpec(
                "SUG015", "major", "{pct} of values ({count} of {n}) repeat in an identifier "
                "column that is otherwise unique", "deduplicate the records or the ids"))]
    return []


# --- Strings ------------------------------------------------------------------------------


def _string_rules(con: duckdb.DuckDBPyConnection, ref: str, ctx: ColumnContext,
                  settings: Settings, dataset: str, length_q: tuple[float, float] | None,
                  findings: list[Finding]) -> list[Candidate]:
    """Picklist, value set, or format + lengths + placeholder check for one text column."""
    p = ctx.profile
    nn = ctx.non_null
    if nn == 0:
        return []
    out: list[Candidate] = []
    allowed = ctx.schema.allowed_values if ctx.schema else None
    if allowed:
        out.append(Candidate("expect_column_values_to_be_in_set",
                             {"column": ctx.name, "value_set": list(allowed)}, "declared_values",
                             "picklist declared by the source", 1.0, "declared", ctx.name,
                             {"allowed_values": len(allowed)}, "critical",
                             declared_finding("values outside the picklist")))
        return out
    if ctx.categorical:
        return _value_set(con, ref, ctx, dataset, findings)
    fixed_length = False
    if not ctx.free_text and (p.max_length or 0) <= MAX_PATTERN_LENGTH:
        rule, fixed_length = _format_rule(con, ref, ctx, settings, dataset, findings)
        out += rule
    if length_q is not None and not fixed_length:
        out += _length_rule(ctx, settings, length_q)
    _placeholders(con, ref, ctx, dataset, findings)
    return out


def _value_set(con: duckdb.DuckDBPyConnection, ref: str, ctx: ColumnContext, dataset: str,
               findings: list[Finding]) -> list[Candidate]:
    """Value set of the canonical values; spelling variants become a finding instead."""
    rows = con.execute(
        f"SELECT {ctx.ref}, count(*) FROM {ref} WHERE {ctx.ref} IS NOT NULL "
        "GROUP BY 1 ORDER BY 2 DESC, 1"
    ).fetchall()
    values = [(v, int(n)) for v, n in rows]
    variants: dict[str, str | None] = {}
    if ctx.info.kind == "string":
        variants = pat.spelling_variants([(str(v), n) for v, n in values])
    members = [v for v, _ in values if str(v) not in variants]
    if variants:
        count = sum(n for v, n in values if str(v) in variants)
        shown = ", ".join(f"{v!r}→{c!r}" if c else f"{v!r}" for v, c in list(variants.items())[:8])
        findings.append(finding(
            "SUG004", "major", f"{count} values ({pct(count / ctx.non_null)}) are spelling "
            f"variants of other values or carry no letter or digit: {shown}", dataset, ctx.name,
            "map the variants to one canonical value at the source",
            kind="spelling_variants", count=count, n=ctx.non_null,
            variants={k: v for k, v in variants.items()}))
    ev = {"distinct": len(values), "non_null": ctx.non_null,
          "top": [[v, n] for v, n in values[:5]], "variants_excluded": sorted(variants)}
    return [Candidate("expect_column_values_to_be_in_set",
                      {"column": ctx.name, "value_set": members}, "value_set",
                      f"low-cardinality column: {len(members)} distinct values", 0.85,
                      "tolerant", ctx.name, ev)]


def _format_rule(con: duckdb.DuckDBPyConnection, ref: str, ctx: ColumnContext,
                 settings: Settings, dataset: str,
                 findings: list[Finding]) -> tuple[list[Candidate], bool]:
    """E-mail, phone, date-as-text or generalised shape: (candidates, fixes the length)."""
    p = ctx.profile
    nn = ctx.non_null
    share = {k: p.patterns.get(k, 0) / nn for k in ("email", "phone", "date")}
    kind = max(share, key=lambda k: share[k])
    if share[kind] >= settings.min_support and kind == "email":
        return [_regex(ctx, pat.EMAIL_REGEX, "email_format", "values are e-mail addresses",
                       0.9, "strict", "break the e-mail format local@domain.tld")], False
    if share[kind] >= settings.min_support and kind == "phone":
        return [_regex(ctx, pat.PHONE_REGEX, "phone_format", "values are phone numbers", 0.85,
                       "strict", "are not dialable phone numbers")], False
    if share[kind] >= settings.min_support and kind == "date":
        return _date_text(con, ref, ctx, settings, dataset, findings), True
    shape = pat.dominant_shape(con, ref, ctx.ref, min_support=settings.min_support,
                               min_shape_share=settings.min_shape_share,
                               max_alternatives=settings.max_alternatives,
                               start_level=1 if ctx.pii else 0)
    if shape is None or not pat.python_regex_ok(shape.regex):
        return [], False
    ev = {"level": shape.level, "shapes": [[s, n] for s, n in shape.shapes],
          "covered": shape.covered, "values": shape.total}
    if shape.fixed:
        c = _regex(ctx, shape.regex, "code_format", "values follow a fixed code shape",
                   0.85, "strict", "break the pattern most values follow")
    else:
        c = _regex(ctx, shape.regex, "word_shape", "values follow a free-form word shape",
                   0.7, "tolerant", None)
    c.evidence.update(ev)
    return [c], shape.fixed


def _regex(ctx: ColumnContext, regex: str, rule: str, reason: str, prior: float,
           policy: Policy, breaks: str | None) -> Candidate:
    """A regex candidate; ``breaks`` (if given) words the finding when values break it."""
    spec = None
    if breaks:
        spec = FindingSpec("SUG002", "major", "{pct} of values ({count} of {n}) " + breaks
                           + f" (`{regex}`)", "correct the values at the source")
    return Candidate("expect_column_values_to_match_regex", {"column": ctx.name, "regex": regex},
                     rule, reason, prior, policy, ctx.name, {}, finding=spec)


def _date_text(con: duckdb.DuckDBPyConnection, ref: str, ctx: ColumnContext,
               settings: Settings, dataset: str, findings: list[Finding]) -> list[Candidate]:
    """Dates stored as text: a finding for mixed formats, a regex for the dominant one."""
    fm = pat.date_formats(con, ref, ctx.ref)
    present = fm.present
    if len(present) > 1:
        parts = ", ".join(f"{name} {pct(n / fm.total)}" for name, n in present)
        findings.append(finding(
            "SUG003", "major", f"dates stored as text in {len(present)} formats: {parts}",
            dataset, ctx.name, "store dates as ISO 8601 (or a DATE column); DD/MM vs MM/DD "
            "cannot be told apart", kind="mixed_date_formats",
            formats={name: n for name, n in present}, n=fm.total))
    dom = fm.dominant
    if dom is None or dom[1] / fm.total < settings.min_support:
        return []
    policy: Policy = "strict" if len(present) == 1 else "tolerant"
    c = _regex(ctx, pat.date_format_regex(dom[0]), "date_format",
               f"dates stored as text, format {dom[0]}", 0.9, policy, None)
    c.evidence.update({"formats": {name: n for name, n in present}})
    return [c]


def _length_quantiles(con: duckdb.DuckDBPyConnection, ref: str,
                      cols: list[ColumnContext]) -> dict[str, tuple[float, float]]:
    """1st and 99th length percentiles of every text column, in one scan."""
    cols = [c for c in cols if c.non_null]
    if not cols:
        return {}
    exprs = ", ".join(f"quantile_cont(length({c.ref}), [0.01, 0.99])" for c in cols)
    row = con.execute(f"SELECT {exprs} FROM {ref}").fetchone() or ()
    return {c.name: (float(q[0]), float(q[1])) for c, q in zip(cols, row, strict=True) if q}


def _length_rule(ctx: ColumnContext, settings: Settings,
                 q: tuple[float, float]) -> list[Candidate]:
    """A tolerant two-sided length range and, for prose, a strict "not near-empty" bound.

    Prose (1st length percentile >= :data:`MIN_PROSE_LENGTH`) shorter than a quarter of that
    percentile is not a short text but a missing one (``""``, ``n/a``, ``asdf``): that bound is
    an all-or-nothing rule, so breaking it is a finding; the range itself only has to hold for
    ``mostly`` of the values (long tails are normal).
    """
    p01, p99 = q
    m = settings.length_margin
    lo = max(1, math.floor(p01 * max(0.0, 1 - m)))
    hi = max(lo, math.ceil(p99 * (1 + m)))
    ev = {"p01": p01, "p99": p99, "min": ctx.profile.min_length, "max": ctx.profile.max_length}
    out = []
    if p01 >= MIN_PROSE_LENGTH:
        short_lo = math.floor(p01 / SHORT_TEXT_FACTOR)
        out.append(Candidate(
            "expect_column_value_lengths_to_be_between",
            {"column": ctx.name, "min_value": short_lo}, "not_near_empty",
            f"prose: 98% of values have {p01:.0f}-{p99:.0f} characters, so under {short_lo} "
            "means no real content", 0.8, "strict", ctx.name, dict(ev),
            finding=FindingSpec("SUG008", "major", "{pct} of values ({count} of {n}) are "
                                f"near-empty: under {short_lo} characters while 98% have "
                                f"{p01:.0f}-{p99:.0f}",
                                "replace near-empty values with real content or NULL")))
    out.append(Candidate(
        "expect_column_value_lengths_to_be_between",
        {"column": ctx.name, "min_value": lo, "max_value": hi}, "length_range",
        "lengths from the 1st-99th percentile, widened", 0.6, "tolerant", ctx.name, ev))
    return out


def _placeholders(con: duckdb.DuckDBPyConnection, ref: str, ctx: ColumnContext, dataset: str,
                  findings: list[Finding]) -> None:
    """Tokens that stand for "no value" (``n/a``, ``tbd``, ``0000``): invisible to not-null."""
    row = con.execute(
        f"SELECT count(*), list(DISTINCT {ctx.ref} ORDER BY {ctx.ref})[:5] FROM {ref} "
        f"WHERE {pat.placeholder_sql(ctx.ref)}").fetchone()
    count = int(row[0]) if row else 0
    if count:
        # placeholders come from a fixed token list: they are not personal data, no masking
        examples = [str(v) for v in (row[1] or [])] if row else []
        findings.append(finding(
            "SUG009", "major", f"{count} values ({pct(count / ctx.non_null)}) are placeholders "
            f"for a missing value: {', '.join(repr(e) for e in examples)}", dataset, ctx.name,
            "store NULL for unknown values so completeness checks see them",
            kind="placeholders", count=count, n=ctx.non_null, examples=examples))
