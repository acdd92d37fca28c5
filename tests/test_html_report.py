"""`auditor report`: the HTML report of a stored run, checked in a real headless Chromium.

Two real audits of the sample data (the second after dropping accounts, so the runs differ) give
a store with history. The report must render without console errors or network requests, show
the numbers of the JSON report (use cases, bands, scores to one decimal, blocker ids), keep PII
masked, escape hostile strings, and refuse an unknown run id with exit code 2. The screenshot
goes to ``tests/artifacts/report.png`` for a human to look at.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from auditor.cli import app
from auditor.cli import report as report_cli
from auditor.models import (
    AuditResult,
    Band,
    Blocker,
    CheckEvidence,
    ColumnProfile,
    DatasetResult,
    ExpectationOutcome,
    Finding,
    TableProfile,
    UseCaseScore,
)
from auditor.report import store_reader
from auditor.report.html import render_stored_run
from auditor.store import Store
from tests.browser import load_page, require_chromium
from tests.test_audit_e2e import audit_json, copy_sample

if not any((c.name or getattr(c.callback, "__name__", "")) == "report"
           for c in app.registered_commands):
    report_cli.register(app)  # until auditor.cli wires the command in itself

runner = CliRunner()
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
MAX_BYTES = 1_000_000


def store_of(config: Path) -> Path:
    return config.parent.parent / ".auditor" / "audit.duckdb"


def write_report(config: Path, *args: str, name: str = "report.html") -> tuple[int, str, Path]:
    out = config.parent / name
    res = runner.invoke(app, ["report", str(config), *args, "--output", str(out)])
    return res.exit_code, res.output, out


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A store with two committed runs; the second has 25 fewer accounts."""
    config = copy_sample(tmp_path_factory.mktemp("html"))
    _, first = audit_json(config)
    accounts = config.parent / "crm" / "accounts.csv"
    lines = accounts.read_text(encoding="utf-8").splitlines(keepends=True)
    accounts.write_text("".join(lines[:-25]), encoding="utf-8")
    _, second = audit_json(config)
    assert first["run"]["id"] != second["run"]["id"]
    return {"config": config, "first": first, "second": second}


def section(dom: str, anchor: str) -> str:
    """The HTML of ``<section id=anchor>`` (sections do not nest)."""
    start = dom.index(f'<section id="{anchor}"')
    return dom[start:dom.index("</section>", start)]


def test_report_renders_in_chromium_with_the_json_numbers(two_runs: dict[str, Any]) -> None:
    chromium = require_chromium()
    config, report = two_runs["config"], two_runs["second"]
    code, output, out = write_report(config, "latest")
    assert code == 0, output
    html = out.read_text(encoding="utf-8")
    assert len(html.encode()) < MAX_BYTES
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "report.html").write_text(html, encoding="utf-8")
    page = load_page(out, screenshot=ARTIFACTS / "report.png", chromium=chromium)

    assert page.errors() == [], page.errors()
    assert set(page.requests) == {page.url}, "the report must not load anything else"
    assert (ARTIFACTS / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.height > 2400  # the whole report rendered, not an error page

    text = page.text
    assert report["run"]["id"] in text
    for uc in report["use_cases"]:
        start = page.dom.index(f'data-use-case="{uc["use_case"]}"')
        ends = [page.dom.find(m, start + 1) for m in ("data-use-case=", "</section>")]
        card = page.dom[start:min(e for e in ends if e > 0)]
        assert f"{uc['score']:.1f}" in card and uc["band"] in card, uc["use_case"]
        anchor = "uc-" + uc["use_case"]
        body = section(page.dom, anchor)
        assert f"{uc['score']:.1f}/100" in body
        shown = re.findall(r'data-blocker="([^"]+)"', body)
        assert shown == [b["id"] for b in uc["blockers"]], uc["use_case"]
        for b in uc["blockers"]:
            assert (b["owner"] or "no owner declared") in body
        for c in uc["checks"]:
            if c["points_lost"] > 0.005:
                assert f"−{c['points_lost']:.1f}" in body, (uc["use_case"], c["check"])
        assert f"{uc['use_case']} — " in text and uc["band"] in text
    for d in report["datasets"]:
        assert d["name"] in text and f"{d['rows']:,}" in text
    assert "Where the points went" in text and "Access inventory" in text
    # the second run has 25 accounts fewer: the sparkline tooltips carry both runs
    accounts_rows = [d["rows"] for r in (two_runs["first"], report)
                     for d in r["datasets"] if d["name"] == "crm.accounts"]
    assert accounts_rows[0] - accounts_rows[1] == 25
    assert two_runs["first"]["run"]["id"] in page.dom
    con = duckdb.connect(str(store_of(config)), read_only=True)
    try:
        has_lineage = store_reader.read_lineage(con, report["run"]["id"]) is not None
    finally:
        con.close()
    assert ('id="lineage"' in page.dom) == has_lineage


def test_store_reader_matches_the_json_report(two_runs: dict[str, Any]) -> None:
    report = two_runs["second"]
    con = duckdb.connect(str(store_of(two_runs["config"])), read_only=True)
    try:
        data = store_reader.read_run(con, store_reader.resolve_run_id(con, None))
        history = store_reader.read_history(con, report["run"]["id"])
    finally:
        con.close()
    assert data["run"]["run_id"] == report["run"]["id"]
    assert [u["use_case"] for u in data["use_cases"]] == \
        [u["use_case"] for u in report["use_cases"]]
    for got, want in zip(data["use_cases"], report["use_cases"], strict=True):
        assert (got["band"], got["score"], got["coverage"]) == \
            (want["band"], want["score"], want["coverage"])
        assert [b["id"] for b in got["blockers"]] == [b["id"] for b in want["blockers"]]
        assert [(c["check"], c["points_lost"]) for c in got["checks"]] == \
            [(c["check"], c["points_lost"]) for c in want["checks"]]
    assert {d["name"]: d["rows"] for d in data["datasets"]} == \
        {d["name"]: d["rows"] for d in report["datasets"]}
    assert len(data["findings"]) == len(report["findings"])
    assert [p["run_id"] for p in history["scores"]["churn-prediction"]] == \
        [two_runs["first"]["run"]["id"], report["run"]["id"]]


def test_report_of_an_older_run(two_runs: dict[str, Any]) -> None:
    first, second = two_runs["first"], two_runs["second"]
    code, output, out = write_report(two_runs["config"], first["run"]["id"], name="old.html")
    assert code == 0, output
    html = out.read_text(encoding="utf-8")
    assert f'<code id="run-id">{first["run"]["id"]}</code>' in html
    assert second["run"]["id"] not in html  # neither as the run nor in its trend history
    rows = {r["run"]["id"]: next(d["rows"] for d in r["datasets"] if d["name"] == "crm.accounts")
            for r in (first, second)}
    row = re.search(r'<tr>\s*<td class="nowrap"><a href="#ds-crm-accounts">.*?</tr>', html,
                    re.S)
    assert row, "crm.accounts row of the dataset table"
    assert f'<td class="num">{rows[first["run"]["id"]]:,}</td>' in row.group(0)
    assert f'<td class="num">{rows[second["run"]["id"]]:,}</td>' not in row.group(0)


def test_unknown_run_id_is_a_clear_error(two_runs: dict[str, Any]) -> None:
    code, output, out = write_report(two_runs["config"], "20990101T000000-nope", name="x.html")
    assert code == 2
    assert "run '20990101T000000-nope' not found" in output
    assert two_runs["second"]["run"]["id"] in output  # the hint lists recent runs
    assert not out.exists()


def test_no_store_yet_is_a_clear_error(tmp_path: Path) -> None:
    config = copy_sample(tmp_path)
    code, output, out = write_report(config)
    assert code == 2 and "does not exist" in output and not out.exists()


def test_pii_stays_masked(two_runs: dict[str, Any]) -> None:
    config = two_runs["config"]
    code, output, out = write_report(config, name="pii.html")
    assert code == 0, output
    html = out.read_text(encoding="utf-8")
    sample = config.parent
    with open(sample / "crm" / "contacts.csv", encoding="latin-1", newline="") as f:
        contacts = list(csv.DictReader(f, delimiter=";"))
    raw = {r["email"] for r in contacts if EMAIL.fullmatch(r["email"] or "")}
    phones = {r["phone"] for r in contacts if len(r["phone"] or "") >= 8}
    tickets = (sample / "crm" / "support_tickets.jsonl").read_text(encoding="utf-8")
    raw |= set(EMAIL.findall(tickets))
    assert len(raw) > 500 and len(phones) > 500
    # Allowed in clear: owners declared in audit.yml, the sales-rep mailboxes of
    # crm.accounts.owner_email (declared not_pii) and an address in a suite's rationale.
    with open(sample / "crm" / "accounts.csv", encoding="utf-8", newline="") as f:
        reps = {r["owner_email"] for r in csv.DictReader(f)}
    owners = set(EMAIL.findall(config.read_text(encoding="utf-8")))
    allowed = owners | reps | {"local@domain.tld"}
    in_clear = set(EMAIL.findall(html))
    assert in_clear <= allowed, sorted(in_clear - allowed)[:5]
    assert not raw & in_clear
    assert not [p for p in phones if p in html][:5]
    assert "***@" in html or "a***" in html  # masked values are shown, as masked


# --- hostile strings and lineage, on a hand-made store ------------------------------------

EVIL = '<script>console.error("xss")</script><img src=x onerror=alert(1)>'


def hostile_store(path: Path) -> str:
    """A committed run whose every free-text field carries markup, plus a lineage graph."""
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    st = Store.open(path)
    try:
        with st.run(config_path=f"/cfg/{EVIL}.yml", config_hash="h" + EVIL, version="t",
                    as_of=now) as w:
            name = "crm.<b>evil</b>"
            ds = DatasetResult(name=name, source="crm", object=f"{EVIL}.csv", status="ok",
                               rows=3, owner=f"owner {EVIL}")
            quantiles = {"p01": 1, "p05": 1, "p25": 2, "p50": 3, "p75": 5, "p95": 8, "p99": 9}
            cols = (ColumnProfile(name=f"col {EVIL}", type="VARCHAR", rows=3, nulls=1, empty=0,
                                  distinct=2, min=EVIL, max="z",
                                  top_values=((EVIL, 2), ("j***@e***.example", 1))),
                    ColumnProfile(name="amount", type="DOUBLE", rows=3, nulls=0, empty=0,
                                  distinct=3, min=1.0, max=9.0, mean=4.0, quantiles=quantiles))
            w.write_dataset(ds)
            w.write_profile(TableProfile(dataset=name, rows=3, columns=cols, duplicate_rows=0))
            w.write_expectations([ExpectationOutcome(
                suite=EVIL, dataset=name, expectation_type="expect_column_values_to_match_regex",
                kwargs={"column": f"col {EVIL}"}, success=False, element_count=3,
                unexpected_count=1, unexpected_percent=50.0, examples=(EVIL,),
                severity="critical", error=None)])
            w.write_pii(name, {f"col {EVIL}": f"reason {EVIL}"})
            w.write_findings([Finding(code="DQ004", severity="critical", message=EVIL,
                                      dataset=name, column=EVIL, hint=EVIL)])
            uc = UseCaseScore(
                use_case=f"uc {EVIL}", kind="rag", band=Band.NOT_READY_C, score=42.25,
                coverage=0.5, blockers=(Blocker(id="B1", check="P2", message=EVIL, fix=EVIL,
                                                owner=EVIL),),
                criticals=(EVIL,), group_weights={"Privacy & access": 100.0},
                checks=(CheckEvidence(check="P2", name=EVIL, group="P", scope=EVIL,
                                      status="evaluated", severity="blocker", value=1.0,
                                      display=EVIL, points_lost=57.75, max_points=100.0,
                                      blocker="B1", fix=EVIL),))
            w.write_scores([uc])
            # as a store migration would create them: in schema main
            w.con.execute("CREATE TABLE IF NOT EXISTS main.lineage_nodes (run_id VARCHAR, "
                          "node_id VARCHAR, namespace VARCHAR, name VARCHAR, dataset VARCHAR, "
                          "owners JSON, system_of_record VARCHAR, pii_fields JSON, "
                          "fields JSON, origins JSON)")
            w.con.execute("CREATE TABLE IF NOT EXISTS main.lineage_edges (run_id VARCHAR, "
                          "src_id VARCHAR, dst_id VARCHAR, job_id VARCHAR, origin VARCHAR)")
            w.defer("INSERT INTO lineage_nodes (run_id, node_id, namespace, name, dataset, "
                    "owners, system_of_record, pii_fields, fields, origins) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [[w.run_id, "n1", "sf", "Account", None, '["crm-team"]', "salesforce",
                      '["email"]', "[]", '["marquez"]'],
                     [w.run_id, "n2", "file", "accounts.csv", name, "[]", None, "[]", "[]",
                      json.dumps([EVIL])]])
            w.defer("INSERT INTO lineage_edges (run_id, src_id, dst_id, job_id, origin) "
                    "VALUES (?, ?, ?, ?, ?)", [[w.run_id, "n1", "n2", f"export {EVIL}", "sql"]])
            w.finish(AuditResult(run_id=w.run_id, started_at=now, finished_at=now,
                                 config_path="c", config_hash="h", store_path=str(path),
                                 datasets=(ds,), use_cases=(uc,), findings=()), "ok")
            run_id = w.run_id
    finally:
        st.close()
    return run_id


def test_hostile_strings_are_escaped_and_lineage_is_summarised(tmp_path: Path) -> None:
    run_id = hostile_store(tmp_path / "audit.duckdb")
    con = duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True)
    try:
        got, html = render_stored_run(con, "latest")
    finally:
        con.close()
    assert got == run_id
    assert "<script" not in html and "<img" not in html and "<b>evil" not in html
    assert "&lt;script&gt;console.error(" in html and "crm.&lt;b&gt;evil&lt;/b&gt;" in html
    lineage = section(html, "lineage")
    assert "salesforce" in lineage and "sf/Account" in lineage and "export &lt;script" in lineage
    assert "42.2/100" in html or "42.3/100" in html  # one decimal, as the JSON report rounds
    out = tmp_path / "hostile.html"
    out.write_text(html, encoding="utf-8")
    page = load_page(out, chromium=require_chromium())
    assert page.errors() == []  # nothing injected ran (it would log console.error)
    assert EVIL in page.text  # shown as text, verbatim
    assert page.requests == [page.url]
