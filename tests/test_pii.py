"""Tests for auditor.pii on real DuckDB tables.

Checksums used to build valid/invalid test data (Luhn, IBAN mod-97, INSEE key) are computed
here independently of the module, and expected shares are counted from the generated rows.
"""

from __future__ import annotations

import random
import re
from datetime import date, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from auditor import pii
from auditor.pii import (
    FREE_TEXT_SHARE,
    WHOLE_VALUE_SHARE,
    detect_pii,
    mask_value,
    name_rule,
    redact_sql,
)
from auditor.profile import profile_table
from auditor.sqlident import quote_ident

# --- Independent checksum helpers (test side) -------------------------------------------------


def luhn_check_digit(body: str) -> str:
    """Digit that makes body+digit Luhn-valid (doubling every second digit from the right)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def make_card(rng: random.Random, valid: bool) -> str:
    body = "4" + "".join(rng.choice("0123456789") for _ in range(14))
    check = luhn_check_digit(body)
    if not valid:
        check = str((int(check) + 1 + rng.randrange(9)) % 10)
    digits = body + check
    return " ".join(digits[i : i + 4] for i in range(0, 16, 4))


def make_iban(rng: random.Random, valid: bool) -> str:
    bban = "".join(rng.choice("0123456789") for _ in range(18))  # DE: 22 chars in total
    numeric = "".join(str(int(ch, 36)) for ch in bban + "DE00")
    check = 98 - int(numeric) % 97
    if not valid:
        check = (check + 1 + rng.randrange(50)) % 97 + 2
        if 98 - int(numeric) % 97 == check:
            check = check % 96 + 2
    compact = f"DE{check:02d}{bban}"
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def make_insee(rng: random.Random) -> str:
    body = f"{rng.choice('12')}{rng.randrange(40, 99):02d}{rng.randrange(1, 13):02d}" + "".join(
        rng.choice("0123456789") for _ in range(8)
    )
    key = 97 - int(body) % 97
    return f"{body}{key:02d}"


def load(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, list[Any]]) -> None:
    tbl = pa.table(columns)
    con.register("incoming", tbl)
    con.execute(f"CREATE OR REPLACE TABLE {quote_ident(name)} AS SELECT * FROM incoming")
    con.unregister("incoming")


def detect(con: duckdb.DuckDBPyConnection, table: str, **kw: Any) -> dict[str, pii.PiiMatch]:
    prof = profile_table(con, table, dataset=table)
    return detect_pii(con, table, prof, **kw)


FIRST = ["Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo"]
LAST = ["Smith", "Martin", "Rossi", "Dubois", "Nowak", "Weber"]
PHRASES = ["called about renewal", "asked for a discount", "budget approved next quarter"]


@pytest.fixture(scope="module")
def crm() -> tuple[duckdb.DuckDBPyConnection, dict[str, list[Any]]]:
    rng = random.Random(11)
    n = 1200
    cols: dict[str, list[Any]] = {
        "email": [],
        "phone_number": [],
        "first_name": [],
        "SSN": [],
        "dob": [],
        "contact_info": [],
        "notes": [],
        "status": [],
        "iban": [],
    }
    for i in range(n):
        f, last = rng.choice(FIRST), rng.choice(LAST)
        cols["email"].append(None if i % 17 == 0 else f"{f.lower()}.{last.lower()}{i}@example.com")
        cols["phone_number"].append(f"+33 6 {i % 100:02d} {i % 89:02d} {i % 97:02d} {i % 83:02d}")
        cols["first_name"].append(f)
        cols["SSN"].append(f"{rng.randrange(1, 600):03d}-{rng.randrange(1, 99):02d}-"
                           f"{rng.randrange(1, 9999):04d}")  # fmt: skip
        cols["dob"].append(date(1950, 1, 1) + timedelta(days=rng.randrange(0, 20000)))
        # 40% e-mails (no telling column name), rest product codes
        cols["contact_info"].append(f"{f.lower()}{i}@corp.example.org" if i % 5 < 2 else f"P-{i}")
        if i % 20 == 0:  # 5% of notes embed an e-mail
            note = f"please write to {f.lower()}.{i}@mail.example.net about the renewal"
        elif i % 25 == 1:  # 4% embed a phone number
            note = f"call back on +44 20 7946 {i % 10000:04d} after lunch"
        else:
            note = rng.choice(PHRASES)
        cols["notes"].append(note)
        cols["status"].append(rng.choice(["active", "churned", "lead"]))
        cols["iban"].append(make_iban(rng, valid=True))
    con = duckdb.connect()
    load(con, "crm", cols)
    return con, cols


def test_pii_by_name_and_content(crm):
    con, cols = crm
    found = detect(con, "crm")
    email = found["email"]
    non_null = [v for v in cols["email"] if v is not None]
    assert email.kinds == ("email",) and email.by_name and email.name_rule == "email"
    assert email.share["email"] == pytest.approx(1.0)
    assert email.sampled == len(non_null)
    assert not email.free_text
    assert email.reason.startswith("Column name 'email' (rule email) and 100% of ")
    assert f"{len(non_null):,} sampled values" in email.reason

    assert found["phone_number"].kinds == ("phone",) and found["phone_number"].name_rule == "phone"
    assert found["first_name"].kinds == ("person_name",)
    assert found["first_name"].name_rule == "first_name"
    assert found["SSN"].kinds == ("national_id",) and found["SSN"].name_rule == "ssn"
    dob = found["dob"]
    assert dob.kinds == ("date_of_birth",) and dob.name_rule == "dob"
    assert min(cols["dob"]).isoformat() in dob.reason
    assert found["iban"].kinds == ("iban",)
    assert "status" not in found


def test_pii_by_content_only(crm):
    con, cols = crm
    m = detect(con, "crm")["contact_info"]
    expected = sum(1 for v in cols["contact_info"] if "@" in v) / len(cols["contact_info"])
    assert expected >= WHOLE_VALUE_SHARE
    assert m.kinds == ("email",) and not m.by_name and m.name_rule is None
    assert m.share["email"] == pytest.approx(expected)
    assert m.reason.startswith(f"{round(100 * expected)}% of {len(cols['contact_info']):,}")


def test_pii_embedded_in_free_text(crm):
    con, cols = crm
    m = detect(con, "crm")["notes"]
    notes = cols["notes"]
    assert m.free_text
    assert set(m.kinds) == {"email", "phone"}
    assert m.share["email"] == pytest.approx(sum("@" in v for v in notes) / len(notes))
    assert m.share["phone"] == pytest.approx(sum("+44" in v for v in notes) / len(notes))
    assert "free-text values embed e-mail addresses" in m.reason


def test_free_text_threshold():
    """Below FREE_TEXT_SHARE of free-text values embedding PII, the column is not flagged."""
    n = 2000
    hits = int(n * FREE_TEXT_SHARE) // 2  # half the threshold
    notes = [f"ping bob{i}@example.com about the contract" if i < hits else
             "nothing personal in this note" for i in range(n)]  # fmt: skip
    con = duckdb.connect()
    load(con, "t", {"notes": notes})
    assert detect(con, "t") == {}
    notes2 = [f"ping bob{i}@example.com about it" if i < hits * 3 else notes[i] for i in range(n)]
    load(con, "t2", {"notes": notes2})
    assert detect(con, "t2")["notes"].free_text


def test_name_rule_contradicted_by_content():
    con = duckdb.connect()
    load(con, "t", {"email": [f"SKU-{i}" for i in range(50)],
                    "email_verified": [i % 2 == 0 for i in range(50)]})  # fmt: skip
    assert detect(con, "t") == {}


def test_name_rules():
    assert name_rule("firstName") == ("first_name", "person_name")
    assert name_rule("Customer E-Mail") == ("email", "email")
    assert name_rule("date_of_birth") == ("dob", "date_of_birth")
    assert name_rule("client_ip") == ("ip_address", "ip_address")
    assert name_rule("email_address")[1] == "email"
    assert name_rule("hotel") is None and name_rule("company_name") is None


def test_payment_cards_luhn_valid_vs_invalid():
    rng = random.Random(5)
    n = 300
    valid = [make_card(rng, True) for _ in range(n)]
    invalid = [make_card(rng, False) for _ in range(n)]
    assert all(pii.luhn_valid(c) for c in valid)
    assert not any(pii.luhn_valid(c) for c in invalid)
    con = duckdb.connect()
    load(con, "cards", {"ref_a": valid, "ref_b": invalid})
    found = detect(con, "cards")
    assert found["ref_a"].kinds == ("payment_card",)
    assert found["ref_a"].share["payment_card"] == pytest.approx(1.0)
    assert "ref_b" not in found
    assert pii.payment_card_valid("4111 1111 1111 1111")
    assert not pii.payment_card_valid("4111 1111 1111 1112")


def test_iban_mod97_valid_vs_invalid():
    rng = random.Random(8)
    valid = [make_iban(rng, True) for _ in range(200)]
    invalid = [make_iban(rng, False) for _ in range(200)]
    assert all(pii.iban_valid(x) for x in valid)
    assert not any(pii.iban_valid(x) for x in invalid)
    con = duckdb.connect()
    load(con, "acc", {"acc_a": valid, "acc_b": invalid})
    found = detect(con, "acc")
    assert found["acc_a"].kinds == ("iban",)
    assert "acc_b" not in found
    for published in ("GB82 WEST 1234 5698 7654 32", "FR14 2004 1010 0505 0001 3M02 606"):
        assert pii.iban_valid(published)


def test_national_ids():
    rng = random.Random(2)
    insee = [make_insee(rng) for _ in range(100)]
    assert all(pii.insee_valid(x) for x in insee)
    assert not any(pii.insee_valid(x[:-2] + f"{(int(x[-2:]) % 97) + 1:02d}") for x in insee)
    assert pii.ssn_valid("123-45-6789")
    assert not pii.ssn_valid("666-45-6789") and not pii.ssn_valid("123-00-6789")
    assert pii.nino_valid("AB 12 34 56 C") and not pii.nino_valid("GB 12 34 56 C")
    assert pii.steuer_id_valid("86095742719") and not pii.steuer_id_valid("86095742718")
    con = duckdb.connect()
    load(con, "ids", {"ref": insee})
    assert detect(con, "ids")["ref"].kinds == ("national_id",)


def test_sample_rows_bounds_the_scan():
    con = duckdb.connect()
    load(con, "big", {"email": [f"u{i}@example.com" for i in range(3000)]})
    m = detect(con, "big", sample_rows=500)["email"]
    assert m.sampled == 500
    assert detect(con, "big", sample_rows=500)["email"].reason == m.reason  # reproducible


def test_mask_value():
    assert mask_value("john.doe@example.com", ["email"]) == "j***@e***.com"
    assert mask_value("+33 6 12 34 56 78", ["phone"]) == "***78"
    assert mask_value("FR14 2004 1010 0505 0001 3M02 606", ["iban"]) == "FR***2606"
    assert mask_value("4111 1111 1111 1111", ["payment_card"]) == "***1111"
    assert mask_value("Anna Smith", ["person_name"]) == "A. S."
    assert mask_value("123-45-6789", ["national_id"]) == "1***"
    assert mask_value(date(1980, 5, 17), ["date_of_birth"]) == "1***"
    assert mask_value(None, ["email"]) == ""
    text = "write to ann@example.org or call +44 20 7946 0018 today"
    assert mask_value(text, ["email", "phone"]) == "write to [email] or call [phone] today"


def test_redact_sql_removes_spans_and_keeps_words():
    con = duckdb.connect()
    email, phone = "ann.lee@example.org", "+44 20 7946 0018"
    iban = "GB82 WEST 1234 5698 7654 32"
    texts = [
        f"Please write to {email} before Friday",
        f"Call back on {phone} after lunch",
        f"Refund to {iban} approved by finance",
        "no personal data here",
        None,
    ]
    load(con, "notes", {"n": texts})
    expr = redact_sql(quote_ident("n"), ["email", "phone", "iban"])
    out = [r[0] for r in con.execute(f"SELECT {expr} FROM notes").fetchall()]
    for before, after, secret in zip(texts[:3], out[:3], (email, phone, iban), strict=True):
        assert secret not in after
        assert not re.search(r"\d{4}", after) and "@" not in after
        kept = [w for w in before.split() if w not in secret.split()]
        assert [w for w in after.split() if not w.startswith("[")] == kept
    assert out[3] == "no personal data here"
    assert out[4] is None
    assert out[:3] == [mask_value(t, ["email", "phone", "iban"]) for t in texts[:3]]


def test_redact_sql_masks_whole_values_like_mask_value():
    con = duckdb.connect()
    cases = {
        "email": ["john.doe@example.com", "a@b.io"],
        "phone": ["+33 6 12 34 56 78", "06 12 34 56 78"],
        "iban": ["FR14 2004 1010 0505 0001 3M02 606"],
        "person_name": ["Anna Smith", "O'Brien"],
        "national_id": ["123-45-6789", "XYZ"],
    }
    for kind, values in cases.items():
        load(con, "v", {"x": values})
        got = [r[0] for r in con.execute(f"SELECT {redact_sql('x', [kind])} FROM v").fetchall()]
        assert got == [mask_value(v, [kind]) for v in values], kind
