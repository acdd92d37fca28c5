"""PostgreSQL access-control inventory: who can read which table and column, and why.

Everything comes from ``pg_catalog`` (connector-protocols.md §5.1), never from
``information_schema``: its privilege views only show rows whose grantor or grantee is an enabled
role of the *caller*, so an inventory user would see little more than its own grants. The catalog
is readable by any role, so the inventory needs no superuser.

What counts as "can read", following PostgreSQL's own rules (``has_column_privilege`` plus
``has_schema_privilege(..., 'USAGE')``, which the tests use as the oracle):

* **superuser** roles read everything (ACLs, schema USAGE and row-level security do not apply);
* a **table ACL** entry (``pg_class.relacl``, or ``acldefault`` when it is NULL, which is how the
  owner's implicit privileges appear) with SELECT for the role itself (``direct``), for the owner
  (``owner``), or for a role it inherits from (``role``, the chain is kept in ``path``);
* a **column ACL** entry (``pg_attribute.attacl``): the same, for one column;
* **PUBLIC** (ACL grantee 0): every role;
* **pg_read_all_data** (PG >= 14) and the roles inheriting it (``predefined_role``);
* and, except for superusers and pg_read_all_data, **USAGE on the schema** through any of the
  same routes. A role holding SELECT without USAGE cannot read the table, so no grant is emitted
  for it; a note names it instead (the truth to report is "cannot read").

Membership follows PostgreSQL 15 inheritance: an edge is followed when the member role has
``rolinherit`` (PG 16+: when the membership's ``inherit_option`` is set). Access that exists only
after ``SET ROLE`` through a NOINHERIT membership is not counted (PostgreSQL's own privilege
functions do not count it either); a note lists such memberships. The implicit membership of the
database owner in ``pg_database_owner`` is added as an edge.

Row-level security: a grant is ``row_filtered`` when RLS is enabled on the table and the reading
role neither is a superuser, nor has BYPASSRLS, nor inherits from the owner (unless FORCE ROW
LEVEL SECURITY). The detail says which SELECT policies apply to it, or that none does (default
deny: it sees no rows). ``row_policies`` has a key for every table with RLS enabled.

Default privileges (``pg_default_acl``, tables only) describe *future* tables; they are reported
as grants on ``schema.*`` with ``via="default_privileges"`` and never count as current access.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from auditor.errors import SourceDataError, SourceUnavailable
from auditor.models import AccessGrant, AccessInventory, RoleInfo

__all__ = ["postgres_access", "split_object"]

PUBLIC = "PUBLIC"
READ_ALL_DATA = "pg_read_all_data"
_PUBLIC_OID = 0

Via = Literal["direct", "role", "public", "superuser", "owner", "predefined_role",
              "default_privileges", "declared"]

_ROLES = sa.text("""
SELECT r.oid, r.rolname, r.rolcanlogin, r.rolsuper, r.rolbypassrls, r.rolinherit
FROM pg_roles r
""")

# connector-protocols.md §5.1 Q3's membership recursion, started from every role (group roles
# that can read are reported too) and with the database owner's implicit pg_database_owner edge.
_MEMBERSHIP = sa.text("""
WITH RECURSIVE edges(member, roleid, inherits) AS (
    SELECT am.member, am.roleid,
           COALESCE((to_jsonb(am) ->> 'inherit_option')::boolean, mr.rolinherit)
    FROM pg_auth_members am
    JOIN pg_roles mr ON mr.oid = am.member
  UNION ALL
    SELECT d.datdba, to_regrole('pg_database_owner')::oid, mr.rolinherit
    FROM pg_database d
    JOIN pg_roles mr ON mr.oid = d.datdba
    WHERE d.datname = current_database() AND to_regrole('pg_database_owner') IS NOT NULL
),
membership(principal, via_role, path, depth) AS (
    SELECT r.oid, r.oid, ARRAY[r.rolname::text], 0
    FROM pg_roles r
  UNION ALL
    SELECT m.principal, e.roleid, m.path || g.rolname::text, m.depth + 1
    FROM membership m
    JOIN edges e ON e.member = m.via_role
    JOIN pg_roles g ON g.oid = e.roleid
    WHERE e.inherits
      AND NOT g.rolname = ANY (m.path)
      AND m.depth < 20
)
SELECT principal, via_role, path, NULL::text AS noinherit_member, NULL::text AS noinherit_role
FROM membership
UNION ALL
SELECT NULL, NULL, NULL, pg_get_userbyid(e.member)::text, pg_get_userbyid(e.roleid)::text
FROM edges e WHERE NOT e.inherits
""")

_OBJECTS = sa.text("""
SELECT c.oid, n.oid AS nspoid, n.nspname, c.relname, c.relkind, c.relowner,
       c.relrowsecurity, c.relforcerowsecurity
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN unnest(CAST(:schemas AS text[]), CAST(:tables AS text[])) AS want(s, t)
  ON want.s = n.nspname AND want.t = c.relname
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
""")

_UNQUALIFIED = sa.text("""
SELECT n.nspname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = :t AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname = ANY (current_schemas(false))
ORDER BY array_position(current_schemas(false), n.nspname::name)
LIMIT 1
""")

# Q1 restricted to SELECT on the objects in scope; grantee 0 is PUBLIC.
_TABLE_ACL = sa.text("""
SELECT c.oid AS relid, a.grantee, pg_get_userbyid(a.grantor) AS grantor
FROM pg_class c
CROSS JOIN LATERAL aclexplode(COALESCE(c.relacl, acldefault('r', c.relowner))) a
WHERE c.oid = ANY (CAST(:oids AS oid[])) AND a.privilege_type = 'SELECT'
""")

_COLUMN_ACL = sa.text("""
SELECT at.attrelid AS relid, at.attname::text AS column_name, a.grantee,
       pg_get_userbyid(a.grantor) AS grantor
FROM pg_attribute at
CROSS JOIN LATERAL aclexplode(at.attacl) a
WHERE at.attrelid = ANY (CAST(:oids AS oid[])) AND at.attacl IS NOT NULL
  AND at.attnum > 0 AND NOT at.attisdropped AND a.privilege_type = 'SELECT'
""")

_SCHEMA_USAGE = sa.text("""
SELECT n.oid AS nspoid, a.grantee
FROM pg_namespace n
CROSS JOIN LATERAL aclexplode(COALESCE(n.nspacl, acldefault('n', n.nspowner))) a
WHERE n.oid = ANY (CAST(:nsps AS oid[])) AND a.privilege_type = 'USAGE'
""")

# Q4 restricted to tables ('r' covers views too) and to the schemas in scope or all schemas.
_DEFAULT_ACL = sa.text("""
SELECT d.defaclrole, pg_get_userbyid(d.defaclrole) AS creator, n.nspname, a.grantee
FROM pg_default_acl d
LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
CROSS JOIN LATERAL aclexplode(d.defaclacl) a
WHERE d.defaclobjtype = 'r' AND a.privilege_type = 'SELECT'
  AND (d.defaclnamespace = 0 OR d.defaclnamespace = ANY (CAST(:nsps AS oid[])))
""")

_POLICIES = sa.text("""
SELECT p.polrelid AS relid, p.polname::text AS name, p.polpermissive AS permissive,
       p.polcmd AS cmd, CAST(p.polroles AS bigint[]) AS roles,
       pg_get_expr(p.polqual, p.polrelid) AS qual
FROM pg_policy p
WHERE p.polrelid = ANY (CAST(:oids AS oid[]))
ORDER BY p.polname
""")

_CMD = {"r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE", "*": "ALL"}


@dataclass(frozen=True, slots=True)
class _Role:
    oid: int
    name: str
    login: bool
    superuser: bool
    bypassrls: bool
    inherit: bool


@dataclass(frozen=True, slots=True)
class _Rel:
    key: str  # the object name exactly as the caller wrote it
    oid: int
    nspoid: int
    schema: str
    owner: int
    rls: bool
    force_rls: bool


@dataclass(frozen=True, slots=True)
class _Policy:
    name: str
    permissive: bool
    cmd: str
    roles: tuple[int, ...]
    qual: str | None

    def describe(self, names: dict[int, str]) -> str:
        to = ", ".join(PUBLIC if r == _PUBLIC_OID else names.get(r, str(r)) for r in self.roles)
        kind = "PERMISSIVE" if self.permissive else "RESTRICTIVE"
        using = f" USING ({self.qual})" if self.qual else ""
        return f"{self.name}: {kind} FOR {_CMD.get(self.cmd, self.cmd)} TO {to}{using}"


@dataclass(slots=True)
class _Catalog:
    """The catalog facts one inventory needs, fetched in a handful of queries."""

    roles: dict[int, _Role]
    closure: dict[int, list[tuple[int, tuple[str, ...]]]]  # principal -> (holder, path)
    noinherit: list[tuple[str, str]]
    rels: list[_Rel]
    table_acl: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    column_acl: dict[int, list[tuple[str, int, str]]] = field(default_factory=dict)
    usage: dict[int, set[int]] = field(default_factory=dict)
    policies: dict[int, list[_Policy]] = field(default_factory=dict)
    default_acl: list[tuple[int, str, str | None, int]] = field(default_factory=list)
    read_all_data: int | None = None


def postgres_access(conn: Connection | Engine, objects: list[str], *,
                    source: str = "postgres") -> AccessInventory:
    """Effective read access to ``objects`` (``schema.table``), with every reason and path.

    ``conn`` may be an open Connection (used as is, its transaction left alone) or an Engine (a
    connection is opened and closed here). Objects that do not exist are named in the notes
    rather than raised: existence is the A1 check's business, and the other objects still count.
    """
    with _connect(conn) as con:
        try:
            cat, missing = _fetch(con, objects)
        except sa.exc.OperationalError as exc:
            raise SourceUnavailable(f"{source}: cannot read the PostgreSQL catalog: "
                                    f"{exc.orig}") from None
        except sa.exc.DBAPIError as exc:
            raise SourceDataError(f"{source}: access inventory query failed: {exc.orig}",
                                  hint="the inventory needs only CONNECT and pg_catalog access"
                                  ) from None
    notes = [f"object {o!r} not found (tables, views, materialized views, foreign tables)"
             for o in missing]
    return _build(cat, source, notes)


@contextmanager
def _connect(conn: Connection | Engine) -> Iterator[Connection]:
    if isinstance(conn, Engine):
        with conn.connect() as con:
            yield con
    else:
        yield conn


def split_object(name: str) -> tuple[str | None, str]:
    """``schema.table`` -> (schema, table); double-quoted parts may contain dots and quotes."""
    parts: list[str] = []
    buf: list[str] = []
    i, quoted = 0, False
    while i < len(name):
        ch = name[i]
        if quoted:
            if ch == '"' and name[i + 1:i + 2] == '"':
                buf.append('"')
                i += 1
            elif ch == '"':
                quoted = False
            else:
                buf.append(ch)
        elif ch == '"':
            quoted = True
        elif ch == "." and len(parts) == 0:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def _fetch(con: Connection, objects: list[str]) -> tuple[_Catalog, list[str]]:
    roles = {r.oid: _Role(r.oid, r.rolname, r.rolcanlogin, r.rolsuper, r.rolbypassrls,
                          r.rolinherit) for r in con.execute(_ROLES)}
    closure: dict[int, list[tuple[int, tuple[str, ...]]]] = defaultdict(list)
    noinherit: list[tuple[str, str]] = []
    for row in con.execute(_MEMBERSHIP):
        if row.principal is None:
            noinherit.append((row.noinherit_member, row.noinherit_role))
        else:
            closure[row.principal].append((row.via_role, tuple(row.path)))

    wanted: dict[tuple[str, str], list[str]] = defaultdict(list)
    for obj in dict.fromkeys(objects):
        schema, table = split_object(obj)
        if schema is None:
            schema = con.execute(_UNQUALIFIED, {"t": table}).scalar() or ""
        wanted[(schema, table)].append(obj)
    pairs = list(wanted)
    found = con.execute(_OBJECTS, {"schemas": [p[0] for p in pairs],
                                   "tables": [p[1] for p in pairs]}).all()
    rels: list[_Rel] = []
    seen: set[tuple[str, str]] = set()
    for r in found:
        seen.add((r.nspname, r.relname))
        for key in wanted[(r.nspname, r.relname)]:
            rels.append(_Rel(key, r.oid, r.nspoid, r.nspname, r.relowner, r.relrowsecurity,
                             r.relforcerowsecurity))
    missing = [o for p, objs in wanted.items() if p not in seen for o in objs]
    cat = _Catalog(roles, dict(closure), noinherit, sorted(rels, key=lambda x: x.key))
    cat.read_all_data = next((r.oid for r in roles.values() if r.name == READ_ALL_DATA), None)
    if not rels:
        return cat, missing

    oids = sorted({r.oid for r in rels})
    nsps = sorted({r.nspoid for r in rels})
    for row in con.execute(_TABLE_ACL, {"oids": oids}):
        cat.table_acl.setdefault(row.relid, []).append((row.grantee, row.grantor))
    for row in con.execute(_COLUMN_ACL, {"oids": oids}):
        cat.column_acl.setdefault(row.relid, []).append((row.column_name, row.grantee,
                                                          row.grantor))
    for row in con.execute(_SCHEMA_USAGE, {"nsps": nsps}):
        cat.usage.setdefault(row.nspoid, set()).add(row.grantee)
    for row in con.execute(_POLICIES, {"oids": oids}):
        cat.policies.setdefault(row.relid, []).append(
            _Policy(row.name, row.permissive, row.cmd, tuple(row.roles or ()), row.qual))
    cat.default_acl = [(row.defaclrole, row.creator, row.nspname, row.grantee)
                       for row in con.execute(_DEFAULT_ACL, {"nsps": nsps})]
    return cat, missing


class _Builder:
    """Turns catalog facts into grants; one instance per inventory."""

    def __init__(self, cat: _Catalog) -> None:
        self.cat = cat
        self.names = {oid: r.name for oid, r in cat.roles.items()}
        self.holders = {p: {h for h, _ in paths} for p, paths in cat.closure.items()}
        self.grants: dict[tuple[Any, ...], AccessGrant] = {}
        self.grantors: dict[tuple[Any, ...], set[str]] = defaultdict(set)
        self.no_usage: dict[str, set[str]] = defaultdict(set)

    def add(self, grant: AccessGrant, grantor: str | None = None) -> None:
        """Keep one grant per (object, column, grantee, via, path), collecting its grantors.

        An ACL can hold the same privilege for the same grantee from several grantors; that is
        one reason to read, so it is one grant whose detail names every grantor.
        """
        key = (grant.object, grant.column, grant.grantee, grant.via, grant.path)
        self.grants.setdefault(key, grant)
        if grantor:
            self.grantors[key].add(grantor)

    def result(self) -> list[AccessGrant]:
        out = []
        for key, grant in self.grants.items():
            if self.grantors[key]:
                by = "granted by " + ", ".join(sorted(self.grantors[key]))
                grant = replace(grant, detail=f"{by}; {grant.detail}" if grant.detail else by)
            out.append(grant)
        return sorted(out, key=_grant_order)

    def has_usage(self, principal: int, rel: _Rel) -> bool:
        role = self.cat.roles[principal]
        holders = self.holders.get(principal, {principal})
        usage = self.cat.usage.get(rel.nspoid, set())
        return (role.superuser or _PUBLIC_OID in usage or bool(holders & usage)
                or (self.cat.read_all_data is not None and self.cat.read_all_data in holders))

    def rls(self, principal: int | None, rel: _Rel) -> tuple[bool, str | None]:
        """(row_filtered, why) for ``principal`` reading ``rel`` (None stands for PUBLIC)."""
        if not rel.rls:
            return False, None
        if principal is not None:
            role = self.cat.roles[principal]
            if role.superuser or role.bypassrls:
                return False, None
            if rel.owner in self.holders.get(principal, {principal}) and not rel.force_rls:
                return False, None
            holders = self.holders.get(principal, {principal}) | {_PUBLIC_OID}
        else:
            holders = {_PUBLIC_OID}
        applying = [p for p in self.cat.policies.get(rel.oid, [])
                    if p.cmd in ("r", "*") and set(p.roles) & holders]
        permissive = [p.name for p in applying if p.permissive]
        restrictive = [p.name for p in applying if not p.permissive]
        if not permissive:
            return True, "row-level security: no permissive SELECT policy applies (sees no rows)"
        why = "row-level security: policies " + ", ".join(permissive)
        if restrictive:
            why += "; restrictive " + ", ".join(restrictive)
        return True, why

    def grant(self, rel: _Rel, column: str | None, principal: int, via: Via,
              path: tuple[str, ...], detail: str | None = None,
              grantor: str | None = None) -> None:
        filtered, why = self.rls(principal, rel)
        parts = [p for p in (detail, why) if p]
        role = self.cat.roles[principal]
        self.add(AccessGrant(object=rel.key, column=column, grantee=role.name, via=via,
                             path=path, can_login=role.login, row_filtered=filtered,
                             detail="; ".join(parts) or None), grantor)

    def table(self, rel: _Rel) -> None:
        acl = self.cat.table_acl.get(rel.oid, [])
        cols = self.cat.column_acl.get(rel.oid, [])
        by_grantee: dict[int, list[tuple[str | None, str]]] = defaultdict(list)
        for grantee, grantor in acl:
            by_grantee[grantee].append((None, grantor))
        for column, grantee, grantor in cols:
            by_grantee[grantee].append((column, grantor))
        for principal, role in self.cat.roles.items():
            if role.superuser:
                self.grant(rel, None, principal, "superuser", (role.name,),
                           "superuser: bypasses privilege checks and row-level security")
            usage = self.has_usage(principal, rel)
            for holder, path in self.cat.closure.get(principal, [(principal, (role.name,))]):
                if holder == self.cat.read_all_data:
                    self.grant(rel, None, principal, "predefined_role", path,
                               "pg_read_all_data: SELECT on every table, USAGE on every schema")
                entries = by_grantee.get(holder, [])
                if entries and not usage:
                    self.no_usage[rel.key].add(role.name)
                    continue
                for column, grantor in entries:
                    via: Via
                    if holder == rel.owner and column is None:
                        via = "owner"
                    else:
                        via = "direct" if holder == principal else "role"
                    self.grant(rel, column, principal, via, path, grantor=grantor)
        self.public(rel, by_grantee.get(_PUBLIC_OID, []))

    def public(self, rel: _Rel, entries: list[tuple[str | None, str]]) -> None:
        """SELECT granted to PUBLIC: one PUBLIC grant if PUBLIC also has USAGE on the schema.

        Without PUBLIC USAGE, only roles with USAGE can use the PUBLIC grant, so each of them
        gets its own grant with path ``(role, "PUBLIC")``.
        """
        if not entries:
            return
        if _PUBLIC_OID in self.cat.usage.get(rel.nspoid, set()):
            filtered, why = self.rls(None, rel)
            for column, grantor in entries:
                self.add(AccessGrant(object=rel.key, column=column, grantee=PUBLIC, via="public",
                                     path=(PUBLIC,), row_filtered=filtered, detail=why), grantor)
            return
        for principal, role in self.cat.roles.items():
            if not self.has_usage(principal, rel):
                continue
            for column, grantor in entries:
                self.grant(rel, column, principal, "public", (role.name, PUBLIC),
                           f"SELECT granted to PUBLIC; PUBLIC has no USAGE on schema "
                           f"{rel.schema}, {role.name} has", grantor=grantor)

    def default_privileges(self, schemas: list[str]) -> list[str]:
        notes = []
        for creator_oid, creator, nspname, grantee in self.cat.default_acl:
            if grantee == creator_oid:
                continue  # the creator owns what it creates; ownership is reported per table
            where = [nspname] if nspname else schemas
            scope = f"in schema {nspname}" if nspname else "in all schemas"
            name = PUBLIC if grantee == _PUBLIC_OID else self.names.get(grantee, str(grantee))
            login = grantee != _PUBLIC_OID and self.cat.roles[grantee].login
            for schema in where:
                self.add(AccessGrant(
                    object=f"{schema}.*", column=None, grantee=name, via="default_privileges",
                    path=(name,), can_login=login,
                    detail=f"future tables created by {creator} {scope} (ALTER DEFAULT "
                           f"PRIVILEGES); not current access"))
            notes.append(f"default privileges: tables created by {creator} {scope} will be "
                         f"readable by {name}")
        return notes


def _build(cat: _Catalog, source: str, notes: list[str]) -> AccessInventory:
    b = _Builder(cat)
    owners: dict[str, str] = {}
    row_policies: dict[str, tuple[str, ...]] = {}
    for rel in cat.rels:
        owners[rel.key] = b.names.get(rel.owner, str(rel.owner))
        b.table(rel)
        policies = cat.policies.get(rel.oid, [])
        if rel.rls:
            row_policies[rel.key] = tuple(p.describe(b.names) for p in policies)
            forced = " (FORCE: applies to the owner too)" if rel.force_rls else ""
            notes.append(f"{rel.key}: row-level security enabled{forced}"
                         + ("" if policies else "; no policy, so default deny"))
        elif policies:
            notes.append(f"{rel.key}: {len(policies)} policies defined but row-level security "
                         "is disabled, so they do not apply")
    for key, names in sorted(b.no_usage.items()):
        notes.append(f"{key}: SELECT is held without USAGE on the schema by "
                     f"{', '.join(sorted(names))}, who therefore cannot read it (not listed)")
    notes += b.default_privileges(sorted({r.schema for r in cat.rels}))
    for member, role in sorted(set(cat.noinherit)):
        notes.append(f"{member} is a NOINHERIT member of {role}: {role}'s privileges apply only "
                     "after SET ROLE and are not counted")
    grants = b.result()
    return AccessInventory(source=source, grants=tuple(grants),
                           roles=tuple(_roles(cat, grants)), owners=owners,
                           row_policies=row_policies, notes=tuple(notes))


def _grant_order(g: AccessGrant) -> tuple[str, str, str, str, tuple[str, ...]]:
    return (g.object, g.column or "", g.grantee, g.via, g.path)


def _roles(cat: _Catalog, grants: Iterable[AccessGrant]) -> list[RoleInfo]:
    """Roles with transitive (inheriting) memberships; predefined pg_* roles only if they read."""
    names = {oid: r.name for oid, r in cat.roles.items()}
    member_of: dict[int, set[int]] = {p: {h for h, _ in paths} - {p}
                                      for p, paths in cat.closure.items()}
    members: dict[int, set[int]] = defaultdict(set)
    for p, held in member_of.items():
        for h in held:
            members[h].add(p)
    in_grants = {g.grantee for g in grants} | {n for g in grants for n in g.path}
    out = []
    for oid, role in sorted(cat.roles.items(), key=lambda kv: kv[1].name):
        if role.name.startswith("pg_") and role.name not in in_grants:
            continue
        out.append(RoleInfo(
            name=role.name, can_login=role.login, superuser=role.superuser,
            member_of=tuple(sorted(names[h] for h in member_of.get(oid, ()))),
            members=tuple(sorted(names[m] for m in members[oid]))))
    return out
