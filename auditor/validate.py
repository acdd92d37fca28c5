"""Load Great Expectations 1.x suites and run them against DuckDB tables.

This is the only module of the project that imports great_expectations. Why the split:

* GX 1.x's SQL datasource returns no rows on DuckDB (duckdb-engine; GX issues #10738, #11579),
  so GX cannot read our tables directly.
* GX's pandas engine is correct but costs ~50 s and 1.5 GB for 30 expectations on 1M rows.

So :func:`run_suite` evaluates every expectation :mod:`auditor.expectation_sql` supports in
DuckDB (one aggregate scan, GX's pandas semantics) and hands only the rest to real GX, on the
table fetched into pandas (only the columns those expectations name). :func:`run_suite_with_gx`
sends everything through GX; it is the oracle in tests and what ``--engine gx`` runs.

Suites are GX's own JSON (``ExpectationSuite.to_json_dict()``) and are validated by constructing
GX's classes, so a suite this module accepts is one GX accepts. The one liberty: ``severity`` may
be GX's (critical/warning/info) or the auditor's (blocker/critical/major/minor/info); it is
passed through to the outcome and not given to GX.

Kwargs are normalised by GX's own pydantic models before native evaluation (``5`` → ``5.0``,
``"2024-01-01"`` → ``datetime.date``), so both engines compare against identical bounds.

GX sees the table as DuckDB → Arrow → pandas (:func:`fetch_dataframe`): DATE stays
``datetime.date`` and integer columns with NULLs become float64. DuckDB's own ``.df()`` gives
pandas nullable ``Int64`` and ``datetime64`` DATE columns instead, on which GX 1.24.1 raises for
column-pair expectations with NULLs and for date-only bounds.

A column an expectation names but the table lacks is an outcome (``success=False`` plus an
``error`` naming column and dataset), in both engines. Example values are strings; values of
``masked_columns`` go through their masking function first, whichever engine produced them.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import duckdb

from auditor import expectation_sql as xsql
from auditor.errors import SuiteError
from auditor.models import SEVERITY_ORDER, ExpectationOutcome

logger = logging.getLogger(__name__)

_GX_SEVERITIES = ("critical", "warning", "info")
_SEVERITIES = frozenset(_GX_SEVERITIES) | frozenset(SEVERITY_ORDER)

ENGINE_NATIVE = "duckdb-sql"
ENGINE_GX = "gx-pandas"


class SuiteExpectation(NamedTuple):
    """One expectation exactly as the suite file states it (kwargs are not normalised)."""

    type: str
    kwargs: dict[str, Any]
    meta: dict[str, Any]
    severity: str


@dataclass(frozen=True, slots=True)
class Suite:
    """A validated GX 1.x expectation suite."""

    name: str
    path: Path | None
    expectations: tuple[SuiteExpectation, ...]
    meta: dict[str, Any] = field(default_factory=dict)


# --- loading --------------------------------------------------------------------------------


def _gx() -> Any:
    """Import GX lazily: it takes ~2 s, and not every CLI command validates."""
    import great_expectations as gx

    return gx


def _build_expectation(etype: str, kwargs: Mapping[str, Any], meta: Mapping[str, Any]) -> Any:
    """A GX Expectation object built by GX itself (raises on unknown type or bad kwargs)."""
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        config = ExpectationConfiguration(type=etype, kwargs=dict(kwargs), meta=dict(meta))
        return config.to_domain_obj()


def gx_suite_json(name: str, expectations: Sequence[tuple[str, Mapping[str, Any],
                                                          Mapping[str, Any], str]],
                  *, meta: Mapping[str, Any], notes: str | None = None,
                  ) -> tuple[dict[str, Any], dict[int, str]]:
    """Suite JSON built by GX's own classes from (type, kwargs, meta, severity) tuples.

    Returns the ``to_json_dict()`` of the suite and, by input index, the reason GX rejected an
    expectation (those are left out). Lets other modules write suites without importing GX.
    """
    objects = []
    rejected: dict[int, str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, (etype, kwargs, emeta, severity) in enumerate(expectations):
            try:
                obj = _build_expectation(etype, kwargs, emeta)
                obj.severity = severity
                objects.append(obj)
            except Exception as exc:  # noqa: BLE001 - GX rejects in many ways; all mean "drop"
                rejected[i] = str(exc)
        suite = _gx().ExpectationSuite(name=name, expectations=objects, meta=dict(meta),
                                       notes=notes)
        return suite.to_json_dict(), rejected


def _describe_problem(exc: Exception) -> str:
    """One line for a GX/pydantic construction error."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            parts = []
            for err in errors():
                loc = ".".join(str(x) for x in err.get("loc", ()) if x != "__root__")
                parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
            if parts:
                return "; ".join(dict.fromkeys(parts))
        except Exception:  # noqa: BLE001 - fall back to the plain message
            pass
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def load_suite(path: Path) -> Suite:
    """Read and validate a GX 1.x suite JSON file; any problem is a :class:`SuiteError`.

    Every message starts with the file path and, for expectation problems, names the
    expectation's position (0-based, as in the file's list) and type.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SuiteError(f"{path}: cannot read suite file: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SuiteError(
            f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    if not isinstance(data, dict):
        raise SuiteError(f"{path}: a suite must be a JSON object with 'name' and 'expectations'")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise SuiteError(f"{path}: the suite has no 'name' (GX 1.x suites must be named)")
    raw = data.get("expectations")
    if not isinstance(raw, list):
        raise SuiteError(f"{path}: 'expectations' must be a list")
    suite_meta = data.get("meta") or {}
    if not isinstance(suite_meta, dict):
        raise SuiteError(f"{path}: 'meta' must be an object")

    items: list[SuiteExpectation] = []
    gx_objects = []
    for i, item in enumerate(raw):
        where = f"{path}: expectation #{i}"
        if not isinstance(item, dict):
            raise SuiteError(f"{where}: must be an object with 'type' and 'kwargs'")
        etype = item.get("type")
        if etype is None and "expectation_type" in item:
            raise SuiteError(
                f"{where} ({item['expectation_type']}): uses the GX 0.x key 'expectation_type'",
                hint="GX 1.x suites name the expectation under 'type'",
            )
        if not isinstance(etype, str) or not etype:
            raise SuiteError(f"{where}: has no 'type'")
        where = f"{where} ({etype})"
        kwargs = item.get("kwargs", {})
        meta = item.get("meta") or {}
        severity = item.get("severity") or "critical"
        if not isinstance(kwargs, dict):
            raise SuiteError(f"{where}: 'kwargs' must be an object")
        if not isinstance(meta, dict):
            raise SuiteError(f"{where}: 'meta' must be an object")
        if severity not in _SEVERITIES:
            raise SuiteError(
                f"{where}: unknown severity {severity!r}",
                hint=f"use one of {', '.join(sorted(_SEVERITIES))}",
            )
        try:
            gx_objects.append(_build_expectation(etype, kwargs, meta))
        except Exception as exc:  # noqa: BLE001 - GX raises many types; all mean "invalid"
            if type(exc).__name__ == "ExpectationNotFoundError":
                problem = "unknown expectation type"
            else:
                problem = _describe_problem(exc)
            raise SuiteError(f"{where}: {problem}") from exc
        items.append(SuiteExpectation(etype, dict(kwargs), dict(meta), str(severity)))
    try:
        _gx().ExpectationSuite(name=name, expectations=gx_objects, meta=dict(suite_meta))
    except Exception as exc:  # noqa: BLE001
        raise SuiteError(f"{path}: invalid suite: {_describe_problem(exc)}") from exc
    return Suite(name=name, path=path, expectations=tuple(items), meta=dict(suite_meta))


@functools.lru_cache(maxsize=4096)
def _normalised_kwargs_cached(etype: str, kwargs_json: str) -> dict[str, Any]:
    kwargs = json.loads(kwargs_json)
    return dict(_build_expectation(etype, kwargs, {}).configuration.kwargs)


def _normalised_kwargs(suite: Suite, index: int) -> dict[str, Any]:
    """Kwargs as GX's pydantic model coerces them (what GX itself would compare against)."""
    exp = suite.expectations[index]
    try:
        try:
            key = json.dumps(exp.kwargs, sort_keys=True)
        except TypeError:  # built in code with non-JSON values; no caching
            return dict(_build_expectation(exp.type, exp.kwargs, {}).configuration.kwargs)
        return dict(_normalised_kwargs_cached(exp.type, key))
    except Exception as exc:  # noqa: BLE001 - a Suite built without load_suite
        where = suite.path or suite.name
        raise SuiteError(
            f"{where}: expectation #{index} ({exp.type}): {_describe_problem(exc)}"
        ) from exc


# --- outcomes -------------------------------------------------------------------------------


def _missing_column_outcome(
    suite: Suite, exp: SuiteExpectation, missing: Sequence[str], dataset: str, engine: str
) -> ExpectationOutcome:
    names = ", ".join(repr(c) for c in missing)
    noun = "column" if len(missing) == 1 else "columns"
    return ExpectationOutcome(
        suite=suite.name,
        dataset=dataset,
        expectation_type=exp.type,
        kwargs=dict(exp.kwargs),
        success=False,
        severity=exp.severity,
        meta=dict(exp.meta),
        engine=engine,
        error=f"{noun} {names} not found in dataset {dataset!r}",
    )


def _render_examples(
    examples: Sequence[Sequence[Any]],
    columns: Sequence[str | None],
    masked: Mapping[str, Callable[[Any], str]],
) -> tuple[str, ...]:
    """Examples as strings; values of masked columns go through their masking function."""
    rendered = []
    for example in examples:
        parts = []
        for i, value in enumerate(example):
            column = columns[i] if i < len(columns) else None
            plain = xsql.plain_value(value)
            if column is not None and column in masked:
                parts.append(str(masked[column](plain)))
            else:
                parts.append(xsql.format_value(plain))
        rendered.append(parts[0] if len(parts) == 1 else "(" + ", ".join(parts) + ")")
    return tuple(rendered)


def _example_columns(exp_type: str, kwargs: Mapping[str, Any]) -> tuple[str | None, ...]:
    if "column_list" in kwargs:
        return tuple(kwargs["column_list"])
    if "column_A" in kwargs and "column_B" in kwargs:
        return (kwargs["column_A"], kwargs["column_B"])
    if "column" in kwargs and not exp_type.startswith("expect_table_"):
        return (kwargs["column"],)
    return (None,)


def _native_outcome(
    suite: Suite,
    exp: SuiteExpectation,
    result: xsql.NativeResult,
    dataset: str,
    masked: Mapping[str, Callable[[Any], str]],
) -> ExpectationOutcome:
    return ExpectationOutcome(
        suite=suite.name,
        dataset=dataset,
        expectation_type=exp.type,
        kwargs=dict(exp.kwargs),
        success=result.success,
        element_count=result.element_count,
        unexpected_count=result.unexpected_count,
        missing_count=result.missing_count,
        unexpected_percent=result.unexpected_percent,
        observed_value=xsql.to_jsonable(result.observed_value),
        examples=_render_examples(result.examples, result.example_columns, masked),
        severity=exp.severity,
        meta=dict(exp.meta),
        engine=ENGINE_NATIVE,
        error=result.error,
    )


# --- GX pandas engine -----------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _gx_batch_definition() -> Any:
    """One ephemeral, in-memory GX context with a whole-dataframe batch definition."""
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas(f"auditor-{uuid.uuid4().hex[:8]}")
    asset = source.add_dataframe_asset("table")
    return asset.add_batch_definition_whole_dataframe("whole")


def fetch_dataframe(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[xsql.ColumnInfo] | None = None,
) -> Any:
    """The table as the pandas frame GX validates (see :func:`expectation_sql.fetch_sql`)."""
    cols = tuple(columns) if columns is not None else xsql.describe_table(con, table)
    # DuckDB 2 refuses relational calls while a caller's execute() result is half read
    # (fetchone); a fresh execute() supersedes it. The relation API avoids an extra Arrow copy.
    con.execute("SELECT 1").fetchall()
    return con.sql(xsql.fetch_sql(table, cols)).to_arrow_table().to_pandas()


def _gx_error(result: Any) -> str | None:
    info = getattr(result, "exception_info", None) or {}
    messages: list[str] = []
    if info.get("raised_exception"):
        messages.append(str(info.get("exception_message")))
    else:
        for value in info.values():
            if isinstance(value, dict) and value.get("raised_exception"):
                messages.append(str(value.get("exception_message")))
    return "; ".join(dict.fromkeys(messages)) or None


def _int_like(value: Any, column: xsql.ColumnInfo | None) -> Any:
    """pandas turns integer columns with NULLs into float64; give such values back as ints."""
    value = xsql.plain_value(value)
    if (
        column is not None
        and column.kind == "int"
        and isinstance(value, float)
        and value.is_integer()
    ):
        return int(value)
    return value


def _value_key(value: Any) -> tuple[Any, ...]:
    """Sort key matching DuckDB's ``ORDER BY v NULLS FIRST`` for values of one column."""
    value = xsql.plain_value(value)
    if value is None:
        return (0,)
    return (1, value)


def _gx_examples(
    exp_type: str,
    kwargs: Mapping[str, Any],
    res: Mapping[str, Any],
    by_name: Mapping[str, xsql.ColumnInfo],
    limit: int,
) -> tuple[tuple[tuple[Any, ...], ...], tuple[str | None, ...]]:
    columns = _example_columns(exp_type, kwargs)
    if limit <= 0:
        return (), columns
    if exp_type == "expect_table_columns_to_match_set":
        mismatched = (res.get("details") or {}).get("mismatched") or {}
        rows = [(f"missing: {c}",) for c in mismatched.get("missing", [])]
        rows += [(f"unexpected: {c}",) for c in mismatched.get("unexpected", [])]
        return tuple(rows[:limit]), (None,)
    col_infos = [by_name.get(c) if c else None for c in columns]
    if exp_type == "expect_column_distinct_values_to_contain_set":
        values = [(v,) for v in res.get("partial_missing_list") or []]
        values.sort(key=lambda t: xsql.example_sort_key(t[0]))
        return tuple(values[:limit]), columns
    if exp_type == "expect_column_distinct_values_to_be_in_set":
        values = [(_int_like(v, col_infos[0]),) for v in res.get("partial_unexpected_list") or []]
        return tuple(values[:limit]), columns
    raw = res.get("unexpected_list")
    if raw is None:
        raw = res.get("partial_unexpected_list") or []
    tuples: list[tuple[Any, ...]] = []
    for item in raw:
        if isinstance(item, dict):
            item = tuple(item.get(c) for c in columns)
        elif not isinstance(item, tuple):
            item = (item,)
        item = tuple(
            _int_like(v, col_infos[i] if i < len(col_infos) else None) for i, v in enumerate(item)
        )
        if any(v is not None for v in item):
            tuples.append(item)
    counts = Counter(tuples)

    def key(entry: tuple[tuple[Any, ...], int]) -> tuple[Any, ...]:
        return (-entry[1], tuple(_value_key(v) for v in entry[0]))

    try:
        ordered = sorted(counts.items(), key=key)
    except TypeError:  # mixed types in one object column
        ordered = sorted(counts.items(), key=lambda e: (-e[1], repr(e[0])))
    return tuple(values for values, _ in ordered[:limit]), columns


def _gx_outcome(
    suite: Suite,
    exp: SuiteExpectation,
    result: Any,
    dataset: str,
    by_name: Mapping[str, xsql.ColumnInfo],
    masked: Mapping[str, Callable[[Any], str]],
    example_limit: int,
) -> ExpectationOutcome:
    res = dict(result.result or {})
    observed = res.get("observed_value")
    if exp.type in (
        "expect_column_min_to_be_between",
        "expect_column_max_to_be_between",
        "expect_column_sum_to_be_between",
    ):
        observed = _int_like(observed, by_name.get(str(exp.kwargs.get("column"))))
    percent = res.get("unexpected_percent")
    examples, columns = _gx_examples(exp.type, exp.kwargs, res, by_name, example_limit)
    return ExpectationOutcome(
        suite=suite.name,
        dataset=dataset,
        expectation_type=exp.type,
        kwargs=dict(exp.kwargs),
        success=None if result.success is None else bool(result.success),
        element_count=int(res.get("element_count") or 0),
        unexpected_count=int(res.get("unexpected_count") or 0),
        missing_count=int(res.get("missing_count") or 0),
        unexpected_percent=None if percent is None else float(percent),
        observed_value=xsql.to_jsonable(observed),
        examples=_render_examples(examples, columns, masked),
        severity=exp.severity,
        meta=dict(exp.meta),
        engine=ENGINE_GX,
        error=_gx_error(result),
    )


def _run_gx(
    con: duckdb.DuckDBPyConnection,
    table: str,
    suite: Suite,
    indices: Sequence[int],
    *,
    columns: Sequence[xsql.ColumnInfo],
    dataset: str,
    masked: Mapping[str, Callable[[Any], str]],
    example_limit: int,
    result_format: Literal["SUMMARY", "COMPLETE"],
) -> dict[int, ExpectationOutcome]:
    """Validate ``suite.expectations[indices]`` with GX's pandas engine."""
    if not indices:
        return {}
    gx = _gx()
    wanted: set[str] | None = set()
    for i in indices:
        exp = suite.expectations[i]
        refs = xsql.referenced_columns(exp.kwargs)
        shape = exp.type.startswith("expect_table_") or exp.type == "expect_column_to_exist"
        if refs is None or wanted is None or shape:
            wanted = None
        else:
            wanted.update(refs)
    fetch_cols = [c for c in columns if wanted is None or c.name in wanted] or list(columns)
    frame = fetch_dataframe(con, table, fetch_cols)

    objects = []
    for i in indices:
        exp = suite.expectations[i]
        objects.append(_build_expectation(exp.type, exp.kwargs, {"auditor_index": i}))
    gx_suite = gx.ExpectationSuite(
        name=f"{suite.name}-{uuid.uuid4().hex[:8]}", expectations=objects
    )
    fmt: dict[str, Any] = {
        "result_format": result_format,
        "partial_unexpected_count": max(int(example_limit), 20),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = _gx_batch_definition().get_batch(batch_parameters={"dataframe": frame})
        validation = batch.validate(gx_suite, result_format=fmt)

    by_name = {c.name: c for c in columns}
    out: dict[int, ExpectationOutcome] = {}
    for result in validation.results:
        i = int(result.expectation_config.meta["auditor_index"])
        out[i] = _gx_outcome(
            suite, suite.expectations[i], result, dataset, by_name, masked, example_limit
        )
    return out


# --- public entry points --------------------------------------------------------------------


def run_suite(
    con: duckdb.DuckDBPyConnection,
    table: str,
    suite: Suite,
    *,
    dataset: str,
    masked_columns: Mapping[str, Callable[[Any], str]] | None = None,
    example_limit: int = 5,
) -> list[ExpectationOutcome]:
    """Validate ``table`` against ``suite``: natively where possible, GX pandas otherwise.

    Outcomes come back in suite order. A column the table lacks gives an outcome with
    ``success=False`` and an ``error`` naming it and the dataset, never an exception.
    """
    masked = dict(masked_columns or {})
    columns = xsql.describe_table(con, table)
    names = [c.name for c in columns]
    outcomes: dict[int, ExpectationOutcome] = {}
    native: list[tuple[int, str, dict[str, Any]]] = []
    fallback: list[int] = []
    for i, exp in enumerate(suite.expectations):
        missing = xsql.missing_columns(exp.type, exp.kwargs, names)
        if missing:
            outcomes[i] = _missing_column_outcome(suite, exp, missing, dataset, ENGINE_NATIVE)
        else:
            native.append((i, exp.type, _normalised_kwargs(suite, i)))

    if native:
        try:
            results = xsql.evaluate(
                con,
                table,
                [(t, kw) for _, t, kw in native],
                columns=columns,
                example_limit=example_limit,
            )
        except duckdb.Error as exc:  # a bug here must not lose the validation
            logger.warning("native validation of %s failed, using GX instead: %s", dataset, exc)
            results = [xsql.NotNative(f"native evaluation failed: {exc}")] * len(native)
        for (i, etype, _), result in zip(native, results, strict=True):
            if isinstance(result, xsql.NotNative):
                logger.info("%s: %s #%d runs in GX pandas: %s", dataset, etype, i, result.reason)
                fallback.append(i)
            else:
                exp = suite.expectations[i]
                outcomes[i] = _native_outcome(suite, exp, result, dataset, masked)

    outcomes.update(
        _run_gx(
            con,
            table,
            suite,
            fallback,
            columns=columns,
            dataset=dataset,
            masked=masked,
            example_limit=example_limit,
            result_format="SUMMARY",
        )
    )
    return [outcomes[i] for i in range(len(suite.expectations))]


def run_suite_with_gx(
    con: duckdb.DuckDBPyConnection,
    table: str,
    suite: Suite,
    *,
    dataset: str,
    masked_columns: Mapping[str, Callable[[Any], str]] | None = None,
    example_limit: int = 5,
    result_format: Literal["SUMMARY", "COMPLETE"] = "COMPLETE",
) -> list[ExpectationOutcome]:
    """Validate every expectation with GX's pandas engine (slow; the reference semantics).

    With ``COMPLETE`` the examples are the most frequent of the first 200 unexpected values
    (GX caps its lists at 200), which is what the native engine reports whenever there are at
    most 200; ``SUMMARY`` only looks at the first 20 unexpected rows.
    """
    masked = dict(masked_columns or {})
    columns = xsql.describe_table(con, table)
    names = [c.name for c in columns]
    outcomes: dict[int, ExpectationOutcome] = {}
    todo: list[int] = []
    for i, exp in enumerate(suite.expectations):
        missing = xsql.missing_columns(exp.type, exp.kwargs, names)
        if missing:
            outcomes[i] = _missing_column_outcome(suite, exp, missing, dataset, ENGINE_GX)
        else:
            todo.append(i)
    outcomes.update(
        _run_gx(
            con,
            table,
            suite,
            todo,
            columns=columns,
            dataset=dataset,
            masked=masked,
            example_limit=example_limit,
            result_format=result_format,
        )
    )
    return [outcomes[i] for i in range(len(suite.expectations))]


def suite_from_expectations(
    name: str,
    expectations: Sequence[tuple[str, Mapping[str, Any]] | SuiteExpectation],
    *,
    severity: str = "critical",
) -> Suite:
    """Build (and GX-validate) an in-memory suite, e.g. one generated from a profile or from
    a source's field metadata; plain ``(type, kwargs)`` pairs get ``severity`` and no meta."""
    items = []
    for i, item in enumerate(expectations):
        if not isinstance(item, SuiteExpectation):
            item = SuiteExpectation(item[0], dict(item[1]), {}, severity)
        try:
            _build_expectation(item.type, item.kwargs, item.meta)
        except Exception as exc:  # noqa: BLE001
            problem = _describe_problem(exc)
            raise SuiteError(f"{name}: expectation #{i} ({item.type}): {problem}") from exc
        items.append(item)
    return Suite(name=name, path=None, expectations=tuple(items))
