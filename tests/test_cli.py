"""The command line: bad input gets a clear error and a non-zero exit, earlier runs stay
readable; the other commands (profile, runs, config validate/schema) work on sample_data."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from auditor.cli import app
from tests.test_audit_e2e import audit_json, copy_sample

runner = CliRunner()


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return copy_sample(tmp_path)


def store_of(config: Path) -> Path:
    return config.parent.parent / ".auditor" / "audit.duckdb"


def runs_in(config: Path) -> list[tuple[str, str]]:
    con = duckdb.connect(str(store_of(config)), read_only=True)
    try:
        return con.execute("SELECT run_id, status FROM runs ORDER BY started_at").fetchall()
    finally:
        con.close()


def test_help_everywhere() -> None:
    for args in ([], ["audit"], ["profile"], ["config"], ["config", "validate"],
                 ["config", "schema"], ["runs"], ["access"]):
        res = runner.invoke(app, [*args, "--help"])
        assert res.exit_code == 0, args
        assert "Usage" in res.output


def test_corrupted_csv_is_a_finding_and_earlier_runs_survive(sample: Path) -> None:
    code, first = audit_json(sample)
    assert code == 1
    (sample.parent / "crm" / "orders.csv").write_bytes(b"")  # not used by any dataset
    accounts = sample.parent / "crm" / "accounts.csv"
    accounts.write_bytes(b"\x00\xff\xfe\x00garbage\x00\x01\x02" * 500)
    code, report = audit_json(sample)
    assert code == 3  # a source failed; the partial report is still written
    ds = next(d for d in report["datasets"] if d["name"] == "crm.accounts")
    assert ds["status"] == "failed" and "accounts.csv" in ds["error"]
    (f,) = [f for f in report["findings"] if f["dataset"] == "crm.accounts"
            and f["code"].startswith("SRC")]
    assert f["code"] == "SRC002" and "accounts.csv" in f["message"]
    # other datasets went on
    assert all(d["status"] == "ok" for d in report["datasets"] if d["name"] != "crm.accounts")
    # churn depends on accounts: A2 blocks it
    churn = next(u for u in report["use_cases"] if u["use_case"] == "churn-prediction")
    assert any(b["id"] == "A2" for b in churn["blockers"])
    runs = runs_in(sample)
    assert [r[0] for r in runs] == [first["run"]["id"], report["run"]["id"]]
    assert [r[1] for r in runs] == ["ok", "partial"]


def test_rejected_csv_rows_are_reported_not_dropped(sample: Path) -> None:
    accounts = sample.parent / "crm" / "accounts.csv"
    lines = accounts.read_text().splitlines()
    lines.insert(10, "A99999,broken row with too few columns")
    accounts.write_text("\n".join(lines) + "\n")
    code, report = audit_json(sample)
    ds = next(d for d in report["datasets"] if d["name"] == "crm.accounts")
    assert ds["status"] == "ok" and ds["rejected_rows"] == 1
    (f,) = [f for f in report["findings"] if f["code"] == "DQ001"]
    assert f["dataset"] == "crm.accounts"
    con = duckdb.connect(str(store_of(sample)), read_only=True)
    line = con.execute("SELECT line FROM rejected_rows WHERE run_id = ?",
                       [report["run"]["id"]]).fetchall()
    con.close()
    assert line == [(11,)]


def test_missing_file_is_a_source_finding(sample: Path) -> None:
    (sample.parent / "erp" / "invoices.parquet").unlink()
    code, report = audit_json(sample)
    assert code == 3
    (f,) = [f for f in report["findings"] if f["code"] == "SRC001"]
    assert f["dataset"] == "erp.invoices" and "invoices.parquet" in f["message"]


def test_malformed_config_exits_2_with_location_and_writes_nothing(sample: Path) -> None:
    audit_json(sample)
    before = runs_in(sample)
    text = sample.read_text().replace("    key: [contact_id]", "    key: [contact_id\n")
    sample.write_text(text)
    res = runner.invoke(app, ["audit", str(sample)])
    assert res.exit_code == 2
    assert f"{sample}:" in res.output and "invalid YAML" in res.output
    assert runs_in(sample) == before


def test_schema_error_exit_2_names_field(sample: Path) -> None:
    sample.write_text(sample.read_text().replace("kind: batch_inference", "kind: batch"))
    res = runner.invoke(app, ["config", "validate", str(sample)])
    assert res.exit_code == 2
    assert "use_cases[1].kind" in res.output and "'batch'" in res.output


def test_unknown_column_is_named_and_blocks(sample: Path) -> None:
    audit_json(sample)
    sample.write_text(sample.read_text().replace("- crm.accounts.industry",
                                                 "- crm.accounts.industy"))
    code, report = audit_json(sample)
    assert code == 1
    (f,) = [f for f in report["findings"] if f["code"] == "CFG001"]
    assert "crm.accounts.industy" in f["message"] and f"{sample}:" in f["message"]
    churn = next(u for u in report["use_cases"] if u["use_case"] == "churn-prediction")
    assert churn["band"].startswith("Not ready — C")
    assert any(b["id"] == "A1" and "industy" in b["message"] for b in churn["blockers"])
    assert len(runs_in(sample)) == 2  # both runs readable


def test_bad_suite_file_exits_2(sample: Path) -> None:
    suite = sample.parent.parent / "expectations" / "crm_accounts.json"
    data = json.loads(suite.read_text())
    data["expectations"][0]["type"] = "expect_column_values_to_be_purple"
    suite.write_text(json.dumps(data))
    res = runner.invoke(app, ["audit", str(sample)])
    assert res.exit_code == 2
    assert "crm_accounts.json" in res.output and "expect_column_values_to_be_purple" in res.output


def test_unknown_source_kind_lists_known(sample: Path) -> None:
    sample.write_text(sample.read_text().replace("kind: file\n    path: erp",
                                                 "kind: sftp\n    path: erp"))
    res = runner.invoke(app, ["config", "validate", str(sample)])
    assert res.exit_code == 2
    assert "unknown source kind 'sftp'" in res.output and "file" in res.output


def test_config_validate_and_schema(sample: Path) -> None:
    res = runner.invoke(app, ["config", "validate", str(sample)])
    assert res.exit_code == 0 and "7 datasets, 3 use cases, 7 suites" in res.output
    res = runner.invoke(app, ["config", "schema"])
    schema = json.loads(res.output)
    assert schema["title"] == "auditor audit.yml"
    assert "Source_file" in schema["$defs"]


def test_profile_command(sample: Path) -> None:
    res = runner.invoke(app, ["profile", str(sample), "--dataset", "crm.contacts",
                              "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    email = next(c for c in data["profile"]["columns"] if c["name"] == "email")
    assert email["rows"] == 1200 and email["nulls"] > 0
    assert "email" in data["pii"]
    # masked: no clear-text address among the top values
    assert all("*" in str(v) for v, _ in email["top_values"])
    assert not store_of(sample).exists()  # profiling does not touch the store
    res = runner.invoke(app, ["profile", str(sample), "--dataset", "crm.nope"])
    assert res.exit_code == 2 and "unknown dataset 'crm.nope'" in res.output


def test_access_command_explains_chains(sample: Path) -> None:
    audit_json(sample)
    res = runner.invoke(app, ["access", str(sample), "--dataset", "crm.support_tickets",
                              "--role", "alice"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "alice → sales → all_staff" in res.output


def test_access_without_runs_is_clear(sample: Path) -> None:
    from auditor.store import Store

    Store.open(store_of(sample)).close()
    res = runner.invoke(app, ["access", str(sample)])
    assert res.exit_code == 2 and "no runs yet" in res.output


def test_runs_lists_history(sample: Path) -> None:
    audit_json(sample)
    res = runner.invoke(app, ["runs", str(sample)])
    assert res.exit_code == 0 and "Not ready" in res.output and "ok" in res.output


def test_gx_engine_gives_the_same_counts(sample: Path) -> None:
    _, native = audit_json(sample)
    _, gx = audit_json(sample, "--engine", "gx")

    def counts(report: dict) -> list[tuple]:
        return sorted((d["name"], e["expectation_type"], json.dumps(e["kwargs"], sort_keys=True),
                       e["unexpected_count"], e["success"])
                      for d in report["datasets"] for e in d["expectations"])

    assert counts(native) == counts(gx)
    assert {e["engine"] for d in gx["datasets"] for e in d["expectations"]} == {"gx-pandas"}
