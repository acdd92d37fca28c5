"""What a fake server serves: tables of plain Python values with vendor-neutral field facts.

Each vendor fake encodes these its own way on the wire (HubSpot strings, OData v2 ``/Date()/``,
Odoo ``False`` for empty, Salesforce ISO strings) and renders the field facts as its own
metadata (``describe``, properties API, ``fields_get``, EDMX). Two sources of tables:
:func:`standard_table` — a small deterministic table every connector's conformance test reads —
and :func:`from_file` — the sample CRM/ERP files, for the SaaS demo.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

FieldType = Literal["string", "integer", "float", "boolean", "date", "datetime"]


@dataclass(frozen=True, slots=True)
class FakeField:
    name: str
    type: FieldType
    required: bool = False
    unique: bool = False
    options: tuple[str, ...] | None = None
    label: str | None = None
    max_length: int | None = None


@dataclass(slots=True)
class FakeTable:
    """One object/entity set/model: fields, rows (dicts keyed by field name), key field."""

    name: str
    fields: list[FakeField]
    rows: list[dict[str, Any]]
    key: str
    label: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def field(self, name: str) -> FakeField:
        return next(f for f in self.fields if f.name == name)


STAGES = ("new", "qualified", "won", "lost")


def standard_table(n: int = 25, name: str = "widgets") -> FakeTable:
    """The conformance table: every value type, a null in each nullable column, a picklist, a
    unique required code, dates and UTC timestamps. Deterministic."""
    base = datetime(2026, 1, 1, 8, 30, tzinfo=UTC)
    rows = []
    for i in range(1, n + 1):
        rows.append({
            "code": f"W-{i:04d}",
            "title": None if i % 7 == 0 else f"Widget {i}",
            "quantity": None if i % 11 == 0 else i * 3,
            "price": None if i % 13 == 0 else round(i * 1.25, 2),
            "active": i % 3 != 0,
            "stage": STAGES[i % len(STAGES)],
            "launched": date(2025, 1, 1) + timedelta(days=i * 5),
            "updated_at": base + timedelta(hours=i * 7, minutes=i),
        })
    fields = [
        FakeField("code", "string", required=True, unique=True, label="Code", max_length=12),
        FakeField("title", "string", label="Title", max_length=80),
        FakeField("quantity", "integer", label="Quantity"),
        FakeField("price", "float", label="Price"),
        FakeField("active", "boolean", label="Active"),
        FakeField("stage", "string", options=STAGES, label="Stage"),
        FakeField("launched", "date", label="Launched on"),
        FakeField("updated_at", "datetime", label="Last updated"),
    ]
    return FakeTable(name, fields, rows, key="code", label="Widget")


def from_file(path: Path, *, name: str, key: str, sheet: str | None = None,
              options: dict[str, tuple[str, ...]] | None = None,
              required: tuple[str, ...] = (), encoding: str | None = None) -> FakeTable:
    """A table from one sample file (CSV, JSON lines, Parquet, Excel), types from DuckDB/Arrow.

    ``options`` declares picklist columns with their allowed values; ``required`` columns the
    fake's metadata marks mandatory (the key always is). ``encoding`` transcodes a text file
    that is not UTF-8 (the sample contacts are latin-1); None detects it with charset-normalizer.
    """
    import duckdb

    p = str(path)
    con = duckdb.connect()
    try:
        if path.suffix == ".parquet":
            rel = con.read_parquet(p)
        elif path.suffix in (".jsonl", ".ndjson", ".json"):
            rel = con.read_json(p)
        elif path.suffix == ".xlsx":
            import fastexcel

            arrow = fastexcel.read_excel(p).load_sheet_by_name(sheet or 0).to_arrow()
            rel = con.from_arrow(arrow)
        else:
            rel = con.read_csv(_utf8_copy(path, encoding, con))
        arrow_table = rel.arrow()
    finally:
        con.close()
    if hasattr(arrow_table, "read_all"):
        arrow_table = arrow_table.read_all()
    fields = []
    for col in arrow_table.schema:
        ftype = _field_type(col.type)
        fields.append(FakeField(col.name, ftype, required=col.name == key or col.name in required,
                                unique=col.name == key, options=(options or {}).get(col.name)))
    rows = [{k: _plain(v) for k, v in r.items()} for r in arrow_table.to_pylist()]
    return FakeTable(name, fields, rows, key=key)


def _utf8_copy(path: Path, encoding: str | None, con: Any) -> str:
    """The path itself when it is UTF-8, else a UTF-8 copy (DuckDB reads only UTF-8)."""
    import tempfile

    raw = path.read_bytes()
    if encoding is None:
        try:
            raw.decode("utf-8")
            return str(path)
        except UnicodeDecodeError:
            from charset_normalizer import from_bytes

            best = from_bytes(raw).best()
            encoding = best.encoding if best else "latin-1"
    tmp = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, encoding="utf-8")
    with tmp:
        tmp.write(raw.decode(encoding))
    return tmp.name


def _field_type(t: Any) -> FieldType:
    import pyarrow as pa

    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "float"
    if pa.types.is_timestamp(t):
        return "datetime"
    if pa.types.is_date(t):
        return "date"
    return "string"


def _plain(v: Any) -> Any:
    from decimal import Decimal

    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, datetime) and v.tzinfo is None:
        return v.replace(tzinfo=UTC)
    if isinstance(v, dict | list):
        import json

        return json.dumps(v, default=str)
    return v


def page(rows: list[dict[str, Any]], offset: int, size: int) -> tuple[list[dict[str, Any]],
                                                                      int | None]:
    """Rows ``offset:offset+size`` and the next offset (None at the end)."""
    chunk = rows[offset: offset + size]
    nxt = offset + size
    return chunk, (nxt if nxt < len(rows) else None)


def with_rows(table: FakeTable, rows: list[dict[str, Any]]) -> FakeTable:
    return replace(table, rows=rows)
