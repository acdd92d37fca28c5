"""planted.json: every planted problem, counted from the generated rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from .common import (
    CURRENCIES,
    EMAIL_RE,
    ISO_DATE_PREFIX_RE,
    ISO_DATE_RE,
    MIN_DESCRIPTION_CHARS,
    PHONE_RE,
    TEXT_EMAIL_RE,
    TEXT_IBAN_RE,
    TEXT_PHONE_RE,
    Ctx,
    Row,
    iso,
)
from .output import TICKET_COLUMNS, cell

# --- manifest -----------------------------------------------------------------------------------


class Manifest:
    def __init__(self) -> None:
        self.problems: list[Row] = []

    def add(
        self,
        dataset: str,
        columns: Sequence[str],
        kind: str,
        rows: Sequence[Row],
        hits: Sequence[int],
        detail: str,
        *,
        scope: str = "column",
        detected_by: Row | None = None,
        examples: Sequence[Any] = (),
        stats: Row | None = None,
        tag: str | None = None,
    ) -> None:
        where = columns[0] if len(columns) == 1 else "+".join(columns) if len(columns) < 4 else "*"
        entry: Row = {
            "id": ":".join(p for p in (dataset, kind, where, tag) if p),
            "dataset": dataset,
            "column": columns[0] if len(columns) == 1 else None,
            "columns": list(columns),
            "kind": kind,
            "scope": scope,
            "count": len(hits),
            "rows": len(rows),
            "share": round(len(hits) / len(rows), 4) if rows else 0.0,
            "detail": detail,
            "detected_by": detected_by,
            "examples": [cell(e) if not isinstance(e, str) else e for e in examples][:6],
        }
        if stats:
            entry["stats"] = stats
        self.problems.append(entry)


def gx(column: str, expectation: str) -> Row:
    return {"column": column, "expectation": expectation}


def shared(*lists: Sequence[Any]) -> list[Any]:
    seen: dict[Any, None] = {}
    for lst in lists:
        for item in lst:
            seen.setdefault(item, None)
    return list(seen)


def build_manifest(ctx: Ctx, data: dict[str, list[Row]]) -> Row:
    m = Manifest()
    acc, con, opp = data["crm.accounts"], data["crm.contacts"], data["crm.opportunities"]
    tic, cus, inv = data["crm.support_tickets"], data["erp.customers"], data["erp.invoices"]
    account_ids = {a["account_id"] for a in acc}
    customer_ids = {c["customer_id"] for c in cus}

    clusters: dict[int, list[Row]] = {}
    for a in acc:
        if a["_cluster"] is not None:
            clusters.setdefault(a["_cluster"], []).append(a)
    groups = [sorted(g, key=lambda a: a["account_id"]) for _, g in sorted(clusters.items())]
    extra = [
        i
        for i, a in enumerate(acc)
        if a["_cluster"] is not None and a is not groups[a["_cluster"] - 1][0]
    ]
    m.add(
        "crm.accounts",
        ["name"],
        "near_duplicate_accounts",
        acc,
        extra,
        "Same company entered again under a spelling variant with a new account_id; count is "
        "the redundant rows (cluster size - 1, summed).",
        scope="entity",
        examples=[" / ".join(a["name"] for a in groups[0])],
        stats={
            "clusters": [
                [{"account_id": a["account_id"], "name": a["name"]} for a in g] for g in groups
            ]
        },
    )
    hits = [i for i, a in enumerate(acc) if a["segment"] is None]
    m.add(
        "crm.accounts",
        ["segment"],
        "null_value",
        acc,
        hits,
        "Segment left empty (a churn-model feature).",
        detected_by=gx("segment", "expect_column_values_to_not_be_null"),
        examples=[acc[i]["account_id"] for i in hits],
    )

    hits = [i for i, c in enumerate(con) if c["email"] is None]
    m.add(
        "crm.contacts",
        ["email"],
        "null_email",
        con,
        hits,
        "Email missing (empty field).",
        detected_by=gx("email", "expect_column_values_to_not_be_null"),
        examples=[con[i]["contact_id"] for i in hits],
    )
    hits = [i for i, c in enumerate(con) if c["email"] and not EMAIL_RE.match(c["email"])]
    m.add(
        "crm.contacts",
        ["email"],
        "malformed_email",
        con,
        hits,
        "Email not of the form local@domain.tld (missing domain, 'at' instead of @, no TLD, "
        "double @, spaces).",
        detected_by=gx("email", "expect_column_values_to_match_regex"),
        examples=shared([con[i]["email"] for i in hits]),
    )
    hits = [i for i, c in enumerate(con) if c["phone"] is None]
    m.add(
        "crm.contacts",
        ["phone"],
        "null_phone",
        con,
        hits,
        "Phone missing (empty field).",
        detected_by=gx("phone", "expect_column_values_to_not_be_null"),
        examples=[con[i]["contact_id"] for i in hits],
    )
    hits = [i for i, c in enumerate(con) if c["phone"] and not PHONE_RE.match(c["phone"])]
    m.add(
        "crm.contacts",
        ["phone"],
        "malformed_phone",
        con,
        hits,
        "Phone contains letters or is too short to dial.",
        detected_by=gx("phone", "expect_column_values_to_match_regex"),
        examples=shared([con[i]["phone"] for i in hits]),
    )
    hits = [i for i, c in enumerate(con) if not ISO_DATE_PREFIX_RE.match(c["created_at"])]
    iso_dates = sum(1 for c in con if ISO_DATE_RE.match(c["created_at"]))
    m.add(
        "crm.contacts",
        ["created_at"],
        "mixed_date_formats",
        con,
        hits,
        "created_at mixes ISO timestamps and ISO dates with DD/MM/YYYY (ambiguous with US "
        "MM/DD/YYYY) and 'Month D, YYYY'; count is the non-ISO values. DuckDB types the column "
        "VARCHAR.",
        detected_by=gx("created_at", "expect_column_values_to_match_regex"),
        examples=shared([con[i]["created_at"] for i in hits]),
        stats={
            "iso_timestamp": len(con) - len(hits) - iso_dates,
            "iso_date": iso_dates,
            "non_iso": len(hits),
        },
    )
    hits = [i for i, c in enumerate(con) if c["account_id"] not in account_ids]
    m.add(
        "crm.contacts",
        ["account_id"],
        "orphan_foreign_key",
        con,
        hits,
        "account_id not present in crm.accounts (deleted or merged accounts).",
        scope="cross_dataset",
        examples=[con[i]["account_id"] for i in hits],
        stats={"references": "crm.accounts.account_id"},
    )

    hits = [i for i, o in enumerate(opp) if o["amount"] < 0]
    m.add(
        "crm.opportunities",
        ["amount"],
        "negative_amount",
        opp,
        hits,
        "Opportunity amount entered with a minus sign.",
        detected_by=gx("amount", "expect_column_values_to_be_between"),
        examples=[opp[i]["opportunity_id"] for i in hits],
    )
    hits = [i for i, o in enumerate(opp) if o["currency"] not in CURRENCIES]
    m.add(
        "crm.opportunities",
        ["currency"],
        "currency_inconsistent",
        opp,
        hits,
        "Currency not an upper-case ISO 4217 code (usd, US$, eur, Euro, gbp).",
        detected_by=gx("currency", "expect_column_values_to_be_in_set"),
        examples=shared([opp[i]["currency"] for i in hits]),
    )
    hits = [i for i, o in enumerate(opp) if o["account_id"] not in account_ids]
    m.add(
        "crm.opportunities",
        ["account_id"],
        "orphan_foreign_key",
        opp,
        hits,
        "account_id not present in crm.accounts.",
        scope="cross_dataset",
        examples=[opp[i]["opportunity_id"] for i in hits],
        stats={
            "references": "crm.accounts.account_id",
            "match_rate": round(1 - len(hits) / len(opp), 4),
        },
    )

    for label, regex in (
        ("email", TEXT_EMAIL_RE),
        ("phone", TEXT_PHONE_RE),
        ("iban", TEXT_IBAN_RE),
    ):
        hits = [i for i, t in enumerate(tic) if regex.search(t["description"])]
        m.add(
            "crm.support_tickets",
            ["description"],
            "pii_in_free_text",
            tic,
            hits,
            f"Ticket description contains a {label}; counted with the regex in stats.",
            scope="text",
            examples=[tic[i]["ticket_id"] for i in hits],
            stats={"pii_type": label, "pattern": regex.pattern},
            tag=label,
        )
        planted = [i for i, t in enumerate(tic) if label in t["_pii"]]
        if hits != planted:
            raise AssertionError(
                f"ticket prose leaks unplanned {label}-like text: "
                f"{sorted(set(hits) ^ set(planted))[:5]}"
            )
    hits = [i for i, t in enumerate(tic) if len(t["description"].strip()) < MIN_DESCRIPTION_CHARS]
    m.add(
        "crm.support_tickets",
        ["description"],
        "near_empty_text",
        tic,
        hits,
        f"Description shorter than {MIN_DESCRIPTION_CHARS} characters ('', 'n/a', 'asdf', ...).",
        detected_by=gx("description", "expect_column_value_lengths_to_be_between"),
        examples=shared([tic[i]["description"] for i in hits]),
    )
    seen: set[str] = set()
    hits = []
    for i, t in enumerate(tic):
        key = json.dumps([cell(t[c]) for c in TICKET_COLUMNS])
        if key in seen:
            hits.append(i)
        seen.add(key)
    m.add(
        "crm.support_tickets",
        list(TICKET_COLUMNS),
        "duplicate_rows",
        tic,
        hits,
        "Exact duplicate rows (same ticket_id and content, replayed by the export); count is the "
        "redundant copies, so a uniqueness check on ticket_id flags twice as many rows.",
        scope="table",
        detected_by=gx("ticket_id", "expect_column_values_to_be_unique"),
        examples=[tic[i]["ticket_id"] for i in hits],
    )

    hits = [i for i, c in enumerate(cus) if c["crm_account_id"] is None]
    orphans = [
        i
        for i, c in enumerate(cus)
        if c["crm_account_id"] is not None and c["crm_account_id"] not in account_ids
    ]
    join = {
        "references": "crm.accounts.account_id",
        "customers": len(cus),
        "matched": len(cus) - len(hits) - len(orphans),
        "match_rate": round((len(cus) - len(hits) - len(orphans)) / len(cus), 4),
        "churn_use_case_min_match": 0.95,
    }
    m.add(
        "erp.customers",
        ["crm_account_id"],
        "null_foreign_key",
        cus,
        hits,
        "Customer not linked to any CRM account.",
        detected_by=gx("crm_account_id", "expect_column_values_to_not_be_null"),
        examples=[cus[i]["customer_id"] for i in hits],
        stats=join,
    )
    m.add(
        "erp.customers",
        ["crm_account_id"],
        "orphan_foreign_key",
        cus,
        orphans,
        "crm_account_id points to an account that is not in crm.accounts; together with the "
        "null links the customers -> accounts join matches less than 0.95.",
        scope="cross_dataset",
        examples=[cus[i]["crm_account_id"] for i in orphans],
        stats=join,
    )
    hits = [i for i, c in enumerate(cus) if c["iban"]]
    m.add(
        "erp.customers",
        ["iban"],
        "pii_column",
        cus,
        hits,
        "Bank account numbers (IBAN, valid check digits) stored in clear; IBANs are only "
        "present for IBAN countries.",
        scope="governance",
    )

    hits = [i for i, r in enumerate(inv) if r["customer_id"] not in customer_ids]
    m.add(
        "erp.invoices",
        ["customer_id"],
        "orphan_foreign_key",
        inv,
        hits,
        "Legacy invoices of customers deleted from the customer master.",
        scope="cross_dataset",
        examples=shared([inv[i]["customer_id"] for i in hits]),
        stats={"references": "erp.customers.customer_id"},
    )
    hits = [i for i, r in enumerate(inv) if r["amount"] < 0]
    credit = sum(1 for i in hits if inv[i]["_credit"])
    m.add(
        "erp.invoices",
        ["amount"],
        "negative_amount",
        inv,
        hits,
        f"Negative amounts: {credit} are credit notes (status paid, linked to an order), "
        f"{len(hits) - credit} are sign errors on ordinary invoices.",
        detected_by=gx("amount", "expect_column_values_to_be_between"),
        examples=[inv[i]["invoice_id"] for i in hits],
        stats={"credit_notes": credit, "sign_errors": len(hits) - credit},
    )
    hits = [i for i, r in enumerate(inv) if r["currency"] not in CURRENCIES]
    m.add(
        "erp.invoices",
        ["currency"],
        "currency_inconsistent",
        inv,
        hits,
        "Currency not an upper-case ISO 4217 code (eur, EURO, €, usd, US$, $, gbp, £).",
        detected_by=gx("currency", "expect_column_values_to_be_in_set"),
        examples=shared([inv[i]["currency"] for i in hits]),
    )
    hits = [i for i, r in enumerate(inv) if not ISO_DATE_RE.match(r["invoice_date"])]
    m.add(
        "erp.invoices",
        ["invoice_date"],
        "mixed_date_formats",
        inv,
        hits,
        "invoice_date is text with ISO, DD.MM.YYYY and YYYY/MM/DD values from a legacy "
        "system; count is the non-ISO values.",
        detected_by=gx("invoice_date", "expect_column_values_to_match_regex"),
        examples=shared([inv[i]["invoice_date"] for i in hits]),
    )
    max_loaded = max(r["loaded_at"] for r in inv)
    max_updated = max(r["updated_at"] for r in inv)
    error_after = ctx.as_of - timedelta(hours=72)
    hits = [i for i, r in enumerate(inv) if r["loaded_at"] < error_after]
    m.add(
        "erp.invoices",
        ["loaded_at", "updated_at"],
        "stale_timestamp",
        inv,
        hits,
        "The ERP extract stopped about 9 days before the anchor: newest loaded_at and "
        "updated_at are far beyond a 72 h error_after; count is the rows loaded before "
        "as_of - 72 h (all of them).",
        scope="table",
        stats={
            "as_of": iso(ctx.as_of) + "Z",
            "max_loaded_at": iso(max_loaded),
            "max_updated_at": iso(max_updated),
            "loaded_at_age_hours": round((ctx.as_of - max_loaded).total_seconds() / 3600, 2),
            "updated_at_age_hours": round((ctx.as_of - max_updated).total_seconds() / 3600, 2),
            "warn_after_hours": 24,
            "error_after_hours": 72,
        },
    )
    return {"seed": ctx.seed, "as_of": iso(ctx.as_of) + "Z", "problems": m.problems}
