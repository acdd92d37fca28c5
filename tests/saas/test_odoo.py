"""Odoo specifics the conformance suite does not cover: the three wire protocols, fault bodies,
``fields_get`` → column mapping, keyset paging and filters, and the access inventory."""

from __future__ import annotations

import json
import xmlrpc.client
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from auditor.access import can_read
from auditor.errors import (
    InvalidConfig,
    SourceAuthError,
    SourceError,
    SourceQuotaExceeded,
    UnknownObject,
)
from auditor.models import SampleSpec
from auditor.registry import bind
from connectors.odoo import classify_json2, classify_jsonrpc, classify_xmlrpc
from fakeservers.core import FakeServer
from fakeservers.odoo import OdooApp, demo_app, f
from fakeservers.tables import standard_table
from tests.saas.harness_odoo import LOGIN, OBJECT, SECRET, build_app

PAGE = 10


@contextmanager
def odoo(version: int = 17, rows: int = 25, app: OdooApp | None = None) -> Iterator[tuple[
        OdooApp, FakeServer]]:
    app = app or build_app(standard_table(rows), version=version)
    with FakeServer(app) as server:
        yield app, server


def connect(server: FakeServer, tmp_path: Path, **overrides: Any) -> Any:
    cfg = {"kind": "odoo", "url": server.url, "database": "acme", "login": LOGIN,
           "api_key": SECRET, "page_size": PAGE, "backoff": 0.0, "timeout": 2, **overrides}
    con = bind("erp", cfg, tmp_path)
    con.sleep = lambda s: None
    return con


def pull(con: Any, obj: str = OBJECT, spec: SampleSpec | None = None, **options: Any) -> Any:
    sample = con.sample(obj, spec or SampleSpec(), options)
    return sample, sample.reader.read_all()


def xml_calls(app: OdooApp, method: str) -> list[tuple[Any, ...]]:
    """execute_kw parameters of the logged XML-RPC calls of ``method``."""
    out = []
    for r in app.log:
        if r.path == "/xmlrpc/2/object":
            params, _ = xmlrpc.client.loads(r.body)
            if params[4] == method:
                out.append(params)
    return out


# -- wire ----------------------------------------------------------------------------------------


def test_xmlrpc_pages_by_id_keyset_with_the_selected_fields(tmp_path: Path) -> None:
    with odoo() as (app, server):
        con = connect(server, tmp_path)
        _, got = pull(con, fields=["title"])
        con.close()
    assert got.column_names == ["id", "title"]
    assert got.num_rows == 25
    logins = [r for r in app.log if r.path == "/xmlrpc/2/common"]
    assert len(logins) == 1 and logins[0].headers["Content-Type"] == "text/xml"
    counts = xml_calls(app, "search_count")
    assert len(counts) == 1 and counts[0][5] == [[]]
    pages = xml_calls(app, "search_read")
    pages = [p for p in pages if p[3] == OBJECT]
    assert [p[5][0] for p in pages] == [[], [["id", ">", 10]], [["id", ">", 20]]]
    db, uid, key, _, _, _, kwargs = pages[0]
    assert (db, uid, key) == ("acme", app.authenticate("acme", LOGIN, SECRET), SECRET)
    assert kwargs == {"fields": ["id", "title"], "limit": PAGE, "order": "id asc",
                      "context": {"active_test": False}}


def test_first_n_asks_only_for_the_rows_it_needs(tmp_path: Path) -> None:
    with odoo() as (app, server):
        con = connect(server, tmp_path)
        _, got = pull(con, spec=SampleSpec(method="first", n=13))
        con.close()
    assert got.num_rows == 13
    limits = [p[6]["limit"] for p in xml_calls(app, "search_read") if p[3] == OBJECT]
    assert limits == [10, 3]


def test_jsonrpc_envelope_and_reauthentication(tmp_path: Path) -> None:
    with odoo() as (app, server):
        con = connect(server, tmp_path, protocol="jsonrpc")
        app.faults.add("expired", path=rf"#{OBJECT}\.search_read$", skip=1)
        _, got = pull(con)
        con.close()
    assert got.num_rows == 25
    bodies = [json.loads(r.body) for r in app.log if r.path == "/jsonrpc"]
    assert all(b["jsonrpc"] == "2.0" and b["method"] == "call" for b in bodies)
    assert [b["params"]["method"] for b in bodies].count("authenticate") == 2
    reauth = [i for i, r in enumerate(app.log) if r.target.endswith("#common.authenticate")][1]
    assert app.log[reauth - 1].target.endswith(f"#{OBJECT}.search_read")
    assert app.log[reauth - 1].body == app.log[reauth + 1].body, "the call is resent unchanged"


def test_jsonrpc_errors_are_read_from_http_200_bodies(tmp_path: Path) -> None:
    with odoo() as (app, server):
        con = connect(server, tmp_path, protocol="jsonrpc", max_attempts=1)
        app.faults.add("denied", path=rf"#{OBJECT}\.search_read$")
        with pytest.raises(SourceAuthError, match="access denied: You are not allowed"):
            pull(con)
        with pytest.raises(UnknownObject, match="x.nope"):
            con.execute("x.nope", "fields_get", [], {})
        con.close()
        bad = httpx.post(f"{server.url}/jsonrpc", content=b"{not json")
    assert bad.status_code == 400 and bad.json()["error"]["message"] == "Invalid JSON data"


def test_wrong_key_is_a_refused_login_without_the_secret(tmp_path: Path) -> None:
    with odoo() as (_, server):
        for protocol in ("xmlrpc", "jsonrpc"):
            con = connect(server, tmp_path, protocol=protocol, api_key="wrong-key-123")
            with pytest.raises(SourceAuthError) as info:
                con.discover()
            assert str(info.value) == f"Odoo refused login {LOGIN} on database acme"
            assert "wrong-key-123" not in str(info.value) + repr(con.config)


def test_wrong_database_shows_odoos_fault(tmp_path: Path) -> None:
    with odoo() as (_, server):
        con = connect(server, tmp_path, database="nope")
        with pytest.raises(SourceError, match='database "nope" does not exist'):
            con.discover()


def test_revoked_key_fails_after_one_reauthentication(tmp_path: Path) -> None:
    with odoo() as (app, server):
        con = connect(server, tmp_path)
        con.discover()
        uid = app.authenticate("acme", LOGIN, SECRET)
        app.keys[uid] = "rotated"
        with pytest.raises(SourceAuthError, match="rejected.*Access Denied"):
            pull(con)
    assert len([r for r in app.log if r.target.endswith("#common.authenticate")]) == 2


def test_json2_bearer_key_database_header_and_no_refresh(tmp_path: Path) -> None:
    with odoo(version=19) as (app, server):
        con = connect(server, tmp_path, protocol="json2", login=None)
        _, got = pull(con)
        assert got.num_rows == 25
        page = next(r for r in app.log if r.path == f"/json/2/{OBJECT}/search_read")
        assert page.headers["Authorization"] == f"bearer {SECRET}"
        assert page.headers["X-Odoo-Database"] == "acme"
        assert json.loads(page.body) == {"domain": [], "fields": [
            "id", "code", "title", "quantity", "price", "active", "stage", "launched",
            "updated_at", "write_uid", "write_date"], "limit": PAGE, "order": "id asc",
            "context": {"active_test": False}}
        app.keys.clear()
        seen = len(app.log)
        with pytest.raises(SourceAuthError, match="API key is invalid or expired") as info:
            pull(con)
        assert len(app.log) == seen + 1, "a static key is not retried"
        assert SECRET not in str(info.value)
        con.close()


def test_json2_against_odoo_17_says_which_protocol_to_use(tmp_path: Path) -> None:
    with odoo(version=17) as (_, server):
        con = connect(server, tmp_path, protocol="json2")
        with pytest.raises(SourceError, match="JSON-2 API .*use protocol xmlrpc"):
            con.discover()


def test_quota_is_a_429_with_a_day_long_retry_after(tmp_path: Path) -> None:
    with odoo() as (app, server):
        con = connect(server, tmp_path)
        app.faults.add("quota", path=rf"#{OBJECT}\.search_read$")
        with pytest.raises(SourceQuotaExceeded, match="86400 s.*quota exhausted"):
            pull(con)


# -- fault bodies --------------------------------------------------------------------------------


def _xml(body: str | bytes, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=body if isinstance(body, bytes) else body.encode())


def test_xmlrpc_fault_codes_map_to_kinds() -> None:
    def kind(code: int, text: str) -> tuple[str, str]:
        failure = classify_xmlrpc(_xml(xmlrpc.client.dumps(xmlrpc.client.Fault(code, text))))
        assert failure is not None
        return failure.kind, failure.message
    assert kind(3, "Access Denied") == ("expired", "Access Denied")
    assert kind(4, "You are not allowed to access 'Contact' (res.partner) records.")[0] == \
        "denied"
    assert kind(2, "The operation cannot be completed") == ("bad_request",
                                                            "The operation cannot be completed")
    assert kind(1, "Traceback (most recent call last):\n  File x\nKeyError: 'x.nope'\n") == \
        ("not_found", "KeyError: 'x.nope'")
    assert kind(1, "Traceback:\nValueError: Invalid field 'x'\n") == \
        ("bad_request", "ValueError: Invalid field 'x'")


def test_xmlrpc_classify_parses_only_faults_and_the_parser_flags_truncation(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.odoo import _parse_xmlrpc
    from connectors.saas.http import MalformedBody

    ok = xmlrpc.client.dumps(([{"id": 1}],), methodresponse=True)
    assert _parse_xmlrpc(_xml(ok)) == [{"id": 1}]
    with pytest.raises(MalformedBody, match="malformed XML-RPC"):
        _parse_xmlrpc(_xml(ok[: len(ok) // 2]))  # retried by the shared client, then SRC002

    def boom(*a: Any, **k: Any) -> Any:
        raise AssertionError("a normal page must not be parsed twice")
    monkeypatch.setattr("connectors.odoo.xmlrpc.client.loads", boom)
    assert classify_xmlrpc(_xml(ok)) is None
    assert classify_xmlrpc(_xml(ok[: len(ok) // 2])) is None, "classify reads faults only"
    throttled = classify_xmlrpc(_xml("<html><title>429 Too Many Requests</title></html>", 429))
    assert throttled is not None and throttled.kind == "throttled"
    assert throttled.message == "429 Too Many Requests"


def test_jsonrpc_and_json2_error_bodies() -> None:
    def rpc(code: int, name: str, msg: str) -> str | None:
        body = {"jsonrpc": "2.0", "id": 1, "error": {"code": code, "message": "Odoo Server "
                "Error", "data": {"name": name, "message": msg}}}
        failure = classify_jsonrpc(httpx.Response(200, json=body))
        return failure.kind if failure else None
    assert rpc(200, "odoo.exceptions.AccessDenied", "Access Denied") == "expired"
    assert rpc(100, "odoo.http.SessionExpiredException", "Session expired") == "expired"
    assert rpc(200, "odoo.exceptions.AccessError", "no") == "denied"
    assert rpc(200, "odoo.exceptions.UserError", "Object x doesn't exist") == "not_found"
    assert rpc(200, "odoo.exceptions.ValidationError", "bad") == "bad_request"
    assert classify_jsonrpc(httpx.Response(200, json={"result": {"error": 1}})) is None
    expired = classify_json2(httpx.Response(401, json={
        "name": "werkzeug.exceptions.Unauthorized", "message": "Invalid apikey"}))
    assert expired is not None and expired.kind == "expired"
    assert expired.message == "the API key is invalid or expired (Odoo: Invalid apikey)"
    denied = classify_json2(httpx.Response(403, json={"name": "odoo.exceptions.AccessError",
                                                      "message": "not allowed"}))
    assert denied is not None and (denied.kind, denied.message) == ("denied", "not allowed")


# -- metadata and values -------------------------------------------------------------------------


def _rich_app() -> OdooApp:
    app = build_app(standard_table(3), version=17)
    m = app.add_model("x.rich", "Rich", {
        "name": f("char", "Name", required=True, size=20),
        "notes": f("html", "Notes"),
        "amount": f("monetary", "Amount"),
        "partner_id": f("many2one", "Owner", relation="res.users", required=True),
        "tag_ids": f("many2many", "Tags", relation="res.groups"),
        "line_ids": f("one2many", "Lines", relation="res.groups"),
        "image": f("binary", "Image"),
        "total": f("float", "Total", store=False),
        "state": f("selection", "State", selection=[["draft", "Draft"], ["done", "Done"]]),
        "count": f("integer", "Count"),
        "flag": f("boolean", "Flag"),
        "day": f("date", "Day"),
    })
    m.create(name="full", notes="<p>x</p>", amount=2.5, partner_id=2, tag_ids=[1, 4],
             line_ids=[], image="aGk=", total=1.0, state="done", count=0, flag=False,
             day=date(2026, 1, 2))
    m.create(name="empty", notes=None, amount=None, partner_id=None, tag_ids=[], line_ids=[],
             image=None, total=None, state=None, count=None, flag=None, day=None)
    app.add_access("x.rich", "base.group_user")
    return app


def test_fields_get_becomes_columns(tmp_path: Path) -> None:
    with odoo(app=_rich_app()) as (_, server):
        con = connect(server, tmp_path)
        sample, got = pull(con, "x.rich")
        ids = connect(server, tmp_path, x2many="ids")
        _, with_ids = pull(ids, "x.rich")
    cols = {c.name: c for c in sample.metadata.columns}
    assert list(cols) == ["id", "name", "notes", "amount", "partner_id", "partner_id_name",
                          "state", "count", "flag", "day"], \
        "binary, x2many and non-stored fields are skipped"
    assert cols["id"].primary_key and sample.metadata.primary_key == ("id",)
    assert cols["name"].max_length == 20 and cols["name"].nullable is False
    assert cols["partner_id"].type == "int64" and cols["partner_id"].nullable is False
    assert cols["partner_id"].source_type == "many2one(res.users)"
    assert cols["state"].allowed_values == ("draft", "done")
    assert cols["amount"].type == "double" and cols["notes"].source_type == "html"
    full, empty = got.to_pylist()
    assert (full["partner_id"], full["partner_id_name"]) == (2, "Administrator")
    assert full["count"] == 0 and full["flag"] is False and full["day"] == date(2026, 1, 2)
    assert empty == {**{k: None for k in empty}, "id": 2, "name": "empty", "flag": False}
    assert with_ids.column("tag_ids").to_pylist() == ["[1, 4]", "[]"]


def test_unique_comes_from_sql_constraints(tmp_path: Path) -> None:
    with odoo() as (app, server):
        con = connect(server, tmp_path)
        sample, got = pull(con)
    cols = {c.name: c for c in sample.metadata.columns}
    assert cols["code"].unique and not cols["title"].unique
    assert got.column("updated_at").to_pylist()[0] == datetime(2026, 1, 1, 15, 31, tzinfo=UTC)
    assert any(r.target.endswith("#ir.model.constraint.search_read") for r in app.log)


def test_unknown_model_names_model_and_database(tmp_path: Path) -> None:
    with odoo() as (_, server):
        con = connect(server, tmp_path)
        with pytest.raises(UnknownObject, match="model 'x.nope' does not exist in database "
                           "'acme'"):
            pull(con, "x.nope")


def test_fields_of_other_groups_are_hidden_from_the_login(tmp_path: Path) -> None:
    with odoo() as (app, server):
        con = connect(server, tmp_path, login="alice@example.com", api_key="alice-key")
        _, got = pull(con)
    assert "price" not in got.column_names and got.num_rows == 25


def test_discovery_falls_back_to_configured_models(tmp_path: Path) -> None:
    app = build_app(standard_table(3), version=17)
    app.add_user("portal2@example.com", "p2-key", ["base.group_portal"], share=True)
    app.add_access(OBJECT, "base.group_portal")
    with odoo(app=app) as (_, server):
        creds = {"login": "portal2@example.com", "api_key": "p2-key", "max_attempts": 1}
        with pytest.raises(SourceAuthError, match="access denied"):
            connect(server, tmp_path, **creds).discover()
        con = connect(server, tmp_path, models=[OBJECT], **creds)
        assert con.discover() == [OBJECT]
        _, got = pull(con)
    assert got.num_rows == 3


# -- filters ---------------------------------------------------------------------------------------


def test_filter_is_an_odoo_domain(tmp_path: Path) -> None:
    with odoo() as (_, server):
        con = connect(server, tmp_path)
        sample, got = pull(con, filter=[["stage", "=", "won"], ["quantity", ">", 20]])
        assert sample.source_rows == got.num_rows == 3
        assert set(got.column("stage").to_pylist()) == {"won"}
        _, either = pull(con, filter=["|", ["code", "=", "W-0001"], ["code", "ilike", "w-0025"]])
        assert either.column("code").to_pylist() == ["W-0001", "W-0025"]
        with pytest.raises(SourceError, match="use options.filter"):
            con.sample(OBJECT, SampleSpec(where="stage = 'won'"), {})
        with pytest.raises(SourceError, match="must be an Odoo domain"):
            pull(con, filter="stage = 'won'")
        with pytest.raises(SourceError, match="Invalid operator 'child_of'"):
            pull(con, filter=[["id", "child_of", 1]])


def test_archived_records_are_read_unless_excluded(tmp_path: Path) -> None:
    with odoo() as (_, server):
        _, every = pull(connect(server, tmp_path))
        sample, active = pull(connect(server, tmp_path, include_archived=False))
    assert every.num_rows == 25
    assert active.num_rows == sample.source_rows == 17
    assert all(active.column("active").to_pylist())


# -- access inventory ------------------------------------------------------------------------------


def test_access_inventory_follows_groups_rules_and_field_groups(tmp_path: Path) -> None:
    app = build_app(standard_table(3), version=17)
    app.add_access(OBJECT, None, name="access_widgets_everyone")
    app.add_rule(OBJECT, "Widgets: own company", "[('company_id', 'in', company_ids)]")
    with odoo(app=app) as (_, server):
        con = connect(server, tmp_path)
        inv = con.access([OBJECT, "x.nope"])
    table = {(g.grantee, g.via): g for g in inv.grants if g.object == OBJECT and not g.column}
    alice = table[("alice@example.com", "group")]
    assert alice.path == ("alice@example.com", "Sales / User: Own Documents Only",
                          "User types / Internal User")
    assert alice.row_filtered and "Widgets: sales see active ones" in (alice.detail or "")
    assert "own company" in (alice.detail or ""), "global rules narrow everybody"
    public = table[("PUBLIC", "public")]
    assert public.path == ("PUBLIC",) and public.row_filtered
    assert "portal and public users" in (public.detail or "")
    assert table[(LOGIN, "superuser")].path == (LOGIN, "Administration / Settings")
    assert not any(g.grantee == "former@example.com" for g in inv.grants), "inactive user"
    assert ("portal@example.com", "group") not in table
    assert can_read(inv, "bob@example.com", OBJECT, "price").masked is False
    assert can_read(inv, "alice@example.com", OBJECT, "price").masked is True
    assert can_read(inv, "alice@example.com", OBJECT, "title").masked is False
    roles = {r.name: r for r in inv.roles}
    assert roles["admin"].superuser and roles["__system__"].superuser
    assert not roles["__system__"].can_login
    assert roles["Accounting / Billing"].member_of == ("User types / Internal User",)
    assert "bob@example.com" in roles["Accounting / Billing"].members
    assert len(inv.row_policies[OBJECT]) == 2
    assert any("x.nope" in n for n in inv.notes)
    assert any("portal@example.com" in n for n in inv.notes)


@pytest.mark.parametrize(("version", "field"), [(17, "groups_id"), (19, "group_ids")])
def test_access_reads_the_group_field_of_the_version(tmp_path: Path, version: int,
                                                     field: str) -> None:
    with odoo(version=version, rows=3) as (app, server):
        inv = connect(server, tmp_path).access([OBJECT])
    reads = [xmlrpc.client.loads(r.body)[0] for r in app.log if r.path == "/xmlrpc/2/object"]
    users = next(p for p in reads if p[3] == "res.users" and p[4] == "search_read")
    assert field in users[6]["fields"]
    assert any(g.grantee == "bob@example.com" for g in inv.grants)


def test_access_needs_settings_rights(tmp_path: Path) -> None:
    with odoo(rows=3) as (_, server):
        con = connect(server, tmp_path, login="bob@example.com", api_key="bob-key",
                      max_attempts=1)
        with pytest.raises(SourceAuthError, match="access denied.*ir.model.access"):
            con.access([OBJECT])


def test_demo_app_serves_the_erp_files(tmp_path: Path) -> None:
    app = demo_app(Path(__file__).resolve().parents[2] / "sample_data")
    with FakeServer(app) as server:
        con = bind("erp", {"kind": "odoo", "url": server.url, "database": "demo",
                           "login": "auditor@example.com", "api_key": "demo-odoo-key"},
                   tmp_path)
        assert {"res.partner", "account.move"} <= set(con.discover())
        sample, got = pull(con, "account.move", SampleSpec(method="first", n=5))
        inv = con.access(["account.move", "res.partner"])
        con.close()
    cols = {c.name: c for c in sample.metadata.columns}
    assert sample.source_rows == 3030 and got.num_rows == 5
    assert cols["status"].allowed_values == ("cancelled", "open", "overdue", "paid")
    assert cols["invoice_id"].unique and got.column("invoice_id")[0].as_py() == "INV0000001"
    readers = {g.grantee for g in inv.grants if g.object == "account.move" and not g.masked}
    assert "bob@example.com" in readers and "alice@example.com" not in readers
    assert all(g.row_filtered for g in inv.grants if g.object == "account.move")


def test_rpc_protocols_need_a_login(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfig, match="protocol xmlrpc needs `login`"):
        bind("erp", {"kind": "odoo", "url": "http://127.0.0.1:1", "database": "acme",
                     "api_key": SECRET}, tmp_path)
