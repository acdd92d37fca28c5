"""How the OData fake describes its tables: EDMX for SAP v2 and v4, CSDL plus attribute
metadata for Dataverse, and the Dataverse security model (users, roles, privileges).

Kept apart from the request handling in :mod:`fakeservers.odata` because each flavour states
the same :class:`~fakeservers.tables.FakeField` facts in a different place: SAP v2 in
``sap:*`` attributes and a ``Common.ValueList`` annotation pointing at a fixed-values set,
SAP v4 in ``Common.Label`` annotations and enum types, Dataverse mostly *outside* ``$metadata``
(``RequiredLevel``, ``MaxLength`` and option sets live in ``EntityDefinitions/Attributes``).
Shapes follow connector-protocols §4.2/§4.5/§4.6; element names of the Dataverse security
model are [unverified] against a live ``$metadata``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal
from xml.sax.saxutils import quoteattr

from fakeservers.tables import FakeField, FakeTable

Flavor = Literal["sap2", "sap4", "dataverse"]

#: FakeField type → Edm type per flavour (SAP v2 has no Edm.Date: a date is an Edm.DateTime
#: with ``sap:display-format="Date"``; its Int64 and Decimal travel as JSON strings).
EDM = {
    "sap2": {"string": "Edm.String", "integer": "Edm.Int64", "float": "Edm.Decimal",
             "boolean": "Edm.Boolean", "date": "Edm.DateTime", "datetime": "Edm.DateTimeOffset"},
    "sap4": {"string": "Edm.String", "integer": "Edm.Int64", "float": "Edm.Decimal",
             "boolean": "Edm.Boolean", "date": "Edm.Date", "datetime": "Edm.DateTimeOffset"},
    "dataverse": {"string": "Edm.String", "integer": "Edm.Int32", "float": "Edm.Decimal",
                  "boolean": "Edm.Boolean", "date": "Edm.Date",
                  "datetime": "Edm.DateTimeOffset"},
}
#: Dataverse AttributeType of each FakeField type (attribute metadata).
ATTRIBUTE_TYPES = {"string": "String", "integer": "Integer", "float": "Decimal",
                   "boolean": "Boolean", "date": "DateTime", "datetime": "DateTime"}
OPTION_BASE = 100_000_000  # Dataverse's first custom option value

_NS = uuid.UUID("8d0b7c1e-7f63-4a43-9a86-0d6e0d0b0a11")


def guid(*parts: object) -> str:
    """Deterministic GUIDs, so seeded ids are stable between runs."""
    return str(uuid.uuid5(_NS, "/".join(map(str, parts))))


def edm_type(table: FakeTable, f: FakeField, flavor: Flavor) -> str:
    override = table.extra.get("edm", {}).get(f.name)
    if override:
        return str(override)
    if f.options and flavor == "sap4":
        return f"{table.extra.get('namespace', 'DEMO')}.{enum_name(table, f)}"
    if f.options and flavor == "dataverse":
        return "Edm.Int32"
    return EDM[flavor][f.type]


def enum_name(table: FakeTable, f: FakeField) -> str:
    return f"{table.name}_{f.name}"


def value_list_set(table: FakeTable, f: FakeField) -> str:
    """SAP's name pattern for the fixed values of a domain: ``VL_FV_<domain>``."""
    return f"VL_FV_{table.name}_{f.name}".upper()


def logical_name(table: FakeTable) -> str:
    """Dataverse logical name of an entity set (``accounts`` → ``account``)."""
    return str(table.extra.get("logical_name") or
               (table.name[:-1] if table.name.endswith("s") else table.name))


# -- EDMX --------------------------------------------------------------------------------------


def _a(**attrs: Any) -> str:
    """XML attributes; ``sap__display_format`` → ``sap:display-format``."""
    return "".join(f" {k.replace('__', ':').replace('_', '-')}={quoteattr(str(v))}"
                   for k, v in attrs.items() if v is not None)


def edmx(tables: list[FakeTable], flavor: Flavor, namespace: str) -> str:
    """``$metadata`` of the service in the flavour's EDMX dialect."""
    if flavor == "sap2":
        return _edmx_v2(tables, namespace)
    return _edmx_v4(tables, flavor, namespace)


def _edmx_v2(tables: list[FakeTable], ns: str) -> str:
    types, sets, annotations = [], [], []
    for t in tables:
        props = []
        for f in t.fields:
            edm = edm_type(t, f, "sap2")
            required = f.required or f.name == t.key
            props.append(f"<Property{_a(Name=f.name, Type=edm)}"
                         f"{_a(Nullable='false') if required else ''}"
                         f"{_a(MaxLength=f.max_length) if edm == 'Edm.String' else ''}"
                         f"{_a(Precision=15, Scale=2) if edm == 'Edm.Decimal' else ''}"
                         f"{_a(sap__label=f.label)}"
                         f"{_a(sap__display_format='Date') if f.type == 'date' else ''}"
                         f"{_a(sap__value_list='fixed-values') if f.options else ''}/>")
            if f.options:
                annotations.append(_value_list_annotation(ns, t, f))
        types.append(f"<EntityType{_a(Name=t.name + 'Type', sap__label=t.label)}>"
                     f"<Key><PropertyRef{_a(Name=t.key)}/></Key>{''.join(props)}</EntityType>")
        sets.append(f"<EntitySet{_a(Name=t.name, EntityType=f'{ns}.{t.name}Type')}"
                    ' sap:creatable="false" sap:updatable="false" sap:deletable="false"/>')
    return ('<?xml version="1.0" encoding="utf-8"?>'
            '<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx"'
            ' xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"'
            ' xmlns:sap="http://www.sap.com/Protocols/SAPData">'
            '<edmx:DataServices m:DataServiceVersion="2.0">'
            f'<Schema{_a(Namespace=ns)} xml:lang="en" sap:schema-version="1"'
            ' xmlns="http://schemas.microsoft.com/ado/2008/09/edm">'
            f"{''.join(types)}"
            f'<EntityContainer{_a(Name=ns + "_Entities")} m:IsDefaultEntityContainer="true">'
            f"{''.join(sets)}</EntityContainer>{''.join(annotations)}"
            "</Schema></edmx:DataServices></edmx:Edmx>")


def _value_list_annotation(ns: str, t: FakeTable, f: FakeField) -> str:
    return (f'<Annotations{_a(Target=f"{ns}.{t.name}Type/{f.name}")}'
            ' xmlns="http://docs.oasis-open.org/odata/ns/edm">'
            '<Annotation Term="com.sap.vocabularies.Common.v1.ValueList"><Record>'
            f'<PropertyValue Property="CollectionPath"{_a(String=value_list_set(t, f))}/>'
            '<PropertyValue Property="SearchSupported" Bool="false"/>'
            '<PropertyValue Property="Parameters"><Collection>'
            '<Record Type="com.sap.vocabularies.Common.v1.ValueListParameterInOut">'
            f'<PropertyValue Property="LocalDataProperty"{_a(PropertyPath=f.name)}/>'
            '<PropertyValue Property="ValueListProperty" String="Code"/></Record>'
            '</Collection></PropertyValue></Record></Annotation></Annotations>')


def value_list_tables(tables: list[FakeTable]) -> list[FakeTable]:
    """The ``VL_FV_*`` entity sets SAP v2 serves for fields with fixed values."""
    out = []
    for t in tables:
        for f in t.fields:
            if f.options:
                rows = [{"Code": o, "Text": o.title()} for o in f.options]
                out.append(FakeTable(value_list_set(t, f), [
                    FakeField("Code", "string", required=True, max_length=20, label="Code"),
                    FakeField("Text", "string", max_length=60, label="Description")],
                    rows, key="Code", label=f"Fixed values of {f.name}"))
    return out


def _edmx_v4(tables: list[FakeTable], flavor: Flavor, ns: str) -> str:
    dataverse = flavor == "dataverse"
    types, sets, enums = [], [], []
    if dataverse:
        types.append('<EntityType Name="crmbaseentity" Abstract="true"/>')
    for t in tables:
        name = logical_name(t) if dataverse else f"{t.name}Type"
        props = []
        for f in t.fields:
            edm = edm_type(t, f, flavor)
            if dataverse:  # Dataverse CSDL carries neither Nullable nor MaxLength nor labels
                props.append(f"<Property{_a(Name=f.name, Type=edm)}/>")
                continue
            required = f.required or f.name == t.key
            label = (f'<Annotation Term="Common.Label"{_a(String=f.label)}/>'
                     if f.label else "")
            props.append(f"<Property{_a(Name=f.name, Type=edm)}"
                         f"{_a(Nullable='false') if required else ''}"
                         f"{_a(MaxLength=f.max_length) if edm == 'Edm.String' else ''}>"
                         f"{label}</Property>")
            if f.options:
                members = "".join(f"<Member{_a(Name=o, Value=i)}/>"
                                  for i, o in enumerate(f.options))
                enums.append(f"<EnumType{_a(Name=enum_name(t, f))}>{members}</EnumType>")
        if dataverse:
            props.append('<NavigationProperty Name="owninguser" Type="mscrm.systemuser"/>')
        base = _a(BaseType="mscrm.crmbaseentity") if dataverse else ""
        label = ("" if dataverse or not t.label else
                 f'<Annotation Term="Common.Label"{_a(String=t.label)}/>')
        types.append(f"<EntityType{_a(Name=name)}{base}><Key><PropertyRef{_a(Name=t.key)}/>"
                     f"</Key>{''.join(props)}{label}</EntityType>")
        sets.append(f"<EntitySet{_a(Name=t.name, EntityType=f'{ns}.{name}')}/>")
    alias = _a(Alias="mscrm") if dataverse else ""
    container = "System" if dataverse else "Container"
    return ('<?xml version="1.0" encoding="utf-8"?>'
            '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">'
            '<edmx:Reference Uri="https://sap.github.io/odata-vocabularies/vocabularies/'
            'Common.xml"><edmx:Include Namespace="com.sap.vocabularies.Common.v1" '
            'Alias="Common"/></edmx:Reference><edmx:DataServices>'
            f'<Schema{_a(Namespace=ns)}{alias} xmlns="http://docs.oasis-open.org/odata/ns/edm">'
            f"{''.join(enums)}{''.join(types)}<EntityContainer{_a(Name=container)}>"
            f"{''.join(sets)}</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>")


# -- Dataverse attribute metadata --------------------------------------------------------------


def _localized(text: str) -> dict[str, Any]:
    label = {"Label": text, "LanguageCode": 1033}
    return {"LocalizedLabels": [label], "UserLocalizedLabel": label}


def attributes(table: FakeTable, cast: str | None) -> list[dict[str, Any]]:
    """``EntityDefinitions(LogicalName=…)/Attributes[/Microsoft.Dynamics.CRM.<cast>]``."""
    out = []
    for f in table.fields:
        key = f.name == table.key
        kind = "Picklist" if f.options else ("Uniqueidentifier" if key and f.type != "string"
                                             else ATTRIBUTE_TYPES[f.type])
        lookup = f.name.startswith("_") and f.name.endswith("_value")
        name = f.name[1:-6] if lookup else f.name
        kind = "Lookup" if lookup else kind
        attr: dict[str, Any] = {"LogicalName": name, "MetadataId": guid(table.name, f.name),
                                "AttributeType": kind}
        if cast is None:
            level = "SystemRequired" if key else ("ApplicationRequired" if f.required else
                                                  "None")
            attr["RequiredLevel"] = {"Value": level, "CanBeChanged": not key,
                                     "ManagedPropertyLogicalName":
                                         "canmodifyrequirementlevelsettings"}
            attr["DisplayName"] = _localized(f.label) if f.label else {
                "LocalizedLabels": [], "UserLocalizedLabel": None}
        elif cast == "StringAttributeMetadata":
            if kind != "String":
                continue
            attr["MaxLength"] = f.max_length or 100
        elif cast == "PicklistAttributeMetadata":
            if kind != "Picklist":
                continue
            attr["OptionSet"] = {"MetadataId": guid(table.name, f.name, "options"), "Options": [
                {"Value": OPTION_BASE + i, "Label": _localized(o)}
                for i, o in enumerate(f.options or ())]}
        else:
            return []
        out.append(attr)
    return out


# -- Dataverse security model ------------------------------------------------------------------


@dataclass
class Role:
    name: str
    #: privilege name (``prvReadAccount``) → depth (Basic, Local, Deep, Global)
    privileges: dict[str, str]
    id: str = ""

    def __post_init__(self) -> None:
        self.id = self.id or guid("role", self.name)


@dataclass
class User:
    domainname: str
    fullname: str
    roles: list[str] = field(default_factory=list)
    disabled: bool = False
    id: str = ""

    def __post_init__(self) -> None:
        self.id = self.id or guid("user", self.domainname)


def default_security(tables: list[FakeTable]) -> tuple[list[User], list[Role]]:
    """Admin reads everything (Global); sales reads the first table for its own records
    (Basic); support reads none of the served tables; one disabled salesperson."""
    reads = [f"prvRead{logical_name(t).capitalize()}" for t in tables]
    roles = [Role("System Administrator", {p: "Global" for p in reads}),
             Role("Salesperson", {reads[0]: "Basic"} if reads else {}),
             Role("Customer Service Representative", {"prvReadIncident": "Local"})]
    users = [User("admin@demo.example", "Dana Admin", ["System Administrator"]),
             User("alice@demo.example", "Alice Seller", ["Salesperson"]),
             User("bob@demo.example", "Bob Support", ["Customer Service Representative"]),
             User("carol@demo.example", "Carol Gone", ["Salesperson"], disabled=True)]
    return users, roles


def security_tables(users: list[User], roles: list[Role]) -> list[FakeTable]:
    """``systemusers``, ``roles`` and ``privileges`` with their ``$expand`` navigations."""
    by_name = {r.name: r for r in roles}
    privs = sorted({p for r in roles for p in r.privileges})

    def user_roles(row: dict[str, Any]) -> list[dict[str, Any]]:
        user = next(u for u in users if u.id == row["systemuserid"])
        return [{"roleid": by_name[n].id, "name": n} for n in user.roles]

    def role_privileges(row: dict[str, Any]) -> list[dict[str, Any]]:
        role = next(r for r in roles if r.id == row["roleid"])
        return [{"privilegeid": guid("privilege", p), "name": p} for p in role.privileges]

    systemusers = FakeTable("systemusers", [
        FakeField("systemuserid", "string", required=True), FakeField("domainname", "string"),
        FakeField("fullname", "string"), FakeField("isdisabled", "boolean")],
        [{"systemuserid": u.id, "domainname": u.domainname, "fullname": u.fullname,
          "isdisabled": u.disabled} for u in users], key="systemuserid",
        extra={"expand": {"systemuserroles_association": user_roles},
               "edm": {"systemuserid": "Edm.Guid"}})
    role_table = FakeTable("roles", [FakeField("roleid", "string", required=True),
                                     FakeField("name", "string")],
                           [{"roleid": r.id, "name": r.name} for r in roles], key="roleid",
                           extra={"expand": {"roleprivileges_association": role_privileges},
                                  "edm": {"roleid": "Edm.Guid"}})
    privileges = FakeTable("privileges", [FakeField("privilegeid", "string", required=True),
                                          FakeField("name", "string"),
                                          FakeField("accessright", "integer")],
                           [{"privilegeid": guid("privilege", p), "name": p, "accessright": 1}
                            for p in privs], key="privilegeid",
                           extra={"edm": {"privilegeid": "Edm.Guid"}})
    return [systemusers, role_table, privileges]


def role_privileges_response(role: Role) -> dict[str, Any]:
    """``roles(<id>)/Microsoft.Dynamics.CRM.RetrieveRolePrivilegesRole()``."""
    return {"@odata.context": "$metadata#Microsoft.Dynamics.CRM."
                              "RetrieveRolePrivilegesRoleResponse",
            "RolePrivileges": [{"Depth": depth, "PrivilegeId": guid("privilege", p),
                                "BusinessUnitId": guid("bu", "root"), "PrivilegeName": p}
                               for p, depth in role.privileges.items()]}
