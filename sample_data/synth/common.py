"""Shared constants, the seeded context and small value generators."""

from __future__ import annotations

import random
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

from . import vocab as v

DEFAULT_AS_OF = "2026-11-20T00:00:00Z"
DEFAULT_SEED = 42

# The same patterns are used by the expectation suites (expectations/*.json).
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()./-]{5,18}[0-9]$")
ISO_DATE_PREFIX_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")
ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CURRENCIES = ("EUR", "GBP", "USD")
MIN_DESCRIPTION_CHARS = 20
# Scanners used to count PII actually present in ticket text.
TEXT_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
TEXT_PHONE_RE = re.compile(r"\+\d{1,3}(?:[ ()./-]*\d){6,14}")
TEXT_IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")

Row = dict[str, Any]


# --- small helpers ------------------------------------------------------------------------------


class Ctx:
    """Seed, anchor and one independent random stream per entity."""

    def __init__(self, seed: int, as_of: datetime) -> None:
        self.seed = seed
        self.as_of = as_of

    def rng(self, name: str) -> random.Random:
        return random.Random(f"{self.seed}:{name}")


def parse_as_of(text: str) -> datetime:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S")


def between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = int((end - start).total_seconds())
    return start + timedelta(seconds=rng.randrange(max(span, 1)))


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def ascii_fold(text: str) -> str:
    text = text.replace("ß", "ss").replace("ø", "o").replace("Ø", "O").replace("æ", "ae")
    norm = unicodedata.normalize("NFKD", text)
    return "".join(c for c in norm if not unicodedata.combining(c))


def slug(text: str, sep: str = "") -> str:
    return re.sub(r"[^a-z0-9]+", sep, ascii_fold(text).lower()).strip(sep)


def months_between(start: datetime, end: datetime) -> int:
    months = (end.year - start.year) * 12 + end.month - start.month
    return max(0, months - (1 if end.day < start.day else 0))


def fill_layout(rng: random.Random, layout: str) -> str:
    out = []
    for ch in layout:
        if ch == "n":
            out.append(str(rng.randrange(10)))
        elif ch == "a":
            out.append(chr(ord("A") + rng.randrange(26)))
        else:
            out.append(ch)
    return "".join(out)


def make_iban(rng: random.Random, country: str) -> str:
    bban = fill_layout(rng, v.IBAN_LAYOUT[country])
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


def spaced(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def make_phone(rng: random.Random, country: str) -> str:
    code = v.COUNTRIES[country][3]
    if code == "1":
        return f"+1 {rng.randint(201, 989)}-555-01{rng.randint(0, 99):02d}"
    if country == "GB":
        return f"+44 20 7946 0{rng.randint(0, 999):03d}"
    area = str(rng.randint(2, 89))
    return f"+{code} {area} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"


def person(rng: random.Random, country: str) -> tuple[str, str]:
    pool = v.NAME_POOL_BY_COUNTRY.get(country, "en")
    return rng.choice(v.FIRST_NAMES[pool]), rng.choice(v.LAST_NAMES[pool])


def email_for(rng: random.Random, first: str, last: str, domain: str) -> str:
    f, la = slug(first, "."), slug(last, "")
    local = rng.choice((f"{f}.{la}", f"{f[0]}.{la}", f"{f}{la[0]}", f"{f}_{la}"))
    return f"{local}@{domain}"


def format_mixed_date(rng: random.Random, dt: datetime) -> str:
    roll = rng.random()
    if roll < 0.83:
        return iso(dt)
    if roll < 0.89:
        return dt.strftime("%Y-%m-%d")
    if roll < 0.95:
        return dt.strftime("%d/%m/%Y")
    return f"{v.MONTHS[dt.month - 1]} {dt.day}, {dt.year}"


COUNTRY_WEIGHTS = {c: float(meta[0]) for c, meta in v.COUNTRIES.items()}
