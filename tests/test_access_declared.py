"""Declared (YAML) access inventories and the pure helpers scoring uses on any inventory."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.access import (
    MASKING_DETAIL,
    broad_readers,
    can_read,
    load_declared_inventory,
    login_members,
    readers,
    requires_set_role,
)
from auditor.errors import InvalidConfig
from auditor.models import AccessGrant, AccessInventory, RoleInfo

DECLARED = """\
version: 1
source: legacy_erp
roles:
  alice: {login: true, member_of: analysts}
  bob: {login: true, member_of: [analysts]}
  svc_churn: {login: true, member_of: [reporting]}
  analysts: {member_of: [reporting]}
  reporting: {}
  dba: {login: true, superuser: true}
  sales_ops: {}
grants:
  - object: erp.customers
    to: reporting
  - object: erp.customers
    columns: [email, phone]
    to: analysts
    detail: ticket SEC-12
  - object: erp.invoices
    to: PUBLIC
owners:
  erp.customers: sales_ops
masking:
  - object: erp.customers
    column: email
    unmasked_for: [dba, sales_ops]
row_policies:
  erp.customers: ["region = current_region()"]
notes: [exported from the vendor portal]
"""

CUST, INV = "erp.customers", "erp.invoices"


def write(tmp_path: Path, text: str, name: str = "access.yml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.fixture
def declared(tmp_path: Path) -> AccessInventory:
    return load_declared_inventory(write(tmp_path, DECLARED))


def test_declared_inventory_expands_like_a_database(declared: AccessInventory) -> None:
    got = {(g.grantee, g.object, g.column, g.via, g.path, g.masked) for g in declared.grants}
    chain = [("reporting",), ("analysts", "reporting"), ("alice", "analysts", "reporting"),
             ("bob", "analysts", "reporting"), ("svc_churn", "reporting")]
    expected = {
        *{(p[0], CUST, None, "declared", p, False) for p in chain},
        *{(p[0], CUST, col, "declared", p, False) for col in ("email", "phone")
          for p in [("analysts",), ("alice", "analysts"), ("bob", "analysts")]},
        ("PUBLIC", INV, None, "declared", ("PUBLIC",), False),
        ("sales_ops", CUST, None, "declared", ("sales_ops",), False),
        ("dba", CUST, None, "declared", ("dba",), False),
        ("dba", INV, None, "declared", ("dba",), False),
        # mask markers: every reader of email except the unmasked roles
        *{(n, CUST, "email", "declared", (n,), True)
          for n in ("reporting", "analysts", "alice", "bob", "svc_churn")},
    }
    assert got == expected
    assert declared.source == "legacy_erp"
    assert declared.owners == {CUST: "sales_ops"}
    assert declared.row_policies == {CUST: ("region = current_region()",)}
    assert "exported from the vendor portal" in declared.notes
    by_key = {(g.grantee, g.column, g.path): g for g in declared.grants}
    assert by_key[("alice", "email", ("alice", "analysts"))].detail == "ticket SEC-12"
    assert by_key[("alice", None, ("alice", "analysts", "reporting"))].row_filtered
    assert by_key[("alice", None, ("alice", "analysts", "reporting"))].can_login
    roles = {r.name: r for r in declared.roles}
    assert roles["alice"].member_of == ("analysts", "reporting")
    assert roles["reporting"].members == ("alice", "analysts", "bob", "svc_churn")
    assert roles["dba"].superuser


def test_readers_apply_masking(declared: AccessInventory) -> None:
    email = readers(declared, CUST, "email")
    assert all(g.detail != MASKING_DETAIL for g in email)  # markers are not reasons to read
    masked = {g.grantee for g in email if g.masked}
    clear = {g.grantee for g in email if not g.masked}
    assert masked == {"reporting", "analysts", "alice", "bob", "svc_churn"}
    assert clear == {"dba", "sales_ops"}
    assert not any(g.masked for g in readers(declared, CUST, "phone"))
    assert {g.grantee for g in readers(declared, CUST)} == {
        "reporting", "analysts", "alice", "bob", "svc_churn", "sales_ops", "dba"}


def test_can_read(declared: AccessInventory) -> None:
    g = can_read(declared, "alice", CUST, "email")
    assert g is not None and g.masked and g.path == ("alice", "analysts")
    g = can_read(declared, "svc_churn", CUST, "phone")
    assert g is not None and g.path == ("svc_churn", "reporting")
    g = can_read(declared, "alice", INV, "amount")
    assert g is not None and g.grantee == "PUBLIC"
    assert can_read(declared, "nobody", INV, "amount") is None  # unknown role: no PUBLIC
    assert can_read(declared, "sales_ops", INV) is not None
    assert can_read(declared, "alice", "erp.other", "x") is None


def test_broad_readers_and_members(declared: AccessInventory) -> None:
    assert login_members(declared, "reporting") == {"alice", "bob", "svc_churn"}
    assert login_members(declared, "analysts") == {"alice", "bob"}
    assert [g.grantee for g in broad_readers(declared, INV, "amount")] == ["PUBLIC"]
    assert broad_readers(declared, CUST, "email") == []
    by_threshold = broad_readers(declared, CUST, "email", member_threshold=2)
    assert [(g.grantee, g.path, g.masked) for g in by_threshold] == [
        ("reporting", ("reporting",), True)]
    both = broad_readers(declared, CUST, "email", member_threshold=1)
    assert [g.path[-1] for g in both] == ["analysts", "reporting"]
    named = broad_readers(declared, CUST, "phone", broad_roles=["analysts"])
    assert [(g.grantee, g.masked) for g in named] == [("analysts", False)]


def test_helpers_on_a_hand_built_inventory() -> None:
    """Direct-only memberships (member_of one level) are still counted transitively."""
    inv = AccessInventory(
        source="x",
        grants=(
            AccessGrant("s.t", None, "grp", via="direct", path=("grp",)),
            AccessGrant("s.t", None, "u1@%", via="role", path=("u1@%", "grp"), can_login=True,
                        detail="requires SET ROLE grp; granted by root"),
            AccessGrant("s.t", "c", "u1@%", via="direct", path=("u1@%",), can_login=True),
            AccessGrant("s.*", None, "later", via="default_privileges", path=("later",)),
        ),
        roles=(RoleInfo("grp"), RoleInfo("sub", member_of=("grp",)),
               RoleInfo("u1@%", can_login=True, member_of=("sub",)),
               RoleInfo("u2@%", can_login=True, member_of=("sub",))),
    )
    assert login_members(inv, "grp") == {"u1@%", "u2@%"}
    g = can_read(inv, "u1", "s.t", "c")  # host omitted; on-login column grant preferred
    assert g is not None and g.column == "c" and not requires_set_role(g)
    g = can_read(inv, "u1@%", "s.t", "d")
    assert g is not None and requires_set_role(g)
    assert can_read(inv, "later", "s.t") is None  # default privileges are not current access
    assert [g.grantee for g in broad_readers(inv, "s.t", "c", member_threshold=1)] == ["grp"]


@pytest.mark.parametrize(("text", "where", "message"), [
    (DECLARED.replace("  bob: {login: true", "  bob: {logn: true"), ":5:9",
     "roles.bob.logn: unknown field"),
    (DECLARED.replace("    to: PUBLIC", "    to: {x: 1}"), ":19:5", "grants[2].to"),
    (DECLARED.replace("member_of: [reporting]}\n  analysts", "member_of: [reportin]}\n  analysts"),
     ":6:40", "roles.svc_churn.member_of[0]: unknown role 'reportin'"),
    (DECLARED.replace("    unmasked_for: [dba, sales_ops]", "    unmasked_for: [dba, sales]"),
     ":25:5", "masking[0].unmasked_for: unknown role 'sales'"),
    (DECLARED.replace("  erp.customers: sales_ops", "  erp.customers: nobody"), ":21:3",
     "owners.erp.customers: unknown role 'nobody'"),
    (DECLARED.replace("    columns: [email, phone]", "    columns: [email, phone"), ":16:7",
     "invalid YAML"),
    ("- just\n- a list\n", ":1:1", "a mapping"),
])
def test_malformed_declared_inventory(tmp_path: Path, text: str, where: str,
                                      message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InvalidConfig) as exc:
        load_declared_inventory(path)
    assert f"{path}{where}" in str(exc.value)
    assert message in str(exc.value)


def test_missing_declared_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfig, match="nope.yml: declared inventory not found"):
        load_declared_inventory(tmp_path / "nope.yml")
