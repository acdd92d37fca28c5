"""The emit path over the HTTP transport against a local Marquez stand-in, and reading back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from auditor.lineage import emit_run, fetch_marquez
from auditor.lineage_config import LineageConfig, MarquezSource
from auditor.lineage_emit import build_events
from auditor.lineage_graph import graph_from_marquez
from auditor.lineage_send import to_dict
from tests.marquez_fake import MarquezFake
from tests.test_lineage_support import clean_openlineage_env, sample_audit, validator


@pytest.fixture
def marquez(monkeypatch: pytest.MonkeyPatch) -> Iterator[MarquezFake]:
    clean_openlineage_env(monkeypatch)
    fake = MarquezFake().start()
    yield fake
    fake.stop()


def test_http_emit_reaches_marquez_and_builds_the_graph(marquez: MarquezFake,
                                                        tmp_path) -> None:
    loaded, res, _ = sample_audit()
    cfg = LineageConfig(transport="http", url=marquez.url, timeout=5,
                        spool=str(tmp_path / "spool.ndjson"))
    out = emit_run(res, loaded, lineage=cfg)
    assert out is res                                    # nothing changed, no finding
    assert marquez.rejected == []
    assert len(marquez.events) == 16
    assert not (tmp_path / "spool.ndjson").exists() or \
        (tmp_path / "spool.ndjson").read_text() == ""
    for e in marquez.events:                             # what arrived is schema-valid too
        assert validator().errors(e) == []
    # runs: one parent, seven children, each START then a terminal state
    parent = marquez.runs[marquez.events[0]["run"]["runId"]]
    assert parent["states"] == ["START", "COMPLETE"]
    assert sum(1 for r in marquez.runs.values() if r["states"] == ["START", "COMPLETE"]) == 8
    # graph: source file -> dataset job -> DuckDB snapshot, for every dataset
    d = res.dataset("erp.invoices")
    src = f"dataset:file:{d.metadata.location}"
    graph = marquez.lineage(src, 20)
    assert graph is not None
    ids = {n["id"] for n in graph}
    job = "job:readiness-auditor:audit.sample-crm-erp.erp.invoices"
    assert job in ids
    snap = next(i for i in ids if i.endswith(f"audit.samples.{d.sample_table}"))
    job_node = next(n for n in graph if n["id"] == job)
    assert job_node["inEdges"] == [{"origin": src, "destination": job}]
    assert job_node["outEdges"] == [{"origin": job, "destination": snap}]
    # quality facets were stored as INPUT facets (Marquez's rule), assertions visible
    stored = marquez.datasets[("file", d.metadata.location)]
    assert "dataQualityAssertions" in stored["inputFacets"]
    assert "dataQualityAssertions" not in stored["facets"]
    assert stored["facets"]["ownership"]["owners"][0]["name"] == "finance-data@example.com"


def test_read_lineage_back_from_marquez(marquez: MarquezFake, tmp_path) -> None:
    loaded, res, _ = sample_audit()
    events = [to_dict(e) for e in build_events(res, loaded.config, LineageConfig(),
                                               loaded.base_dir)]
    for e in events:
        assert marquez.ingest(e) == 201
    d = res.dataset("crm.contacts")
    nid = f"dataset:file:{d.metadata.location}"
    cfg = LineageConfig(marquez=MarquezSource(url=marquez.url, timeout=5))
    g, error = fetch_marquez(cfg, [nid], base_dir=loaded.base_dir)
    assert error is None
    node = g.nodes[nid]
    assert "sales-ops@example.com" in node.owners
    assert node.system_of_record == "salesforce"
    assert {"email", "phone"} <= node.pii_fields
    (down,) = g.downstream_ids(nid)
    assert down.endswith(f"audit.samples.{d.sample_table}")
    email = [c for c in g.column_edges if c.dst == down and c.dst_field == "email"]
    assert [c.transformation for c in email] == ["MASKED"]
    contact_id = [c for c in g.column_edges if c.dst == down and c.dst_field == "contact_id"]
    assert [c.transformation for c in contact_id] == ["IDENTITY"]


def test_marquez_rules_reject_what_marquez_rejects(marquez: MarquezFake) -> None:
    loaded, res, _ = sample_audit()
    good = to_dict(build_events(res, loaded.config, LineageConfig(), loaded.base_dir)[0])
    import copy

    from tests.marquez_fake import Rejected

    bad = copy.deepcopy(good)
    del bad["job"]["facets"]["jobType"]["jobType"]          # spec-valid, Marquez 422
    with pytest.raises(Rejected) as exc:
        marquez.ingest(bad)
    assert exc.value.status == 422
    bad = copy.deepcopy(good)
    bad["eventTime"] = "2026-11-20T10:00:00Z[Europe/London]"
    with pytest.raises(Rejected) as exc:
        marquez.ingest(bad)
    assert exc.value.status == 400
    bad = copy.deepcopy(good)
    del bad["job"]["facets"]["documentation"]["_producer"]
    with pytest.raises(Rejected):
        marquez.ingest(bad)
    assert marquez.ingest(good) == 201


def test_marquez_down_while_reading_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_openlineage_env(monkeypatch)
    fake = MarquezFake().start()
    url = fake.url
    fake.stop()
    cfg = LineageConfig(marquez=MarquezSource(url=url, timeout=1))
    g, error = fetch_marquez(cfg, ["dataset:file:/x.csv"], base_dir=sample_audit()[0].base_dir)
    assert error and "Connection" in error
    assert g.nodes == {}
    assert graph_from_marquez({}).nodes == {}
