"""HubSpot harnesses for the conformance suite: a private app token and an OAuth app.

The standard table is served as a custom object (``widgets``), because only custom object
schemas carry ``requiredProperties`` — the one place HubSpot states that a value is mandatory.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fakeservers.core import FakeServer
from fakeservers.hubspot import HubSpotApp, OAuthApp
from fakeservers.tables import FakeTable
from tests.saas.harness import Served

PAT = "pat-na1-11111111-2222-3333-4444-555555555555"
OAUTH = OAuthApp("cid-4711", "client-secret-0f9e8d7c", "na1-refresh-6b5a4c3d2e1f")


@dataclass
class HubSpotHarness:
    id: str
    oauth: bool
    kind: str = "hubspot"
    object_name: str = "widgets"
    page_size: int = 10
    access: bool = False
    max_length: bool = False
    integers: bool = False

    @property
    def can_refresh(self) -> bool:
        return self.oauth

    def app(self, table: FakeTable, **kwargs: Any) -> HubSpotApp:
        if self.oauth:
            return HubSpotApp([table], oauth=OAUTH, **kwargs)
        return HubSpotApp([table], access_token=PAT, **kwargs)

    def config(self, url: str) -> dict[str, Any]:
        if self.oauth:
            return {"kind": "hubspot", "base_url": url, "client_id": OAUTH.client_id,
                    "client_secret": OAUTH.client_secret, "refresh_token": OAUTH.refresh_token}
        return {"kind": "hubspot", "base_url": url, "access_token": PAT}

    @contextmanager
    def serve(self, table: FakeTable, *, tls: bool = False, **kwargs: Any) -> Iterator[Served]:
        app = self.app(table, **kwargs)
        with FakeServer(app, tls=tls) as server:
            yield Served(app=app, server=server, config=self.config(server.url),
                         secret=OAUTH.client_secret if self.oauth else PAT,
                         auth_path=r"^/oauth/v1/token" if self.oauth else "",
                         page_path=r"^/crm/v3/objects/")


HARNESSES = [HubSpotHarness("hubspot-pat", oauth=False), HubSpotHarness("hubspot-oauth",
                                                                        oauth=True)]
