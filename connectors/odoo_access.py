"""Who can read which Odoo model and field, and why (connector-protocols §3.7).

Odoo decides read access in three layers, and the inventory follows them:

* **Model access** (``ir.model.access``): additive rows ``(model, group, perm_read)``. A user
  reads model M when one of the groups they hold — directly or through ``implied_ids``, which
  this module closes transitively itself (``all_implied_ids``/``all_group_ids`` only exist in
  newer versions) — has an active row with ``perm_read``. A row without a group applies to
  every user, portal and public ones included: one ``PUBLIC`` grant (``via="public"``).
  Otherwise one grant per user and group row, ``via="group"``, ``path = (login, group, …,
  group holding the row)`` along the implication chain.
* **Record rules** (``ir.rule`` with ``perm_read``): global rules narrow everybody, group rules
  narrow members of their groups; a grant is ``row_filtered`` when any applies to its reader,
  with the rule names and ``domain_force`` in ``detail`` and in ``row_policies``.
* **Field groups** (``ir.model.fields.groups``): Odoo hides such a field entirely from users
  outside those groups (left out of ``fields_get``, refused on read). Members get a column
  grant naming the group; every other reader gets a mask marker on that column (``masked``,
  the detail the shared access helpers recognise), so the column reads as not plainly
  readable for them without inventing a separate Odoo concept.

Superusers: uid 1 (``__system__``) bypasses access rights and record rules; members of
Administration / Settings (``base.group_system``, found through ``ir.model.data``) can grant
themselves anything, so they get a ``via="superuser"`` grant on every model (record rules still
apply to them). Users with ``share=True`` are portal/public users and are named in notes.
Inactive users cannot log in and get no grants.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from auditor.access import MASKING_DETAIL
from auditor.errors import SourceAuthError
from auditor.models import AccessGrant, AccessInventory, RoleInfo

Execute = Callable[[str, str, Sequence[Any], Mapping[str, Any] | None], Any]
PUBLIC = "PUBLIC"
#: The detail the shared access helpers read as "this grantee sees this column masked":
#: Odoo hides fields restricted by ``groups=`` from users outside those groups.
MASK_MARKER = f"{MASKING_DETAIL}: field restricted to other groups (fields_get hides it)"
SUPERUSER_ID = 1


def _rel_id(value: Any) -> int | None:
    return int(value[0]) if isinstance(value, list | tuple) and value else None


def _ids(value: Any) -> list[int]:
    return [int(v) for v in value] if isinstance(value, list | tuple) else []


class _Graph:
    """Groups, their implications, and each user's shortest chain to every group they hold."""

    def __init__(self, groups: list[dict[str, Any]], name_field: str) -> None:
        self.name = {g["id"]: str(g.get(name_field) or g.get("name") or g["id"]) for g in groups}
        self.implied = {g["id"]: _ids(g.get("implied_ids")) for g in groups}

    def chains(self, direct: Iterable[int]) -> dict[int, tuple[int, ...]]:
        """Group id → shortest implication chain from one of ``direct`` to it (BFS)."""
        out: dict[int, tuple[int, ...]] = {}
        queue = deque((g,) for g in direct)
        while queue:
            chain = queue.popleft()
            if chain[-1] in out:
                continue
            out[chain[-1]] = chain
            queue.extend((*chain, nxt) for nxt in self.implied.get(chain[-1], ()))
        return out

    def names(self, chain: Iterable[int]) -> tuple[str, ...]:
        return tuple(self.name.get(g, str(g)) for g in chain)


def inventory(execute: Execute, source: str, objects: list[str]) -> AccessInventory:
    """Read users, groups, model access, record rules and field groups; see module docstring."""
    def read(model: str, domain: list[Any], fields: list[str], **kw: Any) -> list[dict[str, Any]]:
        return execute(model, "search_read", [domain], {"fields": fields, "order": "id asc",
                                                        **kw})

    user_fields = execute("res.users", "fields_get", [], {"attributes": ["type"]})
    groups_field = "group_ids" if "group_ids" in user_fields else "groups_id"
    group_fields = execute("res.groups", "fields_get", [], {"attributes": ["type"]})
    label = "full_name" if "full_name" in group_fields else "name"
    graph = _Graph(read("res.groups", [], list(dict.fromkeys(["name", label, "implied_ids"]))),
                   label)
    users = read("res.users", [], ["login", "name", "active", "share", groups_field],
                 context={"active_test": False})
    models = {r["model"]: r for r in read("ir.model", [["model", "in", objects]], ["model"])}
    ids = [r["id"] for r in models.values()]
    acl = read("ir.model.access", [["model_id", "in", ids], ["perm_read", "=", True]],
               ["name", "model_id", "group_id"])
    rules = read("ir.rule", [["model_id", "in", ids], ["perm_read", "=", True]],
                 ["name", "model_id", "groups", "domain_force", "global"])
    restricted = read("ir.model.fields", [["model", "in", objects], ["groups", "!=", False]],
                      ["model", "name", "ttype", "groups"])
    system = _system_group(execute, graph)

    b = _Builder(graph, system)
    notes = [f"{name}: no such model in ir.model" for name in objects if name not in models]
    for user in users:
        b.add_user(user, groups_field)
    for name, model in models.items():
        b.model(name, model["id"], [a for a in acl if _rel_id(a["model_id"]) == model["id"]],
                [r for r in rules if _rel_id(r["model_id"]) == model["id"]],
                [f for f in restricted if f["model"] == name])
    portal = sorted(b.share_logins)
    if portal:
        notes.append(f"portal/public (share) users, who read only what portal groups and "
                     f"group-less access rows allow: {', '.join(portal)}")
    notes.extend(b.notes)
    return AccessInventory(source=source, grants=tuple(b.grants), roles=b.roles(),
                           row_policies=b.row_policies, notes=tuple(notes))


def _system_group(execute: Execute, graph: _Graph) -> int | None:
    """``base.group_system`` from ir.model.data; by name when that is not readable."""
    try:
        rows = execute("ir.model.data", "search_read",
                       [[["module", "=", "base"], ["name", "=", "group_system"],
                         ["model", "=", "res.groups"]]], {"fields": ["res_id"]})
        if rows:
            return int(rows[0]["res_id"])
    except SourceAuthError:
        pass
    return next((g for g, n in graph.name.items() if n.endswith("/ Settings")), None)


class _Builder:
    def __init__(self, graph: _Graph, system: int | None) -> None:
        self.graph = graph
        self.system = system
        self.grants: list[AccessGrant] = []
        self.users: list[tuple[dict[str, Any], dict[int, tuple[int, ...]]]] = []
        self.direct: dict[str, tuple[int, ...]] = {}
        self.share_logins: set[str] = set()
        self.superuser_logins: set[str] = set()
        self.row_policies: dict[str, tuple[str, ...]] = {}
        self.notes: list[str] = []

    def add_user(self, user: dict[str, Any], groups_field: str) -> None:
        direct = tuple(_ids(user.get(groups_field)))
        self.direct[user["login"]] = direct
        if user["id"] == SUPERUSER_ID:
            self.superuser_logins.add(user["login"])
        if user.get("active") is False:
            return
        if user.get("share"):
            self.share_logins.add(user["login"])
        self.users.append((user, self.graph.chains(direct)))

    def model(self, name: str, model_id: int, acl: list[dict[str, Any]],
              rules: list[dict[str, Any]], restricted: list[dict[str, Any]]) -> None:
        global_rules = [r for r in rules if r.get("global") or not _ids(r.get("groups"))]
        if rules:
            self.row_policies[name] = tuple(
                f"{r['name']}: {r.get('domain_force') or '[]'} ("
                + ("global" if r in global_rules else "groups " + ", ".join(
                    self.graph.names(_ids(r["groups"])))) + ")" for r in rules)
        for row in acl:
            if _rel_id(row.get("group_id")) is None:
                self.grants.append(AccessGrant(
                    object=name, column=None, grantee=PUBLIC, via="public", path=(PUBLIC,),
                    row_filtered=bool(global_rules),
                    detail=_join(f"ir.model.access {row['name']} has no group: every user, "
                                 "portal and public users included", _rules(global_rules))))
        readers: list[str] = []
        for user, chains in self.users:
            login, uid = user["login"], user["id"]
            applying = [] if uid == SUPERUSER_ID else global_rules + [
                r for r in rules
                if r not in global_rules and set(_ids(r["groups"])) & chains.keys()]
            share = " (portal/public user)" if user.get("share") else ""
            before = len(self.grants)
            if uid == SUPERUSER_ID:
                self._grant(name, login, "superuser", (login,), [], "Odoo superuser (uid 1): "
                            "bypasses access rights and record rules")
            if self.system is not None and self.system in chains:
                self._grant(name, login, "superuser",
                            (login, *self.graph.names(chains[self.system])), applying,
                            "member of Administration / Settings (base.group_system): can "
                            "change access rights, so can read every model")
            for row in acl:
                gid = _rel_id(row.get("group_id"))
                if gid is not None and gid in chains:
                    self._grant(name, login, "group", (login, *self.graph.names(chains[gid])),
                                applying, f"ir.model.access {row['name']}{share}")
            if len(self.grants) > before or any(_rel_id(a.get("group_id")) is None for a in acl):
                readers.append(login)
        for field in restricted:
            self._field(name, field, readers)

    def _grant(self, obj: str, login: str, via: Any, path: tuple[str, ...],
               rules: list[dict[str, Any]], why: str, column: str | None = None) -> None:
        self.grants.append(AccessGrant(object=obj, column=column, grantee=login, via=via,
                                       path=path, can_login=True, row_filtered=bool(rules),
                                       detail=_join(why, _rules(rules))))

    def _field(self, obj: str, field: dict[str, Any], readers: list[str]) -> None:
        allowed = set(_ids(field.get("groups")))
        columns = [field["name"]] + ([f"{field['name']}_name"]
                                     if field.get("ttype") == "many2one" else [])
        names = ", ".join(self.graph.names(sorted(allowed)))
        self.notes.append(f"{obj}.{field['name']} is restricted to {names}: Odoo hides it from "
                          "other users; their grants carry a mask marker on it")
        chains = {u["login"]: c for u, c in self.users}
        for login in readers:
            held = [g for g in allowed if g in chains.get(login, {})]
            uid = next((u["id"] for u, _ in self.users if u["login"] == login), None)
            for column in columns:
                if held:
                    self._grant(obj, login, "group", (login, *self.graph.names(
                        chains[login][held[0]])), [], f"field groups {names}", column=column)
                elif uid != SUPERUSER_ID:
                    self.grants.append(AccessGrant(object=obj, column=column, grantee=login,
                                                   masked=True, detail=MASK_MARKER,
                                                   path=(login,), can_login=True))
        if any(g.grantee == PUBLIC and g.object == obj and g.column is None
               for g in self.grants):
            for column in columns:
                self.grants.append(AccessGrant(object=obj, column=column, grantee=PUBLIC,
                                               masked=True, detail=MASK_MARKER, path=(PUBLIC,)))

    def roles(self) -> tuple[RoleInfo, ...]:
        out: list[RoleInfo] = []
        members: dict[int, list[str]] = {}
        held: set[int] = set()
        active = {u["login"] for u, _ in self.users}
        for login, direct in self.direct.items():
            for g in direct:
                members.setdefault(g, []).append(login)
            chains = self.graph.chains(direct)
            held.update(chains)
            superuser = login in self.superuser_logins or (
                self.system is not None and self.system in chains)
            out.append(RoleInfo(login, can_login=login in active, superuser=superuser,
                                member_of=self.graph.names(direct)))
        for gid in sorted(held):
            out.append(RoleInfo(self.graph.name.get(gid, str(gid)),
                                member_of=self.graph.names(self.graph.implied.get(gid, ())),
                                members=tuple(sorted(members.get(gid, ())))))
        return tuple(out)


def _rules(rules: list[dict[str, Any]]) -> str:
    return "; ".join(f"record rule {r['name']}: {r.get('domain_force') or '[]'}" for r in rules)


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
