"""A thin OData reader shared by the SAP (v2/v4) and Dataverse (v4) connectors.

Why our own and not pyodata: pyodata speaks v2 only, Dataverse needs v4, and the two dialects
differ in a handful of places that fit in one module (connector-protocols §4): where the rows
are (``d.results`` / ``value``), where the next page is (``d.__next`` / ``@odata.nextLink``),
how the total is counted (``$inlinecount=allpages`` → ``__count`` string / ``$count=true`` →
``@odata.count``), how errors are worded (``message`` object ``{lang, value}`` / string) and
what ``$metadata`` looks like (EDMX 1.0 + CSDL 2008/09 / EDMX 4.0 + CSDL 4.0). The
``$metadata`` parser here reads both by element *local* names, so one walk serves every
namespace version; SAP's ``sap:*`` attributes are read in their own namespace.

Everything goes through :class:`~connectors.saas.http.ApiClient` (retries, one re-auth, quota);
this module adds no retry loop of its own.
"""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx
from pydantic import SecretStr

from auditor.errors import SourceDataError
from connectors.saas.base import Page
from connectors.saas.http import ApiClient, ApiFailure, default_classify
from connectors.saas.oauth import OAuthToken
from connectors.saas.oauth import token_classify as oauth_token_classify
from connectors.saas.records import FieldSpec, ValueType

SAP_NS = "http://www.sap.com/Protocols/SAPData"

#: Edm primitive type → FieldSpec type. Binary, Stream and the spatial types are not columns
#: the auditor can profile, so properties of those types are skipped (see :func:`field_type`).
EDM_TYPES: dict[str, ValueType] = {
    "Edm.String": "string", "Edm.Guid": "string", "Edm.Duration": "string",
    "Edm.Byte": "integer", "Edm.SByte": "integer", "Edm.Int16": "integer",
    "Edm.Int32": "integer", "Edm.Int64": "integer",
    "Edm.Decimal": "float", "Edm.Double": "float", "Edm.Single": "float",
    "Edm.Boolean": "boolean", "Edm.DateTime": "datetime", "Edm.DateTimeOffset": "datetime",
    "Edm.Date": "date", "Edm.TimeOfDay": "time", "Edm.Time": "time",
}
_SKIPPED_PREFIXES = ("Edm.Binary", "Edm.Stream", "Edm.Geography", "Edm.Geometry")


# -- $metadata ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Property:
    """One structural property of an entity type, with the facets the auditor uses."""

    name: str
    type: str
    nullable: bool = True
    max_length: int | None = None
    label: str | None = None
    #: SAP v2 ``sap:display-format`` ("Date" turns an Edm.DateTime into a date column).
    display_format: str | None = None
    #: SAP v2 ``sap:value-list`` ("fixed-values" = the domain's fixed values are enforced).
    value_list: str | None = None


@dataclass(slots=True)
class EntityType:
    name: str
    key: tuple[str, ...] = ()
    properties: dict[str, Property] = field(default_factory=dict)
    label: str | None = None
    base_type: str | None = None


@dataclass(slots=True)
class Metadata:
    """What ``$metadata`` says: entity sets → entity types, enum members, value lists."""

    version: str
    entity_sets: dict[str, str] = field(default_factory=dict)
    entity_types: dict[str, EntityType] = field(default_factory=dict)
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    complex_types: set[str] = field(default_factory=set)
    #: ``"Type/Property"`` (unqualified type name) → (CollectionPath, ValueListProperty).
    value_lists: dict[str, tuple[str, str]] = field(default_factory=dict)

    def entity_type(self, entity_set: str) -> EntityType:
        """The set's type with inherited keys and properties merged in (Dataverse types derive
        from ``crmbaseentity``)."""
        et = self.entity_types[_local(self.entity_sets[entity_set])]
        chain = [et]
        while chain[-1].base_type and _local(chain[-1].base_type) in self.entity_types:
            chain.append(self.entity_types[_local(chain[-1].base_type)])
        merged = EntityType(et.name, label=et.label)
        for t in reversed(chain):
            merged.key = t.key or merged.key
            merged.properties.update(t.properties)
        return merged


def _local(qualified: str) -> str:
    """``API_X.A_PartnerType`` or ``mscrm.account`` → the unqualified name."""
    return qualified.rsplit(".", 1)[-1]


def _tag(el: ET.Element) -> str:
    return el.tag.rsplit("}", 1)[-1]


def _children(el: ET.Element, name: str) -> Iterator[ET.Element]:
    return (c for c in el if _tag(c) == name)


def _label(el: ET.Element) -> str | None:
    """``sap:label`` (v2) or an inline ``Common.Label`` annotation (SAP v4)."""
    label = el.get(f"{{{SAP_NS}}}label")
    if label:
        return label
    for ann in _children(el, "Annotation"):
        if (ann.get("Term") or "").endswith(".Label") and ann.get("String"):
            return ann.get("String")
    return None


def parse_metadata(data: bytes) -> Metadata:
    """Parse an EDMX document (OData v2 or v4) into :class:`Metadata`."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise SourceDataError(f"$metadata is not well-formed XML: {exc}") from None
    meta = Metadata(version=root.get("Version", "?"))
    for schema in (el for el in root.iter() if _tag(el) == "Schema"):
        for el in schema:
            kind = _tag(el)
            if kind == "EntityType":
                meta.entity_types[el.get("Name", "")] = _entity_type(el)
            elif kind == "EnumType":
                meta.enums[el.get("Name", "")] = tuple(
                    m.get("Name", "") for m in _children(el, "Member"))
            elif kind == "ComplexType":
                meta.complex_types.add(el.get("Name", ""))
            elif kind == "EntityContainer":
                for es in _children(el, "EntitySet"):
                    meta.entity_sets[es.get("Name", "")] = es.get("EntityType", "")
            elif kind == "Annotations":
                _value_list(el, meta)
    return meta


def _entity_type(el: ET.Element) -> EntityType:
    et = EntityType(el.get("Name", ""), label=_label(el), base_type=el.get("BaseType"))
    for key in _children(el, "Key"):
        et.key = tuple(ref.get("Name", "") for ref in _children(key, "PropertyRef"))
    for p in _children(el, "Property"):
        max_length = p.get("MaxLength")
        et.properties[p.get("Name", "")] = Property(
            name=p.get("Name", ""), type=p.get("Type", "Edm.String"),
            nullable=p.get("Nullable", "true").lower() != "false",
            max_length=int(max_length) if max_length and max_length.isdigit() else None,
            label=_label(p), display_format=p.get(f"{{{SAP_NS}}}display-format"),
            value_list=p.get(f"{{{SAP_NS}}}value-list"))
    return et


def _value_list(annotations: ET.Element, meta: Metadata) -> None:
    """SAP's ``Common.ValueList`` annotation: which entity set holds a property's values."""
    target = annotations.get("Target", "")
    if "/" not in target:
        return
    type_name, prop = target.split("/", 1)
    for ann in _children(annotations, "Annotation"):
        if not (ann.get("Term") or "").endswith(".ValueList"):
            continue
        values = {pv.get("Property"): pv for pv in ann.iter() if _tag(pv) == "PropertyValue"}
        collection = values.get("CollectionPath")
        if collection is None or collection.get("String") is None:
            continue
        column = None
        for rec in ann.iter():
            props = {pv.get("Property"): pv for pv in _children(rec, "PropertyValue")}
            local = props.get("LocalDataProperty")
            if local is not None and local.get("PropertyPath") == prop \
                    and "ValueListProperty" in props:
                column = props["ValueListProperty"].get("String")
        if column:
            meta.value_lists[f"{_local(type_name)}/{prop}"] = (collection.get("String", ""),
                                                               column)


def field_type(prop: Property, meta: Metadata) -> tuple[ValueType, tuple[str, ...] | None] | None:
    """FieldSpec type (and enum members) of a property; None = not a column (binary, spatial).

    SAP v2 has no Edm.Date: a date is an Edm.DateTime marked ``sap:display-format="Date"``.
    Enum-typed properties (v4) travel as member names, so they are strings whose allowed values
    are the members; complex and collection types are kept as JSON text.
    """
    t = prop.type
    if t.startswith(_SKIPPED_PREFIXES):
        return None
    if t == "Edm.DateTime" and (prop.display_format or "").lower() == "date":
        return "date", None
    if t in EDM_TYPES:
        return EDM_TYPES[t], None
    if t.startswith("Collection(") or _local(t) in meta.complex_types:
        return "json", None
    if _local(t) in meta.enums:
        return "string", meta.enums[_local(t)]
    return "string", None


def fields_of(et: EntityType, meta: Metadata) -> list[FieldSpec]:
    """Structural properties → FieldSpecs (navigation properties are never columns)."""
    out = []
    for prop in et.properties.values():
        typed = field_type(prop, meta)
        if typed is None:
            continue
        ftype, allowed = typed
        key = prop.name in et.key
        out.append(FieldSpec(prop.name, ftype, required=key or not prop.nullable,
                             unique=key and len(et.key) == 1, primary_key=key,
                             allowed_values=allowed, max_length=prop.max_length,
                             label=prop.label, source_type=prop.type))
    return out


# -- errors ------------------------------------------------------------------------------------


def error_text(resp: httpx.Response) -> str | None:
    """The vendor's own words from a v2 or v4 error body (JSON or XML), or from an OAuth error.

    v2 (SAP Gateway): ``{"error": {"code", "message": {"lang", "value"}, "innererror":
    {"errordetails": [{"message"}]}}}``; v4: ``{"error": {"code", "message": "…"}}``.
    """
    try:
        body = resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _xml_error(resp.content)
    if not isinstance(body, dict):
        return None
    err = body.get("error")
    if isinstance(err, str):  # OAuth token endpoints (RFC 6749 §5.2)
        return f"{err}: {body.get('error_description', '')}".strip(": ")
    if not isinstance(err, dict):
        return None
    msg = err.get("message")
    text = msg.get("value") if isinstance(msg, dict) else msg
    parts = [str(text)] if text else []
    inner = err.get("innererror") if isinstance(err.get("innererror"), dict) else {}
    for detail in (inner.get("errordetails") or [])[:3]:
        m = detail.get("message") if isinstance(detail, dict) else None
        if m and m not in parts:
            parts.append(str(m))
    code = err.get("code")
    return f"{code}: {'; '.join(parts)}" if code else "; ".join(parts) or None


def _xml_error(data: bytes) -> str | None:
    """SAP Gateway answers in XML (``<error><code/><message/></error>``) without $format=json."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    found = {_tag(c): (c.text or "").strip() for c in root}
    if _tag(root) != "error" or not found.get("message"):
        return None
    return f"{found.get('code')}: {found['message']}" if found.get("code") else found["message"]


def classify(resp: httpx.Response) -> ApiFailure | None:
    """Status decides the kind (http.py turns a too-long Retry-After into a quota stop); the
    body gives the message. A 401 without a body (Dataverse) is read from WWW-Authenticate."""
    base = default_classify(resp)
    if base is None:
        return None
    text = error_text(resp)
    if not text and resp.status_code == 401:
        text = resp.headers.get("WWW-Authenticate")
    return ApiFailure(base.kind, text or base.message)


# -- reading -----------------------------------------------------------------------------------


def query_string(params: Mapping[str, Any]) -> str:
    """OData system query options as servers expect them: ``$`` and quotes unescaped, spaces
    as ``%20`` (a ``+`` is a literal plus in ``$filter`` for some servers)."""
    return "&".join(f"{k}={quote(str(v), safe=chr(36) + chr(39) + '(),*:@/')}"
                    for k, v in params.items())


def same_url(a: str, b: str) -> bool:
    return str(httpx.URL(a)) == str(httpx.URL(b))


@dataclass
class ODataService:
    """One service root read through an :class:`ApiClient`.

    ``client_paging``: ask pages with ``$top``/``$skip`` (SAP); Dataverse has no ``$skip`` and
    pages only by ``Prefer: odata.maxpagesize`` + ``@odata.nextLink``.
    """

    client: ApiClient
    root: str
    version: int
    client_paging: bool = True
    params: dict[str, str] = field(default_factory=dict)
    #: Headers for collection requests, given the page size (Dataverse's Prefer header).
    page_headers: Callable[[int], dict[str, str]] = lambda n: {}
    _metadata: Metadata | None = None

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        q = {**(params or {}), **self.params}
        return f"{self.root.rstrip('/')}/{path}" + (f"?{query_string(q)}" if q else "")

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.client.json("GET", self.url(path, params))

    def metadata(self) -> Metadata:
        """``$metadata`` (XML, asked for as XML; pyodata refuses other content types too)."""
        if self._metadata is None:
            resp = self.client.request("GET", self.url("$metadata"),
                                       headers={"Accept": "application/xml"})
            ctype = resp.headers.get("Content-Type", "")
            if "xml" not in ctype:
                raise SourceDataError(f"source {self.client.source!r}: $metadata came as "
                                      f"{ctype or 'no content type'}, not XML")
            self._metadata = parse_metadata(resp.content)
        return self._metadata

    def read(self, entity_set: str, *, select: Sequence[str], order_by: Sequence[str],
             page_size: int, filter: str | None = None, expand: str | None = None,
             convert: Callable[[dict[str, Any]], dict[str, Any]] = dict) -> Iterator[Page]:
        """Pages of an entity set; the cursor is the next link, or the next ``$skip``."""
        params: dict[str, Any] = {"$format": "json"} if self.version == 2 else {}
        if select:
            params["$select"] = ",".join(select)
        if order_by:
            params["$orderby"] = ",".join(order_by)
        if filter:
            params["$filter"] = filter
        if expand:
            params["$expand"] = expand
        if self.version == 2:
            params["$inlinecount"] = "allpages"
        else:
            params["$count"] = "true"
        skip, window, total = 0, 0, None
        url: str | None = None
        cursor: str | None = None
        while True:
            if url is None:
                paged = {**params, "$top": page_size, "$skip": skip} if self.client_paging \
                    else params
                url = self.url(entity_set, paged)
            body = self.client.json("GET", url, headers=self.page_headers(page_size))
            rows, link, count = self._collection(body)
            total = count if count is not None else total
            window += len(rows)
            records = [convert(r) for r in rows]
            if link:
                link = self._checked(link)
                # A next link naming the request just made repeats the current cursor.
                nxt = cursor if cursor is not None and same_url(link, url) else link
                yield Page(records, nxt, total)
                url, cursor = link, nxt
                continue
            if self.client_paging and rows:
                skip += window
                done = skip >= total if total is not None else window < page_size
                window = 0
                if not done:
                    cursor = str(skip)
                    yield Page(records, cursor, total)
                    url = None
                    continue
            yield Page(records, None, total)
            return

    def _collection(self, body: Any) -> tuple[list[dict[str, Any]], str | None, int | None]:
        where = f"source {self.client.source!r}"
        if self.version == 2:
            d = body.get("d") if isinstance(body, dict) else None
            rows = d.get("results") if isinstance(d, dict) else None
            if not isinstance(rows, list):
                raise SourceDataError(f"{where}: OData v2 answer without d.results")
            count = d.get("__count")
            return rows, d.get("__next"), int(count) if count is not None else None
        rows = body.get("value") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise SourceDataError(f"{where}: OData v4 answer without a value array")
        count = body.get("@odata.count")
        if body.get("@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded") is True:
            count = None  # Dataverse counts up to 5,000 only: the real total is unknown
        return rows, body.get("@odata.nextLink"), int(count) if count is not None else None

    def _checked(self, link: str) -> str:
        """Next links are followed verbatim but only on the service's own origin (pyodata 1.12
        rejects cross-origin ``__next`` too: credentials must not travel to another host)."""
        absolute = urljoin(self.root.rstrip("/") + "/", link)
        mine, theirs = urlsplit(self.root), urlsplit(absolute)
        if (mine.scheme, mine.hostname, mine.port) != (theirs.scheme, theirs.hostname,
                                                       theirs.port):
            raise SourceDataError(
                f"source {self.client.source!r}: the server's next-page link points to "
                f"another origin ({theirs.scheme}://{theirs.netloc}); refused to follow it",
                hint="check the service URL (host and port) against the server's own address")
        return absolute


def project(row: Mapping[str, Any], fields: Sequence[FieldSpec]) -> dict[str, Any]:
    """A record with exactly the selected fields in field order: drops ``__metadata``,
    ``@odata.etag``, deferred navigation properties and ``…@OData.Community…`` annotations."""
    return {f.name: row.get(f.name) for f in fields}


# -- auth --------------------------------------------------------------------------------------


class BasicAuth:
    """SAP communication user: user + password; a rejected password cannot be renewed."""

    def __init__(self, user: str, password: SecretStr) -> None:
        self._value = base64.b64encode(
            f"{user}:{password.get_secret_value()}".encode()).decode()

    def headers(self) -> Mapping[str, str]:
        return {"Authorization": f"Basic {self._value}"}

    def refresh(self) -> bool:
        return False


#: Token endpoint errors: RFC 6749 bodies and OData error bodies alike mean refused credentials.
token_classify = oauth_token_classify(classify)


class ClientCredentials(OAuthToken):
    """OAuth 2.0 client-credentials grant (RFC 6749 §4.4) for SAP BTP/XSUAA and Entra ID."""

    def __init__(self, token_client: ApiClient, token_url: str, client_id: str,
                 client_secret: SecretStr, scope: str | None = None) -> None:
        super().__init__(token_client, token_url)
        self._form = {"grant_type": "client_credentials", "client_id": client_id}
        if scope:
            self._form["scope"] = scope
        self._secret = client_secret

    def form(self) -> tuple[dict[str, str], dict[str, str]]:
        return {**self._form, "client_secret": self._secret.get_secret_value()}, {}
