"""SAP S/4HANA OData services (v2 SAP Gateway, v4 RAP) as an auditor source (``kind: sap_odata``).

One source = one OData service (``.../sap/opu/odata/sap/API_BUSINESS_PARTNER``); its objects are
the entity sets of the service's ``$metadata``. Paging is client-driven (``$top``/``$skip``,
ordered by the key so pages are stable) and any server-driven ``__next`` /
``@odata.nextLink`` the service adds is followed verbatim on the service's own origin.

Access inventory: none. SAP's read authorisations are ABAP authorisation objects (PFCG roles,
``S_SERVICE``, ``S_TABU_*``); no standard OData service exposes them, so this connector does
not implement ``access()`` and SAP datasets need a declared inventory.

Domain fixed values: SAP v2 marks an enforced value list with ``sap:value-list="fixed-values"``
and names the entity set holding the values in a ``Common.ValueList`` annotation; describe
reads that set and turns its values into ``allowed_values``. v4 enum types give their member
names.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from auditor.errors import SourceError, UnknownObject
from connectors.odata import (
    BasicAuth,
    ClientCredentials,
    EntityType,
    Metadata,
    ODataService,
    classify,
    fields_of,
    project,
    token_classify,
)
from connectors.saas.base import ObjectDescription, Page, SaasConnector, SaasSourceConfig
from connectors.saas.http import Auth, NoAuth
from connectors.saas.records import FieldSpec


class SapODataConfig(SaasSourceConfig):
    """``sources.<name>`` for ``kind: sap_odata``."""

    kind: Literal["sap_odata"] = Field(description="Source kind; always `sap_odata`.")
    service_url: str = Field(description="Service root, e.g. https://host/sap/opu/odata/sap/"
                             "API_BUSINESS_PARTNER (v2) or the v4 service group URL.")
    odata_version: Literal[2, 4] = Field(2, description="OData protocol version of the "
                                         "service (2 = SAP Gateway, 4 = RAP).")
    auth: Literal["basic", "oauth"] = Field("basic", description="`basic` (communication "
                                            "user) or `oauth` (client credentials).")
    user: str | None = Field(None, description="Basic auth: the communication user.")
    password: SecretStr | None = Field(None, description="Basic auth: its password.")
    token_url: str | None = Field(None, description="OAuth: the token endpoint "
                                  "(e.g. https://<subdomain>.authentication.<region>."
                                  "hana.ondemand.com/oauth/token).")
    client_id: str | None = Field(None, description="OAuth: client id.")
    client_secret: SecretStr | None = Field(None, description="OAuth: client secret.")
    scope: str | None = Field(None, description="OAuth: scope to ask for (optional).")
    sap_client: str | None = Field(None, description="SAP client (Mandant), sent as the "
                                   "`sap-client` query parameter on every request.")

    @model_validator(mode="after")
    def _credentials(self) -> SapODataConfig:
        need = ("user", "password") if self.auth == "basic" else ("token_url", "client_id",
                                                                  "client_secret")
        missing = [n for n in need if getattr(self, n) is None]
        if missing:
            raise ValueError(f"auth {self.auth!r} needs {', '.join(missing)}")
        return self


class SapODataConnector(SaasConnector):
    """Entity sets of one SAP OData service."""

    kind: ClassVar[str] = "sap_odata"
    config_model: ClassVar[type[SaasSourceConfig]] = SapODataConfig
    #: A conservative page cap: Gateway accepts larger $top, but big pages of wide entity
    #: types run into its response-size and timeout limits.
    max_page_size: ClassVar[int] = 1000

    def __init__(self, name: str, config: SaasSourceConfig, base_dir: Any) -> None:
        super().__init__(name, config, base_dir)
        self.cfg: SapODataConfig = config  # type: ignore[assignment]
        self._service: ODataService | None = None

    @property
    def service(self) -> ODataService:
        if self._service is None:
            cfg = self.cfg
            auth: Auth
            if cfg.auth == "basic":
                assert cfg.user is not None and cfg.password is not None
                auth = BasicAuth(cfg.user, cfg.password)
            else:
                assert cfg.token_url and cfg.client_id and cfg.client_secret is not None
                tokens = self.http(cfg.token_url, auth=NoAuth(), classify=token_classify,
                                   headers={"Accept": "application/json"})
                auth = ClientCredentials(tokens, cfg.token_url, cfg.client_id,
                                         cfg.client_secret, cfg.scope)
            headers = {"Accept": "application/json"}
            if cfg.odata_version == 4:
                headers |= {"OData-MaxVersion": "4.0", "OData-Version": "4.0"}
            client = self.http(cfg.service_url, auth=auth, classify=classify, headers=headers)
            params = {"sap-client": cfg.sap_client} if cfg.sap_client else {}
            self._service = ODataService(client, cfg.service_url, cfg.odata_version,
                                         params=params)
        return self._service

    def close(self) -> None:
        super().close()
        self._service = None

    # -- vendor hooks -------------------------------------------------------------------------

    def list_objects(self) -> list[str]:
        return sorted(self.service.metadata().entity_sets)

    def describe(self, obj: str, options: Mapping[str, Any]) -> ObjectDescription:
        meta = self.service.metadata()
        if obj not in meta.entity_sets:
            raise UnknownObject(
                f"source {self.name!r}: the service has no entity set {obj!r}",
                hint=f"entity sets of {self.cfg.service_url}: "
                     f"{', '.join(sorted(meta.entity_sets)[:20])}")
        et = meta.entity_type(obj)
        fields = [self._fixed_values(et, f, meta) for f in fields_of(et, meta)]
        return ObjectDescription(tuple(fields), label=et.label,
                                 location=f"{self.cfg.service_url.rstrip('/')}/{obj}")

    def pages(self, obj: str, fields: Sequence[FieldSpec], *, page_size: int,
              limit: int | None, where: str | None,
              options: Mapping[str, Any]) -> Iterator[Page]:
        if where:
            raise SourceError(f"source {self.name!r}: sampling.where is not supported by kind "
                              "sap_odata; use options.filter with an OData $filter expression")
        key = [f.name for f in fields if f.primary_key]
        return self.service.read(obj, select=[f.name for f in fields], order_by=key,
                                 page_size=page_size, filter=options.get("filter"),
                                 convert=lambda row: project(row, fields))

    # -- helpers ------------------------------------------------------------------------------

    def _fixed_values(self, et: EntityType, f: FieldSpec, meta: Metadata) -> FieldSpec:
        """``sap:value-list="fixed-values"`` → read the value-help set named by the property's
        ``Common.ValueList`` annotation. Other value lists (search helps) are not enforced."""
        prop = et.properties.get(f.name)
        target = meta.value_lists.get(f"{et.name}/{f.name}")
        if prop is None or prop.value_list != "fixed-values" or target is None:
            return f
        collection, column = target
        values: list[str] = []
        for page in self.service.read(collection, select=[column], order_by=[column],
                                      page_size=self.max_page_size):
            values.extend(str(r[column]) for r in page.records if r.get(column) is not None)
        return replace(f, allowed_values=tuple(values))
