"""Salesforce REST connector: SOQL paging, describe → field contracts, API limits, ACL objects.

Wire facts are in ``shared/specs/connector-protocols.md`` §1; the local fake that speaks them is
``fakeservers/salesforce.py``. Choices worth knowing:

* **Paging** is SOQL ``SELECT … FROM O [WHERE sampling.where] ORDER BY Id`` with
  ``Sforce-Query-Options: batchSize`` (Salesforce serves 200–2000 per page), following
  ``nextRecordsUrl`` until ``done``. ``ORDER BY Id`` makes pulls repeatable (seeded random
  samples draw from the first ``max_records`` records in key order).
* ``LIMIT`` is sent only for ``first n`` samples. Without it ``totalSize`` is the size of the
  whole (filtered) object and becomes the row count; with it ``totalSize`` is just ``n``, so no
  total is reported then. The ``max_records`` cap stops paging instead (at most one page more
  than needed is served, never requested).
* **Compound fields** (``address``, ``location``) are skipped: describe lists their components
  (``BillingStreet``, ``Geo__Latitude__s``…) as ordinary fields, so nothing is lost and no value
  is profiled twice.
* **Relationship paths** in ``options.fields`` (``Owner.Username``) are resolved through the
  describes of the related objects and land as flat columns (``Owner_Username``).
* **API usage**: the ``Sforce-Limit-Info: api-usage=N/M`` header of the last response is kept in
  :attr:`SalesforceConnector.api_usage` and added as a note to each Sample when its stream ends.
  ``/limits`` is read once per run before the first query; ``DailyApiRequests.Remaining == 0``
  stops the source before paging (when the user may not read ``/limits`` it is skipped).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
import pyarrow as pa
from pydantic import Field, field_validator, model_validator

from auditor.errors import SourceAuthError, SourceError, SourceQuotaExceeded, UnknownObject
from auditor.models import AccessInventory, Sample, SampleSpec
from connectors.saas.base import ObjectDescription, Page, SaasConnector, SaasSourceConfig
from connectors.saas.http import ApiClient, ApiFailure, default_classify
from connectors.saas.records import FieldSpec, ValueType, flat_name
from connectors.salesforce_auth import AccessToken, AuthConfig, SalesforceAuth, token_client

log = logging.getLogger(__name__)

#: Salesforce field type (lower-case on the wire) → column type. Unknown types load as strings.
FIELD_TYPES: dict[str, ValueType] = {
    "id": "string", "string": "string", "textarea": "string", "picklist": "string",
    "multipicklist": "string", "combobox": "string", "reference": "string",
    "email": "string", "phone": "string", "url": "string", "encryptedstring": "string",
    "base64": "string", "anytype": "string", "datacategorygroupreference": "string",
    "boolean": "boolean", "int": "integer", "long": "integer",
    "double": "float", "currency": "float", "percent": "float",
    "date": "date", "datetime": "datetime", "time": "time", "complexvalue": "json",
}
#: Compound fields: their components are separate fields of the same describe.
COMPOUND_TYPES = frozenset({"address", "location"})
#: Types whose ``length`` is a maximum number of characters the API enforces.
LENGTH_TYPES = frozenset({"string", "textarea", "picklist", "multipicklist", "combobox",
                          "email", "phone", "url", "encryptedstring"})
MIN_BATCH, MAX_BATCH = 200, 2000
_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
#: Private key in options: dotted relationship paths, once ``options.fields`` is flattened.
_PATHS = "_salesforce_paths"


#: sObject API names: ``Account``, ``Invoice__c``, ``ns__Thing__c``, ``Account__History``.
_API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class SalesforceConfig(SaasSourceConfig):
    """``kind: salesforce`` — one org, reached through its REST API."""

    kind: Literal["salesforce"] = Field(description="Source kind; always `salesforce`.")
    instance_url: str | None = Field(None, description="Org URL (https://acme.my.salesforce"
                                     ".com); default: the instance_url of the token response.")
    login_url: str = Field("https://login.salesforce.com", description="Host of the OAuth "
                           "token endpoint (My Domain URL for client credentials, "
                           "https://test.salesforce.com for sandboxes).")
    api_version: str = Field("62.0", description="REST API version, e.g. 62.0.")
    auth: AuthConfig = Field(description="How to get a token: client_credentials, jwt_bearer, "
                             "refresh_token, password (deprecated) or access_token.")

    @field_validator("instance_url", "login_url")
    @classmethod
    def _no_trailing_slash(cls, v: str | None) -> str | None:
        return v.rstrip("/") if v else v

    @field_validator("api_version")
    @classmethod
    def _version(cls, v: str) -> str:
        v = v.removeprefix("v")
        if not re.fullmatch(r"\d+\.\d", v):
            raise ValueError(f"api_version must look like 62.0, not {v!r}")
        return v

    @model_validator(mode="after")
    def _static_token_needs_instance(self) -> SalesforceConfig:
        if isinstance(self.auth, AccessToken) and not self.instance_url:
            raise ValueError("auth.flow access_token needs instance_url (there is no token "
                             "response to take it from)")
        return self


def classify(resp: httpx.Response) -> ApiFailure | None:
    """Salesforce error bodies are JSON arrays of ``{"message", "errorCode"}`` (§1.6)."""
    failure = default_classify(resp)
    if failure is None:
        return None
    code, message = _error(resp)
    if code is None:
        return failure
    text = f"{code}: {message}"
    status = resp.status_code
    if code == "INVALID_SESSION_ID":
        return ApiFailure("expired", text)
    if code == "REQUEST_LIMIT_EXCEEDED" and status != 429:
        # The same code reports the concurrent long-request limit, which clears in seconds.
        kind = "throttled" if "concurrent" in message.lower() else "quota"
        return ApiFailure(kind, text)
    if code in ("INVALID_TYPE", "NOT_FOUND"):
        return ApiFailure("not_found", text)
    if code in ("MALFORMED_QUERY", "INVALID_FIELD", "INVALID_QUERY_FILTER_OPERATOR",
                "INVALID_QUERY_LOCATOR"):
        return ApiFailure("bad_request", text)
    return ApiFailure(failure.kind, text)


def _error(resp: httpx.Response) -> tuple[str | None, str]:
    try:
        body = resp.json()
    except ValueError:
        return None, ""
    first = body[0] if isinstance(body, list) and body else body
    if isinstance(first, dict) and "errorCode" in first:
        return str(first["errorCode"]), str(first.get("message") or "").strip()
    return None, ""


def field_spec(f: Mapping[str, Any]) -> FieldSpec | None:
    """One describe field → FieldSpec; None for compound fields (see module docstring)."""
    sf_type = str(f.get("type") or "string").lower()
    if sf_type in COMPOUND_TYPES:
        return None
    name = str(f["name"])
    is_id = sf_type == "id"
    allowed = None
    if sf_type == "picklist" and f.get("restrictedPicklist"):
        allowed = tuple(str(v["value"]) for v in f.get("picklistValues") or ()
                        if v.get("active", True))
    length = f.get("length") if sf_type in LENGTH_TYPES else None
    return FieldSpec(
        name=name, type=FIELD_TYPES.get(sf_type, "string"),
        required=is_id or (f.get("nillable") is False and bool(f.get("createable"))),
        unique=bool(f.get("unique")) or is_id, primary_key=is_id and name == "Id",
        allowed_values=allowed, max_length=int(length) if length else None,
        label=f.get("label"), source_type=sf_type)


def strip_attributes(record: Mapping[str, Any]) -> dict[str, Any]:
    """Drop ``attributes`` at every level (relationship objects carry their own)."""
    return {k: strip_attributes(v) if isinstance(v, Mapping) else v
            for k, v in record.items() if k != "attributes"}


def soql_name(f: FieldSpec) -> str:
    return ".".join(f.location)


class SalesforceConnector(SaasConnector):
    """Reads sObjects through the REST API; see the module docstring for the choices made."""

    kind: ClassVar[str] = "salesforce"
    config_model: ClassVar[type[SaasSourceConfig]] = SalesforceConfig
    max_page_size: ClassVar[int] = MAX_BATCH

    def __init__(self, name: str, config: SaasSourceConfig, base_dir: Path) -> None:
        super().__init__(name, config, base_dir)
        assert isinstance(config, SalesforceConfig)
        self.cfg = config
        self.auth = SalesforceAuth(config.auth, login_url=config.login_url, base_dir=base_dir,
                                   client_factory=token_client(self.http))
        #: ``(used, max)`` from the last ``Sforce-Limit-Info`` header seen.
        self.api_usage: tuple[int, int] | None = None
        #: ``DailyApiRequests`` from ``/limits`` (None until read, or when not permitted).
        self.daily_limit: dict[str, int] | None = None
        self._limits_checked = False
        self._api: ApiClient | None = None
        self._describes: dict[str, dict[str, Any]] = {}

    @property
    def base_path(self) -> str:
        return f"/services/data/v{self.cfg.api_version}"

    # -- transport --------------------------------------------------------------------------

    def _client(self) -> ApiClient:
        if self._api is None:
            self.auth.ensure()
            base = self.cfg.instance_url or self.auth.instance_url
            if not base:
                raise SourceAuthError(f"source {self.name!r}: the token response has no "
                                      "instance_url", hint="set instance_url in the config")
            self._api = self.http(base, auth=self.auth, classify=classify,
                                  headers={"Accept": "application/json"})
        return self._api

    def get(self, path: str, **kwargs: Any) -> Any:
        """GET a JSON resource; records the API usage header of the answer."""
        client = self._client()
        try:
            return client.json("GET", path, **kwargs)
        finally:
            m = _USAGE.search(client.last_headers.get("Sforce-Limit-Info", ""))
            if m:
                self.api_usage = (int(m.group(1)), int(m.group(2)))

    def query(self, soql: str, batch_size: int = MAX_BATCH) -> Iterator[dict[str, Any]]:
        """Every record of a SOQL query (``attributes`` stripped), page after page."""
        for page in self._query_pages(soql, batch_size):
            yield from page.records

    def _query_pages(self, soql: str, batch_size: int, *,
                     report_total: bool = True) -> Iterator[Page]:
        batch = max(MIN_BATCH, min(MAX_BATCH, batch_size))
        data = self.get(f"{self.base_path}/query", params={"q": soql},
                        headers={"Sforce-Query-Options": f"batchSize={batch}"})
        while True:
            nxt = None if data.get("done", True) else data.get("nextRecordsUrl")
            yield Page([strip_attributes(r) for r in data.get("records") or []], nxt,
                       data.get("totalSize") if report_total else None)
            if not nxt:
                return
            data = self.get(nxt)

    # -- SaasConnector hooks ----------------------------------------------------------------

    def list_objects(self) -> list[str]:
        data = self.get(f"{self.base_path}/sobjects")
        return sorted(s["name"] for s in data.get("sobjects", []) if s.get("queryable"))

    def describe(self, obj: str, options: Mapping[str, Any]) -> ObjectDescription:
        raw = self._describe(obj)
        fields = [spec for f in raw.get("fields", []) if (spec := field_spec(f))]
        paths = options.get(_PATHS) or [f for f in options.get("fields") or () if "." in f]
        fields.extend(self._path_spec(obj, dotted) for dotted in paths)
        return ObjectDescription(tuple(fields), label=raw.get("label"))

    def pages(self, obj: str, fields: Sequence[FieldSpec], *, page_size: int,
              limit: int | None, where: str | None,
              options: Mapping[str, Any]) -> Iterator[Page]:
        self._check_limits()
        soql = f"SELECT {', '.join(soql_name(f) for f in fields)} FROM {obj}"
        if where:
            soql += f" WHERE {where}"
        soql += " ORDER BY Id"
        first_n = limit is not None and limit < self.config.max_records
        if first_n:
            soql += f" LIMIT {limit}"
        try:
            yield from self._query_pages(soql, page_size, report_total=not first_n)
        except UnknownObject as exc:
            raise UnknownObject(f"Salesforce object {obj!r} of source {self.name!r} cannot be "
                                f"queried: {exc}", hint="check dataset `object` against "
                                "`auditor discover`") from None

    def sample(self, obj: str, spec: SampleSpec, options: Mapping[str, Any]) -> Sample:
        """The base pull, with dotted ``options.fields`` flattened and an API-usage note."""
        wanted = options.get("fields")
        if wanted and any("." in w for w in wanted):
            options = {**options, "fields": [flat_name(w.split(".")) for w in wanted],
                       _PATHS: [w for w in wanted if "." in w]}
        sample = super().sample(obj, spec, options)
        inner = sample.reader

        def batches() -> Iterator[pa.RecordBatch]:
            yield from inner
            if self.api_usage:
                used, cap = self.api_usage
                sample.notes.append(f"Salesforce API usage after this pull: {used:,} of "
                                    f"{cap:,} daily requests (Sforce-Limit-Info)")

        sample.reader = pa.RecordBatchReader.from_batches(inner.schema, batches())
        return sample

    def access(self, objects: list[str]) -> AccessInventory | None:
        """Who can read ``objects``: permission sets, profiles and groups (§1.7)."""
        from connectors.salesforce_access import inventory

        self._check_stopped()
        try:
            return self._guard(lambda: inventory(self.name, self.query, objects,
                                                 self._permissionable(objects)))
        except (SourceAuthError, UnknownObject) as exc:
            raise SourceError(f"source {self.name!r}: permission objects cannot be read: {exc}",
                              hint="the integration user needs the View Setup and "
                              "Configuration permission") from None

    def _permissionable(self, objects: list[str]) -> dict[str, list[tuple[str, bool]]]:
        """``(field, permissionable)`` per object from its describe; a field without the key
        is governed by field-level security unless it is the Id."""
        out = {}
        for obj in objects:
            try:
                described = self._describe(obj)
            except UnknownObject:
                continue
            out[obj] = [(f["name"], bool(f.get("permissionable", f["name"] != "Id")))
                        for f in described.get("fields", [])]
        return out

    def close(self) -> None:
        super().close()  # the API and token clients, both made by http()
        self._api = None

    # -- helpers ----------------------------------------------------------------------------

    def _describe(self, obj: str) -> dict[str, Any]:
        if not _API_NAME.fullmatch(obj):  # it goes into a URL path and into SOQL's FROM
            raise UnknownObject(f"source {self.name!r}: {obj!r} is not a Salesforce object API "
                                "name (letters, digits and underscores, e.g. Account, "
                                "Invoice__c)")
        if obj not in self._describes:
            try:
                self._describes[obj] = self.get(f"{self.base_path}/sobjects/{obj}/describe")
            except UnknownObject as exc:
                raise UnknownObject(f"Salesforce object {obj!r} does not exist in source "
                                    f"{self.name!r} (or the user cannot see it): {exc}",
                                    hint="`auditor discover` lists the queryable objects"
                                    ) from None
        return self._describes[obj]

    def _path_spec(self, obj: str, dotted: str) -> FieldSpec:
        """``Owner.Username`` → a FieldSpec typed by User.Username, at ("Owner", "Username")."""
        parts = dotted.split(".")
        where, canonical = obj, []
        for rel in parts[:-1]:
            ref = next((f for f in self._describe(where).get("fields", [])
                        if str(f.get("relationshipName") or "").lower() == rel.lower()), None)
            if ref is None or not ref.get("referenceTo"):
                raise UnknownObject(f"{obj}: options.fields {dotted!r}: {where} has no "
                                    f"relationship {rel!r}")
            canonical.append(str(ref["relationshipName"]))
            where = str(ref["referenceTo"][0])  # polymorphic: the first target's describe
        leaf = next((f for f in self._describe(where).get("fields", [])
                     if str(f["name"]).lower() == parts[-1].lower()), None)
        spec = field_spec(leaf) if leaf else None
        if spec is None:
            raise UnknownObject(f"{obj}: options.fields {dotted!r}: {where} has no field "
                                f"{parts[-1]!r}")
        return FieldSpec(name=flat_name(parts), type=spec.type,
                         path=(*canonical, spec.name), max_length=spec.max_length,
                         allowed_values=spec.allowed_values, label=spec.label,
                         source_type=spec.source_type)

    def _check_limits(self) -> None:
        if self._limits_checked:
            return
        self._limits_checked = True
        try:
            data = self.get(f"{self.base_path}/limits")
        except (SourceAuthError, UnknownObject) as exc:
            log.info("%s: /limits not readable, daily quota not checked: %s", self.name, exc)
            return
        daily = data.get("DailyApiRequests") if isinstance(data, dict) else None
        if not isinstance(daily, dict):
            return
        self.daily_limit = {k: int(v) for k, v in daily.items() if isinstance(v, int)}
        if daily.get("Remaining") == 0:
            raise SourceQuotaExceeded(
                f"source {self.name!r}: DailyApiRequests has 0 of {daily.get('Max')} requests "
                "remaining (/limits)", hint="wait for the 24-hour window to free requests")
