"""Conformance harnesses for the OData connectors: SAP v2 (Basic), SAP v4 (OAuth client
credentials) and Dataverse (Entra ID client credentials)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from fakeservers.core import FakeServer
from fakeservers.odata import ODataFakeApp
from fakeservers.tables import FakeTable
from tests.saas.harness import Served

PASSWORD = "sap-pw-Zq81xx"
CLIENT_SECRET = "oauth-secret-7Hk2"


@dataclass
class SapV2Harness:
    id: str = "sap-v2"
    kind: str = "sap_odata"
    object_name: str = "Widgets"
    page_size: int = 10
    can_refresh: bool = False  # Basic auth: a rejected password cannot be renewed
    access: bool = False  # authorisations live in the ABAP stack, not in OData
    max_length: bool = True
    integers: bool = True

    def app(self, table: FakeTable, **kwargs: Any) -> ODataFakeApp:
        return ODataFakeApp([replace(table, name=self.object_name)], flavor="sap2",
                            namespace="API_WIDGETS", auth="basic", user="AUDITOR",
                            password=PASSWORD, **kwargs)

    def config(self, server: FakeServer, app: ODataFakeApp) -> dict[str, Any]:
        return {"kind": self.kind, "service_url": server.url + app.service_path,
                "odata_version": 2, "auth": "basic", "user": "AUDITOR", "password": PASSWORD}

    @contextmanager
    def serve(self, table: FakeTable, *, tls: bool = False, **kwargs: Any) -> Iterator[Served]:
        app = self.app(table, **kwargs)
        with FakeServer(app, tls=tls) as server:
            yield Served(app, server, self.config(server, app),
                         PASSWORD if self.id == "sap-v2" else CLIENT_SECRET,
                         auth_path=app.token_path if self.can_refresh else "",
                         page_path=rf"{app.service_path}/{self.object_name}(\?|$)")


@dataclass
class SapV4Harness(SapV2Harness):
    id: str = "sap-v4"
    can_refresh: bool = True

    def app(self, table: FakeTable, **kwargs: Any) -> ODataFakeApp:
        return ODataFakeApp([replace(table, name=self.object_name)], flavor="sap4",
                            namespace="API_WIDGETS", auth="oauth", client_id="auditor-client",
                            client_secret=CLIENT_SECRET, **kwargs)

    def config(self, server: FakeServer, app: ODataFakeApp) -> dict[str, Any]:
        return {"kind": self.kind, "service_url": server.url + app.service_path,
                "odata_version": 4, "auth": "oauth", "token_url": server.url + app.token_path,
                "client_id": "auditor-client", "client_secret": CLIENT_SECRET}


@dataclass
class DynamicsHarness(SapV2Harness):
    id: str = "dynamics"
    kind: str = "dynamics365"
    object_name: str = "widgets"
    can_refresh: bool = True
    access: bool = True

    def app(self, table: FakeTable, **kwargs: Any) -> ODataFakeApp:
        return ODataFakeApp([replace(table, name=self.object_name)], flavor="dataverse",
                            tenant="tenant-1", client_id="auditor-client",
                            client_secret=CLIENT_SECRET, **kwargs)

    def config(self, server: FakeServer, app: ODataFakeApp) -> dict[str, Any]:
        return {"kind": self.kind, "url": server.url, "tenant_id": "tenant-1",
                "client_id": "auditor-client", "client_secret": CLIENT_SECRET,
                "authority_url": server.url}


HARNESSES = [SapV2Harness(), SapV4Harness(), DynamicsHarness()]
