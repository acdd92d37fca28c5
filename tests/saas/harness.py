"""The contract between the shared SaaS conformance suite and each vendor's fake server.

Every vendor test module ``tests/saas/harness_<vendor>.py`` exposes ``HARNESSES``: objects
with the attributes of :class:`Harness`. ``test_conformance.py`` runs the same checks through
each of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from fakeservers.core import FakeApp, FakeServer
from fakeservers.tables import FakeTable

VENDOR_MODULES = ("salesforce", "hubspot", "odata", "odoo")


@dataclass
class Served:
    """A running fake with the standard table loaded, and how to reach it."""

    app: FakeApp
    server: FakeServer
    #: The ``sources.<name>`` mapping (kind included) with secrets already resolved.
    config: dict[str, Any]
    #: One credential value that must never show in errors, logs, reports or the store.
    secret: str
    #: Regex on :meth:`FakeApp.fault_target` matching authentication requests only.
    auth_path: str
    #: Regex on :meth:`FakeApp.fault_target` matching data page requests only.
    page_path: str
    extra: dict[str, Any] = field(default_factory=dict)


class Harness(Protocol):
    id: str
    kind: str
    #: Object name (dataset ``object``) under which the standard table is served.
    object_name: str
    #: Page size the conformance suite uses (Salesforce serves at least 200 per page).
    page_size: int
    #: An expired token gets one re-authentication (False: static key → SRC004 at once).
    can_refresh: bool
    #: The connector implements ``access()`` for this protocol.
    access: bool
    #: String fields carry a maximum length in the vendor's metadata.
    max_length: bool
    #: The wire protocol has an integer type (HubSpot has only ``number``).
    integers: bool

    def serve(self, table: FakeTable, *, tls: bool = False) -> AbstractContextManager[Served]:
        ...


def all_harnesses() -> list[Any]:
    """Every vendor's harnesses; a vendor module that fails to import yields a failing entry."""
    out: list[Any] = []
    for vendor in VENDOR_MODULES:
        try:
            mod = importlib.import_module(f"tests.saas.harness_{vendor}")
        except ImportError as exc:
            out.append(_Broken(vendor, exc))
            continue
        out.extend(mod.HARNESSES)
    return out


@dataclass
class _Broken:
    id: str
    error: Exception
    fail: Callable[[], None] = field(init=False)

    def __post_init__(self) -> None:
        def fail() -> None:
            raise AssertionError(f"harness for {self.id} cannot be imported: {self.error}")
        self.fail = fail
