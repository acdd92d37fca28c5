"""The shared pieces under every SaaS connector: Retry-After parsing, message scrubbing, and
metadata-typed conversion of API values (each vendor's date and null conventions)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta, timezone

import pyarrow as pa
import pytest

from auditor.errors import SourceAuthError, SourceQuotaExceeded
from connectors.saas.http import ApiClient, RetryPolicy, _scrub, describe, parse_retry_after
from connectors.saas.records import FieldSpec, to_batch
from fakeservers.core import FakeApp, FakeServer, json_response


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7
    assert parse_retry_after("Tue, 24 Nov 2026 12:00:30 GMT", now=now) == 30
    assert parse_retry_after("Tue, 24 Nov 2026 11:00:00 GMT", now=now) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_messages_never_carry_tokens_or_query_strings() -> None:
    text = 'Bearer 00DX!abc.def failed for /query?q=SELECT+Id access_token="xyz"'
    out = _scrub(text)
    assert "00DX!abc.def" not in out and "xyz" not in out and "SELECT" not in out
    assert describe("GET", "https://h/services/data/v62.0/query?q=secret") == \
        "GET /services/data/v62.0/query"


def test_values_follow_the_declared_type_whatever_the_wire_format() -> None:
    fields = [FieldSpec("n", "integer"), FieldSpec("x", "float"), FieldSpec("b", "boolean"),
              FieldSpec("d", "date"), FieldSpec("ts", "datetime"), FieldSpec("t", "time"),
              FieldSpec("owner", "string", path=("Owner", "Name")), FieldSpec("j", "json")]
    records = [
        # HubSpot: every value a string
        {"n": "12", "x": "3.5", "b": "true", "d": "2026-01-05", "ts": "2026-01-05T10:00:00.000Z",
         "t": "10:30:00", "Owner": {"Name": "Ada"}, "j": [1, 2]},
        # OData v2: /Date(ms)/ and PT durations; SAP DateTimeOffset with +0030 minutes
        {"n": 12.0, "x": 3, "b": False, "d": "/Date(1767571200000)/",
         "ts": "/Date(1767607200000+0060)/", "t": "PT10H30M00S", "Owner": None, "j": {"a": 1}},
        # Odoo: naive UTC "YYYY-MM-DD HH:MM:SS"; a value that is not a number
        {"n": "twelve", "x": None, "b": "0", "d": "2026-01-05 23:59:59",
         "ts": "2026-01-05 10:00:00", "t": None, "Owner": {"Name": None}, "j": None},
    ]
    bad: Counter[str] = Counter()
    batch = to_batch(records, fields, bad)
    assert batch.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    rows = batch.to_pylist()
    ten = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    assert [r["n"] for r in rows] == [12, 12, None]
    assert bad == Counter({"n": 1})
    assert [r["x"] for r in rows] == [3.5, 3.0, None]
    assert [r["b"] for r in rows] == [True, False, False]
    assert [r["d"] for r in rows] == [date(2026, 1, 5)] * 3
    assert rows[0]["ts"] == ten and rows[2]["ts"] == ten
    assert rows[1]["ts"] == ten and rows[1]["ts"].astimezone(timezone(timedelta(hours=1)))
    assert [r["t"] for r in rows] == [time(10, 30), time(10, 30), None]
    assert [r["owner"] for r in rows] == ["Ada", None, None]
    assert rows[0]["j"] == "[1, 2]" and rows[1]["j"] == '{"a": 1}'


class _Flaky(FakeApp):
    def __init__(self) -> None:
        super().__init__()
        self.token = "t1"

    def handle(self, request, fault):  # type: ignore[no-untyped-def]
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return json_response({"error": "expired"}, status=401)
        return json_response({"ok": True})

    def vendor_fault(self, kind, fault, request):  # type: ignore[no-untyped-def]
        return json_response({"error": kind}, status=429 if kind == "throttle" else 503)


class _Auth:
    def __init__(self, app: _Flaky, renewable: bool) -> None:
        self.app, self.renewable, self.token, self.refreshes = app, renewable, "t0", 0

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def refresh(self) -> bool:
        self.refreshes += 1
        if self.renewable:
            self.token = self.app.token
        return self.renewable


@pytest.mark.parametrize("renewable", [True, False])
def test_expired_token_is_renewed_exactly_once(renewable: bool) -> None:
    app = _Flaky()
    with FakeServer(app) as server:
        auth = _Auth(app, renewable)
        client = ApiClient("s", server.url, auth=auth, policy=RetryPolicy(backoff=0))
        if renewable:
            assert client.json("GET", "/x") == {"ok": True}
            app.token = "t2"  # expires again: one more refresh, not a loop
            assert client.json("GET", "/x") == {"ok": True}
            assert auth.refreshes == 2 and len(app.log) == 4
        else:
            with pytest.raises(SourceAuthError, match="credentials rejected"):
                client.json("GET", "/x")
            assert auth.refreshes == 1 and len(app.log) == 1
        client.close()


def test_a_retry_after_beyond_the_limit_stops_instead_of_waiting() -> None:
    app = _Flaky()
    with FakeServer(app) as server:
        client = ApiClient("s", server.url, auth=_Auth(app, True),
                           policy=RetryPolicy(backoff=0, max_retry_after=60))
        client.auth.token = "t1"  # type: ignore[attr-defined]
        app.faults.add("throttle", retry_after=3600)
        waited: list[float] = []
        client.sleep = waited.append
        with pytest.raises(SourceQuotaExceeded, match="3600"):
            client.json("GET", "/x")
        assert waited == []
        client.close()


def test_timeouts_and_network_errors_name_the_request_not_the_query() -> None:
    client = ApiClient("s", "http://127.0.0.1:9", auth=_Auth(_Flaky(), False),
                       policy=RetryPolicy(max_attempts=2, backoff=0))
    client.sleep = lambda s: None
    with pytest.raises(Exception, match=r"GET /path: connection failed.*2 attempts") as info:
        client.json("GET", "/path?token=abc")
    assert "abc" not in str(info.value)
    assert info.value.__cause__ is None, "no httpx traceback (it would carry the full URL)"
    client.close()


def test_partial_pulls_and_unparsed_values_become_findings() -> None:
    from auditor.findings import dataset_findings
    from auditor.models import DatasetResult, StopInfo

    d = DatasetResult(name="crm.deals", source="hs", object="deals", status="ok", rows=200,
                      owner="revops", unparsed={"amount": 2},
                      stopped=StopInfo("HTTP 503 (gave up after 5 attempts)", 200, 2, "NDAw"))
    found = {f.code: f for f in dataset_findings(d)}
    assert found["DQ008"].column == "amount" and "2 values" in found["DQ008"].message
    src = found["SRC006"]
    assert src.severity == "major" and "200 rows in 2 pages" in src.message
    assert src.detail["next_cursor"] == "NDAw" and "'NDAw'" in src.message


def test_a_body_that_stays_malformed_is_unreadable_content_not_an_outage() -> None:
    from auditor.errors import SourceDataError

    app = _Flaky()
    with FakeServer(app) as server:
        auth = _Auth(app, True)
        auth.token = "t1"
        client = ApiClient("s", server.url, auth=auth, policy=RetryPolicy(max_attempts=3))
        waited: list[float] = []
        client.sleep = waited.append
        app.faults.add("malformed", times=-1)
        with pytest.raises(SourceDataError, match="malformed JSON.*3 attempts") as info:
            client.json("GET", "/x")
        assert info.value.code == "SRC002" and len(waited) == 2 and len(app.log) == 3
        client.close()


def test_a_field_the_vendor_classifies_as_sensitive_is_pii_with_that_reason() -> None:
    import duckdb

    from auditor.api import _pii
    from auditor.config import DatasetConfig
    from auditor.models import ColumnSchema, ObjectMetadata
    from auditor.profile import profile_table

    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('fine', 'a'), ('tired', 'b')) "
                "v(health_notes, code)")
    profile = profile_table(con, "t", dataset="d")
    meta = ObjectMetadata(columns=(ColumnSchema("health_notes", "string",
                                                sensitivity="highly_sensitive"),
                                   ColumnSchema("code", "string")), contracts=True)
    found = _pii(con, "t", profile, DatasetConfig(source="hs", object="x"), meta)
    assert set(found) == {"health_notes"}
    assert found["health_notes"].reason == "hs classifies the field as highly_sensitive data"
    assert _pii(con, "t", profile, DatasetConfig(source="hs", object="x",
                                                 not_pii=["health_notes"]), meta) == {}
