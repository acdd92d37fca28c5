"""Run history in the store: snapshots read back, retention that deletes whole runs atomically
and never a dataset's latest run, and two overlapping `auditor audit` processes (cron overlap)
that leave only complete runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from auditor.api import run_audit
from auditor.config import load_config
from auditor.history import (
    dataset_history,
    load_comparison,
    names,
    prune,
    use_case_history,
)
from auditor.store import Store
from tests.test_check import app, ensure_registered
from tests.test_drift import mini_sample, write_opportunities

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
ensure_registered()

LEGACY = """\
  crm.legacy_opportunities:
    source: crm
    object: opportunities.csv
    key: [opportunity_id]
    owner: revops@example.com
"""


def tables_with_run_id(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT DISTINCT table_name FROM information_schema.columns WHERE column_name = "
        "'run_id' AND table_schema = 'main' ORDER BY 1").fetchall()]


def footprint(path: Path) -> dict[str, Any]:
    """Rows per (table, run) and the sample tables: what a prune may or may not touch."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = {}
        for t in tables_with_run_id(con):
            for run_id, n in con.execute(f'SELECT run_id, count(*) FROM "{t}" GROUP BY 1'
                                         ).fetchall():
                rows[(t, run_id)] = n
        samples = sorted(r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'samples'"
        ).fetchall())
        return {"rows": rows, "samples": samples}
    finally:
        con.close()


@pytest.fixture(scope="module")
def aged_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Four real runs, aged: r1 120 d, r2 100 d (the only run of crm.legacy_opportunities),
    r3 95 d, r4 now. Every run has expectation results, findings, scores and a sample."""
    tmp = tmp_path_factory.mktemp("aged")
    config = mini_sample(tmp)
    text = config.read_text().replace(
        "    system_of_record: salesforce\n",
        "    system_of_record: salesforce\n    suites: [../expectations/crm_opportunities.json]\n")
    config.write_text(text)
    legacy = config.parent / "legacy.yml"
    legacy.write_text(text.split("use_cases:")[0].split("datasets:")[0] + "datasets:\n" + LEGACY)
    store = tmp / "store.duckdb"
    ids = []
    for cfg in (config, legacy, config, config):
        ids.append(run_audit(load_config(cfg), store_path=str(store)).run_id)
    now = datetime.now(UTC)
    con = duckdb.connect(str(store))
    for run_id, days in zip(ids, (120, 100, 95, 0), strict=True):
        con.execute("UPDATE runs SET started_at = ? WHERE run_id = ?",
                    [now - timedelta(days=days), run_id])
    con.close()
    return {"tmp": tmp, "config": config, "store": store, "ids": ids}


def test_prune_deletes_whole_runs_but_keeps_each_datasets_latest(aged_store: dict[str, Any],
                                                                 tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    shutil.copy(aged_store["store"], store)
    r1, r2, r3, r4 = aged_store["ids"]
    before = footprint(store)
    touched = {t for t, _ in before["rows"]}
    assert {"runs", "datasets", "column_profiles", "expectation_results", "findings", "scores",
            "score_checks"} <= touched
    st = Store.open(store)
    try:
        dry = prune(st, timedelta(days=90), dry_run=True)
    finally:
        st.close()
    assert footprint(store) == before
    st = Store.open(store)
    try:
        res = prune(st, timedelta(days=90))
    finally:
        st.close()
    assert dry.deleted_runs == res.deleted_runs == (r1, r3)
    assert res.protected_runs == (r2,)  # crm.legacy_opportunities was last seen 100 days ago
    assert res.samples_dropped == 2
    after = footprint(store)
    assert {r for _, r in after["rows"]} == {r2, r4}
    assert {k: v for k, v in before["rows"].items() if k[1] in (r2, r4)} == after["rows"]
    assert [s.split("__")[0] for s in after["samples"]] == sorted([r2, r4])
    assert res.rows_deleted["runs"] == 2 and sum(res.rows_deleted.values()) == sum(
        v for k, v in before["rows"].items() if k[1] in (r1, r3))


def test_prune_is_all_or_nothing(aged_store: dict[str, Any], tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import auditor.history as history

    store = tmp_path / "s.duckdb"
    shutil.copy(aged_store["store"], store)
    before = footprint(store)

    def boom(con: duckdb.DuckDBPyConnection, table: str) -> None:
        raise RuntimeError("disk full while dropping " + table)

    monkeypatch.setattr(history, "_drop_sample", boom)
    st = Store.open(store)
    try:
        with pytest.raises(RuntimeError, match="disk full"):
            prune(st, timedelta(days=90))
    finally:
        st.close()
    assert footprint(store) == before  # the DELETEs ran first and were rolled back


def test_store_prune_command(aged_store: dict[str, Any]) -> None:
    config = aged_store["config"]
    store = config.parent.parent / ".auditor" / "audit.duckdb"
    store.parent.mkdir(exist_ok=True)
    shutil.copy(aged_store["store"], store)
    res = runner.invoke(app, ["store", "prune", str(config), "--keep", "90d", "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "would delete 2 run(s)" in res.output and "kept 1 older run(s)" in res.output
    res = runner.invoke(app, ["store", "prune", str(config), "--keep", "90d"])
    assert res.exit_code == 0 and "deleted 2 run(s)" in res.output
    res = runner.invoke(app, ["store", "prune", str(config), "--keep", "90d"])
    assert "deleted 0 run(s)" in res.output
    res = runner.invoke(app, ["store", "prune", str(config), "--keep", "soon"])
    assert res.exit_code == 2 and "not a duration" in res.output
    res = runner.invoke(app, ["store", "prune", str(config)])
    assert res.exit_code == 2 and "no retention window" in res.output


def test_history_reads_runs_back_in_order(aged_store: dict[str, Any]) -> None:
    r1, r2, r3, r4 = aged_store["ids"]
    con = duckdb.connect(str(aged_store["store"]), read_only=True)
    try:
        assert names(con) == (["crm.legacy_opportunities", "crm.opportunities"],
                              ["opportunity-win-scoring"])
        hist = dataset_history(con, "crm.opportunities")
        assert [s.run.run_id for s in hist] == [r1, r3, r4]
        last = hist[-1]
        assert last.volume == 1500 and last.columns["amount"].quantiles is not None
        assert last.columns["created_at"].quantiles is None  # temporal: not compared
        assert last.lag_hours is not None and last.lag_hours < 1
        assert [s.run.run_id for s in dataset_history(con, "crm.opportunities", limit=2)] \
            == [r3, r4]
        ucs = use_case_history(con, "opportunity-win-scoring")
        assert [u.run.run_id for u in ucs] == [r1, r3, r4]
        assert ucs[-1].band == "Conditionally ready" and "Q7" in ucs[-1].lost
        comparison = load_comparison(con, r4)
        assert [s.run.run_id for s in comparison.dataset_history["crm.opportunities"]] \
            == [r1, r3]
        assert comparison.prior_runs == 2
    finally:
        con.close()


def test_overlapping_audits_commit_one_after_the_other(tmp_path: Path) -> None:
    """Cron overlap: two `auditor audit` processes on one store at the same instant. The second
    waits for the first's lock (Store.open) and then commits, or gives up with exit 2 and a
    clear message; either way the store holds only complete runs."""
    config = mini_sample(tmp_path)
    write_opportunities(config, seed=5)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen(
        [sys.executable, "-m", "auditor", "--quiet", "audit", str(config), "--format", "json",
         "--output", str(tmp_path / f"r{i}.json")], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True) for i in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    committed = []
    for i, (code, stderr) in enumerate(results):
        if code == 2:  # waited the full lock timeout, then failed cleanly
            assert "is in use by another process" in stderr, stderr
            continue
        assert code in (0, 1), stderr  # a verdict, not a crash
        committed.append(json.loads((tmp_path / f"r{i}.json").read_text())["run"]["id"])
    assert committed, results
    store = tmp_path / ".auditor" / "audit.duckdb"
    con = duckdb.connect(str(store), read_only=True)
    try:
        runs = con.execute("SELECT run_id, status, finished_at FROM runs").fetchall()
        assert sorted(r[0] for r in runs) == sorted(committed)
        assert all(r[1] == "ok" and r[2] is not None for r in runs)
        for table in ("datasets", "table_profiles", "scores"):
            per_run = dict(con.execute(f"SELECT run_id, count(*) FROM {table} GROUP BY 1"
                                       ).fetchall())
            assert per_run == {r: 1 for r in committed}, table
        samples = con.execute("SELECT table_name FROM information_schema.tables "
                              "WHERE table_schema = 'samples'").fetchall()
        assert sorted(s[0].split("__")[0] for s in samples) == sorted(committed)
        if len(committed) == 2:  # sequential, not interleaved
            spans = sorted(con.execute("SELECT started_at, finished_at FROM runs").fetchall())
            assert spans[0][1] <= spans[1][0]
    finally:
        con.close()


def test_check_applies_watch_retention(aged_store: dict[str, Any]) -> None:
    config = aged_store["config"]
    r1, r2, r3, r4 = aged_store["ids"]
    store = config.parent.parent / ".auditor" / "audit.duckdb"
    store.parent.mkdir(exist_ok=True)
    shutil.copy(aged_store["store"], store)
    original = config.read_text()
    config.write_text(original + "watch: {retention: 90d}\n")
    try:
        out = config.parent / "check.json"
        res = runner.invoke(app, ["check", str(config), "--json", str(out)])
        assert res.exit_code == 0, res.output
        doc = json.loads(out.read_text())
    finally:
        config.write_text(original)
    assert doc["prior_runs"] == 3  # compared with r1, r3, r4 before they were pruned
    assert doc["retention"]["deleted_runs"] == [r1, r3]
    assert doc["retention"]["kept_as_latest"] == [r2]
    con = duckdb.connect(str(store), read_only=True)
    try:
        left = {r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()}
    finally:
        con.close()
    assert left == {r2, r4, doc["run"]["id"]}


def test_decimal_quantiles_are_read_as_numbers() -> None:
    from auditor.history import _stats

    col = _stats({"name": "amount", "type": "DECIMAL(18,2)", "rows": 10, "nulls": 1,
                  "distinct": 9, "quantiles": {"p50": "12.50", "p99": "99.99"},
                  "top_values": [["12.50", 2]]}, pii=False)
    assert col.quantiles == {"p50": 12.5, "p99": 99.99} and col.null_share == 0.1
    ts = _stats({"name": "t", "type": "TIMESTAMP", "rows": 1, "nulls": 0, "distinct": 1,
                 "quantiles": {"p50": "2026-01-01 00:00:00"}}, pii=False)
    assert ts.quantiles is None


def test_prune_keeps_the_last_good_load_when_the_latest_run_failed(
        aged_store: dict[str, Any], tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    shutil.copy(aged_store["store"], store)
    r1, r2, r3, r4 = aged_store["ids"]
    con = duckdb.connect(str(store))
    con.execute("UPDATE datasets SET status = 'failed' WHERE run_id = ?", [r4])
    con.close()
    st = Store.open(store)
    try:
        res = prune(st, timedelta(days=90))
    finally:
        st.close()
    assert res.deleted_runs == (r1,) and res.protected_runs == (r2, r3)
