"""Odoo harnesses for the shared conformance suite: XML-RPC (Odoo 17) and JSON-2 (Odoo 19).

The standard table is served as model ``x.widgets`` (custom models are ``x_``-named in real
databases; a dotted name keeps the regexes honest). The API login is a Settings member who also
holds Billing, so it reads every model and the billing-only ``price`` field; Internal User reads
``x.widgets``, Sales users only their own records (a record rule).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fakeservers.core import FakeServer
from fakeservers.odoo import OdooApp, security_seed
from fakeservers.tables import FakeTable
from tests.saas.harness import Served

OBJECT = "x.widgets"
LOGIN = "api@example.com"
SECRET = "odoo-api-key-5d41402abc4b2a76"


def build_app(table: FakeTable, *, version: int) -> OdooApp:
    """The fake database every Odoo test starts from."""
    app = OdooApp(database="acme", version=version)
    security_seed(app)
    app.add_user(LOGIN, SECRET, ["base.group_system", "account.group_account_invoice"],
                 name="Integration")
    app.add_table(OBJECT, table, field_groups={"price": "account.group_account_invoice"})
    app.add_rule(OBJECT, "Widgets: sales see active ones", "[('active', '=', True)]",
                 groups=("sales_team.group_sale_salesman",))
    return app


@dataclass
class OdooHarness:
    id: str
    protocol: str
    version: int
    kind: str = "odoo"
    object_name: str = OBJECT
    page_size: int = 10
    access: bool = True
    max_length: bool = True
    integers: bool = True

    @property
    def can_refresh(self) -> bool:
        return self.protocol != "json2"

    @contextmanager
    def serve(self, table: FakeTable, *, tls: bool = False) -> Iterator[Served]:
        app = build_app(table, version=self.version)
        with FakeServer(app, tls=tls) as server:
            config: dict[str, Any] = {"kind": "odoo", "url": server.url, "database": "acme",
                                      "protocol": self.protocol, "api_key": SECRET}
            if self.protocol != "json2":
                config["login"] = LOGIN
            escaped = OBJECT.replace(".", r"\.")
            yield Served(app=app, server=server, config=config, secret=SECRET,
                         auth_path=(r"#common\.authenticate$" if self.protocol != "json2"
                                    else r"#res\.users\.context_get$"),
                         page_path=rf"#{escaped}\.search_read$")


HARNESSES = [OdooHarness("odoo-xmlrpc", "xmlrpc", 17), OdooHarness("odoo-json2", "json2", 19)]
