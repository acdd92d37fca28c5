"""Fake OData services: SAP Gateway v2, SAP RAP v4 and the Dataverse Web API (v4).

One app class, parametrised by ``flavor``, because the three share the URL grammar
(``<service>/$metadata``, ``<service>/<EntitySet>?$select=…``) and differ in the places listed
in connector-protocols §4: rows in ``d.results`` + ``__count`` string + ``__next`` (v2) or
``value`` + ``@odata.count`` + ``@odata.nextLink`` (v4); ``/Date(ms)/`` and numbers-as-strings
(v2) or ISO strings (v4); ``$top``/``$skip`` (SAP) or ``Prefer: odata.maxpagesize`` and opaque
``$skiptoken`` cookies with ``$skip`` refused (Dataverse); error bodies with a ``{lang, value}``
message (v2) or a string message (v4).

Auth: SAP Basic (``auth="basic"``), SAP OAuth client credentials (``POST /oauth/token``) or
Entra ID (``POST /<tenant>/oauth2/v2.0/token`` with scope ``<origin>/.default``). Next links
are absolute URLs on the server's own origin (pyodata rejects any other), except SAP v4's,
which are relative to the service root as SAP RAP sends them.

Demo credentials (``python -m fakeservers``):

* :func:`demo_app` — SAP v2 service ``API_DEMO_ERP`` (Customers, Invoices, Orders), Basic auth
  user ``DEMO_USER``, password ``demo-password``;
* :func:`demo_dynamics_app` — Dataverse ``accounts``, tenant ``demo-tenant``, client id
  ``demo-client``, client secret ``demo-secret``; seeded roles System Administrator (Global
  read), Salesperson (Basic read on accounts), Customer Service Representative (no read).
"""

from __future__ import annotations

import base64
import re
import secrets
import zlib
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from werkzeug.wrappers import Request, Response

from fakeservers.core import FakeApp, Fault, FaultKind, json_response
from fakeservers.odata_metadata import (
    OPTION_BASE,
    Flavor,
    Role,
    User,
    attributes,
    default_security,
    edm_type,
    edmx,
    guid,
    logical_name,
    role_privileges_response,
    security_tables,
    value_list_tables,
)
from fakeservers.tables import FakeTable, from_file

MAX_PAGE = 5000
_SAFE = "$'(),*:@/="


class ODataFakeApp(FakeApp):
    """Serve ``tables`` as entity sets of one OData service of the given flavour."""

    def __init__(self, tables: list[FakeTable], *, flavor: Flavor = "sap2",
                 namespace: str = "API_DEMO", auth: str = "basic", user: str = "DEMO_USER",
                 password: str = "demo-password", client_id: str = "demo-client",
                 client_secret: str = "demo-secret", tenant: str = "demo-tenant",
                 server_page_size: int | None = None, users: list[User] | None = None,
                 roles: list[Role] | None = None) -> None:
        super().__init__()
        self.flavor = flavor
        self.namespace = "Microsoft.Dynamics.CRM" if flavor == "dataverse" else namespace
        self.auth = "oauth" if flavor == "dataverse" else auth
        self.user, self.password = user, password
        self.client_id, self.client_secret, self.tenant = client_id, client_secret, tenant
        #: Rows per page the server hands out at most (server-driven paging with __next).
        self.server_page_size = server_page_size
        self.tokens: set[str] = set()
        self.service_path = {
            "sap2": f"/sap/opu/odata/sap/{namespace}",
            "sap4": f"/sap/opu/odata4/sap/{namespace.lower()}/srvd_a2x/sap/"
                    f"{namespace.lower()}/0001",
            "dataverse": "/api/data/v9.2"}[flavor]
        self.token_path = (f"/{tenant}/oauth2/v2.0/token" if flavor == "dataverse"
                           else "/oauth/token")
        tables = [replace(t, extra={"namespace": self.namespace, **t.extra}) for t in tables]
        self.tables = {t.name: t for t in tables}
        if flavor == "sap2":
            self.tables |= {t.name: t for t in value_list_tables(tables)}
        if flavor == "dataverse":
            seeded = default_security(tables)
            self.users, self.roles = users or seeded[0], roles or seeded[1]
            self.tables |= {t.name: t for t in security_tables(self.users, self.roles)}

    # -- dispatch -----------------------------------------------------------------------------

    def handle(self, request: Request, fault: Fault | None) -> Response:
        if request.path == self.token_path:
            return self._token(request)
        if not self._authorised(request):
            return self.error(401, "unauthorized", "The access token is missing, invalid or "
                              "expired." if self.auth == "oauth" else
                              "Logon failed: user or password wrong")
        if not request.path.startswith(self.service_path):
            return self.error(404, "not_found", f"No service found at {request.path}")
        rest = unquote(request.path[len(self.service_path):].strip("/"))
        if rest == "":
            return self._service_document(request)
        if rest == "$metadata":
            return Response(edmx(self._described(), self.flavor, self.namespace),
                            content_type="application/xml")
        if self.flavor == "dataverse":
            special = self._dataverse(request, rest)
            if special is not None:
                return special
        table = self.tables.get(rest)
        if table is None:
            return self.error(404, "/IWBEP/CM_MGW_RT/020" if self.flavor == "sap2"
                              else "0x80060888",
                              f"Resource not found for segment '{rest}'.")
        return self._collection(request, table, fault)

    def vendor_fault(self, kind: FaultKind, fault: Fault, request: Request) -> Response:
        """SAP and Dataverse have no daily quota: "quota" is a 429 whose Retry-After (a day)
        is beyond any ``max_retry_after``, which the client treats as a spent quota."""
        dv = self.flavor == "dataverse"
        if kind == "expired":
            return self.error(401, "unauthorized", "The access token has expired."
                              if self.auth == "oauth" else "Logon failed: password expired")
        if kind == "denied":
            return self.error(403, "0x80040220" if dv else "/IWBEP/CM_MGW_RT/022",
                              "Principal user is missing prvRead privilege." if dv else
                              "User DEMO_USER has no authorization for this entity set")
        if kind in ("quota", "throttle"):
            resp = self.error(429, "0x80072322" if dv else "429",
                              "Number of requests exceeded the limit of 6000 over time window "
                              "of 300 seconds." if dv else "Rate limit quota violation.")
            resp.headers["Retry-After"] = "86400" if kind == "quota" else "1"
            return resp
        if kind == "unavailable":
            return self.error(503, "503", "Service unavailable; try again later.")
        return self.error(500, "0x80040216" if dv else "/IWBEP/CM_MGW_RT/000",
                          "An unexpected error occurred.")

    # -- wire formats -------------------------------------------------------------------------

    def error(self, status: int, code: str, message: str) -> Response:
        """The flavour's error body: v2 ``message`` object with ``innererror``, v4 string."""
        if self.flavor == "sap2":
            body: dict[str, Any] = {"error": {
                "code": code, "message": {"lang": "en", "value": message},
                "innererror": {"transactionid": secrets.token_hex(16).upper(),
                               "timestamp": datetime.now(UTC).strftime("%Y%m%d%H%M%S.0000000"),
                               "errordetails": [{"code": code, "message": message,
                                                 "propertyref": "", "severity": "error",
                                                 "target": ""}]}}}
        else:
            body = {"error": {"code": code, "message": message}}
        resp = json_response(body, status)
        if status == 401:
            resp.headers["WWW-Authenticate"] = ('Bearer error="invalid_token"'
                                                if self.auth == "oauth" else
                                                'Basic realm="SAP NetWeaver Application Server"')
        return resp

    def encode(self, table: FakeTable, name: str, value: Any) -> Any:
        """One value the flavour's way: v2 ``/Date(ms)/``, Int64/Decimal as strings; v4 ISO;
        Dataverse option values as integers."""
        if value is None:
            return None
        f = table.field(name)
        edm = edm_type(table, f, self.flavor)
        if self.flavor == "dataverse" and f.options:
            return OPTION_BASE + f.options.index(value)
        if isinstance(value, datetime):
            if self.flavor != "sap2":
                return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
            ms = int(value.timestamp() * 1000)
            if edm == "Edm.DateTime":
                return f"/Date({ms})/"
            offset = value.utcoffset()
            minutes = int(offset.total_seconds() // 60) if offset else 0
            return f"/Date({ms}{'+' if minutes >= 0 else '-'}{abs(minutes):04d})/"
        if isinstance(value, date):
            if self.flavor != "sap2":
                return value.isoformat()
            midnight = datetime(value.year, value.month, value.day, tzinfo=UTC)
            return f"/Date({int(midnight.timestamp() * 1000)})/"
        if self.flavor == "sap2" and edm in ("Edm.Int64", "Edm.Decimal"):
            return str(value)
        return value

    def row(self, request: Request, table: FakeTable, rec: dict[str, Any],
            select: list[str], expand: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.flavor == "sap2":
            uri = f"{self._origin(request)}{self.service_path}/{table.name}('{rec[table.key]}')"
            out["__metadata"] = {"id": uri, "uri": uri,
                                 "type": f"{self.namespace}.{table.name}Type"}
        elif self.flavor == "dataverse":
            out["@odata.etag"] = f'W/"{zlib.crc32(str(rec[table.key]).encode()) % 10**8}"'
        for name in select:
            out[name] = self.encode(table, name, rec.get(name))
        for nav in expand:
            out[nav] = table.extra["expand"][nav](rec)
        if self.flavor == "sap2" and not request.args.get("$select"):
            out["to_Notes"] = {"__deferred": {"uri": f"{out['__metadata']['uri']}/to_Notes"}}
        return out

    # -- handlers -----------------------------------------------------------------------------

    def _collection(self, request: Request, table: FakeTable, fault: Fault | None) -> Response:
        args = request.args
        v2, dv = self.flavor == "sap2", self.flavor == "dataverse"
        names = [f.name for f in table.fields]
        if v2 and args.get("$format", "json") != "json":
            return self.error(400, "/IWBEP/CM_MGW_RT/001", "Only $format=json is served here")
        if v2 and args.get("$inlinecount", "none") not in ("allpages", "none"):
            return self.error(400, "/IWBEP/CM_MGW_RT/004",
                              "Invalid value for system query option $inlinecount")
        if dv and "$skip" in args:
            return self.error(400, "0x80060888", "The query parameter $skip is not supported")
        select = [s.strip() for s in args.get("$select", "").split(",") if s.strip()] or names
        expand = [re.sub(r"\(.*\)$", "", e) for e in _split(args.get("$expand", ""))]
        unknown = [s for s in select if s not in names] + \
            [e for e in expand if e not in table.extra.get("expand", {})]
        if unknown:
            return self.error(400, "0x0" if not v2 else "/IWBEP/CM_MGW_RT/021",
                              f"Could not find a property named '{unknown[0]}' on type "
                              f"'{self.namespace}.{table.name}'.")
        try:
            rows = _filtered(table.rows, args.get("$filter"), names)
            rows = _ordered(rows, args.get("$orderby"), names)
        except ValueError as exc:
            return self.error(400, "0x80060888" if dv else "/IWBEP/CM_MGW_RT/005", str(exc))
        total = len(rows)
        headers: dict[str, str] = {}
        if dv:
            size = min(MAX_PAGE, _max_page_size(request.headers.get("Prefer", "")) or MAX_PAGE)
            headers["Preference-Applied"] = f"odata.maxpagesize={size}"
            if args.get("$top"):
                rows = rows[: int(args["$top"])]
            offset = _cookie_offset(args.get("$skiptoken"))
        else:
            skip = int(args.get("$skip", 0))
            rows = rows[skip: skip + int(args["$top"])] if args.get("$top") else rows[skip:]
            size = self.server_page_size or len(rows) or 1
            offset = int(args.get("$skiptoken", "0").strip("'") or 0)
        chunk = rows[offset: offset + size]
        link = None
        if offset + size < len(rows):
            token = (f'<cookie pagenumber="{offset // size + 2}" offset="{offset + size}" />'
                     if dv else str(offset + size))
            link = self._next_link(request, token)
        if fault is not None and fault.kind == "repeat_cursor":
            link = self._origin(request) + request.environ.get("RAW_URI", request.full_path)
        records = [self.row(request, table, r, select, expand) for r in chunk]
        if v2:
            d: dict[str, Any] = {"results": records}
            if args.get("$inlinecount") == "allpages":
                d["__count"] = str(total)
            if link:
                d["__next"] = link
            return json_response({"d": d}, headers=headers)
        body: dict[str, Any] = {"@odata.context": f"{self._origin(request)}{self.service_path}"
                                                  f"/$metadata#{table.name}"}
        if args.get("$count") == "true":
            body["@odata.count"] = min(total, 5000) if dv else total  # Dataverse caps it
        if dv and "Microsoft.Dynamics.CRM.totalrecordcount" in request.headers.get("Prefer", ""):
            body["@Microsoft.Dynamics.CRM.totalrecordcount"] = min(total, 5000)
            body["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] = total > 5000
        body["value"] = records
        if link:
            body["@odata.nextLink"] = link
        return json_response(body, headers={**headers, "OData-Version": "4.0"})

    def _next_link(self, request: Request, token: str) -> str:
        """Same query, new ``$skiptoken``; SAP v4 sends it relative to the service root."""
        query = [(k, v) for k, v in request.args.items(multi=True) if k != "$skiptoken"]
        query.append(("$skiptoken", token))
        qs = "&".join(f"{k}={quote(v, safe=_SAFE)}" for k, v in query)
        entity_set = request.path[len(self.service_path):].strip("/")
        if self.flavor == "sap4":
            return f"{entity_set}?{qs}"
        return f"{self._origin(request)}{self.service_path}/{entity_set}?{qs}"

    def _service_document(self, request: Request) -> Response:
        names = [t.name for t in self._described()]
        if self.flavor == "sap2":
            return json_response({"d": {"EntitySets": names}})
        return json_response({"@odata.context": "$metadata", "value": [
            {"name": n, "kind": "EntitySet", "url": n} for n in names]})

    def _dataverse(self, request: Request, rest: str) -> Response | None:
        if rest == "EntityDefinitions":
            return json_response({"value": [
                {"LogicalName": logical_name(t), "EntitySetName": t.name,
                 "MetadataId": guid("entity", t.name)}
                for t in self._described()]})
        m = re.fullmatch(r"EntityDefinitions\(LogicalName='([^']+)'\)/Attributes"
                         r"(?:/Microsoft\.Dynamics\.CRM\.(\w+))?", rest)
        if m:
            table = next((t for t in self.tables.values() if logical_name(t) == m.group(1)),
                         None)
            if table is None:
                return self.error(404, "0x80040217",
                                  f"Could not find an entity with logical name {m.group(1)}")
            return json_response({"value": attributes(table, m.group(2))})
        m = re.fullmatch(r"roles\(([-0-9a-f]+)\)/Microsoft\.Dynamics\.CRM\."
                         r"RetrieveRolePrivilegesRole\(\)", rest)
        if m:
            role = next((r for r in self.roles if r.id == m.group(1)), None)
            if role is None:
                return self.error(404, "0x80040217", f"role With Id = {m.group(1)} Does Not "
                                  "Exist")
            return json_response(role_privileges_response(role))
        return None

    def _described(self) -> list[FakeTable]:
        return list(self.tables.values())

    # -- auth ---------------------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        form = request.form
        if request.method != "POST" or form.get("grant_type") != "client_credentials":
            return json_response({"error": "unsupported_grant_type", "error_description":
                                  "Only client_credentials is supported."}, 400)
        if form.get("client_id") != self.client_id or \
                form.get("client_secret") != self.client_secret:
            return json_response({"error": "invalid_client", "error_description":
                                  "AADSTS7000215: Invalid client secret provided."
                                  if self.flavor == "dataverse" else "Bad credentials"}, 401)
        if self.flavor == "dataverse" and \
                form.get("scope") != f"{self._origin(request)}/.default":
            return json_response({"error": "invalid_scope", "error_description":
                                  f"AADSTS70011: The provided value for scope "
                                  f"{form.get('scope')} is not valid."}, 400)
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        return json_response({"token_type": "Bearer", "expires_in": 3599,
                              "access_token": token})

    def expire_tokens(self) -> None:
        """Every token issued so far becomes invalid (the next request gets a 401)."""
        self.tokens.clear()

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if self.auth == "basic":
            expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            return header == f"Basic {expected}"
        return header.startswith("Bearer ") and header[7:] in self.tokens

    @staticmethod
    def _origin(request: Request) -> str:
        return request.host_url.rstrip("/")


# -- query options -----------------------------------------------------------------------------


def _split(text: str) -> list[str]:
    """Top-level comma split (``a($select=x,y),b`` → two items)."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return [s.strip() for s in [*out, cur] if s.strip()]


_COND = re.compile(r"\s*(\w+)\s+(eq|ne|gt|ge|lt|le)\s+('(?:[^']|'')*'|-?\d+(?:\.\d+)?|true|"
                   r"false|null)\s*$")


def _filtered(rows: list[dict[str, Any]], expr: str | None,
              names: list[str]) -> list[dict[str, Any]]:
    """A small ``$filter``: ``<prop> <op> <literal>`` joined by ``and``."""
    if not expr:
        return rows
    conds = []
    for part in re.split(r"\s+and\s+", expr):
        m = _COND.match(part)
        if not m or m.group(1) not in names:
            raise ValueError(f"Invalid filter expression: {part.strip()!r}")
        lit = m.group(3)
        value: Any = (lit[1:-1].replace("''", "'") if lit.startswith("'") else
                      None if lit == "null" else lit == "true" if lit in ("true", "false")
                      else float(lit))
        conds.append((m.group(1), m.group(2), value))
    ops = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
           "gt": lambda a, b: a is not None and a > b, "ge": lambda a, b: a is not None and a >= b,
           "lt": lambda a, b: a is not None and a < b, "le": lambda a, b: a is not None and a <= b}
    return [r for r in rows if all(ops[op](r.get(n), v) for n, op, v in conds)]


def _ordered(rows: list[dict[str, Any]], orderby: str | None,
             names: list[str]) -> list[dict[str, Any]]:
    for part in reversed(_split(orderby or "")):
        name, _, direction = part.partition(" ")
        if name not in names:
            raise ValueError(f"Property '{name}' in $orderby is not known")
        rows = sorted(rows, key=lambda r: (r.get(name) is None, r.get(name) or 0
                                           if not isinstance(r.get(name), str) else r[name]),
                      reverse=direction.strip().lower() == "desc")
    return rows


def _max_page_size(prefer: str) -> int | None:
    m = re.search(r"odata\.maxpagesize=(\d+)", prefer)
    return int(m.group(1)) if m else None


def _cookie_offset(token: str | None) -> int:
    m = re.search(r'offset="(\d+)"', token or "")
    return int(m.group(1)) if m else 0


# -- demo --------------------------------------------------------------------------------------


def demo_app(sample_dir: Path) -> ODataFakeApp:
    """SAP v2 service ``API_DEMO_ERP`` over the ERP sample files (Basic DEMO_USER)."""
    erp = sample_dir / "erp"
    tables = [from_file(erp / "customers.xlsx", name="Customers", key="customer_id",
                        sheet="customers"),
              from_file(erp / "invoices.parquet", name="Invoices", key="invoice_id"),
              from_file(erp / "orders.csv", name="Orders", key="order_id")]
    return ODataFakeApp(tables, flavor="sap2", namespace="API_DEMO_ERP", auth="basic",
                        user="DEMO_USER", password="demo-password")


def demo_dynamics_app(sample_dir: Path) -> ODataFakeApp:
    """Dataverse ``accounts`` over ``crm/accounts.csv`` (client demo-client/demo-secret)."""
    accounts = from_file(sample_dir / "crm" / "accounts.csv", name="accounts", key="account_id")
    return ODataFakeApp([accounts], flavor="dataverse", tenant="demo-tenant",
                        client_id="demo-client", client_secret="demo-secret")
