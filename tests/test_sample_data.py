"""sample_data/ and expectations/: determinism, GX acceptance, and planted problems being caught.

The suites are run here with Great Expectations' own pandas engine (not the auditor's DuckDB
engine) so that the suite files are proven against the reference implementation.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import great_expectations as gx
import pandas as pd
import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
SUITES = ROOT / "expectations"
MANIFEST: dict[str, Any] = json.loads((SAMPLE / "planted.json").read_text(encoding="utf-8"))
SUITE_FOR = {
    "crm.accounts": "crm_accounts",
    "crm.contacts": "crm_contacts",
    "crm.opportunities": "crm_opportunities",
    "crm.support_tickets": "crm_support_tickets",
    "erp.customers": "erp_customers",
    "erp.invoices": "erp_invoices",
    "erp.orders": "erp_orders",
}
ALLOWED_TYPES = {
    "expect_column_to_exist",
    "expect_table_row_count_to_be_between",
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_unique",
    "expect_compound_columns_to_be_unique",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_be_between",
    "expect_column_values_to_match_regex",
    "expect_column_value_lengths_to_be_between",
    "expect_column_min_to_be_between",
    "expect_column_max_to_be_between",
    "expect_column_distinct_values_to_be_in_set",
    "expect_column_pair_values_a_to_be_greater_than_b",
}
GX_DETECTED = [p for p in MANIFEST["problems"] if p.get("detected_by")]


def generated_files(root: Path) -> list[str]:
    files = [p for sub in ("crm", "erp") for p in (root / sub).rglob("*") if p.is_file()]
    return sorted([p.relative_to(root).as_posix() for p in files] + ["planted.json"])


def suite_json(name: str) -> dict[str, Any]:
    return json.loads((SUITES / f"{name}.json").read_text(encoding="utf-8"))


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def load_frame(meta: dict[str, Any]) -> pd.DataFrame:
    path = SAMPLE / meta["path"]
    fmt = meta["format"]
    if fmt == "csv":
        # duckdb 2.0's Python read_csv() refuses any encoding but UTF-8; the SQL table function
        # decodes latin-1 itself.
        return duckdb.sql(
            f"select * from read_csv({sql_literal(str(path))}, "
            f"delim={sql_literal(meta['delimiter'])}, encoding={sql_literal(meta['encoding'])})"
        ).df()
    if fmt == "jsonl":
        return duckdb.read_json(str(path)).df()
    if fmt == "parquet":
        return duckdb.read_parquet(str(path)).df()
    if fmt == "xlsx":
        return pl.read_excel(path, sheet_name=meta["sheet"], engine="calamine").to_pandas()
    raise AssertionError(f"unknown format {fmt}")


@pytest.fixture(scope="module")
def results() -> dict[str, list[Any]]:
    """Every suite validated with GX's pandas engine on its dataset, keyed by dataset name."""
    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_pandas("sample_data")
    out: dict[str, list[Any]] = {}
    for dataset, suite_name in SUITE_FOR.items():
        frame = load_frame(MANIFEST["datasets"][dataset])
        batch = (
            source.add_dataframe_asset(suite_name)
            .add_batch_definition_whole_dataframe("all")
            .get_batch(batch_parameters={"dataframe": frame})
        )
        suite = gx.ExpectationSuite(**suite_json(suite_name))
        out[dataset] = list(batch.validate(suite, result_format="SUMMARY").results)
    return out


def columns_of(kwargs: dict[str, Any]) -> set[str]:
    cols = {kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs}
    return cols | set(kwargs.get("column_list", []))


def test_generator_is_deterministic(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(SAMPLE / "generate.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert generated_files(tmp_path) == generated_files(SAMPLE)
    for rel in generated_files(SAMPLE):
        assert (tmp_path / rel).read_bytes() == (SAMPLE / rel).read_bytes(), (
            f"{rel} differs from a fresh run; rerun sample_data/generate.py and commit"
        )


def test_sample_data_stays_small() -> None:
    total = sum((SAMPLE / rel).stat().st_size for rel in generated_files(SAMPLE))
    assert total < 2 * 1024 * 1024


@pytest.mark.parametrize("suite_name", sorted(SUITE_FOR.values()))
def test_suite_is_accepted_by_gx(suite_name: str) -> None:
    raw = suite_json(suite_name)
    suite = gx.ExpectationSuite(**raw)
    assert suite.to_json_dict() == raw, "suite file is not in GX's own serialised shape"
    assert raw["meta"]["dataset"] in SUITE_FOR
    dataset_columns = set(MANIFEST["datasets"][raw["meta"]["dataset"]]["columns"])
    for exp in raw["expectations"]:
        assert exp["type"] in ALLOWED_TYPES
        assert exp["severity"] in {"critical", "warning"}
        assert set(exp["meta"]) == {"check_id", "dimension", "rationale"}
        assert re.fullmatch(r"Q\d+", exp["meta"]["check_id"])
        assert exp["meta"]["dimension"] in {"validity", "completeness", "uniqueness"}
        assert columns_of(exp["kwargs"]) <= dataset_columns
        if "regex" in exp["kwargs"]:
            pattern = exp["kwargs"]["regex"]
            re.compile(pattern)
            assert "(?" not in pattern and not re.search(r"\\[1-9]", pattern), "not RE2-safe"


def test_every_expectation_runs(results: dict[str, list[Any]]) -> None:
    errors = [
        (dataset, r.expectation_config.type, r.exception_info.get("exception_message"))
        for dataset, rs in results.items()
        for r in rs
        if r.exception_info.get("raised_exception")
    ]
    assert errors == []


@pytest.mark.parametrize("problem", GX_DETECTED, ids=[p["id"] for p in GX_DETECTED])
def test_planted_problem_is_caught(problem: dict[str, Any], results: dict[str, list[Any]]) -> None:
    column = problem["detected_by"]["column"]
    failing = [
        (r.expectation_config.type, r.result.get("unexpected_count"))
        for r in results[problem["dataset"]]
        if column in columns_of(r.expectation_config.kwargs) and not r.success
    ]
    assert any((count or 0) >= problem["count"] for _, count in failing), (
        f"{problem['id']}: planted {problem['count']}, failing expectations {failing}"
    )
    assert problem["detected_by"]["expectation"] in {t for t, _ in failing}


def test_failures_are_all_planted(results: dict[str, list[Any]]) -> None:
    """No suite fails on something the manifest does not declare (the manifest is complete)."""
    planted: dict[str, set[str]] = {}
    for p in MANIFEST["problems"]:
        planted.setdefault(p["dataset"], set()).update(p["columns"])
    unplanned = [
        (dataset, r.expectation_config.type, r.expectation_config.kwargs)
        for dataset, rs in results.items()
        for r in rs
        if not r.success
        and not columns_of(r.expectation_config.kwargs) & planted.get(dataset, set())
    ]
    assert unplanned == []


def test_opportunities_suite_has_no_failing_critical(results: dict[str, list[Any]]) -> None:
    failing = [
        r.expectation_config.type
        for r in results["crm.opportunities"]
        if not r.success and str(getattr(r.expectation_config.severity, "value", "")) == "critical"
    ]
    assert failing == []
    warnings = {
        next(iter(columns_of(r.expectation_config.kwargs)))
        for r in results["crm.opportunities"]
        if not r.success
    }
    assert {"amount", "currency"} <= warnings


def test_cross_dataset_problems_match_the_files() -> None:
    """Orphan keys and staleness recomputed with DuckDB from the files, not the generator."""
    con = duckdb.connect()
    for dataset in SUITE_FOR:
        con.register(dataset.replace(".", "_"), load_frame(MANIFEST["datasets"][dataset]))
    problems = {p["id"]: p for p in MANIFEST["problems"]}

    def orphans(child: str, col: str, parent: str, key: str) -> int:
        return con.sql(
            f"select count(*) from {child} where {col} is not null "
            f"and {col} not in (select {key} from {parent})"
        ).fetchall()[0][0]

    got = orphans("crm_contacts", "account_id", "crm_accounts", "account_id")
    assert got == problems["crm.contacts:orphan_foreign_key:account_id"]["count"]
    got = orphans("crm_opportunities", "account_id", "crm_accounts", "account_id")
    assert got == problems["crm.opportunities:orphan_foreign_key:account_id"]["count"]
    assert got / MANIFEST["datasets"]["crm.opportunities"]["rows"] < 0.05
    got = orphans("erp_invoices", "customer_id", "erp_customers", "customer_id")
    assert got == problems["erp.invoices:orphan_foreign_key:customer_id"]["count"]
    matched, total = con.sql(
        "select count(*) filter (where crm_account_id in (select account_id from crm_accounts)), "
        "count(*) from erp_customers"
    ).fetchall()[0]
    assert matched / total < 0.95
    assert (
        matched / total
        == problems["erp.customers:orphan_foreign_key:crm_account_id"]["stats"]["match_rate"]
    )
    as_of = MANIFEST["as_of"].rstrip("Z")
    age_hours = con.sql(
        f"select date_diff('second', max(loaded_at), timestamp {sql_literal(as_of)}) / 3600.0 "
        "from erp_invoices"
    ).fetchall()[0][0]
    assert 200 < age_hours < 230  # about 9 days: beyond the churn use case's 72 h error_after
