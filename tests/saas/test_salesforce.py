"""Salesforce specifics the conformance suite does not cover: the five token flows, SOQL and
paging on the wire, describe → contracts, error bodies, API limits and the ACL inventory."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from datetime import time as dt_time
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
from connectors.salesforce import SalesforceConnector, classify, field_spec
from connectors.salesforce_access import (
    ASSIGNMENTS,
    FIELD_PERMISSIONS,
    OBJECT_PERMISSIONS,
    PERMISSION_SETS,
)
from fakeservers.core import FakeServer
from fakeservers.salesforce import SalesforceApp, demo_app, sf_field
from fakeservers.salesforce_soql import SoqlError, parse_soql
from fakeservers.tables import standard_table
from tests.saas.harness_salesforce import CLIENT_ID, CLIENT_SECRET, OBJECT, org

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data"


@contextmanager
def running(app: SalesforceApp | None = None, *, rows: int = 30) -> Iterator[tuple[SalesforceApp,
                                                                                   FakeServer]]:
    app = app or org(standard_table(rows))
    with FakeServer(app) as server:
        yield app, server


def connect(server: FakeServer, tmp_path: Path, auth: dict[str, Any] | None = None,
            **extra: Any) -> SalesforceConnector:
    cfg = {"kind": "salesforce", "login_url": server.url, "backoff": 0.0,
           "auth": auth or {"flow": "client_credentials", "client_id": CLIENT_ID,
                            "client_secret": CLIENT_SECRET}, **extra}
    con = bind("sf", cfg, tmp_path)
    assert isinstance(con, SalesforceConnector)
    con.sleep = lambda s: None
    return con


def queries(app: SalesforceApp) -> list[str]:
    return [r.query["q"][0] for r in app.requests_to(r"/query\?") if "q" in r.query]


def token_forms(app: SalesforceApp) -> list[dict[str, list[str]]]:
    from urllib.parse import parse_qs

    return [parse_qs(r.body.decode()) for r in app.requests_to(r"^/services/oauth2/token")]


# -- auth flows ----------------------------------------------------------------------------------


def test_client_credentials_posts_a_form_and_uses_the_instance_url(tmp_path: Path) -> None:
    app = org(standard_table(5))
    with FakeServer(app) as server:
        app.instance_url = server.url.replace("127.0.0.1", "localhost")
        con = connect(server, tmp_path)
        try:
            assert OBJECT in con.discover()
        finally:
            con.close()
    (req,) = app.requests_to(r"^/services/oauth2/token")
    assert req.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert token_forms(app)[0] == {"grant_type": ["client_credentials"],
                                   "client_id": [CLIENT_ID], "client_secret": [CLIENT_SECRET]}
    sobjects = app.requests_to(r"/sobjects$")[0]
    assert sobjects.headers["Host"].startswith("localhost:"), "data calls go to instance_url"


def test_refused_login_carries_the_vendor_description_not_the_secret(tmp_path: Path) -> None:
    with running() as (app, server):
        con = connect(server, tmp_path, auth={"flow": "client_credentials",
                                              "client_id": CLIENT_ID,
                                              "client_secret": "wrong-secret-value"})
        with pytest.raises(SourceAuthError, match="invalid_client: invalid client "
                           "credentials") as info:
            con.discover()
        con.close()
    assert "wrong-secret-value" not in str(info.value)
    assert len(app.requests_to(r"^/services/oauth2/token")) == 1, "a refusal is not retried"


def _rsa_pair() -> tuple[bytes, bytes]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def test_jwt_bearer_signs_an_rs256_assertion_the_server_verifies(tmp_path: Path) -> None:
    private, public = _rsa_pair()
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "sf.pem").write_bytes(private)
    with running() as (app, server):
        app.jwt_keys[CLIENT_ID] = public
        con = connect(server, tmp_path, auth={"flow": "jwt_bearer", "client_id": CLIENT_ID,
                                              "username": "analyst@example.com",
                                              "private_key_file": "keys/sf.pem"})
        try:
            assert con.sample(OBJECT, SampleSpec(), {}).reader.read_all().num_rows == 30
        finally:
            con.close()
        (form,) = token_forms(app)
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    head, body, _ = form["assertion"][0].split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    assert json.loads(base64.urlsafe_b64decode(pad(head))) == {"alg": "RS256", "typ": "JWT"}
    claims = json.loads(base64.urlsafe_b64decode(pad(body)))
    assert claims["iss"] == CLIENT_ID and claims["sub"] == "analyst@example.com"
    assert claims["aud"] == "https://login.salesforce.com"
    assert time.time() < claims["exp"] <= time.time() + 181


def test_jwt_signed_with_another_key_is_refused(tmp_path: Path) -> None:
    private, _ = _rsa_pair()
    _, other_public = _rsa_pair()
    with running() as (app, server):
        app.jwt_keys[CLIENT_ID] = other_public
        con = connect(server, tmp_path, auth={"flow": "jwt_bearer", "client_id": CLIENT_ID,
                                              "username": "analyst@example.com",
                                              "private_key": private.decode()})
        with pytest.raises(SourceAuthError, match="invalid_grant: invalid assertion") as info:
            con.discover()
        con.close()
    assert "PRIVATE KEY" not in str(info.value)


def test_refresh_token_flow_renews_an_expired_session(tmp_path: Path) -> None:
    with running(rows=450) as (app, server):
        app.refresh_tokens["5Aep861-refresh"] = "analyst@example.com"
        con = connect(server, tmp_path, page_size=200,
                      auth={"flow": "refresh_token", "client_id": CLIENT_ID,
                            "refresh_token": "5Aep861-refresh"})
        try:
            sample = con.sample(OBJECT, SampleSpec(), {})
            app.expire_tokens()  # server-side: every session dies between page 1 and page 2
            got = sample.reader.read_all()
        finally:
            con.close()
        forms = token_forms(app)
    assert got.num_rows == 450 and sample.stopped is None
    assert len(forms) == 2 and con.auth.logins == 2
    assert forms[1] == {"grant_type": ["refresh_token"], "client_id": [CLIENT_ID],
                        "refresh_token": ["5Aep861-refresh"]}, "client_secret is optional"


def test_password_flow_appends_the_security_token(tmp_path: Path) -> None:
    with running() as (app, server):
        app.passwords["analyst@example.com"] = "hunter2" + "TOKEN123"
        good = {"flow": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                "username": "analyst@example.com", "password": "hunter2",
                "security_token": "TOKEN123"}
        con = connect(server, tmp_path, auth=good)
        assert OBJECT in con.discover()
        con.close()
        assert token_forms(app)[0]["password"] == ["hunter2TOKEN123"]
        bad = connect(server, tmp_path, auth={**good, "security_token": None})
        with pytest.raises(SourceAuthError, match="invalid_grant: authentication failure"):
            bad.discover()
        bad.close()


def test_static_token_cannot_refresh_and_needs_an_instance_url(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfig, match="instance_url"):
        bind("sf", {"kind": "salesforce", "auth": {"flow": "access_token",
                                                   "access_token": "x"}}, tmp_path)
    with running() as (app, server):
        token = app.issue_token()
        con = connect(server, tmp_path, instance_url=server.url,
                      auth={"flow": "access_token", "access_token": token})
        assert OBJECT in con.discover()
        app.expire_tokens()
        with pytest.raises(SourceAuthError, match="INVALID_SESSION_ID: Session expired") as info:
            con.discover()
        con.close()
        assert app.requests_to(r"oauth2") == []
    assert token not in str(info.value)


@pytest.mark.parametrize(("auth", "error"), [
    ({"flow": "jwt_bearer", "client_id": "c", "username": "u"}, "exactly one of"),
    ({"flow": "saml", "client_id": "c"}, "flow"),
])
def test_auth_config_is_validated(tmp_path: Path, auth: dict[str, Any], error: str) -> None:
    with pytest.raises(InvalidConfig, match=error):
        bind("sf", {"kind": "salesforce", "auth": auth}, tmp_path)


def test_api_version_is_normalised_and_checked(tmp_path: Path) -> None:
    auth = {"flow": "client_credentials", "client_id": "c", "client_secret": "s"}
    con = bind("sf", {"kind": "salesforce", "api_version": "v61.0", "auth": auth}, tmp_path)
    assert isinstance(con, SalesforceConnector)
    assert con.base_path == "/services/data/v61.0"
    with pytest.raises(InvalidConfig, match="api_version"):
        bind("sf", {"kind": "salesforce", "api_version": "sixty", "auth": auth}, tmp_path)


# -- SOQL, paging, limits ------------------------------------------------------------------------


def test_soql_batch_size_and_query_locators_on_the_wire(tmp_path: Path) -> None:
    with running(rows=450) as (app, server):
        con = connect(server, tmp_path, page_size=50)
        try:
            sample = con.sample(OBJECT, SampleSpec(), {})
            got = sample.reader.read_all()
        finally:
            con.close()
        first = app.requests_to(r"/query\?")[0]
        more = app.requests_to(r"/query/")
    assert queries(app) == ["SELECT Id, OwnerId, code, title, quantity, price, active, stage, "
                            "launched, updated_at FROM Widget__c ORDER BY Id"]
    assert first.headers["Sforce-Query-Options"] == "batchSize=200", "Salesforce's minimum"
    assert [r.path.rsplit("-", 1)[1] for r in more] == ["200", "400"]
    assert all(r.path.startswith("/services/data/v62.0/query/01g") for r in more)
    assert got.num_rows == 450 and sample.source_rows == 450, "totalSize of the whole object"
    assert len(got.column("Id").to_pylist()[0]) == 18


def test_records_lose_their_attributes_at_every_level(tmp_path: Path) -> None:
    with running(rows=3) as (app, server):
        con = connect(server, tmp_path)
        try:
            records = list(con.query(f"SELECT Id, Owner.Username FROM {OBJECT}"))
        finally:
            con.close()
    assert records and all(set(r) == {"Id", "Owner"} for r in records)
    assert records[0]["Owner"] == {"Username": "integration@example.com"}


def test_first_n_sends_limit_and_reports_no_total(tmp_path: Path) -> None:
    with running(rows=450) as (app, server):
        con = connect(server, tmp_path)
        try:
            sample = con.sample(OBJECT, SampleSpec(method="first", n=7), {})
            got = sample.reader.read_all()
        finally:
            con.close()
    assert queries(app)[0].endswith("FROM Widget__c ORDER BY Id LIMIT 7")
    assert got.num_rows == 7 and sample.source_rows is None


def test_sampling_where_is_passed_to_soql(tmp_path: Path) -> None:
    with running(rows=40) as (app, server):
        con = connect(server, tmp_path)
        try:
            got = con.sample(OBJECT, SampleSpec(where="stage = 'won' AND active = true"),
                             {}).reader.read_all()
            with pytest.raises(SourceError, match="MALFORMED_QUERY: unexpected token"):
                con.sample(OBJECT, SampleSpec(where="stage = 'won' OR active = true"), {})
            with pytest.raises(SourceError, match="INVALID_FIELD: No such column 'colour'"):
                con.sample(OBJECT, SampleSpec(where="colour = 'red'"), {})
        finally:
            con.close()
    assert "WHERE stage = 'won' AND active = true ORDER BY Id" in queries(app)[0]
    want = [r for r in standard_table(40).rows if r["stage"] == "won" and r["active"]]
    assert got.column("code").to_pylist() == [r["code"] for r in want] and want


def test_relationship_paths_become_flat_columns(tmp_path: Path) -> None:
    with running(rows=6) as (app, server):
        con = connect(server, tmp_path)
        try:
            got = con.sample(OBJECT, SampleSpec(), {"fields": ["code", "Owner.Username",
                                                               "owner.profile.name"]})
            table = got.reader.read_all()
            with pytest.raises(UnknownObject, match="has no relationship 'Boss'"):
                con.sample(OBJECT, SampleSpec(), {"fields": ["Boss.Username"]})
        finally:
            con.close()
    assert queries(app)[0] == ("SELECT Id, code, Owner.Username, Owner.Profile.Name "
                               "FROM Widget__c ORDER BY Id")
    assert table.column_names == ["Id", "code", "Owner_Username", "owner_profile_name"]
    # org() adds the table before its other users: the run-as user owns every record
    assert set(table.column("Owner_Username").to_pylist()) == {"integration@example.com"}
    assert set(table.column("owner_profile_name").to_pylist()) == {
        "Minimum Access - Salesforce"}


def test_api_usage_header_is_kept_and_noted(tmp_path: Path) -> None:
    with running(rows=450) as (app, server):
        app.api_used = 100
        con = connect(server, tmp_path)
        try:
            sample = con.sample(OBJECT, SampleSpec(), {})
            sample.reader.read_all()
        finally:
            con.close()
        (limits,) = app.requests_to(r"/limits$")
        served = app.api_used
    assert con.daily_limit == {"Max": 15000, "Remaining": 15000 - 100 - 1}, "after describe"
    assert con.api_usage == (served, 15000)
    assert any(f"{served:,} of 15,000 daily requests" in n for n in sample.notes)
    assert limits.method == "GET"


def test_api_usage_is_read_from_the_leading_api_usage_entry(tmp_path: Path) -> None:
    class PerAppOrg(SalesforceApp):
        def _limited(self, resp: Any) -> Any:
            resp = super()._limited(resp)
            resp.headers["Sforce-Limit-Info"] += "; per-app-api-usage=3/250(appName=auditor)"
            return resp

    with running(PerAppOrg({OBJECT: standard_table(3)}, clients={CLIENT_ID: CLIENT_SECRET})
                 ) as (app, server):
        con = connect(server, tmp_path)
        try:
            con.discover()
        finally:
            con.close()
    assert con.api_usage == (app.api_used, 15000) and app.api_used == 1


def test_no_daily_requests_left_stops_before_paging(tmp_path: Path) -> None:
    with running() as (app, server):
        app.api_used = app.api_max - 1  # the describe takes the last request of the day
        con = connect(server, tmp_path)
        try:
            with pytest.raises(SourceQuotaExceeded, match="DailyApiRequests has 0"):
                con.sample(OBJECT, SampleSpec(), {})
            with pytest.raises(SourceQuotaExceeded, match="stopped earlier"):
                con.sample(OBJECT, SampleSpec(), {})
        finally:
            con.close()
        assert app.requests_to(r"/query") == [], "no query once the quota is known spent"


def test_limits_not_readable_is_skipped(tmp_path: Path) -> None:
    with running(rows=5) as (app, server):
        app.faults.add("denied", path=r"/limits$")
        con = connect(server, tmp_path)
        try:
            got = con.sample(OBJECT, SampleSpec(), {}).reader.read_all()
        finally:
            con.close()
    assert got.num_rows == 5 and con.daily_limit is None


# -- describe → contracts ------------------------------------------------------------------------


def test_describe_maps_types_and_contracts(tmp_path: Path) -> None:
    app = org(standard_table(3))
    obj = app.objects[OBJECT]
    obj.fields += [
        sf_field("BillingAddress", "address"),
        sf_field("Opens__c", "time"), sf_field("Score__c", "percent"),
        sf_field("Tier__c", "picklist", picklist=("Gold", "Silver")),
        sf_field("Email__c", "email", length=80, unique=True),
        sf_field("Auto__c", "string", nillable=False, createable=False),
    ]
    obj.fields[-3]["picklistValues"][1]["active"] = False
    for i, row in enumerate(obj.rows):
        row.update(Opens__c=dt_time(8, 30 + i), Score__c=12.5, Tier__c="Gold",
                   BillingAddress={"city": "Utrecht"})
    with running(app) as (_, server):
        con = connect(server, tmp_path)
        try:
            sample = con.sample(OBJECT, SampleSpec(), {})
            got = sample.reader.read_all()
        finally:
            con.close()
    cols = {c.name: c for c in sample.metadata.columns}
    assert "BillingAddress" not in cols, "compound fields are skipped"
    assert sample.metadata.primary_key == ("Id",)
    assert cols["Id"].nullable is False and cols["Id"].source_type == "id"
    assert cols["stage"].allowed_values == ("new", "qualified", "won", "lost")
    assert cols["stage"].source_type == "picklist"
    assert cols["Tier__c"].allowed_values is None, "unrestricted picklists are open"
    assert cols["Email__c"].unique and cols["Email__c"].max_length == 80
    assert cols["Auto__c"].nullable is not False, "system-filled fields are not required"
    assert cols["code"].comment == "Code" and cols["Score__c"].max_length is None
    assert cols["OwnerId"].nullable is False and cols["OwnerId"].type == "string"
    assert got.column("Opens__c").to_pylist()[1] == dt_time(8, 31)
    assert got.column("Score__c").type == "double"


@pytest.mark.parametrize(("sf_type", "value_type"), [
    ("id", "string"), ("string", "string"), ("textarea", "string"), ("multipicklist", "string"),
    ("combobox", "string"), ("reference", "string"), ("email", "string"), ("phone", "string"),
    ("url", "string"), ("encryptedstring", "string"), ("base64", "string"),
    ("anyType", "string"), ("boolean", "boolean"), ("int", "integer"), ("long", "integer"),
    ("double", "float"), ("currency", "float"), ("percent", "float"), ("date", "date"),
    ("datetime", "datetime"), ("time", "time"), ("complexvalue", "json"),
])
def test_field_types(sf_type: str, value_type: str) -> None:
    spec = field_spec({"name": "F", "type": sf_type, "length": 40, "nillable": True})
    assert spec is not None and spec.type == value_type
    assert spec.source_type == sf_type.lower()
    stringy = sf_type in ("string", "textarea", "multipicklist", "combobox", "email", "phone",
                          "url", "encryptedstring")
    assert (spec.max_length == 40) is stringy


def test_restricted_picklist_keeps_active_values_only() -> None:
    spec = field_spec({"name": "S", "type": "picklist", "restrictedPicklist": True,
                       "nillable": False, "createable": True, "picklistValues": [
                           {"value": "a", "active": True}, {"value": "b", "active": False},
                           {"value": "c", "active": True}]})
    assert spec is not None and spec.allowed_values == ("a", "c") and spec.required
    assert field_spec({"name": "G", "type": "location"}) is None


# -- errors ----------------------------------------------------------------------------------


def _resp(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body, request=httpx.Request("GET", "https://x/q"))


@pytest.mark.parametrize(("status", "code", "message", "kind"), [
    (401, "INVALID_SESSION_ID", "Session expired or invalid", "expired"),
    (403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", "quota"),
    (403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.", "throttled"),
    (429, "REQUEST_LIMIT_EXCEEDED", "slow down", "throttled"),
    (400, "MALFORMED_QUERY", "unexpected token: FRM", "bad_request"),
    (400, "INVALID_FIELD", "No such column 'Foo__c' on entity 'Account'.", "bad_request"),
    (400, "INVALID_TYPE", "sObject type 'Foo__c' is not supported.", "not_found"),
    (404, "NOT_FOUND", "The requested resource does not exist", "not_found"),
    (403, "API_DISABLED_FOR_ORG", "The REST API is not enabled", "denied"),
    (503, "SERVER_UNAVAILABLE", "Server temporarily unavailable", "transient"),
])
def test_error_bodies_are_classified(status: int, code: str, message: str, kind: str) -> None:
    failure = classify(_resp(status, [{"message": message, "errorCode": code}]))
    assert failure is not None
    assert (failure.kind, failure.message) == (kind, f"{code}: {message}")


def test_error_bodies_that_are_not_arrays_fall_back_to_the_status() -> None:
    failure = classify(_resp(401, {"unexpected": True}))
    assert failure is not None and failure.kind == "expired"
    assert classify(_resp(200, {"records": []})) is None


def test_unknown_objects_are_named(tmp_path: Path) -> None:
    with running() as (app, server):
        con = connect(server, tmp_path)
        try:
            names = con.discover()
            with pytest.raises(UnknownObject, match="object 'Gadget__c' does not exist in "
                               "source 'sf'.*NOT_FOUND"):
                con.sample("Gadget__c", SampleSpec(), {})
        finally:
            con.close()
    assert "ActivityHistory" not in names, "non-queryable objects are not offered"
    assert {"Widget__c", "PermissionSet", "User"} <= set(names)


# -- access inventory ----------------------------------------------------------------------------


def inventory(app: SalesforceApp, tmp_path: Path, objects: list[str]) -> Any:
    """The access inventory the connector reads from ``app`` for ``objects``."""
    with running(app) as (_, server):
        con = connect(server, tmp_path)
        try:
            return con.access(objects)
        finally:
            con.close()


def _acl_org() -> SalesforceApp:
    app = org(standard_table(3))  # admin (View All Data) and analyst (Standard User)
    app.add_permission_set("Widget Reader", read=(OBJECT,), fields={OBJECT: ("price", "code")})
    app.add_permission_set("Price Viewer", fields={OBJECT: ("price",)})
    app.add_permission_set("Widget Auditor", read=(OBJECT,))
    app.add_profile("Partner", read=("Account",))
    app.add_user("svc@example.com", profile="Partner")
    app.assign("svc@example.com", "Widget Reader")
    app.add_user("fieldonly@example.com", profile="Partner")
    app.assign("fieldonly@example.com", "Price Viewer")
    app.add_user("gone@example.com", profile="System Administrator", active=False)
    app.add_user("lapsed@example.com", profile="Partner")
    app.assign("lapsed@example.com", "Widget Reader", expires=date.today() - timedelta(days=1))
    app.add_group("Audit_Team", ["Widget Auditor"])
    app.add_user("auditor@example.com", profile="Partner")
    app.assign_group("auditor@example.com", "Audit_Team")
    return app


def test_access_inventory_from_permission_objects(tmp_path: Path) -> None:
    app = _acl_org()
    inv = inventory(app, tmp_path, [OBJECT, "Account"])
    assert inv is not None and inv.source == "sf"
    facts = {(g.object, g.column, g.grantee, g.via, g.path) for g in inv.grants}
    assert facts == {
        (OBJECT, None, "admin@example.com", "superuser",
         ("admin@example.com", "System Administrator")),
        (OBJECT, None, "analyst@example.com", "profile",
         ("analyst@example.com", "Standard User")),
        # Widget Reader grants FLS on price only (code is required, so never FLS-governed):
        # svc reads the always-readable fields and price, not the whole object
        *{(OBJECT, col, "svc@example.com", "permission_set",
           ("svc@example.com", "Widget Reader")) for col in ("Id", "OwnerId", "code", "price")},
        (OBJECT, None, "auditor@example.com", "permission_set_group",
         ("auditor@example.com", "Audit_Team", "Widget Auditor")),
        ("Account", None, "admin@example.com", "superuser",
         ("admin@example.com", "System Administrator")),
        *{("Account", None, u, "profile", (u, "Partner")) for u in
          ("svc@example.com", "fieldonly@example.com", "lapsed@example.com",
           "auditor@example.com")},
    }, "field permissions without object read grant nothing; inactive and expired skipped"
    assert any(n.startswith("Account: describe not read") for n in inv.notes)
    assert all(g.can_login for g in inv.grants)
    roles = {r.name: r for r in inv.roles}
    assert roles["System Administrator"].superuser
    assert roles["System Administrator"].members == ("admin@example.com",)
    assert roles["svc@example.com"].can_login
    assert set(roles["svc@example.com"].member_of) == {"Partner", "Widget Reader"}
    assert "gone@example.com" not in roles
    assert any("gone@example.com" in n for n in inv.notes)
    assert any("1 inactive or expired assignments" in n for n in inv.notes)
    sent = queries(app)
    for soql in (PERMISSION_SETS, OBJECT_PERMISSIONS, FIELD_PERMISSIONS, ASSIGNMENTS):
        assert soql in sent, "the spec's SOQL, verbatim"


def test_orgs_without_permission_set_groups_still_get_an_inventory(tmp_path: Path) -> None:
    app = _acl_org()
    del app.objects["PermissionSetGroupComponent"]
    inv = inventory(app, tmp_path, [OBJECT])
    assert inv is not None
    assert {g.grantee for g in inv.grants} == {"admin@example.com", "analyst@example.com",
                                               "svc@example.com"}
    assert any("PermissionSetGroupComponent is not queryable" in n for n in inv.notes)


def test_access_without_permission_to_read_the_acl_is_a_source_error(tmp_path: Path) -> None:
    with running() as (app, server):
        app.faults.add("denied", path=r"PermissionSet", times=-1)
        con = connect(server, tmp_path)
        try:
            with pytest.raises(SourceError, match="permission objects cannot be read") as info:
                con.access([OBJECT])
        finally:
            con.close()
    assert "View Setup" in (info.value.hint or "")


# -- the fake itself ---------------------------------------------------------------------------


def test_fake_routes_with_and_without_trailing_slash_and_rejects_bad_tokens() -> None:
    with running() as (app, server):
        token = app.issue_token()
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.url) as http:
            assert http.get("/services/data/").json()[1]["version"] == "62.0"
            for path in ("/services/data/v62.0/sobjects", "/services/data/v62.0/sobjects/",
                         "/services/data/v62.0/limits/",
                         f"/services/data/v62.0/sobjects/{OBJECT}/describe/"):
                resp = http.get(path, headers=auth)
                assert resp.status_code == 200, path
                assert resp.headers["Sforce-Limit-Info"].startswith("api-usage=")
            q = http.get("/services/data/v62.0/query/", params={"q": f"SELECT Id FROM {OBJECT}"},
                         headers=auth)
            assert q.json()["totalSize"] == 30 and q.json()["done"] is True
            bad = http.get("/services/data/v62.0/sobjects", headers={"Authorization": "Bearer x"})
            assert bad.status_code == 401
            assert bad.json() == [{"message": "Session expired or invalid",
                                   "errorCode": "INVALID_SESSION_ID"}]
            gone = http.get("/services/data/v62.0/query/01gNOPE00000000AAA-200", headers=auth)
            assert gone.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
            grant = http.post("/services/oauth2/token", data={"grant_type": "authorization_code"})
            assert grant.json()["error"] == "unsupported_grant_type"
            basic = http.post("/services/oauth2/token", data={"grant_type": "client_credentials"},
                              auth=(CLIENT_ID, CLIENT_SECRET))
            body = basic.json()
            assert body["instance_url"] == server.url and body["token_type"] == "Bearer"
            assert body["access_token"] in app.tokens and "refresh_token" not in body
            assert body["issued_at"].isdigit() and len(body["issued_at"]) == 13


def test_soql_subset_parser() -> None:
    q = parse_soql("select Id, Owner.Username from Account where Amount >= 10.5 and "
                   "Name != 'O\\'Hara' and CloseDate < 2026-01-01 and IsWon = null "
                   "order by Name desc limit 5")
    assert q.fields == ["Id", "Owner.Username"] and q.object == "Account"
    assert [(c.field, c.op, c.value) for c in q.where] == [
        ("Amount", ">=", 10.5), ("Name", "!=", "O'Hara"),
        ("CloseDate", "<", date(2026, 1, 1)), ("IsWon", "=", None)]
    assert (q.order_by, q.descending, q.limit) == ("Name", True, 5)
    for bad in ("SELECT FROM Account", "SELECT Id FROM Account WHERE (a = 1)",
                "SELECT Id FROM Account WHERE Name LIKE 'A%'", "SELECT Id FRM Account"):
        with pytest.raises(SoqlError, match="unexpected token"):
            parse_soql(bad)


def test_demo_app_serves_the_sample_crm_with_demo_credentials(tmp_path: Path) -> None:
    app = demo_app(SAMPLE_DIR)
    with FakeServer(app) as server:
        con = connect(server, tmp_path, auth={"flow": "client_credentials",
                                              "client_id": "demo-client",
                                              "client_secret": "demo-secret"})
        try:
            assert {"Account", "Contact", "Opportunity"} <= set(con.discover())
            accounts = con.sample("Account", SampleSpec(), {})
            table = accounts.reader.read_all()
            contacts = con.sample("Contact", SampleSpec(), {})
            people = contacts.reader.read_all()
            inv = con.access(["Account", "Contact", "Opportunity"])
        finally:
            con.close()
    assert table.num_rows == 500 and table.column("account_id").null_count == 0
    cols = {c.name: c for c in accounts.metadata.columns}
    assert cols["segment"].allowed_values == ("SMB", "Mid-Market", "Enterprise")
    assert cols["account_id"].unique and cols["account_id"].nullable is False
    assert str(table.schema.field("created_at").type) == "timestamp[us, tz=UTC]"
    names = "".join(people.column("first_name").to_pylist() + people.column("last_name")
                    .to_pylist())
    assert people.num_rows == 1200 and "ü" in names, "the latin-1 export is decoded"
    readers = {(g.object, g.grantee, g.via) for g in inv.grants if g.column is None}
    svc = {g.column for g in inv.grants if g.grantee == "ml_churn_svc@example.com"
           and g.object == "Account"}
    assert {"account_id", "name", "employee_count", "churned_90d"} <= svc, "FLS + always"
    assert not svc & {None, "owner_email", "country"}, "field-level security narrows the read"
    assert ("Opportunity", "admin@example.com", "superuser") in readers
    assert ("Contact", "sales.rep@example.com", "profile") in readers
    assert not any(g.grantee == "former.rep@example.com" for g in inv.grants)
    assert not any(g.object == "Opportunity" and g.grantee == "sales.rep@example.com"
                   for g in inv.grants)


def test_field_level_security_binds_view_all_data_too(tmp_path: Path) -> None:
    """Salesforce Help: users with View All Data "must still be assigned field permissions"."""
    from auditor.access import can_read

    app = SalesforceApp({OBJECT: standard_table(3)}, clients={CLIENT_ID: CLIENT_SECRET})
    app.add_profile("Data Steward", view_all=True, fields={OBJECT: ("price",)})
    app.add_user("steward@example.com", profile="Data Steward")
    inv = inventory(app, tmp_path, [OBJECT])
    cols = {g.column: g for g in inv.grants if g.grantee == "steward@example.com"}
    assert set(cols) == {"Id", "OwnerId", "code", "price"}, "always-readable + FLS, no object"
    assert cols["Id"].via == "superuser" and cols["price"].detail == "field-level security"
    assert can_read(inv, "steward@example.com", OBJECT, "price") is not None
    assert can_read(inv, "steward@example.com", OBJECT, "title") is None
    assert can_read(inv, "steward@example.com", OBJECT) is None, "not the whole object"


def test_object_names_are_checked_before_they_reach_a_url_or_soql(tmp_path: Path) -> None:
    with running() as (app, server):
        con = connect(server, tmp_path)
        try:
            for bad in ("Account/../limits", "Widget__c WHERE Id != null", "../sobjects"):
                with pytest.raises(UnknownObject, match="not a Salesforce object API name"):
                    con.sample(bad, SampleSpec(), {})
        finally:
            con.close()
        assert not app.requests_to(r"/query"), "nothing was sent"
