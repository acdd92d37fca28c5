"""`auditor check` end to end: exit codes, JUnit XML, JSON, webhooks that fail or hang, a locked
store, and `auditor history` over the runs it leaves behind."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from auditor.cli import app
from auditor.cli import watch as watch_cli
from tests.test_drift import mini_sample, null_spike, write_opportunities
from tests.webhook_server import webhook_server

runner = CliRunner()


def ensure_registered() -> None:
    """Mount check/history/store on the CLI unless auditor.cli already does."""
    names = {c.name or (c.callback.__name__ if c.callback else "")
             for c in app.registered_commands}
    if "check" not in names:
        watch_cli.register(app)


ensure_registered()


def check(config: Path, *extra: str) -> tuple[int, dict[str, Any], ET.Element, str]:
    out, junit = config.parent / "check.json", config.parent / "check.xml"
    res = runner.invoke(app, ["check", str(config), "--json", str(out), "--junit", str(junit),
                              *extra], env={"COLUMNS": "200"})
    assert out.exists(), res.output
    return res.exit_code, json.loads(out.read_text()), ET.parse(junit).getroot(), res.output


def cases(root: ET.Element, suite: str) -> dict[str, ET.Element]:
    s = root.find(f"testsuite[@name='{suite}']")
    assert s is not None
    return {c.get("name", ""): c for c in s.findall("testcase")}


def test_check_passes_then_fails_on_a_regression(tmp_path: Path) -> None:
    config = mini_sample(tmp_path)
    write_opportunities(config, seed=1)
    code, doc, root, output = check(config)
    assert code == 0, output
    assert doc["status"] == "ok" and doc["prior_runs"] == 0
    assert set(doc["rules"].values()) == {"no_history"}
    assert set(cases(root, "auditor.use_cases")) == {"opportunity-win-scoring"}
    drift = cases(root, "auditor.drift")
    assert len(drift) == 11 and all(c.find("skipped") is not None for c in drift.values())
    assert root.get("failures") == "0"

    write_opportunities(config, seed=2)
    code, doc, root, output = check(config)
    assert code == 0 and set(doc["rules"].values()) == {"pass"}, output
    assert doc["use_cases"][0]["previous"]["band"] == "Conditionally ready"

    write_opportunities(config, seed=3, change=null_spike)
    code, doc, root, output = check(config)
    assert code == 1, output
    assert doc["status"] == "regression" and doc["exit_code"] == 1
    rules = {d["rule"] for d in doc["regressions"]}
    assert "null_rate" in rules and doc["rules"]["null_rate"] == "fail"
    (reg,) = [d for d in doc["regressions"] if d["rule"] == "null_rate"]
    assert reg["subject"] == "crm.opportunities.currency" and reg["method"] == "fixed"
    failure = cases(root, "auditor.drift")["null_rate"].find("failure")
    assert failure is not None and "crm.opportunities.currency" in failure.get("message", "")
    assert failure.get("type") == "regression"
    # the use case is still Conditionally ready: its own testcase passes
    assert cases(root, "auditor.use_cases")["opportunity-win-scoring"].find("failure") is None
    assert int(root.get("failures", "0")) >= 1
    assert "null share" in output and "exit 1" in output


def test_not_ready_source_failure_and_config_errors(tmp_path: Path) -> None:
    config = mini_sample(tmp_path)
    code, doc, root, _ = check(config, "--fail-under", "99")
    assert code == 1 and doc["status"] == "not_ready"
    uc = cases(root, "auditor.use_cases")["opportunity-win-scoring"].find("failure")
    assert uc is not None and "--fail-under 99" in uc.get("message", "")

    (config.parent / "crm" / "opportunities.csv").unlink()
    code, doc, root, _ = check(config)
    assert code == 3 and doc["status"] == "source_failure"
    src = cases(root, "auditor.sources")["crm.opportunities"].find("failure")
    assert src is not None and "opportunities.csv" in src.get("message", "")

    config.write_text(config.read_text() + "watch:\n  volume: {max_chnage: 0.1}\n")
    res = runner.invoke(app, ["check", str(config)])
    assert res.exit_code == 2
    assert "watch.volume.max_chnage: unknown field" in res.output


def test_failing_and_hanging_webhooks_never_fail_the_check(tmp_path: Path) -> None:
    with webhook_server() as (base, got):
        extra = (f"watch:\n  notify:\n"
                 f"    - {{url: '{base}/hang', timeout: 1s, retries: 3, when: [always]}}\n"
                 f"    - {{url: '{base}/fail', name: ops-hook, timeout: 2s, retries: 1,"
                 f" backoff: 0.1s, when: [always]}}\n"
                 f"    - {{url: '{base}/ok', format: slack, when: [always]}}\n")
        config = mini_sample(tmp_path, extra)
        started = time.monotonic()
        code, doc, root, output = check(config)
        elapsed = time.monotonic() - started
    assert code == 0, output  # the audit is fine; alerts failing does not change that
    found = {f["code"] for f in doc["findings"]}
    assert found == {"NOT001"} and len(doc["findings"]) == 2
    hang, fail, ok = doc["notifications"]
    assert not hang["ok"] and hang["elapsed_s"] <= 1.0 + 0.5
    assert not fail["ok"] and fail["attempts"] == 2 and fail["error"] == "HTTP 500"
    assert ok["ok"] and got.count("/ok") == 1
    assert "warning: NOT001 notification 'ops-hook' failed after 2 attempts" in output
    # bounded: the whole check took the audit, the 1 s budget and the 500 retries, no more
    t = doc["timings"]
    assert t["notify_s"] <= 1.0 + 0.5 + 1.0 and elapsed <= t["audit_s"] + t["notify_s"] + 5
    assert got.bodies("/ok")[0]["text"].startswith("auditor check mini.yml")
    notify = cases(root, "auditor.notify")
    assert len(notify) == 3 and root.get("failures") == "0"


def test_locked_store_fails_cleanly_with_exit_2(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.store import Store

    config = mini_sample(tmp_path)
    store = tmp_path / ".auditor" / "audit.duckdb"
    Store.open(store).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(store)!r}); "
                               "print('ready', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE)
    original = Store.open.__func__  # type: ignore[attr-defined]

    def quick(cls: type[Store], path: Any, **kw: Any) -> Store:
        return original(cls, path, **{**kw, "lock_timeout": 1.0})

    monkeypatch.setattr(Store, "open", classmethod(quick))
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"ready"
        res = runner.invoke(app, ["check", str(config)])
    finally:
        holder.kill()
        holder.wait()
    assert res.exit_code == 2
    assert "is in use by another process" in res.output
    monkeypatch.undo()
    s = Store.open(store, read_only=True)
    try:
        assert s.runs() == []
    finally:
        s.close()


def test_history_command_shows_trends(tmp_path: Path) -> None:
    config = mini_sample(tmp_path)
    for seed in (1, 2, 3):
        write_opportunities(config, seed=seed)
        check(config)
    res = runner.invoke(app, ["history", str(config)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "opportunity-win-scoring" in res.output and "crm.opportunities" in res.output
    assert any(ch in res.output for ch in "▁▂▃▄▅▆▇█")
    res = runner.invoke(app, ["history", str(config), "--dataset", "crm.opportunities",
                              "--use-case", "opportunity-win-scoring", "--limit", "2"],
                        env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "currency" in res.output and "Null share" in res.output
    res = runner.invoke(app, ["history", str(config), "-d", "crm.opportunities", "-f", "json"])
    data = json.loads(res.output)
    assert len(data["dataset"]["runs"]) == 3
    assert len(data["dataset"]["columns"]["amount"]) == 3
    res = runner.invoke(app, ["history", str(config), "--use-case", "nope"])
    assert res.exit_code == 2 and "no run in the store scored use case 'nope'" in res.output
