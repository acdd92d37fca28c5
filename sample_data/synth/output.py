"""File writers (CSV, NDJSON, Excel, Parquet) that produce byte-identical output."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import xlsxwriter

from .common import (
    Row,
    iso,
)

# --- writers ------------------------------------------------------------------------------------


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def write_csv(
    path: Path,
    rows: Iterable[Row],
    columns: Sequence[str],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    newline: str = "\n",
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, errors="strict", newline="") as fh:
        w = csv.writer(fh, delimiter=delimiter, lineterminator=newline)
        w.writerow(columns)
        for r in rows:
            w.writerow([cell(r[c]) for c in columns])


def write_jsonl(path: Path, rows: Iterable[Row], columns: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for r in rows:
            rec = {c: iso(r[c]) if isinstance(r[c], datetime) else r[c] for c in columns}
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


def write_xlsx(path: Path, rows: list[Row], columns: Sequence[str], anchor: datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"in_memory": True})
    # Fixed document properties keep the file byte-identical between runs.
    wb.set_properties(
        {
            "created": anchor,
            "author": "sample_data/generate.py",
            "title": "ERP customer master export",
        }
    )
    ws = wb.add_worksheet("customers")
    head = wb.add_format({"bold": True})
    stamp = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    ws.write_row(0, 0, columns, head)
    for i, r in enumerate(rows, start=1):
        for j, c in enumerate(columns):
            val = r[c]
            if val is None:
                continue
            if isinstance(val, datetime):
                ws.write_datetime(i, j, val, stamp)
            else:
                ws.write(i, j, val)
    ws.set_column(0, len(columns) - 1, 18)
    wb.close()


def write_invoices(path: Path, rows: list[Row]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema(
        [
            ("invoice_id", pa.string()),
            ("customer_id", pa.string()),
            ("order_id", pa.string()),
            ("invoice_date", pa.string()),
            ("due_date", pa.date32()),
            ("paid_date", pa.date32()),
            ("amount", pa.float64()),
            ("currency", pa.string()),
            ("status", pa.string()),
            ("days_late", pa.int32()),
            ("updated_at", pa.timestamp("us")),
            ("loaded_at", pa.timestamp("us")),
        ]
    )
    table = pa.Table.from_pylist([{f.name: r[f.name] for f in schema} for r in rows], schema)
    pq.write_table(table, path, compression="zstd")


ACCOUNT_COLUMNS = (
    "account_id",
    "name",
    "industry",
    "segment",
    "country",
    "region",
    "annual_revenue",
    "employee_count",
    "owner_email",
    "status",
    "created_at",
    "updated_at",
    "tenure_months",
    "churned_90d",
)
CONTACT_COLUMNS = (
    "contact_id",
    "account_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "country",
    "created_at",
    "updated_at",
    "consent_marketing",
)
OPPORTUNITY_COLUMNS = (
    "opportunity_id",
    "account_id",
    "name",
    "stage",
    "amount",
    "currency",
    "close_date",
    "probability",
    "created_at",
    "updated_at",
    "won",
)
TICKET_COLUMNS = (
    "ticket_id",
    "account_id",
    "contact_id",
    "created_at",
    "updated_at",
    "channel",
    "priority",
    "category",
    "subject",
    "description",
    "status",
)
CUSTOMER_COLUMNS = (
    "customer_id",
    "crm_account_id",
    "name",
    "vat_id",
    "country",
    "iban",
    "payment_terms_days",
    "created_at",
    "updated_at",
)
INVOICE_COLUMNS = (
    "invoice_id",
    "customer_id",
    "order_id",
    "invoice_date",
    "due_date",
    "paid_date",
    "amount",
    "currency",
    "status",
    "days_late",
    "updated_at",
    "loaded_at",
)
ORDER_COLUMNS = (
    "order_id",
    "customer_id",
    "order_date",
    "amount",
    "currency",
    "status",
    "updated_at",
)
