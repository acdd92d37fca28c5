"""ERP entities: customers, orders and invoices (with a stale extract)."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from . import vocab as v
from .common import (
    COUNTRY_WEIGHTS,
    CURRENCIES,
    Ctx,
    Row,
    between,
    fill_layout,
    make_iban,
    pick,
    slug,
)

# --- ERP ----------------------------------------------------------------------------------------


def company_name(rng: random.Random, taken: set[str]) -> tuple[str, str]:
    while True:
        industry = rng.choice(sorted(v.INDUSTRY_NOUNS))
        core = f"{rng.choice(v.NAME_PREFIXES)} {rng.choice(v.INDUSTRY_NOUNS[industry])}"
        if slug(core) not in taken:
            taken.add(slug(core))
            country = pick(rng, COUNTRY_WEIGHTS)
            return f"{core} {rng.choice(v.COUNTRIES[country][4])}", country


def build_customers(
    ctx: Ctx, accounts: list[Row], n_linked: int = 405, n_orphan: int = 30, n_null: int = 15
) -> list[Row]:
    rng = ctx.rng("customers")
    live = [a for a in accounts if a["status"] != "test"]
    taken = {a["_core"] for a in accounts}
    known = {a["account_id"] for a in accounts}
    ghosts = [f"A{n:05d}" for n in range(len(accounts) + 1, len(accounts) + 200)]
    ghosts = [g for g in ghosts if g not in known]
    rows: list[Row] = []
    for acc in rng.sample(live, n_linked):
        lo = acc["created_at"] + timedelta(days=rng.randint(5, 120))
        rows.append(
            {
                "crm_account_id": acc["account_id"],
                "name": acc["name"],
                "country": acc["country"],
                "created_at": min(lo, ctx.as_of - timedelta(days=20)),
                "_segment": acc["segment"],
            }
        )
    for crm_id in rng.sample(ghosts, n_orphan) + [None] * n_null:
        name, country = company_name(rng, taken)
        created = between(rng, datetime(2017, 1, 2), ctx.as_of - timedelta(days=60))
        rows.append(
            {
                "crm_account_id": crm_id,
                "name": name,
                "country": country,
                "created_at": created,
                "_segment": "SMB",
            }
        )
    rows.sort(key=lambda r: (r["created_at"], r["name"]))
    for n, r in enumerate(rows, start=10001):
        c = r["country"]
        r["customer_id"] = f"C{n}"
        r["vat_id"] = c + fill_layout(rng, v.VAT_LAYOUT[c]) if c in v.VAT_LAYOUT else None
        r["iban"] = make_iban(rng, c) if c in v.IBAN_LAYOUT else None
        r["payment_terms_days"] = int(pick(rng, {"14": 10, "30": 55, "45": 15, "60": 15, "90": 5}))
        updated = ctx.as_of - timedelta(hours=rng.expovariate(1 / (24 * 90)))
        r["updated_at"] = max(updated, r["created_at"] + timedelta(days=1)).replace(microsecond=0)
        r["created_at"] = r["created_at"].replace(microsecond=0)
    return rows


def build_orders(ctx: Ctx, customers: list[Row], n_total: int = 2000) -> list[Row]:
    rng = ctx.rng("orders")
    weights = [
        {"SMB": 1.0, "Mid-Market": 2.0, "Enterprise": 3.0}.get(c["_segment"], 1.0)
        for c in customers
    ]
    base = {"SMB": 3000, "Mid-Market": 12000, "Enterprise": 40000}
    rows: list[Row] = []
    for cust in rng.choices(customers, weights=weights, k=n_total):
        lo = max(cust["created_at"], datetime(2024, 1, 1))
        order_day = between(rng, lo, ctx.as_of - timedelta(days=1)).date()
        age = (ctx.as_of.date() - order_day).days
        if age < 10:
            status = rng.choice(("open", "confirmed"))
        elif age < 45:
            status = rng.choice(("shipped", "invoiced"))
        else:
            status = "cancelled" if rng.random() < 0.04 else "completed"
        updated = datetime.combine(order_day, time(7)) + timedelta(
            hours=rng.uniform(0, 24 * min(age, 40))
        )
        rows.append(
            {
                "customer_id": cust["customer_id"],
                "order_date": order_day,
                "amount": round(base.get(cust["_segment"], 6000) * rng.lognormvariate(0, 0.7), 2),
                "currency": v.COUNTRIES[cust["country"]][2],
                "status": status,
                "updated_at": min(updated, ctx.as_of - timedelta(minutes=7)).replace(microsecond=0),
            }
        )
    rows.sort(key=lambda r: (r["order_date"], r["customer_id"]))
    for n, r in enumerate(rows, start=100001):
        r["order_id"] = f"SO-{n}"
    return rows


INVOICE_CURRENCY_VARIANTS = {
    "EUR": ("eur", "EURO", "€", "Eur"),
    "USD": ("usd", "US$", "$"),
    "GBP": ("gbp", "£"),
}


def invoice_row(
    customer_id: str, order_id: str | None, inv: date, terms: int, amount: float, currency: str
) -> Row:
    return {
        "customer_id": customer_id,
        "order_id": order_id,
        "_inv": inv,
        "due_date": inv + timedelta(days=terms),
        "paid_date": None,
        "amount": amount,
        "currency": currency,
        "status": "open",
        "days_late": 0,
        "_credit": False,
    }


def settle(rng: random.Random, r: Row, late_mean: float, cutoff: datetime) -> None:
    """Decide status, paid_date, days_late and updated_at as seen by the (stale) ERP extract."""
    last_day = cutoff.date() - timedelta(days=1)
    if r["status"] == "cancelled":
        upd = datetime.combine(r["_inv"] + timedelta(days=rng.randint(1, 10)), time(9))
    else:
        paid = r["due_date"] + timedelta(days=round(rng.gauss(late_mean, 4)))
        paid = max(paid, r["_inv"] + timedelta(days=1))
        if paid <= last_day:
            r.update(status="paid", paid_date=paid, days_late=max(0, (paid - r["due_date"]).days))
            upd = datetime.combine(paid, time(6))
        elif r["due_date"] < cutoff.date():
            overdue = (cutoff.date() - r["due_date"]).days
            r.update(status="overdue", days_late=overdue)
            upd = datetime.combine(r["due_date"] + timedelta(days=7 * (overdue // 7)), time(5))
        else:
            upd = datetime.combine(r["_inv"], time(7))
    upd += timedelta(seconds=rng.randrange(12 * 3600))
    r["updated_at"] = min(upd, cutoff)


def build_invoices(ctx: Ctx, customers: list[Row], orders: list[Row]) -> list[Row]:
    rng = ctx.rng("invoices")
    # The ERP extract stopped ~9 days before the anchor: last change and last nightly load.
    cutoff = ctx.as_of - timedelta(days=9, hours=1, minutes=13)
    terms = {c["customer_id"]: c["payment_terms_days"] for c in customers}
    late = {
        c["customer_id"]: (rng.expovariate(1 / 25) if rng.random() < 0.12 else rng.gauss(2, 4))
        for c in customers
    }
    rows: list[Row] = []
    for o in orders:
        if o["status"] == "cancelled" or o["order_date"] >= cutoff.date() - timedelta(days=2):
            continue
        k = int(pick(rng, {"1": 58, "2": 30, "3": 12}))
        first = o["order_date"] + timedelta(days=rng.randint(1, 4))
        share = round(o["amount"] / k, 2)
        for i in range(k):
            inv = first + timedelta(days=30 * i)
            if inv >= cutoff.date():
                break
            amount = share if i < k - 1 else round(o["amount"] - share * (k - 1), 2)
            r = invoice_row(
                o["customer_id"], o["order_id"], inv, terms[o["customer_id"]], amount, o["currency"]
            )
            if rng.random() < 0.015:
                r["status"] = "cancelled"
            settle(rng, r, late[o["customer_id"]], cutoff)
            rows.append(r)
    # Legacy invoices of customers that were deleted from the customer master (orphans).
    ghost_customers = [f"C{n}" for n in rng.sample(range(10001 + len(customers), 10999), 40)]
    for cid in ghost_customers:
        currency = rng.choice(CURRENCIES)
        for _ in range(3):
            inv = between(rng, datetime(2024, 1, 8), datetime(2025, 6, 30)).date()
            r = invoice_row(
                cid, None, inv, 30, round(2500 * rng.lognormvariate(0, 0.8), 2), currency
            )
            settle(rng, r, 3.0, cutoff)
            rows.append(r)
    # Credit notes: legitimate negative amounts that refer to a paid invoice's order.
    paid = [r for r in rows if r["status"] == "paid" and r["order_id"]]
    for src in rng.sample(paid, 50):
        inv = src["paid_date"] + timedelta(days=rng.randint(5, 40))
        if inv >= cutoff.date():
            inv = cutoff.date() - timedelta(days=1)
        frac = rng.choice((0.1, 0.25, 0.5, 1.0))
        r = invoice_row(
            src["customer_id"],
            src["order_id"],
            inv,
            0,
            -round(src["amount"] * frac, 2),
            src["currency"],
        )
        r.update(status="paid", paid_date=inv, _credit=True)
        r["updated_at"] = datetime.combine(inv, time(10)) + timedelta(
            seconds=rng.randrange(8 * 3600)
        )
        rows.append(r)
    rows.sort(key=lambda r: (r["_inv"], r["customer_id"], r["order_id"] or "", r["amount"]))
    latest = max(range(len(rows)), key=lambda i: (rows[i]["updated_at"], i))
    rows[latest]["updated_at"] = cutoff
    idx = list(range(len(rows)))
    plain = [i for i in idx if not rows[i]["_credit"]]
    for i in rng.sample(plain, 40):
        rows[i]["amount"] = -rows[i]["amount"]
    for i in rng.sample(idx, round(0.03 * len(rows))):
        rows[i]["currency"] = rng.choice(INVOICE_CURRENCY_VARIANTS[rows[i]["currency"]])
    for n, r in enumerate(rows, start=1):
        r["invoice_id"] = f"INV{n:07d}"
        roll = rng.random()
        d = r["_inv"]
        r["invoice_date"] = (
            d.isoformat()
            if roll < 0.80
            else d.strftime("%d.%m.%Y")
            if roll < 0.92
            else d.strftime("%Y/%m/%d")
        )
        nightly = datetime.combine(r["updated_at"].date(), time(2, 15))
        if nightly <= r["updated_at"]:
            nightly += timedelta(days=1)
        r["loaded_at"] = nightly + timedelta(seconds=nightly.toordinal() % 53)
    return rows
