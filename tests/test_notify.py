"""Webhook alerts against a real local HTTP server: success, retries on 500, a hanging receiver
bounded by the time budget, refused connections and secret URLs that never leak."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest

from auditor.notify import failure_finding, notify_all, send, wanted
from auditor.watch_config import WebhookConfig
from tests.webhook_server import webhook_server

SUMMARY: dict[str, Any] = {
    "headline": "auditor check mini.yml: 1 regression (run r1, exit 1)", "status": "regression",
    "exit_code": 1, "use_cases": [{"use_case": "uc", "band": "Ready", "score": 91.0,
                                   "previous": {"band": "Ready", "score": 97.5}}],
    "regressions": [{"rule": "volume", "message": "d: 10 rows vs 1,000 (-99.0%)"}],
    "sources": [{"dataset": "d", "status": "ok"}],
}


def hook(url: str, **kw: Any) -> WebhookConfig:
    return WebhookConfig.model_validate({"url": url, "backoff": "0.05s", **kw})


def test_success_posts_the_summary_as_json(tmp_path: Path) -> None:
    with webhook_server() as (base, got):
        d = send(hook(f"{base}/ok"), SUMMARY, base_dir=tmp_path)
    assert d.ok and d.attempts == 1 and d.status == 200 and d.error is None
    (body,) = got.bodies("/ok")
    assert body["event"] == "auditor.check" and body["status"] == "regression"
    assert body["regressions"][0]["rule"] == "volume"


def test_slack_format(tmp_path: Path) -> None:
    with webhook_server() as (base, got):
        d = send(hook(f"{base}/ok", format="slack"), SUMMARY, base_dir=tmp_path)
    assert d.ok
    (body,) = got.bodies("/ok")
    assert body["text"] == SUMMARY["headline"]
    text = body["blocks"][0]["text"]["text"]
    assert body["blocks"][0]["text"]["type"] == "mrkdwn"
    assert "`volume`" in text and "uc: Ready 91.0 (was Ready 97.5)" in text


def test_500_is_retried_then_given_up(tmp_path: Path) -> None:
    with webhook_server() as (base, got):
        started = time.monotonic()
        d = send(hook(f"{base}/fail", retries=2), SUMMARY, base_dir=tmp_path)
        elapsed = time.monotonic() - started
    assert not d.ok and d.attempts == 3 and got.count("/fail") == 3
    assert d.status == 500 and d.error == "HTTP 500"
    assert elapsed < 2.0  # backoff 0.05 s + 0.1 s
    f = failure_finding(d)
    assert f.code == "NOT001" and "after 3 attempts: HTTP 500" in f.message


def test_flaky_receiver_succeeds_on_retry(tmp_path: Path) -> None:
    with webhook_server() as (base, got):
        d = send(hook(f"{base}/flaky", retries=3), SUMMARY, base_dir=tmp_path)
    assert d.ok and d.attempts == 2 and got.count("/flaky") == 2


def test_4xx_is_final(tmp_path: Path) -> None:
    with webhook_server() as (base, got):
        d = send(hook(f"{base}/gone", retries=3), SUMMARY, base_dir=tmp_path)
    assert not d.ok and d.attempts == 1 and d.status == 404 and got.count("/gone") == 1


def test_hanging_receiver_is_bounded_by_the_budget(tmp_path: Path) -> None:
    with webhook_server() as (base, got):
        started = time.monotonic()
        d = send(hook(f"{base}/hang", timeout="1s", retries=5), SUMMARY, base_dir=tmp_path)
        elapsed = time.monotonic() - started
    assert not d.ok and got.count("/hang") == 1
    assert 0.9 <= elapsed <= 1.0 + 0.5, elapsed
    assert "timed out" in (d.error or "") or "within" in (d.error or "")


def test_refused_connection_fails_quickly(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    d = send(hook(f"http://127.0.0.1:{port}/x", retries=1), SUMMARY, base_dir=tmp_path)
    assert not d.ok and d.attempts == 2 and "ConnectError" in (d.error or "")
    assert time.monotonic() - started < 2.0


def test_secret_url_is_resolved_late_and_never_leaks(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with webhook_server() as (base, got):
        h = hook("${env:AUDITOR_TEST_HOOK}", retries=0)
        missing = send(h, SUMMARY, base_dir=tmp_path)
        assert not missing.ok and not missing.sent and "AUDITOR_TEST_HOOK" in missing.error
        monkeypatch.setenv("AUDITOR_TEST_HOOK", f"{base}/fail?token=s3cr3t")
        d = send(h, SUMMARY, base_dir=tmp_path)
        assert not d.ok and d.attempts == 1
        monkeypatch.setenv("AUDITOR_TEST_HOOK", f"{base}/ok?token=s3cr3t")
        assert send(h, SUMMARY, base_dir=tmp_path).ok
    for delivery in (missing, d):
        text = failure_finding(delivery).message + str(delivery.to_dict())
        assert "s3cr3t" not in text and "/fail" not in text
    assert d.name == "webhook[0]"


def test_events_select_hooks(tmp_path: Path) -> None:
    default = hook("http://127.0.0.1:9/x")
    assert wanted(default, {"regression"}) and wanted(default, {"source_failure"})
    assert not wanted(default, {"not_ready"}) and not wanted(default, set())
    assert wanted(hook("http://127.0.0.1:9/x", when=["always"]), set())
    with webhook_server() as (base, got):
        sent = notify_all([hook(f"{base}/ok", when=["not_ready"]), hook(f"{base}/ok")],
                          SUMMARY, {"regression"}, base_dir=tmp_path)
    assert len(sent) == 1 and got.count("/ok") == 1


def test_config_rejects_non_http_urls() -> None:
    with pytest.raises(ValueError, match="http"):
        WebhookConfig.model_validate({"url": "ftp://x"})
