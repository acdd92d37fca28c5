"""Who can read a Salesforce object or field: profiles, permission sets and their groups (§1.7).

Salesforce stores every profile's object and field permissions in a permission set of its own
(``IsOwnedByProfile = true``) and gives each user an assignment to it, so one model covers
both: a user reads object O when an active assignment — direct, or through a permission set
group's components — reaches a set with ``ObjectPermissions.PermissionsRead`` on O, or a set
with ``PermissionsViewAllData`` (reported as ``via="superuser"``).

Which *fields* they read is field-level security, which applies to View All Data too ("users
with View All Data ... must still be assigned field permissions", Salesforce Help): the fields
the describe marks ``permissionable: false`` (Id, Name, audit fields, universally required
fields) are readable with the object, the others only where a ``FieldPermissions`` row grants
Read. A user who reads every field gets one object-level grant (``column=None``); otherwise one
grant per readable field, so "can the model's service user read ``employee_count``" has the
Salesforce answer, not the object's. Record-level sharing (OWD, roles, sharing rules) is out
of scope; muting permission sets in groups are not subtracted (noted in the inventory).

The queries are the exact SOQL strings of the spec, paged like any other query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from auditor.errors import UnknownObject
from auditor.models import AccessGrant, AccessInventory, RoleInfo

Query = Callable[[str], Iterator[dict[str, Any]]]
Via = Literal["profile", "permission_set", "permission_set_group", "superuser"]

PERMISSION_SETS = ("SELECT Id, Name, Label, IsOwnedByProfile, Profile.Name, "
                   "PermissionsViewAllData, PermissionsModifyAllData FROM PermissionSet")
OBJECT_PERMISSIONS = ("SELECT ParentId, SobjectType, PermissionsRead, PermissionsEdit, "
                      "PermissionsViewAllRecords, PermissionsModifyAllRecords "
                      "FROM ObjectPermissions WHERE PermissionsRead = true")
FIELD_PERMISSIONS = ("SELECT ParentId, SobjectType, Field, PermissionsRead, PermissionsEdit "
                     "FROM FieldPermissions WHERE PermissionsRead = true")
ASSIGNMENTS = ("SELECT AssigneeId, Assignee.Username, Assignee.IsActive, PermissionSetId, "
               "PermissionSetGroupId, IsActive, ExpirationDate FROM PermissionSetAssignment")
GROUP_COMPONENTS = ("SELECT PermissionSetGroupId, PermissionSetGroup.DeveloperName, "
                    "PermissionSetId FROM PermissionSetGroupComponent")


@dataclass(frozen=True, slots=True)
class _Set:
    id: str
    name: str
    via: Via  # "profile" or "permission_set"
    view_all: bool


@dataclass(slots=True)
class _Holding:
    """One way a user holds a set: the set, and the group it came through (if any)."""

    set: _Set
    group: str | None = None

    @property
    def via(self) -> Via:
        return "permission_set_group" if self.group else self.set.via

    def path(self, user: str) -> tuple[str, ...]:
        return (user, self.group, self.set.name) if self.group else (user, self.set.name)


@dataclass(slots=True)
class _Users:
    holdings: dict[str, list[_Holding]] = field(default_factory=lambda: defaultdict(list))
    skipped_inactive: set[str] = field(default_factory=set)
    skipped_assignments: int = 0


def inventory(source: str, query: Query, objects: list[str],
              fields: Mapping[str, Sequence[tuple[str, bool]]] | None = None) -> AccessInventory:
    """Read the ACL objects with ``query`` and work out who can read each of ``objects``.

    ``fields`` maps an object to its describe's ``(name, permissionable)`` pairs; without it
    (describe not readable) object readers are reported as reading every field, with a note.
    """
    sets = {r["Id"]: _permission_set(r) for r in query(PERMISSION_SETS)}
    obj_read: dict[str, set[str]] = defaultdict(set)
    for r in query(OBJECT_PERMISSIONS):
        if r.get("PermissionsRead"):
            obj_read[r["ParentId"]].add(str(r["SobjectType"]).lower())
    field_read: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in query(FIELD_PERMISSIONS):
        if r.get("PermissionsRead"):
            sobject, _, name = str(r["Field"]).partition(".")
            field_read[(r["ParentId"], str(r.get("SobjectType") or sobject).lower())].add(name)
    groups: dict[str, list[str]] = defaultdict(list)
    group_names: dict[str, str] = {}
    notes = ["record-level sharing (org-wide defaults, roles, sharing rules) is not evaluated",
             "muting permission sets in permission set groups are not subtracted"]
    try:
        for r in query(GROUP_COMPONENTS):
            gid = r["PermissionSetGroupId"]
            groups[gid].append(r["PermissionSetId"])
            group_names[gid] = str((r.get("PermissionSetGroup") or {}).get("DeveloperName")
                                   or gid)
    except UnknownObject:  # orgs (API versions) without permission set groups
        notes.append("PermissionSetGroupComponent is not queryable: group access not counted")
    users = _assignments(query(ASSIGNMENTS), sets, groups, group_names)

    grants: list[AccessGrant] = []
    for obj in objects:
        key = obj.lower()
        described = (fields or {}).get(obj)
        if described is None:
            notes.append(f"{obj}: describe not read; object readers are reported as reading "
                         "every field (field-level security not applied)")
        for user, holdings in sorted(users.holdings.items()):
            readers = [h for h in holdings if h.set.view_all or key in obj_read[h.set.id]]
            if not readers:
                continue  # field permissions without object read give no access
            grants.extend(_object_grants(obj, user, readers, holdings, described,
                                         field_read))
    if users.skipped_inactive:
        notes.append(f"{len(users.skipped_inactive)} inactive users skipped: "
                     f"{', '.join(sorted(users.skipped_inactive))}")
    if users.skipped_assignments:
        notes.append(f"{users.skipped_assignments} inactive or expired assignments skipped")
    return AccessInventory(source=source, grants=tuple(_unique(grants)),
                           roles=tuple(_roles(users)), notes=tuple(notes))


def _object_grants(obj: str, user: str, readers: list[_Holding], holdings: list[_Holding],
                   described: Sequence[tuple[str, bool]] | None,
                   field_read: Mapping[tuple[str, str], set[str]]) -> list[AccessGrant]:
    """One user's grants on one object: the object when every field is readable, else the
    fields one by one (always-readable ones through the object read, FLS ones through the
    set that grants the field)."""
    key = obj.lower()
    fls = {col: h for h in holdings for col in sorted(field_read[(h.set.id, key)])}
    best = readers[0]
    obj_detail = "View All Data" if best.set.view_all else "Read on the object"
    if described is not None:
        always = [name for name, permissionable in described if not permissionable]
        governed = [name for name, permissionable in described if permissionable]
        if any(name not in fls for name in governed):
            out = [AccessGrant(object=obj, column=name, grantee=user, via=_via(best),
                               path=best.path(user), can_login=True,
                               detail=f"{obj_detail}; not subject to field-level security")
                   for name in always]
            out += [AccessGrant(object=obj, column=name, grantee=user, via=fls[name].via,
                                path=fls[name].path(user), can_login=True,
                                detail="field-level security")
                    for name in governed if name in fls]
            return out
    out = [AccessGrant(object=obj, column=None, grantee=user, via=_via(h), path=h.path(user),
                       can_login=True,
                       detail="View All Data" if h.set.view_all else "Read on the object")
           for h in readers]
    if described is not None:
        return out  # every field readable: the object grant says it all
    out += [AccessGrant(object=obj, column=col, grantee=user, via=h.via, path=h.path(user),
                        can_login=True, detail="field-level security")
            for col, h in fls.items()]
    return out


def _via(h: _Holding) -> Via:
    return "superuser" if h.set.view_all else h.via


def _permission_set(r: dict[str, Any]) -> _Set:
    profile = (r.get("Profile") or {}).get("Name") if r.get("IsOwnedByProfile") else None
    return _Set(id=r["Id"], name=str(profile or r.get("Label") or r.get("Name") or r["Id"]),
                via="profile" if r.get("IsOwnedByProfile") else "permission_set",
                view_all=bool(r.get("PermissionsViewAllData")))


def _assignments(rows: Iterable[dict[str, Any]], sets: dict[str, _Set],
                 groups: dict[str, list[str]], group_names: dict[str, str]) -> _Users:
    users = _Users()
    today = datetime.now(UTC).date()
    for r in rows:
        assignee = r.get("Assignee") or {}
        user = str(assignee.get("Username") or r.get("AssigneeId"))
        if assignee.get("IsActive") is False:
            users.skipped_inactive.add(user)
            continue
        expires = r.get("ExpirationDate")
        if r.get("IsActive") is False or (expires and _day(expires) < today):
            users.skipped_assignments += 1
            continue
        group = r.get("PermissionSetGroupId")
        if group:
            for set_id in groups.get(group, ()):
                if set_id in sets:
                    users.holdings[user].append(_Holding(sets[set_id], group_names[group]))
        elif r.get("PermissionSetId") in sets:
            users.holdings[user].append(_Holding(sets[r["PermissionSetId"]]))
    return users


def _day(value: Any) -> date:
    return date.fromisoformat(str(value)[:10])


def _unique(grants: list[AccessGrant]) -> Iterator[AccessGrant]:
    seen: set[tuple[Any, ...]] = set()
    for g in grants:
        key = (g.object, g.column, g.grantee, g.via, g.path)
        if key not in seen:
            seen.add(key)
            yield g


def _roles(users: _Users) -> list[RoleInfo]:
    """Users (login principals) and the profiles / sets / groups they hold, both directions."""
    members: dict[str, set[str]] = defaultdict(set)
    superuser: dict[str, bool] = {}
    out = []
    for user, holdings in sorted(users.holdings.items()):
        held = set()
        for h in holdings:
            holder = h.group or h.set.name
            held.add(holder)
            members[holder].add(user)
            superuser[holder] = superuser.get(holder, False) or h.set.view_all
        out.append(RoleInfo(name=user, can_login=True, member_of=tuple(sorted(held))))
    for holder in sorted(members):
        out.append(RoleInfo(name=holder, superuser=superuser[holder],
                            members=tuple(sorted(members[holder]))))
    return out
