"""Consuming lineage: a hand-written NDJSON log + SQL views → graph, store, score helpers, CLI.

The scenario: an ERP table (``postgres://erp-db:5432`` ``erp.public.customers``, tagged system
of record, owned by finance, ``email`` tagged PII) is exported nightly to a CSV the auditor reads
(``erp.customers_export``). A loader copies the CSV into a warehouse staging table, a declared
SQL view builds ``mart.customer_features`` from it (``email AS contact_email`` is IDENTITY,
``md5(phone)`` is MASKED), and that view is exported to ``features.csv`` (``ml.features``).
A third dataset has no lineage, owner or system of record at all.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from auditor.api import run_audit
from auditor.config import load_config
from auditor.lineage import (
    collect_graph,
    ensure_tables,
    pii_feature_paths,
    pii_path_findings,
    traceability,
    unowned_datasets,
    unowned_findings,
    write_graph,
)
from auditor.lineage_config import LineageConfig, SqlLineageSource
from auditor.lineage_graph import load_graph
from auditor.lineage_sql import duckdb_view_statements, graph_from_sql
from tests.test_lineage_support import clean_openlineage_env

P = "https://example.com/producer/1.0"
DW = "postgres://dw:5432"
ERP = "postgres://erp-db:5432"

CONFIG = """
version: 1
name: lineage-consume
store: {path: audit.duckdb}
sources:
  files: {kind: file, path: data}
datasets:
  erp.customers_export: {source: files, object: customers_export.csv, key: [customer_id]}
  ml.features: {source: files, object: features.csv, key: [customer_id]}
  other.unlinked: {source: files, object: unlinked.csv, key: [id]}
use_cases:
  - use_case: upsell
    kind: batch_inference
    datasets: [ml.features, erp.customers_export, other.unlinked]
    features: [ml.features.contact_email, ml.features.phone_hash, ml.features.segment,
               ml.features.orders]
"""

SQL = """
-- declared transformation in the warehouse
CREATE VIEW mart.customer_features AS
SELECT c.customer_id,
       c.email AS contact_email,          -- carries the e-mail as is
       md5(c.phone) AS phone_hash,        -- masked
       c.segment,
       count(o.order_id) AS orders
FROM staging.customers c
LEFT JOIN staging.orders o ON o.customer_id = c.customer_id
GROUP BY 1, 2, 3, 4;
"""


def _facet(kind: str, version: str) -> dict:
    return {"_producer": P, "_schemaURL":
            f"https://openlineage.io/spec/facets/{version}/{kind}.json#/$defs/{kind}"}


def _cl(ns: str, name: str, pairs: dict[str, tuple[str, dict]]) -> dict:
    return {**_facet("ColumnLineageDatasetFacet", "1-2-0"), "fields": {
        out: {"inputFields": [{"namespace": ns, "name": name, "field": src,
                               "transformations": [t]}]} for out, (src, t) in pairs.items()}}


def _run(run_id: str, job: str, inputs: list[dict], outputs: list[dict],
         state: str = "COMPLETE") -> dict:
    return {"eventType": state, "eventTime": "2026-11-19T02:00:00+00:00", "producer": P,
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": run_id}, "job": {"namespace": "etl", "name": job},
            "inputs": inputs, "outputs": outputs}


IDENT = {"type": "DIRECT", "subtype": "IDENTITY"}
MASK = {"type": "DIRECT", "subtype": "TRANSFORMATION", "masking": True}


def _log(root: Path) -> list[dict]:
    export = str(root / "data" / "customers_export.csv")
    features = str(root / "data" / "features.csv")
    erp_in = {"namespace": ERP, "name": "erp.public.customers", "facets": {
        "ownership": {**_facet("OwnershipDatasetFacet", "1-0-1"),
                      "owners": [{"name": "team:finance-data"}]},
        "tags": {**_facet("TagsDatasetFacet", "1-0-0"), "tags": [
            {"key": "system_of_record", "value": "sap", "source": "CATALOG"},
            {"key": "pii", "value": "email", "field": "email", "source": "CATALOG"}]}}}
    cols = ("customer_id", "email", "segment")
    return [
        _run("0193a6a0-0000-7000-8000-000000000001", "erp.nightly_export", [erp_in], [],
             "START"),
        _run("0193a6a0-0000-7000-8000-000000000001", "erp.nightly_export", [], [
            {"namespace": "file", "name": export, "facets": {"columnLineage": _cl(
                ERP, "erp.public.customers",
                {**{c: (c, IDENT) for c in cols}, "phone": ("phone", MASK)})}}]),
        _run("0193a6a0-0000-7000-8000-000000000002", "dw.load_customers",
             [{"namespace": "file", "name": export}],
             [{"namespace": DW, "name": "dw.staging.customers", "facets": {
                 "columnLineage": _cl("file", export, {c: (c, IDENT)
                                                       for c in (*cols, "phone")})}}]),
        _run("0193a6a0-0000-7000-8000-000000000003", "dw.export_features",
             [{"namespace": DW, "name": "dw.mart.customer_features"}],
             [{"namespace": "file", "name": features, "facets": {"columnLineage": _cl(
                 DW, "dw.mart.customer_features",
                 {c: (c, IDENT) for c in ("customer_id", "contact_email", "phone_hash",
                                          "segment", "orders")})}}]),
    ]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("consume")
    (root / "data").mkdir()
    rows = [(i, f"user{i}@example.org", f"+49 30 1234{i:04d}", "SMB" if i % 2 else "ENT")
            for i in range(1, 41)]
    (root / "data" / "customers_export.csv").write_text(
        "customer_id,email,phone,segment\n" + "".join(f"{a},{b},{c},{d}\n" for a, b, c, d in rows))
    (root / "data" / "features.csv").write_text(
        "customer_id,contact_email,phone_hash,segment,orders\n" +
        "".join(f"{a},{b},h{a:08x},{d},{a % 5}\n" for a, b, _c, d in rows))
    (root / "data" / "unlinked.csv").write_text(
        "id,value\n" + "".join(f"{i},{i * 3}\n" for i in range(1, 21)))
    (root / "audit.yml").write_text(CONFIG)
    (root / "lineage").mkdir()
    log = root / "lineage" / "events.ndjson"
    log.write_text("".join(json.dumps(e) + "\n" for e in _log(root)))
    (root / "features.sql").write_text(SQL)
    loaded = load_config(root / "audit.yml")
    result = run_audit(loaded)
    cfg = LineageConfig(event_logs=["lineage/events.ndjson"], sql=[SqlLineageSource(
        path="features.sql", namespace=DW, dialect="postgres", default_database="dw")])
    graph, findings = collect_graph(loaded, result.datasets, run_id=result.run_id,
                                    store_path=result.store_path, lineage=cfg)
    return root, loaded, result, graph, findings


def _id(ns: str, name: str) -> str:
    return f"dataset:{ns}:{name}"


def test_graph_joins_log_sql_and_the_audits_own_lineage(scenario) -> None:  # type: ignore[no-untyped-def]
    root, _, result, g, findings = scenario
    assert findings == []
    export = _id("file", str(root / "data" / "customers_export.csv"))
    features = _id("file", str(root / "data" / "features.csv"))
    assert g.by_dataset("erp.customers_export").id == export
    assert g.by_dataset("ml.features").id == features
    pairs = {(e.src, e.dst) for e in g.edges}
    assert (_id(ERP, "erp.public.customers"), export) in pairs            # log
    assert (export, _id(DW, "dw.staging.customers")) in pairs              # log
    assert (_id(DW, "dw.staging.customers"), _id(DW, "dw.mart.customer_features")) in pairs
    assert (_id(DW, "dw.staging.orders"), _id(DW, "dw.mart.customer_features")) in pairs
    assert (_id(DW, "dw.mart.customer_features"), features) in pairs       # log
    snap = result.dataset("ml.features").sample_table
    assert any(e.src == features and e.dst.endswith(snap) for e in g.edges)  # own emission
    assert g.upstream_ids(features) == [
        _id(DW, "dw.mart.customer_features"), _id(DW, "dw.staging.customers"),
        _id(DW, "dw.staging.orders"), export, _id(ERP, "erp.public.customers")]
    kinds = {(c.src_field, c.dst_field): c.transformation for c in g.column_edges
             if c.dst == _id(DW, "dw.mart.customer_features")}
    assert kinds == {("customer_id", "customer_id"): "IDENTITY",
                     ("email", "contact_email"): "IDENTITY",
                     ("phone", "phone_hash"): "MASKED",
                     ("segment", "segment"): "IDENTITY",
                     ("order_id", "orders"): "AGGREGATION"}
    erp = g.nodes[_id(ERP, "erp.public.customers")]
    assert erp.system_of_record == "sap" and erp.owners == {"team:finance-data"}
    assert erp.pii_fields == {"email"}


def test_traceability_through_the_graph(scenario) -> None:  # type: ignore[no-untyped-def]
    _, loaded, result, g, _ = scenario
    uc = loaded.config.use_cases[0]
    ds = {d.name: d for d in result.datasets}
    t = traceability(g, uc, ds)
    assert t.traced == {"ml.features": _id(ERP, "erp.public.customers"),
                        "erp.customers_export": _id(ERP, "erp.public.customers")}
    assert t.untraced == ("other.unlinked",)
    assert t.share == pytest.approx(2 / 3)
    # the audit alone (no consumed lineage) traces nothing: nothing declares a system of record
    from auditor.lineage import audit_graph

    own = audit_graph(loaded, result.datasets, run_id=result.run_id,
                      store_path=result.store_path)
    assert traceability(own, uc, ds).share == 0.0


def test_pii_reaching_a_feature_unmasked_is_reported(scenario) -> None:  # type: ignore[no-untyped-def]
    root, loaded, result, g, _ = scenario
    uc = loaded.config.use_cases[0]
    paths = pii_feature_paths(g, uc, {d.name: d for d in result.datasets})
    assert {p.feature for p in paths} == {"ml.features.contact_email"}
    sources = {(p.source_node, p.source_field) for p in paths}
    assert (_id(ERP, "erp.public.customers"), "email") in sources   # tagged PII in the log
    export = _id("file", str(root / "data" / "customers_export.csv"))
    assert (export, "email") in sources                             # detected by the audit
    longest = max(paths, key=lambda p: len(p.steps))
    assert [e.transformation for e in longest.steps] == ["IDENTITY"] * 4
    text = longest.describe(g)
    assert text.startswith("erp.public.customers.email") and "ml.features.contact_email" in text
    (f, *_) = pii_path_findings(g, paths)
    assert f.code == "LIN004" and f.severity == "blocker"
    allowed = uc.model_copy(update={"pii_policy": uc.pii_policy.model_copy(
        update={"allowed_in_features": ["ml.features.contact_email"]})})
    assert pii_feature_paths(g, allowed, {d.name: d for d in result.datasets}) == []


def test_unowned_datasets_consider_upstream_owners(scenario) -> None:  # type: ignore[no-untyped-def]
    _, loaded, result, g, _ = scenario
    uc = loaded.config.use_cases[0]
    ds = {d.name: d for d in result.datasets}
    assert unowned_datasets(g, uc, ds) == ["other.unlinked"]
    (f,) = unowned_findings(g, uc, ds)
    assert (f.code, f.severity, f.dataset) == ("LIN003", "critical", "other.unlinked")


def test_graph_is_stored_per_run_and_shown_by_the_cli(scenario,  # type: ignore[no-untyped-def]
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.cli.lineage import register
    from auditor.store import RunWriter, Store

    root, _, result, g, _ = scenario
    store = Store.open(result.store_path)
    try:
        writer = RunWriter(store, result.run_id)
        write_graph(writer, g)
        writer.commit()
        ensure_tables(store.con)     # idempotent
        loaded_graph, run_id = load_graph(store.con)
    finally:
        store.close()
    assert run_id == result.run_id
    assert loaded_graph.edges == g.edges
    assert loaded_graph.column_edges == g.column_edges
    assert {n: (v.owners, v.pii_fields, v.system_of_record, v.dataset)
            for n, v in loaded_graph.nodes.items()} == \
        {n: (v.owners, v.pii_fields, v.system_of_record, v.dataset) for n, v in g.nodes.items()}
    clean_openlineage_env(monkeypatch)
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    r = CliRunner().invoke(app, ["lineage", "show", "ml.features", "-c",
                                 str(root / "audit.yml")], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    out = r.output
    assert "upstream of" in out and "downstream of" in out
    assert "erp.public.customers" in out and "dw.mart.customer_features" in out
    assert "via job:etl:dw.export_features" in out
    assert "contact_email" in out and "IDENTITY" in out
    assert "audit.samples." in out                      # the snapshot downstream
    r = CliRunner().invoke(app, ["lineage", "show", "nope.nothing", "-c",
                                 str(root / "audit.yml")])
    assert r.exit_code == 2


def test_unreadable_lineage_sources_become_findings(scenario, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, loaded, result, _, _ = scenario
    bad = tmp_path / "bad.ndjson"
    bad.write_text('{"eventType": "START"\nnot json\n')
    cfg = LineageConfig(event_logs=[str(bad), "missing.ndjson"],
                        sql=[SqlLineageSource(query="CREATE VIEW v AS SELEC nonsense FROM",
                                              namespace=DW)])
    _, findings = collect_graph(loaded, result.datasets, run_id=result.run_id,
                                store_path=result.store_path, lineage=cfg)
    assert [f.code for f in findings] == ["LIN002"] * 3
    assert "2 unreadable lines" in findings[0].message
    assert "missing.ndjson" in findings[1].message


def test_duckdb_view_definitions() -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE contacts (id INT, email VARCHAR, name VARCHAR)")
    con.execute("CREATE VIEW contacts_safe AS SELECT id, sha256(email) AS email_hash, "
                "upper(name) AS name FROM contacts")
    g, problems = graph_from_sql(duckdb_view_statements(con), namespace="duckdb:///wh.duckdb",
                                 default_database="wh", default_schema="main")
    assert problems == []
    src, dst = _id("duckdb:///wh.duckdb", "wh.main.contacts"), \
        _id("duckdb:///wh.duckdb", "wh.main.contacts_safe")
    assert {(e.src, e.dst) for e in g.edges} == {(src, dst)}
    assert {(c.src_field, c.dst_field, c.transformation) for c in g.column_edges} == {
        ("id", "id", "IDENTITY"), ("email", "email_hash", "MASKED"),
        ("name", "name", "TRANSFORMATION")}
