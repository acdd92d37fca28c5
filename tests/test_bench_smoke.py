"""Smoke test for benchmarks/bench_audit.py: every step at 20k rows, in-process, no timings.

It keeps the benchmark from rotting: the suite must still load, every expectation must still
run natively, and the native counts must equal the hand-written floor SQL's (``run_size`` raises
AssertionError otherwise), as must what the profile and the floor-profile both compute exactly.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCH_DIR))
    try:
        import bench_audit

        yield bench_audit
    finally:
        sys.path.remove(str(BENCH_DIR))


def test_bench_audit_cross_checks_pass_at_20k_rows(bench: ModuleType, tmp_path: Path) -> None:
    result = bench.run_size(20_000, tmp_path, memory_limit="1GB", threads=2, in_process=True)

    assert result["rows"] == 20_000
    assert set(result["steps"]) == set(bench.ALL_STEPS)
    assert result["validation"]["expectations"] == 30
    assert result["validation"]["cross_check"] == "ok"
    assert result["profile_cross_check"] == "ok"
    assert "ratio" in result["combined"]
    # The scratch stores are removed; only the cached table and the suite stay.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crm_20000_42.parquet",
                                                          "crm_suite.json"]


def test_cross_check_is_not_vacuous(bench: ModuleType, tmp_path: Path) -> None:
    ctx = bench.Context(str(bench.ensure_parquet(tmp_path, 20_000)),
                        str(tmp_path / "audit.duckdb"),
                        str(bench.write_suite(tmp_path / "suite.json")), "1GB", 2)
    ctx.table = bench.step_ingest(ctx)["table"]
    outcomes = bench.step_validation(ctx)["outcomes"]
    floor = bench.step_floor_checks(ctx)["values"]

    assert bench.cross_check_validation(outcomes, floor) == []
    # Enough checks fail with non-zero counts for the comparison to mean something ...
    assert sum(1 for o in outcomes if o["unexpected_count"]) >= 10
    # ... and a wrong floor value is caught.
    broken = list(floor)
    i = next(i for i, o in enumerate(outcomes) if o["unexpected_count"])
    broken[i] += 1
    assert len(bench.cross_check_validation(outcomes, broken)) == 1
