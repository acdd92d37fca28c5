"""Dynamics 365 / Dataverse Web API (OData v4) as an auditor source (``kind: dynamics365``).

Objects are entity *set* names (``accounts``, ``contacts``), the names used in Web API URLs;
``EntityDefinitions`` maps them to logical names (``account``), which the metadata and
privilege names use. Dataverse has no ``$skip``: the page size is asked for with
``Prefer: odata.maxpagesize=N`` and pages are followed through ``@odata.nextLink`` only.

Describe combines two sources, because neither is complete alone: ``$metadata`` (CSDL) gives
the columns, their Edm types and the key; the attribute metadata
(``EntityDefinitions(LogicalName=…)/Attributes``) gives what CSDL omits — ``RequiredLevel``
(SystemRequired / ApplicationRequired → required), display labels, string ``MaxLength`` and the
option sets of picklists.

Picklists: Dataverse stores and sends an option *value* (an integer such as 100000000) and
enforces that it is one of the option set's values. The connector maps each value to its
option label so the column reads as the business sees it (``Stage = "won"``), and declares the
labels as ``allowed_values``; a value outside the option set stays visible as its number.
Lookup columns travel as ``_<name>_value`` GUIDs and are kept as string columns; the
``@odata.etag`` and formatted-value annotations are dropped.

Access: security roles. A user holding a role with ``prvRead<Entity>`` can read that entity's
set; the depth (Basic = own records, Local = business unit, Deep = BU and children, Global)
comes from ``RetrieveRolePrivilegesRole`` [unverified: bound function form] and is reported in
``detail`` (anything short of Global is row-filtered). Roles held through teams and field
security profiles are not read (stated in the inventory notes).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field, SecretStr

from auditor.errors import SourceError, UnknownObject
from auditor.models import AccessGrant, AccessInventory, RoleInfo
from connectors.odata import (
    ClientCredentials,
    ODataService,
    classify,
    fields_of,
    project,
    token_classify,
)
from connectors.saas.base import ObjectDescription, Page, SaasConnector, SaasSourceConfig
from connectors.saas.http import ApiFailure, NoAuth
from connectors.saas.records import FieldSpec

_REQUIRED_LEVELS = ("SystemRequired", "ApplicationRequired")
#: Service-protection limit codes (requests, execution time, concurrency), hex and decimal.
SERVICE_PROTECTION = {"0x80072322", "0x80072321", "0x80072326",
                      "-2147015902", "-2147015903", "-2147015898"}
_ATTRIBUTES = "EntityDefinitions(LogicalName='{}')/Attributes"


#: ``@odata.count`` stops at 5,000; these annotations say whether the real total is higher
#: (learn.microsoft.com, power-apps/developer/data-platform/webapi/query/count-rows).
COUNT_ANNOTATIONS = ('odata.include-annotations="Microsoft.Dynamics.CRM.totalrecordcount,'
                     'Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"')


class DynamicsConfig(SaasSourceConfig):
    """``sources.<name>`` for ``kind: dynamics365``."""

    kind: Literal["dynamics365"] = Field(description="Source kind; always `dynamics365`.")
    url: str = Field(description="Environment URL, e.g. https://org.crm.dynamics.com.")
    api_version: str = Field("9.2", description="Web API version (`/api/data/v<version>`).")
    tenant_id: str = Field(description="Entra ID tenant (directory) id.")
    client_id: str = Field(description="Application (client) id of the app registration.")
    client_secret: SecretStr = Field(description="Client secret of the app registration.")
    authority_url: str = Field("https://login.microsoftonline.com",
                               description="Entra ID authority; the token is POSTed to "
                               "`{authority_url}/{tenant_id}/oauth2/v2.0/token`.")
    scope: str | None = Field(None, description="Token scope; default `{url}/.default`.")


class DynamicsConnector(SaasConnector):
    """Tables (entity sets) of one Dataverse environment."""

    kind: ClassVar[str] = "dynamics365"
    config_model: ClassVar[type[SaasSourceConfig]] = DynamicsConfig
    #: ``odata.maxpagesize`` above 5000 is ignored by Dataverse.
    max_page_size: ClassVar[int] = 5000

    def __init__(self, name: str, config: SaasSourceConfig, base_dir: Any) -> None:
        super().__init__(name, config, base_dir)
        self.cfg: DynamicsConfig = config  # type: ignore[assignment]
        self._service: ODataService | None = None
        self._sets: dict[str, str] | None = None
        #: entity set → column → option value → label
        self._options: dict[str, dict[str, dict[int, str]]] = {}

    @property
    def service(self) -> ODataService:
        if self._service is None:
            cfg = self.cfg
            url = cfg.url.rstrip("/")
            token_url = f"{cfg.authority_url.rstrip('/')}/{cfg.tenant_id}/oauth2/v2.0/token"
            tokens = self.http(token_url, auth=NoAuth(), classify=token_classify,
                               headers={"Accept": "application/json"})
            auth = ClientCredentials(tokens, token_url, cfg.client_id, cfg.client_secret,
                                     cfg.scope or f"{url}/.default")
            root = f"{url}/api/data/v{cfg.api_version}"
            client = self.http(root, auth=auth, classify=self._classify, headers={
                "Accept": "application/json", "OData-MaxVersion": "4.0",
                "OData-Version": "4.0"})
            self._service = ODataService(
                client, root, 4, client_paging=False,
                page_headers=lambda n: {"Prefer": f"odata.maxpagesize={n},{COUNT_ANNOTATIONS}"})
        return self._service

    def close(self) -> None:
        super().close()
        self._service = None

    # -- vendor hooks -------------------------------------------------------------------------

    def list_objects(self) -> list[str]:
        return sorted(self._entity_sets())

    def describe(self, obj: str, options: Mapping[str, Any]) -> ObjectDescription:
        logical = self._logical(obj)
        meta = self.service.metadata()
        if obj not in meta.entity_sets:
            raise UnknownObject(f"source {self.name!r}: $metadata has no entity set {obj!r}")
        attrs = self._attributes(logical)
        picklists = self._picklists(logical)
        self._options[obj] = {}
        fields = []
        for f in fields_of(meta.entity_type(obj), meta):
            attr_name = f.name[1:-6] if f.name.startswith("_") and f.name.endswith("_value") \
                else f.name
            attr = attrs.get(attr_name, {})
            level = (attr.get("RequiredLevel") or {}).get("Value")
            f = replace(f, required=f.required or level in _REQUIRED_LEVELS,
                        label=_label(attr.get("DisplayName")) or f.label,
                        max_length=attr.get("MaxLength") or f.max_length,
                        source_type=attr.get("AttributeType") or f.source_type)
            if attr_name in picklists:
                self._options[obj][f.name] = picklists[attr_name]
                f = replace(f, type="string", allowed_values=tuple(picklists[attr_name].values()))
            fields.append(f)
        return ObjectDescription(tuple(fields), location=f"{self.service.root}/{obj}")

    def pages(self, obj: str, fields: Sequence[FieldSpec], *, page_size: int,
              limit: int | None, where: str | None,
              options: Mapping[str, Any]) -> Iterator[Page]:
        if where:
            raise SourceError(f"source {self.name!r}: sampling.where is not supported by kind "
                              "dynamics365; use options.filter with an OData $filter expression")
        picklists = self._options.get(obj, {})

        def convert(row: dict[str, Any]) -> dict[str, Any]:
            rec = project(row, fields)
            for name, labels in picklists.items():
                if isinstance(rec.get(name), int):
                    rec[name] = labels.get(rec[name], str(rec[name]))
            return rec

        key = [f.name for f in fields if f.primary_key]
        return self.service.read(obj, select=[f.name for f in fields], order_by=key,
                                 page_size=page_size, filter=options.get("filter"),
                                 convert=convert)

    def access(self, objects: list[str]) -> AccessInventory:
        """Who can read ``objects`` through security roles (user → role → prvRead<Entity>)."""
        sets = self._entity_sets()
        wanted = {sets[o]: o for o in objects if o in sets}
        notes = [f"{o}: not an entity set of this environment" for o in objects if o not in sets]
        # roleid → (role name, logical name → (privilege id, privilege name))
        roles: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {}
        for page in self._all("roles", ["roleid", "name"],
                              "roleprivileges_association($select=privilegeid,name)"):
            for role in page:
                reads = {}
                for priv in role.get("roleprivileges_association") or []:
                    name = str(priv.get("name") or "")
                    if name.startswith("prvRead") and name[7:].lower() in wanted:
                        reads[name[7:].lower()] = (str(priv.get("privilegeid")), name)
                roles[role["roleid"]] = (str(role.get("name")), reads)
        depths = {rid: self._depths(rid) for rid, (_, reads) in roles.items() if reads}
        grants, infos, members = [], [], {}
        for page in self._all("systemusers", ["systemuserid", "domainname", "isdisabled"],
                              "systemuserroles_association($select=roleid,name)"):
            for user in page:
                login, enabled = str(user.get("domainname")), not user.get("isdisabled")
                held = [r["roleid"] for r in user.get("systemuserroles_association") or []
                        if r.get("roleid") in roles]
                infos.append(RoleInfo(login, can_login=enabled,
                                      member_of=tuple(roles[r][0] for r in held)))
                for rid in held:
                    role_name, reads = roles[rid]
                    members.setdefault(role_name, []).append(login)
                    for logical, (priv_id, priv_name) in reads.items():
                        depth = depths.get(rid, {}).get(priv_id)
                        grants.append(AccessGrant(
                            object=wanted[logical], column=None, grantee=login,
                            privilege="SELECT", via="role", path=(login, role_name),
                            can_login=enabled, row_filtered=depth != "Global",
                            detail=f"{priv_name} at {depth or 'unknown'} depth"))
        infos += [RoleInfo(name, members=tuple(sorted(m))) for name, m in sorted(members.items())]
        notes.append("roles held through teams and field security profiles are not included")
        return AccessInventory(self.name, tuple(grants), tuple(infos), notes=tuple(notes))

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _classify(resp: httpx.Response) -> ApiFailure | None:
        """Names Dataverse's service-protection limits in the message. Whether such a 429 is
        waited out or stops the source (a ``Retry-After`` beyond ``max_retry_after``) is the
        shared client's rule, as for every vendor."""
        failure = classify(resp)
        if failure is None or resp.status_code != 429 or \
                failure.message.split(":", 1)[0] not in SERVICE_PROTECTION:
            return failure
        return ApiFailure(failure.kind, f"{failure.message} (service protection limit)")

    def _entity_sets(self) -> dict[str, str]:
        """Entity set name → logical name, from ``EntityDefinitions``."""
        if self._sets is None:
            body = self.service.get("EntityDefinitions",
                                    {"$select": "LogicalName,EntitySetName"})
            self._sets = {e["EntitySetName"]: e["LogicalName"] for e in body.get("value", [])
                          if e.get("EntitySetName")}
        return self._sets

    def _logical(self, obj: str) -> str:
        sets = self._entity_sets()
        if obj not in sets:
            near = [s for s in sorted(sets) if s.startswith(obj[:3].lower())][:10]
            raise UnknownObject(
                f"source {self.name!r}: no entity set {obj!r} in this Dataverse environment",
                hint="use the entity set name (plural, e.g. `accounts`)"
                     + (f"; similar: {', '.join(near)}" if near else ""))
        return sets[obj]

    def _attributes(self, logical: str) -> dict[str, dict[str, Any]]:
        path = _ATTRIBUTES.format(logical)
        attrs = {a["LogicalName"]: a for a in self.service.get(path, {
            "$select": "LogicalName,AttributeType,RequiredLevel,DisplayName"}).get("value", [])}
        strings = self.service.get(f"{path}/Microsoft.Dynamics.CRM.StringAttributeMetadata",
                                   {"$select": "LogicalName,MaxLength"})
        for s in strings.get("value", []):
            attrs.setdefault(s["LogicalName"], {})["MaxLength"] = s.get("MaxLength")
        return attrs

    def _picklists(self, logical: str) -> dict[str, dict[int, str]]:
        body = self.service.get(
            f"{_ATTRIBUTES.format(logical)}/Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
            {"$select": "LogicalName", "$expand": "OptionSet($select=Options)"})
        return {a["LogicalName"]: {int(o["Value"]): _label(o.get("Label")) or str(o["Value"])
                                   for o in (a.get("OptionSet") or {}).get("Options", [])}
                for a in body.get("value", [])}

    def _depths(self, role_id: str) -> dict[str, str]:
        try:
            body = self.service.get(f"roles({role_id})/Microsoft.Dynamics.CRM."
                                    "RetrieveRolePrivilegesRole()")
        except UnknownObject:
            return {}
        return {str(p.get("PrivilegeId")): str(p.get("Depth"))
                for p in body.get("RolePrivileges", [])}

    def _all(self, entity_set: str, select: list[str], expand: str) -> Iterator[list[dict]]:
        for page in self.service.read(entity_set, select=select, order_by=[],
                                      page_size=self.max_page_size, expand=expand):
            yield page.records


def _label(label: Any) -> str | None:
    """``{"UserLocalizedLabel": {"Label": "Account Name"}}`` → ``Account Name``."""
    if isinstance(label, dict):
        local = label.get("UserLocalizedLabel")
        if isinstance(local, dict) and local.get("Label"):
            return str(local["Label"])
    return None
