"""Odoo: ERP models through the external API (XML-RPC, JSON-RPC or JSON-2).

Why it reads Odoo this way (facts: ``shared/specs/connector-protocols.md`` §3):

* **Protocols.** XML-RPC (``/xmlrpc/2/common`` + ``/xmlrpc/2/object``) works from Odoo 8 to 21
  and is the default; JSON-RPC (``/jsonrpc``) is the same service in a JSON envelope; both are
  deprecated from 19 (removal planned for 22). JSON-2 (``/json/2/<model>/<method>``, bearer API
  key) is the replacement from 19. All three go through the shared :class:`ApiClient` —
  not ``ServerProxy`` — so timeouts, retries, ``Retry-After`` and partial pulls behave like
  every other connector; ``xmlrpc.client.dumps``/``loads`` only marshal.
* **Errors arrive with HTTP 200** on XML-RPC (``<fault>``, codes 1–4) and JSON-RPC (``error``),
  so the classifiers read the body — XML-RPC only when it holds ``<fault>``. Fault 3 /
  ``AccessDenied`` on an object call means the password or key was refused: the client calls
  ``authenticate`` again once (``refresh``) and resends the call, whose body is unchanged
  because a login's uid never changes. A JSON-2 API key cannot be renewed: a 401 stops at once.
* **Types** come from ``fields_get``. Odoo sends ``False`` for every empty value, so ``False``
  becomes null for every non-boolean field here. many2one ``[id, name]`` becomes two columns
  ``<f>`` (id) and ``<f>_name``; one2many/many2many are skipped unless ``x2many: ids`` (then a
  JSON list of ids: they can be large, e.g. ``message_ids``); binary and non-stored computed
  fields are skipped. Selection keys are ``allowed_values`` (the ORM refuses other values);
  single-column ``unique(...)`` constraints from ``ir.model.constraint`` make a column unique.
  Odoo itself reads a NULL integer/float as ``0``, so "missing" and "zero" may look alike.
* **Paging** is keyset, not offset: ``search_read`` with ``[('id', '>', last)]`` + the filter,
  ``order='id asc'``. Offsets shift when records are deleted mid-pull (rows skipped) and get
  slower the deeper they go; the cursor is the last id read, so a server that ignores it shows
  up as a repeated cursor. ``search_count`` gives the total. ``options.filter`` is an Odoo domain;
  ``sampling.where`` is refused. Records with ``active=False`` are read too (``active_test``
  off) unless ``include_archived: false``: an audit should see archived data.
* **Access** (``access``, in :mod:`connectors.odoo_access`): groups, ``ir.model.access``,
  ``ir.rule`` and field groups; the login needs Settings rights to read them.
"""

from __future__ import annotations

import json
import logging
import re
import xmlrpc.client
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import Field, SecretStr, model_validator

from auditor.errors import SourceAuthError, SourceDataError, SourceError, UnknownObject
from auditor.models import AccessInventory
from connectors.saas.base import ObjectDescription, Page, SaasConnector, SaasSourceConfig
from connectors.saas.http import ApiClient, ApiFailure, MalformedBody, default_classify
from connectors.saas.records import FieldSpec, ValueType

log = logging.getLogger(__name__)

#: ``fields_get`` attributes read (``size`` carries a char field's maximum length).
FIELD_ATTRIBUTES = ["string", "type", "required", "readonly", "relation", "selection", "store",
                    "groups", "size"]
_TYPES: dict[str, ValueType] = {
    "char": "string", "text": "string", "html": "string", "selection": "string",
    "reference": "string", "integer": "integer", "many2one_reference": "integer",
    "float": "float", "monetary": "float", "boolean": "boolean", "date": "date",
    "datetime": "datetime", "json": "json", "properties": "json"}
_X2MANY = ("one2many", "many2many")
_UNIQUE = re.compile(r"(?i)^\s*unique\s*\(\s*\"?(\w+)\"?\s*\)\s*$")
#: Positional arguments by name, for JSON-2 (named arguments only).
_JSON2_ARGS = {"search_read": ("domain",), "search_count": ("domain",), "search": ("domain",),
               "read": ("ids", "fields"), "fields_get": ("allfields",)}


class OdooConfig(SaasSourceConfig):
    """``kind: odoo`` — one Odoo database through its external API."""

    kind: Literal["odoo"] = Field("odoo", description="Odoo external API.")
    url: str = Field(description="Server root, e.g. https://acme.odoo.com.")
    database: str = Field(description="Database name (X-Odoo-Database for JSON-2).")
    protocol: Literal["xmlrpc", "jsonrpc", "json2"] = Field(
        "xmlrpc", description="xmlrpc (Odoo 8-21, deprecated from 19), jsonrpc (same, JSON "
        "envelope) or json2 (Odoo 19 and later).")
    login: str | None = Field(None, description="User login (xmlrpc/jsonrpc; JSON-2 knows the "
                              "user from the API key).")
    api_key: SecretStr = Field(description="API key (or password) of the login.")
    models: list[str] = Field(default_factory=list, description="Models to offer when the "
                              "login cannot read ir.model.")
    include_archived: bool = Field(True, description="Also read records with active=False "
                                   "(context active_test=False).")
    x2many: Literal["skip", "ids"] = Field("skip", description="one2many/many2many fields: "
                                           "skip, or a JSON list of ids.")

    @model_validator(mode="after")
    def _login_for_rpc(self) -> OdooConfig:
        if self.protocol != "json2" and not self.login:
            raise ValueError(f"protocol {self.protocol} needs `login` (the user's login); "
                             "only json2 identifies the user by the API key alone")
        return self


# -- error bodies -------------------------------------------------------------------------------


def _text(resp: httpx.Response) -> str:
    """The vendor's words from an error body: JSON ``message``, an HTML page's text, or raw."""
    body = resp.text[:2000]
    try:
        data = json.loads(body)
        if isinstance(data, dict) and data.get("message"):
            return str(data["message"])
    except ValueError:
        pass
    text = re.sub(r"<[^>]+>", " ", body)
    return " ".join(text.split())[:300] or resp.reason_phrase


def _http_failure(resp: httpx.Response) -> ApiFailure | None:
    failure = default_classify(resp)
    if failure is None:
        return None
    return ApiFailure(failure.kind, _text(resp))


def fault_failure(code: Any, text: str) -> ApiFailure:
    """XML-RPC fault → failure kind (§3.4): 3 refused credentials, 4 ACL, 2 user error."""
    last = next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), text)
    whole = " ".join(text.split())[:400]
    if code == 3:
        return ApiFailure("expired", whole)
    if code == 4:
        return ApiFailure("denied", whole)
    if code == 2:
        return ApiFailure("not_found" if "doesn't exist" in text else "bad_request", whole)
    if "doesn't exist" in text or last.startswith("KeyError"):
        return ApiFailure("not_found", last)
    return ApiFailure("bad_request", last)


def classify_xmlrpc(resp: httpx.Response) -> ApiFailure | None:
    """HTTP status first (429/503 from Odoo.sh), then ``<fault>``, then a truncated body."""
    if resp.status_code >= 400:
        return _http_failure(resp)
    body = resp.content
    if b"<fault>" in body:
        try:
            xmlrpc.client.loads(body)
        except xmlrpc.client.Fault as fault:
            return fault_failure(fault.faultCode, str(fault.faultString))
        except Exception:  # noqa: BLE001 - any parse error of a fault body is a bad body
            return ApiFailure("transient", "malformed XML-RPC fault")
    return None


def _parse_xmlrpc(resp: httpx.Response) -> Any:
    """The single return value; a body cut short is retried by the shared client, then SRC002."""
    try:
        return xmlrpc.client.loads(resp.content)[0][0]
    except Exception as exc:  # noqa: BLE001 - expat and marshalling errors alike
        raise MalformedBody(f"malformed XML-RPC response ({type(exc).__name__})") from None


def classify_jsonrpc(resp: httpx.Response) -> ApiFailure | None:
    """The ``error`` member of a HTTP-200 envelope; unparseable bodies go to the JSON parser
    (which retries them)."""
    if resp.status_code >= 400:
        return _http_failure(resp)
    if b'"error"' not in resp.content:
        return None
    try:
        envelope = json.loads(resp.content)
    except ValueError:
        return None
    err = envelope.get("error") if isinstance(envelope, dict) else None
    if not isinstance(err, dict):
        return None
    data = err.get("data") if isinstance(err.get("data"), dict) else {}
    name = str(data.get("name", ""))
    msg = str(data.get("message") or err.get("message") or "Odoo Server Error")
    if err.get("code") == 100 or name.endswith(("AccessDenied", "SessionExpiredException")):
        return ApiFailure("expired", msg)
    if name.endswith("AccessError"):
        return ApiFailure("denied", msg)
    if err.get("code") == 404 or "doesn't exist" in msg or name.endswith("KeyError"):
        return ApiFailure("not_found", msg)
    return ApiFailure("bad_request", f"{name}: {msg}" if name else msg)


def classify_json2(resp: httpx.Response) -> ApiFailure | None:
    """JSON-2 errors are 4xx/5xx with ``{"name", "message", ...}``."""
    failure = _http_failure(resp)
    if failure is None:
        return None
    if failure.kind == "expired":
        # "apikey" last: the shared scrubber would mask the word after it
        return ApiFailure("expired", f"the API key is invalid or expired (Odoo: "
                          f"{failure.message})")
    if failure.kind == "bad_request" and "doesn't exist" in failure.message:
        return ApiFailure("not_found", failure.message)
    return failure


# -- transports ---------------------------------------------------------------------------------


class _Rpc:
    """``execute(model, method, args, kwargs)`` over one protocol; also the client's Auth."""

    classify: Any = staticmethod(default_classify)

    def __init__(self, connector: OdooConnector) -> None:
        cfg = connector.config
        self.cfg = cfg
        self.uid: int | None = None
        self.client: ApiClient = connector.http(cfg.url.rstrip("/"), auth=self,
                                                classify=type(self).classify,
                                                headers=self.extra_headers())

    def extra_headers(self) -> dict[str, str]:
        return {}

    def headers(self) -> Mapping[str, str]:
        return {}

    def refresh(self) -> bool:
        """Authenticate again (the key may have been re-enabled; uid does not change)."""
        try:
            self.login()
        except SourceAuthError:
            return False
        return True

    def login(self) -> None:
        uid = self.common("authenticate", [self.cfg.database, self._login(),
                                           self.cfg.api_key.get_secret_value(), {}])
        if not uid:
            raise SourceAuthError(f"Odoo refused login {self._login()} on database "
                                  f"{self.cfg.database}",
                                  hint="check login, api_key and database of this source")
        self.uid = int(uid)

    def _login(self) -> str:
        return self.cfg.login or ""

    def execute(self, model: str, method: str, args: Sequence[Any] = (),
                kwargs: Mapping[str, Any] | None = None) -> Any:
        if self.uid is None:
            self.login()
        return self.object([self.cfg.database, self.uid, self.cfg.api_key.get_secret_value(),
                            model, method, list(args), dict(kwargs or {})])

    def common(self, method: str, args: list[Any]) -> Any:
        raise NotImplementedError

    def object(self, args: list[Any]) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        self.client.close()


class XmlRpc(_Rpc):
    classify = staticmethod(classify_xmlrpc)

    def extra_headers(self) -> dict[str, str]:
        return {"Content-Type": "text/xml"}

    def common(self, method: str, args: list[Any]) -> Any:
        return self._call("/xmlrpc/2/common", method, args)

    def object(self, args: list[Any]) -> Any:
        return self._call("/xmlrpc/2/object", "execute_kw", args)

    def _call(self, path: str, method: str, params: list[Any]) -> Any:
        body = xmlrpc.client.dumps(tuple(params), methodname=method, allow_none=False)
        return self.client.call("POST", path, _parse_xmlrpc, content=body.encode("utf-8"))


class JsonRpc(_Rpc):
    classify = staticmethod(classify_jsonrpc)

    def __init__(self, connector: OdooConnector) -> None:
        super().__init__(connector)
        self._id = 0

    def common(self, method: str, args: list[Any]) -> Any:
        return self._call("common", method, args)

    def object(self, args: list[Any]) -> Any:
        return self._call("object", "execute_kw", args)

    def _call(self, service: str, method: str, args: list[Any]) -> Any:
        self._id += 1
        envelope = self.client.json("POST", "/jsonrpc", json={
            "jsonrpc": "2.0", "method": "call", "id": self._id,
            "params": {"service": service, "method": method, "args": args}})
        if not isinstance(envelope, dict) or "result" not in envelope:
            raise SourceDataError(f"source {self.client.source!r}: POST /jsonrpc: the answer "
                                  "has no result")
        return envelope["result"]


class Json2(_Rpc):
    """Odoo ≥ 19: one POST per call, named arguments, a bearer API key that cannot refresh."""

    classify = staticmethod(classify_json2)

    def extra_headers(self) -> dict[str, str]:
        return {"X-Odoo-Database": self.cfg.database}

    def headers(self) -> Mapping[str, str]:
        return {"Authorization": f"bearer {self.cfg.api_key.get_secret_value()}"}

    def refresh(self) -> bool:
        return False

    def login(self) -> None:
        try:
            version = self.client.json("GET", "/web/version")
        except UnknownObject:
            raise SourceError(f"source {self.client.source!r}: {self.cfg.url} has no "
                              "/web/version: JSON-2 needs Odoo 19 or later; use protocol "
                              "xmlrpc") from None
        info = version.get("version_info") if isinstance(version, dict) else None
        if isinstance(info, list) and info and isinstance(info[0], int) and info[0] < 19:
            raise SourceError(f"source {self.client.source!r}: Odoo {version.get('version')} "
                              "has no JSON-2 API (19 or later); use protocol xmlrpc")
        context = self.client.json("POST", "/json/2/res.users/context_get", json={})
        self.uid = int(context.get("uid", 0)) if isinstance(context, dict) else None

    def execute(self, model: str, method: str, args: Sequence[Any] = (),
                kwargs: Mapping[str, Any] | None = None) -> Any:
        if self.uid is None:
            self.login()
        body = dict(zip(_JSON2_ARGS.get(method, ()), args, strict=False))
        body.update(kwargs or {})
        return self.client.json("POST", f"/json/2/{model}/{method}", json=body)


_PROTOCOLS: dict[str, type[_Rpc]] = {"xmlrpc": XmlRpc, "jsonrpc": JsonRpc, "json2": Json2}


# -- connector ----------------------------------------------------------------------------------


class OdooConnector(SaasConnector):
    """Models of one Odoo database; see the module docstring for the why."""

    kind = "odoo"
    config_model = OdooConfig
    max_page_size = 1000

    def __init__(self, name: str, config: OdooConfig, base_dir: Path) -> None:
        super().__init__(name, config, base_dir)
        self.config: OdooConfig = config
        self._transport: _Rpc | None = None

    @property
    def rpc(self) -> _Rpc:
        if self._transport is None:
            self._transport = _PROTOCOLS[self.config.protocol](self)
        return self._transport

    def execute(self, model: str, method: str, args: Sequence[Any] = (),
                kwargs: Mapping[str, Any] | None = None) -> Any:
        return self.rpc.execute(model, method, args, kwargs)

    def list_objects(self) -> list[str]:
        try:
            rows = self.execute("ir.model", "search_read", [[]],
                                {"fields": ["model"], "order": "model asc"})
        except SourceAuthError as exc:
            if not self.config.models or "access denied" not in str(exc):
                raise
            log.warning("%s: cannot read ir.model (%s); offering the configured models",
                        self.name, exc)
            return list(self.config.models)
        return [r["model"] for r in rows]

    def describe(self, obj: str, options: Mapping[str, Any]) -> ObjectDescription:
        label, model_id = self._model(obj)
        got = self.execute(obj, "fields_get", [], {"attributes": FIELD_ATTRIBUTES})
        if not isinstance(got, dict):
            raise SourceDataError(f"source {self.name!r}: fields_get of {obj} is not a mapping")
        unique = self._unique_fields(model_id) if model_id is not None else set()
        specs = [FieldSpec("id", "integer", path=("id",), required=True, unique=True,
                           primary_key=True, label="ID", source_type="integer")]
        for fname, attrs in got.items():
            if fname != "id":
                specs.extend(self._field_specs(fname, attrs, fname in unique))
        return ObjectDescription(tuple(specs), label=label,
                                 location=f"{self.config.url.rstrip('/')} database "
                                 f"{self.config.database} model {obj}")

    def pages(self, obj: str, fields: Sequence[FieldSpec], *, page_size: int,
              limit: int | None, where: str | None,
              options: Mapping[str, Any]) -> Iterator[Page]:
        if where:
            raise SourceError(f"source {self.name!r}: sampling.where is not supported by kind "
                              "odoo; use options.filter with an Odoo domain, e.g. "
                              "[['state', '=', 'posted']]")
        domain = _domain(options.get("filter"), obj)
        names = list(dict.fromkeys(["id", *(f.location[0] for f in fields)]))
        kinds = {f.location[0]: f.source_type for f in fields}
        context = {"active_test": False} if self.config.include_archived else {}
        total = self.execute(obj, "search_count", [domain], {"context": context})
        rows, last = 0, 0
        while True:
            want = page_size if limit is None else min(page_size, limit - rows)
            page_domain = [["id", ">", last], *domain] if last else domain
            raw = self.execute(obj, "search_read", [page_domain],
                               {"fields": names, "limit": want, "order": "id asc",
                                "context": context})
            records = [_record(r, names, kinds) for r in raw]
            rows += len(records)
            done = len(records) < want or (limit is not None and rows >= limit)
            last = int(raw[-1]["id"]) if raw else last
            yield Page(records, None if done else str(last), total)
            if done:
                return

    def access(self, objects: list[str]) -> AccessInventory | None:
        from connectors.odoo_access import inventory

        self._check_stopped()
        return self._guard(lambda: inventory(self.execute, self.name, objects))

    def close(self) -> None:
        super().close()  # the transport's client was made by http()
        self._transport = None

    # -- describe helpers -----------------------------------------------------------------------

    def _model(self, obj: str) -> tuple[str | None, int | None]:
        """Label and id from ir.model; a model missing there does not exist."""
        try:
            rows = self.execute("ir.model", "search_read", [[["model", "=", obj]]],
                                {"fields": ["name"], "limit": 1})
        except SourceAuthError as exc:
            if "access denied" not in str(exc):
                raise
            return None, None  # fields_get below says whether the model exists
        if not rows:
            raise UnknownObject(f"source {self.name!r}: Odoo model {obj!r} does not exist in "
                                f"database {self.config.database!r}")
        return rows[0].get("name") or None, int(rows[0]["id"])

    def _unique_fields(self, model_id: int) -> set[str]:
        """Single-column unique constraints (``_sql_constraints``/``models.Constraint``)."""
        try:
            rows = self.execute("ir.model.constraint", "search_read",
                                [[["model", "=", model_id], ["type", "=", "u"]]],
                                {"fields": ["definition"]})
        except (SourceAuthError, UnknownObject) as exc:
            log.info("%s: no unique constraints (%s)", self.name, exc)
            return set()
        except SourceError as exc:
            if type(exc) is not SourceError:
                raise
            log.info("%s: no unique constraints (%s)", self.name, exc)  # Odoo < 13
            return set()
        return {m.group(1) for r in rows
                if isinstance(r.get("definition"), str) and (m := _UNIQUE.match(r["definition"]))}

    def _field_specs(self, name: str, attrs: Mapping[str, Any], unique: bool) -> list[FieldSpec]:
        ftype = str(attrs.get("type"))
        if attrs.get("store") is False or ftype == "binary":
            return []
        label = attrs.get("string") or None
        required = bool(attrs.get("required"))
        if ftype == "many2one":
            rel = attrs.get("relation") or "?"
            return [FieldSpec(name, "integer", path=(name, "id"), required=required,
                              label=label, source_type=f"many2one({rel})"),
                    FieldSpec(f"{name}_name", "string", path=(name, "display_name"),
                              label=f"{label} (name)" if label else None,
                              source_type=f"many2one({rel}).display_name")]
        if ftype in _X2MANY:
            if self.config.x2many == "skip":
                return []
            return [FieldSpec(name, "json", path=(name,), label=label,
                              source_type=f"{ftype}({attrs.get('relation') or '?'})")]
        vtype = _TYPES.get(ftype, "string")
        allowed = None
        if ftype == "selection" and isinstance(attrs.get("selection"), list):
            allowed = tuple(str(opt[0]) for opt in attrs["selection"]
                            if isinstance(opt, list | tuple) and opt)
        size = attrs.get("size")
        max_length = size if ftype == "char" and isinstance(size, int) and size > 0 else None
        return [FieldSpec(name, vtype, path=(name,), required=required, unique=unique,
                          allowed_values=allowed or None, max_length=max_length, label=label,
                          source_type=ftype)]


def _domain(value: Any, obj: str) -> list[Any]:
    """``options.filter``: an Odoo domain (list of triples and '&', '|', '!')."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(
            isinstance(t, str) and t in ("&", "|", "!")
            or isinstance(t, list | tuple) and len(t) == 3 for t in value):
        raise SourceError(f"{obj}: options.filter must be an Odoo domain: a list of "
                          "[field, operator, value] triples and '&', '|', '!' operators; "
                          f"got {value!r}")
    return [t if isinstance(t, str) else list(t) for t in value]


def _record(raw: Mapping[str, Any], names: Sequence[str],
            kinds: Mapping[str, str | None]) -> dict[str, Any]:
    """Odoo's ``False``-for-empty → None (booleans keep it); many2one → {id, display_name}."""
    out: dict[str, Any] = {}
    for name in names:
        value = raw.get(name)
        kind = kinds.get(name) or ""
        if kind == "boolean":
            out[name] = value
        elif value is False or value is None:
            out[name] = [] if kind.startswith(_X2MANY) else None
        elif kind.startswith("many2one(") and isinstance(value, list | tuple):
            out[name] = {"id": value[0], "display_name": value[1] if len(value) > 1 else None}
        else:
            out[name] = value
    return out
