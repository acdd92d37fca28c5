"""End to end: `auditor audit` on sample_data finds every planted problem and gives each use case
the band its problems imply. Expected counts come from sample_data/planted.json, which the seeded
generator computes from the rows it wrote; nothing here is typed in by hand.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from auditor.cli import app

ROOT = Path(__file__).resolve().parent.parent
PLANTED = json.loads((ROOT / "sample_data" / "planted.json").read_text())["problems"]
runner = CliRunner()


def copy_sample(tmp: Path) -> Path:
    """A private copy of sample_data + expectations, so tests may break files freely."""
    shutil.copytree(ROOT / "sample_data", tmp / "sample_data",
                    ignore=shutil.ignore_patterns("synth", "__pycache__"))
    shutil.copytree(ROOT / "expectations", tmp / "expectations")
    return tmp / "sample_data" / "audit.yml"


def audit_json(config: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    out = config.parent / "report.json"
    res = runner.invoke(app, ["--quiet", "audit", str(config), "--format", "json",
                              "--output", str(out), *extra])
    assert out.exists(), res.output
    return res.exit_code, json.loads(out.read_text())


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], Path]:
    config = copy_sample(tmp_path_factory.mktemp("e2e"))
    code, report = audit_json(config)
    return code, report, config


def use_case(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(u for u in report["use_cases"] if u["use_case"] == name)


def check(uc: dict[str, Any], cid: str) -> dict[str, Any]:
    return next(c for c in uc["checks"] if c["check"] == cid)


def findings(report: dict[str, Any], code: str, dataset: str | None = None,
             column: str | None = None) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["code"] == code
            and (dataset is None or f["dataset"] == dataset)
            and (column is None or f["column"] == column)]


def test_bands_follow_the_planted_problems(sample_run: Any) -> None:
    code, report, _ = sample_run
    churn = use_case(report, "churn-prediction")
    assert churn["band"].startswith("Not ready — B")
    assert {b["id"] for b in churn["blockers"]} >= {"B6", "B7", "B8"}
    tickets = use_case(report, "ticket-summarisation")
    assert tickets["band"].startswith("Not ready — C")
    assert any(b["id"] == "B2" and b["check"] == "P5" for b in tickets["blockers"])
    # the declared inventory says every employee can read the ticket export: B1
    assert any(b["id"] == "B1" and "all_staff" in b["message"] for b in tickets["blockers"])
    a3 = check(tickets, "A3")
    assert a3["status"] == "evaluated" and a3["value"] == 1.0
    win = use_case(report, "opportunity-win-scoring")
    assert win["band"] == "Conditionally ready"
    assert not win["blockers"]
    assert code == 1  # Not ready use cases gate the exit code
    for uc in report["use_cases"]:
        lost = sum(c["points_lost"] for c in uc["checks"])
        assert uc["score"] + lost == pytest.approx(100.0, abs=0.05)


@pytest.mark.parametrize("problem", [p for p in PLANTED if p["detected_by"]],
                         ids=lambda p: p["id"])
def test_column_problems_fail_their_expectation(sample_run: Any, problem: dict[str, Any]
                                                ) -> None:
    _, report, _ = sample_run
    ds = next(d for d in report["datasets"] if d["name"] == problem["dataset"])
    exp = problem["detected_by"]
    hits = [e for e in ds["expectations"] if e["expectation_type"] == exp["expectation"]
            and e["kwargs"].get("column") == exp["column"] and e["success"] is False]
    assert hits, f"{problem['id']} not caught"
    assert max(e["unexpected_count"] for e in hits) >= problem["count"]
    named = findings(report, "DQ004", problem["dataset"], exp["column"])
    assert named, "failing expectation not reported as a finding"


def test_near_duplicate_accounts_found(sample_run: Any) -> None:
    _, report, _ = sample_run
    p = next(p for p in PLANTED if p["kind"] == "near_duplicate_accounts")
    (f,) = findings(report, "DQ003", "crm.accounts")
    assert f["detail"]["extra_rows"] == p["count"]
    q6 = check(use_case(report, "churn-prediction"), "Q6")
    assert q6["value"] == pytest.approx(p["count"] / p["rows"]) and q6["points_lost"] > 0


@pytest.mark.parametrize("problem", [p for p in PLANTED if p["kind"] == "orphan_foreign_key"],
                         ids=lambda p: p["id"])
def test_orphan_foreign_keys_found(sample_run: Any, problem: dict[str, Any]) -> None:
    _, report, _ = sample_run
    (f,) = findings(report, "DQ007", problem["dataset"], problem["column"])
    assert f["detail"]["orphans"] == problem["count"]


def test_invoices_for_unknown_customers_block_churn(sample_run: Any) -> None:
    _, report, _ = sample_run
    churn = use_case(report, "churn-prediction")
    q8 = check(churn, "Q8")
    orphans = {p["dataset"]: p["count"] for p in PLANTED if p["kind"] == "orphan_foreign_key"}
    nulls = next(p["count"] for p in PLANTED if p["kind"] == "null_foreign_key")
    customers = next(d for d in report["datasets"] if d["name"] == "erp.customers")["rows"]
    # the worst join is customers -> accounts: null and orphan crm_account_id both unmatched
    assert q8["scope"] == "erp.customers.crm_account_id -> crm.accounts.account_id"
    assert q8["value"] == pytest.approx(1 - (orphans["erp.customers"] + nulls) / customers)
    assert q8["blocker"] == "B7" and q8["utility"] == 0.0


def test_stale_invoices_block_churn(sample_run: Any) -> None:
    _, report, _ = sample_run
    t1 = check(use_case(report, "churn-prediction"), "T1")
    stale = next(p for p in PLANTED if p["kind"] == "stale_timestamp")
    assert stale["dataset"] == "erp.invoices"
    assert t1["value"] > 72 and t1["blocker"] == "B6" and t1["points_lost"] > 0


def test_pii_found_and_masked(sample_run: Any) -> None:
    _, report, config = sample_run
    text = [p for p in PLANTED if p["kind"] == "pii_in_free_text"]
    (f,) = findings(report, "PII002", "crm.support_tickets", "description")
    assert {"email", "phone", "iban"} <= set(f["detail"]["kinds"])
    assert findings(report, "PII001", "erp.customers", "iban")
    assert findings(report, "PII001", "crm.contacts", "email")
    p5 = check(use_case(report, "ticket-summarisation"), "P5")
    assert p5["value"] >= max(p["share"] for p in text)
    # masked in the store: no planted IBAN or e-mail survives in the stored samples
    store = config.parent.parent / ".auditor" / "audit.duckdb"
    con = duckdb.connect(str(store), read_only=True)
    tables = {d["name"]: f'samples."{d["sample_table"]}"' for d in report["datasets"]}
    leaks = con.execute(
        f"SELECT count(*) FROM {tables['crm.support_tickets']} WHERE "
        r"regexp_matches(description, '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}') "
        r"OR regexp_matches(description, 'DE\d{2}( ?\d{4}){4} ?\d{2}')").fetchone()
    emails = con.execute(f"SELECT count(*) FROM {tables['crm.contacts']} "
                         "WHERE email LIKE '%@%.%' AND email NOT LIKE '%*%'").fetchone()
    con.close()
    assert leaks == (0,) and emails == (0,)
    # and masked in the report: no example value of a PII column is in clear text
    contacts = next(d for d in report["datasets"] if d["name"] == "crm.contacts")
    examples = [x for e in contacts["expectations"] if e["kwargs"].get("column") == "email"
                for x in e["examples"]]
    assert examples and all("*" in x for x in examples)


def test_duplicate_rows_and_keys(sample_run: Any) -> None:
    _, report, _ = sample_run
    p = next(p for p in PLANTED if p["kind"] == "duplicate_rows")
    (f,) = findings(report, "DQ005", p["dataset"])
    assert f["detail"]["duplicate_rows"] == p["count"]
    (k,) = findings(report, "DQ002", p["dataset"])
    assert k["detail"]["duplicate_keys"] == p["count"]


def test_warning_expectations_cost_points_without_blocking(sample_run: Any) -> None:
    _, report, _ = sample_run
    q7 = check(use_case(report, "opportunity-win-scoring"), "Q7")
    assert q7["points_lost"] > 0 and q7["blocker"] is None
    assert any("currency" in x for x in q7["evidence"]["failing"])


def test_markdown_and_table_outputs(sample_run: Any) -> None:
    _, _, config = sample_run
    res = runner.invoke(app, ["--quiet", "audit", str(config), "--format", "markdown"])
    assert res.exit_code == 1
    assert "## churn-prediction — Not ready — B" in res.output
    assert "| Q8 | Cross-dataset key match |" in res.output
    res = runner.invoke(app, ["--quiet", "audit", str(config)])
    assert "AI use-case readiness" in res.output and "Blockers" in res.output


def test_fail_under_gates_exit_code(tmp_path: Path) -> None:
    config = copy_sample(tmp_path)
    text = config.read_text()
    # keep only the conditionally ready use case: the exit code is then the score gate's
    head, _, rest = text.partition("use_cases:\n")
    blocks = rest.split("\n  - use_case: ")
    win = next(b for b in blocks if b.startswith("opportunity-win-scoring"))
    config.write_text(head + "use_cases:\n  - use_case: " + win)
    code, report = audit_json(config)
    score = report["use_cases"][0]["score"]
    assert code == 0
    assert audit_json(config, "--fail-under", str(score + 1))[0] == 1
    assert audit_json(config, "--fail-under", str(score - 1))[0] == 0
