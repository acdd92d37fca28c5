"""HubSpot CRM v3: standard and custom objects through the objects, properties and schemas APIs.

Why it reads HubSpot this way (facts: ``shared/specs/connector-protocols.md`` §2):

* **Auth.** A private-app token (``pat-…``) is static: when HubSpot rejects it there is nothing
  to renew, so its ``refresh`` says so and the source fails at once with
  SRC004. OAuth apps hold a refresh token; the access token (30 min) is fetched from
  ``token_url`` on first use, renewed shortly before it expires and, when a request is
  rejected anyway, once more by the shared client.
* **Types.** ``GET /crm/v3/properties/{type}`` is the only metadata; every value on the wire is
  a string or null, so the property ``type`` decides the column type. HubSpot has no integer
  type (``number`` → float). Enumeration options become ``allowed_values`` because HubSpot
  rejects other values on write — except multi-select checkboxes (values are ``a;b`` lists)
  and external options (owners, pipelines: the list lives elsewhere), which stay open strings.
  Properties carry no "required" flag; custom object schemas list ``requiredProperties``, which
  HubSpot enforces on create, so those (and the record id) are the only required columns.
* **Sensitivity.** ``dataSensitivity`` (``sensitive``/``highly_sensitive``) becomes the
  column's ``sensitivity``: the audit treats the column as PII on the vendor's own
  classification (PII001 says so).
* **Paging.** Cursor only (``after`` = ``paging.next.after``; no ``paging`` on the last page),
  at most 100 per page, no total. ``archived=false`` always. The list endpoint has no filter:
  ``sampling.where`` is refused (the search API has one, with other limits; not used here).
* **Limits.** 429 with ``policyName: DAILY`` is the daily quota (the source stops); other
  policies are burst limits and are retried. ``X-HubSpot-RateLimit-Daily-Remaining`` is kept in
  :attr:`HubSpotConnector.daily_remaining` and noted on each sample.
* **Access.** HubSpot exposes no per-object ACL API to an integration (permission sets live in
  the account settings UI), so this connector has no ``access`` method.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import Field, SecretStr, model_validator

from auditor.errors import SourceAuthError, SourceDataError, SourceError, UnknownObject
from auditor.models import Sample, SampleSpec
from connectors.saas.base import ObjectDescription, Page, SaasConnector, SaasSourceConfig
from connectors.saas.http import ApiClient, ApiFailure, NoAuth, default_classify
from connectors.saas.oauth import OAuthToken, StaticToken
from connectors.saas.records import FieldSpec, ValueType

log = logging.getLogger(__name__)

#: Standard object types and their ids (``0-n``); custom objects come from ``/crm/v3/schemas``.
STANDARD_OBJECTS: dict[str, str] = {
    "contacts": "0-1", "companies": "0-2", "deals": "0-3", "tickets": "0-5", "products": "0-7",
    "line_items": "0-8", "quotes": "0-14", "communications": "0-18",
    "feedback_submissions": "0-19", "tasks": "0-27", "notes": "0-46", "meetings": "0-47",
    "calls": "0-48", "emails": "0-49", "invoices": "0-53", "postal_mail": "0-116",
    "leads": "0-136",
}
ID_PROPERTY = "hs_object_id"
#: Record fields outside ``properties`` that every object has (``id`` is ``hs_object_id``).
RECORD_FIELDS: tuple[tuple[str, ValueType], ...] = (
    ("createdAt", "datetime"), ("updatedAt", "datetime"), ("archived", "boolean"))
_TYPES: dict[str, ValueType] = {
    "string": "string", "phone_number": "string", "number": "float", "date": "date",
    "datetime": "datetime", "bool": "boolean", "enumeration": "string", "json": "json",
    "object_coordinates": "string"}
#: Renew an OAuth access token this many seconds before HubSpot says it expires.


class HubSpotConfig(SaasSourceConfig):
    """``kind: hubspot``: a private-app token, or an OAuth app's refresh token."""

    kind: Literal["hubspot"] = Field("hubspot", description="HubSpot CRM v3 API.")
    base_url: str = Field("https://api.hubapi.com", description="API root (a proxy or test "
                          "server may stand in).")
    access_token: SecretStr | None = Field(None, description="Private app access token "
                                           "(pat-…); static, cannot be renewed.")
    client_id: str | None = Field(None, description="OAuth app client id.")
    client_secret: SecretStr | None = Field(None, description="OAuth app client secret.")
    refresh_token: SecretStr | None = Field(None, description="OAuth refresh token of the "
                                            "installed app.")
    token_url: str | None = Field(None, description="OAuth token endpoint (default "
                                  "{base_url}/oauth/v1/token).")

    @model_validator(mode="after")
    def _one_auth(self) -> HubSpotConfig:
        oauth = (self.client_id, self.client_secret, self.refresh_token)
        if self.access_token is not None and any(v is not None for v in oauth):
            raise ValueError("give either access_token (private app) or client_id + "
                             "client_secret + refresh_token (OAuth), not both")
        if self.access_token is None and not all(v is not None for v in oauth):
            raise ValueError("needs access_token (private app), or client_id, client_secret "
                             "and refresh_token (OAuth)")
        return self

    @property
    def oauth_token_url(self) -> str:
        return self.token_url or f"{self.base_url.rstrip('/')}/oauth/v1/token"


# -- auth ---------------------------------------------------------------------------------------


class OAuthRefreshAuth(OAuthToken):
    """Access tokens from ``grant_type=refresh_token``; HubSpot may rotate the refresh token."""

    def __init__(self, client: ApiClient, token_url: str, client_id: str,
                 client_secret: SecretStr, refresh_token: SecretStr) -> None:
        super().__init__(client, token_url)
        self._id = client_id
        self._secret = client_secret
        self._refresh = refresh_token

    def form(self) -> tuple[dict[str, str], dict[str, str]]:
        return {"grant_type": "refresh_token", "client_id": self._id,
                "client_secret": self._secret.get_secret_value(),
                "refresh_token": self._refresh.get_secret_value()}, {}

    def accept(self, body: Mapping[str, Any]) -> None:
        if body.get("refresh_token"):  # keep the newest
            self._refresh = SecretStr(str(body["refresh_token"]))


# -- error bodies -------------------------------------------------------------------------------


def _body(resp: httpx.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def classify(resp: httpx.Response, *, token: str = "access token") -> ApiFailure | None:
    """Read HubSpot's error bodies (§2.4, §2.5); ``token`` names the credential in messages."""
    if resp.status_code < 400:
        return None
    body = _body(resp)
    message = str(body.get("message") or "").strip()
    category = str(body.get("category") or "")
    if not message:
        return default_classify(resp)
    if resp.status_code == 401 or category in ("INVALID_AUTHENTICATION",
                                               "EXPIRED_AUTHENTICATION"):
        return ApiFailure("expired", f"HubSpot rejected the {token}, {category or 'HTTP 401'}: "
                          f"{message}")
    if resp.status_code == 403:
        scopes = required_scopes(body)
        needs = f"; required scopes: {', '.join(scopes)}" if scopes else ""
        return ApiFailure("denied", f"{category or 'FORBIDDEN'}: {message}{needs}")
    if resp.status_code == 429:
        policy = str(body.get("policyName") or "unknown")
        if body.get("errorType") == "RATE_LIMIT" and policy == "DAILY":
            return ApiFailure("quota", f"daily API limit reached (policy DAILY): {message}")
        return ApiFailure("throttled", f"rate limit {policy}: {message}",
                          retry_after=interval_wait(resp.headers))
    if resp.status_code == 404 or "Unable to infer object type" in message:
        return ApiFailure("not_found", message)
    if resp.status_code >= 500:
        return ApiFailure("transient", message)
    details = "; ".join(f"{e.get('in')}: {e.get('message')}" if e.get("in") else
                        str(e.get("message")) for e in body.get("errors") or []
                        if isinstance(e, dict))
    return ApiFailure("bad_request", f"{category or resp.status_code}: {message}"
                      + (f" ({details})" if details else ""))


def required_scopes(body: Mapping[str, Any]) -> list[str]:
    """``errors[].context.requiredScopes`` of a 403 MISSING_SCOPES body."""
    out: list[str] = []
    for err in body.get("errors") or []:
        ctx = err.get("context") if isinstance(err, dict) else None
        for scope in (ctx or {}).get("requiredScopes") or []:
            if scope not in out:
                out.append(str(scope))
    return out


def interval_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait on a burst 429 without ``Retry-After``: HubSpot's rolling window
    (``Retry-After`` is not documented by HubSpot; the shared client prefers it when sent)."""
    raw = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
    try:
        return max(0.0, float(raw) / 1000) if raw else None
    except ValueError:
        return None


# -- metadata -> fields -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObjectType:
    """An object as the API addresses it: ``path`` goes into the URL."""

    path: str
    label: str | None = None
    required: frozenset[str] = frozenset()


def field_spec(prop: Mapping[str, Any], required: frozenset[str]) -> FieldSpec:
    """One property definition → one column."""
    name = str(prop["name"])
    htype = str(prop.get("type") or "string")
    ftype = str(prop.get("fieldType") or "")
    vtype: ValueType = _TYPES.get(htype, "string")
    allowed = None
    if htype == "enumeration" and ftype != "checkbox" and not prop.get("externalOptions"):
        values = tuple(str(o["value"]) for o in prop.get("options") or [] if "value" in o)
        allowed = values or None
    if name == ID_PROPERTY:
        vtype = "string"  # an identifier, exact as HubSpot writes it in ``id``; no arithmetic
    source_type = f"{htype}/{ftype}" if ftype else htype
    sensitivity = prop.get("dataSensitivity")
    if sensitivity not in ("sensitive", "highly_sensitive"):
        sensitivity = None
    return FieldSpec(name=name, type=vtype, path=("properties", name),
                     required=name in required or name == ID_PROPERTY,
                     unique=bool(prop.get("hasUniqueValue")) or name == ID_PROPERTY,
                     primary_key=name == ID_PROPERTY, allowed_values=allowed,
                     label=prop.get("label") or None, source_type=source_type,
                     sensitivity=sensitivity)


# -- connector ----------------------------------------------------------------------------------


class HubSpotConnector(SaasConnector):
    """CRM objects of one HubSpot account."""

    kind = "hubspot"
    config_model = HubSpotConfig
    max_page_size = 100

    def __init__(self, name: str, config: HubSpotConfig, base_dir: Path) -> None:
        super().__init__(name, config, base_dir)
        self.config: HubSpotConfig = config
        self._token_client: ApiClient | None = None
        if config.access_token is not None:
            auth: Any = StaticToken(config.access_token)
            what = "private app token, which cannot be renewed"
        else:
            self._token_client = self.http(config.base_url, auth=NoAuth(),
                                           classify=_token_classify)
            assert config.client_id and config.client_secret and config.refresh_token
            auth = OAuthRefreshAuth(self._token_client, config.oauth_token_url,
                                    config.client_id, config.client_secret,
                                    config.refresh_token)
            what = "OAuth access token"
        self.auth = auth
        self.api = self.http(config.base_url, auth=auth,
                             classify=lambda r: classify(r, token=what),
                             headers={"Accept": "application/json"})
        self._schemas: list[dict[str, Any]] | None = None
        self._schemas_problem = ""
        #: Last ``X-HubSpot-RateLimit-Daily-Remaining`` seen (absent for public OAuth apps).
        self.daily_remaining: int | None = None

    # -- hooks --------------------------------------------------------------------------------

    def list_objects(self) -> list[str]:
        return list(STANDARD_OBJECTS) + sorted(str(s["name"]) for s in self._custom())

    def describe(self, obj: str, options: Mapping[str, Any]) -> ObjectDescription:
        otype = self._resolve(obj)
        body = self._get(f"/crm/v3/properties/{otype.path}", {"archived": "false"})
        props = [p for p in _results(body, "properties") if isinstance(p, dict) and "name" in p]
        wanted = set(options.get("fields") or ())
        fields = [field_spec(p, otype.required) for p in props
                  if p["name"] == ID_PROPERTY or not (p.get("hidden") or p.get("archived"))]
        if not any(f.name == ID_PROPERTY for f in fields):
            fields.insert(0, field_spec({"name": ID_PROPERTY, "type": "number",
                                         "label": "Record ID"}, otype.required))
        fields.sort(key=lambda f: f.name != ID_PROPERTY)  # stable: the key first, API order
        names = {f.name for f in fields}
        fields += [FieldSpec(n, t, path=(n,), source_type=f"record.{n}")
                   for n, t in RECORD_FIELDS if n not in names]
        if wanted:
            fields = [f for f in fields if f.name in wanted or f.primary_key]
        return ObjectDescription(tuple(fields), label=otype.label,
                                 location=f"{self.config.base_url}/crm/v3/objects/{otype.path}")

    def pages(self, obj: str, fields: Sequence[FieldSpec], *, page_size: int,
              limit: int | None, where: str | None,
              options: Mapping[str, Any]) -> Iterator[Page]:
        if where:
            raise SourceError(f"source {self.name!r}: sampling.where is not supported by kind "
                              "hubspot (the list API has no filter); narrow with options.fields "
                              "or pull through HubSpot's search API / a view outside the audit")
        if options.get("filter"):
            raise SourceError(f"source {self.name!r}: options.filter is not supported by kind "
                              "hubspot; the objects list API cannot filter")
        otype = self._resolve(obj)
        props = [f.path[1] for f in fields if f.path[:1] == ("properties",)]
        after: str | None = None
        got = 0
        while True:
            want = page_size if limit is None else max(1, min(page_size, limit - got))
            params: dict[str, Any] = {"limit": want, "archived": "false",
                                      "properties": ",".join(props)}
            if after is not None:
                params["after"] = after
            body = self._get(f"/crm/v3/objects/{otype.path}", params)
            records = [_record(r, fields) for r in _results(body, "records")]
            paging = body.get("paging") or {}
            nxt = (paging.get("next") or {}).get("after") if isinstance(paging, dict) else None
            after = str(nxt) if nxt not in (None, "") else None
            got += len(records)
            yield Page(records, next_cursor=after)
            if after is None or (limit is not None and got >= limit):
                return

    def sample(self, obj: str, spec: SampleSpec, options: Mapping[str, Any]) -> Sample:
        sample = super().sample(obj, spec, options)
        if self.daily_remaining is not None:
            sample.notes.append(f"HubSpot daily API calls remaining after the first page: "
                                f"{self.daily_remaining:,}")
        return sample

    def close(self) -> None:
        super().close()  # the API and token clients, both made by http()

    # -- helpers ------------------------------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        body = self.api.json("GET", path, params=params)
        remaining = self.api.last_headers.get("X-HubSpot-RateLimit-Daily-Remaining")
        if remaining is not None and remaining.strip().isdigit():
            self.daily_remaining = int(remaining)
        if not isinstance(body, dict):
            raise SourceDataError(f"source {self.name!r}: GET {path}: expected a JSON object, "
                                  f"got {type(body).__name__}")
        return body

    def _custom(self) -> list[dict[str, Any]]:
        """Custom object schemas (cached for the run)."""
        if self._schemas is None:
            try:
                body = self._get("/crm/v3/schemas", {"archived": "false"})
            except SourceAuthError as exc:
                if "MISSING_SCOPES" not in str(exc):
                    raise
                # Standard objects stay readable without the schemas scope; say what is missing.
                log.warning("%s", exc)
                self._schemas_problem = f"custom objects are not listed: {exc}"
                body = {"results": []}
            self._schemas = [s for s in _results(body, "schemas")
                             if isinstance(s, dict) and s.get("objectTypeId") and s.get("name")]
        return self._schemas

    def _resolve(self, obj: str) -> ObjectType:
        """A configured name (``contacts``, ``0-1``, ``cars``, ``2-123``, ``p123_cars``) → how
        the API addresses it; custom objects by their ``objectTypeId``."""
        if obj in STANDARD_OBJECTS:
            return ObjectType(obj, obj.replace("_", " ").capitalize())
        by_id = {v: k for k, v in STANDARD_OBJECTS.items()}
        if obj in by_id:
            return ObjectType(obj, by_id[obj].replace("_", " ").capitalize())
        for s in self._custom():
            if obj in (s.get("name"), s.get("objectTypeId"), s.get("fullyQualifiedName")):
                labels = s.get("labels") or {}
                return ObjectType(str(s["objectTypeId"]), labels.get("singular") or s["name"],
                                  frozenset(map(str, s.get("requiredProperties") or ())))
        if obj.startswith("0-") and obj[2:].isdigit():
            return ObjectType(obj)  # a standard type newer than this list; the API decides
        known = ", ".join(self.list_objects()[:30])
        problem = f" ({self._schemas_problem})" if self._schemas_problem else ""
        raise UnknownObject(f"source {self.name!r} (hubspot): no object type {obj!r}; "
                            f"known: {known}{problem}", hint="use a standard type name (contacts), "
                            "its id (0-1), or a custom object's name or objectTypeId (2-123)")


def _token_classify(resp: httpx.Response) -> ApiFailure | None:
    """The token endpoint: 400 ``BAD_REFRESH_TOKEN`` / ``BAD_CLIENT_ID`` … are credential
    problems (→ SRC004), not bad requests."""
    if resp.status_code < 400:
        return None
    body = _body(resp)
    if resp.status_code in (400, 401, 403) and body:
        status = body.get("status") or body.get("category") or resp.status_code
        return ApiFailure("expired", f"OAuth refresh refused: {status}: "
                          f"{body.get('message') or ''}".rstrip(": "))
    return default_classify(resp)


def _results(body: Mapping[str, Any], what: str) -> list[Any]:
    results = body.get("results")
    if not isinstance(results, list):
        raise SourceDataError(f"HubSpot answered without a results list of {what}")
    return results


def _record(raw: Any, fields: Sequence[FieldSpec]) -> dict[str, Any]:
    """Keep the requested values in field order; ``""`` (a cleared property) is null for every
    non-string type, as HubSpot means it."""
    if not isinstance(raw, dict):
        raise SourceDataError(f"HubSpot record is a {type(raw).__name__}, not an object")
    props = raw.get("properties") or {}
    out: dict[str, Any] = {"properties": {}}
    for f in fields:
        if f.path[:1] == ("properties",):
            value = props.get(f.name)
            if value == "" and f.type not in ("string", "json"):
                value = None
            out["properties"][f.name] = value
        else:
            out[f.name] = raw.get(f.name)
    return out
