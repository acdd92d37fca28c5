"""PostgreSQL access inventory on a real server, checked against PostgreSQL's own answer.

The fixture builds one scenario in a unique schema with uniquely named roles (roles are
cluster-wide, so they are dropped again in teardown):

* ``reporting`` (group) has SELECT on ``accounts``; ``analysts`` is in reporting; login ``alice``
  is in analysts (nested chain alice -> analysts -> reporting); ``dave`` is a NOINHERIT member
  of analysts (SET ROLE only, so no access);
* ``support`` (group) has SELECT(email) on ``crm_contacts``; login ``bob`` is in support; bob's
  own SELECT on ``accounts`` was granted and revoked;
* ``owner`` owns both tables; login ``erin`` is in owner; ``frank`` has SELECT on accounts but no
  USAGE on the schema (cannot read); ``carol`` is in pg_read_all_data; ``admin`` is a superuser;
* PUBLIC has SELECT(id) on accounts (PUBLIC has no USAGE on the schema: only roles with USAGE
  profit) and SELECT on ``pub_info`` in a second schema where PUBLIC has USAGE;
* RLS on accounts with a SELECT policy for analysts; default privileges for owner's future
  tables to analysts.

Roles, schemas and tables in the cluster that the test did not create (postgres, other
superusers) appear in the inventory too; the exact assertion is over the test's own principals,
PUBLIC and pg_read_all_data, and the oracle comparison is over every login role.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from auditor.access import broad_readers, can_read, login_members, readers
from auditor.models import AccessInventory
from connectors.access_postgres import postgres_access, split_object


@dataclass(frozen=True)
class Scenario:
    p: str  # prefix of every role and the main schema

    def r(self, name: str) -> str:
        return f"{self.p}_{name}"

    @property
    def contacts(self) -> str:
        return f"{self.p}.crm_contacts"

    @property
    def accounts(self) -> str:
        return f"{self.p}.accounts"

    @property
    def pub(self) -> str:
        return f"{self.p}_pub.pub_info"


ROLES = ["reporting", "analysts", "alice", "dave", "support", "bob", "owner", "erin", "frank",
         "carol", "admin"]


def _setup(con: sa.Connection, s: Scenario) -> None:
    r = s.r
    stmts = [
        f"CREATE ROLE {r('reporting')} NOLOGIN",
        f"CREATE ROLE {r('analysts')} NOLOGIN IN ROLE {r('reporting')}",
        f"CREATE ROLE {r('alice')} LOGIN IN ROLE {r('analysts')}",
        f"CREATE ROLE {r('dave')} LOGIN NOINHERIT IN ROLE {r('analysts')}",
        f"CREATE ROLE {r('support')} NOLOGIN",
        f"CREATE ROLE {r('bob')} LOGIN IN ROLE {r('support')}",
        f"CREATE ROLE {r('owner')} NOLOGIN",
        f"CREATE ROLE {r('erin')} LOGIN IN ROLE {r('owner')}",
        f"CREATE ROLE {r('frank')} LOGIN",
        f"CREATE ROLE {r('carol')} LOGIN IN ROLE pg_read_all_data",
        f"CREATE ROLE {r('admin')} LOGIN SUPERUSER",
        f"CREATE SCHEMA {s.p}",
        f"GRANT USAGE ON SCHEMA {s.p} TO {r('reporting')}, {r('support')}, {r('owner')}",
        f"CREATE TABLE {s.contacts} (id int, name text, email text, phone text)",
        f"CREATE TABLE {s.accounts} (id int, name text, region text)",
        f"ALTER TABLE {s.contacts} OWNER TO {r('owner')}",
        f"ALTER TABLE {s.accounts} OWNER TO {r('owner')}",
        f"GRANT SELECT (email) ON {s.contacts} TO {r('support')}",
        f"GRANT SELECT ON {s.accounts} TO {r('reporting')}, {r('frank')}, {r('bob')}",
        f"REVOKE SELECT ON {s.accounts} FROM {r('bob')}",
        f"GRANT SELECT (id) ON {s.accounts} TO PUBLIC",
        f"ALTER TABLE {s.accounts} ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY eu_only ON {s.accounts} FOR SELECT TO {r('analysts')} "
        "USING (region = 'EU')",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {r('owner')} IN SCHEMA {s.p} "
        f"GRANT SELECT ON TABLES TO {r('analysts')}",
        f"CREATE SCHEMA {s.p}_pub",
        f"GRANT USAGE ON SCHEMA {s.p}_pub TO PUBLIC",
        f"CREATE TABLE {s.pub} (id int, note text)",
        f"GRANT SELECT ON {s.pub} TO PUBLIC",
    ]
    for stmt in stmts:
        con.execute(sa.text(stmt))


def _teardown(engine: sa.Engine, s: Scenario) -> None:
    with engine.begin() as con:
        con.execute(sa.text(f"DROP SCHEMA IF EXISTS {s.p} CASCADE"))
        con.execute(sa.text(f"DROP SCHEMA IF EXISTS {s.p}_pub CASCADE"))
        existing = {row[0] for row in con.execute(
            sa.text("SELECT rolname FROM pg_roles WHERE rolname LIKE :p"), {"p": s.p + "_%"})}
        names = [s.r(n) for n in ROLES if s.r(n) in existing]
        if names:
            # DROP OWNED also removes the default-privilege entries that block DROP ROLE.
            con.execute(sa.text(f"DROP OWNED BY {', '.join(names)}"))
            con.execute(sa.text(f"DROP ROLE {', '.join(names)}"))


@pytest.fixture
def scenario(pg_engine: sa.Engine, unique_name: str) -> Iterator[Scenario]:
    s = Scenario(unique_name)
    try:
        with pg_engine.begin() as con:
            _setup(con, s)
        yield s
    finally:
        _teardown(pg_engine, s)


@pytest.fixture
def inventory(pg_engine: sa.Engine, scenario: Scenario) -> AccessInventory:
    with pg_engine.connect() as con:
        return postgres_access(con, [scenario.contacts, scenario.accounts, scenario.pub],
                               source="pg")


def _tuples(inv: AccessInventory, keep: set[str]) -> set[tuple[object, ...]]:
    return {(g.grantee, g.object, g.column, g.via, g.path) for g in inv.grants
            if g.grantee in keep}


def test_exact_inventory(inventory: AccessInventory, scenario: Scenario) -> None:
    s, r = scenario, scenario.r
    C, A, P = s.contacts, s.accounts, s.pub
    rd = "pg_read_all_data"
    # Roles with USAGE on the main schema, each able to use PUBLIC's SELECT(id) on accounts.
    usage_roles = ["reporting", "analysts", "alice", "support", "bob", "owner", "erin", "carol",
                   "admin"]
    expected = {
        # owner role and erin (member) read both tables as owners
        (r("owner"), C, None, "owner", (r("owner"),)),
        (r("owner"), A, None, "owner", (r("owner"),)),
        (r("erin"), C, None, "owner", (r("erin"), r("owner"))),
        (r("erin"), A, None, "owner", (r("erin"), r("owner"))),
        # column grant to support, inherited by bob
        (r("support"), C, "email", "direct", (r("support"),)),
        (r("bob"), C, "email", "role", (r("bob"), r("support"))),
        # table grant to reporting, nested chain to alice (dave: NOINHERIT, frank: no USAGE)
        (r("reporting"), A, None, "direct", (r("reporting"),)),
        (r("analysts"), A, None, "role", (r("analysts"), r("reporting"))),
        (r("alice"), A, None, "role", (r("alice"), r("analysts"), r("reporting"))),
        # superuser and pg_read_all_data
        *{(r("admin"), o, None, "superuser", (r("admin"),)) for o in (C, A, P)},
        *{(rd, o, None, "predefined_role", (rd,)) for o in (C, A, P)},
        *{(r("carol"), o, None, "predefined_role", (r("carol"), rd)) for o in (C, A, P)},
        # PUBLIC: one grant where PUBLIC has USAGE, per-role grants where it has not
        ("PUBLIC", P, None, "public", ("PUBLIC",)),
        *{(r(n), A, "id", "public", (r(n), "PUBLIC")) for n in usage_roles},
        (rd, A, "id", "public", (rd, "PUBLIC")),
        # future tables
        (r("analysts"), f"{s.p}.*", None, "default_privileges", (r("analysts"),)),
    }
    keep = {r(n) for n in ROLES} | {"PUBLIC", rd}
    assert _tuples(inventory, keep) == expected

    # Principals the test did not create: superusers, pg_read_all_data members, the owner of
    # pub_info (the admin user that created it) and roles with USAGE using PUBLIC's grant.
    others = [g for g in inventory.grants if g.grantee not in keep]
    assert {g.via for g in others} <= {"superuser", "predefined_role", "owner", "public"}

    assert inventory.owners == {C: r("owner"), A: r("owner"), P: inventory.owners[P]}
    assert inventory.source == "pg"


def test_reasons_rls_and_notes(inventory: AccessInventory, scenario: Scenario) -> None:
    r, A = scenario.r, scenario.accounts

    def grant(grantee: str, via: str, column: str | None = None):  # type: ignore[no-untyped-def]
        (g,) = [g for g in inventory.grants if g.grantee == grantee and g.object == A
                and g.via == via and g.column == column]
        return g

    alice = grant(r("alice"), "role")
    assert alice.can_login and alice.row_filtered and "eu_only" in (alice.detail or "")
    reporting = grant(r("reporting"), "direct")
    assert not reporting.can_login and reporting.row_filtered
    assert "no permissive SELECT policy" in (reporting.detail or "")
    assert "granted by" in (reporting.detail or "")
    assert not grant(r("erin"), "owner").row_filtered  # owners bypass RLS (not forced)
    assert not grant(r("admin"), "superuser").row_filtered
    assert grant(r("carol"), "predefined_role").row_filtered  # pg_read_all_data does not bypass
    assert inventory.row_policies[A] == (
        f"eu_only: PERMISSIVE FOR SELECT TO {r('analysts')} USING ((region = 'EU'::text))",)
    assert scenario.contacts not in inventory.row_policies

    notes = "\n".join(inventory.notes)
    assert f"without USAGE on the schema by {r('frank')}" in notes
    assert f"{r('dave')} is a NOINHERIT member of {r('analysts')}" in notes
    assert f"readable by {r('analysts')}" in notes

    roles = {ri.name: ri for ri in inventory.roles}
    assert roles[r("alice")].member_of == tuple(sorted([r("analysts"), r("reporting")]))
    assert roles[r("reporting")].members == tuple(sorted([r("alice"), r("analysts")]))
    assert roles[r("admin")].superuser and roles[r("admin")].can_login
    assert r("dave") not in roles[r("analysts")].members
    assert login_members(inventory, r("reporting")) == {r("alice")}


def test_agrees_with_has_privilege(pg_engine: sa.Engine, inventory: AccessInventory,
                                   scenario: Scenario) -> None:
    """For every login role and every column (and table), inventory == PostgreSQL's answer.

    Readable means has_*_privilege(SELECT) and has_schema_privilege(USAGE), as PostgreSQL checks
    both when a query runs; the inventory must never claim more or less.
    """
    known = {ri.name for ri in inventory.roles}
    objects = [scenario.contacts, scenario.accounts, scenario.pub]
    sql = sa.text("""
        SELECT r.rolname, a.attname,
               has_column_privilege(r.oid, c.oid, a.attname, 'SELECT')
                 AND has_schema_privilege(r.oid, c.relnamespace, 'USAGE') AS col_ok,
               has_table_privilege(r.oid, c.oid, 'SELECT')
                 AND has_schema_privilege(r.oid, c.relnamespace, 'USAGE') AS table_ok
        FROM pg_roles r
        CROSS JOIN pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        WHERE a.attrelid = to_regclass(:obj) AND a.attnum > 0 AND NOT a.attisdropped
          AND (r.rolcanlogin OR r.rolname LIKE :prefix)
    """)
    checked = 0
    with pg_engine.connect() as con:
        for obj in objects:
            for role, column, col_ok, table_ok in con.execute(
                    sql, {"obj": obj, "prefix": scenario.p + "_%"}):
                if role not in known:
                    continue  # created by someone else after the inventory ran
                assert (can_read(inventory, role, obj, column) is not None) == col_ok, \
                    (role, obj, column)
                assert (can_read(inventory, role, obj) is not None) == table_ok, (role, obj)
                checked += 1
    assert checked >= 11 * 9


def test_readers_and_broad_readers(inventory: AccessInventory, scenario: Scenario) -> None:
    r, C, A = scenario.r, scenario.contacts, scenario.accounts
    email_readers = {g.grantee for g in readers(inventory, C, "email")}
    assert {r("support"), r("bob"), r("owner"), r("erin"), r("carol")} <= email_readers
    assert r("alice") not in email_readers
    assert can_read(inventory, r("bob"), C, "phone") is None
    assert can_read(inventory, r("bob"), C, "email").via == "role"  # type: ignore[union-attr]
    assert can_read(inventory, r("frank"), A, "name") is None  # no schema USAGE
    assert can_read(inventory, r("frank"), A, "id") is None  # PUBLIC's grant needs USAGE too
    assert can_read(inventory, r("alice"), A, "id").path == (r("alice"), "PUBLIC")  # type: ignore[union-attr]
    assert can_read(inventory, "no_such_role", scenario.pub, "note") is None
    assert can_read(inventory, r("frank"), scenario.pub, "note").grantee == "PUBLIC"  # type: ignore[union-attr]

    assert [g.grantee for g in broad_readers(inventory, scenario.pub, "note")] == ["PUBLIC"]
    holders = {g.path[-1] for g in broad_readers(inventory, A, "id")}
    assert holders == {"PUBLIC"}
    broad = broad_readers(inventory, A, "name", broad_roles=[r("reporting")])
    assert [(g.grantee, g.path) for g in broad] == [(r("reporting"), (r("reporting"),))]
    # reporting has one login member (alice): broad only for a threshold below 1
    assert broad_readers(inventory, A, "name", member_threshold=1) == []
    assert r("reporting") in {g.path[-1] for g in
                              broad_readers(inventory, A, "name", member_threshold=0)}


def test_engine_missing_objects_and_quoting(pg_engine: sa.Engine, scenario: Scenario) -> None:
    inv = postgres_access(pg_engine, [scenario.accounts, f"{scenario.p}.nope"])
    assert any("nope" in n and "not found" in n for n in inv.notes)
    assert {g.object for g in inv.grants} <= {scenario.accounts, f"{scenario.p}.*"}
    with pg_engine.connect() as con:  # unqualified names follow the search_path
        con.execute(sa.text(f"SET search_path TO {scenario.p}_pub, {scenario.p}"))
        inv = postgres_access(con, ["accounts", "pub_info"])
        con.rollback()
    assert set(inv.owners) == {"accounts", "pub_info"}
    assert inv.owners["accounts"] == scenario.r("owner")
    assert can_read(inv, scenario.r("alice"), "accounts", "region") is not None
    assert split_object('"my.schema"."Ta""ble"') == ("my.schema", 'Ta"ble')
    assert split_object("contacts") == (None, "contacts")


def test_unprivileged_inventory_user_sees_the_same(pg_engine: sa.Engine, scenario: Scenario,
                                                   inventory: AccessInventory) -> None:
    """pg_catalog is readable by any role: a plain login role gets the superuser's inventory."""
    objects = [scenario.contacts, scenario.accounts, scenario.pub]
    with pg_engine.connect() as con:
        con.execute(sa.text(f"SET ROLE {scenario.r('frank')}"))
        try:
            inv = postgres_access(con, objects, source="pg")
        finally:
            con.execute(sa.text("RESET ROLE"))
            con.rollback()
    # Compared over the test's own principals: other sessions may add cluster roles meanwhile.
    keep = {scenario.r(n) for n in ROLES} | {"PUBLIC", "pg_read_all_data"}
    assert [g for g in inv.grants if g.grantee in keep] == \
        [g for g in inventory.grants if g.grantee in keep]
    assert (inv.owners, inv.row_policies) == (inventory.owners, inventory.row_policies)


def test_row_filtering_agrees_with_the_server(pg_engine: sa.Engine, scenario: Scenario,
                                              inventory: AccessInventory) -> None:
    """Rows each login role really sees in accounts (one EU, one US row) vs the inventory."""
    A = scenario.accounts
    with pg_engine.connect() as con:
        con.execute(sa.text(f"INSERT INTO {A} VALUES (1, 'a', 'EU'), (2, 'b', 'US')"))
        for name in ["alice", "bob", "carol", "erin", "admin"]:
            role = scenario.r(name)
            con.execute(sa.text(f"SET ROLE {role}"))
            seen = con.execute(sa.text(f"SELECT count(id) FROM {A}")).scalar()
            con.execute(sa.text("RESET ROLE"))
            g = can_read(inventory, role, A, "id")
            assert g is not None
            if not g.row_filtered:
                expected = 2
            elif "policies eu_only" in (g.detail or ""):
                expected = 1
            else:
                expected = 0  # RLS on, no permissive policy for this role: default deny
            assert seen == expected, (name, g)
        con.rollback()
