"""A HubSpot CRM v3 stand-in: objects, properties, schemas, OAuth token endpoint, rate limits.

What it reproduces (``shared/specs/connector-protocols.md`` §2 and §7):

* ``GET /crm/v3/objects/{type}`` — ``limit`` (default 10, above 100 → 400 VALIDATION_ERROR),
  opaque base64 ``after`` cursors, ``paging.next`` only when more rows follow, ``archived``
  (true = only archived), ``properties`` comma-separated **or** repeated (as the official SDK
  sends them), unknown property names ignored, a small default set when none are asked for.
  Every property value is a string or null; ids are strings. Standard types are addressed by
  name or id (``contacts``/``0-1``); custom objects by ``objectTypeId`` or fully qualified name.
* ``GET /crm/v3/properties/{type}`` (no paging) and ``GET /crm/v3/schemas`` (custom objects,
  with ``requiredProperties``).
* ``POST /oauth/v1/token`` with ``grant_type=refresh_token``; access tokens expire after
  ``token_ttl`` seconds (401 ``EXPIRED_AUTHENTICATION``). Error statuses other than
  ``BAD_REFRESH_TOKEN`` are unverified names.
* ``X-HubSpot-RateLimit-*`` headers on every response (the ``Daily`` pair only for private app
  tokens, as HubSpot omits it for OAuth apps) and the error bodies of §2.4/§2.5.

Demo (``python -m fakeservers``): :func:`demo_app` serves ``crm/support_tickets.jsonl`` as
``tickets`` and ``crm/contacts.csv`` as ``contacts``; private app token ``pat-na1-demo-token``.
"""

from __future__ import annotations

import base64
import itertools
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from fakeservers.core import FakeApp, Fault, FaultKind, json_response
from fakeservers.tables import FakeField, FakeTable, from_file

DEMO_TOKEN = "pat-na1-demo-token"
STANDARD = {"contacts": "0-1", "companies": "0-2", "deals": "0-3", "tickets": "0-5",
            "products": "0-7", "line_items": "0-8", "quotes": "0-14"}
PAGE_MAX = 100
BURST_MAX = 190
DAILY_MAX = 500_000
_EPOCH = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class OAuthApp:
    """The OAuth app the fake's token endpoint knows."""

    client_id: str
    client_secret: str
    refresh_token: str


@dataclass
class _Object:
    table: FakeTable
    type_id: str
    custom: bool
    fqn: str
    ids: list[str]

    @property
    def name(self) -> str:
        return self.table.name


class HubSpotApp(FakeApp):
    """Serves ``tables``: a table named like a standard type is that type; others are custom
    objects. ``table.extra`` may hold ``sensitivity`` ({property: level}), ``multi``
    (multi-select checkbox properties), ``default_properties`` and ``created``/``updated``
    (columns whose datetimes become ``createdAt``/``updatedAt``). A row with ``_archived: True``
    is archived."""

    def __init__(self, tables: Iterable[FakeTable], *, access_token: str | None = None,
                 oauth: OAuthApp | None = None, token_ttl: float = 1800,
                 portal_id: int = 4711, denied: Iterable[str] = (),
                 schemas_denied: bool = False) -> None:
        super().__init__()
        self.access_token = access_token
        self.oauth = oauth
        self.token_ttl = token_ttl
        self.portal_id = portal_id
        self.denied = set(denied)
        self.schemas_denied = schemas_denied
        self.clock = time.monotonic
        #: access token → monotonic expiry, for tokens this fake issued.
        self.issued: dict[str, float] = {}
        self._counter = itertools.count(1)
        given = {t.name: t for t in tables}
        self.objects: list[_Object] = []
        for name, type_id in STANDARD.items():
            table = given.pop(name, None) or FakeTable(name, [], [], key=ID)
            self.objects.append(_Object(table, type_id, False, name, _ids(table)))
        for n, table in enumerate(given.values()):
            self.objects.append(_Object(table, f"2-{9001 + n}", True,
                                        f"p{portal_id}_{table.name}", _ids(table)))

    # -- dispatch -----------------------------------------------------------------------------

    def handle(self, request: Request, fault: Fault | None) -> Response:
        path = request.path.rstrip("/")
        if path == "/oauth/v1/token" and request.method == "POST":
            return self._decorate(self._token(request), oauth=True)
        problem = self._authenticate(request)
        if problem is not None:
            return self._decorate(problem)
        parts = path.split("/")
        if path == "/crm/v3/schemas":
            resp = (self._missing_scopes("crm.schemas.custom.read") if self.schemas_denied
                    else json_response({"results": [self._schema(o) for o in self.objects
                                                    if o.custom]}))
        elif len(parts) == 5 and parts[1:4] in (["crm", "v3", "objects"],
                                                  ["crm", "v3", "properties"]):
            obj = self._object(parts[4])
            if obj is None:
                resp = _error(404, "OBJECT_NOT_FOUND",
                              f"Unable to infer object type from: {parts[4]}")
            elif obj.name in self.denied or obj.type_id in self.denied:
                scope = "custom" if obj.custom else obj.name
                resp = self._missing_scopes(f"crm.objects.{scope}.read")
            elif parts[3] == "properties":
                resp = json_response({"results": _properties(obj)})
            else:
                resp = self._list(request, obj, fault)
        else:
            resp = _error(404, "OBJECT_NOT_FOUND", f"No route for {request.method} {path}")
        return self._decorate(resp)

    def vendor_fault(self, kind: FaultKind, fault: Fault, request: Request) -> Response:
        if kind == "expired":
            resp = _unauthenticated()
        elif kind in ("quota", "throttle"):
            policy = "DAILY" if kind == "quota" else "TEN_SECONDLY_ROLLING"
            resp = json_response({"status": "error", "errorType": "RATE_LIMIT",
                                  "message": f"You have reached your {policy.lower()} limit.",
                                  "correlationId": str(uuid.uuid4()), "policyName": policy},
                                 status=429)
            resp = self._decorate(resp)
            header = "X-HubSpot-RateLimit-Daily-Remaining" if kind == "quota" else \
                "X-HubSpot-RateLimit-Remaining"
            resp.headers[header] = "0"
            return resp
        elif kind == "denied":
            resp = self._missing_scopes("crm.objects.custom.read")
        elif kind == "error500":
            resp = _error(500, "INTERNAL_ERROR", "internal error")
        else:  # unavailable: the edge answers in HTML, not HubSpot JSON
            resp = Response("<html><body><h1>503 Service Temporarily Unavailable</h1></body>"
                            "</html>", status=503, content_type="text/html")
        return self._decorate(resp)

    # -- endpoints ----------------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        form = request.form
        app = self.oauth
        checks = (("BAD_GRANT_TYPE", form.get("grant_type") == "refresh_token",
                   "grant_type must be refresh_token"),
                  ("BAD_CLIENT_ID", app is not None and form.get("client_id") == app.client_id,
                   "missing or unknown client id"),
                  ("BAD_CLIENT_SECRET", app is not None
                   and form.get("client_secret") == app.client_secret,
                   "missing or invalid client secret"),
                  ("BAD_REFRESH_TOKEN", app is not None
                   and form.get("refresh_token") == app.refresh_token,
                   "missing or invalid refresh token"))
        for status, ok, message in checks:
            if not ok:
                return json_response({"status": status, "message": message,
                                      "correlationId": str(uuid.uuid4())}, status=400)
        assert app is not None
        token = f"CO{next(self._counter)}-{uuid.uuid4().hex}"
        self.issued[token] = self.clock() + self.token_ttl
        return json_response({"token_type": "bearer", "refresh_token": app.refresh_token,
                              "access_token": token, "expires_in": int(self.token_ttl)})

    def _authenticate(self, request: Request) -> Response | None:
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else None
        if token is not None and token == self.access_token:
            return None
        if token is not None and token in self.issued:
            late = self.clock() - self.issued[token]
            if late < 0:
                return None
            resp = _error(401, "EXPIRED_AUTHENTICATION", "The OAuth token used to make this "
                          f"call expired {int(late)} second(s) ago.")
            resp.headers["X-HubSpot-Auth-Failure"] = "401 Unauthorized"
            return resp
        return _unauthenticated()

    def _list(self, request: Request, obj: _Object, fault: Fault | None) -> Response:
        args = request.args
        try:
            limit = int(args.get("limit", "10"))
        except ValueError:
            return _validation("limit", "limit must be an integer")
        if not 1 <= limit <= PAGE_MAX:
            return _validation("limit", f"limit must be between 1 and {PAGE_MAX}, got {limit}")
        archived = args.get("archived", "false").lower() == "true"
        after = args.get("after")
        offset = 0
        if after is not None:
            offset = _decode_cursor(after)
            if offset is None:
                return _validation("after", f"Invalid paging cursor: {after}")
        asked = [p.strip() for v in args.getlist("properties") for p in v.split(",")]
        asked = [p for p in asked if p]
        known = {p["name"] for p in _properties(obj)}
        names = [p for p in asked if p in known] if asked else _defaults(obj)
        rows = [(i, r) for i, r in enumerate(obj.table.rows)
                if bool(r.get("_archived")) == archived]
        chunk = rows[offset: offset + limit]
        body: dict[str, Any] = {"results": [self._record(obj, i, r, names) for i, r in chunk]}
        if offset + limit < len(rows):
            nxt = _encode_cursor(offset + limit)
            if fault is not None and fault.kind == "repeat_cursor" and after is not None:
                nxt = after
            body["paging"] = {"next": {"after": nxt, "link": f"?after={nxt}"}}
        return json_response(body)

    def _record(self, obj: _Object, i: int, row: dict[str, Any],
                names: Sequence[str]) -> dict[str, Any]:
        created, updated = _stamps(obj.table, i, row)
        system = {ID: obj.ids[i], _created_name(obj): _wire(created),
                  "hs_lastmodifieddate": _wire(updated)}
        props = {n: system[n] if n in system else _wire(row.get(n)) for n in names}
        rec: dict[str, Any] = {"id": obj.ids[i], "properties": props,
                               "createdAt": _wire(created), "updatedAt": _wire(updated),
                               "archived": bool(row.get("_archived"))}
        if row.get("_archived"):
            rec["archivedAt"] = _wire(updated)
        return rec

    # -- pieces -------------------------------------------------------------------------------

    def _object(self, ref: str) -> _Object | None:
        for o in self.objects:
            if ref in (o.type_id, o.fqn) or (not o.custom and ref == o.name):
                return o
        return None

    def _schema(self, obj: _Object) -> dict[str, Any]:
        t = obj.table
        return {"id": obj.type_id.split("-")[1], "name": t.name, "objectTypeId": obj.type_id,
                "fullyQualifiedName": obj.fqn, "metaType": "PORTAL_SPECIFIC",
                "labels": {"singular": t.label or t.name, "plural": t.label or t.name},
                "primaryDisplayProperty": t.key,
                "requiredProperties": [f.name for f in t.fields if f.required],
                "searchableProperties": [t.key], "secondaryDisplayProperties": [],
                "properties": _properties(obj), "associations": [], "archived": False,
                "createdAt": _wire(_EPOCH), "updatedAt": _wire(_EPOCH)}

    def _missing_scopes(self, scope: str) -> Response:
        return json_response({
            "status": "error", "message": "This app hasn't been granted all required scopes to "
            "make this call. Read more about required scopes here: "
            "https://developers.hubspot.com/scopes.",
            "correlationId": str(uuid.uuid4()),
            "errors": [{"message": "One or more of the following scopes are required.",
                        "context": {"requiredScopes": [scope]}}],
            "links": {"scopes": "https://developers.hubspot.com/scopes"},
            "category": "MISSING_SCOPES"}, status=403)

    def _decorate(self, resp: Response, *, oauth: bool = False) -> Response:
        """Rate-limit headers on every response (no Daily pair for OAuth apps)."""
        n = len(self.log)
        resp.headers.setdefault("X-HubSpot-Correlation-Id", str(uuid.uuid4()))
        if not oauth:
            resp.headers["X-HubSpot-RateLimit-Max"] = str(BURST_MAX)
            resp.headers["X-HubSpot-RateLimit-Remaining"] = str(BURST_MAX - 1 - n % BURST_MAX)
            resp.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = "10000"
        if self.access_token is not None and not oauth:
            resp.headers["X-HubSpot-RateLimit-Daily"] = str(DAILY_MAX)
            resp.headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, DAILY_MAX - n))
        return resp


ID = "hs_object_id"


def _ids(table: FakeTable) -> list[str]:
    first = int(table.extra.get("first_id", 101))
    return [str(first + i) for i in range(len(table.rows))]


def _created_name(obj: _Object) -> str:
    return "hs_createdate" if obj.custom else "createdate"


def _stamps(table: FakeTable, i: int, row: dict[str, Any]) -> tuple[datetime, datetime]:
    created = row.get(table.extra.get("created", ""))
    updated = row.get(table.extra.get("updated", ""))
    created = created if isinstance(created, datetime) else _EPOCH + timedelta(minutes=i)
    updated = updated if isinstance(updated, datetime) else created + timedelta(days=1)
    return created, updated


def _properties(obj: _Object) -> list[dict[str, Any]]:
    """System properties first, then one per table field, then a hidden internal one."""
    out = [_prop(ID, "Record ID", "number", "number"),
           _prop(_created_name(obj), "Create Date", "datetime", "date"),
           _prop("hs_lastmodifieddate", "Last Modified Date", "datetime", "date"),
           _prop("hs_merged_object_ids", "Merged record IDs", "enumeration", "checkbox",
                 hidden=True)]
    extra = obj.table.extra
    for f in obj.table.fields:
        if f.name in {p["name"] for p in out}:
            continue
        out.append(_field_prop(f, extra, obj.table.key))
    return out


def _field_prop(f: FakeField, extra: dict[str, Any], key: str) -> dict[str, Any]:
    sensitivity = (extra.get("sensitivity") or {}).get(f.name, "non_sensitive")
    if f.name in (extra.get("multi") or ()):
        return _prop(f.name, f.label, "enumeration", "checkbox", options=f.options or (),
                     sensitivity=sensitivity, custom=True)
    if f.options:
        return _prop(f.name, f.label, "enumeration", "select", options=f.options,
                     sensitivity=sensitivity, custom=True, unique=f.unique)
    htype, ftype = {"string": ("string", "text"), "integer": ("number", "number"),
                    "float": ("number", "number"), "boolean": ("bool", "booleancheckbox"),
                    "date": ("date", "date"), "datetime": ("datetime", "date")}[f.type]
    options = ("true", "false") if f.type == "boolean" else ()
    return _prop(f.name, f.label, htype, ftype, options=options, sensitivity=sensitivity,
                 custom=True, unique=f.unique)


def _prop(name: str, label: str | None, htype: str, ftype: str, *, hidden: bool = False,
          options: Sequence[str] = (), sensitivity: str = "non_sensitive", custom: bool = False,
          unique: bool = False) -> dict[str, Any]:
    return {"name": name, "label": label or name.replace("_", " ").title(), "type": htype,
            "fieldType": ftype, "groupName": "custom" if custom else "system",
            "description": "", "displayOrder": -1,
            "options": [{"label": o.title(), "value": o, "displayOrder": i, "hidden": False,
                         "description": ""} for i, o in enumerate(options)],
            "calculated": False, "externalOptions": False, "hasUniqueValue": unique,
            "hidden": hidden, "hubspotDefined": not custom, "formField": custom,
            "modificationMetadata": {"archivable": custom, "readOnlyDefinition": not custom,
                                     "readOnlyValue": not custom},
            "dataSensitivity": sensitivity, "archived": False,
            "createdAt": _wire(_EPOCH), "updatedAt": _wire(_EPOCH)}


def _defaults(obj: _Object) -> list[str]:
    known = {f.name for f in obj.table.fields}
    extra = [n for n in obj.table.extra.get("default_properties", ()) if n in known]
    return [_created_name(obj), "hs_lastmodifieddate", ID, *extra]


def _wire(v: Any) -> str | None:
    """HubSpot sends every property value as a string (or null)."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, datetime):
        v = v.astimezone(UTC) if v.tzinfo else v.replace(tzinfo=UTC)
        return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, list | tuple):
        return ";".join(map(str, v))
    return str(v)


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def _decode_cursor(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        return int(text[2:]) if text.startswith("o:") else None
    except ValueError:
        return None


def _error(status: int, category: str, message: str) -> Response:
    return json_response({"status": "error", "message": message,
                          "correlationId": str(uuid.uuid4()), "category": category},
                         status=status)


def _validation(param: str, message: str) -> Response:
    return json_response({"status": "error", "message": message,
                          "errors": [{"message": message, "in": param}],
                          "category": "VALIDATION_ERROR", "correlationId": str(uuid.uuid4())},
                         status=400)


def _unauthenticated() -> Response:
    resp = _error(401, "INVALID_AUTHENTICATION", "Authentication credentials not found. This "
                  "API supports OAuth 2.0 authentication and you can find more details at "
                  "https://developers.hubspot.com/docs/methods/auth/oauth-overview")
    resp.headers["X-HubSpot-Auth-Failure"] = "401 Unauthorized"
    return resp


def demo_app(sample_dir: Path) -> HubSpotApp:
    """The CRM sample files as HubSpot tickets and contacts (private app token
    ``pat-na1-demo-token``)."""
    tickets = from_file(sample_dir / "crm" / "support_tickets.jsonl", name="tickets",
                        key="ticket_id", options={
                            "channel": ("email", "web", "chat", "phone"),
                            "priority": ("low", "normal", "high", "urgent"),
                            "status": ("open", "pending", "solved", "closed"),
                            "category": ("account_access", "billing", "data_export",
                                         "feature_request", "integration", "onboarding",
                                         "technical_issue")})
    # HubSpot enforces hasUniqueValue on write; the file plants duplicate ticket ids, so the
    # property cannot be a unique one in a real portal.
    tickets.fields = [replace(f, unique=False) if f.name == "ticket_id" else f
                      for f in tickets.fields]
    tickets.extra.update(created="created_at", updated="updated_at",
                         default_properties=("subject", "status"))
    with tempfile.TemporaryDirectory(prefix="hubspot-demo-") as tmp:
        # contacts.csv is a latin-1 Windows export; from_file reads UTF-8 only.
        utf8 = Path(tmp) / "contacts.csv"
        raw = (sample_dir / "crm" / "contacts.csv").read_bytes().decode("latin-1")
        utf8.write_text(raw, encoding="utf-8")
        contacts = from_file(utf8, name="contacts", key="contact_id", options={
            "country": ("AT", "AU", "BE", "BR", "CA", "CH", "DE", "DK", "ES", "FR", "GB", "IE",
                        "IT", "JP", "NL", "PL", "SE", "SG", "US")})
    contacts.extra.update(updated="updated_at", sensitivity={"phone": "sensitive"},
                          default_properties=("email", "first_name", "last_name"))
    return HubSpotApp([tickets, contacts], access_token=DEMO_TOKEN)
