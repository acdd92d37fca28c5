"""Evaluate Great Expectations 1.x expectations natively in DuckDB, with GX's pandas semantics.

Why this module exists
----------------------
GX 1.x cannot validate DuckDB tables through its SQL datasource: over duckdb-engine every metric
query comes back empty (GX issues #10738 and #11579). GX's pandas engine does work, but it is far
too slow and memory hungry for real tables (about 50 s and 1.5 GB for 30 expectations on one
million rows), while DuckDB answers the same questions in one aggregate pass in well under a
second. So this module compiles expectation configs (GX 1.x type names plus kwargs) into DuckDB
SQL and reproduces, number for number, what GX's *pandas* engine reports for the same table.
It never imports great_expectations; :mod:`auditor.validate` owns GX and uses GX itself as the
fallback for anything this module declines (and tests use GX as the oracle).

The reference frame is the table as :func:`fetch_sql` + ``pyarrow.Table.to_pandas()`` hands it to
GX: DECIMAL/HUGEINT become float64 (as DuckDB's own ``.df()`` does), ENUM becomes str, DATE stays
``datetime.date`` objects and integer columns with NULLs become float64. That mapping was chosen
because GX 1.24.1 works on it; on DuckDB's default ``.df()`` output (pandas nullable ``Int64`` and
``datetime64`` DATE columns) GX raises "boolean value of NA is ambiguous" for column-pair
expectations and "Cannot compare Timestamp with datetime.date" for date bounds.

Semantics taken from the GX 1.24.1 source (expectation.py, expectations/core, metrics/*)
-------------------------------------------------------------------------------------------
* Missing means ``pandas.isnull``: SQL NULL, and also NaN in DOUBLE/FLOAT columns (DuckDB does not
  treat NaN as NULL, pandas does). Empty strings are values, not missing.
* Column map expectations (in_set, between, regex, lengths, unique, ...) evaluate non-missing
  values only: ``missing_count = rows - non_missing``, ``unexpected_percent = unexpected /
  non_missing * 100`` (None when there is no non-missing value) and success is
  ``(non_missing - unexpected) / non_missing >= mostly``, vacuously True for no values.
* ``expect_column_values_to_(not_)be_null`` override that: the denominator is every row,
  ``unexpected_percent`` is over all rows and GX reports no ``missing_count`` (0 here).
* Column-pair and compound-unique expectations first drop rows per ``ignore_row_if``; the
  denominator is the rows kept and ``missing_count = rows - kept``. In pandas a comparison with a
  missing value is False, so a kept pair with one missing side is unexpected.
* ``expect_column_values_to_be_unique`` and compound uniqueness count *every* occurrence of a
  duplicated value (``duplicated(keep=False)``), not just the extra copies; NaN equals NaN.
* ``in_set``/``not_in_set`` use ``Series.isin``: no coercion, so ``"1"`` never matches 1 while
  ``1.0`` and ``True`` match 1 (DuckDB would cast ``'1'``, so such members are dropped from the
  SQL list instead). On DATE/TIMESTAMP columns GX matches strings inconsistently (``not_in_set``
  parses them, ``in_set`` does not), so those run in GX.
* Between bounds are coerced by GX's pydantic model (``Union[float, dict, date, datetime]``), so
  ``"2024-01-01"`` becomes ``datetime.date`` and ``"2024-01-01T00:00:00"`` a ``datetime``; plain
  string bounds are rejected, so between on strings is not possible in GX 1.x (and the
  ``parse_strings_as_datetimes`` kwarg of GX 0.x no longer exists). DATE columns need date bounds
  and TIMESTAMP columns datetime bounds; other pairings raise in GX and give an error here.
* Aggregates follow ``_validate_metric_value_between``: a null observed value fails, ``None``
  bounds are unbounded, ``strict_*`` make a bound exclusive. ``median`` interpolates, ``stdev``
  is the sample standard deviation, ``sum`` of no values is 0, the unique proportion is
  ``distinct / non_missing`` (0 when everything is missing).
* ``expect_column_distinct_values_to_be_in_set`` reports ``observed_value: None`` and
  ``unexpected_count`` = number of *distinct* values outside the set; ``..._to_contain_set``
  reports ``missing_count`` = number of expected values not present. String members of the set
  are parsed as dates/datetimes for DATE/TIMESTAMP columns, as GX does.
* Regex: GX calls ``Series.str.contains``: Python ``re`` search semantics (pandas 3 runs
  pyarrow's RE2 only where the answer is the same, and RE2 for patterns Python cannot parse,
  e.g. ``\\p{L}``). DuckDB's ``regexp_matches`` is RE2 search semantics. The dialects differ:
  Python's ``\\d \\w \\s`` (and negations, also inside ``[...]``) are Unicode-aware, RE2's are
  ASCII, and RE2's ``\\s`` lacks ``\\v``; Python's ``$`` also matches before a final newline;
  ``\\Z``, ``\\uXXXX`` and ``\\N{...}`` are spelled differently; ``\\b`` is Unicode-aware in
  Python; RE2 has no lookaround, backreferences, atomic groups or ``(?x)``. We rewrite the
  escapes and character classes into the exact code-point sets Python's own ``re`` matches; a
  pattern with ``\\b`` or ``$`` is native only when no value is non-ASCII (resp. contains a
  newline) and otherwise goes to GX, as does anything RE2 cannot express or compile.
* Examples are the most frequent unexpected values (ties by value, nulls first, values equal in
  pandas grouped together); GX's own lists stop at 200 values and, in the SUMMARY format used for
  fallbacks, at the first 20 unexpected rows.

Anything outside these rules (row_condition, suite parameters, unusual column types, ...) is not
evaluated here: :func:`evaluate` returns :class:`NotNative` and the caller falls back to GX.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal

import duckdb

from auditor.expectation_regex import translate_regex
from auditor.sqlident import quote_ident

__all__ = [
    "ColumnInfo",
    "NativeResult",
    "NotNative",
    "describe_table",
    "evaluate",
    "example_sort_key",
    "fetch_sql",
    "format_value",
    "missing_columns",
    "plain_value",
    "quote_ident",
    "referenced_columns",
    "supported_expectation_types",
    "to_jsonable",
    "translate_regex",
]

Kind = Literal[
    "int", "float", "float32", "decimal", "string", "bool", "date", "timestamp", "timestamptz",
    "other",
]

_INT_TYPES = {
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
}
_TIMESTAMP_TYPES = {"TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"}
_NUMERIC: frozenset[str] = frozenset({"int", "float", "float32", "decimal"})
_TEMPORAL: frozenset[str] = frozenset({"date", "timestamp"})
# Kinds whose values hash/compare in pandas exactly as in DuckDB (uniqueness, distinct counts).
_HASHABLE: frozenset[str] = frozenset(_NUMERIC | _TEMPORAL | {"string", "bool", "timestamptz"})


# --- identifiers, literals, column metadata -------------------------------------------------


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    """A column as DuckDB describes it, plus the pandas-semantics family it falls into."""

    name: str
    sql_type: str
    kind: Kind

    @property
    def ident(self) -> str:
        return quote_ident(self.name)

    @property
    def value(self) -> str:
        """SQL for the value as GX's pandas frame holds it (DECIMAL → DOUBLE, ENUM → VARCHAR)."""
        if self.kind == "decimal":
            return f"CAST({self.ident} AS DOUBLE)"
        if self.kind == "string" and self.sql_type.upper() != "VARCHAR":
            return f"CAST({self.ident} AS VARCHAR)"
        return self.ident

    @property
    def missing(self) -> str:
        """SQL predicate for ``pandas.isnull`` on this column (NaN counts as missing)."""
        if self.kind in ("float", "float32"):
            return f"({self.ident} IS NULL OR isnan({self.ident}))"
        return f"({self.ident} IS NULL)"

    @property
    def key(self) -> str:
        """SQL for grouping/distinct with pandas equality: NaN → NULL, -0.0 → 0.0."""
        if self.kind in ("float", "float32"):
            return f"(CASE WHEN isnan({self.ident}) THEN NULL ELSE {self.ident} + 0.0 END)"
        return self.value


def _kind_of(sql_type: str) -> Kind:
    t = sql_type.upper().strip()
    if t in _INT_TYPES:
        return "int"
    if t == "DOUBLE":
        return "float"
    if t in ("FLOAT", "REAL"):
        return "float32"
    if t.startswith("DECIMAL") or t in ("HUGEINT", "UHUGEINT"):
        return "decimal"
    if t == "VARCHAR" or t.startswith("ENUM("):
        return "string"
    if t == "BOOLEAN":
        return "bool"
    if t == "DATE":
        return "date"
    if t in _TIMESTAMP_TYPES:
        return "timestamp"
    if t == "TIMESTAMP WITH TIME ZONE":
        return "timestamptz"
    return "other"


def describe_table(con: duckdb.DuckDBPyConnection, table: str) -> tuple[ColumnInfo, ...]:
    """Columns of ``table`` in order, with their DuckDB types and pandas-semantics kind."""
    rows = con.execute(f"DESCRIBE SELECT * FROM {quote_ident(table)}").fetchall()
    return tuple(ColumnInfo(str(r[0]), str(r[1]), _kind_of(str(r[1]))) for r in rows)


def fetch_sql(table: str, columns: Sequence[ColumnInfo]) -> str:
    """The SELECT whose Arrow → pandas conversion is the frame GX validates (see module doc)."""
    exprs = []
    for c in columns:
        exprs.append(c.ident if c.value == c.ident else f"{c.value} AS {c.ident}")
    return f"SELECT {', '.join(exprs) or '*'} FROM {quote_ident(table)}"


_COLUMN_KEYS = ("column", "column_A", "column_B")


def referenced_columns(kwargs: Mapping[str, Any]) -> list[str] | None:
    """Column names an expectation's kwargs name, or None when it may touch any column."""
    if kwargs.get("row_condition"):
        return None
    cols: list[str] = []
    for key in _COLUMN_KEYS:
        if isinstance(kwargs.get(key), str):
            cols.append(kwargs[key])
    if isinstance(kwargs.get("column_list"), list | tuple):
        cols.extend(str(c) for c in kwargs["column_list"])
    return cols or None


def missing_columns(
    expectation_type: str, kwargs: Mapping[str, Any], available: Iterable[str]
) -> list[str]:
    """Columns named in ``kwargs`` that the table lacks (exact, case-sensitive as in pandas).

    ``expect_column_to_exist`` is exempt: a missing column is its *result*, not an error.
    DuckDB resolves quoted identifiers case-insensitively, so this check must happen in Python.
    """
    if expectation_type == "expect_column_to_exist":
        return []
    have = set(available)
    wanted = referenced_columns({k: v for k, v in kwargs.items() if k != "row_condition"}) or []
    return [c for c in dict.fromkeys(wanted) if c not in have]


# --- values for reports ---------------------------------------------------------------------


def plain_value(value: Any) -> Any:
    """numpy/pandas scalars → plain Python; NaN/NaT/NA → None."""
    if value is None:
        return None
    item = getattr(value, "item", None)
    if type(value).__module__ == "numpy" and callable(item):
        value = item()
    to_py = getattr(value, "to_pydatetime", None)
    if callable(to_py):
        try:
            if value != value:  # NaT
                return None
        except (TypeError, ValueError):
            pass
        return to_py()
    if isinstance(value, float) and math.isnan(value):
        return None
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    return value


def to_jsonable(value: Any) -> Any:
    """An observed value as plain JSON-friendly Python (ISO strings for dates, lists for sets)."""
    value = plain_value(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set | frozenset):
        return sorted((to_jsonable(v) for v in value), key=lambda v: (str(type(v)), str(v)))
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.hex()
    return value


def format_value(value: Any) -> str:
    """One example value as a string; both engines format through this, so they agree."""
    value = plain_value(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float) and value == 0.0:
        return "0.0"  # pandas keeps whichever of 0.0/-0.0 it saw first; they are equal
    return str(value)


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NotNative:
    """This expectation is not evaluated natively; ``reason`` says why (for logs)."""

    reason: str


@dataclass(frozen=True, slots=True)
class NativeResult:
    """One expectation's result in GX's terms; ``examples`` hold raw values per example column."""

    success: bool | None
    element_count: int = 0
    unexpected_count: int = 0
    missing_count: int = 0
    unexpected_percent: float | None = None
    observed_value: Any = None
    examples: tuple[tuple[Any, ...], ...] = ()
    example_columns: tuple[str | None, ...] = ()
    error: str | None = None


# --- compile-time helpers --------------------------------------------------------------------


class _Decline(Exception):
    """Raised while planning: the expectation is not evaluated natively."""


def _is_param(value: Any) -> bool:
    return isinstance(value, dict)


_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def _coerce_bound(value: Any) -> Any:
    """Mirror GX's pydantic coercion of a bound (``Union[float, dict, date, datetime]``)."""
    if value is None or isinstance(value, bool | int | float | dt.date):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        m = _ISO_DATE.fullmatch(value)
        if m:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    raise _Decline(f"bound {value!r} is not a number, date or datetime")


def _num_lit(value: float | int, kind: str = "float") -> str:
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        lit = str(value)
        return f"CAST({lit} AS FLOAT)" if kind == "float32" else lit
    sql_type = "FLOAT" if kind == "float32" else "DOUBLE"
    return f"CAST('{float(value)!r}' AS {sql_type})"


def _bound_lit(value: Any, col: ColumnInfo) -> str:
    """SQL literal for a between bound of a compatible type (checked by the caller)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            return f"CAST('{value.isoformat()}' AS TIMESTAMPTZ)"
        return f"CAST('{value.isoformat(sep=' ')}' AS TIMESTAMP)"
    if isinstance(value, dt.date):
        return f"CAST('{value.isoformat()}' AS DATE)"
    return _num_lit(value, col.kind)


def _bound_type_error(value: Any, col: ColumnInfo) -> str | None:
    """Why GX (pandas) raises comparing this column's values with ``value``, if it does."""
    if value is None:
        return None
    is_dt = isinstance(value, dt.datetime)
    is_date = isinstance(value, dt.date) and not is_dt
    if col.kind in _NUMERIC:
        if is_dt or is_date:
            return f"cannot compare numeric column with {type(value).__name__} bound {value!r}"
        return None
    if col.kind == "date":
        if not is_date:
            return (
                f"GX compares DATE values with date bounds only (got {value!r}); write "
                "'YYYY-MM-DD'"
            )
        return None
    if col.kind in ("timestamp", "timestamptz"):
        if not is_dt:
            return (
                f"GX cannot compare timestamps with {value!r}; write a datetime bound such as "
                "'2024-01-01T00:00:00'"
            )
        if (value.tzinfo is not None) != (col.kind == "timestamptz"):
            return f"cannot compare tz-naive and tz-aware datetimes ({value!r})"
        return None
    if col.kind == "string":
        return "Column values, min_value, and max_value must either be None or of the same type."
    return f"cannot compare {col.sql_type} values with {value!r}"


def _between_sql(
    expr: str, lo: str | None, hi: str | None, strict_min: bool, strict_max: bool
) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{expr} {'>' if strict_min else '>='} {lo}")
    if hi is not None:
        parts.append(f"{expr} {'<' if strict_max else '<='} {hi}")
    return " AND ".join(parts) if parts else "TRUE"


def _membership_literals(
    values: Iterable[Any], col: ColumnInfo, *, parse_temporal: bool
) -> list[str]:
    """Literals of ``values`` that can equal a value of ``col`` under pandas/Python equality.

    Members of another type can never be equal (``Series.isin`` does not coerce), so they are
    dropped rather than cast, which DuckDB would otherwise do implicitly ('1' = 1 is true there).
    """
    out: list[str] = []
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        if col.kind == "string":
            if isinstance(v, str):
                out.append(_sql_string(v))
        elif col.kind in _NUMERIC:
            if isinstance(v, bool | int | float) and not isinstance(v, dt.date):
                if isinstance(v, float) and math.isinf(v):
                    out.append(f"CAST('{v!r}' AS DOUBLE)")
                else:
                    out.append(_num_lit(v if isinstance(v, float) else int(v)))
        elif col.kind == "bool":
            if isinstance(v, bool):
                out.append("TRUE" if v else "FALSE")
            else:
                raise _Decline("non-boolean member in a value_set for a BOOLEAN column")
        elif col.kind in _TEMPORAL and parse_temporal:
            parsed = _parse_temporal(v, date_only=col.kind == "date")
            if parsed is not None:
                out.append(_bound_lit(parsed, col))
        else:
            raise _Decline(f"value_set on a {col.sql_type} column")
    return out


def _parse_temporal(value: Any, *, date_only: bool) -> dt.date | None:
    """GX's ``_coerce_value_set_to_column_type`` for date/datetime columns (dateutil parse)."""
    if isinstance(value, str):
        from dateutil.parser import parse as _parse

        try:
            parsed = _parse(value)
        except (ValueError, TypeError, OverflowError):
            return None
        if date_only:
            return parsed.date()
        return None if parsed.tzinfo is not None else parsed
    if date_only:
        return value if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else None
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value
    return None


def _in_list(expr: str, literals: Sequence[str]) -> str:
    return f"{expr} IN ({', '.join(literals)})" if literals else "FALSE"


def _mostly(kwargs: Mapping[str, Any]) -> float:
    m = kwargs.get("mostly", 1)
    return 1.0 if m is None else float(m)


def _mostly_success(considered: int, unexpected: int, mostly: float) -> bool:
    """GX's ``_mostly_success``, float arithmetic included."""
    return (float(considered) - float(unexpected)) / float(considered) >= mostly


def _validate_between(
    observed: Any, kwargs: Mapping[str, Any]
) -> tuple[bool, Any, str | None]:
    """GX's ``_validate_metric_value_between``: (success, observed, error)."""
    if observed is None or (isinstance(observed, float) and math.isnan(observed)):
        return False, None, None
    lo = _coerce_bound(kwargs.get("min_value"))
    hi = _coerce_bound(kwargs.get("max_value"))
    try:
        above = True
        below = True
        if lo is not None:
            above = observed > lo if kwargs.get("strict_min") else observed >= lo
        if hi is not None:
            below = observed < hi if kwargs.get("strict_max") else observed <= hi
    except TypeError as exc:
        return False, observed, str(exc)
    return bool(above and below), observed, None


# --- plans ----------------------------------------------------------------------------------


class _Pass:
    """Collects the aggregate expressions of the single table scan (deduplicated)."""

    def __init__(self) -> None:
        self.exprs: dict[str, str] = {}
        self.unique: dict[str, str] = {}

    def add(self, sql: str) -> str:
        if sql not in self.exprs:
            self.exprs[sql] = f"a{len(self.exprs)}"
        return self.exprs[sql]

    def add_unique(self, sql: str) -> str:
        if sql not in self.unique:
            self.unique[sql] = f"u{len(self.unique)}"
        return self.unique[sql]


_ROWS = "count(*)"


@dataclass
class _Plan:
    """Base: ``register`` adds SQL to the pass, ``finish`` turns fetched values into a result."""

    def register(self, p: _Pass) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def finish(self, v: Mapping[str, Any]) -> NativeResult | NotNative:  # pragma: no cover
        raise NotImplementedError

    def example_sql(self, table: str, limit: int) -> str | None:
        return None


@dataclass
class _TablePlan(_Plan):
    type: str
    kwargs: Mapping[str, Any]
    columns: tuple[ColumnInfo, ...]
    rows_alias: str = ""

    def register(self, p: _Pass) -> None:
        self.rows_alias = p.add(_ROWS)

    def finish(self, v: Mapping[str, Any]) -> NativeResult:
        rows = int(v[self.rows_alias])
        names = [c.name for c in self.columns]
        kw = self.kwargs
        if self.type == "expect_column_to_exist":
            index = kw.get("column_index")
            if index:  # GX tests truthiness, so column_index=0 means "anywhere"
                try:
                    ok = names[index] == kw["column"]
                except IndexError:
                    ok = False
            else:
                ok = kw["column"] in names
            return NativeResult(success=ok)
        if self.type == "expect_table_row_count_to_equal":
            return NativeResult(success=rows == kw.get("value"), observed_value=rows)
        if self.type == "expect_table_column_count_to_equal":
            return NativeResult(success=len(names) == kw.get("value"), observed_value=len(names))
        if self.type == "expect_table_row_count_to_be_between":
            ok, obs, err = _validate_between(rows, kw)
            return NativeResult(success=ok and err is None, observed_value=obs, error=err)
        if self.type == "expect_table_columns_to_match_set":
            expected = set(kw.get("column_set") or [])
            exact = kw.get("exact_match", True)
            actual = set(names)
            unexpected = sorted(actual - expected)
            missing = sorted(expected - actual)
            if kw.get("column_set") is None and exact is not True:
                ok = True
            elif not unexpected and not missing:
                ok = True
            else:
                ok = not missing if not exact else False
            examples = tuple((f"missing: {c}",) for c in missing) + tuple(
                (f"unexpected: {c}",) for c in unexpected
            )
            return NativeResult(
                success=ok,
                observed_value=sorted(names),
                examples=examples,
                example_columns=(None,),
            )
        raise AssertionError(self.type)  # pragma: no cover


@dataclass
class _MapPlan(_Plan):
    """Row-wise expectation: counts of considered and unexpected rows in the main pass.

    ``denominator``: ``nonnull`` (column map), ``rows`` (null checks), ``kept`` (pairs).
    ``unexpected``: SQL true exactly for rows GX counts as unexpected.
    """

    columns: tuple[ColumnInfo, ...]
    denominator: Literal["nonnull", "rows", "kept"]
    unexpected: str
    mostly: float
    kept: str | None = None
    type_error: str | None = None
    guards: tuple[tuple[str, str], ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)

    def register(self, p: _Pass) -> None:
        self.aliases["rows"] = p.add(_ROWS)
        if self.denominator == "nonnull":
            nonmissing = f"NOT {self.columns[0].missing}"
            self.aliases["considered"] = p.add(f"count(*) FILTER (WHERE {nonmissing})")
        elif self.denominator == "kept":
            self.aliases["considered"] = p.add(f"count(*) FILTER (WHERE {self.kept})")
        self.aliases["unexpected"] = p.add(f"count(*) FILTER (WHERE {self.unexpected})")
        for i, (sql, _) in enumerate(self.guards):
            self.aliases[f"guard{i}"] = p.add(f"count(*) FILTER (WHERE {sql})")

    def finish(self, v: Mapping[str, Any]) -> NativeResult | NotNative:
        for i, (_, reason) in enumerate(self.guards):
            if v[self.aliases[f"guard{i}"]]:
                return NotNative(reason)
        rows = int(v[self.aliases["rows"]])
        unexpected = int(v[self.aliases["unexpected"]])
        if self.denominator == "rows":
            considered = rows
            missing = 0
            percent = unexpected / rows * 100 if rows else None
        else:
            considered = int(v[self.aliases["considered"]])
            missing = rows - considered
            percent = unexpected / considered * 100 if rows and considered else None
        if self.type_error and considered:
            return NativeResult(success=False, error=self.type_error)
        if rows == 0 or considered == 0:
            success = True
        else:
            success = _mostly_success(considered, unexpected, self.mostly)
        return NativeResult(
            success=success,
            element_count=rows,
            unexpected_count=unexpected,
            missing_count=missing,
            unexpected_percent=percent,
        )

    def example_sql(self, table: str, limit: int) -> str | None:
        vals = ", ".join(f"{c.key} AS v{i}" for i, c in enumerate(self.columns))
        order = ", ".join(f"v{i} NULLS FIRST" for i in range(len(self.columns)))
        some_value = " OR ".join(f"NOT {c.missing}" for c in self.columns)
        return (
            f"SELECT {vals}, count(*) AS n FROM {quote_ident(table)} "
            f"WHERE ({self.unexpected}) AND ({some_value}) "
            f"GROUP BY ALL ORDER BY n DESC, {order} LIMIT {int(limit)}"
        )


@dataclass
class _UniquePlan(_Plan):
    """Single or compound uniqueness: every row of a duplicated key is unexpected."""

    columns: tuple[ColumnInfo, ...]
    kept: str
    mostly: float
    aliases: dict[str, str] = field(default_factory=dict)
    table: str = ""

    def _grouped(self) -> str:
        keys = ", ".join(c.key for c in self.columns)
        return f"FROM {quote_ident(self.table)} WHERE {self.kept} GROUP BY {keys}"

    def register(self, p: _Pass) -> None:
        self.aliases["rows"] = p.add(_ROWS)
        self.aliases["considered"] = p.add(f"count(*) FILTER (WHERE {self.kept})")
        self.aliases["unexpected"] = p.add_unique(
            f"SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n {self._grouped()} "
            "HAVING count(*) > 1)"
        )

    def finish(self, v: Mapping[str, Any]) -> NativeResult:
        rows = int(v[self.aliases["rows"]])
        considered = int(v[self.aliases["considered"]])
        unexpected = int(v[self.aliases["unexpected"]])
        success = True if not rows or not considered else _mostly_success(
            considered, unexpected, self.mostly
        )
        return NativeResult(
            success=success,
            element_count=rows,
            unexpected_count=unexpected,
            missing_count=rows - considered,
            unexpected_percent=unexpected / considered * 100 if rows and considered else None,
        )

    def example_sql(self, table: str, limit: int) -> str | None:
        keys = ", ".join(f"{c.key} AS v{i}" for i, c in enumerate(self.columns))
        order = ", ".join(f"v{i} NULLS FIRST" for i in range(len(self.columns)))
        grouped = ", ".join(c.key for c in self.columns)
        some_value = " OR ".join(f"NOT {c.missing}" for c in self.columns)
        return (
            f"SELECT {keys}, count(*) AS n FROM {quote_ident(table)} "
            f"WHERE ({self.kept}) AND ({some_value}) GROUP BY {grouped} HAVING count(*) > 1 "
            f"ORDER BY n DESC, {order} LIMIT {int(limit)}"
        )


@dataclass
class _AggPlan(_Plan):
    """Column aggregate compared with bounds, GX ``_validate_metric_value_between`` style."""

    column: ColumnInfo
    metric: str
    kwargs: Mapping[str, Any]
    type_error: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)

    def register(self, p: _Pass) -> None:
        c = self.column
        where = f"FILTER (WHERE NOT {c.missing})"
        self.aliases["rows"] = p.add(_ROWS)
        self.aliases["nonnull"] = p.add(f"count(*) {where}")
        if self.metric == "min":
            sql = f"min({c.value}) {where}"
        elif self.metric == "max":
            sql = f"max({c.value}) {where}"
        elif self.metric == "mean":
            sql = f"avg(CAST({c.value} AS DOUBLE)) {where}"
        elif self.metric == "median":
            sql = f"quantile_cont(CAST({c.value} AS DOUBLE), 0.5) {where}"
        elif self.metric == "stdev":
            sql = f"stddev_samp(CAST({c.value} AS DOUBLE)) {where}"
        elif self.metric == "sum":
            inner = c.value if c.kind == "int" else f"CAST({c.value} AS DOUBLE)"
            sql = f"sum({inner}) {where}"
        elif self.metric in ("distinct", "proportion"):
            sql = f"count(DISTINCT {c.key}) {where}"
        else:  # pragma: no cover
            raise AssertionError(self.metric)
        if c.kind == "float32" and self.metric in ("mean", "median", "stdev", "sum"):
            # pandas reduces float32 columns in float32: same value to float32 precision.
            sql = f"CAST({sql} AS FLOAT)"
        self.aliases["metric"] = p.add(sql)

    def finish(self, v: Mapping[str, Any]) -> NativeResult:
        rows = int(v[self.aliases["rows"]])
        value = v[self.aliases["metric"]]
        if self.metric == "sum" and value is None:
            value = 0  # pandas: the sum of no values is 0
        if self.metric == "proportion":
            nonnull = int(v[self.aliases["nonnull"]])
            value = value / nonnull if rows > 0 and nonnull else 0
        if isinstance(value, Decimal):
            value = float(value)
        if self.type_error and value is not None:
            return NativeResult(success=False, error=self.type_error)
        ok, observed, err = _validate_between(value, self.kwargs)
        return NativeResult(success=ok and err is None, observed_value=observed, error=err)


@dataclass
class _DistinctSetPlan(_Plan):
    """``distinct_values_to_be_in_set`` / ``..._to_contain_set`` (GX 1.24 count semantics)."""

    column: ColumnInfo
    contain: bool
    literals: list[str]
    expected: list[Any]
    raw: list[Any] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    table: str = ""

    def register(self, p: _Pass) -> None:
        c = self.column
        self.aliases["nonnull"] = p.add(f"count(*) FILTER (WHERE NOT {c.missing})")
        if self.contain:
            self.aliases["present"] = p.add(
                f"list(DISTINCT {c.value}) FILTER (WHERE {_in_list(c.value, self.literals)})"
            )
        else:
            outside = f"NOT {c.missing} AND NOT ({_in_list(c.value, self.literals)})"
            self.aliases["outside"] = p.add(f"count(DISTINCT {c.key}) FILTER (WHERE {outside})")

    def finish(self, v: Mapping[str, Any]) -> NativeResult:
        if self.contain:
            present = {plain_value(x) for x in (v[self.aliases["present"]] or [])}
            # GX coerces value_set members to the column's type only if it has values.
            expected = self.expected if v[self.aliases["nonnull"]] else self.raw
            missing = _set_difference(expected, present)
            return NativeResult(
                success=not missing,
                missing_count=len(missing),
                examples=tuple((m,) for m in sorted(missing, key=example_sort_key)),
                example_columns=(self.column.name,),
            )
        outside = int(v[self.aliases["outside"]])
        return NativeResult(success=outside == 0, unexpected_count=outside)

    def example_sql(self, table: str, limit: int) -> str | None:
        if self.contain:
            return None
        c = self.column
        outside = f"NOT {c.missing} AND NOT ({_in_list(c.value, self.literals)})"
        return (
            f"SELECT DISTINCT {c.key} AS v0, 1 AS n FROM {quote_ident(table)} WHERE {outside} "
            f"ORDER BY v0 LIMIT {int(limit)}"
        )


def example_sort_key(v: Any) -> tuple[str, str]:
    """Deterministic order for values of mixed types (GX sets have no order)."""
    return (type(v).__name__, str(v))


def _set_difference(expected: Iterable[Any], present: set[Any]) -> list[Any]:
    """``set(expected) - present`` with Python equality (1 == 1.0 == True), order kept."""
    out: list[Any] = []
    for e in expected:
        if e in present or e in out:
            continue
        out.append(e)
    return out


# --- planning -------------------------------------------------------------------------------


_TABLE_TYPES = frozenset(
    {
        "expect_column_to_exist",
        "expect_table_row_count_to_be_between",
        "expect_table_row_count_to_equal",
        "expect_table_column_count_to_equal",
        "expect_table_columns_to_match_set",
    }
)
_AGG_METRICS = {
    "expect_column_min_to_be_between": "min",
    "expect_column_max_to_be_between": "max",
    "expect_column_mean_to_be_between": "mean",
    "expect_column_median_to_be_between": "median",
    "expect_column_sum_to_be_between": "sum",
    "expect_column_stdev_to_be_between": "stdev",
    "expect_column_unique_value_count_to_be_between": "distinct",
    "expect_column_proportion_of_unique_values_to_be_between": "proportion",
}
_MAP_TYPES = frozenset(
    {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_null",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_be_between",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
        "expect_column_values_to_match_regex_list",
        "expect_column_values_to_not_match_regex_list",
        "expect_column_value_lengths_to_be_between",
        "expect_column_value_lengths_to_equal",
    }
)
_OTHER_TYPES = frozenset(
    {
        "expect_column_values_to_be_unique",
        "expect_compound_columns_to_be_unique",
        "expect_column_distinct_values_to_be_in_set",
        "expect_column_distinct_values_to_contain_set",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_column_pair_values_to_be_equal",
    }
)
_SUPPORTED = _TABLE_TYPES | _MAP_TYPES | _OTHER_TYPES | frozenset(_AGG_METRICS)

# Keys that never change what is computed.
_INERT_KEYS = frozenset(
    {"result_format", "catch_exceptions", "meta", "notes", "description", "id", "batch_id"}
)


def supported_expectation_types() -> list[str]:
    """GX 1.x expectation types this module can evaluate natively (sorted)."""
    return sorted(_SUPPORTED)


def _plan(
    etype: str,
    kwargs: Mapping[str, Any],
    columns: tuple[ColumnInfo, ...],
    table: str,
    regex_ok: Callable[[str], bool],
) -> _Plan:
    if etype not in _SUPPORTED:
        raise _Decline(f"{etype} has no native implementation")
    for key, value in kwargs.items():
        if key in _INERT_KEYS:
            continue
        if key in ("row_condition", "condition_parser"):
            if value:
                raise _Decline("row_condition is evaluated by GX")
            continue
        if _is_param(value):
            raise _Decline(f"kwarg {key!r} is a suite parameter")
    if etype in _TABLE_TYPES:
        if etype == "expect_table_row_count_to_be_between":
            _coerce_bound(kwargs.get("min_value"))
            _coerce_bound(kwargs.get("max_value"))
        return _TablePlan(etype, kwargs, columns)

    by_name = {c.name: c for c in columns}

    def col(key: str = "column") -> ColumnInfo:
        name = kwargs.get(key)
        if not isinstance(name, str) or name not in by_name:
            raise _Decline(f"column {name!r} not found")
        return by_name[name]

    if etype in _AGG_METRICS:
        return _plan_aggregate(etype, kwargs, col())
    if etype in _MAP_TYPES:
        return _plan_map(etype, kwargs, col(), regex_ok)
    if etype == "expect_column_values_to_be_unique":
        c = col()
        if c.kind not in _HASHABLE:
            raise _Decline(f"uniqueness of {c.sql_type} values")
        return _UniquePlan((c,), f"NOT {c.missing}", _mostly(kwargs), table=table)
    if etype == "expect_compound_columns_to_be_unique":
        names = kwargs.get("column_list") or []
        if not names or any(n not in by_name for n in names):
            raise _Decline("column_list names unknown columns")
        cols = tuple(by_name[n] for n in names)
        if any(c.kind not in _HASHABLE for c in cols):
            raise _Decline("compound uniqueness over unsupported column types")
        mode = kwargs.get("ignore_row_if", "all_values_are_missing")
        kept = _kept(cols, mode, {"all_values_are_missing": "all", "any_value_is_missing": "any"})
        return _UniquePlan(cols, kept, _mostly(kwargs), table=table)
    if etype in (
        "expect_column_distinct_values_to_be_in_set",
        "expect_column_distinct_values_to_contain_set",
    ):
        c = col()
        if c.kind not in (_NUMERIC - {"float32"}) | _TEMPORAL | {"string"}:
            raise _Decline(f"distinct value sets on {c.sql_type}")
        values = list(kwargs.get("value_set") or [])
        literals = _membership_literals(values, c, parse_temporal=True)
        contain = etype.endswith("contain_set")
        expected: list[Any] = []
        if contain:
            expected = [_normalise_member(v, c) for v in values]
        return _DistinctSetPlan(c, contain, literals, expected, raw=values, table=table)
    if etype in (
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_column_pair_values_to_be_equal",
    ):
        a, b = col("column_A"), col("column_B")
        fam = {k: k for k in ("string", "date", "timestamp", "timestamptz")}
        fa = "number" if a.kind in _NUMERIC else fam.get(a.kind)
        fb = "number" if b.kind in _NUMERIC else fam.get(b.kind)
        if fa is None or fa != fb:
            raise _Decline(f"pair comparison of {a.sql_type} with {b.sql_type}")
        mode = kwargs.get("ignore_row_if", "both_values_are_missing")
        kept = _kept(
            (a, b), mode, {"both_values_are_missing": "all", "either_value_is_missing": "any"}
        )
        if etype.endswith("greater_than_b"):
            op = ">=" if kwargs.get("or_equal") else ">"
        else:
            op = "="
        unexpected = (
            f"({kept}) AND ({a.missing} OR {b.missing} OR NOT ({a.value} {op} {b.value}))"
        )
        return _MapPlan((a, b), "kept", unexpected, _mostly(kwargs), kept=kept)
    raise AssertionError(etype)  # pragma: no cover


def _normalise_member(value: Any, col: ColumnInfo) -> Any:
    if col.kind in _TEMPORAL:
        parsed = _parse_temporal(value, date_only=col.kind == "date")
        return parsed if parsed is not None else value
    return value


def _kept(cols: Sequence[ColumnInfo], mode: str, names: Mapping[str, str]) -> str:
    """SQL for the rows GX keeps under ``ignore_row_if`` (pandas ``dropna(how=...)``)."""
    if mode in ("never", "neither"):
        return "TRUE"
    how = names.get(mode)
    if how is None:
        raise _Decline(f"ignore_row_if={mode!r}")
    joiner = " AND " if how == "all" else " OR "
    return "NOT (" + joiner.join(c.missing for c in cols) + ")"


def _plan_aggregate(etype: str, kwargs: Mapping[str, Any], c: ColumnInfo) -> _Plan:
    metric = _AGG_METRICS[etype]
    lo = _coerce_bound(kwargs.get("min_value"))
    hi = _coerce_bound(kwargs.get("max_value"))
    if metric in ("distinct", "proportion"):
        if c.kind not in _HASHABLE:
            raise _Decline(f"distinct counts of {c.sql_type} values")
        return _AggPlan(c, metric, kwargs)
    if metric in ("min", "max"):
        if c.kind not in _NUMERIC | _TEMPORAL | {"string"}:
            raise _Decline(f"{metric} of {c.sql_type} values")
        error = None
        for b in (lo, hi):
            if b is None:
                continue
            if c.kind == "string":
                error = f"'>=' not supported between instances of 'str' and '{type(b).__name__}'"
            else:
                error = error or _bound_type_error(b, c)
        return _AggPlan(c, metric, kwargs, type_error=error)
    if c.kind not in _NUMERIC:
        raise _Decline(f"{metric} of {c.sql_type} values")
    error = None
    for b in (lo, hi):
        if isinstance(b, dt.date):
            error = f"Could not parse metric value into datetime for bound {b!r}"
    return _AggPlan(c, metric, kwargs, type_error=error)


def _plan_map(
    etype: str, kwargs: Mapping[str, Any], c: ColumnInfo, regex_ok: Callable[[str], bool]
) -> _Plan:
    mostly = _mostly(kwargs)
    nonmissing = f"NOT {c.missing}"
    if etype == "expect_column_values_to_not_be_null":
        return _MapPlan((c,), "rows", c.missing, mostly)
    if etype == "expect_column_values_to_be_null":
        return _MapPlan((c,), "rows", nonmissing, mostly)

    def row_wise(condition: str, **extra: Any) -> _MapPlan:
        """Unexpected = non-missing and not meeting ``condition``."""
        return _MapPlan((c,), "nonnull", f"{nonmissing} AND NOT ({condition})", mostly, **extra)

    if etype in ("expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set"):
        if c.kind not in _NUMERIC | {"string", "bool"}:
            raise _Decline(f"value sets on {c.sql_type} columns (GX coerces inconsistently)")
        value_set = kwargs.get("value_set")
        if value_set is None:
            return row_wise("TRUE")  # GX: vacuously true
        members = _in_list(c.value, _membership_literals(value_set, c, parse_temporal=False))
        in_set = etype == "expect_column_values_to_be_in_set"
        return row_wise(members if in_set else f"NOT ({members})")
    if etype == "expect_column_values_to_be_between":
        lo = _coerce_bound(kwargs.get("min_value"))
        hi = _coerce_bound(kwargs.get("max_value"))
        if c.kind not in _NUMERIC | _TEMPORAL | {"string", "timestamptz"}:
            raise _Decline(f"between on {c.sql_type} values")
        if lo is None and hi is None:
            return _AlwaysError("min_value and max_value cannot both be None")
        if lo is not None and hi is not None:
            try:
                if lo > hi:
                    return _AlwaysError("min_value cannot be greater than max_value")
            except TypeError as exc:
                return _AlwaysError(str(exc))
        error = _bound_type_error(lo, c) or _bound_type_error(hi, c)
        if error:
            return _MapPlan((c,), "nonnull", "FALSE", mostly, type_error=error)
        cond = _between_sql(
            c.value,
            None if lo is None else _bound_lit(lo, c),
            None if hi is None else _bound_lit(hi, c),
            bool(kwargs.get("strict_min")),
            bool(kwargs.get("strict_max")),
        )
        return row_wise(cond)
    if etype.startswith("expect_column_value_lengths_to_"):
        if c.kind != "string":
            raise _Decline(f"lengths of {c.sql_type} values (GX measures their str())")
        length = f"length({c.value})"
        if etype.endswith("_to_equal"):
            value = kwargs.get("value")
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise _Decline("non-numeric length")
            return row_wise(f"{length} = {_num_lit(value)}")
        lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
        if lo is None and hi is None:
            return _AlwaysError("Invalid configuration")
        cond = _between_sql(
            length,
            None if lo is None else _num_lit(lo),
            None if hi is None else _num_lit(hi),
            bool(kwargs.get("strict_min")),
            bool(kwargs.get("strict_max")),
        )
        return row_wise(cond)
    # regex family
    if c.kind != "string":
        raise _Decline(f"regex on {c.sql_type} values (GX matches their str())")
    if etype in ("expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex"):
        regexes = [kwargs.get("regex", "(?s).*" if "not" not in etype else None)]
    else:
        regexes = list(kwargs.get("regex_list") or [])
    if not regexes or not all(isinstance(r, str) for r in regexes):
        raise _Decline("missing regex")
    matches, guards = [], []
    for rx in regexes:
        plan = translate_regex(rx)
        if plan.pattern is None or not regex_ok(plan.pattern):
            raise _Decline(plan.reason or f"regex {rx!r} does not compile in RE2")
        matches.append(f"regexp_matches({c.value}, {_sql_string(plan.pattern)})")
        if plan.ascii_only:
            guards.append(
                (
                    f"{nonmissing} AND strlen({c.value}) <> length({c.value})",
                    "\\b in a regex differs between RE2 and Python on non-ASCII values",
                )
            )
        if plan.no_newline:
            guards.append(
                (
                    f"{nonmissing} AND contains({c.value}, chr(10))",
                    "$ in a regex differs between RE2 and Python on values with newlines",
                )
            )
    guards = list(dict.fromkeys(guards))
    if etype == "expect_column_values_to_match_regex":
        cond = matches[0]
    elif etype == "expect_column_values_to_not_match_regex":
        cond = f"NOT {matches[0]}"
    elif etype == "expect_column_values_to_not_match_regex_list":
        cond = "NOT (" + " OR ".join(matches) + ")"
    else:
        match_on = kwargs.get("match_on", "any")
        if match_on not in ("any", "all"):
            raise _Decline(f"match_on={match_on!r}")
        cond = "(" + (" OR " if match_on == "any" else " AND ").join(matches) + ")"
    return row_wise(cond, guards=tuple(guards))


@dataclass
class _AlwaysError(_Plan):
    """GX raises before looking at any value (bad bounds): an unconditional error outcome."""

    message: str
    rows_alias: str = ""

    def register(self, p: _Pass) -> None:
        self.rows_alias = p.add(_ROWS)

    def finish(self, v: Mapping[str, Any]) -> NativeResult:
        return NativeResult(success=False, element_count=0, error=self.message)


# --- evaluation -----------------------------------------------------------------------------


def _regex_checker(con: duckdb.DuckDBPyConnection) -> Callable[[str], bool]:
    cache: dict[str, bool] = {}

    def ok(pattern: str) -> bool:
        if pattern not in cache:
            try:
                con.execute(f"SELECT regexp_matches('', {_sql_string(pattern)})").fetchall()
                cache[pattern] = True
            except duckdb.Error:
                cache[pattern] = False
        return cache[pattern]

    return ok


def evaluate(
    con: duckdb.DuckDBPyConnection,
    table: str,
    expectations: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    columns: Sequence[ColumnInfo] | None = None,
    example_limit: int = 5,
) -> list[NativeResult | NotNative]:
    """Evaluate ``(type, kwargs)`` pairs on ``table``; one result (or NotNative) per pair.

    All row-wise and aggregate expectations share ONE aggregate scan; uniqueness adds one
    statement of GROUP BY subqueries; example values are fetched only for expectations with
    unexpected values, with a small LIMIT query each. Kwargs should be GX-normalised (as
    :mod:`auditor.validate` passes them) but ISO date strings and numeric strings are accepted.
    Columns named by an expectation must exist (check with :func:`missing_columns` first).
    """
    cols = tuple(columns) if columns is not None else describe_table(con, table)
    regex_ok = _regex_checker(con)
    plans: list[_Plan | NotNative] = []
    for etype, kwargs in expectations:
        try:
            plans.append(_plan(etype, dict(kwargs), cols, table, regex_ok))
        except _Decline as exc:
            plans.append(NotNative(str(exc)))
    active = [p for p in plans if isinstance(p, _Plan)]
    if not active:
        return [p if isinstance(p, NotNative) else NotNative("unplanned") for p in plans]

    p = _Pass()
    for plan in active:
        plan.register(p)
    select = ", ".join(f"{sql} AS {alias}" for sql, alias in p.exprs.items())
    # fetchall, not fetchone: DuckDB 2 keeps a half-read result open and then refuses
    # relational calls (con.sql, con.table) on the connection.
    row = con.execute(f"SELECT {select} FROM {quote_ident(table)}").fetchall()[0]
    values: dict[str, Any] = dict(zip(p.exprs.values(), row, strict=True))
    if p.unique:
        select = ", ".join(f"({sql}) AS {alias}" for sql, alias in p.unique.items())
        urow = con.execute(f"SELECT {select}").fetchall()[0]
        values.update(zip(p.unique.values(), urow, strict=True))

    out: list[NativeResult | NotNative] = []
    for plan in plans:
        if isinstance(plan, NotNative):
            out.append(plan)
            continue
        result = plan.finish(values)
        if isinstance(result, NativeResult):
            if example_limit > 0 and not result.examples:
                result = _with_examples(con, table, plan, result, example_limit)
            if len(result.examples) > max(example_limit, 0):
                result = replace(result, examples=result.examples[: max(example_limit, 0)])
        out.append(result)
    return out


def _with_examples(
    con: duckdb.DuckDBPyConnection,
    table: str,
    plan: _Plan,
    result: NativeResult,
    limit: int,
) -> NativeResult:
    if result.error or not result.unexpected_count:
        return result
    sql = plan.example_sql(table, limit)
    if sql is None:
        return result
    rows = con.execute(sql).fetchall()
    columns: tuple[str | None, ...]
    if isinstance(plan, _MapPlan | _UniquePlan):
        columns = tuple(c.name for c in plan.columns)
    elif isinstance(plan, _DistinctSetPlan):
        columns = (plan.column.name,)
    else:  # pragma: no cover
        columns = ()
    examples = tuple(tuple(r[: len(columns)]) for r in rows)
    # A null (or all-null pair) says nothing a count does not already say.
    examples = tuple(e for e in examples if any(plain_value(x) is not None for x in e))
    return replace(result, examples=examples, example_columns=columns)
