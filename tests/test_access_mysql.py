"""MariaDB access inventory on a real server, checked by logging in as each account.

MariaDB has no ``has_column_privilege``; the oracle is the server itself: each test account
connects and runs ``SELECT <column> FROM <table> LIMIT 0``, once as it logs in (default role
only) and once after ``SET ROLE`` for each role granted to it.

Scenario in a unique database ``p`` (every account is ``<p>_name@%``):

* role ``reporting`` has SELECT on ``accounts``; role ``analysts`` is granted reporting; ``alice``
  is granted analysts as her DEFAULT ROLE (chain alice -> analysts -> reporting, no SET ROLE);
* role ``support`` has SELECT(email) on ``crm_contacts``; ``bob`` is granted support, not as
  default (needs SET ROLE);
* ``carol`` has global SELECT ON *.*; ``dan`` has SELECT on the wildcard database `<p>%`;
* ``erin`` has SELECT(name) on crm_contacts; her table SELECT on accounts was revoked;
* ``frank`` (ACCOUNT LOCK) has SELECT on accounts: listed, but cannot log in;
* PUBLIC has SELECT(id) on accounts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pymysql
import pytest
import sqlalchemy as sa

from auditor.access import can_read, login_members, readers, requires_set_role
from auditor.models import AccessInventory
from connectors.access_mysql import db_pattern_matches, mysql_access

PASSWORD = "Aud1tor-test-pw"
USERS = ["alice", "bob", "carol", "dan", "erin"]
ROLES = ["reporting", "analysts", "support"]
COLUMNS = {"crm_contacts": ["id", "name", "email", "phone"], "accounts": ["id", "name", "region"]}


@dataclass(frozen=True)
class Scenario:
    p: str

    def role(self, name: str) -> str:
        return f"{self.p}_{name}"

    def user(self, name: str) -> str:
        return f"{self.p}_{name}@%"

    def sql_user(self, name: str) -> str:
        return f"'{self.p}_{name}'@'%'"

    @property
    def contacts(self) -> str:
        return f"{self.p}.crm_contacts"

    @property
    def accounts(self) -> str:
        return f"{self.p}.accounts"


def _setup(con: sa.Connection, s: Scenario) -> None:
    role, user = s.role, s.sql_user
    me = con.execute(sa.text("SELECT CURRENT_USER()")).scalar()
    me_user, me_host = str(me).rsplit("@", 1)
    stmts = [f"CREATE DATABASE {s.p}",
             f"CREATE TABLE {s.contacts} (id int, name text, email text, phone text)",
             f"CREATE TABLE {s.accounts} (id int, name text, region text)"]
    stmts += [f"CREATE ROLE {role(r)}" for r in ROLES]
    stmts += [f"CREATE USER {user(u)} IDENTIFIED BY '{PASSWORD}'" for u in USERS]
    stmts += [f"CREATE USER {user('frank')} ACCOUNT LOCK",
              f"GRANT SELECT ON {s.accounts} TO {user('frank')}"]
    stmts += [
        f"GRANT SELECT ON {s.accounts} TO {role('reporting')}",
        f"GRANT {role('reporting')} TO {role('analysts')}",
        f"GRANT {role('analysts')} TO {user('alice')}",
        f"SET DEFAULT ROLE {role('analysts')} FOR {user('alice')}",
        f"GRANT SELECT (email) ON {s.contacts} TO {role('support')}",
        f"GRANT {role('support')} TO {user('bob')}",
        f"GRANT SELECT ON *.* TO {user('carol')}",
        f"GRANT SELECT ON `{s.p}%`.* TO {user('dan')}",
        f"GRANT SELECT (name) ON {s.contacts} TO {user('erin')}",
        f"GRANT SELECT ON {s.accounts} TO {user('erin')}",
        f"REVOKE SELECT ON {s.accounts} FROM {user('erin')}",
        f"GRANT SELECT (id) ON {s.accounts} TO PUBLIC",
    ]
    # MariaDB grants a new role to its creator WITH ADMIN OPTION (needed for the GRANTs above);
    # take it back so the admin account does not show up as a member of the test's roles.
    stmts += [f"REVOKE {role(r)} FROM '{me_user}'@'{me_host}'" for r in ROLES]
    for stmt in stmts:
        con.execute(sa.text(stmt))


def _teardown(engine: sa.Engine, s: Scenario) -> None:
    with engine.begin() as con:
        # Grants outlive DROP DATABASE in MySQL; PUBLIC's must be revoked explicitly.
        for stmt in [f"REVOKE SELECT (id) ON {s.accounts} FROM PUBLIC",
                     *[f"DROP USER IF EXISTS {s.sql_user(u)}" for u in [*USERS, "frank"]],
                     *[f"DROP ROLE IF EXISTS {s.role(r)}" for r in ROLES],
                     f"DROP DATABASE IF EXISTS {s.p}"]:
            try:
                con.execute(sa.text(stmt))
            except sa.exc.DBAPIError:
                pass  # set-up failed before creating it


@pytest.fixture
def scenario(mysql_engine: sa.Engine, unique_name: str) -> Iterator[Scenario]:
    s = Scenario(unique_name)
    try:
        with mysql_engine.begin() as con:
            _setup(con, s)
        yield s
    finally:
        _teardown(mysql_engine, s)


@pytest.fixture
def inventory(mysql_engine: sa.Engine, scenario: Scenario) -> AccessInventory:
    with mysql_engine.connect() as con:
        return mysql_access(con, [scenario.contacts, scenario.accounts], source="maria")


def test_exact_inventory(inventory: AccessInventory, scenario: Scenario) -> None:
    s, u, r = scenario, scenario.user, scenario.role
    C, A = s.contacts, s.accounts
    expected = {
        (u("carol"), C, None, "superuser", (u("carol"),)),
        (u("carol"), A, None, "superuser", (u("carol"),)),
        (u("dan"), C, None, "direct", (u("dan"),)),
        (u("dan"), A, None, "direct", (u("dan"),)),
        (r("reporting"), A, None, "direct", (r("reporting"),)),
        (r("analysts"), A, None, "role", (r("analysts"), r("reporting"))),
        (u("alice"), A, None, "role", (u("alice"), r("analysts"), r("reporting"))),
        (r("support"), C, "email", "direct", (r("support"),)),
        (u("bob"), C, "email", "role", (u("bob"), r("support"))),
        (u("erin"), C, "name", "direct", (u("erin"),)),
        ("PUBLIC", A, "id", "public", ("PUBLIC",)),
        (u("frank"), A, None, "direct", (u("frank"),)),
    }
    keep = {u(n) for n in [*USERS, "frank"]} | {r(n) for n in ROLES} | {"PUBLIC"}
    got = {(g.grantee, g.object, g.column, g.via, g.path) for g in inventory.grants
           if g.grantee in keep}
    assert got == expected
    # Accounts the test did not create (root, ...) read through global SELECT only.
    assert {g.via for g in inventory.grants if g.grantee not in keep} <= {"superuser"}
    assert inventory.owners == {} and inventory.row_policies == {}
    assert any("no owner" in n for n in inventory.notes)
    assert any(n.startswith(f"{u('bob')} read some objects only through a role")
               for n in inventory.notes)

    def detail(grantee: str, obj: str) -> str:
        (g,) = [g for g in inventory.grants if g.grantee == grantee and g.object == obj]
        return g.detail or ""

    assert detail(u("bob"), C) == f"requires SET ROLE {r('support')}; column grant"
    assert not detail(u("alice"), A).startswith("requires")  # default role: active on login
    assert detail(u("dan"), A) == f"SELECT ON `{s.p}%`.*"
    assert detail(u("carol"), A) == "global SELECT ON *.*"

    roles = {ri.name: ri for ri in inventory.roles}
    assert roles[u("alice")].can_login and not roles[r("analysts")].can_login
    assert roles[u("alice")].member_of == tuple(sorted([r("analysts"), r("reporting")]))
    assert roles[r("reporting")].members == tuple(sorted([r("analysts"), u("alice")]))
    assert roles[u("carol")].superuser
    assert not roles[u("frank")].can_login  # ACCOUNT LOCK
    (frank,) = [g for g in inventory.grants if g.grantee == u("frank")]
    assert not frank.can_login
    assert login_members(inventory, r("reporting")) == {u("alice")}


def _can_select(user: str, table: str, column: str, set_role: str | None) -> bool:
    con = pymysql.connect(host="127.0.0.1", port=3306, user=user, password=PASSWORD)
    try:
        with con.cursor() as cur:
            if set_role:
                cur.execute(f"SET ROLE {set_role}")
            try:
                cur.execute(f"SELECT `{column}` FROM {table} LIMIT 0")
            except pymysql.err.OperationalError as exc:
                if exc.args[0] in (1142, 1143):  # table / column command denied
                    return False
                raise
            return True
    finally:
        con.close()


def test_agrees_with_the_server(inventory: AccessInventory, scenario: Scenario) -> None:
    """Log in as every account (and SET ROLE each granted role): the server agrees."""
    s = scenario
    granted = {"alice": [s.role("analysts")], "bob": [s.role("support")]}
    checked = 0
    for name in USERS:
        account = s.user(name)
        for role in [None, *granted.get(name, [])]:
            for table, cols in COLUMNS.items():
                obj = f"{s.p}.{table}"
                for column in cols:
                    got = _can_select(f"{s.p}_{name}", obj, column, role)
                    usable = [g for g in readers(inventory, obj, column)
                              if g.grantee in (account, "PUBLIC")
                              and (not requires_set_role(g)
                                   or (role is not None and g.path[1] == role))]
                    assert bool(usable) == got, (account, role, obj, column)
                    checked += 1
    assert checked == 7 * 7


def test_can_read_by_user_name_and_set_role(inventory: AccessInventory,
                                            scenario: Scenario) -> None:
    s = scenario
    bob = can_read(inventory, f"{s.p}_bob", s.contacts, "email")  # host omitted
    assert bob is not None and requires_set_role(bob)
    assert can_read(inventory, s.user("bob"), s.contacts, "phone") is None
    alice = can_read(inventory, s.user("alice"), s.accounts, "id")
    assert alice is not None and alice.grantee == s.user("alice")  # own grant beats PUBLIC
    erin = can_read(inventory, s.user("erin"), s.accounts, "id")
    assert erin is not None and erin.grantee == "PUBLIC"
    assert can_read(inventory, s.user("erin"), s.accounts, "name") is None  # revoked


def test_engine_and_unknown_object(mysql_engine: sa.Engine, scenario: Scenario) -> None:
    inv = mysql_access(mysql_engine, [f"`{scenario.p}`.`nope`"])
    assert any("nope" in n and "not visible" in n for n in inv.notes)
    assert {g.via for g in inv.grants} <= {"superuser", "direct"}  # global and dan's wildcard


@pytest.mark.parametrize(("pattern", "db", "ok"), [
    ("crm", "crm", True), ("crm", "crm2", False), ("crm%", "crm2", True),
    ("test\\_%", "test_x", True), ("test\\_%", "testx", False), ("test_%", "testx", True),
    ("a_c", "abc", True), ("CRM", "crm", False),
])
def test_db_pattern(pattern: str, db: str, ok: bool) -> None:
    assert db_pattern_matches(pattern, db) is ok
