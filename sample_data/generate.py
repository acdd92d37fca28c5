"""Seeded generator for the sample CRM and ERP exports with planted data-quality problems.

Usage: ``python sample_data/generate.py [--out DIR] [--as-of 2026-11-20T00:00:00Z] [--seed 42]``

Deterministic: the same seed and anchor give byte-identical files. Every timestamp is placed
relative to the ``--as-of`` anchor (all timestamps are UTC and written without an offset), so an
audit run with the same ``as_of`` sees the same ages. ``planted.json`` is computed from the rows
that were written, never typed in.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from synth.common import DEFAULT_AS_OF, DEFAULT_SEED, Ctx, Row, parse_as_of
from synth.crm import build_accounts, build_contacts, build_opportunities, build_tickets
from synth.erp import build_customers, build_invoices, build_orders
from synth.manifest import build_manifest
from synth.output import (
    ACCOUNT_COLUMNS,
    CONTACT_COLUMNS,
    CUSTOMER_COLUMNS,
    INVOICE_COLUMNS,
    OPPORTUNITY_COLUMNS,
    ORDER_COLUMNS,
    TICKET_COLUMNS,
    write_csv,
    write_invoices,
    write_jsonl,
    write_xlsx,
)

# --- main ---------------------------------------------------------------------------------------

DATASETS: dict[str, Row] = {
    "crm.accounts": {
        "path": "crm/accounts.csv",
        "format": "csv",
        "delimiter": ",",
        "encoding": "utf-8",
    },
    "crm.contacts": {
        "path": "crm/contacts.csv",
        "format": "csv",
        "delimiter": ";",
        "encoding": "latin-1",
    },
    "crm.opportunities": {
        "path": "crm/opportunities.csv",
        "format": "csv",
        "delimiter": ",",
        "encoding": "utf-8",
    },
    "crm.support_tickets": {
        "path": "crm/support_tickets.jsonl",
        "format": "jsonl",
        "encoding": "utf-8",
    },
    "erp.customers": {"path": "erp/customers.xlsx", "format": "xlsx", "sheet": "customers"},
    "erp.invoices": {"path": "erp/invoices.parquet", "format": "parquet"},
    "erp.orders": {
        "path": "erp/orders.csv",
        "format": "csv",
        "delimiter": ",",
        "encoding": "utf-8",
    },
}


def generate(out: Path, as_of: datetime, seed: int = DEFAULT_SEED) -> Row:
    ctx = Ctx(seed, as_of)
    accounts = build_accounts(ctx)
    contacts = build_contacts(ctx, accounts)
    opportunities = build_opportunities(ctx, accounts)
    tickets = build_tickets(ctx, accounts, contacts)
    customers = build_customers(ctx, accounts)
    orders = build_orders(ctx, customers)
    invoices = build_invoices(ctx, customers, orders)
    data = {
        "crm.accounts": accounts,
        "crm.contacts": contacts,
        "crm.opportunities": opportunities,
        "crm.support_tickets": tickets,
        "erp.customers": customers,
        "erp.invoices": invoices,
        "erp.orders": orders,
    }

    write_csv(out / "crm/accounts.csv", accounts, ACCOUNT_COLUMNS)
    write_csv(
        out / "crm/contacts.csv",
        contacts,
        CONTACT_COLUMNS,
        delimiter=";",
        encoding="latin-1",
        newline="\r\n",
    )
    write_csv(out / "crm/opportunities.csv", opportunities, OPPORTUNITY_COLUMNS)
    write_jsonl(out / "crm/support_tickets.jsonl", tickets, TICKET_COLUMNS)
    write_xlsx(out / "erp/customers.xlsx", customers, CUSTOMER_COLUMNS, as_of)
    write_invoices(out / "erp/invoices.parquet", invoices)
    write_csv(out / "erp/orders.csv", orders, ORDER_COLUMNS)

    columns = {
        "crm.accounts": ACCOUNT_COLUMNS,
        "crm.contacts": CONTACT_COLUMNS,
        "crm.opportunities": OPPORTUNITY_COLUMNS,
        "crm.support_tickets": TICKET_COLUMNS,
        "erp.customers": CUSTOMER_COLUMNS,
        "erp.invoices": INVOICE_COLUMNS,
        "erp.orders": ORDER_COLUMNS,
    }
    manifest = build_manifest(ctx, data)
    manifest = {
        "generator": "sample_data/generate.py",
        **manifest,
        "datasets": {
            name: {**meta, "rows": len(data[name]), "columns": list(columns[name])}
            for name, meta in DATASETS.items()
        },
    }
    manifest["problems"] = manifest.pop("problems")
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    (out / "planted.json").write_text(text, encoding="utf-8")
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument(
        "--as-of",
        default=DEFAULT_AS_OF,
        help="anchor timestamp (UTC) that all generated times are relative to",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    manifest = generate(args.out, parse_as_of(args.as_of), args.seed)
    for name, meta in manifest["datasets"].items():
        print(f"{name:22} {meta['rows']:5d} rows  {meta['path']}")
    print(f"{len(manifest['problems'])} planted problems -> {args.out / 'planted.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
