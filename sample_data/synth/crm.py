"""CRM entities: accounts, contacts, opportunities and support tickets."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from . import vocab as v
from .common import (
    COUNTRY_WEIGHTS,
    Ctx,
    Row,
    between,
    email_for,
    format_mixed_date,
    make_iban,
    make_phone,
    months_between,
    person,
    pick,
    slug,
    spaced,
)

# --- CRM: accounts ------------------------------------------------------------------------------

SEGMENT_WEIGHTS = {"SMB": 50, "Mid-Market": 32, "Enterprise": 18}


def new_account(
    ctx: Ctx,
    rng: random.Random,
    name: str,
    country: str,
    industry: str,
    created: datetime,
    core: str,
) -> Row:
    segment = pick(rng, SEGMENT_WEIGHTS)
    if segment == "SMB":
        employees = rng.randint(8, 199)
    elif segment == "Mid-Market":
        employees = rng.randint(200, 1999)
    else:
        employees = min(60000, int(2000 * rng.lognormvariate(0.6, 0.8)))
    region = v.COUNTRIES[country][1]
    status = "churned" if rng.random() < 0.09 else "active"
    updated = ctx.as_of - timedelta(hours=rng.expovariate(1 / (24 * 45)))
    updated = max(updated, created + timedelta(hours=1))
    ref = updated if status == "churned" else ctx.as_of
    return {
        "name": name,
        "industry": industry,
        "segment": segment,
        "country": country,
        "region": region,
        "annual_revenue": employees * rng.randint(90, 320) * 1000,
        "employee_count": employees,
        "owner_email": f"{rng.choice(v.SALES_REPS[region])}@{v.INTERNAL_DOMAIN}",
        "status": status,
        "created_at": created,
        "updated_at": updated,
        "tenure_months": months_between(created, ref),
        "churned_90d": False,
        "_core": slug(core),
        "_domain": f"{slug(core, '-')}.example",
        "_cluster": None,
    }


def build_accounts(ctx: Ctx, n_total: int = 500) -> list[Row]:
    rng = ctx.rng("accounts")
    start, end = datetime(2016, 1, 4), ctx.as_of - timedelta(days=45)
    rows: list[Row] = []
    used_cores: set[str] = set()
    for cluster_no, (country, industry, names) in enumerate(v.DUPLICATE_CLUSTERS, start=1):
        core = names[0].split()[0]
        base = new_account(ctx, rng, names[0], country, industry, between(rng, start, end), core)
        base["status"] = "active"
        base["tenure_months"] = months_between(base["created_at"], ctx.as_of)
        base["_cluster"] = cluster_no
        used_cores.add(slug(core))
        rows.append(base)
        for variant in names[1:]:
            created = base["created_at"] + timedelta(
                days=rng.randint(30, 900), seconds=rng.randrange(86400)
            )
            if created > end:
                created = between(rng, base["created_at"] + timedelta(days=1), end)
            dup = new_account(ctx, rng, variant, country, industry, created, core)
            employees = max(1, round(base["employee_count"] * rng.uniform(0.9, 1.1)))
            revenue = int(base["annual_revenue"] * rng.uniform(0.85, 1.1)) // 1000 * 1000
            dup.update(
                segment=base["segment"],
                status="active",
                _domain=base["_domain"],
                _cluster=cluster_no,
                employee_count=employees,
                annual_revenue=revenue,
            )
            dup["tenure_months"] = months_between(created, ctx.as_of)
            rows.append(dup)
    for name in v.TEST_ACCOUNT_NAMES:
        acc = new_account(
            ctx,
            rng,
            name,
            "DE" if "GmbH" in name else "US",
            "Software",
            between(rng, ctx.as_of - timedelta(days=700), end),
            name,
        )
        acc.update(
            status="test",
            segment="SMB",
            employee_count=1,
            annual_revenue=0,
            _domain="brightline-test.example",
        )
        acc["tenure_months"] = months_between(acc["created_at"], ctx.as_of)
        rows.append(acc)
    while len(rows) < n_total:
        industry = rng.choice(sorted(v.INDUSTRY_NOUNS))
        core = f"{rng.choice(v.NAME_PREFIXES)} {rng.choice(v.INDUSTRY_NOUNS[industry])}"
        if slug(core) in used_cores:
            continue
        used_cores.add(slug(core))
        country = pick(rng, COUNTRY_WEIGHTS)
        name = f"{core} {rng.choice(v.COUNTRIES[country][4])}"
        created = start + (end - start) * (rng.random() ** 0.8)
        created = created.replace(microsecond=0)
        rows.append(new_account(ctx, rng, name, country, industry, created, core))
    # Label: churn within 90 days, ~12% of all accounts, driven by segment, tenure and status.
    risk_segment = {"SMB": 0.55, "Mid-Market": 0.3, "Enterprise": 0.1}
    scored = []
    for i, r in enumerate(rows):
        if r["status"] == "test":
            continue
        risk = risk_segment[r["segment"]] + max(0, 24 - r["tenure_months"]) / 48
        risk += (0.8 if r["status"] == "churned" else 0.0) + rng.gauss(0, 0.35)
        scored.append((risk, i))
    for _, i in sorted(scored, reverse=True)[: round(0.12 * len(rows))]:
        rows[i]["churned_90d"] = True
    plain = [i for i, r in enumerate(rows) if r["_cluster"] is None and r["status"] == "active"]
    for i in rng.sample(plain, 7):
        rows[i]["segment"] = None
    rows.sort(key=lambda r: r["created_at"])
    for n, r in enumerate(rows, start=1):
        r["account_id"] = f"A{n:05d}"
    return rows


# --- CRM: contacts ------------------------------------------------------------------------------

MALFORMED_EMAILS = (
    "{f}.{l}@",
    "{f} at {d}",
    "x@y",
    "{f}.{l}@@{d}",
    "{f}.{l}.{d}",
    "{f}@{c}",
    "{f}.{l}@ {d}",
)
MALFORMED_PHONES = ("555-CALL-NOW", "12345", "n/a", "+49 30", "tbd", "ext. 204", "0000")


def build_contacts(ctx: Ctx, accounts: list[Row], n_total: int = 1200) -> list[Row]:
    rng = ctx.rng("contacts")
    live = [a for a in accounts if a["status"] != "test"]
    weights = [
        {"SMB": 1.0, "Mid-Market": 2.0, "Enterprise": 3.5}.get(a["segment"], 1.0) for a in live
    ]
    owners = list(live) + rng.choices(live, weights=weights, k=n_total - len(live))
    rows: list[Row] = []
    for acc in owners:
        country = acc["country"] if rng.random() < 0.9 else pick(rng, COUNTRY_WEIGHTS)
        first, last = person(rng, country)
        created = between(rng, acc["created_at"], ctx.as_of - timedelta(days=1))
        updated = max(created, ctx.as_of - timedelta(hours=rng.expovariate(1 / (24 * 60))))
        rows.append(
            {
                "account_id": acc["account_id"],
                "first_name": first,
                "last_name": last,
                "email": email_for(rng, first, last, acc["_domain"]),
                "phone": make_phone(rng, country),
                "title": rng.choice(v.TITLES),
                "country": country,
                "_created": created,
                "created_at": format_mixed_date(rng, created),
                "updated_at": updated,
                "consent_marketing": rng.random() < 0.55,
            }
        )
    rows.sort(key=lambda r: r["_created"])
    for n, r in enumerate(rows, start=1):
        r["contact_id"] = f"CT{n:06d}"
    idx = list(range(len(rows)))
    null_email = set(rng.sample(idx, round(0.06 * len(rows))))
    rest = [i for i in idx if i not in null_email]
    bad_email = rng.sample(rest, round(0.04 * len(rows)))
    for i in sorted(null_email):
        rows[i]["email"] = None
    for k, i in enumerate(bad_email):
        r = rows[i]
        f, la = slug(r["first_name"], "."), slug(r["last_name"])
        dom = r["email"].split("@")[1]
        r["email"] = MALFORMED_EMAILS[k % len(MALFORMED_EMAILS)].format(
            f=f, l=la, d=dom, c=dom.split(".")[0]
        )
    null_phone = set(rng.sample(idx, round(0.05 * len(rows))))
    for i in sorted(null_phone):
        rows[i]["phone"] = None
    bad_phone = rng.sample([i for i in idx if i not in null_phone], round(0.03 * len(rows)))
    for k, i in enumerate(bad_phone):
        rows[i]["phone"] = MALFORMED_PHONES[k % len(MALFORMED_PHONES)]
    known = {a["account_id"] for a in accounts}
    ghost_ids = [f"A{n:05d}" for n in range(len(accounts) + 1, len(accounts) + 90)]
    for i in rng.sample(idx, 8):
        rows[i]["account_id"] = rng.choice([g for g in ghost_ids if g not in known])
    return rows


# --- CRM: opportunities -------------------------------------------------------------------------

STAGES = {
    "Prospecting": 10,
    "Qualification": 20,
    "Proposal": 50,
    "Negotiation": 75,
    "Closed Won": 100,
    "Closed Lost": 0,
}
STAGE_WEIGHTS = {
    "Prospecting": 10,
    "Qualification": 12,
    "Proposal": 12,
    "Negotiation": 9,
    "Closed Won": 31,
    "Closed Lost": 26,
}
CURRENCY_VARIANTS = {"USD": ("usd", "US$"), "EUR": ("eur", "Euro"), "GBP": ("gbp",)}


def build_opportunities(ctx: Ctx, accounts: list[Row], n_total: int = 1500) -> list[Row]:
    rng = ctx.rng("opportunities")
    live = [a for a in accounts if a["status"] != "test"]
    weights = [
        {"SMB": 1.0, "Mid-Market": 2.5, "Enterprise": 4.0}.get(a["segment"], 1.0) for a in live
    ]
    base_amount = {"SMB": 6000, "Mid-Market": 28000, "Enterprise": 120000, None: 15000}
    rows: list[Row] = []
    for acc in rng.choices(live, weights=weights, k=n_total):
        stage = pick(rng, STAGE_WEIGHTS)
        closed = stage.startswith("Closed")
        lo = max(acc["created_at"], ctx.as_of - timedelta(days=1100))
        created = between(rng, lo, ctx.as_of - timedelta(days=2 if not closed else 20))
        if closed:
            close = min(created + timedelta(days=rng.randint(10, 180)), ctx.as_of)
            updated = between(
                rng,
                datetime.combine(close.date(), time(8)),
                datetime.combine(close.date(), time(19)),
            )
            updated = min(updated, ctx.as_of - timedelta(minutes=5))
        else:
            close = ctx.as_of + timedelta(days=rng.randint(3, 200))
            updated = between(rng, created, ctx.as_of - timedelta(minutes=5))
        prob = STAGES[stage]
        if not closed:
            prob = min(95, max(5, prob + rng.choice((-10, -5, 0, 0, 5, 10))))
        amount = round(base_amount[acc["segment"]] * rng.lognormvariate(0, 0.6), -2)
        year = close.year
        rows.append(
            {
                "account_id": acc["account_id"],
                "name": f"{acc['name']} - {rng.choice(v.OPPORTUNITY_KINDS)} {year}",
                "stage": stage,
                "amount": max(amount, 500.0),
                "currency": v.COUNTRIES[acc["country"]][2],
                "close_date": close.date().isoformat(),
                "probability": prob,
                "created_at": created,
                "updated_at": max(updated, created),
                "won": (stage == "Closed Won") if closed else None,
            }
        )
    rows.sort(key=lambda r: r["created_at"])
    for n, r in enumerate(rows, start=1):
        r["opportunity_id"] = f"OPP{n:06d}"
    idx = list(range(len(rows)))
    for i in rng.sample(idx, round(0.02 * len(rows))):
        rows[i]["amount"] = -rows[i]["amount"]
    for i in rng.sample(idx, round(0.05 * len(rows))):
        rows[i]["currency"] = rng.choice(CURRENCY_VARIANTS[rows[i]["currency"]])
    known = {a["account_id"] for a in accounts}
    ghosts = [f"A{n:05d}" for n in range(len(accounts) + 1, len(accounts) + 90)]
    for i in rng.sample(idx, round(0.01 * len(rows))):
        rows[i]["account_id"] = rng.choice([g for g in ghosts if g not in known])
    return rows


# --- CRM: support tickets -----------------------------------------------------------------------


def describe(rng: random.Random, category: str, problem: str, extra: list[str]) -> str:
    target = 80 + int(rng.betavariate(1.2, 4.5) * 1300)
    opener = rng.choice(v.TICKET_OPENERS) if rng.random() < 0.75 else ""
    closer = rng.choice(v.TICKET_CLOSERS) if rng.random() < 0.75 else ""
    body = [problem]
    pool = v.TICKET_DETAILS + v.TICKET_CATEGORY_DETAILS[category]
    details = rng.sample(pool, len(pool))
    for sentence in extra:
        body.insert(rng.randint(1, len(body)), sentence)

    def render() -> str:
        return "\n\n".join(p for p in (opener, " ".join(body), closer) if p)

    while len(render()) < target and details:
        body.insert(rng.randint(1, len(body)), details.pop())
    while len(render()) > 1500:
        removable = [i for i, s in enumerate(body) if i > 0 and s in pool]
        body.pop(removable[-1])
    return render()


def build_tickets(
    ctx: Ctx, accounts: list[Row], contacts: list[Row], n_unique: int = 795, n_dupes: int = 5
) -> list[Row]:
    rng = ctx.rng("tickets")
    by_account: dict[str, list[Row]] = {}
    for c in contacts:
        by_account.setdefault(c["account_id"], []).append(c)
    live = [a for a in accounts if a["status"] != "test" and a["account_id"] in by_account]
    weights = [
        {"SMB": 1.0, "Mid-Market": 2.0, "Enterprise": 3.0}.get(a["segment"], 1.0) for a in live
    ]
    idx = list(range(n_unique))
    categories = [rng.choice(sorted(v.TICKET_ISSUES)) for _ in idx]
    with_email = set(rng.sample(idx, round(0.15 * 800)))
    with_phone = set(rng.sample(idx, round(0.10 * 800)))
    # Bank details only turn up where they make sense: billing tickets.
    with_iban = set(rng.sample([i for i in idx if categories[i] == "billing"], round(0.05 * 800)))
    near_empty = rng.sample(
        [i for i in idx if i not in with_email | with_phone | with_iban],
        len(v.NEAR_EMPTY_DESCRIPTIONS),
    )
    first_iban = min(with_iban)
    rows: list[Row] = []
    for i, acc in enumerate(rng.choices(live, weights=weights, k=n_unique)):
        contact = rng.choice(by_account[acc["account_id"]])
        category = categories[i]
        subject, problem = rng.choice(v.TICKET_ISSUES[category])
        created = between(rng, ctx.as_of - timedelta(days=540), ctx.as_of - timedelta(hours=1))
        updated = min(
            created + timedelta(hours=rng.expovariate(1 / 60)), ctx.as_of - timedelta(minutes=10)
        )
        age_days = (ctx.as_of - created).days
        if age_days < 3:
            status = rng.choice(("new", "open", "open", "pending"))
        else:
            status = pick(rng, {"closed": 60, "solved": 28, "pending": 6, "open": 6})
        extra: list[str] = []
        pii = tuple(
            label
            for label, chosen in (("email", with_email), ("phone", with_phone), ("iban", with_iban))
            if i in chosen
        )
        if i in with_email:
            first, last = person(rng, acc["country"])
            extra.append(
                rng.choice(v.PII_EMAIL_SENTENCES).format(
                    email=email_for(rng, first, last, acc["_domain"])
                )
            )
        if i in with_phone:
            extra.append(
                rng.choice(v.PII_PHONE_SENTENCES).format(phone=make_phone(rng, acc["country"]))
            )
        if i in with_iban:
            country = acc["country"] if acc["country"] in v.IBAN_LAYOUT else "DE"
            iban = (
                "DE89 3704 0044 0532 0130 00"
                if i == first_iban
                else spaced(make_iban(rng, country))
            )
            extra.append(rng.choice(v.PII_IBAN_SENTENCES).format(iban=iban))
        if i in near_empty:
            description = v.NEAR_EMPTY_DESCRIPTIONS[near_empty.index(i)]
        else:
            description = describe(rng, category, problem, extra)
        rows.append(
            {
                "account_id": acc["account_id"],
                "contact_id": contact["contact_id"],
                "created_at": created,
                "updated_at": updated,
                "channel": pick(rng, {"email": 45, "web": 30, "chat": 15, "phone": 10}),
                "priority": pick(rng, {"low": 25, "normal": 50, "high": 20, "urgent": 5}),
                "category": category,
                "subject": subject,
                "description": description,
                "status": status,
                "_pii": pii,
            }
        )
    rows.sort(key=lambda r: r["created_at"])
    for n, r in enumerate(rows, start=1):
        r["ticket_id"] = f"T{n:06d}"
    candidates = [i for i, r in enumerate(rows) if len(r["description"]) >= 80]
    for i in sorted(rng.sample(candidates, n_dupes), reverse=True):
        rows.insert(rng.randint(i + 1, min(len(rows), i + 40)), dict(rows[i]))
    return rows
