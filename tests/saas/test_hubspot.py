"""HubSpot specifics: auth flows, wire details, property metadata → columns, error bodies, demo.

The conformance suite covers paging, caps and faults through ``harness_hubspot``; these tests
pin what only HubSpot does (strings for every value, enumeration vs multi-select, schemas'
``requiredProperties``, ``policyName`` on 429s, the OAuth refresh grant).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from auditor.errors import (
    InvalidConfig,
    SourceAuthError,
    SourceError,
    SourceQuotaExceeded,
    UnknownObject,
)
from auditor.models import SampleSpec
from auditor.registry import bind
from connectors.hubspot import HubSpotConnector, classify, interval_wait, required_scopes
from fakeservers.core import FakeServer
from fakeservers.hubspot import DEMO_TOKEN, HubSpotApp, OAuthApp, demo_app
from fakeservers.tables import FakeField, FakeTable
from tests.saas.harness_hubspot import OAUTH, PAT

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"


def deals() -> FakeTable:
    """A standard object with every property flavour, a cleared number and an archived row."""
    fields = [FakeField("ref", "string", required=True, unique=True, label="Reference"),
              FakeField("amount", "float", label="Amount"),
              FakeField("tags", "string", options=("red", "blue", "green")),
              FakeField("stage", "string", options=("open", "won")),
              FakeField("email", "string"),
              FakeField("closed", "boolean"),
              FakeField("closedate", "date")]
    rows = [{"ref": "R1", "amount": 12.5, "tags": ["red", "blue"], "stage": "open",
             "email": "a@x.example", "closed": False, "closedate": date(2026, 1, 2)},
            {"ref": "R2", "amount": "", "tags": None, "stage": "won", "email": "",
             "closed": True, "closedate": None},
            {"ref": "R3", "amount": 7.0, "tags": "green", "stage": "won", "email": None,
             "closed": True, "closedate": date(2026, 2, 3), "_archived": True}]
    return FakeTable("deals", fields, rows, key="ref", extra={
        "multi": ("tags",), "sensitivity": {"email": "highly_sensitive"},
        "default_properties": ("ref",)})


def cars() -> FakeTable:
    fields = [FakeField("vin", "string", required=True, unique=True),
              FakeField("model", "string"), FakeField("year", "integer")]
    rows = [{"vin": f"V{i:03d}", "model": "Model " + "ABC"[i % 3], "year": 2000 + i}
            for i in range(25)]
    return FakeTable("cars", fields, rows, key="vin", label="Car")


@contextmanager
def serve(*tables: FakeTable, oauth: bool = False, **kwargs: Any) -> Iterator[tuple[HubSpotApp,
                                                                                    str]]:
    app = (HubSpotApp(tables or [deals(), cars()], oauth=OAUTH, **kwargs) if oauth
           else HubSpotApp(tables or [deals(), cars()], access_token=PAT, **kwargs))
    with FakeServer(app) as server:
        yield app, server.url


def connect(url: str, tmp_path: Path, *, oauth: bool = False, **extra: Any) -> HubSpotConnector:
    auth = ({"client_id": OAUTH.client_id, "client_secret": OAUTH.client_secret,
             "refresh_token": OAUTH.refresh_token} if oauth else {"access_token": PAT})
    con = bind("src", {"kind": "hubspot", "base_url": url, "backoff": 0, **auth, **extra},
               tmp_path)
    assert isinstance(con, HubSpotConnector)
    con.sleep = lambda s: None
    return con


def rows(con: HubSpotConnector, obj: str, spec: SampleSpec | None = None,
         **options: Any) -> list[dict[str, Any]]:
    return con.sample(obj, spec or SampleSpec(), options).reader.read_all().to_pylist()


# -- config --------------------------------------------------------------------------------------


def test_config_needs_exactly_one_auth(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfig, match="either access_token"):
        bind("s", {"kind": "hubspot", "access_token": PAT, "client_id": "x",
                   "client_secret": "y", "refresh_token": "z"}, tmp_path)
    with pytest.raises(InvalidConfig, match="needs access_token"):
        bind("s", {"kind": "hubspot", "client_id": "x"}, tmp_path)
    con = bind("s", {"kind": "hubspot", "access_token": PAT}, tmp_path)
    assert con.config.base_url == "https://api.hubapi.com"  # type: ignore[attr-defined]
    assert PAT not in repr(con.config)
    oauth = bind("s", {"kind": "hubspot", "base_url": "http://h:1", "client_id": "i",
                       "client_secret": "s", "refresh_token": "r"}, tmp_path)
    assert oauth.config.oauth_token_url == "http://h:1/oauth/v1/token"  # type: ignore[attr-defined]


# -- metadata ------------------------------------------------------------------------------------


def test_property_metadata_becomes_field_specs(tmp_path: Path) -> None:
    with serve() as (_, url):
        con = connect(url, tmp_path)
        try:
            fields = {f.name: f for f in con.describe("deals", {}).fields}
        finally:
            con.close()
    names = list(fields)
    assert names[0] == "hs_object_id" and names[-3:] == ["createdAt", "updatedAt", "archived"]
    assert "hs_merged_object_ids" not in fields, "hidden properties are left out"
    key = fields["hs_object_id"]
    assert key.primary_key and key.required and key.type == "string"
    assert key.path == ("properties", "hs_object_id")
    assert fields["amount"].type == "float", "HubSpot number has no integer flavour"
    assert fields["stage"].allowed_values == ("open", "won")
    assert fields["stage"].source_type == "enumeration/select"
    tags = fields["tags"]
    assert tags.type == "string" and tags.allowed_values is None, "multi-select stays open"
    assert tags.source_type == "enumeration/checkbox"
    assert fields["closed"].type == "boolean" and fields["closed"].allowed_values is None
    assert fields["closedate"].type == "date"
    assert fields["createdate"].type == "datetime"
    assert fields["ref"].unique and not fields["ref"].required, \
        "standard objects declare no required properties"
    assert fields["email"].source_type == "string/text"
    assert fields["email"].sensitivity == "highly_sensitive"
    assert fields["ref"].label == "Reference"
    assert fields["createdAt"].path == ("createdAt",) and fields["archived"].type == "boolean"


def test_custom_object_required_properties_come_from_the_schema(tmp_path: Path) -> None:
    with serve() as (app, url):
        con = connect(url, tmp_path)
        try:
            desc = con.describe("cars", {})
            by_id = con.describe("2-9001", {})
            by_fqn = con.describe("p4711_cars", {})
            got = rows(con, "cars")
        finally:
            con.close()
        paths = {r.path for r in app.requests_to("^/crm/v3/(objects|properties)/")}
    fields = {f.name: f for f in desc.fields}
    assert fields["vin"].required and fields["vin"].unique
    assert not fields["model"].required
    assert desc.label == "Car"
    assert by_id.fields == desc.fields == by_fqn.fields
    assert paths == {"/crm/v3/properties/2-9001", "/crm/v3/objects/2-9001"}, \
        "custom objects are addressed by objectTypeId"
    assert [r["year"] for r in got[:3]] == [2000.0, 2001.0, 2002.0]


def test_options_fields_narrows_and_keeps_the_id(tmp_path: Path) -> None:
    with serve() as (app, url):
        con = connect(url, tmp_path)
        try:
            got = rows(con, "deals", fields=["amount", "updatedAt"])
            with pytest.raises(UnknownObject, match="nope"):
                rows(con, "deals", fields=["nope"])
        finally:
            con.close()
        sent = app.requests_to("^/crm/v3/objects/deals")[0].query
    assert list(got[0]) == ["hs_object_id", "amount", "updatedAt"]
    assert sent["properties"] == ["hs_object_id,amount"], "one comma-separated parameter"


def test_unknown_object_names_the_object_and_source(tmp_path: Path) -> None:
    with serve() as (app, url):
        con = connect(url, tmp_path)
        try:
            assert con.discover()[:4] == ["contacts", "companies", "deals", "tickets"]
            assert "cars" in con.discover()
            with pytest.raises(UnknownObject, match=r"'src'.*'boats'"):
                con.describe("boats", {})
            assert con.describe("0-3", {}).label == "Deals"
        finally:
            con.close()
        assert len(app.requests_to("^/crm/v3/schemas")) == 1, "schemas are read once per run"


def test_missing_schema_scope_still_lists_standard_objects(tmp_path: Path) -> None:
    with serve(schemas_denied=True) as (_, url):
        con = connect(url, tmp_path)
        try:
            objects = con.discover()
            with pytest.raises(UnknownObject, match="crm.schemas.custom.read"):
                con.describe("cars", {})
        finally:
            con.close()
    assert "deals" in objects and "cars" not in objects


# -- paging and values ---------------------------------------------------------------------------


def test_values_are_typed_and_cleared_numbers_become_null(tmp_path: Path) -> None:
    with serve() as (app, url):
        con = connect(url, tmp_path)
        try:
            got = rows(con, "deals")
        finally:
            con.close()
        query = app.requests_to("^/crm/v3/objects/deals")[0].query
    assert query["archived"] == ["false"] and query["limit"] == ["100"]
    assert [r["ref"] for r in got] == ["R1", "R2"], "the archived record is not pulled"
    r1, r2 = got
    assert r1["hs_object_id"] == "101" and r1["amount"] == 12.5 and r1["closed"] is False
    assert r1["tags"] == "red;blue" and r1["closedate"] == date(2026, 1, 2)
    assert r2["amount"] is None, "'' on a number property is a cleared value"
    assert r2["email"] == "", "strings keep the empty string"
    assert r1["archived"] is False and r1["createdAt"] is not None


def test_cursor_is_passed_back_verbatim_and_the_last_page_ends_paging(tmp_path: Path) -> None:
    with serve() as (app, url):
        con = connect(url, tmp_path, page_size=10)
        try:
            got = rows(con, "cars", SampleSpec(method="first", n=15))
        finally:
            con.close()
        reqs = app.requests_to("^/crm/v3/objects/")
    assert len(got) == 15 and len(reqs) == 2
    assert "after" not in reqs[0].query
    assert reqs[1].query["limit"] == ["5"], "asks only for the rows still wanted"
    assert reqs[1].query["after"] == ["bzoxMA=="], "the fake's opaque cursor, unchanged"


def test_where_and_filter_are_refused(tmp_path: Path) -> None:
    with serve() as (_, url):
        con = connect(url, tmp_path)
        try:
            with pytest.raises(SourceError, match="sampling.where is not supported by kind "
                               "hubspot"):
                con.sample("deals", SampleSpec(where="amount > 1"), {})
            with pytest.raises(SourceError, match="options.filter is not supported"):
                con.sample("deals", SampleSpec(), {"filter": "x"})
        finally:
            con.close()


def test_daily_remaining_is_recorded(tmp_path: Path) -> None:
    with serve() as (_, url):
        con = connect(url, tmp_path)
        try:
            sample = con.sample("deals", SampleSpec(), {})
        finally:
            con.close()
    assert con.daily_remaining is not None and 0 < con.daily_remaining < 500_000
    assert any("daily API calls remaining" in n for n in sample.notes)


# -- the fake's wire details ---------------------------------------------------------------------


def test_fake_speaks_the_list_api() -> None:
    with serve() as (_, url):
        h = {"Authorization": f"Bearer {PAT}"}
        get = httpx.Client(base_url=url, headers=h).get
        repeated = get("/crm/v3/objects/deals", params=[("properties", "ref"),
                                                         ("properties", "amount"),
                                                         ("properties", "ghost")]).json()
        comma = get("/crm/v3/objects/deals", params={"properties": "ref,amount,ghost"}).json()
        default = get("/crm/v3/objects/deals").json()
        archived = get("/crm/v3/objects/0-3", params={"archived": "true"}).json()
        too_big = get("/crm/v3/objects/deals", params={"limit": 101})
        bad_cursor = get("/crm/v3/objects/deals", params={"after": "nonsense"})
        page = get("/crm/v3/objects/2-9001", params={"limit": 10})
        anon = httpx.get(f"{url}/crm/v3/objects/deals")
    assert repeated["results"] == comma["results"]
    assert set(comma["results"][0]["properties"]) == {"ref", "amount"}, "unknown ignored"
    assert comma["results"][0]["properties"]["amount"] == "12.5", "numbers as strings"
    assert "paging" not in comma, "the last page has no paging"
    assert set(default["results"][0]["properties"]) == {"createdate", "hs_lastmodifieddate",
                                                        "hs_object_id", "ref"}
    assert [r["properties"]["hs_object_id"] for r in archived["results"]] == ["103"]
    assert archived["results"][0]["archived"] is True
    assert too_big.status_code == 400 and too_big.json()["category"] == "VALIDATION_ERROR"
    assert too_big.json()["errors"][0]["in"] == "limit"
    assert bad_cursor.status_code == 400
    assert page.json()["paging"]["next"]["after"] == "bzoxMA=="
    assert page.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert int(page.headers["X-HubSpot-RateLimit-Daily-Remaining"]) > 0
    assert anon.status_code == 401 and anon.json()["category"] == "INVALID_AUTHENTICATION"
    assert anon.headers["X-HubSpot-Auth-Failure"] == "401 Unauthorized"


# -- auth ----------------------------------------------------------------------------------------


def test_rejected_private_app_token_fails_at_once(tmp_path: Path) -> None:
    with serve() as (app, url):
        con = bind("src", {"kind": "hubspot", "base_url": url, "access_token": "pat-wrong"},
                   tmp_path)
        try:
            with pytest.raises(SourceAuthError, match="rejected the private app token, which "
                               "cannot be renewed"):
                rows(con, "deals")  # type: ignore[arg-type]
        finally:
            con.close()
        assert len(app.log) == 1, "a static token is not retried"


def test_oauth_refresh_grant_and_token_reuse(tmp_path: Path) -> None:
    with serve(oauth=True) as (app, url):
        con = connect(url, tmp_path, oauth=True)
        try:
            rows(con, "deals")
            rows(con, "cars")
        finally:
            con.close()
        grants = app.requests_to("^/oauth/v1/token")
        data = app.requests_to("^/crm/")
    assert len(grants) == 1, "one access token serves the whole run"
    form = dict(httpx.QueryParams(grants[0].body.decode()))
    assert form == {"grant_type": "refresh_token", "client_id": OAUTH.client_id,
                    "client_secret": OAUTH.client_secret,
                    "refresh_token": OAUTH.refresh_token}
    assert all(r.headers["Authorization"].startswith("Bearer CO1-") for r in data)
    assert con.daily_remaining is None, "OAuth apps get no daily quota headers"


def test_fake_omits_daily_headers_for_oauth_apps() -> None:
    with serve(oauth=True) as (_, url):
        token = httpx.post(f"{url}/oauth/v1/token", data={
            "grant_type": "refresh_token", "client_id": OAUTH.client_id,
            "client_secret": OAUTH.client_secret,
            "refresh_token": OAUTH.refresh_token}).json()
        resp = httpx.get(f"{url}/crm/v3/objects/deals",
                         headers={"Authorization": f"Bearer {token['access_token']}"})
        wrong = httpx.post(f"{url}/oauth/v1/token", data={
            "grant_type": "refresh_token", "client_id": "someone-else"})
    assert token["expires_in"] == 1800 and token["token_type"] == "bearer"
    assert resp.status_code == 200 and "X-HubSpot-RateLimit-Max" in resp.headers
    assert "X-HubSpot-RateLimit-Daily-Remaining" not in resp.headers
    assert wrong.status_code == 400 and wrong.json()["status"] == "BAD_CLIENT_ID"


def test_oauth_token_is_renewed_before_it_expires(tmp_path: Path) -> None:
    now = [0.0]
    with serve(oauth=True, token_ttl=1800) as (app, url):
        app.clock = lambda: now[0]
        con = connect(url, tmp_path, oauth=True)
        con.auth.clock = lambda: now[0]  # type: ignore[attr-defined]
        try:
            rows(con, "deals")
            now[0] = 1750.0  # inside the 60 s margin: renew before asking
            rows(con, "deals")
        finally:
            con.close()
        assert len(app.requests_to("^/oauth/v1/token")) == 2
        assert con.api.reauthentications == 0, "no request was rejected"


def test_expired_oauth_token_is_renewed_once_on_401(tmp_path: Path) -> None:
    now = [0.0]
    with serve(oauth=True, token_ttl=1800) as (app, url):
        app.clock = lambda: now[0]
        con = connect(url, tmp_path, oauth=True)
        con.auth.clock = lambda: 0.0  # type: ignore[attr-defined]  # client thinks it is fresh
        try:
            con.discover()
            now[0] = 5000.0
            got = rows(con, "deals")
        finally:
            con.close()
        paths = [r.path for r in app.log]
    assert len(got) == 2 and con.api.reauthentications == 1
    assert paths.count("/oauth/v1/token") == 2


def test_bad_refresh_token_is_an_auth_error_without_secrets(tmp_path: Path) -> None:
    bad = OAuthApp(OAUTH.client_id, OAUTH.client_secret, "another-refresh-token")
    app = HubSpotApp([deals()], oauth=bad)
    with FakeServer(app) as server:
        con = connect(server.url, tmp_path, oauth=True)
        try:
            with pytest.raises(SourceAuthError, match="BAD_REFRESH_TOKEN") as info:
                rows(con, "deals")
        finally:
            con.close()
    assert OAUTH.refresh_token not in str(info.value)
    assert OAUTH.client_secret not in str(info.value)


# -- error bodies --------------------------------------------------------------------------------


def test_missing_scopes_are_listed(tmp_path: Path) -> None:
    with serve(denied={"deals"}) as (_, url):
        con = connect(url, tmp_path)
        try:
            with pytest.raises(SourceAuthError, match="required scopes: "
                               "crm.objects.deals.read"):
                con.describe("deals", {})
        finally:
            con.close()


def test_burst_limit_is_retried_and_daily_limit_stops(tmp_path: Path) -> None:
    with serve() as (app, url):
        con = connect(url, tmp_path)
        waits: list[float] = []
        con.sleep = waits.append
        app.faults.add("throttle", path="^/crm/v3/objects/", times=2)
        try:
            assert len(rows(con, "deals")) == 2
            assert len(waits) == 2, "TEN_SECONDLY_ROLLING is a burst limit: retried"
            assert waits == [10.0, 10.0], "no Retry-After: wait out HubSpot's 10 s window"
            app.faults.add("quota", path="^/crm/v3/objects/")
            with pytest.raises(SourceQuotaExceeded, match="policy DAILY"):
                rows(con, "deals")
        finally:
            con.close()


def _resp(status: int, body: Any = None, text: str = "", **headers: str) -> httpx.Response:
    req = httpx.Request("GET", "https://api.hubapi.com/crm/v3/objects/x")
    if body is not None:
        return httpx.Response(status, json=body, headers=headers, request=req)
    return httpx.Response(status, text=text, headers=headers, request=req)


def test_classify_reads_hubspot_bodies() -> None:
    expired = classify(_resp(401, {"status": "error", "category": "EXPIRED_AUTHENTICATION",
                                   "message": "The OAuth token used to make this call "
                                   "expired 3 second(s) ago."}), token="OAuth access token")
    assert expired is not None and expired.kind == "expired"
    assert expired.message.startswith("HubSpot rejected the OAuth access token, EXPIRED_")
    quota = classify(_resp(429, {"errorType": "RATE_LIMIT", "policyName": "DAILY",
                                 "message": "You have reached your daily limit."}))
    assert quota is not None and quota.kind == "quota"
    burst = classify(_resp(429, {"errorType": "RATE_LIMIT", "policyName": "SECONDLY",
                                 "message": "You have reached your secondly limit."}))
    assert burst is not None and burst.kind == "throttled" and "SECONDLY" in burst.message
    infer = classify(_resp(400, {"status": "error", "category": "VALIDATION_ERROR",
                                 "message": "Unable to infer object type from: boats"}))
    assert infer is not None and infer.kind == "not_found"
    invalid = classify(_resp(400, {"status": "error", "category": "VALIDATION_ERROR",
                                   "message": "bad input", "errors": [
                                       {"message": "must be <= 100", "in": "limit"}]}))
    assert invalid is not None and invalid.kind == "bad_request"
    assert invalid.message == "VALIDATION_ERROR: bad input (limit: must be <= 100)"
    html = classify(_resp(502, text="<html>Bad gateway</html>"))
    assert html is not None and html.kind == "transient"
    assert classify(_resp(200, {"results": []})) is None
    assert required_scopes({"errors": [{"context": {"requiredScopes": ["a", "b"]}},
                                       {"context": {"requiredScopes": ["a"]}}]}) == ["a", "b"]
    assert interval_wait({"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}) == 10.0
    assert interval_wait({}) is None


# -- demo ----------------------------------------------------------------------------------------


def test_demo_app_serves_the_sample_crm(tmp_path: Path) -> None:
    app = demo_app(SAMPLE_DATA)
    with FakeServer(app) as server:
        con = bind("demo", {"kind": "hubspot", "base_url": server.url,
                            "access_token": DEMO_TOKEN}, tmp_path)
        try:
            tickets = con.sample("tickets", SampleSpec(), {})
            contacts = con.sample("contacts", SampleSpec(), {})
            t_rows = tickets.reader.read_all()
            c_rows = contacts.reader.read_all()
        finally:
            con.close()
    t_cols = {c.name: c for c in tickets.metadata.columns}
    assert t_rows.num_rows == 800
    assert set(t_cols["priority"].allowed_values or ()) == {"low", "normal", "high", "urgent"}
    assert t_cols["ticket_id"].unique is False, "the file plants duplicate ticket ids"
    assert len(set(t_rows.column("ticket_id").to_pylist())) == 795
    c_cols = {c.name: c for c in contacts.metadata.columns}
    assert c_rows.num_rows == 1200
    assert c_cols["phone"].sensitivity == "sensitive"
    assert c_cols["consent_marketing"].type == "bool"
    names = c_rows.column("last_name").to_pylist() + c_rows.column("first_name").to_pylist()
    assert any(not n.isascii() for n in names if n), "latin-1 accents survive"
