"""What the emitted events say: run structure, facets, naming, purity."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.lineage_config import LineageConfig
from auditor.lineage_emit import build_events
from auditor.lineage_naming import (
    datasource_uri,
    parse_node_id,
    safe_namespace,
    source_dataset_id,
    store_dataset_id,
)
from auditor.lineage_send import to_dict
from tests.test_lineage_support import sample_audit


def _events(lineage: LineageConfig | None = None) -> list[dict]:
    loaded, res, _ = sample_audit()
    return [to_dict(e) for e in build_events(res, loaded.config, lineage or LineageConfig(),
                                             loaded.base_dir)]


def test_parent_run_and_one_child_run_per_dataset() -> None:
    loaded, res, _ = sample_audit()
    events = _events()
    parent = events[0]
    assert parent["eventType"] == "START"
    assert parent["job"] == events[-1]["job"]
    assert events[-1]["eventType"] == "COMPLETE"
    assert parent["job"]["namespace"] == "readiness-auditor"
    assert parent["job"]["name"] == "audit.sample-crm-erp"
    assert parent["job"]["facets"]["jobType"]["jobType"] == "AUDIT"
    pid = parent["run"]["runId"]
    children: dict[str, list[str]] = {}
    for e in events[1:-1]:
        assert e["run"]["facets"]["parent"]["run"]["runId"] == pid
        assert e["run"]["facets"]["parent"]["job"]["name"] == "audit.sample-crm-erp"
        children.setdefault(e["run"]["runId"], []).append(e["eventType"])
    assert len(children) == len(res.datasets) == 7
    assert all(states == ["START", "COMPLETE"] for states in children.values())
    times = [e["eventTime"] for e in events]
    assert all(t.endswith("+00:00") for t in times)
    job_names = {e["job"]["name"] for e in events[1:-1]}
    assert "audit.sample-crm-erp.crm.accounts" in job_names


def test_inputs_carry_schema_source_metrics_and_assertions() -> None:
    _, res, _ = sample_audit()
    events = _events()
    acc = next(e for e in events if e["eventType"] == "COMPLETE"
               and e["job"]["name"].endswith("crm.accounts"))
    d = res.dataset("crm.accounts")
    inp = acc["inputs"][0]
    assert inp["namespace"] == "file"
    assert inp["name"] == str((Path(d.metadata.location)).resolve())
    assert inp["facets"]["dataSource"]["uri"].startswith("file:///")
    assert [f["name"] for f in inp["facets"]["schema"]["fields"]][:2] == ["account_id", "name"]
    assert inp["facets"]["ownership"]["owners"] == [{"name": "sales-ops@example.com",
                                                     "type": "DATA_OWNER"}]
    tags = inp["facets"]["tags"]["tags"]
    assert {"key": "system_of_record", "value": "salesforce", "source": "CONFIG"} in tags
    metrics = inp["inputFacets"]["dataQualityMetrics"]
    assert metrics["rowCount"] == d.profile.rows
    rev = metrics["columnMetrics"]["annual_revenue"]
    prof = d.profile.column("annual_revenue")
    assert rev["nullCount"] == prof.nulls and rev["distinctCount"] == prof.distinct
    assert rev["min"] == prof.min and rev["max"] == prof.max
    assert rev["quantiles"]["0.5"] == prof.quantiles["p50"]
    assert "min" not in metrics["columnMetrics"]["created_at"]  # timestamps are not numbers
    assertions = inp["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert len(assertions) == len(d.expectations)
    for a, o in zip(assertions, d.expectations, strict=True):
        assert a["assertion"] == o.expectation_type
        assert a["success"] is bool(o.success)
        assert a.get("column") == o.column


def test_output_is_the_duckdb_snapshot_with_column_lineage() -> None:
    _, res, store = sample_audit()
    events = _events()
    contacts = next(e for e in events if e["eventType"] == "COMPLETE"
                    and e["job"]["name"].endswith("crm.contacts"))
    d = res.dataset("crm.contacts")
    out = contacts["outputs"][0]
    assert out["namespace"] == f"duckdb://{store.resolve().as_posix()}"
    assert out["name"] == f"audit.samples.{d.sample_table}"
    fields = out["facets"]["columnLineage"]["fields"]
    assert fields["contact_id"]["inputFields"][0]["transformations"] == [
        {"type": "DIRECT", "subtype": "IDENTITY"}]
    email = fields["email"]["inputFields"][0]
    assert email["name"] == contacts["inputs"][0]["name"]
    assert email["transformations"][0]["masking"] is True   # the store masks PII
    assert out["outputFacets"]["outputStatistics"]["rowCount"] == d.rows


def test_no_pii_values_leave_in_events() -> None:
    _, res, _ = sample_audit()
    events = _events()
    text = str(events)
    for d in res.datasets:
        for col in d.pii:
            prof = d.profile.column(col)
            for value, _count in prof.top_values:
                assert f"'{value}'" not in text or len(str(value)) < 4
    contacts = next(e for e in events if e["eventType"] == "COMPLETE"
                    and e["job"]["name"].endswith("crm.contacts"))
    cm = contacts["inputs"][0]["inputFacets"]["dataQualityMetrics"]["columnMetrics"]["email"]
    assert set(cm) <= {"nullCount", "distinctCount", "count"}


def test_build_events_is_pure_and_deterministic() -> None:
    assert _events() == _events()
    other = _events(LineageConfig(namespace="acme-audits", job_name="nightly",
                                  source_namespaces={"crm": "file://nas01"}))
    assert other[0]["job"] == {**other[0]["job"], "namespace": "acme-audits", "name": "nightly"}
    crm = next(e for e in other if e["job"]["name"] == "nightly.crm.accounts")
    assert crm["inputs"][0]["namespace"] == "file://nas01"


@pytest.mark.parametrize(("kind", "options", "obj", "ns", "name"), [
    ("postgres", {"host": "DB.example.com", "database": "crm"}, "contacts",
     "postgres://db.example.com:5432", "crm.public.contacts"),
    ("postgresql", {"url": "postgresql+psycopg://u:secret@db:6543/erp"}, "sales.orders",
     "postgres://db:6543", "erp.sales.orders"),
    ("mysql", {"host": "m1", "port": 3307, "database": "shop"}, "orders",
     "mysql://m1:3307", "shop.orders"),
    ("mssql", {"host": "sql1", "database": "dw"}, "fact_sales",
     "mssql://sql1:1433", "dw.dbo.fact_sales"),
    ("salesforce", {"instance_url": "https://Acme.my.salesforce.com"}, "Contact",
     "salesforce://acme.my.salesforce.com", "Contact"),
    ("hubspot", {"portal_id": 123456}, "Contacts", "hubspot://123456", "contacts"),
    ("dynamics", {"environment_url": "https://contoso.crm4.dynamics.com"}, "account",
     "dynamics://contoso.crm4.dynamics.com", "account"),
    ("sap", {"host": "s4.example.com", "port": 44300, "service": "/API_BUSINESS_PARTNER/"},
     "A_BusinessPartner", "https://s4.example.com:44300",
     "API_BUSINESS_PARTNER/A_BusinessPartner"),
    ("sap_hana", {"host": "hana1", "port": 30015}, "SAPABAP1.KNA1", "hana://hana1:30015",
     "SAPABAP1.KNA1"),
    ("odoo", {"url": "https://erp.example.com", "database": "prod"}, "res.partner",
     "odoo://erp.example.com", "res.partner"),
])
def test_naming_conventions(kind: str, options: dict, obj: str, ns: str, name: str) -> None:
    ident = source_dataset_id(kind, options, obj, source="src", base_dir=Path("/cfg"))
    assert (ident.namespace, ident.name) == (ns, name)
    assert "secret" not in ident.namespace + datasource_uri(ident)


def test_file_sqlite_and_duckdb_naming(tmp_path: Path) -> None:
    f = source_dataset_id("file", {"path": "crm"}, "a.csv", source="crm", base_dir=tmp_path)
    assert (f.namespace, f.name) == ("file", (tmp_path / "crm" / "a.csv").as_posix())
    assert datasource_uri(f) == (tmp_path / "crm" / "a.csv").as_uri()
    s = source_dataset_id("sqlite", {"path": "db/app.sqlite"}, "users", source="s",
                          base_dir=tmp_path)
    assert s.namespace == f"sqlite://{(tmp_path / 'db' / 'app.sqlite').as_posix()}"
    assert s.name == "users"
    d = source_dataset_id("duckdb", {"path": "wh.duckdb"}, "sales.orders", source="w",
                          base_dir=tmp_path)
    assert d.name == "wh.sales.orders"
    snap = store_dataset_id(tmp_path / "audit.duckdb", "R1__crm.accounts")
    assert snap.namespace == f"duckdb://{(tmp_path / 'audit.duckdb').as_posix()}"
    assert snap.name == "audit.samples.R1__crm.accounts"


def test_namespace_charset_and_node_ids() -> None:
    assert safe_namespace("file://my host/a%b") == "file://my_host/a_b"
    assert parse_node_id("dataset:postgres://db:5432:crm.public.contacts") == (
        "dataset", "postgres://db:5432", "crm.public.contacts", None)
    assert parse_node_id("datasetField:file:/x/a.csv:email") == (
        "datasetField", "file", "/x/a.csv", "email")
