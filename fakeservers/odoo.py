"""A fake Odoo server: XML-RPC, JSON-RPC and JSON-2 over one in-memory ORM (spec §3).

What it reproduces, because the connector depends on it:

* ``/xmlrpc/2/common`` (``version``, ``authenticate`` → uid or ``False``) and
  ``/xmlrpc/2/object`` ``execute_kw`` marshalled with ``xmlrpc.client`` (no ``None`` on the wire),
  faults with HTTP 200 and integer codes: 1 other errors (traceback text; unknown model, bad
  domain), 2 user errors, 3 ``Access Denied`` (wrong uid/key), 4 ``AccessError`` (no
  ``ir.model.access`` row, or a field of a group the user lacks);
* ``/jsonrpc`` with the same services, errors in the ``error`` member with HTTP 200, HTTP 400
  for malformed JSON; JSON-2 ``POST /json/2/<model>/<method>`` (bearer API key, named
  arguments, 4xx/5xx ``{"name", "message", …}``) and ``GET /web/version`` — JSON-2 exists only
  when the fake plays Odoo ≥ 19, which also renames ``res.users.groups_id`` to ``group_ids``;
* ``search_read``/``search_count``/``search``/``read``/``fields_get``, ``res.users.context_get``;
  domains of ``=, !=, <, >, <=, >=, in, not in, ilike`` leaves with implicit AND and prefix
  ``&``/``|``/``!`` (anything else is fault 1); ``False`` for empty values (Odoo itself sends
  ``0`` for an empty integer — the spec's ``False`` is kept); many2one ``[id, name]``;
  ``active_test`` hiding archived records; fields with ``groups`` hidden from non-members;
* seeded ``res.users``, ``res.groups`` (``implied_ids``), ``ir.model``, ``ir.model.access``,
  ``ir.rule``, ``ir.model.fields``, ``ir.model.data``, ``ir.model.constraint``. Record rules are
  served for the inventory but not enforced.

Faults: ``expired`` = fault 3 / JSON-RPC ``AccessDenied`` / JSON-2 401 ``Invalid apikey``;
``denied`` = fault 4 / ``AccessError`` / 403; ``throttle``/``unavailable`` = HTTP 429/503 (what
Odoo.sh answers when its workers are busy); ``quota`` — Odoo has no API quota, so it is rendered
as HTTP 429 with ``Retry-After: 86400``, which the shared client turns into a quota stop.
``fault_target`` is ``<path>#<model>.<method>`` (``#common.authenticate`` for logins).

Demo (``demo_app``): database ``demo``, login ``auditor@example.com``, API key
``demo-odoo-key``; ``res.partner`` = ``erp/customers.xlsx``, ``account.move`` =
``erp/invoices.parquet``.
"""

from __future__ import annotations

import json
import xmlrpc.client
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from fakeservers.core import FakeApp, Fault, FaultKind, json_response
from fakeservers.odoo_domain import X2MANY, OdooError, matches
from fakeservers.tables import FakeTable, from_file

_SIGNATURES = {"search_read": ("domain", "fields", "offset", "limit", "order"),
               "search_count": ("domain", "limit"), "search": ("domain", "offset", "limit",
                                                               "order"),
               "read": ("ids", "fields"), "fields_get": ("allfields", "attributes")}
_HTML = {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


def f(type_: str, string: str, **kw: Any) -> dict[str, Any]:
    """A ``fields_get`` description (stored unless ``store=False``)."""
    return {"type": type_, "string": string, "required": False, "readonly": False,
            "store": True, **kw}


@dataclass
class OModel:
    name: str
    label: str
    fields: dict[str, dict[str, Any]]
    records: dict[int, dict[str, Any]] = field(default_factory=dict)

    def create(self, **values: Any) -> int:
        rid = max(self.records, default=0) + 1
        self.records[rid] = {"id": rid, **values}
        return rid


_META = {
    "res.users": ("User", {"login": f("char", "Login", required=True), "name": f("char", "Name"),
                           "active": f("boolean", "Active"), "share": f("boolean", "Share User")}),
    "res.groups": ("Access Groups", {
        "name": f("char", "Name", required=True), "full_name": f("char", "Group Name",
                                                                store=False),
        "implied_ids": f("many2many", "Inherits", relation="res.groups")}),
    "ir.model": ("Models", {"model": f("char", "Model", required=True),
                            "name": f("char", "Model Description")}),
    "ir.model.access": ("Model Access", {
        "name": f("char", "Name"), "model_id": f("many2one", "Model", relation="ir.model"),
        "group_id": f("many2one", "Group", relation="res.groups"),
        "perm_read": f("boolean", "Read Access"), "active": f("boolean", "Active")}),
    "ir.rule": ("Record Rule", {
        "name": f("char", "Name"), "model_id": f("many2one", "Model", relation="ir.model"),
        "groups": f("many2many", "Groups", relation="res.groups"),
        "domain_force": f("text", "Domain"), "global": f("boolean", "Global"),
        "perm_read": f("boolean", "Read"), "active": f("boolean", "Active")}),
    "ir.model.fields": ("Fields", {
        "model": f("char", "Model Name"), "name": f("char", "Field Name"),
        "ttype": f("char", "Field Type"), "field_description": f("char", "Field Label"),
        "groups": f("many2many", "Groups", relation="res.groups")}),
    "ir.model.data": ("Model Data", {"module": f("char", "Module"), "name": f("char", "Name"),
                                     "model": f("char", "Model"), "res_id": f("integer", "ID")}),
    "ir.model.constraint": ("Model Constraint", {
        "name": f("char", "Constraint"), "definition": f("char", "Definition"),
        "model": f("many2one", "Model", relation="ir.model"),
        "type": f("selection", "Type", selection=[["f", "Foreign Key"], ["u", "Constraint"]])}),
}
_FIELD_TYPES = {"string": "char", "integer": "integer", "float": "float", "boolean": "boolean",
                "date": "date", "datetime": "datetime"}


class OdooApp(FakeApp):
    """One Odoo database; ``version`` ≥ 19 serves JSON-2 and the renamed group fields."""

    def __init__(self, database: str = "acme", version: int = 17) -> None:
        super().__init__()
        self.database, self.version = database, version
        self.groups_field = "group_ids" if version >= 19 else "groups_id"
        self.models: dict[str, OModel] = {}
        self.keys: dict[int, str] = {}
        self._dirty = True
        for name, (label, fields) in _META.items():
            self.add_model(name, label, {k: dict(v) for k, v in fields.items()})
        for name in ("res.users", "res.groups"):  # created before ir.model existed
            self.models["ir.model"].create(model=name, name=_META[name][0])
        users = self.models["res.users"].fields
        users[self.groups_field] = f("many2many", "Groups", relation="res.groups")
        if version >= 19:
            users["all_group_ids"] = f("many2many", "All Groups", relation="res.groups",
                                       store=False)
        user = self.add_group("base.group_user", "User types", "Internal User")
        self.add_group("base.group_portal", "User types", "Portal")
        self.add_group("base.group_public", "User types", "Public")
        self.add_group("base.group_erp_manager", "Administration", "Access Rights", [user])
        self.add_group("base.group_system", "Administration", "Settings",
                       ["base.group_erp_manager"])
        self.add_user("__system__", None, ["base.group_system"], name="OdooBot", active=False)
        self.add_user("admin", "admin-password", ["base.group_system"], name="Administrator")
        for model in _META:
            if model not in ("ir.model", "res.users", "res.groups"):
                self.add_access(model, "base.group_system")
        for model in ("ir.model", "res.users", "res.groups"):
            self.add_access(model, "base.group_user")

    # -- seeding --------------------------------------------------------------------------------

    def add_model(self, name: str, label: str, fields: dict[str, dict[str, Any]]) -> OModel:
        fields = {"id": f("integer", "ID", readonly=True), **fields,
                  "display_name": f("char", "Display Name", readonly=True, store=False)}
        m = self.models[name] = OModel(name, label, fields)
        self._dirty = True
        if "ir.model" in self.models:
            self.models["ir.model"].create(model=name, name=label)
        return m

    def add_table(self, name: str, table: FakeTable, readers: tuple[str | None, ...] =
                  ("base.group_user",), field_groups: dict[str, str] | None = None) -> OModel:
        """Serve a FakeTable as model ``name``: selections for options, a unique constraint
        for unique fields, ``write_uid``/``write_date`` like every Odoo model."""
        fields: dict[str, dict[str, Any]] = {}
        groups = field_groups or {}
        for ff in table.fields:
            kw: dict[str, Any] = {"required": ff.required}
            ftype = _FIELD_TYPES[ff.type]
            if ff.options:
                ftype, kw["selection"] = "selection", [[o, o.title()] for o in ff.options]
            elif ftype == "char" and ff.max_length:
                kw["size"] = ff.max_length
            if ff.name in groups:
                kw["groups"] = groups[ff.name]
            fields[ff.name] = f(ftype, ff.label or ff.name.replace("_", " ").title(), **kw)
        fields["write_uid"] = f("many2one", "Last Updated by", relation="res.users",
                                readonly=True)
        fields["write_date"] = f("datetime", "Last Updated on", readonly=True)
        m = self.add_model(name, table.label or name, fields)
        for row in table.rows:
            m.create(**row, write_uid=2, write_date=datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
        model_id = self._model_id(name)
        for ff in table.fields:
            if ff.unique:
                self.models["ir.model.constraint"].create(
                    name=f"{name.replace('.', '_')}_{ff.name}_uniq", model=model_id,
                    definition=f"unique({ff.name})", type="u")
        for group in readers:
            self.add_access(name, group)
        return m

    def add_group(self, xmlid: str, category: str, name: str,
                  implied: Sequence[str | int] = ()) -> int:
        ids = [i if isinstance(i, int) else self.ref(i) for i in implied]
        gid = self.models["res.groups"].create(name=name, full_name=f"{category} / {name}",
                                               implied_ids=ids)
        module, _, key = xmlid.partition(".")
        self.models["ir.model.data"].create(module=module, name=key, model="res.groups",
                                            res_id=gid)
        return gid

    def add_user(self, login: str, key: str | None, groups: list[str], *, name: str | None = None,
                 active: bool = True, share: bool = False) -> int:
        uid = self.models["res.users"].create(login=login, name=name or login, active=active,
                                              share=share,
                                              **{self.groups_field: [self.ref(g) for g in groups]})
        if key:
            self.keys[uid] = key
        return uid

    def add_access(self, model: str, group: str | None, name: str | None = None,
                   perm_read: bool = True, active: bool = True) -> int:
        return self.models["ir.model.access"].create(
            name=name or f"access_{model.replace('.', '_')}_{(group or 'all').split('.')[-1]}",
            model_id=self._model_id(model), group_id=self.ref(group) if group else None,
            perm_read=perm_read, active=active)

    def add_rule(self, model: str, name: str, domain_force: str,
                 groups: tuple[str, ...] = ()) -> int:
        return self.models["ir.rule"].create(
            name=name, model_id=self._model_id(model), groups=[self.ref(g) for g in groups],
            domain_force=domain_force, perm_read=True, active=True,
            **{"global": not groups})

    def ref(self, xmlid: str) -> int:
        module, _, name = xmlid.partition(".")
        return next(r["res_id"] for r in self.models["ir.model.data"].records.values()
                    if r["module"] == module and r["name"] == name)

    def _model_id(self, model: str) -> int:
        return next(r["id"] for r in self.models["ir.model"].records.values()
                    if r["model"] == model)

    def _field_records(self) -> None:
        """ir.model.fields mirrors every model's fields (with their groups)."""
        with self._lock:
            if not self._dirty:
                return
            self._dirty = False
            imf = self.models["ir.model.fields"]
            imf.records.clear()
            for m in list(self.models.values()):
                for name, desc in m.fields.items():
                    groups = [self.ref(g) for g in desc.get("groups", "").split(",") if g]
                    imf.create(model=m.name, name=name, ttype=desc["type"], groups=groups,
                               field_description=desc["string"])

    # -- the ORM --------------------------------------------------------------------------------

    def closure(self, uid: int) -> set[int]:
        groups = self.models["res.groups"].records
        todo = list(self.models["res.users"].records[uid].get(self.groups_field) or [])
        seen: set[int] = set()
        while todo:
            g = todo.pop()
            if g not in seen:
                seen.add(g)
                todo.extend(groups[g].get("implied_ids") or [])
        return seen

    def _visible(self, uid: int, m: OModel) -> dict[str, dict[str, Any]]:
        """Fields the user may see: those without groups, or of a group the user holds."""
        held = self.closure(uid)
        return {k: v for k, v in m.fields.items()
                if uid == 1 or not v.get("groups")
                or any(self.ref(g) in held for g in v["groups"].split(","))}

    def _check_read(self, uid: int, m: OModel) -> None:
        if uid == 1:
            return
        held, mid = self.closure(uid), self._model_id(m.name)
        rows = [r for r in self.models["ir.model.access"].records.values()
                if r["model_id"] == mid and r["perm_read"] and r["active"]]
        if any(r["group_id"] is None or r["group_id"] in held for r in rows):
            return
        allowed = "".join(f"\n\t- {self._display('res.groups', r['group_id'])}" for r in rows)
        raise OdooError("access", f"You are not allowed to access '{m.label}' ({m.name}) "
                        f"records.\n\nThis operation is allowed for the following groups:"
                        f"{allowed}")

    def value(self, m: OModel, rec: dict[str, Any], name: str) -> Any:
        if name == "display_name":
            return self._display(m.name, rec["id"])
        if name == "all_group_ids":
            return sorted(self.closure(rec["id"]))
        return rec.get(name)

    def _display(self, model: str, rid: int) -> str:
        rec = self.models[model].records.get(rid, {})
        return str(rec.get("full_name") or rec.get("name") or rec.get("login") or
                   f"{model},{rid}")

    def wire(self, m: OModel, rec: dict[str, Any], name: str) -> Any:
        """Odoo's encoding: False for empty, [id, name] for many2one, strings for dates."""
        ftype, value = m.fields[name]["type"], self.value(m, rec, name)
        if ftype == "boolean":
            return bool(value)
        if ftype in X2MANY:
            return list(value or [])
        if value is None:
            return False
        if ftype == "many2one":
            return [value, self._display(m.fields[name]["relation"], value)]
        if ftype == "datetime" and isinstance(value, datetime):
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(value, date):
            return value.isoformat()
        return value

    def match(self, m: OModel, rec: dict[str, Any], domain: list[Any]) -> bool:
        def read(name: str) -> Any:  # many2one/x2many compare by ids, the rest as on the wire
            return self.value(m, rec, name) if m.fields[name]["type"] in ("many2one",
                                                                          *X2MANY) \
                else self.wire(m, rec, name)
        return matches(domain, m.fields, read, m.name)

    def search(self, m: OModel, domain: list[Any], context: dict[str, Any],
               order: str | None = None) -> list[dict[str, Any]]:
        if not isinstance(domain, list):
            raise OdooError("app", f"Invalid domain {domain!r}")
        if "active" in m.fields and context.get("active_test", True):
            domain = [["active", "=", True], *domain]
        rows = [r for r in m.records.values() if self.match(m, r, domain)]
        key, _, direction = (order or "id").strip().split(",")[0].partition(" ")
        if key not in m.fields:
            raise OdooError("app", f"Invalid field {key!r} in order {order!r}")
        rows.sort(key=lambda r: (self.wire(m, r, key) is False, str(self.wire(m, r, key)))
                  if key != "id" else r["id"], reverse=direction.strip().lower() == "desc")
        return rows

    def call(self, uid: int, model: str, method: str, args: list[Any], kw: dict[str, Any],
             repeat: bool = False) -> Any:
        m = self.models.get(model)
        if m is None:
            raise OdooError("missing", f"Object {model} doesn't exist")
        if model == "res.users" and method == "context_get":
            return {"lang": "en_US", "tz": "Europe/Brussels", "uid": uid}
        if method not in _SIGNATURES:
            raise OdooError("app", f"The method '{method}' does not exist on the model "
                            f"'{model}'", name="builtins.AttributeError")
        self._check_read(uid, m)
        p = {**dict(zip(_SIGNATURES[method], args, strict=False)), **kw}
        visible = self._visible(uid, m)
        if method == "fields_get":
            attrs = p.get("attributes")
            return {k: {a: v for a, v in d.items() if not attrs or a in attrs}
                    for k, d in visible.items()}
        context = p.get("context") or {}
        if method == "read":
            rows = [m.records[i] for i in p.get("ids") or [] if i in m.records]
        else:
            domain = list(p.get("domain") or [])
            if repeat:  # the server ignores the keyset cursor: the previous page again
                cut = next((t for t in domain if isinstance(t, list | tuple) and
                            list(t[:2]) == ["id", ">"]), None)
                domain = [t for t in domain if t is not cut]
                rows = self.search(m, domain, context, p.get("order"))
                if cut is not None:
                    rows = [r for r in rows if r["id"] <= cut[2]][-int(p.get("limit") or 80):]
            else:
                rows = self.search(m, domain, context, p.get("order"))
            if method == "search_count":
                return len(rows)
            offset = int(p.get("offset") or 0)
            rows = rows[offset: offset + p["limit"] if p.get("limit") else None]
            if method == "search":
                return [r["id"] for r in rows]
        names = list(p.get("fields") or [k for k, d in visible.items() if d["store"]])
        hidden = [n for n in names if n not in visible]
        if hidden:
            raise OdooError("access", "The requested operation can not be completed due to "
                            f"security restrictions. Fields {hidden} of {model} are restricted")
        return [{"id": r["id"], **{n: self.wire(m, r, n) for n in names if n != "id"}}
                for r in rows]

    # -- authentication -------------------------------------------------------------------------

    def authenticate(self, db: Any, login: Any, key: Any) -> int | bool:
        self._check_db(db)
        for uid, rec in self.models["res.users"].records.items():
            if rec["login"] == login and rec["active"] and self.keys.get(uid) == key:
                return uid
        return False

    def check_key(self, db: Any, uid: Any, key: Any) -> int:
        self._check_db(db)
        rec = self.models["res.users"].records.get(uid) if isinstance(uid, int) else None
        if rec is None or not rec["active"] or self.keys.get(uid) != key:
            raise OdooError("denied", "Access Denied")
        return uid

    def _check_db(self, db: Any) -> None:
        if db != self.database:
            raise OdooError("app", f'database "{db}" does not exist',
                            name="psycopg2.OperationalError")

    # -- wire -----------------------------------------------------------------------------------

    def fault_target(self, request: Request) -> str:
        path = request.path
        try:
            if path.startswith("/xmlrpc/2/"):
                params, method = xmlrpc.client.loads(request.get_data())
                if method == "execute_kw":
                    return f"{path}#{params[3]}.{params[4]}"
                return f"{path}#{path.rsplit('/', 1)[-1]}.{method}"
            if path == "/jsonrpc":
                p = json.loads(request.get_data())["params"]
                if p["method"] == "execute_kw":
                    return f"{path}#{p['args'][3]}.{p['args'][4]}"
                return f"{path}#{p['service']}.{p['method']}"
            if path.startswith("/json/2/"):
                parts = path.split("/")
                return f"{path}#{parts[3]}.{parts[4]}"
        except Exception:  # noqa: BLE001 - a garbled body is still a request to the path
            pass
        return path

    def handle(self, request: Request, fault: Fault | None) -> Response:
        self._field_records()
        repeat = fault is not None and fault.kind == "repeat_cursor"
        path = request.path
        if request.method == "POST" and path in ("/xmlrpc/2/common", "/xmlrpc/2/object"):
            return self._xmlrpc(request, path.rsplit("/", 1)[-1], repeat)
        if request.method == "POST" and path == "/jsonrpc":
            return self._jsonrpc(request, repeat)
        if request.method == "GET" and path == "/web/version":
            return json_response({"version_info": [self.version, 0, 0, "final", 0, ""],
                                  "version": f"{self.version}.0"})
        if request.method == "POST" and path.startswith("/json/2/") and self.version >= 19:
            return self._json2(request, repeat)
        return _html(404, "Not Found")

    def _dispatch(self, service: str, method: str, params: list[Any], repeat: bool) -> Any:
        if service == "common":
            if method == "version":
                return {"server_version": f"{self.version}.0", "server_serie":
                        f"{self.version}.0", "protocol_version": 1,
                        "server_version_info": [self.version, 0, 0, "final", 0, ""]}
            if method == "authenticate" and len(params) >= 3:
                return self.authenticate(*params[:3])
            raise OdooError("app", f"common.{method} is not supported by this fake")
        if method != "execute_kw" or len(params) < 6:
            raise OdooError("app", f"object.{method}: expected execute_kw(db, uid, key, "
                            "model, method, args, kwargs)")
        uid = self.check_key(*params[:3])
        return self.call(uid, params[3], params[4], list(params[5]),
                         dict(params[6]) if len(params) > 6 else {}, repeat)

    def _xmlrpc(self, request: Request, service: str, repeat: bool) -> Response:
        try:
            params, method = xmlrpc.client.loads(request.get_data())
            result = self._dispatch(service, method or "", list(params), repeat)
            body = xmlrpc.client.dumps((result,), methodresponse=True, allow_none=False)
        except OdooError as exc:
            body = xmlrpc.client.dumps(xmlrpc.client.Fault(exc.code, exc.fault_string()))
        except Exception as exc:  # noqa: BLE001 - Odoo answers any failure with fault 1
            body = xmlrpc.client.dumps(xmlrpc.client.Fault(1, f"Traceback (most recent call "
                                                              f"last):\n{exc!r}\n"))
        return Response(body, content_type="text/xml; charset=utf-8")

    def _jsonrpc(self, request: Request, repeat: bool) -> Response:
        try:
            payload = json.loads(request.get_data())
            params = payload["params"]
            assert isinstance(params, dict)
        except (ValueError, KeyError, TypeError, AssertionError):
            return json_response({"jsonrpc": "2.0", "id": None, "error": {
                "code": 400, "message": "Invalid JSON data", "data": {}}}, status=400)
        rid = payload.get("id")
        try:
            result = self._dispatch(params.get("service", ""), params.get("method", ""),
                                    list(params.get("args") or []), repeat)
        except OdooError as exc:
            return self._jsonrpc_error(rid, exc)
        return json_response({"jsonrpc": "2.0", "id": rid, "result": result})

    @staticmethod
    def _jsonrpc_error(rid: Any, exc: OdooError) -> Response:
        return json_response({"jsonrpc": "2.0", "id": rid, "error": {
            "code": 200, "message": "Odoo Server Error", "data": {
                "name": exc.name, "message": exc.message, "arguments": [exc.message],
                "context": {}, "debug": exc.fault_string()}}})

    def _json2(self, request: Request, repeat: bool) -> Response:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        uid = next((u for u, k in self.keys.items() if k == key.strip()), None)
        if scheme.lower() != "bearer" or uid is None or \
                not self.models["res.users"].records[uid]["active"]:
            return _json2_error(401, "werkzeug.exceptions.Unauthorized", "Invalid apikey")
        db = request.headers.get("X-Odoo-Database")
        if db is not None and db != self.database:
            return _json2_error(404, "werkzeug.exceptions.NotFound",
                                f"database {db!r} not found")
        try:
            body = json.loads(request.get_data() or b"{}")
            assert isinstance(body, dict)
        except (ValueError, AssertionError):
            return _json2_error(400, "werkzeug.exceptions.BadRequest", "Invalid JSON body")
        parts = request.path.split("/", 4)
        if len(parts) != 5:
            return _html(404, "Not Found")
        model, method = parts[3], parts[4]
        try:
            return json_response(self.call(uid, model, method, [], body, repeat))
        except OdooError as exc:
            return _json2_error(exc.status, exc.name, exc.message)

    def vendor_fault(self, kind: FaultKind, fault: Fault, request: Request) -> Response:
        if kind in ("expired", "denied"):
            exc = OdooError("denied", "Access Denied") if kind == "expired" else OdooError(
                "access", "You are not allowed to access these records.")
            if request.path.startswith("/json/2/"):
                msg = "Invalid apikey" if kind == "expired" else exc.message
                return _json2_error(exc.status, "werkzeug.exceptions.Unauthorized"
                                    if kind == "expired" else exc.name, msg)
            if request.path == "/jsonrpc":
                try:
                    rid = json.loads(request.get_data()).get("id")
                except ValueError:
                    rid = None
                return self._jsonrpc_error(rid, exc)
            body = xmlrpc.client.dumps(xmlrpc.client.Fault(exc.code, exc.fault_string()))
            return Response(body, content_type="text/xml; charset=utf-8")
        if kind == "quota":
            resp = _html(429, "Too Many Requests", "Request quota exhausted for this "
                         "database; retry after 86400 seconds.")
            resp.headers["Retry-After"] = "86400"
            return resp
        status = {"throttle": 429, "error500": 500, "unavailable": 503}.get(kind, 500)
        return _html(status, _HTML[status], "All workers are busy, please retry later."
                     if status in (429, 503) else "The server encountered an internal error.")


def _html(status: int, title: str, text: str = "") -> Response:
    return Response(f"<!doctype html><html><head><title>{status} {title}</title></head><body>"
                    f"<h1>{title}</h1><p>{text}</p></body></html>", status=status,
                    content_type="text/html; charset=utf-8")


def _json2_error(status: int, name: str, message: str) -> Response:
    return json_response({"name": name, "message": message, "arguments": [message, status],
                          "context": {}, "debug": ""}, status=status)


def security_seed(app: OdooApp) -> None:
    """Business groups and users beside the base ones: sales, billing, a portal user."""
    app.add_group("sales_team.group_sale_salesman", "Sales", "User: Own Documents Only",
                  ["base.group_user"])
    app.add_group("account.group_account_invoice", "Accounting", "Billing",
                  ["base.group_user"])
    app.add_user("alice@example.com", "alice-key", ["sales_team.group_sale_salesman"],
                 name="Alice Sales")
    app.add_user("bob@example.com", "bob-key", ["account.group_account_invoice"],
                 name="Bob Billing")
    app.add_user("portal@example.com", "portal-key", ["base.group_portal"],
                 name="Portal Customer", share=True)
    app.add_user("former@example.com", "former-key", ["account.group_account_invoice"],
                 name="Former Employee", active=False)


def demo_app(sample_dir: Path) -> FakeApp:
    """The ERP sample files as Odoo models (credentials in the module docstring)."""
    app = OdooApp(database="demo", version=17)
    security_seed(app)
    app.add_user("auditor@example.com", "demo-odoo-key",
                 ["base.group_system", "account.group_account_invoice"], name="Data Auditor")
    customers = from_file(sample_dir / "erp" / "customers.xlsx", name="res.partner",
                          key="customer_id", sheet="customers", required=("name",))
    invoices = from_file(sample_dir / "erp" / "invoices.parquet", name="account.move",
                         key="invoice_id", required=("customer_id", "amount", "status"),
                         options={"status": ("cancelled", "open", "overdue", "paid")})
    customers.label, invoices.label = "Contact", "Journal Entry"
    app.add_table("res.partner", customers, field_groups={"iban": "account.group_account_invoice"})
    app.add_table("account.move", invoices, readers=("account.group_account_invoice",))
    app.add_rule("account.move", "Journal Entry multi-company",
                 "[('company_id', 'in', company_ids)]")
    return app
