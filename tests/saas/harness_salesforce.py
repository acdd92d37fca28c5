"""Salesforce harnesses for the shared conformance suite (``tests/saas/harness.py``).

Two ways in: OAuth client credentials (re-authenticates on INVALID_SESSION_ID) and a static
access token (cannot; an expired session ends the pull with SRC004). Both serve the standard
table as ``Widget__c`` with a small ACL: an admin profile with View All Data and a permission
set reading the object.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fakeservers.core import FakeServer
from fakeservers.salesforce import SalesforceApp
from fakeservers.tables import FakeTable
from tests.saas.harness import Served

CLIENT_ID = "conformance-client"
CLIENT_SECRET = "sf-secret-5Zq9wX"
OBJECT = "Widget__c"
AUTH_PATH = r"^/services/oauth2/token"
PAGE_PATH = r"^/services/data/v[\d.]+/query"


def org(table: FakeTable) -> SalesforceApp:
    """The fake org every Salesforce test starts from."""
    app = SalesforceApp({OBJECT: table}, clients={CLIENT_ID: CLIENT_SECRET})
    app.add_profile("System Administrator", view_all=True)
    app.add_profile("Standard User", read=(OBJECT,))
    app.add_user("admin@example.com", profile="System Administrator")
    app.add_user("analyst@example.com", profile="Standard User")
    return app


@dataclass
class SalesforceHarness:
    id: str
    static_token: bool = False
    kind: str = "salesforce"
    object_name: str = OBJECT
    page_size: int = 200
    access: bool = True
    max_length: bool = True
    integers: bool = True

    @property
    def can_refresh(self) -> bool:
        return not self.static_token

    @contextmanager
    def serve(self, table: FakeTable, *, tls: bool = False) -> Iterator[Served]:
        app = org(table)
        with FakeServer(app, tls=tls) as server:
            if self.static_token:
                secret = app.issue_token()
                config: dict[str, Any] = {
                    "kind": "salesforce", "instance_url": server.url,
                    "auth": {"flow": "access_token", "access_token": secret}}
            else:
                secret = CLIENT_SECRET
                config = {"kind": "salesforce", "login_url": server.url,
                          "auth": {"flow": "client_credentials", "client_id": CLIENT_ID,
                                   "client_secret": secret}}
            yield Served(app=app, server=server, config=config, secret=secret,
                         auth_path=AUTH_PATH, page_path=PAGE_PATH)


HARNESSES = [SalesforceHarness("salesforce"),
             SalesforceHarness("salesforce-static-token", static_token=True)]
