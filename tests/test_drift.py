"""Drift and regressions: the statistics on their own, then a simulated series of scheduled runs.

The series copies sample_data, audits a reduced config (one dataset, one use case) seven times
with ordinary noise (a few rows missing, amounts jittered by ~0.5 %), then, each time from that
same quiet history, one real change: a column dropped, a null spike, a shifted distribution, a
stale table, a halved volume. Every change must be flagged by its rule and the noise by none.
"""

from __future__ import annotations

import csv
import math
import random
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from auditor.api import run_audit
from auditor.config import load_config
from auditor.drift import (
    DriftReport,
    assess,
    categorical_shares,
    detect,
    detect_dataset,
    numeric_psi,
    psi,
    robust_z,
)
from auditor.history import ColumnStats, DatasetSnapshot, RunInfo, load_comparison
from auditor.store import Store
from auditor.watch_config import WatchConfig

ROOT = Path(__file__).resolve().parent.parent
DATASET = "crm.opportunities"
USE_CASE = "opportunity-win-scoring"

MINI = """\
version: 1
as_of: 2026-11-20T00:00:00Z
store: {path: ../.auditor/audit.duckdb}
sources:
  crm: {kind: file, path: crm}
datasets:
  crm.opportunities:
    source: crm
    object: opportunities.csv
    key: [opportunity_id]
    owner: revops@example.com
    system_of_record: salesforce
use_cases:
  - use_case: opportunity-win-scoring
    kind: batch_inference
    owner: revops@example.com
    datasets: [{ref: crm.opportunities, key: [opportunity_id]}]
    features: [crm.opportunities.stage, crm.opportunities.amount, crm.opportunities.currency,
               crm.opportunities.probability]
    freshness: {column: crm.opportunities.updated_at, warn_after: 7d, error_after: 30d}
    sample: {min_rows: 500}
"""

Rows = list[dict[str, str]]
Change = Callable[[Rows, list[str], random.Random], tuple[Rows, list[str]]]


def mini_sample(tmp: Path, extra: str = "") -> Path:
    """sample_data copied to ``tmp`` with the reduced config ``mini.yml`` (+ ``extra`` YAML)."""
    shutil.copytree(ROOT / "sample_data", tmp / "sample_data",
                    ignore=shutil.ignore_patterns("synth", "__pycache__"))
    shutil.copytree(ROOT / "expectations", tmp / "expectations")
    shutil.copy(tmp / "sample_data" / "crm" / "opportunities.csv", tmp / "opportunities.orig")
    config = tmp / "sample_data" / "mini.yml"
    config.write_text(MINI + extra, encoding="utf-8")
    return config


def write_opportunities(config: Path, seed: int, change: Change | None = None) -> None:
    """Rewrite the CSV from the pristine copy: noise of a scheduled re-extract, then ``change``.

    Noise: 0-3 % of rows missing (at random) and amounts jittered by N(0, 0.5 %).
    """
    rnd = random.Random(seed)
    with open(config.parent.parent / "opportunities.orig", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0])
    drop = rnd.uniform(0, 0.03)
    rows = [r for r in rows if rnd.random() >= drop]
    for r in rows:
        if r["amount"]:
            r["amount"] = f"{float(r['amount']) * (1 + rnd.gauss(0, 0.005)):.2f}"
    if change is not None:
        rows, header = change(rows, header, rnd)
    with open(config.parent / "crm" / "opportunities.csv", "w", newline="",
              encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerows(rows)


def audit_and_compare(config: Path, store: Path, **kw: Any) -> DriftReport:
    loaded = load_config(config)
    result = run_audit(loaded, store_path=str(store), **kw)
    st = Store.open(store, read_only=True)
    try:
        comparison = load_comparison(st.con, result.run_id, window=loaded.config.watch.window)
    finally:
        st.close()
    return detect(comparison, loaded.config.watch)


# --- the changes ----------------------------------------------------------------------------


def drop_column(rows: Rows, header: list[str], rnd: random.Random) -> tuple[Rows, list[str]]:
    for r in rows:
        del r["probability"]
    return rows, [h for h in header if h != "probability"]


def null_spike(rows: Rows, header: list[str], rnd: random.Random) -> tuple[Rows, list[str]]:
    for r in rows:
        if rnd.random() < 0.25:
            r["currency"] = ""
    return rows, header


def shift(rows: Rows, header: list[str], rnd: random.Random) -> tuple[Rows, list[str]]:
    for r in rows:
        if r["amount"]:
            r["amount"] = f"{float(r['amount']) * 1.8:.2f}"
        if r["stage"] == "Closed Lost" and rnd.random() < 0.6:
            r["stage"] = "Closed Won"
    return rows, header


def stale(rows: Rows, header: list[str], rnd: random.Random) -> tuple[Rows, list[str]]:
    """The extract stopped five days ago: every load timestamp is five days older."""
    for r in rows:
        for c in ("created_at", "updated_at"):
            if r[c]:
                r[c] = (datetime.fromisoformat(r[c]) - timedelta(days=5)).isoformat()
    return rows, header


def half_volume(rows: Rows, header: list[str], rnd: random.Random) -> tuple[Rows, list[str]]:
    return [r for r in rows if rnd.random() < 0.5], header


# --- the series -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Seven quiet runs; stores saved after run 2 (fixed thresholds) and 7 (learnt)."""
    tmp = tmp_path_factory.mktemp("series")
    config = mini_sample(tmp)
    store = tmp / "quiet.duckdb"
    reports = []
    for i in range(7):
        write_opportunities(config, seed=100 + i)
        reports.append(audit_and_compare(config, store))
        if i == 1:
            shutil.copy(store, tmp / "two.duckdb")
    return {"tmp": tmp, "config": config, "quiet": store, "two": tmp / "two.duckdb",
            "reports": reports}


def scenario(series: dict[str, Any], name: str, change: Change, base: str = "quiet"
             ) -> DriftReport:
    store = series["tmp"] / f"{name}.duckdb"
    shutil.copy(series[base], store)
    write_opportunities(series["config"], seed=999, change=change)
    return audit_and_compare(series["config"], store)


def flagged(report: DriftReport) -> set[tuple[str, str]]:
    return {(d.rule, d.subject) for d in report.regressions}


def test_quiet_period_raises_nothing(series: dict[str, Any]) -> None:
    reports = series["reports"]
    assert reports[0].prior_runs == 0 and set(reports[0].rules.values()) == {"no_history"}
    for i, rep in enumerate(reports[1:], start=1):
        assert rep.prior_runs == i
        assert rep.drifts == (), [d.message for d in rep.drifts]
        assert set(rep.rules.values()) == {"pass"}


@pytest.mark.parametrize(("name", "change", "expected", "allowed"), [
    ("dropped", drop_column, {("schema.removed", f"{DATASET}.probability"),
                              ("use_case.band", USE_CASE)}, {"use_case.score"}),
    ("nulls", null_spike, {("null_rate", f"{DATASET}.currency")}, {"use_case.score"}),
    ("shift", shift, {("distribution.numeric", f"{DATASET}.amount"),
                      ("distribution.categorical", f"{DATASET}.stage")}, {"use_case.score"}),
    ("stale", stale, {("freshness", DATASET)}, set()),
    ("volume", half_volume, {("volume", DATASET)}, set()),
])
def test_each_real_change_is_flagged(series: dict[str, Any], name: str, change: Change,
                                     expected: set[tuple[str, str]], allowed: set[str]) -> None:
    report = scenario(series, name, change)
    got = flagged(report)
    assert expected <= got, [d.message for d in report.drifts]
    assert {r for r, _ in got - expected} <= allowed, [d.message for d in report.drifts]
    for rule, _ in expected:
        assert report.rules[rule] == "fail"
    # seven quiet runs are enough history: series rules use learnt thresholds
    learnt = [d for d in report.regressions if d.rule in ("volume", "null_rate", "freshness")]
    assert all(d.method == "robust_z" and d.history == 7 for d in learnt)


def test_volume_drop_explains_fewer_distinct_values(series: dict[str, Any]) -> None:
    report = scenario(series, "volume2", half_volume)
    (vol,) = [d for d in report.regressions if d.rule == "volume"]
    assert vol.value is not None and vol.baseline is not None
    assert vol.value < 0.6 * vol.baseline
    assert "distinct" not in {d.rule for d in report.drifts}


def test_fixed_thresholds_with_short_history(series: dict[str, Any]) -> None:
    report = scenario(series, "fixed", null_spike, base="two")
    (d,) = [d for d in report.regressions if d.rule == "null_rate"]
    assert d.method == "fixed" and d.threshold == pytest.approx(0.05) and d.history == 2
    assert d.value is not None and d.value > 0.2
    assert "fixed threshold 5.0 pp" in d.message


# --- statistics -----------------------------------------------------------------------------


def test_robust_z_ignores_one_outlier_and_handles_flat_history() -> None:
    hist = [100, 101, 99, 100, 102, 98, 500]  # one bad run does not widen the band
    assert abs(robust_z(101, hist)) < 1
    assert robust_z(130, hist) > 3.5
    assert robust_z(5, [5, 5, 5, 5]) == 0.0
    assert math.isinf(robust_z(6, [5, 5, 5, 5]))
    # MAD 0 but not constant: the mean absolute deviation takes over
    assert math.isfinite(robust_z(9, [5, 5, 5, 5, 5, 7]))


def test_assess_fixed_then_learnt() -> None:
    cfg = WatchConfig()
    short = assess(0.08, [0.01, 0.02], cfg, fixed=0.05, floor=0.02, direction="up",
                   relative=False)
    assert short.flagged and short.method == "fixed"
    flat = [0.010] * 6
    tiny = assess(0.015, flat, cfg, fixed=0.05, floor=0.02, direction="up", relative=False)
    assert not tiny.flagged and tiny.method == "robust_z"  # z = inf but below the floor
    noisy = [0.01, 0.09, 0.03, 0.12, 0.05, 0.02]
    jump = assess(0.14, noisy, cfg, fixed=0.05, floor=0.02, direction="up", relative=False)
    assert not jump.flagged  # +10 pp is within what this column usually does
    drop = assess(0.0, [0.3] * 6, cfg, fixed=0.05, floor=0.02, direction="up", relative=False)
    assert not drop.flagged  # fewer nulls is not a regression


def test_psi_identity_and_shift() -> None:
    q = {"p01": 1.0, "p05": 5.0, "p25": 25.0, "p50": 50.0, "p75": 75.0, "p95": 95.0,
         "p99": 99.0}
    assert numeric_psi(q, q) == (0.0, 0.0)
    small = numeric_psi(q, {k: v * 1.02 for k, v in q.items()})[0]
    big, ks = numeric_psi(q, {k: v + 30 for k, v in q.items()})
    assert small < 0.05 < 0.2 < big and 0.2 < ks < 0.5
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert psi([0.5, 0.5], [0.9, 0.1]) == pytest.approx(0.4 * math.log(9))


def _col(top: tuple[tuple[str, int], ...], distinct: int, rows: int = 1000) -> ColumnStats:
    return ColumnStats("c", "VARCHAR", rows, 0, 0.0, distinct, top_values=top)


def test_categorical_shares_are_a_lower_bound() -> None:
    before = _col((("a", 500), ("b", 300), ("c", 100), ("d", 50), ("e", 30)), distinct=8)
    reorder = _col((("a", 500), ("b", 300), ("c", 100), ("e", 35), ("f", 30)), distinct=8)
    cats, sb, sa = categorical_shares(before, reorder)
    assert psi(sb, sa) < 0.05  # "d" fell out of the top 5: assumed as close as possible
    assert cats[-1] == "(other)" and sum(sb) == pytest.approx(1) and sum(sa) == pytest.approx(1)
    flood = _col((("zzz", 600), ("a", 200), ("b", 100), ("c", 50), ("d", 20)), distinct=8)
    assert psi(*categorical_shares(before, flood)[1:]) > 0.2
    complete = _col((("a", 600), ("b", 400)), distinct=2)
    _, sb, sa = categorical_shares(complete, _col((("a", 1000),), distinct=1))
    assert sa[1] == 0.0  # "b" really disappeared: the top list held every value


def _snap(run: int, columns: dict[str, ColumnStats], rows: int = 1000) -> DatasetSnapshot:
    info = RunInfo(f"r{run}", datetime(2026, 1, run + 1, tzinfo=UTC), None, None, "", "", "ok")
    return DatasetSnapshot(info, "d", rows, rows, columns)


def test_schema_drift_and_ignore_patterns() -> None:
    a = ColumnStats("a", "BIGINT", 1000, 0, 0.0, 10)
    b = ColumnStats("b", "VARCHAR", 1000, 0, 0.0, 10)
    prev = _snap(1, {"a": a, "b": b})
    cur = _snap(2, {"a": replace(a, type="DOUBLE"), "c": b})
    cfg = WatchConfig()
    got = {(d.rule, d.subject, d.severity) for d in detect_dataset(cur, [prev], cfg)}
    assert got == {("schema.retyped", "d.a", "regression"), ("schema.removed", "d.b",
                                                              "regression"),
                   ("schema.added", "d.c", "warning")}
    quiet = WatchConfig.model_validate({"ignore": ["d.b", "d.c"]})
    assert {d.rule for d in detect_dataset(cur, [prev], quiet)} == {"schema.retyped"}


def test_thresholds_are_configurable(series: dict[str, Any]) -> None:
    cfg = WatchConfig.model_validate({"null_rate": {"max_increase": 0.5},
                                      "warn_only": ["null_rate"], "min_history": 3,
                                      "freshness": {"max_growth": "3d"}})
    assert cfg.freshness.max_growth == timedelta(days=3)
    st = Store.open(series["quiet"], read_only=True)
    try:
        run_id = st.con.execute("SELECT max(run_id) FROM runs").fetchone()[0]
        comparison = load_comparison(st.con, run_id, window=4)
    finally:
        st.close()
    assert len(comparison.dataset_history[DATASET]) == 4
    assert detect(comparison, cfg).drifts == ()
