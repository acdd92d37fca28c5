"""The SaaS demo end to end: sample_data/saas.yml audited through the five local vendor servers.

The same sample files sit behind Salesforce, HubSpot, SAP OData, Dynamics 365 and Odoo, so the
SaaS audit must reach the same verdicts as the file audit of ``sample_data/audit.yml`` — with
the API-only extras on top (source contracts, the vendors' own grants) and no credential in the
report or the store.
"""

from __future__ import annotations

import json
import re
import shutil
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import duckdb
import pytest

from fakeservers.__main__ import DEMO_SERVERS, start_all
from tests.test_audit_e2e import audit_json, copy_sample

ROOT = Path(__file__).resolve().parents[2]
SECRETS = ["demo-secret", "pat-na1-demo-token", "demo-password", "demo-odoo-key"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("saas")
    files_config = copy_sample(tmp)
    saas_config = files_config.parent / "saas.yml"
    with ExitStack() as stack:
        urls = start_all(stack, ROOT / "sample_data", 0)
        text = saas_config.read_text()
        for i, (name, *_rest) in enumerate(DEMO_SERVERS):
            text = text.replace(f"http://127.0.0.1:{8701 + i}", urls[name])
        assert "870" not in re.sub(r"#.*", "", text), "every demo port rewritten"
        saas_config.write_text(text)
        saas_code, saas = audit_json(saas_config)
    files_code, files = audit_json(files_config)
    store = files_config.parent.parent / ".auditor" / "saas.duckdb"
    return {"saas": saas, "files": files, "codes": (saas_code, files_code), "store": store}


def _dataset(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(d for d in report["datasets"] if d["name"] == name)


def test_saas_audit_reaches_the_file_audits_verdicts(runs: dict[str, Any]) -> None:
    saas, files = runs["saas"], runs["files"]
    assert runs["codes"] == (1, 1)
    for name in [d["name"] for d in files["datasets"]]:
        s, f = _dataset(saas, name), _dataset(files, name)
        assert s["status"] == "ok", s.get("error")
        assert s["rows"] == f["rows"], name
    verdict = {u["use_case"]: (u["band"], sorted(b["id"] for b in u["blockers"]))
               for u in files["use_cases"]}
    assert {u["use_case"]: (u["band"], sorted(b["id"] for b in u["blockers"]))
            for u in saas["use_cases"]} == verdict


def test_every_vendor_delivered_its_objects(runs: dict[str, Any]) -> None:
    by_source: dict[str, int] = {}
    for d in runs["saas"]["datasets"]:
        assert d["status"] == "ok", (d["name"], d.get("error"))
        by_source[d["source"]] = by_source.get(d["source"], 0) + d["rows"]
    assert set(by_source) == {"salesforce", "hubspot", "sap", "dynamics", "odoo"}
    assert by_source["odoo"] == 450 + 3030 and by_source["dynamics"] == 500


def test_a_restricted_picklist_broken_by_legacy_values_is_reported(runs: dict[str, Any]) -> None:
    opp = _dataset(runs["saas"], "crm.opportunities")
    contract = [e for e in opp["expectations"] if e["suite"] == "salesforce contract"]
    assert contract, "Salesforce field metadata became expectations"
    currency = next(e for e in contract if e["kwargs"].get("column") == "currency"
                    and e["expectation_type"] == "expect_column_values_to_be_in_set")
    assert currency["success"] is False
    assert currency["unexpected_count"] == 75  # eur, Euro, usd, US$, gbp in the sample file
    assert sorted(currency["kwargs"]["value_set"]) == ["EUR", "GBP", "USD"]
    assert not [e for e in _dataset(runs["files"], "crm.opportunities")["expectations"]
                if "contract" in e["suite"]], "files declare no contracts"


def test_vendor_grants_reach_the_store(runs: dict[str, Any]) -> None:
    with duckdb.connect(str(runs["store"]), read_only=True) as con:
        rows = con.execute("SELECT dataset, grantee, via FROM access_grants").fetchall()
    got = {(d, g, v) for d, g, v in rows}
    assert ("crm.accounts", "ml_churn_svc@example.com", "permission_set") in got
    assert any(d == "odoo.invoices" and v == "group" for d, _, v in got)
    assert any(d == "d365.accounts" for d, _, _ in got)
    assert any(d == "crm.support_tickets" and v == "declared" for d, _, v in got)


def test_no_credential_reaches_the_report_or_the_store(runs: dict[str, Any],
                                                       tmp_path: Path) -> None:
    report = json.dumps(runs["saas"])
    copy = tmp_path / "store.duckdb"
    shutil.copy(runs["store"], copy)
    with duckdb.connect(str(copy), read_only=True) as con:
        tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables"
                             ).fetchall()
        dump = "\n".join(str(con.execute(f'SELECT * FROM "{s}"."{t}"').fetchall())
                         for s, t in tables)
    for secret in SECRETS:
        assert secret not in report
        assert secret not in dump


def test_discover_lists_a_sources_objects_and_fails_cleanly(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from auditor.cli import app
    from fakeservers.tables import standard_table
    from tests.saas.harness_salesforce import SalesforceHarness

    runner = CliRunner()
    secret_file = tmp_path / "secret"
    with SalesforceHarness("cli").serve(standard_table(3)) as served:
        secret_file.write_text(served.config["auth"]["client_secret"])
        cfg = {**served.config, "max_attempts": 1, "auth": {**served.config["auth"],
                                         "client_secret": "${file:secret}"}}
        config = tmp_path / "audit.yml"
        config.write_text(json.dumps({"version": 1, "sources": {"sf": cfg},
                                      "datasets": {}, "use_cases": []}))
        res = runner.invoke(app, ["discover", str(config), "--source", "sf"])
        assert res.exit_code == 0, res.output
        assert "Widget__c" in res.output.split()
    res = runner.invoke(app, ["discover", str(config), "--source", "sf"])
    assert res.exit_code == 3, "server gone: a source error"
    assert served.secret not in res.output
    res = runner.invoke(app, ["discover", str(config), "--source", "nope"])
    assert res.exit_code == 2 and "known: sf" in res.output


def test_lineage_events_of_the_saas_run_validate_and_name_each_vendor(
        runs: dict[str, Any]) -> None:
    from tests.test_lineage_support import validator

    path = runs["store"].parent / "lineage" / "events.ndjson"
    events = [json.loads(line) for line in path.read_text().splitlines()]
    v = validator()
    assert {i: v.errors(e) for i, e in enumerate(events) if v.errors(e)} == {}
    namespaces = {d["namespace"].split("://")[0] for e in events for d in e.get("inputs", [])}
    assert {"salesforce", "hubspot", "dynamics", "odoo", "http"} <= namespaces
    text = path.read_text()
    for secret in SECRETS:
        assert secret not in text
