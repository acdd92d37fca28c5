"""One conformance suite for every SaaS connector, run through each vendor's fake server.

Each check states a behaviour the issue asks of *every* connector: discovery, paging into typed
columns, caps, contracts from field metadata, and the handling of every injected fault. Vendor
specifics (auth flows, wire details, ACL semantics) live in ``test_<vendor>.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from auditor import progress
from auditor.errors import SourceAuthError, SourceError, SourceQuotaExceeded, SourceUnavailable
from auditor.models import Sample, SampleSpec
from auditor.registry import bind
from fakeservers.tables import STAGES, FakeTable, standard_table
from tests.saas.harness import Served, all_harnesses

HARNESSES = all_harnesses()


@pytest.fixture(params=HARNESSES, ids=[h.id for h in HARNESSES])
def harness(request: pytest.FixtureRequest) -> Any:
    h = request.param
    if hasattr(h, "fail"):
        h.fail()
    return h


def _table(h: Any) -> FakeTable:
    return standard_table(2 * h.page_size + 5)


@contextmanager
def running(h: Any, *, tls: bool = False, rows: int | None = None) -> Iterator[Served]:
    table = standard_table(rows) if rows is not None else _table(h)
    with h.serve(table, tls=tls) as served:
        yield served


def connect(served: Served, h: Any, tmp_path: Path, **overrides: Any) -> Any:
    cfg = {**served.config, "page_size": h.page_size, "backoff": 0.0, "timeout": 0.5,
           **overrides}
    con = bind("src", cfg, tmp_path)
    waits.clear()
    con.sleep = waits.append
    return con


#: Retry waits of the connector made by the last ``connect`` (recorded, not slept).
waits: list[float] = []


def pull(con: Any, h: Any, spec: SampleSpec | None = None, **options: Any) -> tuple[Sample,
                                                                                  pa.Table]:
    sample = con.sample(h.object_name, spec or SampleSpec(), options)
    return sample, sample.reader.read_all()


def data_requests(served: Served) -> int:
    return len(served.app.requests_to(served.page_path))


# -- discovery, paging, types --------------------------------------------------------------------


def test_discover_lists_the_object(harness: Any, tmp_path: Path) -> None:
    with running(harness) as served:
        con = connect(served, harness, tmp_path)
        try:
            assert harness.object_name in con.discover()
        finally:
            clients = list(con._clients)
            con.close()
    assert clients and all(c._http.is_closed for c in clients), "close() closes every client"


def test_sample_pages_through_everything_with_declared_types(harness: Any,
                                                             tmp_path: Path) -> None:
    table = _table(harness)
    shown: list[str] = []
    with running(harness) as served, progress.reporting(shown.append):
        con = connect(served, harness, tmp_path)
        try:
            sample, got = pull(con, harness)
        finally:
            con.close()
        assert data_requests(served) >= 3, "2*page_size+5 rows must take three pages"
    assert shown[-1].endswith(f"{len(table.rows):,} records, 3 pages"), "progress shown"
    assert got.num_rows == len(table.rows)
    assert sample.stopped is None
    types = {f.name: f.type for f in got.schema}
    assert types["code"] == pa.string()
    assert types["title"] == pa.string()
    assert types["quantity"] == (pa.int64() if harness.integers else pa.float64())
    assert types["price"] == pa.float64()
    assert types["active"] == pa.bool_()
    assert types["launched"] == pa.date32()
    assert types["updated_at"] == pa.timestamp("us", tz="UTC")
    rows = {r["code"]: r for r in got.to_pylist()}
    assert len(rows) == len(table.rows), "no row twice, none lost"
    for want in table.rows:
        have = rows[want["code"]]
        for col in ("title", "price", "active", "stage", "launched"):
            assert have[col] == want[col], (col, have[col], want[col])
        assert have["quantity"] == want["quantity"]
        assert isinstance(have["updated_at"], datetime)
        assert have["updated_at"] == want["updated_at"]
        assert isinstance(have["launched"], date)


def test_field_metadata_becomes_contracts(harness: Any, tmp_path: Path) -> None:
    with running(harness) as served:
        con = connect(served, harness, tmp_path)
        try:
            sample, _ = pull(con, harness)
        finally:
            con.close()
    meta = sample.metadata
    assert meta.contracts is True
    cols = {c.name: c for c in meta.columns}
    assert cols["code"].nullable is False and cols["code"].unique is True
    assert cols["title"].nullable is not False
    assert set(cols["stage"].allowed_values or ()) == set(STAGES)
    assert cols["title"].allowed_values is None
    if harness.max_length:
        assert cols["code"].max_length == 12 and cols["title"].max_length == 80
    assert meta.primary_key, "the vendor's record id is the key"


def test_first_n_stops_paging_early(harness: Any, tmp_path: Path) -> None:
    n = harness.page_size + 2
    with running(harness) as served:
        con = connect(served, harness, tmp_path)
        try:
            _, got = pull(con, harness, SampleSpec(method="first", n=n))
        finally:
            con.close()
        assert got.num_rows == n
        assert data_requests(served) <= 2, "two pages hold n rows; the third is never asked"


def test_max_records_caps_the_pull(harness: Any, tmp_path: Path) -> None:
    cap = harness.page_size + 1
    with running(harness) as served:
        con = connect(served, harness, tmp_path, max_records=cap)
        try:
            _, got = pull(con, harness)
        finally:
            con.close()
    assert got.num_rows == cap


def test_random_sample_is_seeded(harness: Any, tmp_path: Path) -> None:
    with running(harness) as served:
        con = connect(served, harness, tmp_path)
        try:
            picks = [pull(con, harness, SampleSpec(method="random", n=6, seed=s))[1]
                     .column("code").to_pylist() for s in (7, 7, 8)]
        finally:
            con.close()
    assert len(picks[0]) == 6
    assert picks[0] == picks[1]
    assert picks[0] != picks[2]


# -- faults ----------------------------------------------------------------------------------


def test_expired_token_reauthenticates_once(harness: Any, tmp_path: Path) -> None:
    with running(harness) as served:
        con = connect(served, harness, tmp_path)
        try:
            con.discover()
            before = len(served.app.requests_to(served.auth_path)) if served.auth_path else 0
            served.app.faults.add("expired", path=served.page_path, skip=1)
            if harness.can_refresh:
                _, got = pull(con, harness)
                assert got.num_rows == len(_table(harness).rows)
                after = len(served.app.requests_to(served.auth_path))
                assert after == before + 1, "exactly one re-authentication"
            else:
                sample, got = pull(con, harness)
                assert sample.stopped is not None
                assert "rejected" in sample.stopped.reason or "denied" in sample.stopped.reason
                assert got.num_rows == harness.page_size
        finally:
            con.close()


def test_token_rejected_again_after_reauth_is_an_auth_failure(harness: Any,
                                                              tmp_path: Path) -> None:
    with running(harness) as served:
        con = connect(served, harness, tmp_path)
        served.app.faults.add("expired", path=served.page_path, times=-1)
        try:
            with pytest.raises(SourceAuthError) as info:
                pull(con, harness)
        finally:
            con.close()
    assert served.secret not in str(info.value)
    assert served.secret not in repr(con.config)


def test_throttling_honours_retry_after(harness: Any, tmp_path: Path) -> None:
    with running(harness) as served:
        con = connect(served, harness, tmp_path)
        served.app.faults.add("throttle", path=served.page_path, skip=1, retry_after=3)
        try:
            _, got = pull(con, harness)
        finally:
            con.close()
    assert got.num_rows == len(_table(harness).rows)
    assert 3 in waits, f"waited {waits}, not the server's Retry-After"


@pytest.mark.parametrize("fault", ["error500", "unavailable", "cut", "malformed"])
def test_transient_page_failures_are_retried(harness: Any, tmp_path: Path, fault: str) -> None:
    with running(harness) as served:
        con = connect(served, harness, tmp_path)
        served.app.faults.add(fault, path=served.page_path, skip=1, times=2)
        try:
            sample, got = pull(con, harness)
        finally:
            con.close()
    assert sample.stopped is None
    assert got.num_rows == len(_table(harness).rows)
    assert len(waits) == 2, "two failed tries, two backoffs"


def test_a_slow_page_is_timed_out_and_retried(harness: Any, tmp_path: Path) -> None:
    with running(harness) as served:
        con = connect(served, harness, tmp_path, timeout=0.5)
        served.app.faults.add("timeout", path=served.page_path, skip=1, delay=1.5)
        try:
            sample, got = pull(con, harness)
        finally:
            con.close()
    assert got.num_rows == len(_table(harness).rows)
    assert len(waits) == 1


@pytest.mark.parametrize("fault", ["malformed", "error500", "cut"])
def test_a_page_failing_for_good_keeps_earlier_rows(harness: Any, tmp_path: Path,
                                                    fault: str) -> None:
    with running(harness) as served:
        con = connect(served, harness, tmp_path, max_attempts=3)
        served.app.faults.add(fault, path=served.page_path, skip=1, times=-1)
        try:
            sample, got = pull(con, harness)
        finally:
            con.close()
    assert got.num_rows == harness.page_size, "page 1 kept"
    stop = sample.stopped
    assert stop is not None and stop.rows == harness.page_size and stop.pages == 1
    assert stop.next_cursor, "records where it stopped"
    assert "3 attempts" in stop.reason


def test_first_page_failing_for_good_fails_the_source(harness: Any, tmp_path: Path) -> None:
    with running(harness) as served:
        con = connect(served, harness, tmp_path, max_attempts=2)
        served.app.faults.add("unavailable", path=served.page_path, times=-1)
        try:
            with pytest.raises(SourceUnavailable, match="2 attempts"):
                pull(con, harness)
        finally:
            con.close()


def test_a_repeated_cursor_stops_paging(harness: Any, tmp_path: Path) -> None:
    with running(harness) as served:
        con = connect(served, harness, tmp_path)
        served.app.faults.add("repeat_cursor", path=served.page_path, skip=1, times=-1)
        try:
            sample, got = pull(con, harness)
        finally:
            con.close()
        assert data_requests(served) <= 3
    assert sample.stopped is not None and "second time" in sample.stopped.reason
    assert got.num_rows == 2 * harness.page_size


def test_exhausted_quota_stops_the_source(harness: Any, tmp_path: Path) -> None:
    with running(harness) as served:
        con = connect(served, harness, tmp_path)
        served.app.faults.add("quota", path=served.page_path, times=-1)
        try:
            with pytest.raises(SourceQuotaExceeded) as info:
                pull(con, harness)
            assert info.value.code == "SRC005"
            seen = len(served.app.log)
            with pytest.raises(SourceQuotaExceeded, match="stopped earlier"):
                pull(con, harness)
            assert len(served.app.log) == seen, "no request after the quota ran out"
        finally:
            con.close()
    assert waits == [], "a spent quota is not retried"


def test_quota_running_out_mid_pull_keeps_rows_and_stops(harness: Any, tmp_path: Path) -> None:
    with running(harness) as served:
        con = connect(served, harness, tmp_path)
        served.app.faults.add("quota", path=served.page_path, skip=1, times=-1)
        try:
            sample, got = pull(con, harness)
            assert got.num_rows == harness.page_size
            assert sample.stopped is not None and "quota" in sample.stopped.reason.lower()
            with pytest.raises(SourceQuotaExceeded):
                pull(con, harness)
        finally:
            con.close()


def test_tls_with_a_private_ca(harness: Any, tmp_path: Path) -> None:
    with running(harness, tls=True) as served:
        assert served.server.url.startswith("https://")
        con = connect(served, harness, tmp_path, ca_bundle=str(served.server.ca_pem))
        try:
            _, got = pull(con, harness)
        finally:
            con.close()
        assert got.num_rows == len(_table(harness).rows)
        untrusted = connect(served, harness, tmp_path, max_attempts=1)
        try:
            with pytest.raises(SourceError, match="(?i)certificate|ssl"):
                untrusted.discover()
        finally:
            untrusted.close()


def test_access_facts(harness: Any, tmp_path: Path) -> None:
    if not harness.access:
        pytest.skip(f"{harness.id}: the API exposes no ACL objects (documented in README)")
    with running(harness) as served:
        con = connect(served, harness, tmp_path)
        try:
            inv = con.access([harness.object_name])
        finally:
            con.close()
    assert inv is not None and inv.source == "src"
    readers = {g.grantee for g in inv.grants if g.object == harness.object_name}
    assert readers, "somebody can read the object"
    assert all(g.path for g in inv.grants), "every grant says how"
    json.dumps([g.path for g in inv.grants])


def test_a_value_not_of_the_declared_type_is_null_and_counted(harness: Any,
                                                              tmp_path: Path) -> None:
    table = _table(harness)
    table.rows[3]["quantity"] = "n/a"  # an import that bypassed the field type
    with harness.serve(table) as served:
        con = connect(served, harness, tmp_path)
        try:
            sample, got = pull(con, harness)
        finally:
            con.close()
    assert got.num_rows == len(table.rows), "the row is kept"
    by_code = {r["code"]: r for r in got.to_pylist()}
    assert by_code[table.rows[3]["code"]]["quantity"] is None
    assert sample.unparsed == {"quantity": 1}


def test_progress_reaches_the_caller_when_duckdb_drains_the_stream(harness: Any,
                                                                   tmp_path: Path) -> None:
    import duckdb

    shown: list[str] = []
    with running(harness) as served, progress.reporting(shown.append):
        con = connect(served, harness, tmp_path)
        try:
            sample = con.sample(harness.object_name, SampleSpec(), {})
            db = duckdb.connect()
            reader = sample.reader
            db.register("reader", reader)
            rows = db.execute("CREATE TABLE t AS SELECT * FROM reader; SELECT count(*) FROM t"
                              ).fetchone()[0]
        finally:
            con.close()
    assert rows == len(_table(harness).rows)
    assert shown and shown[-1].endswith(f"{rows:,} records, 3 pages")
