"""SAP OData (v2/v4) and Dataverse specifics the conformance suite does not cover: $metadata
parsing, wire details of each dialect, server-driven paging, error bodies, auth flows, picklists,
security-role access inventory and the demo services."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from auditor.errors import (
    InvalidConfig,
    SourceAuthError,
    SourceDataError,
    SourceError,
    SourceQuotaExceeded,
    UnknownObject,
)
from auditor.models import SampleSpec
from auditor.registry import bind
from connectors.odata import ODataService, error_text, field_type, fields_of, parse_metadata
from fakeservers.core import FakeServer
from fakeservers.odata import ODataFakeApp, demo_app, demo_dynamics_app
from fakeservers.odata_metadata import Role, User
from fakeservers.tables import FakeField, FakeTable, standard_table
from tests.saas.harness_odata import (
    CLIENT_SECRET,
    PASSWORD,
    DynamicsHarness,
    SapV2Harness,
    SapV4Harness,
)

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"

EDMX_V2 = b"""<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx"
  xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
  xmlns:sap="http://www.sap.com/Protocols/SAPData">
 <edmx:DataServices m:DataServiceVersion="2.0">
  <Schema Namespace="API_BUSINESS_PARTNER" xml:lang="en"
          xmlns="http://schemas.microsoft.com/ado/2008/09/edm">
   <EntityType Name="A_BusinessPartnerType" sap:label="Business Partner">
    <Key><PropertyRef Name="BusinessPartner"/></Key>
    <Property Name="BusinessPartner" Type="Edm.String" Nullable="false" MaxLength="10"
              sap:label="Business Partner"/>
    <Property Name="FullName" Type="Edm.String" MaxLength="81" sap:label="Name"/>
    <Property Name="CreationDate" Type="Edm.DateTime" Precision="0" sap:display-format="Date"/>
    <Property Name="LastChange" Type="Edm.DateTimeOffset" Nullable="false"/>
    <Property Name="Revenue" Type="Edm.Decimal" Precision="15" Scale="2"/>
    <Property Name="Employees" Type="Edm.Int64"/>
    <Property Name="OpensAt" Type="Edm.Time"/>
    <Property Name="Logo" Type="Edm.Binary"/>
    <Property Name="Grouping" Type="Edm.String" MaxLength="4" sap:value-list="fixed-values"/>
    <NavigationProperty Name="to_Address" Relationship="API_BUSINESS_PARTNER.assoc"
                        FromRole="FromRole" ToRole="ToRole"/>
   </EntityType>
   <EntityContainer Name="API_BUSINESS_PARTNER_Entities" m:IsDefaultEntityContainer="true">
    <EntitySet Name="A_BusinessPartner" EntityType="API_BUSINESS_PARTNER.A_BusinessPartnerType"/>
   </EntityContainer>
   <Annotations Target="API_BUSINESS_PARTNER.A_BusinessPartnerType/Grouping"
                xmlns="http://docs.oasis-open.org/odata/ns/edm">
    <Annotation Term="com.sap.vocabularies.Common.v1.ValueList"><Record>
     <PropertyValue Property="CollectionPath" String="VL_FV_BU_GROUP"/>
     <PropertyValue Property="Parameters"><Collection>
      <Record Type="com.sap.vocabularies.Common.v1.ValueListParameterInOut">
       <PropertyValue Property="LocalDataProperty" PropertyPath="Grouping"/>
       <PropertyValue Property="ValueListProperty" String="Code"/>
      </Record></Collection></PropertyValue></Record></Annotation>
   </Annotations>
  </Schema>
 </edmx:DataServices>
</edmx:Edmx>"""

CSDL_V4 = b"""<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
 <edmx:DataServices>
  <Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm"
          xmlns="http://docs.oasis-open.org/odata/ns/edm">
   <EnumType Name="Level"><Member Name="Low" Value="0"/><Member Name="High" Value="1"/></EnumType>
   <ComplexType Name="Address"><Property Name="City" Type="Edm.String"/></ComplexType>
   <EntityType Name="crmbaseentity" Abstract="true"/>
   <EntityType Name="contact" BaseType="mscrm.crmbaseentity">
    <Key><PropertyRef Name="contactid"/></Key>
    <Property Name="contactid" Type="Edm.Guid"/>
    <Property Name="birthdate" Type="Edm.Date"/>
    <Property Name="callat" Type="Edm.TimeOfDay"/>
    <Property Name="level" Type="mscrm.Level">
     <Annotation Term="Common.Label" String="Priority level"/></Property>
    <Property Name="address" Type="mscrm.Address"/>
    <Property Name="tags" Type="Collection(Edm.String)"/>
    <Property Name="_parentcustomerid_value" Type="Edm.Guid"/>
    <Property Name="location" Type="Edm.GeographyPoint"/>
    <NavigationProperty Name="parentcustomerid_account" Type="mscrm.account"/>
   </EntityType>
   <EntityContainer Name="System">
    <EntitySet Name="contacts" EntityType="Microsoft.Dynamics.CRM.contact"/>
   </EntityContainer>
  </Schema>
 </edmx:DataServices>
</edmx:Edmx>"""


def _connect(config: dict[str, Any], tmp_path: Path, **overrides: Any) -> Any:
    con = bind("src", {**config, "backoff": 0.0, "page_size": 10, **overrides}, tmp_path)
    con.sleep = lambda s: None
    return con


def _rows(con: Any, obj: str, spec: SampleSpec | None = None, **options: Any) -> Any:
    sample = con.sample(obj, spec or SampleSpec(), options)
    return sample, sample.reader.read_all()


# -- $metadata and error bodies (no server) ---------------------------------------------------


def test_edmx_v2_properties_become_field_specs() -> None:
    meta = parse_metadata(EDMX_V2)
    assert meta.entity_sets == {"A_BusinessPartner": "API_BUSINESS_PARTNER.A_BusinessPartnerType"}
    et = meta.entity_type("A_BusinessPartner")
    assert et.label == "Business Partner"
    fields = {f.name: f for f in fields_of(et, meta)}
    assert "Logo" not in fields, "binary is not a column"
    assert "to_Address" not in fields, "navigation properties are not columns"
    bp = fields["BusinessPartner"]
    assert (bp.primary_key, bp.required, bp.unique, bp.max_length, bp.label) == \
        (True, True, True, 10, "Business Partner")
    assert fields["FullName"].required is False and fields["FullName"].max_length == 81
    assert fields["CreationDate"].type == "date", "sap:display-format=Date"
    assert fields["LastChange"].type == "datetime" and fields["LastChange"].required
    assert fields["Revenue"].type == "float" and fields["Employees"].type == "integer"
    assert fields["OpensAt"].type == "time"
    assert fields["Revenue"].source_type == "Edm.Decimal"
    assert meta.value_lists == {"A_BusinessPartnerType/Grouping": ("VL_FV_BU_GROUP", "Code")}


def test_csdl_v4_enums_inheritance_and_skipped_types() -> None:
    meta = parse_metadata(CSDL_V4)
    et = meta.entity_type("contacts")
    assert et.key == ("contactid",), "key found although declared on the derived type"
    fields = {f.name: f for f in fields_of(et, meta)}
    assert fields["level"].allowed_values == ("Low", "High")
    assert fields["level"].label == "Priority level"
    assert fields["birthdate"].type == "date" and fields["callat"].type == "time"
    assert fields["address"].type == "json" and fields["tags"].type == "json"
    assert fields["_parentcustomerid_value"].type == "string"
    assert "location" not in fields and "parentcustomerid_account" not in fields
    assert field_type(et.properties["contactid"], meta) == ("string", None)


def test_malformed_metadata_is_a_data_error() -> None:
    with pytest.raises(SourceDataError, match="well-formed"):
        parse_metadata(b"<edmx:Edmx><broken>")


@pytest.mark.parametrize(("body", "want"), [
    ({"error": {"code": "/IWBEP/CM_MGW_RT/020",
                "message": {"lang": "en", "value": "Resource not found for segment 'X'."},
                "innererror": {"errordetails": [
                    {"code": "/IWBEP/CM_MGW_RT/020", "message": "Resource not found for "
                     "segment 'X'."}, {"code": "BP/001", "message": "Partner is blocked"}]}}},
     "/IWBEP/CM_MGW_RT/020: Resource not found for segment 'X'.; Partner is blocked"),
    ({"error": {"code": "0x80060888", "message": "The query parameter $skip is not supported"}},
     "0x80060888: The query parameter $skip is not supported"),
    ({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret"},
     "invalid_client: AADSTS7000215: Invalid client secret"),
])
def test_error_bodies_of_both_versions(body: dict[str, Any], want: str) -> None:
    assert error_text(httpx.Response(400, json=body)) == want


def test_xml_error_body() -> None:
    xml = (b'<?xml version="1.0"?><error xmlns="http://schemas.microsoft.com/ado/2007/08/'
           b'dataservices/metadata"><code>SY/530</code><message xml:lang="en">No authorization'
           b'</message></error>')
    assert error_text(httpx.Response(403, content=xml)) == "SY/530: No authorization"


# -- SAP v2 -----------------------------------------------------------------------------------


def test_sap_v2_wire_requests(tmp_path: Path) -> None:
    h = SapV2Harness()
    with h.serve(standard_table(25)) as served:
        con = _connect({**served.config, "sap_client": "100"}, tmp_path)
        try:
            sample, got = _rows(con, "Widgets")
        finally:
            con.close()
        meta_req = served.app.requests_to(r"\$metadata")[0]
        pages = served.app.requests_to(served.page_path)
    assert meta_req.headers["Accept"] == "application/xml"
    assert got.num_rows == 25 and sample.source_rows == 25, "total from __count (a string)"
    assert [p.query["$skip"] for p in pages] == [["0"], ["10"], ["20"]]
    first = pages[0].query
    assert first["$format"] == ["json"] and first["$inlinecount"] == ["allpages"]
    assert first["$top"] == ["10"] and first["$orderby"] == ["code"]
    assert first["$select"] == ["code,title,quantity,price,active,stage,launched,updated_at"]
    assert all(r.query.get("sap-client") == ["100"] for r in served.app.log)
    assert "$top=" in pages[0].target and "%24" not in pages[0].target
    assert got.column("code").to_pylist() == sorted(got.column("code").to_pylist())


def test_sap_v2_wire_values_are_strings_and_ms_dates(tmp_path: Path) -> None:
    h = SapV2Harness()
    with h.serve(standard_table(3)) as served:
        resp = httpx.get(served.config["service_url"] + "/Widgets?$format=json&$top=1",
                         auth=("AUDITOR", PASSWORD))
    row = resp.json()["d"]["results"][0]
    assert row["__metadata"]["type"] == "API_WIDGETS.WidgetsType"
    assert row["quantity"] == "3" and row["price"] == "1.25", "Int64 and Decimal as strings"
    assert row["launched"] == "/Date(1736121600000)/"  # 2025-01-06, midnight UTC
    assert row["updated_at"].startswith("/Date(") and row["updated_at"].endswith("+0000)/")
    assert "__deferred" in row["to_Notes"]


def test_sap_v2_offsets_and_plain_datetime_round_trip(tmp_path: Path) -> None:
    cet = timezone(timedelta(minutes=30))
    table = FakeTable("Events", [FakeField("id", "string", required=True),
                                 FakeField("at", "datetime"), FakeField("posted", "datetime")],
                      [{"id": "E1", "at": datetime(2026, 3, 1, 12, 0, tzinfo=cet),
                        "posted": datetime(2026, 3, 1, 9, 15, tzinfo=UTC)}], key="id",
                      extra={"edm": {"posted": "Edm.DateTime"}})
    app = ODataFakeApp([table], flavor="sap2", user="U", password="p")
    with FakeServer(app) as server:
        cfg = {"kind": "sap_odata", "service_url": server.url + app.service_path, "user": "U",
               "password": "p"}
        wire = httpx.get(cfg["service_url"] + "/Events?$format=json", auth=("U", "p")).json()
        con = _connect(cfg, tmp_path)
        try:
            _, got = _rows(con, "Events")
        finally:
            con.close()
    assert wire["d"]["results"][0]["at"].endswith("+0030)/")
    assert wire["d"]["results"][0]["posted"] == "/Date(1772356500000)/"
    row = got.to_pylist()[0]
    assert row["at"] == datetime(2026, 3, 1, 11, 30, tzinfo=UTC), "same instant"
    assert row["posted"] == datetime(2026, 3, 1, 9, 15, tzinfo=UTC)


def test_sap_v2_server_driven_paging_follows_next(tmp_path: Path) -> None:
    h = SapV2Harness()
    with h.serve(standard_table(25), server_page_size=4) as served:
        con = _connect(served.config, tmp_path)
        try:
            sample, got = _rows(con, "Widgets")
        finally:
            con.close()
        pages = served.app.requests_to(served.page_path)
    codes = got.column("code").to_pylist()
    assert codes == [f"W-{i:04d}" for i in range(1, 26)], "all rows, in order, none twice"
    assert sample.stopped is None
    assert any("$skiptoken" in p.query for p in pages), "followed __next"
    assert sum("$skiptoken" not in p.query for p in pages) == 3, "one client request per window"


def test_sap_v2_cross_origin_next_is_refused(tmp_path: Path) -> None:
    class Elsewhere(ODataFakeApp):
        def _next_link(self, request: Any, token: str) -> str:
            return "http://127.0.0.2:9/sap/opu/odata/sap/API_WIDGETS/Widgets?$skiptoken=4"

    app = Elsewhere([FakeTable("Widgets", standard_table(9).fields, standard_table(9).rows,
                               key="code")], flavor="sap2", namespace="API_WIDGETS", user="U",
                    password="p", server_page_size=4)
    with FakeServer(app) as server:
        con = _connect({"kind": "sap_odata", "service_url": server.url + app.service_path,
                        "user": "U", "password": "p"}, tmp_path)
        try:
            with pytest.raises(SourceDataError, match="another origin"):
                _rows(con, "Widgets")
        finally:
            con.close()


def test_sap_v2_fixed_values_become_allowed_values(tmp_path: Path) -> None:
    with SapV2Harness().serve(standard_table(5)) as served:
        con = _connect(served.config, tmp_path)
        try:
            desc = con.describe("Widgets", {})
            objects = con.discover()
        finally:
            con.close()
        assert served.app.requests_to(r"/VL_FV_WIDGETS_STAGE\?")
    fields = {f.name: f for f in desc.fields}
    assert fields["stage"].allowed_values == ("lost", "new", "qualified", "won")
    assert fields["title"].allowed_values is None
    assert fields["code"].label == "Code" and desc.label == "Widget"
    assert "VL_FV_WIDGETS_STAGE" in objects


def test_filter_option_and_unsupported_where(tmp_path: Path) -> None:
    with SapV2Harness().serve(standard_table(25)) as served:
        con = _connect(served.config, tmp_path)
        try:
            _, got = _rows(con, "Widgets", filter="stage eq 'won' and active eq true")
            with pytest.raises(SourceError, match="options.filter"):
                con.sample("Widgets", SampleSpec(where="stage = 'won'"), {})
            with pytest.raises(SourceError, match="Invalid filter expression"):
                _rows(con, "Widgets", filter="substringof('x', title)")
        finally:
            con.close()
        sent = served.app.requests_to(served.page_path)[0]
    assert sent.query["$filter"] == ["stage eq 'won' and active eq true"]
    assert "%20eq%20" in sent.target, "spaces travel as %20, not +"
    rows = got.to_pylist()
    assert rows and all(r["stage"] == "won" and r["active"] for r in rows)


def test_unknown_entity_set_names_object_and_source(tmp_path: Path) -> None:
    with SapV2Harness().serve(standard_table(3)) as served:
        con = _connect(served.config, tmp_path)
        try:
            with pytest.raises(UnknownObject, match="'src'.*'Gadgets'") as info:
                con.sample("Gadgets", SampleSpec(), {})
        finally:
            con.close()
    assert "Widgets" in (info.value.hint or "")


def test_sap_basic_wrong_password_is_an_auth_error(tmp_path: Path) -> None:
    with SapV2Harness().serve(standard_table(3)) as served:
        con = _connect({**served.config, "password": "wrong-pw-123"}, tmp_path)
        try:
            with pytest.raises(SourceAuthError, match="Logon failed") as info:
                con.discover()
        finally:
            con.close()
    assert "wrong-pw-123" not in str(info.value)


def test_metadata_must_be_xml(tmp_path: Path) -> None:
    class JsonMetadata(ODataFakeApp):
        def handle(self, request: Any, fault: Any) -> Any:
            if request.path.endswith("$metadata"):
                from fakeservers.core import json_response
                return json_response({"d": {}})
            return super().handle(request, fault)

    app = JsonMetadata([standard_table(3)], flavor="sap2", user="U", password="p")
    with FakeServer(app) as server:
        con = _connect({"kind": "sap_odata", "service_url": server.url + app.service_path,
                        "user": "U", "password": "p"}, tmp_path)
        try:
            with pytest.raises(SourceDataError, match="not XML"):
                con.discover()
        finally:
            con.close()


def test_sap_config_requires_credentials_of_the_chosen_auth(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfig, match="needs token_url, client_id"):
        bind("src", {"kind": "sap_odata", "service_url": "http://x", "auth": "oauth"}, tmp_path)


# -- SAP v4 -----------------------------------------------------------------------------------


def test_sap_v4_oauth_token_reuse_reauth_and_relative_next(tmp_path: Path) -> None:
    h = SapV4Harness()
    with h.serve(standard_table(25), server_page_size=7) as served:
        con = _connect(served.config, tmp_path)
        try:
            _, got = _rows(con, "Widgets")
            assert len(served.app.requests_to(served.auth_path)) == 1, "token reused"
            served.app.expire_tokens()
            _, again = _rows(con, "Widgets")
        finally:
            con.close()
        token_req = served.app.requests_to(served.auth_path)[0]
        pages = served.app.requests_to(served.page_path)
    assert b"grant_type=client_credentials" in token_req.body
    assert got.num_rows == again.num_rows == 25
    assert len(served.app.requests_to(served.auth_path)) == 2, "one re-authentication"
    assert pages[0].query["$count"] == ["true"] and "$inlinecount" not in pages[0].query
    assert pages[0].headers["Odata-Version"] == "4.0"
    assert any("$skiptoken" in p.query for p in pages), "relative nextLink followed"
    stages = set(got.column("stage").to_pylist())
    assert stages <= {"new", "qualified", "won", "lost"}
    assert got.column("launched").to_pylist()[0] == date(2025, 1, 6)


def test_sap_v4_enum_members_are_allowed_values(tmp_path: Path) -> None:
    with SapV4Harness().serve(standard_table(3)) as served:
        con = _connect(served.config, tmp_path)
        try:
            fields = {f.name: f for f in con.describe("Widgets", {}).fields}
        finally:
            con.close()
    assert fields["stage"].allowed_values == ("new", "qualified", "won", "lost")
    assert fields["title"].label == "Title" and fields["title"].max_length == 80


def test_bad_client_secret_is_rejected_without_leaking_it(tmp_path: Path) -> None:
    with SapV4Harness().serve(standard_table(3)) as served:
        con = _connect({**served.config, "client_secret": "not-the-secret-99"}, tmp_path)
        try:
            with pytest.raises(SourceAuthError, match="invalid_client") as info:
                con.discover()
        finally:
            con.close()
    assert "not-the-secret-99" not in str(info.value) and CLIENT_SECRET not in str(info.value)


# -- Dataverse --------------------------------------------------------------------------------


def _crm_table() -> FakeTable:
    t = standard_table(12)
    for i, r in enumerate(t.rows):
        r["_parentcustomerid_value"] = None if i % 4 == 0 else f"0000000{i % 3}-aaaa-bbbb-cccc-0"
    t.fields.append(FakeField("_parentcustomerid_value", "string", label="Company Name"))
    t.extra["edm"] = {"_parentcustomerid_value": "Edm.Guid"}
    return t


def test_dataverse_wire_headers_paging_and_token(tmp_path: Path) -> None:
    h = DynamicsHarness()
    with h.serve(_crm_table()) as served:
        con = _connect(served.config, tmp_path, page_size=5)
        try:
            sample, got = _rows(con, "widgets")
        finally:
            con.close()
        pages = served.app.requests_to(served.page_path)
        token = served.app.requests_to(served.auth_path)[0]
        origin = served.server.url
    assert got.num_rows == 12 and sample.source_rows == 12
    assert len(pages) == 3
    assert all("$skip" not in p.query and "$top" not in p.query for p in pages)
    assert all(p.headers["Prefer"].startswith("odata.maxpagesize=5,odata.include-annotations=")
               for p in pages)
    assert all(p.headers["Odata-Maxversion"] == "4.0" and p.headers["Accept"] ==
               "application/json" for p in pages)
    assert "$skiptoken" in pages[1].query and "pagenumber" in pages[1].query["$skiptoken"][0]
    assert pages[0].query["$count"] == ["true"]
    assert f"scope={origin}/.default".replace(":", "%3A").replace("/", "%2F") \
        in token.body.decode()
    assert token.path == "/tenant-1/oauth2/v2.0/token"


def test_dataverse_total_beyond_its_5000_count_cap_is_unknown(tmp_path: Path) -> None:
    from fakeservers.tables import standard_table

    with DynamicsHarness().serve(standard_table(5003)) as served:
        con = _connect(served.config, tmp_path, page_size=5000)
        try:
            big, got = _rows(con, DynamicsHarness().object_name)
        finally:
            con.close()
    assert got.num_rows == 5003
    assert big.source_rows is None, "@odata.count says 5000; the limit-exceeded flag says more"
    assert big.metadata.row_count_estimate is None


def test_dataverse_describe_picklists_required_lookups(tmp_path: Path) -> None:
    with DynamicsHarness().serve(_crm_table()) as served:
        con = _connect(served.config, tmp_path)
        try:
            sample, got = _rows(con, "widgets")
            wire = httpx.get(f"{served.server.url}/api/data/v9.2/widgets",
                             headers={"Authorization": f"Bearer {next(iter(served.app.tokens))}"})
        finally:
            con.close()
    raw = wire.json()["value"][0]
    assert raw["stage"] == 100_000_001 and "@odata.etag" in raw, "option value on the wire"
    cols = {c.name: c for c in sample.metadata.columns}
    assert "@odata.etag" not in cols and "owninguser" not in cols
    assert cols["stage"].allowed_values == ("new", "qualified", "won", "lost")
    assert cols["stage"].source_type == "Picklist"
    assert cols["code"].nullable is False and cols["code"].max_length == 12
    assert cols["title"].comment == "Title" and cols["title"].max_length == 80
    assert cols["_parentcustomerid_value"].type == "string"
    assert cols["_parentcustomerid_value"].source_type == "Lookup"
    assert cols["_parentcustomerid_value"].comment == "Company Name"
    rows = got.to_pylist()
    assert rows[0]["stage"] == "qualified", "option value 100000001 mapped to its label"
    assert [r["stage"] for r in rows[:4]] == ["qualified", "won", "lost", "new"]
    assert rows[0]["_parentcustomerid_value"] is None
    assert rows[1]["_parentcustomerid_value"].startswith("00000001")


def test_dataverse_required_level_without_csdl_nullable(tmp_path: Path) -> None:
    t = standard_table(3)
    t.fields[1] = FakeField("title", "string", required=True, label="Title", max_length=80)
    with DynamicsHarness().serve(t) as served:
        con = _connect(served.config, tmp_path)
        try:
            fields = {f.name: f for f in con.describe("widgets", {}).fields}
        finally:
            con.close()
    assert fields["title"].required is True, "ApplicationRequired"
    assert fields["quantity"].required is False


def test_dataverse_rejects_skip_with_its_error_body(tmp_path: Path) -> None:
    with DynamicsHarness().serve(standard_table(3)) as served:
        con = _connect(served.config, tmp_path)
        try:
            svc = con.service
            paged = ODataService(svc.client, svc.root, 4, client_paging=True)
            with pytest.raises(SourceError, match=r"0x80060888: The query parameter \$skip"):
                next(paged.read("widgets", select=["code"], order_by=["code"], page_size=2))
        finally:
            con.close()


def test_dataverse_service_protection_429(tmp_path: Path) -> None:
    with DynamicsHarness().serve(standard_table(3)) as served:
        con = _connect(served.config, tmp_path)
        served.app.faults.add("quota", path=served.page_path)
        try:
            with pytest.raises(SourceQuotaExceeded, match="service protection limit"):
                _rows(con, "widgets")
        finally:
            con.close()


def test_dataverse_access_inventory_from_security_roles(tmp_path: Path) -> None:
    roles = [Role("Sales Manager", {"prvReadWidget": "Deep", "prvWriteWidget": "Deep"}),
             Role("Reader", {"prvReadAccount": "Global"})]
    users = [User("mia@corp.example", "Mia", ["Sales Manager", "Reader"]),
             User("old@corp.example", "Old", ["Sales Manager"], disabled=True),
             User("nina@corp.example", "Nina", ["Reader"])]
    with DynamicsHarness().serve(standard_table(3), users=users, roles=roles) as served:
        con = _connect(served.config, tmp_path)
        try:
            inv = con.access(["widgets", "gizmos"])
        finally:
            con.close()
    grants = {g.grantee: g for g in inv.grants}
    assert set(grants) == {"mia@corp.example", "old@corp.example"}, "prvWrite is not read"
    mia = grants["mia@corp.example"]
    assert (mia.object, mia.column, mia.via, mia.path) == \
        ("widgets", None, "role", ("mia@corp.example", "Sales Manager"))
    assert mia.detail == "prvReadWidget at Deep depth" and mia.row_filtered is True
    assert grants["old@corp.example"].can_login is False
    infos = {r.name: r for r in inv.roles}
    assert infos["mia@corp.example"].member_of == ("Sales Manager", "Reader")
    assert infos["Sales Manager"].members == ("mia@corp.example", "old@corp.example")
    assert any("gizmos" in n for n in inv.notes)


def test_dataverse_global_depth_is_not_row_filtered(tmp_path: Path) -> None:
    with DynamicsHarness().serve(standard_table(3)) as served:
        con = _connect(served.config, tmp_path)
        try:
            inv = con.access(["widgets"])
        finally:
            con.close()
    by = {g.grantee: g for g in inv.grants}
    assert by["admin@demo.example"].row_filtered is False
    assert by["alice@demo.example"].detail == "prvReadWidget at Basic depth"
    assert "bob@demo.example" not in by


def test_dataverse_unknown_entity_set(tmp_path: Path) -> None:
    with DynamicsHarness().serve(standard_table(3)) as served:
        con = _connect(served.config, tmp_path)
        try:
            with pytest.raises(UnknownObject, match="'widget'") as info:
                con.sample("widget", SampleSpec(), {})
        finally:
            con.close()
    assert "widgets" in (info.value.hint or "")


# -- demo services ----------------------------------------------------------------------------


def test_demo_sap_service_serves_the_erp_files(tmp_path: Path) -> None:
    app = demo_app(SAMPLE)
    with FakeServer(app) as server:
        con = _connect({"kind": "sap_odata", "service_url": server.url + app.service_path,
                        "user": "DEMO_USER", "password": "demo-password"}, tmp_path,
                       page_size=500)
        try:
            assert con.discover() == ["Customers", "Invoices", "Orders"]
            counts = {o: _rows(con, o)[1].num_rows for o in ("Customers", "Invoices", "Orders")}
            keys = [f.name for f in con.describe("Invoices", {}).fields if f.primary_key]
        finally:
            con.close()
    assert app.service_path.endswith("/API_DEMO_ERP")
    assert counts == {"Customers": 450, "Invoices": 3030, "Orders": 2000}
    assert keys == ["invoice_id"]


def test_demo_dynamics_serves_accounts_with_roles(tmp_path: Path) -> None:
    app = demo_dynamics_app(SAMPLE)
    with FakeServer(app) as server:
        con = _connect({"kind": "dynamics365", "url": server.url, "tenant_id": "demo-tenant",
                        "client_id": "demo-client", "client_secret": "demo-secret",
                        "authority_url": server.url}, tmp_path, page_size=200)
        try:
            _, got = _rows(con, "accounts", SampleSpec(method="first", n=250))
            inv = con.access(["accounts"])
        finally:
            con.close()
    assert got.num_rows == 250 and got.column("account_id").to_pylist()[0] == "A00001"
    assert {g.path[-1] for g in inv.grants} == {"System Administrator", "Salesperson"}
