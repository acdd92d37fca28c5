"""Questions scoring asks of an access inventory, and declared inventories for closed systems.

Connectors that can introspect grants (``connectors/access_postgres.py``,
``connectors/access_mysql.py``) return an :class:`AccessInventory`; so does
:func:`load_declared_inventory` for systems that cannot be introspected, so checks A3 ("the
consuming role can read every required column") and P2 ("no PII readable by a broad role")
have one model to read. Nothing here touches a database.

Conventions every inventory follows (and these helpers rely on):

* a grant with ``column=None`` covers every column of the table; a column grant covers one;
* grants on ``schema.*`` (``via="default_privileges"``) describe future tables, never readers;
* a ``PUBLIC`` grantee stands for every role of the source, so it is not repeated per role;
* ``path[-1]`` is the role that holds the privilege (the *holder*), ``path[0]`` the reader;
* MariaDB access through a role that is not the account's default role has a detail starting
  with :data:`REQUIRES_SET_ROLE`: the account can read after ``SET ROLE``, not on login;
* a declared masking policy is stored as a column grant with ``masked=True`` and detail
  :data:`MASKING_DETAIL` (a *mask marker*): it is not a reason to read, but every grant of that
  grantee on that column reads as masked (declared inventories only; PostgreSQL and MariaDB
  have no column masking).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from auditor.config import _locate, format_validation_error, read_yaml_mapping
from auditor.errors import InvalidConfig
from auditor.models import AccessGrant, AccessInventory, RoleInfo

__all__ = [
    "MASKING_DETAIL",
    "PUBLIC",
    "REQUIRES_SET_ROLE",
    "broad_readers",
    "can_read",
    "load_declared_inventory",
    "login_members",
    "readers",
    "requires_set_role",
]

PUBLIC = "PUBLIC"
REQUIRES_SET_ROLE = "requires SET ROLE"
MASKING_DETAIL = "declared masking policy"


def requires_set_role(grant: AccessGrant) -> bool:
    """True when the access exists only after the reader activates a role (MariaDB/MySQL)."""
    return bool(grant.detail and grant.detail.startswith(REQUIRES_SET_ROLE))


def _is_mask_marker(grant: AccessGrant) -> bool:
    return grant.masked and (grant.detail or "").startswith(MASKING_DETAIL)


def readers(inv: AccessInventory, object: str, column: str | None = None) -> list[AccessGrant]:
    """Grants that let someone read ``column`` of ``object`` (table-level plus column grants).

    With ``column=None`` only table-level grants count: they are the readers of every column.
    Grants of a grantee with a mask marker on ``column`` come back ``masked=True``.
    """
    scope = [g for g in inv.grants
             if g.object == object and g.via != "default_privileges"
             and (g.column is None or (column is not None and g.column == column))]
    masked = {g.grantee for g in scope if _is_mask_marker(g)}
    return [replace(g, masked=True) if g.grantee in masked and not g.masked else g
            for g in scope if not _is_mask_marker(g)]


def _role_names(inv: AccessInventory) -> set[str]:
    return {r.name for r in inv.roles}


def can_read(inv: AccessInventory, role: str, object: str,
             column: str | None = None) -> AccessGrant | None:
    """The best reason ``role`` can read ``column`` of ``object`` (or the whole table), or None.

    Prefers access that works on login over access after SET ROLE, then unfiltered over
    row-filtered, unmasked over masked, and short paths. A PUBLIC grant counts for any role the
    inventory knows (or for any role when the inventory lists no roles). A MySQL account may be
    named without its host (``svc`` for ``svc@%``) when no role has exactly that name.
    """
    rs = readers(inv, object, column)
    known = _role_names(inv)
    own = [g for g in rs if g.grantee == role]
    if not own and "@" not in role and role not in known:
        own = [g for g in rs if "@" in g.grantee and g.grantee.rsplit("@", 1)[0] == role]
        if not own and any(n.rsplit("@", 1)[0] == role for n in known if "@" in n):
            known = known | {role}
    if not own and (not known or role in known):
        own = [g for g in rs if g.grantee == PUBLIC]
    if not own:
        return None
    return min(own, key=lambda g: (requires_set_role(g), g.row_filtered, g.masked, len(g.path),
                                   g.column is not None))


def login_members(inv: AccessInventory, role: str) -> set[str]:
    """Login principals that are members of ``role``, directly or through nested roles.

    Works from both ``RoleInfo.members`` and ``RoleInfo.member_of`` so inventories that list only
    one direction (declared files, direct memberships) are counted the same way.
    """
    info = {r.name: r for r in inv.roles}
    members: dict[str, set[str]] = {}
    for r in inv.roles:
        members.setdefault(r.name, set()).update(r.members)
        for parent in r.member_of:
            members.setdefault(parent, set()).add(r.name)
    seen: set[str] = set()
    queue = deque(members.get(role, ()))
    while queue:
        name = queue.popleft()
        if name in seen or name == role:
            continue
        seen.add(name)
        queue.extend(members.get(name, ()))
    return {n for n in seen if n in info and info[n].can_login}


def broad_readers(inv: AccessInventory, object: str, column: str | None,
                  broad_roles: Iterable[str] = (PUBLIC,),
                  member_threshold: int | None = None) -> list[AccessGrant]:
    """Grants through which a *broad* role can read the column: one grant per broad role.

    A role is broad when it is PUBLIC, is named in ``broad_roles``, or has more than
    ``member_threshold`` login members (transitively). The role is the privilege's holder
    (``path[-1]``), so alice reading through ``analysts`` counts as ``analysts`` once, not as
    every member; the grant returned is the holder's own when listed. Masked grants are returned
    too (``masked=True``): whether masking mitigates is the caller's policy (``masked_ok``).
    """
    broad = set(broad_roles) | {PUBLIC}
    sizes: dict[str, int] = {}

    def is_broad(holder: str) -> bool:
        if holder in broad:
            return True
        if member_threshold is None:
            return False
        if holder not in sizes:
            sizes[holder] = len(login_members(inv, holder))
        return sizes[holder] > member_threshold

    best: dict[str, AccessGrant] = {}
    for g in readers(inv, object, column):
        holder = g.path[-1] if g.path else g.grantee
        if not is_broad(holder):
            continue
        old = best.get(holder)
        rank = (g.grantee != holder, len(g.path), g.masked)
        if old is None or rank < (old.grantee != holder, len(old.path), old.masked):
            best[holder] = g
    return [best[h] for h in sorted(best)]


# --- Declared inventories -----------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _names(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class DeclaredRole(_Model):
    login: bool = Field(False, description="A user that can log in (not only a group).")
    superuser: bool = Field(False, description="Reads every object in this file (not "
                            "inherited by members).")
    member_of: list[str] = Field(default_factory=list, description="Roles it inherits from.")

    @field_validator("member_of", mode="before")
    @classmethod
    def _as_list(cls, v: Any) -> Any:
        return _names(v)


class DeclaredGrant(_Model):
    object: str = Field(description="`schema.table` the grant is on.")
    columns: list[str] | None = Field(None, description="Column grant; omit for the table.")
    to: list[str] = Field(description="Role(s) holding SELECT; PUBLIC for everyone.")
    row_filtered: bool = Field(False, description="Readers see only some rows.")
    detail: str | None = None

    @field_validator("to", "columns", mode="before")
    @classmethod
    def _as_list(cls, v: Any) -> Any:
        return _names(v)


class DeclaredMasking(_Model):
    object: str
    column: str
    masked_for: list[str] | None = Field(None, description="Roles that see masked values "
                                         "(omit: every reader).")
    unmasked_for: list[str] = Field(default_factory=list,
                                    description="Roles that see clear values.")

    @field_validator("masked_for", "unmasked_for", mode="before")
    @classmethod
    def _as_list(cls, v: Any) -> Any:
        return _names(v)


class DeclaredInventory(_Model):
    version: int = 1
    source: str | None = Field(None, description="Source name (default: the file's stem).")
    roles: dict[str, DeclaredRole] = Field(default_factory=dict)
    grants: list[DeclaredGrant] = Field(default_factory=list)
    owners: dict[str, str] = Field(default_factory=dict)
    masking: list[DeclaredMasking] = Field(default_factory=list)
    row_policies: dict[str, list[str]] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)


def load_declared_inventory(path: str | Path) -> AccessInventory:
    """Read a YAML inventory for a system that cannot be introspected (every grant via=declared).

    Role memberships are resolved transitively like the database inventories, so a declared
    grant to ``reporting`` reaches alice through ``analysts`` with the same ``path``. Errors name
    ``file:line:col``, like ``audit.yml`` errors.
    """
    path = Path(path)
    _, data, root = read_yaml_mapping(path, "declared inventory", "`roles` and `grants`")

    def where(*loc: str | int) -> str:
        line_col = _locate(root, loc) if root is not None else None
        return f"{path}:{line_col[0]}:{line_col[1]}" if line_col else str(path)

    try:
        decl = DeclaredInventory.model_validate(data)
    except ValidationError as exc:
        raise InvalidConfig(format_validation_error(exc, path, root,
                                                    "invalid declared inventory")) from None
    _check_names(decl, where)
    return _expand(decl, decl.source or path.stem)


def _check_names(decl: DeclaredInventory, where: Any) -> None:
    """Every role named in memberships, grants, owners and masking must be declared."""
    known = set(decl.roles) | {PUBLIC}
    errors = []
    for name, role in decl.roles.items():
        errors += [f"{where('roles', name, 'member_of', i)} roles.{name}.member_of[{i}]: "
                   f"unknown role {parent!r}"
                   for i, parent in enumerate(role.member_of) if parent not in known]
    for k, g in enumerate(decl.grants):
        errors += [f"{where('grants', k, 'to')} grants[{k}].to: unknown role {r!r}"
                   for r in g.to if r not in known]
    for obj, owner in decl.owners.items():
        if owner not in known:
            errors.append(f"{where('owners', obj)} owners.{obj}: unknown role {owner!r}")
    for k, m in enumerate(decl.masking):
        for key in ("masked_for", "unmasked_for"):
            errors += [f"{where('masking', k, key)} masking[{k}].{key}: unknown role {r!r}"
                       for r in getattr(m, key) or () if r not in known]
    if errors:
        raise InvalidConfig("invalid declared inventory:\n  " + "\n  ".join(errors),
                            hint="declare every role under `roles`")


def _closure(decl: DeclaredInventory) -> dict[str, list[tuple[str, ...]]]:
    """role -> every inheritance path starting at it (the role itself first)."""
    out: dict[str, list[tuple[str, ...]]] = {}
    for start in decl.roles:
        paths: list[tuple[str, ...]] = []
        stack: list[tuple[str, ...]] = [(start,)]
        while stack:
            p = stack.pop()
            paths.append(p)
            stack.extend(p + (parent,) for parent in reversed(decl.roles[p[-1]].member_of)
                         if parent not in p and parent != PUBLIC)
        out[start] = paths
    return out


def _expand(decl: DeclaredInventory, source: str) -> AccessInventory:
    closure = _closure(decl)
    login = {n: r.login for n, r in decl.roles.items()}
    grants: dict[tuple[Any, ...], AccessGrant] = {}

    def emit(obj: str, column: str | None, holder: str, detail: str,
             row_filtered: bool = False) -> None:
        if holder == PUBLIC:
            targets: list[tuple[str, ...]] = [(PUBLIC,)]
        else:
            targets = [p for paths in closure.values() for p in paths if p[-1] == holder]
        for p in targets:
            g = AccessGrant(object=obj, column=column, grantee=p[0], via="declared", path=p,
                            can_login=login.get(p[0], False), row_filtered=row_filtered,
                            detail=detail)
            grants.setdefault((obj, column, p[0], p, detail), g)

    objects: set[str] = set()
    for g in decl.grants:
        objects.add(g.object)
        filtered = g.row_filtered or g.object in decl.row_policies
        for holder in g.to:
            for column in g.columns or [None]:
                emit(g.object, column, holder, g.detail or "declared grant", filtered)
    for obj, owner in decl.owners.items():
        objects.add(obj)
        emit(obj, None, owner, "declared owner")
    objects |= {m.object for m in decl.masking} | set(decl.row_policies)
    for name, role in decl.roles.items():
        if role.superuser:
            for obj in objects:
                grants.setdefault((obj, None, name, (name,), "superuser"), AccessGrant(
                    object=obj, column=None, grantee=name, via="declared", path=(name,),
                    can_login=role.login, detail="declared superuser"))
    for m in decl.masking:
        readers_ = {g.grantee for g in grants.values()
                    if g.object == m.object and g.column in (None, m.column)}
        for reader in sorted(readers_):
            roles = {p[-1] for p in closure.get(reader, [(reader,)])}
            masked = m.masked_for is None or bool(roles & set(m.masked_for))
            if masked and not roles & set(m.unmasked_for):
                grants[(m.object, m.column, reader, (reader,), "masked")] = AccessGrant(
                    object=m.object, column=m.column, grantee=reader, via="declared",
                    path=(reader,), can_login=login.get(reader, False), masked=True,
                    detail=MASKING_DETAIL)
    roles = [RoleInfo(name=n, can_login=r.login, superuser=r.superuser,
                      member_of=tuple(sorted({p[-1] for p in closure[n]} - {n})),
                      members=tuple(sorted({m for m, paths in closure.items() if m != n
                                            and any(p[-1] == n for p in paths)})))
             for n, r in sorted(decl.roles.items())]
    ordered = sorted(grants.values(), key=lambda g: (g.object, g.column or "", g.grantee,
                                                     g.path, g.masked))
    return AccessInventory(
        source=source, grants=tuple(ordered), roles=tuple(roles), owners=dict(decl.owners),
        row_policies={k: tuple(v) for k, v in decl.row_policies.items()},
        notes=("declared inventory: not introspected, as accurate as its author",
               *decl.notes))
