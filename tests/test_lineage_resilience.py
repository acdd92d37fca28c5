"""A lineage backend that refuses, fails or hangs costs one finding and at most the timeout."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from auditor.exit_codes import exit_code_for
from auditor.lineage import emit_run
from auditor.lineage_config import LineageConfig
from auditor.lineage_send import spool_read
from tests.marquez_fake import MarquezFake
from tests.test_lineage_support import REPO, clean_openlineage_env, sample_audit

TIMEOUT = 1.0
SLACK = 0.5
EVENTS = 16


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_openlineage_env(monkeypatch)
    monkeypatch.chdir(tmp_path)     # no openlineage.yml from the working directory


def _down(mode: str) -> tuple[MarquezFake, str]:
    if mode == "refused":
        fake = MarquezFake().start()
        url = fake.url
        fake.stop()                  # the port is closed: connection refused
        return fake, url
    fake = MarquezFake(mode=mode).start()
    return fake, fake.url


@pytest.mark.parametrize("mode", ["refused", "error", "hang"])
def test_backend_down_leaves_result_unchanged_but_one_finding(mode: str,
                                                             tmp_path: Path) -> None:
    from auditor.store import Store

    loaded, res, store_file = sample_audit()
    store_copy = tmp_path / "audit.duckdb"
    shutil.copy(store_file, store_copy)
    fake, url = _down(mode)
    spool = tmp_path / "spool.ndjson"
    cfg = LineageConfig(transport="http", url=url, timeout=TIMEOUT, spool=str(spool))
    store = Store.open(store_copy)
    try:
        t0 = time.monotonic()
        out = emit_run(res, loaded, store=store, lineage=cfg)
        elapsed = time.monotonic() - t0
        stored = store.con.execute("SELECT code, severity FROM findings WHERE run_id = ? AND "
                                   "code = 'LIN001'", [res.run_id]).fetchall()
    finally:
        store.close()
        fake.stop()
    print(f"{mode}: emit_run returned after {elapsed:.3f} s (timeout {TIMEOUT} s)")
    assert elapsed < TIMEOUT + SLACK
    assert out.findings[:-1] == res.findings
    (finding,) = out.findings[len(res.findings):]
    assert finding.code == "LIN001" and finding.severity == "minor"
    assert finding.detail["pending_events"] == EVENTS
    assert replace(out, findings=res.findings) == res
    assert exit_code_for(out) == exit_code_for(res)
    assert [u.score for u in out.use_cases] == [u.score for u in res.use_cases]
    assert stored == [("LIN001", "minor")]
    assert len(spool_read(spool)) == EVENTS
    expected = {"refused": "connection refused", "error": "HTTP 500",
                "hang": "no answer"}[mode]
    assert expected in finding.message, finding.message


def test_spool_is_replayed_in_order_by_the_next_run(tmp_path: Path) -> None:
    loaded, res, _ = sample_audit()
    spool = tmp_path / "spool.ndjson"
    fake, url = _down("error")
    emit_run(res, loaded, lineage=LineageConfig(transport="http", url=url, timeout=TIMEOUT,
                                                spool=str(spool)))
    fake.stop()
    assert len(spool_read(spool)) == EVENTS
    ok = MarquezFake().start()
    try:
        out = emit_run(res, loaded, lineage=LineageConfig(transport="http", url=ok.url,
                                                          timeout=5, spool=str(spool)))
    finally:
        ok.stop()
    assert out is res
    assert len(ok.events) == 2 * EVENTS            # the spooled run first, then this one
    assert ok.rejected == []
    assert spool_read(spool) == []


def test_lineage_send_cli_resends_the_spool(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.cli.lineage import register

    loaded, res, _ = sample_audit()
    spool = tmp_path / "spool.ndjson"
    fake, url = _down("refused")
    emit_run(res, loaded, lineage=LineageConfig(transport="http", url=url, timeout=TIMEOUT,
                                                spool=str(spool)))
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    runner = CliRunner()
    config = str(REPO / "sample_data" / "audit.yml")
    monkeypatch.setenv("OPENLINEAGE_URL", url)        # still down: exit 1, spool kept
    r = runner.invoke(app, ["lineage", "send", "-c", config, "--spool", str(spool),
                            "--timeout", "1"])
    assert r.exit_code == 1, r.output
    assert len(spool_read(spool)) == EVENTS
    ok = MarquezFake().start()
    try:
        monkeypatch.setenv("OPENLINEAGE_URL", ok.url)  # the standard env var picks the target
        r = runner.invoke(app, ["lineage", "send", "-c", config, "--spool", str(spool)])
    finally:
        ok.stop()
    assert r.exit_code == 0, r.output
    assert f"sent {EVENTS} events" in r.output
    assert len(ok.events) == EVENTS and ok.rejected == []
    assert spool_read(spool) == []
    r = runner.invoke(app, ["lineage", "send", "-c", config, "--spool", str(spool)])
    assert "nothing to send" in r.output


def test_default_is_a_local_archive_and_disabled_means_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded, res, _ = sample_audit()
    local = replace(res, store_path=str(tmp_path / "audit.duckdb"))
    out = emit_run(local, loaded)
    assert out is local
    archive = tmp_path / "lineage" / "events.ndjson"
    lines = archive.read_text().splitlines()
    assert len(lines) == EVENTS
    assert json.loads(lines[0])["eventType"] == "START"
    monkeypatch.setenv("OPENLINEAGE_DISABLED", "true")
    assert emit_run(local, loaded) is local
    assert len(archive.read_text().splitlines()) == EVENTS


def test_openlineage_url_env_is_used_without_touching_os_environ(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    loaded, res, _ = sample_audit()
    ok = MarquezFake().start()
    try:
        monkeypatch.setenv("OPENLINEAGE_URL", ok.url)
        before = dict(os.environ)
        out = emit_run(replace(res, store_path=str(tmp_path / "a.duckdb")), loaded)
        assert dict(os.environ) == before
    finally:
        ok.stop()
    assert out.findings == res.findings
    assert len(ok.events) == EVENTS


def test_missing_api_key_secret_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    loaded, res, _ = sample_audit()
    cfg = LineageConfig(transport="http", url="http://127.0.0.1:9", timeout=TIMEOUT,
                        api_key="${env:AUDITOR_TEST_NO_SUCH_KEY}", spool=str(tmp_path / "s"))
    out = emit_run(res, loaded, lineage=cfg)
    assert out.findings[-1].code == "LIN001"
    assert "AUDITOR_TEST_NO_SUCH_KEY" in out.findings[-1].message
    with pytest.raises(ValueError):
        LineageConfig(api_key="literal-secret")


def test_kafka_without_a_broker_or_client_is_bounded_too(tmp_path: Path) -> None:
    from auditor.lineage_config import KafkaSettings

    loaded, res, _ = sample_audit()
    cfg = LineageConfig(transport="kafka", timeout=TIMEOUT, spool=str(tmp_path / "s.ndjson"),
                        kafka=KafkaSettings(topic="lineage", config={
                            "bootstrap.servers": "127.0.0.1:9", "message.timeout.ms": "500"}))
    t0 = time.monotonic()
    out = emit_run(res, loaded, lineage=cfg)
    assert time.monotonic() - t0 < TIMEOUT + SLACK
    assert [f.code for f in out.findings[len(res.findings):]] == ["LIN001"]
    assert len(spool_read(tmp_path / "s.ndjson")) == EVENTS


def test_console_transport_logs_events(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    loaded, res, _ = sample_audit()
    with caplog.at_level(logging.INFO, logger="openlineage.client.transport.console"):
        out = emit_run(res, loaded, lineage=LineageConfig(transport="console"))
    assert out is res
    lines = [r.getMessage() for r in caplog.records
             if r.name == "openlineage.client.transport.console"]
    assert len(lines) == EVENTS and json.loads(lines[0])["eventType"] == "START"
