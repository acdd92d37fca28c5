"""A local Salesforce REST API (connector-protocols §1, checklist §7) over HTTP or TLS.

Serves ``POST /services/oauth2/token`` (client_credentials, JWT bearer, refresh_token,
password), ``GET /services/data/`` and, under ``/services/data/vNN.N``: ``sobjects``,
``sobjects/<O>/describe``, ``limits``, ``query?q=`` and ``query/<locator>-<offset>`` (server-side
query locators, ``Sforce-Query-Options: batchSize`` clamped to 200–2000), every path with or
without a trailing slash. Data answers carry ``Sforce-Limit-Info: api-usage=N/M``; when
``api_used`` reaches ``api_max`` the answer is 403 ``REQUEST_LIMIT_EXCEEDED`` (``/limits``
stays readable and is not counted). Errors are JSON arrays ``[{"message","errorCode"}]``.

Besides the data tables the org holds ``User``, ``Profile`` and the ACL objects
(``PermissionSet``, ``ObjectPermissions``, ``FieldPermissions``, ``PermissionSetAssignment``,
``PermissionSetGroup``, ``PermissionSetGroupComponent``), queryable like any object; seed them
with :meth:`SalesforceApp.add_profile` / ``add_user`` / ``add_permission_set`` / ``assign`` /
``add_group``. Every data object gets an 18-character ``Id`` and an ``OwnerId`` → User.

Faithfulness limits: the SOQL subset is in :func:`parse_soql`; object and field permissions are
reported, not enforced; checkbox fields may hold null (Salesforce stores false).

Demo credentials (:func:`demo_app`): client credentials flow, client_id ``demo-client``,
client_secret ``demo-secret``.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import secrets
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as dt_time
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from fakeservers.core import FakeApp, Fault, FaultKind, json_response
from fakeservers.salesforce_soql import SoqlError, matches, parse_soql
from fakeservers.tables import FakeTable, from_file

_SF_TYPES = {"string": "string", "integer": "int", "float": "double", "boolean": "boolean",
             "date": "date", "datetime": "datetime"}
_VERSIONS = [("Summer '24", "61.0"), ("Winter '25", "62.0"), ("Summer '26", "67.0")]
_DATA = re.compile(r"^/services/data/v(?P<v>\d+\.\d)(?P<rest>(?:/.*)?)$")


_NOT_PERMISSIONABLE = ("Id", "Name", "OwnerId", "CreatedDate", "CreatedById", "LastModifiedDate",
                       "LastModifiedById", "SystemModstamp", "IsDeleted")


def sf_field(name: str, sf_type: str, *, label: str | None = None, nillable: bool = True,
             unique: bool = False, createable: bool = True, length: int | None = None,
             picklist: Sequence[str] = (), restricted: bool = False,
             reference_to: str | None = None, relationship: str | None = None,
             external_id: bool = False) -> dict[str, Any]:
    """A describe field entry with the keys §1.4 lists (constructed, not pasted)."""
    text = sf_type in ("string", "picklist", "textarea", "email", "phone", "url", "id",
                       "reference")
    return {
        "name": name, "label": label or name, "type": sf_type, "length": length or
        (255 if text and sf_type not in ("id", "reference") else 18 if text else 0),
        "precision": 18 if sf_type == "double" else 0, "scale": 0, "digits": 0,
        "nillable": nillable, "unique": unique, "externalId": external_id,
        "idLookup": sf_type == "id" or external_id, "custom": name.endswith("__c"),
        "calculated": False, "createable": createable, "updateable": createable,
        "filterable": True, "sortable": True, "defaultValue": None,
        "defaultedOnCreate": sf_type == "boolean", "restrictedPicklist": restricted,
        "referenceTo": [reference_to] if reference_to else [], "relationshipName": relationship,
        # field-level security governs every field but the id, audit fields and the
        # universally required ones
        "permissionable": nillable and name not in _NOT_PERMISSIONABLE,
        "picklistValues": [{"active": True, "defaultValue": False, "label": v, "value": v,
                            "validFor": None} for v in picklist],
    }


@dataclass
class SObject:
    """One object of the fake org: describe fields and rows (plain Python values by field)."""

    name: str
    prefix: str
    fields: list[dict[str, Any]]
    rows: list[dict[str, Any]] = field(default_factory=list)
    label: str | None = None
    queryable: bool = True

    def field(self, name: str) -> dict[str, Any] | None:
        return next((f for f in self.fields if f["name"].lower() == name.lower()), None)

    def relation(self, name: str) -> dict[str, Any] | None:
        return next((f for f in self.fields
                     if (f["relationshipName"] or "").lower() == name.lower()), None)

    def by_id(self, rid: Any) -> dict[str, Any] | None:
        return next((r for r in self.rows if r["Id"] == rid), None)


def _ref(name: str, target: str, rel: str, nillable: bool = True) -> dict[str, Any]:
    return sf_field(name, "reference", reference_to=target, relationship=rel, nillable=nillable)


def _bools(*names: str) -> list[dict[str, Any]]:
    return [sf_field(n, "boolean", nillable=False) for n in names]


_ID = sf_field("Id", "id", nillable=False, createable=False, label="Record ID")
_ACL_OBJECTS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "Profile": ("00e", [_ID, sf_field("Name", "string", nillable=False)]),
    "User": ("005", [_ID, sf_field("Username", "email", nillable=False, unique=True),
                     sf_field("Name", "string"), sf_field("Email", "email"),
                     *_bools("IsActive"), _ref("ProfileId", "Profile", "Profile", False)]),
    "PermissionSet": ("0PS", [_ID, sf_field("Name", "string", nillable=False),
                              sf_field("Label", "string", nillable=False),
                              _ref("ProfileId", "Profile", "Profile"),
                              sf_field("Type", "picklist"),
                              *_bools("IsOwnedByProfile", "PermissionsViewAllData",
                                      "PermissionsModifyAllData")]),
    "ObjectPermissions": ("110", [_ID, _ref("ParentId", "PermissionSet", "Parent", False),
                                  sf_field("SobjectType", "picklist", nillable=False),
                                  *_bools("PermissionsRead", "PermissionsCreate",
                                          "PermissionsEdit", "PermissionsDelete",
                                          "PermissionsViewAllRecords",
                                          "PermissionsModifyAllRecords")]),
    "FieldPermissions": ("01k", [_ID, _ref("ParentId", "PermissionSet", "Parent", False),
                                 sf_field("SobjectType", "picklist", nillable=False),
                                 sf_field("Field", "string", nillable=False),
                                 *_bools("PermissionsRead", "PermissionsEdit")]),
    "PermissionSetGroup": ("0PG", [_ID, sf_field("DeveloperName", "string", nillable=False),
                                   sf_field("MasterLabel", "string", nillable=False)]),
    "PermissionSetGroupComponent": ("0PC", [
        _ID, _ref("PermissionSetGroupId", "PermissionSetGroup", "PermissionSetGroup", False),
        _ref("PermissionSetId", "PermissionSet", "PermissionSet", False)]),
    "PermissionSetAssignment": ("0Pa", [
        _ID, _ref("AssigneeId", "User", "Assignee", False),
        _ref("PermissionSetId", "PermissionSet", "PermissionSet", False),
        _ref("PermissionSetGroupId", "PermissionSetGroup", "PermissionSetGroup"),
        *_bools("IsActive"), sf_field("ExpirationDate", "date")]),
}
_PREFIXES = {"Account": "001", "Contact": "003", "Opportunity": "006"}


class SalesforceApp(FakeApp):
    """The fake org. ``clients`` maps consumer key → secret; ``tables`` object name → table."""

    def __init__(self, tables: Mapping[str, FakeTable] | Iterable[FakeTable] = (), *,
                 clients: Mapping[str, str] | None = None, api_max: int = 15_000,
                 instance_url: str | None = None,
                 run_as: str = "integration@example.com") -> None:
        super().__init__()
        self.clients = dict(clients or {"test-client": "test-secret"})
        #: client_id → PEM public key for the JWT bearer flow.
        self.jwt_keys: dict[str, bytes] = {}
        #: refresh token → username; username → password + security token.
        self.refresh_tokens: dict[str, str] = {}
        self.passwords: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        self.api_max, self.api_used = api_max, 0
        self.instance_url = instance_url
        self.objects: dict[str, SObject] = {n: SObject(n, p, f) for n, (p, f)
                                            in _ACL_OBJECTS.items()}
        self.objects["ActivityHistory"] = SObject("ActivityHistory", "0Ek", [_ID],
                                                  queryable=False)
        self._seq = itertools.count(1)
        #: permission set id → objects whose every governed field it reads (None: all data
        #: objects): admins tick "visible" for all fields of the objects a profile reads.
        self._all_fields: dict[str, set[str] | None] = {}
        self._locators: dict[str, tuple[list[dict[str, Any]], int]] = {}
        self.add_profile("Minimum Access - Salesforce")
        self.run_as = run_as
        self.add_user(run_as, profile="Minimum Access - Salesforce")
        items = tables.items() if isinstance(tables, Mapping) else ((t.name, t) for t in tables)
        for name, table in items:
            self.add_table(table, name=name)

    # -- seeding ------------------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        return f"{prefix}FAKE{next(self._seq):08d}AAA"

    def insert(self, obj: str, **values: Any) -> str:
        sobj = self.objects[obj]
        row = {"Id": self.new_id(sobj.prefix), **values}
        sobj.rows.append(row)
        return row["Id"]

    def add_table(self, table: FakeTable, *, name: str | None = None) -> SObject:
        """Serve ``table``: Id + OwnerId + its fields; options become restricted picklists."""
        name = name or table.name
        fields = [_ID, _ref("OwnerId", "User", "Owner", False)]
        for f in table.fields:
            kind = "picklist" if f.options else _SF_TYPES[f.type]
            fields.append(sf_field(
                f.name, kind, label=f.label, nillable=not f.required and f.name != table.key,
                unique=f.unique or f.name == table.key, length=f.max_length,
                picklist=f.options or (), restricted=bool(f.options),
                external_id=f.name == table.key))
        prefix = _PREFIXES.get(name, f"a{len(self.objects):02d}")
        sobj = SObject(name, prefix, fields, label=table.label or name)
        self.objects[name] = sobj
        for psid, objs in self._all_fields.items():
            if objs is None or name in objs:
                self._field_permissions(psid, name, None)
        owners = [u["Id"] for u in self.objects["User"].rows if u["IsActive"]]
        for i, row in enumerate(table.rows):
            sobj.rows.append({"Id": self.new_id(prefix), "OwnerId": owners[i % len(owners)],
                              **row})
        return sobj

    def add_profile(self, name: str, *, view_all: bool = False, read: Iterable[str] = (),
                    fields: Mapping[str, Iterable[str]] | None = None) -> str:
        """A Profile and the permission set it owns (where Salesforce keeps its permissions).

        ``fields=None``: field-level security Read on every governed field of the objects it
        reads (all objects with ``view_all``), now and for tables added later; a mapping
        grants exactly those fields."""
        pid = self.insert("Profile", Name=name)
        return self._perm_set(f"X{pid}", name, view_all, read, fields, profile=pid)

    def add_permission_set(self, label: str, *, read: Iterable[str] = (),
                           fields: Mapping[str, Iterable[str]] | None = None,
                           view_all: bool = False) -> str:
        return self._perm_set(re.sub(r"\W", "_", label), label, view_all, read, fields)

    def add_user(self, username: str, *, profile: str, active: bool = True) -> str:
        """A user with the profile's assignment (Salesforce lists that one too)."""
        prof = next(r for r in self.objects["Profile"].rows if r["Name"] == profile)
        uid = self.insert("User", Username=username, Name=username.split("@")[0],
                          Email=username, IsActive=active, ProfileId=prof["Id"])
        pset = next(r for r in self.objects["PermissionSet"].rows
                    if r["ProfileId"] == prof["Id"])
        self._assign(uid, pset["Id"], None, True, None)
        return uid

    def assign(self, username: str, label: str, *, active: bool = True,
               expires: date | None = None) -> str:
        pset = next(r for r in self.objects["PermissionSet"].rows if r["Label"] == label)
        return self._assign(self._user(username), pset["Id"], None, active, expires)

    def add_group(self, name: str, sets: Iterable[str]) -> str:
        gid = self.insert("PermissionSetGroup", DeveloperName=name, MasterLabel=name)
        # The group's aggregate set: what PermissionSetAssignment.PermissionSetId points at.
        self.insert("PermissionSet", Name=name, Label=name, ProfileId=None, Type="Group",
                    IsOwnedByProfile=False, PermissionsViewAllData=False,
                    PermissionsModifyAllData=False)
        for label in sets:
            pset = next(r for r in self.objects["PermissionSet"].rows if r["Label"] == label)
            self.insert("PermissionSetGroupComponent", PermissionSetGroupId=gid,
                        PermissionSetId=pset["Id"])
        return gid

    def assign_group(self, username: str, group: str) -> str:
        grp = next(r for r in self.objects["PermissionSetGroup"].rows
                   if r["DeveloperName"] == group)
        agg = next(r for r in self.objects["PermissionSet"].rows
                   if r["Type"] == "Group" and r["Name"] == group)
        return self._assign(self._user(username), agg["Id"], grp["Id"], True, None)

    def issue_token(self, username: str | None = None) -> str:
        token = f"00DFAKE0000001!AQ{secrets.token_urlsafe(24)}"
        self.tokens[token] = username or self.run_as
        return token

    def expire_tokens(self) -> None:
        """Every issued token becomes invalid (the next data call gets INVALID_SESSION_ID)."""
        self.tokens.clear()

    def _user(self, username: str) -> str:
        return next(r["Id"] for r in self.objects["User"].rows if r["Username"] == username)

    def _assign(self, uid: str, psid: str, gid: str | None, active: bool,
                expires: date | None) -> str:
        return self.insert("PermissionSetAssignment", AssigneeId=uid, PermissionSetId=psid,
                           PermissionSetGroupId=gid, IsActive=active, ExpirationDate=expires)

    def _perm_set(self, name: str, label: str, view_all: bool, read: Iterable[str],
                  fields: Mapping[str, Iterable[str]] | None, profile: str | None = None) -> str:
        read = tuple(read)
        psid = self.insert("PermissionSet", Name=name, Label=label, ProfileId=profile,
                           Type="Profile" if profile else "Regular",
                           IsOwnedByProfile=profile is not None, PermissionsViewAllData=view_all,
                           PermissionsModifyAllData=view_all)
        for obj in read:
            self.insert("ObjectPermissions", ParentId=psid, SobjectType=obj,
                        PermissionsRead=True, PermissionsCreate=False, PermissionsEdit=False,
                        PermissionsDelete=False, PermissionsViewAllRecords=False,
                        PermissionsModifyAllRecords=False)
        if fields is None:  # every governed field of what it reads (View All Data: everything)
            self._all_fields[psid] = None if view_all else set(read)
            for obj in list(self.objects):
                if self.objects[obj].queryable and obj not in _ACL_OBJECTS and \
                        (view_all or obj in read):
                    self._field_permissions(psid, obj, None)
        for obj, names in (fields or {}).items():
            self._field_permissions(psid, obj, names)
        return psid

    def _field_permissions(self, psid: str, obj: str, names: Iterable[str] | None) -> None:
        """FieldPermissions rows (Read) for ``names``, or for every permissionable field."""
        if names is None:
            names = [f["name"] for f in self.objects[obj].fields if f.get("permissionable")]
        for fname in names:
            self.insert("FieldPermissions", ParentId=psid, SobjectType=obj,
                        Field=f"{obj}.{fname}", PermissionsRead=True, PermissionsEdit=False)

    # -- protocol -----------------------------------------------------------------------------

    def handle(self, request: Request, fault: Fault | None) -> Response:
        path = request.path.rstrip("/") or "/"
        if path == "/services/oauth2/token" and request.method == "POST":
            return self._token(request)
        if path == "/services/data":
            return json_response([{"label": lbl, "url": f"/services/data/v{v}", "version": v}
                                  for lbl, v in _VERSIONS])
        m = _DATA.match(path)
        if m is None or request.method != "GET":
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        if self._bearer(request) not in self.tokens:
            return _error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        base, rest = f"/services/data/v{m['v']}", m["rest"]
        if rest == "/limits":
            return self._limited(json_response({
                "DailyApiRequests": {"Max": self.api_max,
                                     "Remaining": max(0, self.api_max - self.api_used)},
                "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000}}))
        if self.api_used >= self.api_max:
            return self._limited(_error(403, "REQUEST_LIMIT_EXCEEDED",
                                        "TotalRequests Limit exceeded."))
        self.api_used += 1
        return self._limited(self._data(request, base, rest, fault))

    def _data(self, request: Request, base: str, rest: str, fault: Fault | None) -> Response:
        if rest == "":
            return json_response({k: f"{base}/{k}" for k in ("sobjects", "query", "limits")})
        if rest == "/sobjects":
            return json_response({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [
                {"name": o.name, "label": o.label or o.name, "keyPrefix": o.prefix,
                 "custom": o.name.endswith("__c"), "queryable": o.queryable,
                 "retrieveable": o.queryable, "createable": True, "updateable": True,
                 "deletable": True, "searchable": True,
                 "urls": {"describe": f"{base}/sobjects/{o.name}/describe"}}
                for o in self.objects.values()]})
        m = re.fullmatch(r"/sobjects/(\w+)/describe", rest)
        if m:
            obj = self._object(m.group(1))
            if obj is None:
                return _error(404, "NOT_FOUND", "The requested resource does not exist")
            return json_response({"name": obj.name, "label": obj.label or obj.name,
                                  "keyPrefix": obj.prefix, "custom": obj.name.endswith("__c"),
                                  "queryable": obj.queryable, "fields": obj.fields})
        if rest == "/query":
            return self._query(request, base)
        m = re.fullmatch(r"/query/(\w+)-(\d+)", rest)
        if m:
            if m.group(1) not in self._locators:
                return _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            repeat = fault is not None and fault.kind == "repeat_cursor"
            return self._page(base, m.group(1), int(m.group(2)), repeat)
        return _error(404, "NOT_FOUND", "The requested resource does not exist")

    def _query(self, request: Request, base: str) -> Response:
        try:
            q = parse_soql(request.args.get("q", ""))
        except SoqlError as exc:
            return _error(400, "MALFORMED_QUERY", str(exc))
        obj = self._object(q.object)
        if obj is None or not obj.queryable:
            return _error(400, "INVALID_TYPE", f"sObject type '{q.object}' is not supported. If "
                          "you are attempting to use a custom object, be sure to append the "
                          "'__c' after the entity name.")
        try:
            paths = [self._path(obj, f) for f in q.fields]
            where = [(self._path(obj, c.field), c) for c in q.where]
            order = self._path(obj, q.order_by) if q.order_by else None
        except KeyError as exc:
            return _error(400, "INVALID_FIELD", str(exc.args[0]))
        rows = [r for r in obj.rows
                if all(matches(self._value(obj, r, p), c.op, c.value) for p, c in where)]
        if order:
            rows.sort(key=lambda r: (self._value(obj, r, order) is not None,
                                     self._value(obj, r, order)), reverse=q.descending)
        rows = rows[: q.limit] if q.limit is not None else rows
        records = [self._render(base, obj, r, paths) for r in rows]
        match = re.search(r"batchSize=(\d+)", request.headers.get("Sforce-Query-Options", ""))
        batch = max(200, min(2000, int(match.group(1)))) if match else 2000
        locator = f"01gFAKE{len(self._locators) + 1:08d}AAA"
        self._locators[locator] = (records, batch)
        return self._page(base, locator, 0, False)

    def _page(self, base: str, locator: str, offset: int, repeat: bool) -> Response:
        records, batch = self._locators[locator]
        nxt = offset + batch
        body: dict[str, Any] = {"totalSize": len(records), "done": nxt >= len(records)}
        if not body["done"]:
            # repeat_cursor: hand back the cursor this very request used
            body["nextRecordsUrl"] = f"{base}/query/{locator}-{offset if repeat else nxt}"
        body["records"] = records[offset:nxt]
        return json_response(body)

    def _path(self, obj: SObject, dotted: str) -> tuple[str, ...]:
        """Canonical names of ``Owner.Username`` (KeyError with Salesforce's wording)."""
        parts, out, where = dotted.split("."), [], obj
        for rel in parts[:-1]:
            ref = where.relation(rel)
            if ref is None:
                raise KeyError(f"Didn't understand relationship '{rel}' in field path. If you "
                               f"are attempting to use a custom relationship, be sure to "
                               f"append the '__r' after the custom relationship name.")
            out.append(ref["relationshipName"])
            where = self.objects[ref["referenceTo"][0]]
        leaf = where.field(parts[-1])
        if leaf is None:
            raise KeyError(f"No such column '{parts[-1]}' on entity '{where.name}'. If you are "
                           "attempting to use a custom field, be sure to append the '__c' "
                           "after the custom field name. Please reference your WSDL or the "
                           "describe call for the appropriate names.")
        return (*out, leaf["name"])

    def _follow(self, obj: SObject, row: dict[str, Any], rel: str) -> tuple[SObject,
                                                                          dict[str, Any] | None]:
        ref = obj.relation(rel)
        assert ref is not None
        target = self.objects[ref["referenceTo"][0]]
        return target, target.by_id(row.get(ref["name"]))

    def _value(self, obj: SObject, row: dict[str, Any] | None, path: tuple[str, ...]) -> Any:
        for rel in path[:-1]:
            if row is None:
                return None
            obj, row = self._follow(obj, row, rel)
        return None if row is None else row.get(path[-1])

    def _render(self, base: str, obj: SObject, row: dict[str, Any],
                paths: list[tuple[str, ...]]) -> dict[str, Any]:
        rec: dict[str, Any] = {"attributes": {"type": obj.name,
                                              "url": f"{base}/sobjects/{obj.name}/{row['Id']}"}}
        for path in paths:
            cur, cur_obj, cur_row = rec, obj, row
            for rel in path[:-1]:
                cur_obj, cur_row = self._follow(cur_obj, cur_row, rel)
                if cur_row is None:
                    cur[rel] = None
                    break
                if cur.get(rel) is None:
                    cur[rel] = {"attributes": {"type": cur_obj.name, "url": f"{base}/sobjects/"
                                               f"{cur_obj.name}/{cur_row['Id']}"}}
                cur = cur[rel]
            else:
                cur[path[-1]] = _wire(cur_row.get(path[-1]))
        return rec

    def _object(self, name: str) -> SObject | None:
        return next((o for o in self.objects.values() if o.name.lower() == name.lower()), None)

    def _limited(self, resp: Response) -> Response:
        resp.headers["Sforce-Limit-Info"] = f"api-usage={self.api_used}/{self.api_max}"
        return resp

    @staticmethod
    def _bearer(request: Request) -> str:
        auth = request.headers.get("Authorization", "")
        return auth[7:] if auth.startswith("Bearer ") else ""

    # -- OAuth --------------------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        form = request.form
        grant = form.get("grant_type", "")
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
        extra: dict[str, Any] = {}
        if grant == "client_credentials":
            if client_id not in self.clients:
                return _oauth_error("invalid_client_id", "client identifier invalid")
            if secret != self.clients[client_id]:
                return _oauth_error("invalid_client", "invalid client credentials")
            user, extra = self.run_as, {"scope": "api", "signature": "ZmFrZQ=="}
        elif grant == "password":
            if client_id not in self.clients or secret != self.clients[client_id]:
                return _oauth_error("invalid_client", "invalid client credentials")
            user = form.get("username", "")
            if self.passwords.get(user) != form.get("password"):
                return _oauth_error("invalid_grant", "authentication failure")
            extra = {"signature": "ZmFrZQ=="}
        elif grant == "refresh_token":
            user = self.refresh_tokens.get(form.get("refresh_token", ""), "")
            if client_id not in self.clients or not user:
                return _oauth_error("invalid_grant", "expired access/refresh token")
            if secret is not None and secret != self.clients[client_id]:
                return _oauth_error("invalid_client", "invalid client credentials")
            extra = {"scope": "api refresh_token", "signature": "ZmFrZQ=="}
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            claims = self._jwt_claims(form.get("assertion", ""), request)
            if claims is None:
                return _oauth_error("invalid_grant", "invalid assertion")
            user, extra = claims["sub"], {"scope": "api"}
        else:
            return _oauth_error("unsupported_grant_type", "grant type not supported")
        if not any(u["Username"] == user and u["IsActive"]
                   for u in self.objects["User"].rows):
            return _oauth_error("invalid_grant", "user hasn't approved this consumer")
        host = self.instance_url or request.host_url.rstrip("/")
        return json_response({"access_token": self.issue_token(user), "instance_url": host,
                              "id": f"{host}/id/00DFAKE0000001AAA/{self._user(user)}",
                              "token_type": "Bearer",
                              "issued_at": str(int(time.time() * 1000)), **extra})

    def _jwt_claims(self, assertion: str, request: Request) -> dict[str, Any] | None:
        """Verified claims of an RS256 assertion (signature, iss, aud, exp ≤ now + 3 min)."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding

        try:
            head, body, sig = assertion.split(".")
            header, claims = (json.loads(_unb64(p)) for p in (head, body))
            key = serialization.load_pem_public_key(self.jwt_keys[claims["iss"]])
            key.verify(_unb64(sig), f"{head}.{body}".encode(),  # type: ignore[union-attr,call-arg]
                       padding.PKCS1v15(), hashes.SHA256())  # type: ignore[arg-type]
        except (ValueError, KeyError, InvalidSignature):
            return None
        audiences = {"https://login.salesforce.com", "https://test.salesforce.com",
                     request.host_url.rstrip("/")}
        now = time.time()
        if (header.get("alg") != "RS256" or claims.get("aud") not in audiences
                or not now < float(claims.get("exp", 0)) <= now + 300):
            return None
        return dict(claims)

    # -- faults -------------------------------------------------------------------------------

    def vendor_fault(self, kind: FaultKind, fault: Fault, request: Request) -> Response:
        if kind == "expired":
            self.tokens.pop(self._bearer(request), None)  # an expired session stays expired
            return _error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if kind == "quota":
            return self._limited(_error(403, "REQUEST_LIMIT_EXCEEDED",
                                        "TotalRequests Limit exceeded."))
        if kind == "denied":
            return _error(403, "API_DISABLED_FOR_ORG", "The REST API is not enabled for this "
                          "Organization.")
        if kind == "throttle":
            return _error(429, "REQUEST_LIMIT_EXCEEDED", "Too many requests; retry later.",
                          {"Retry-After": "1"})
        if kind == "unavailable":
            return _error(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable",
                          {"Retry-After": "1"})
        return _error(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include "
                      "this ErrorId if you contact support: 1234567-89 (-1)")


def _error(status: int, code: str, message: str,
           headers: dict[str, str] | None = None) -> Response:
    return json_response([{"message": message, "errorCode": code}], status, headers)


def _oauth_error(error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, 400)


def _wire(v: Any) -> Any:
    """Salesforce JSON: ISO dates, datetimes as ``2026-01-01T08:30:00.000+0000`` (UTC)."""
    if isinstance(v, datetime):
        v = v.astimezone(UTC) if v.tzinfo else v
        return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}+0000"
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, dt_time):
        return v.strftime("%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"
    return v


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


# -- demo ------------------------------------------------------------------------------------


def demo_app(sample_dir: Path) -> SalesforceApp:
    """The sample CRM as an org: Account, Contact, Opportunity, a small ACL.

    Credentials: client credentials flow, client_id ``demo-client``, client_secret
    ``demo-secret`` (runs as integration@example.com).
    """
    crm = sample_dir / "crm"
    accounts = from_file(crm / "accounts.csv", name="Account", key="account_id", options={
        "industry": ("Education", "Energy", "Financial Services", "Food & Beverage",
                     "Healthcare", "Logistics", "Manufacturing", "Media",
                     "Professional Services", "Retail", "Software", "Telecommunications"),
        "segment": ("SMB", "Mid-Market", "Enterprise"),
        "region": ("EMEA", "North America", "APAC", "LATAM"),
        "status": ("active", "churned", "test")}, required=("name",))
    with tempfile.TemporaryDirectory(prefix="sf-demo-") as tmp:
        # The export is latin-1; from_file (DuckDB) reads UTF-8 only.
        utf8 = Path(tmp) / "contacts.csv"
        utf8.write_text((crm / "contacts.csv").read_text(encoding="latin-1"), encoding="utf-8")
        contacts = from_file(utf8, name="Contact", key="contact_id", required=("last_name",))
    opportunities = from_file(crm / "opportunities.csv", name="Opportunity",
                              key="opportunity_id", required=("name", "stage"), options={
                                  "stage": ("Prospecting", "Qualification", "Proposal",
                                            "Negotiation", "Closed Won", "Closed Lost"),
                                  # Restricted after years of free text: the old values stay
                                  # (the audit reports them as a broken source contract).
                                  "currency": ("EUR", "USD", "GBP")})
    app = SalesforceApp(clients={"demo-client": "demo-secret"})
    app.add_profile("System Administrator", view_all=True)
    app.add_profile("Standard User", read=("Account", "Contact"))
    app.add_user("admin@example.com", profile="System Administrator")
    app.add_user("sales.rep@example.com", profile="Standard User")
    app.add_user("former.rep@example.com", profile="Standard User", active=False)
    app.add_user("ml_churn_svc@example.com", profile="Minimum Access - Salesforce")
    # Field-level security: the features and label of the churn model, not the contact data
    # (owner_email, country, region stay hidden from the service user).
    app.add_permission_set("Churn Model Integration", read=("Account",), fields={
        "Account": ("industry", "segment", "annual_revenue", "employee_count", "tenure_months",
                    "churned_90d", "status", "created_at", "updated_at")})
    app.assign("ml_churn_svc@example.com", "Churn Model Integration")
    for table in (accounts, contacts, opportunities):
        app.add_table(table)
    return app


