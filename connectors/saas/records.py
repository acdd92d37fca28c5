"""API records → typed Arrow columns, driven by the field metadata the API declared.

Why metadata-driven and not inferred: APIs hand over strings for everything (HubSpot), their own
date encodings (OData v2 ``/Date(ms)/``), ``False`` for empty (Odoo) and nested objects
(Salesforce relationships). The field list from ``describe``/``properties``/``fields_get``/
``$metadata`` says what each value *is*, so a page always becomes the same Arrow schema, whatever
values it happens to hold — pages can be streamed one by one and a column never changes type
mid-sample. A value that does not parse as its declared type becomes null and is counted, never
silently coerced into something else.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any, Literal

import pyarrow as pa

from auditor.models import ColumnSchema

ValueType = Literal["string", "integer", "float", "boolean", "date", "datetime", "time", "json"]

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(), "integer": pa.int64(), "float": pa.float64(), "boolean": pa.bool_(),
    "date": pa.date32(), "datetime": pa.timestamp("us", tz="UTC"), "time": pa.time64("us"),
    "json": pa.string(),
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One output column: where its value sits in a record and what the API says about it."""

    name: str
    type: ValueType
    path: tuple[str, ...] = ()
    required: bool = False
    unique: bool = False
    primary_key: bool = False
    #: Values the API enforces (restricted picklist, enumeration, selection); None = open.
    allowed_values: tuple[str, ...] | None = None
    max_length: int | None = None
    label: str | None = None
    source_type: str | None = None
    #: The vendor marks the field as sensitive data (HubSpot ``dataSensitivity``).
    sensitivity: str | None = None

    @property
    def location(self) -> tuple[str, ...]:
        return self.path or (self.name,)

    def column(self) -> ColumnSchema:
        comment = self.label if self.label and self.label != self.name else None
        return ColumnSchema(name=self.name, type=str(ARROW_TYPES[self.type]),
                            nullable=not (self.required or self.primary_key),
                            primary_key=self.primary_key, unique=self.unique or self.primary_key,
                            comment=comment, allowed_values=self.allowed_values,
                            max_length=self.max_length, source_type=self.source_type,
                            sensitivity=self.sensitivity)


def flat_name(path: Sequence[str]) -> str:
    """``("Owner", "Username")`` → ``Owner_Username``: usable unquoted in SQL and in config."""
    return "_".join(path)


def schema(fields: Sequence[FieldSpec]) -> pa.Schema:
    return pa.schema([pa.field(f.name, ARROW_TYPES[f.type]) for f in fields])


def to_batch(records: Iterable[Mapping[str, Any]], fields: Sequence[FieldSpec],
             bad: Counter[str] | None = None) -> pa.RecordBatch:
    """One Arrow batch with exactly ``schema(fields)``; unparseable values → null, counted in
    ``bad`` by column name."""
    rows = list(records)
    arrays = []
    for f in fields:
        parse = _PARSERS[f.type]
        values = []
        for rec in rows:
            raw = _get(rec, f.location)
            if raw is None:
                values.append(None)
                continue
            try:
                values.append(parse(raw))
            except (TypeError, ValueError, OverflowError):
                values.append(None)
                if bad is not None:
                    bad[f.name] += 1
        arrays.append(pa.array(values, type=ARROW_TYPES[f.type]))
    return pa.RecordBatch.from_arrays(arrays, schema=schema(fields))


def _get(record: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
        if value is None:
            return None
    return value


# -- value parsers ------------------------------------------------------------------------------

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_ISO_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")


def _string(v: Any) -> str:
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True, ensure_ascii=False)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _integer(v: Any) -> int:
    if isinstance(v, bool):
        raise TypeError("boolean is not an integer")
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if not v.is_integer():
            raise ValueError("fraction")
        return int(v)
    text = str(v).strip()
    try:
        return int(text)
    except ValueError:
        f = float(text)
        if not f.is_integer():
            raise
        return int(f)


def _float(v: Any) -> float:
    if isinstance(v, bool):
        raise TypeError("boolean is not a number")
    return float(v) if not isinstance(v, str) else float(v.strip())


def _boolean(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    text = str(v).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(f"not a boolean: {v!r}")


def _datetime(v: Any) -> datetime:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    if isinstance(v, int | float) and not isinstance(v, bool):
        return datetime.fromtimestamp(v / 1000, UTC)  # epoch milliseconds (HubSpot, SAP)
    text = str(v).strip()
    m = _MS_DATE.match(text)
    if m:
        ms, offset = int(m.group(1)), m.group(2)
        dt = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
        if offset:  # OData v2 DateTimeOffset: "+0030" is an offset in minutes
            minutes = int(offset[1:]) * (1 if offset[0] == "+" else -1)
            dt = dt.astimezone(timezone(timedelta(minutes=minutes)))
        return dt
    if text.isdigit() and len(text) >= 12:
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)  # Odoo and SAP send naive UTC


def _date(v: Any) -> date:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    text = str(v).strip()
    if len(text) == 10 and text[4] == "-":
        return date.fromisoformat(text)
    return _datetime(v).date()


def _time(v: Any) -> time:
    if isinstance(v, time):
        return v
    text = str(v).strip()
    m = _ISO_DURATION.match(text)
    if m and text != "PT":
        secs = float(m.group(3) or 0)
        return time(int(m.group(1) or 0), int(m.group(2) or 0), int(secs),
                    int(round((secs % 1) * 1_000_000)))
    return time.fromisoformat(text.rstrip("Z"))


def _json(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True, ensure_ascii=False)


_PARSERS = {"string": _string, "integer": _integer, "float": _float, "boolean": _boolean,
            "date": _date, "datetime": _datetime, "time": _time, "json": _json}
