"""MariaDB / MySQL access-control inventory from the ``mysql.*`` grant tables.

Why the grant tables and not ``information_schema``: its privilege views are filtered to the
caller, ``USER_PRIVILEGES`` misses global privileges granted to roles, and ``TABLE_PRIVILEGES``
merges a role's inherited privileges into the role (connector-protocols.md §5.2). The inventory
account therefore needs ``SELECT ON mysql.*``.

Levels read, each only where SELECT is granted:

* ``mysql.user.Select_priv`` — global ``SELECT ON *.*``: every table (``via="superuser"``, the
  MySQL notion closest to a superuser for reading);
* ``mysql.db`` — ``SELECT ON db.*``; ``Db`` may hold ``%``/``_`` wildcards (``\\_`` escaped),
  matched here against the object's database;
* ``mysql.tables_priv`` / ``mysql.columns_priv`` — table and column grants.

Principals are accounts (``user@host``), roles (MariaDB: bare name; MySQL 8: ``user@host`` like
any account) and MariaDB's ``PUBLIC`` role (10.11+), whose grants apply to every account and are
reported once with grantee ``PUBLIC``. Role chains come from ``mysql.roles_mapping`` (MariaDB;
role-to-role rows have ``Host=''``) or ``mysql.role_edges`` (MySQL 8), resolved transitively with
every path kept.

Roles need activating: MariaDB enables only the account's default role at login (with the roles
nested in it); any other granted role works after ``SET ROLE``. We report access through such a
role anyway — the account can activate it at will — but with a detail starting "requires SET
ROLE <role>", so A3 can tell "reads on login" from "can read after SET ROLE". MySQL 8 uses
``mysql.default_roles`` (several allowed) and ``activate_all_roles_on_login``.

There are no table owners (views have a DEFINER, which grants nothing to readers), no schema-level
USAGE gate and no row-level security; the notes say so.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from auditor.errors import SourceDataError, SourceUnavailable
from auditor.models import AccessGrant, AccessInventory, RoleInfo

__all__ = ["mysql_access", "db_pattern_matches"]

PUBLIC = "PUBLIC"
ANONYMOUS = "''"  # how an anonymous account's empty user name is shown: ''@localhost
REQUIRES_SET_ROLE = "requires SET ROLE"  # same text as auditor.access.REQUIRES_SET_ROLE

Node = tuple[str, str]  # (User, Host); MariaDB roles and PUBLIC have Host ''
Via = Literal["direct", "role", "public", "superuser"]

_GRANT_TABLES = ("user", "db", "tables_priv", "columns_priv", "roles_mapping", "role_edges",
                 "default_roles", "global_priv")


@dataclass(slots=True)
class _Catalog:
    mariadb: bool
    lower_case: bool
    nodes: dict[Node, str] = field(default_factory=dict)  # node -> display name
    roles: set[Node] = field(default_factory=set)
    locked: set[Node] = field(default_factory=set)
    global_select: set[Node] = field(default_factory=set)
    edges: dict[Node, list[Node]] = field(default_factory=lambda: defaultdict(list))
    active: dict[Node, set[Node]] = field(default_factory=lambda: defaultdict(set))
    all_active: bool = False
    db_grants: dict[Node, list[str]] = field(default_factory=lambda: defaultdict(list))
    table_grants: dict[Node, list[tuple[str, str, str]]] = field(
        default_factory=lambda: defaultdict(list))
    column_grants: dict[Node, list[tuple[str, str, str]]] = field(
        default_factory=lambda: defaultdict(list))
    notes: list[str] = field(default_factory=list)


def mysql_access(conn: Connection | Engine, objects: list[str], *,
                 source: str = "mysql") -> AccessInventory:
    """Effective read access to ``objects`` (``database.table``), with every reason and path.

    ``conn`` may be an open Connection (used as is) or an Engine (a connection is opened and
    closed here). Objects not visible in ``information_schema`` are still inventoried from the
    grant tables by name, and named in the notes.
    """
    with _connect(conn) as con:
        try:
            cat = _fetch(con, source)
            current = con.execute(sa.text("SELECT DATABASE()")).scalar()
            keys = {o: _split(o, current) for o in dict.fromkeys(objects)}
            columns, visible = _columns(con, list(keys.values()))
        except sa.exc.OperationalError as exc:
            raise SourceUnavailable(f"{source}: cannot read the grant tables: {exc.orig}"
                                    ) from None
        except sa.exc.DBAPIError as exc:
            raise SourceDataError(f"{source}: access inventory query failed: {exc.orig}",
                                  hint="grant the inventory account SELECT ON mysql.*") from None
    notes = list(cat.notes)
    notes += [f"object {o!r} not visible in information_schema (missing, or the inventory "
              "account cannot see it); grants listed by name" for o, k in keys.items()
              if k not in visible]
    grants: dict[tuple[object, ...], AccessGrant] = {}
    for obj, (db, table) in keys.items():
        for g in _object_grants(cat, obj, db, table, columns.get((db, table), {})):
            grants.setdefault((g.object, g.column, g.grantee, g.via, g.path, g.detail), g)
    ordered = sorted(grants.values(), key=lambda g: (g.object, g.column or "", g.grantee, g.via,
                                                     g.path))
    set_role = sorted({g.grantee for g in ordered if g.detail and
                       g.detail.startswith(REQUIRES_SET_ROLE)})
    if set_role:
        notes.append(f"{', '.join(set_role)} read some objects only through a role that is not "
                     "their default: they must SET ROLE first (reported, detail says which)")
    notes.append("MariaDB/MySQL tables have no owner (a view's DEFINER grants readers nothing): "
                 "owners is empty")
    notes.append("no row-level security or masking in MariaDB/MySQL: no row policies")
    return AccessInventory(source=source, grants=tuple(ordered), roles=tuple(_role_infos(cat)),
                           owners={}, row_policies={}, notes=tuple(notes))


@contextmanager
def _connect(conn: Connection | Engine) -> Iterator[Connection]:
    if isinstance(conn, Engine):
        with conn.connect() as con:
            yield con
    else:
        yield conn


def _split(obj: str, current: str | None) -> tuple[str, str]:
    """``db.table`` (backquotes allowed) -> (db, table); no database: the current one."""
    parts = re.findall(r"`((?:[^`]|``)*)`|([^.`]+)", obj)
    names = [q.replace("``", "`") if q else u for q, u in parts]
    if len(names) >= 2:
        return names[0], ".".join(names[1:])
    return current or "", names[0] if names else obj


def db_pattern_matches(pattern: str, db: str, *, lower_case: bool = False) -> bool:
    """Whether a ``mysql.db.Db`` value (``%``/``_`` wildcards, backslash escapes) matches ``db``."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    flags = re.IGNORECASE if lower_case else 0
    return re.fullmatch("".join(out), db, flags | re.DOTALL) is not None


def _name(node: Node, role: bool, mariadb: bool) -> str:
    user, host = node
    if role and mariadb:
        return user
    return f"{user or ANONYMOUS}@{host}"


def _fetch(con: Connection, source: str) -> _Catalog:
    version = str(con.execute(sa.text("SELECT VERSION()")).scalar())
    present = {r[0] for r in con.execute(sa.text(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'mysql' "
        "AND TABLE_NAME IN :names").bindparams(sa.bindparam("names", expanding=True)),
        {"names": list(_GRANT_TABLES)})}
    if "user" not in present:
        raise SourceDataError(f"{source}: the grant tables (mysql.*) are not readable",
                              hint="grant the inventory account SELECT ON mysql.*")
    lctn = int(con.execute(sa.text("SELECT @@lower_case_table_names")).scalar() or 0)
    cat = _Catalog(mariadb="mariadb" in version.lower(), lower_case=lctn != 0)
    user_cols = {r[0].lower() for r in con.execute(sa.text(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'mysql' "
        "AND TABLE_NAME = 'user'"))}
    is_role = "is_role" if "is_role" in user_cols else "'N'"
    default_role = "default_role" if "default_role" in user_cols else "''"
    locked = "account_locked" if "account_locked" in user_cols else "'N'"
    rows = con.execute(sa.text(
        f"SELECT User, Host, {is_role} AS is_role, {default_role} AS default_role, "
        f"Select_priv, {locked} AS locked FROM mysql.user")).all()
    if "role_edges" in present:
        for fu, fh, tu, th in con.execute(sa.text(
                "SELECT FROM_USER, FROM_HOST, TO_USER, TO_HOST FROM mysql.role_edges")):
            cat.edges[(tu, th)].append((fu, fh))
            cat.roles.add((fu, fh))
    if "roles_mapping" in present:
        for user, host, role in con.execute(sa.text(
                "SELECT User, Host, Role FROM mysql.roles_mapping")):
            cat.edges[(user, host)].append((role, ""))
    for r in rows:
        node = (r.User, r.Host)
        if r.is_role == "Y":
            cat.roles.add(node)
        if r.Select_priv == "Y":
            cat.global_select.add(node)
        if r.locked == "Y":
            cat.locked.add(node)
        if r.default_role:
            cat.active[node].add((r.default_role, ""))
    if "global_priv" in present:  # MariaDB keeps account_locked in the JSON column only
        for user, host in con.execute(sa.text(
                "SELECT User, Host FROM mysql.global_priv "
                "WHERE JSON_VALUE(Priv, '$.account_locked') IN ('true', '1')")):
            cat.locked.add((user, host))
    if "default_roles" in present:
        for user, host, ruser, rhost in con.execute(sa.text(
                "SELECT USER, HOST, DEFAULT_ROLE_USER, DEFAULT_ROLE_HOST "
                "FROM mysql.default_roles")):
            cat.active[(user, host)].add((ruser, rhost))
    if not cat.mariadb:
        _mysql8_settings(con, cat)
    for r in rows:
        node = (r.User, r.Host)
        cat.nodes[node] = _name(node, node in cat.roles, cat.mariadb)
    for node, targets in cat.edges.items():
        for t in [node, *targets]:
            cat.nodes.setdefault(t, _name(t, t in cat.roles, cat.mariadb))
    for user, host, db in con.execute(sa.text(
            "SELECT User, Host, Db FROM mysql.db WHERE Select_priv = 'Y'")):
        cat.db_grants[(user, host)].append(db)
    for user, host, db, table, grantor in con.execute(sa.text(
            "SELECT User, Host, Db, Table_name, Grantor FROM mysql.tables_priv "
            "WHERE FIND_IN_SET('Select', Table_priv) > 0")):
        cat.table_grants[(user, host)].append((db, table, grantor))
    for user, host, db, table, column in con.execute(sa.text(
            "SELECT User, Host, Db, Table_name, Column_name FROM mysql.columns_priv "
            "WHERE FIND_IN_SET('Select', Column_priv) > 0")):
        cat.column_grants[(user, host)].append((db, table, column))
    anonymous = sorted(cat.nodes[n] for n in cat.nodes if n[0] == "" and n not in cat.roles)
    if anonymous:
        cat.notes.append(f"anonymous accounts {', '.join(anonymous)} match any user name from "
                         "their host when no more specific account does")
    return cat


def _mysql8_settings(con: Connection, cat: _Catalog) -> None:
    """MySQL 8 role activation settings (not exercised by the tests: MariaDB only there)."""
    try:
        all_on, mandatory = con.execute(sa.text(
            "SELECT @@activate_all_roles_on_login, @@mandatory_roles")).one()
    except sa.exc.DBAPIError:
        return
    cat.all_active = bool(int(all_on or 0))
    if cat.all_active:
        cat.notes.append("activate_all_roles_on_login is ON: every granted role is active")
    if mandatory:
        cat.notes.append(f"mandatory_roles = {mandatory!r} apply to every account; not expanded "
                         "into grants")


def _columns(con: Connection, keys: list[tuple[str, str]]
             ) -> tuple[dict[tuple[str, str], dict[str, str]], set[tuple[str, str]]]:
    """Column names per object, keyed lower-case (MySQL column names ignore case)."""
    visible: set[tuple[str, str]] = set()
    cols: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    schemas = sorted({db for db, _ in keys})
    if not schemas:
        return cols, visible
    rows = con.execute(sa.text(
        "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA IN :schemas").bindparams(sa.bindparam("schemas", expanding=True)),
        {"schemas": schemas})
    wanted = set(keys)
    for db, table, column in rows:
        if (db, table) in wanted:
            visible.add((db, table))
            cols[(db, table)][column.lower()] = column
    return cols, visible


def _paths(cat: _Catalog, start: Node) -> list[tuple[Node, ...]]:
    """Every role chain from ``start`` (itself first), without cycles, at most 20 deep."""
    out: list[tuple[Node, ...]] = []
    stack: list[tuple[Node, ...]] = [(start,)]
    while stack:
        path = stack.pop()
        out.append(path)
        if len(path) <= 20:
            stack.extend(path + (nxt,) for nxt in reversed(cat.edges.get(path[-1], []))
                         if nxt not in path)
    return out


def _same(a: str, b: str, lower_case: bool) -> bool:
    return a.lower() == b.lower() if lower_case else a == b


def _object_grants(cat: _Catalog, obj: str, db: str, table: str,
                   columns: dict[str, str]) -> Iterator[AccessGrant]:
    public: Node = (PUBLIC, "")
    for principal in cat.nodes:
        is_public = principal == public
        login = principal not in cat.roles and principal not in cat.locked and not is_public
        for path in _paths(cat, principal):
            holder = path[-1]
            set_role = ""
            if (len(path) > 1 and (principal not in cat.roles or is_public)
                    and not cat.all_active and path[1] not in cat.active.get(principal, set())):
                set_role = f"{REQUIRES_SET_ROLE} {cat.nodes[path[1]]}; "
            via: Via = "public" if is_public else "direct" if len(path) == 1 else "role"

            def grant(column: str | None, via: Via, detail: str,
                      principal: Node = principal, path: tuple[Node, ...] = path,
                      login: bool = login, set_role: str = set_role) -> AccessGrant:
                return AccessGrant(object=obj, column=column, grantee=cat.nodes[principal],
                                   via=via, path=tuple(cat.nodes[n] for n in path),
                                   can_login=login, detail=set_role + detail)

            if holder in cat.global_select:
                yield grant(None, "public" if is_public else "superuser", "global SELECT ON *.*")
            for pattern in cat.db_grants.get(holder, []):
                if db_pattern_matches(pattern, db, lower_case=cat.lower_case):
                    yield grant(None, via, f"SELECT ON `{pattern}`.*")
            for gdb, gtable, grantor in cat.table_grants.get(holder, []):
                if _same(gdb, db, cat.lower_case) and _same(gtable, table, cat.lower_case):
                    yield grant(None, via, f"granted by {grantor}")
            for gdb, gtable, column in cat.column_grants.get(holder, []):
                if _same(gdb, db, cat.lower_case) and _same(gtable, table, cat.lower_case):
                    yield grant(columns.get(column.lower(), column), via, "column grant")


def _role_infos(cat: _Catalog) -> list[RoleInfo]:
    """Every account and role with transitive memberships (activatable roles count)."""
    member_of = {n: {p[-1] for p in _paths(cat, n)} - {n} for n in cat.nodes}
    members: dict[Node, set[Node]] = defaultdict(set)
    for n, held in member_of.items():
        for h in held:
            members[h].add(n)
    out = []
    for node, name in sorted(cat.nodes.items(), key=lambda kv: kv[1]):
        out.append(RoleInfo(
            name=name, can_login=node not in cat.roles and node not in cat.locked,
            superuser=node in cat.global_select,
            member_of=tuple(sorted(cat.nodes[h] for h in member_of[node])),
            members=tuple(sorted(cat.nodes[m] for m in members[node]))))
    return out
