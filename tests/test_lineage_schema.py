"""Every emitted event validates against the official OpenLineage JSON Schemas (with formats)."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from auditor.lineage_config import LineageConfig
from auditor.lineage_emit import build_events
from auditor.lineage_send import to_dict
from tests.test_lineage_support import format_checker, sample_audit, validator


def _events(result=None, lineage: LineageConfig | None = None) -> list[dict]:
    loaded, res, _ = sample_audit()
    return [to_dict(e) for e in build_events(result or res, loaded.config,
                                             lineage or LineageConfig(), loaded.base_dir)]


def test_every_event_of_a_sample_run_validates() -> None:
    v = validator()
    events = _events()
    assert len(events) == 2 + 2 * 7
    problems = {i: v.errors(e) for i, e in enumerate(events)}
    assert {i: p for i, p in problems.items() if p} == {}
    # every facet really was checked against a saved facet schema
    urls = {f["_schemaURL"].split("#")[0] for e in events
            for f in _all_facets(e)}
    assert any(u.endswith("DataQualityMetricsInputDatasetFacet.json") for u in urls)
    assert any(u.endswith("DataQualityAssertionsDatasetFacet.json") for u in urls)
    assert any(u.endswith("ColumnLineageDatasetFacet.json") for u in urls)
    assert any(u.endswith("ParentRunFacet.json") for u in urls)


def test_failed_dataset_events_validate_with_error_message() -> None:
    _, res, _ = sample_audit()
    broken = replace(res.datasets[1], status="failed", error="connection refused",
                     profile=None, expectations=(), sample_table=None, metadata=None)
    result = replace(res, datasets=(res.datasets[0], broken, *res.datasets[2:]))
    events = _events(result)
    v = validator()
    assert [v.errors(e) for e in events if v.errors(e)] == []
    fail = [e for e in events if e["eventType"] == "FAIL"]
    assert len(fail) == 2  # the dataset's child run and the parent (partial audit)
    assert fail[0]["run"]["facets"]["errorMessage"]["message"] == "connection refused"
    assert fail[0]["run"]["facets"]["errorMessage"]["programmingLanguage"] == "PYTHON"


def _all_facets(event: dict) -> list[dict]:
    out = list((event.get("run") or {}).get("facets", {}).values())
    out += list((event.get("job") or {}).get("facets", {}).values())
    for d in (event.get("inputs") or []) + (event.get("outputs") or []):
        for group in ("facets", "inputFacets", "outputFacets"):
            out += list((d.get(group) or {}).values())
    return out


@pytest.mark.parametrize("bad_time", [
    "2026-11-20T10:00:00",                    # naive: no offset
    "2026-11-20 10:00:00+00:00",              # space instead of T is not RFC 3339 here
    "2026-11-20T10:00:00Z[Europe/London]",    # Java zone-id suffix (Marquez #1757)
    "2026-13-20T10:00:00+00:00",              # month 13
    "yesterday",
])
def test_malformed_event_time_fails(bad_time: str) -> None:
    event = copy.deepcopy(_events()[0])
    event["eventTime"] = bad_time
    errors = validator().errors(event)
    assert any("eventTime" in e and "date-time" in e for e in errors), errors


@pytest.mark.parametrize("bad_uri", [
    "not a uri",                          # spaces, no scheme
    "https://<org>/<repo>/tree/1.0",      # the placeholder producer of the notes' example
    "//no-scheme.example.com/x",
    "http://bad host/x",
])
def test_malformed_uri_fails(bad_uri: str) -> None:
    event = copy.deepcopy(_events()[0])
    event["producer"] = bad_uri
    errors = validator().errors(event)
    assert any(e.startswith("producer") and "uri" in e for e in errors), errors
    facet_event = copy.deepcopy(_events()[2])
    facet_event["inputs"][0]["facets"]["dataSource"]["uri"] = bad_uri
    errors = validator().errors(facet_event)
    assert any("dataSource" in e and "uri" in e for e in errors), errors


def test_facet_contents_are_checked_not_only_the_core() -> None:
    event = copy.deepcopy(_events()[2])
    metrics = event["inputs"][0]["inputFacets"]["dataQualityMetrics"]
    metrics["rowCount"] = "many"
    del event["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"][0]["success"]
    errors = validator().errors(event)
    assert any("rowCount" in e for e in errors)
    assert any("success" in e for e in errors)


def test_format_checker_itself() -> None:
    checker = format_checker()
    assert checker.conforms("2026-11-20T10:00:00.123+01:00", "date-time")
    assert checker.conforms("2026-11-20T10:00:00Z", "date-time")
    assert not checker.conforms("2026-11-20T10:00:00", "date-time")
    assert not checker.conforms("2026-02-30T10:00:00Z", "date-time")
    assert checker.conforms("file:///work/a%20b.csv", "uri")
    assert checker.conforms("postgres://db:5432", "uri")
    assert not checker.conforms("file:///work/a b.csv", "uri")
    assert not checker.conforms("relative/path", "uri")
