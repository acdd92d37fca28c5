"""PII detection that explains itself, plus masking for stored samples and reports.

Why it works this way
---------------------
A column is flagged from two independent kinds of evidence, and the ``reason`` sentence states
both, so a reviewer can see *why* a column was masked or why a readiness gate fired:

* **Name rules** (:data:`NAME_RULES`): normalised column names such as ``email``,
  ``phone_number``, ``iban``, ``first_name``, ``ssn``, ``dob``. A name rule alone flags the column
  unless the content *contradicts* it: at least :data:`MIN_VALUES_FOR_CONTRADICTION` non-empty
  values were sampled and fewer than :data:`NAME_CONTRADICTION_SHARE` of them are even loosely
  compatible with the kind (an ``email`` column holding product codes is not PII by name).
* **Content**: up to ``sample_rows`` rows are scanned *in DuckDB* with RE2 regexes
  (``regexp_extract_all`` finds every candidate span, so the same scan serves whole values and
  PII embedded in free text). Checksums are then verified in Python over the few candidates:
  Luhn (+ issuer prefix) for payment cards, ISO 13616 mod-97 (+ country length) for IBANs, and
  the national-ID rules below. A kind is detected when

  - at least :data:`WHOLE_VALUE_SHARE` (30%) of non-empty sampled values *are* that kind, or
  - at least :data:`FREE_TEXT_SHARE` (1%) of the sampled *free-text* values *embed* it (free
    text as the profiler defines it: three or more tokens, at least two of them words); the
    match then has ``free_text=True``.

National IDs with a checksum are validated: French INSEE/NIR (97 - n mod 97 key, Corsica
2A/2B), German Steuer-ID (ISO 7064 MOD 11,10 plus the digit-repetition rule). US SSN is
checked against the SSA's never-issued ranges (000, 666, 9xx areas; 00 group; 0000 serial);
UK NINO against its excluded prefixes (it has no check digit). Person names are recognised in
content only as whole values that look like names *and* start with a common first name
(:data:`FIRST_NAMES`); names and dates of birth are never looked for inside free text (too many
false positives), and a date of birth is only ever detected by name (any date could be one).

Masking: :func:`mask_value` (Python) and :func:`redact_sql` (DuckDB expression) follow the same
rules, so the stored sample and the rendered report agree: e-mail ``j***@e***.com``, phone
``***78`` (last two digits), IBAN ``FR***0189`` (country + last four), payment card ``***1111``
(last four, as PCI DSS allows), names initials only (``A. S.``), anything else first character
+ ``***``; PII inside free text is replaced by a tag (``[email]``, ``[phone]`` ...) and the
surrounding words are kept.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import duckdb

from auditor.models import TableProfile
from auditor.profile import PATTERN_REGEX, table_ref
from auditor.sqlident import quote_ident, sql_literal

# --- Thresholds -------------------------------------------------------------------------------

#: Share of non-empty sampled values that must *be* a PII kind for content-only detection.
WHOLE_VALUE_SHARE = 0.30
#: Share of sampled free-text values that must *embed* a PII kind.
FREE_TEXT_SHARE = 0.01
#: A name rule is contradicted when fewer than this share of values fit the kind at all...
NAME_CONTRADICTION_SHARE = 0.10
#: ...and at least this many non-empty values were sampled (fewer is no evidence either way).
MIN_VALUES_FOR_CONTRADICTION = 10
#: Only the first characters of each value are scanned (bounded cost on multi-MB cells).
MAX_SCAN_CHARS = 4096

PII_KINDS: tuple[str, ...] = (
    "email",
    "phone",
    "iban",
    "payment_card",
    "national_id",
    "ip_address",
    "street_address",
    "person_name",
    "date_of_birth",
)

KIND_LABELS: dict[str, str] = {
    "email": "e-mail addresses",
    "phone": "phone numbers",
    "iban": "IBANs (mod-97 valid)",
    "payment_card": "payment card numbers (Luhn valid)",
    "national_id": "national ID numbers",
    "ip_address": "IP addresses",
    "street_address": "street addresses",
    "person_name": "person names",
    "date_of_birth": "dates",
}

#: Replacement tags used when PII is redacted inside free text.
REDACTION_TAGS: dict[str, str] = {
    "email": "[email]",
    "phone": "[phone]",
    "iban": "[iban]",
    "payment_card": "[card]",
    "national_id": "[national-id]",
    "ip_address": "[ip]",
    "street_address": "[address]",
}

# --- Regexes: RE2 for DuckDB; written so Python's `re` reads them identically -----------------

_STREET_TYPES = (
    r"street|st\.?|avenue|ave\.?|road|rd\.?|boulevard|blvd\.?|lane|ln\.?|drive|dr\.?|way|"
    r"court|ct\.?|place|pl\.?|square|sq\.?|terrace|close|crescent|rue|all[ée]e|chemin|impasse|"
    r"quai|cours|via|viale|calle|avenida|plaza|straat|laan"
)

#: Span regexes (search, group 0 is the PII span) per kind that has a content signature.
SPAN_REGEX: dict[str, str] = {
    "email": r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b",
    "phone": (
        r"(?:\+|\b00)[1-9](?:[ ().\-/]{0,2}[0-9]){6,14}\b"
        r"|(?:\(0|\b0)[1-9](?:[ ().\-/]{0,2}[0-9]){7,12}\b"
        r"|(?:\(|\b)[2-9][0-9]{2}\)?[ .\-]?[2-9][0-9]{2}[ .\-][0-9]{4}\b"
    ),
    "iban": r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b",
    "payment_card": r"\b(?:[0-9][ -]?){12,18}[0-9]\b",
    "national_id": (
        r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b"  # US SSN
        r"|\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]\b"  # NINO
        r"|\b[12] ?[0-9]{2} ?(?:0[1-9]|1[0-2]|[2-9][0-9]) ?(?:[0-9]{2}|2[AB]) ?[0-9]{3} ?"
        r"[0-9]{3} ?[0-9]{2}\b"  # INSEE / NIR with key
        r"|\b[1-9][0-9](?: ?[0-9]){9}\b"  # German Steuer-ID (11 digits)
    ),
    "ip_address": (
        r"\b(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
        r"(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}\b"
        r"|\b(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}\b"
        r"|\b(?:[0-9A-Fa-f]{1,4}:){2,6}:(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,5})?\b"
    ),
    "street_address": (
        r"(?i:\b[0-9]{1,5}[A-Za-z]?(?: ?(?:bis|ter))?,? "
        r"(?:(?:rue|avenue|all[ée]e|boulevard|chemin|impasse|place|quai|cours)"
        r"(?: [A-Za-zÀ-ÿ'’-]+){1,4}"
        r"|(?:[A-Za-zÀ-ÿ'’.-]+ ){0,4}(?:" + _STREET_TYPES + r"))\b"
        r"|\b[A-Za-zÀ-ÿ-]+(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm) "
        r"[0-9]{1,4}[a-z]?\b)"
    ),
}
_SPAN_KINDS = tuple(SPAN_REGEX)
_SPAN_RE = {k: re.compile(v) for k, v in SPAN_REGEX.items()}

#: Whole values that look like a person's name: 1-5 words of letters, apostrophes, hyphens.
NAME_LIKE_REGEX = r"^\s*\pL[\pL'’.-]*(?:\s+\pL[\pL'’.-]*){0,4}\s*$"
#: Loose shapes used only to decide whether content contradicts a name rule.
_LOOSE_REGEX: dict[str, str] = {
    "phone": r"^\s*[+(]?[0-9][0-9 ().\-/]{4,}[0-9]\s*$",
    "payment_card": r"^\s*[0-9*Xx][0-9*Xx -]{10,22}[0-9]\s*$",
    "national_id": r"^\s*[A-Za-z0-9][A-Za-z0-9 .-]{4,20}[A-Za-z0-9]\s*$",
    "street_address": r"\pL{2,}",
    "iban": r"^\s*[A-Za-z]{2}[0-9]{2}[A-Za-z0-9 ]{8,40}\s*$",
}

#: Common first names (several European languages and English); content-only name detection.
FIRST_NAMES: frozenset[str] = frozenset(
    """
    aaron adam adrian agnes aiko alain albert alejandro alex alexander alexandra alice alicia
    amelia ana andrea andreas andrew angela anna anne antoine antonio arthur aurelie barbara
    ben benjamin bernard bjorn bruno camille carla carlos carmen caroline catherine charles
    charlotte chloe christian christina christine claire clara claude daniel david denis diana
    dmitri dominique edward elena elisabeth elizabeth ella emily emma eric erik eva fabien felix
    fernando florian francesca francois frank frederic gabriel george georges gerard giovanni
    giulia grace guillaume hannah hans hugo ines isabel isabelle jack jacques james jan jane
    javier jean jennifer jessica joao johan johannes john jonas jorge jose joseph juan julia
    julie julien karin karl katarina kevin klaus laura laurent lea leon liam linda lisa louis
    lucas lucia luis luca lukas manuel marc marco margaret maria marie mario mark martin mary
    mathieu matteo matthew max michael michel michelle mohamed nathalie nicolas noah olga olivia
    oscar pablo patricia patrick paul pedro peter philippe pierre quentin rachel rafael richard
    robert rosa sam samuel sandra sara sarah sebastien sergio sofia sophie stefan stephane
    steven susan tara thomas tim tobias tom ugo valerie vera victor vincent will william xenia
    yusuf zoe
    """.split()
)

# --- Name rules -------------------------------------------------------------------------------

#: (rule, kind, regex over the normalised name); first match wins, so specific rules go first.
NAME_RULES: tuple[tuple[str, str, str], ...] = (
    ("email", "email", r"(^|_)(e_?mail|email_?address|mail_?address|courriel)(_|$)"),
    ("ip_address", "ip_address",
     r"(^|_)(ip|ip_?addr(ess)?|ipv4|ipv6|remote_?addr|client_?ip)(_|$)"),
    ("phone", "phone", r"(^|_)(phone|phone_?number|phone_?no|telephone|tel|mobile|mobile_?phone|"
                       r"cell|cell_?phone|fax|msisdn|gsm|portable|handy|telefon)(_|$)"),
    ("iban", "iban", r"(^|_)(iban|bank_?account(_?(no|num|number))?)(_|$)"),
    ("card_number", "payment_card",
     r"(^|_)(credit_?card(_?(no|num|number))?|card_?(no|num|number)|cc_?(no|num|number)|pan)"
     r"(_|$)"),
    ("ssn", "national_id", r"(^|_)(ssn|social_?security(_?(no|num|number))?)(_|$)"),
    ("nino", "national_id", r"(^|_)(nino|national_?insurance(_?(no|num|number))?)(_|$)"),
    ("insee", "national_id", r"(^|_)(insee|nir|numero_?secu|secu)(_|$)"),
    ("steuer_id", "national_id",
     r"(^|_)(steuer_?id|steuer_?identifikationsnummer|tax_?id|idnr)(_|$)"),
    ("national_id", "national_id",
     r"(^|_)(national_?id|passport(_?(no|num|number))?|id_?card(_?(no|num|number))?|"
     r"personalausweis)(_|$)"),
    ("dob", "date_of_birth", r"(^|_)(dob|birth_?date|date_?of_?birth|birthday|birth_?dt|"
                             r"geburtsdatum|date_?naissance|date_?de_?naissance)(_|$)"),
    ("address", "street_address",
     r"(^|_)(address|addr|street|street_?address|address_?line_?[0-9]?|adresse|strasse|"
     r"billing_?address|shipping_?address|home_?address)(_|$)"),
    ("first_name", "person_name",
     r"(^|_)(first_?name|given_?name|fore_?name|prenom|vorname)(_|$)"),
    ("last_name", "person_name",
     r"(^|_)(last_?name|sur_?name|family_?name|nom|nom_?de_?famille|nachname)(_|$)"),
    ("full_name", "person_name",
     r"(^|_)(full_?name|person_?name|contact_?name|customer_?name|client_?name|"
     r"employee_?name|display_?name|patient_?name)(_|$)"),
)  # fmt: skip
_NAME_RULES_RE = tuple((rule, kind, re.compile(rx)) for rule, kind, rx in NAME_RULES)


def normalise_name(name: str) -> str:
    """``firstName`` / ``First Name`` / ``FIRST-NAME`` → ``first_name`` (for the name rules)."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name))
    return re.sub(r"[^0-9a-z]+", "_", snake.lower()).strip("_")


def name_rule(name: str) -> tuple[str, str] | None:
    """``(rule, kind)`` of the first name rule matching ``name``, or None."""
    norm = normalise_name(name)
    for rule, kind, rx in _NAME_RULES_RE:
        if rx.search(norm):
            return rule, kind
    return None


# --- Validators -------------------------------------------------------------------------------

IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
    "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27, "HR": 21, "HU": 28,
    "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31,
    "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
}  # fmt: skip


def luhn_valid(number: str) -> bool:
    """Luhn (mod 10) checksum over the digits of ``number``; False if none."""
    digits = [int(ch) for ch in number if ch.isdigit()]
    if not digits:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def payment_card_valid(candidate: str) -> bool:
    """13-19 digits, a known issuer prefix (Visa, Mastercard, Amex, Discover, JCB, Diners,
    Maestro, UnionPay) and a valid Luhn checksum: random 16-digit ids pass Luhn 1 time in 10,
    the prefix rule cuts that further."""
    digits = re.sub(r"[^0-9]", "", candidate)
    if not 13 <= len(digits) <= 19:
        return False
    issuer = re.match(
        r"4|5[1-5]|2(?:2[2-9][1-9]|2[3-9]|[3-6]|7[01]|720)|3[47]|6011|64[4-9]|65|35(?:2[89]|"
        r"[3-8])|3(?:0[0-5]|[68])|5[06-8]|6[0-9]|62",
        digits,
    )
    return issuer is not None and luhn_valid(digits)


def iban_valid(candidate: str) -> bool:
    """ISO 13616: country length (where known, else 15-34) and mod-97 == 1."""
    s = re.sub(r"\s+", "", candidate).upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", s):
        return False
    expected = IBAN_LENGTHS.get(s[:2])
    if expected is not None and len(s) != expected:
        return False
    rearranged = s[4:] + s[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def _iban_from_span(span: str) -> str | None:
    """The valid IBAN inside a regex span (the span may have swallowed a trailing word)."""
    parts = span.split(" ")
    for end in range(len(parts), 0, -1):
        cand = " ".join(parts[:end])
        if iban_valid(cand):
            return cand
    return None


def ssn_valid(candidate: str) -> bool:
    """US SSN ``AAA-GG-SSSS`` outside the never-issued ranges."""
    m = re.fullmatch(r"([0-9]{3})-([0-9]{2})-([0-9]{4})", candidate.strip())
    if not m:
        return False
    area, group, serial = m.groups()
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def nino_valid(candidate: str) -> bool:
    """UK National Insurance number (format and excluded prefixes; NINOs have no check digit)."""
    s = re.sub(r"\s+", "", candidate).upper()
    if not re.fullmatch(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]", s):
        return False
    return s[:2] not in {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}


def insee_valid(candidate: str) -> bool:
    """French NIR/INSEE with its key: key = 97 - (13-digit number mod 97); 2A → 19, 2B → 18."""
    s = re.sub(r"\s+", "", candidate).upper()
    if not re.fullmatch(r"[12][0-9]{4}(?:[0-9]{2}|2[AB])[0-9]{6}[0-9]{2}", s):
        return False
    body, key = s[:13], int(s[13:])
    body = body.replace("2A", "19", 1) if body[5:7] == "2A" else body
    body = body.replace("2B", "18", 1) if body[5:7] == "2B" else body
    return key == 97 - int(body) % 97


def steuer_id_valid(candidate: str) -> bool:
    """German Steuer-ID: 11 digits, no leading 0, in the first ten digits exactly one digit
    repeats (2 or 3 times) and the check digit is ISO 7064 MOD 11,10."""
    s = re.sub(r"\s+", "", candidate)
    if not re.fullmatch(r"[1-9][0-9]{10}", s):
        return False
    counts = [s[:10].count(d) for d in "0123456789"]
    repeated = [c for c in counts if c > 1]
    if len(repeated) != 1 or repeated[0] not in (2, 3):
        return False
    product = 10
    for ch in s[:10]:
        total = (int(ch) + product) % 10
        if total == 0:
            total = 10
        product = (total * 2) % 11
    check = 11 - product
    return (0 if check == 10 else check) == int(s[10])


def national_id_valid(candidate: str) -> bool:
    """Any of the supported national identifiers, validated."""
    return (
        ssn_valid(candidate)
        or nino_valid(candidate)
        or insee_valid(candidate)
        or steuer_id_valid(candidate)
    )


def ip_valid(candidate: str) -> bool:
    try:
        ipaddress.ip_address(candidate.strip())
    except ValueError:
        return False
    return True


def _valid_span(kind: str, span: str) -> str | None:
    """The validated PII text inside a regex span, or None."""
    if kind == "iban":
        return _iban_from_span(span)
    if kind == "payment_card":
        return span if payment_card_valid(span) else None
    if kind == "national_id":
        return span if national_id_valid(span) else None
    if kind == "ip_address":
        return span if ip_valid(span) else None
    if kind == "phone":
        digits = sum(ch.isdigit() for ch in span)
        return span if 7 <= digits <= 15 else None
    return span


# --- Result -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PiiMatch:
    """Why one column is considered personal data.

    ``share`` maps each detected kind to the share of non-empty sampled values containing it
    (whole or embedded; for name-only kinds, the share of values compatible with the kind).
    ``free_text`` is True when PII sits inside longer text rather than being the whole value,
    which is what tells the masker to redact spans instead of masking the value.
    """

    column: str
    kinds: tuple[str, ...]
    by_name: bool
    name_rule: str | None
    share: dict[str, float]
    reason: str
    free_text: bool
    sampled: int = 0
    whole_share: dict[str, float] = field(default_factory=dict)
    embedded_share: dict[str, float] = field(default_factory=dict)


# --- Detection --------------------------------------------------------------------------------

_TEXT_TYPES = {"VARCHAR", "TEXT", "STRING", "CHAR", "BPCHAR"}


def _is_text(type_name: str) -> bool:
    t = type_name.upper()
    return t in _TEXT_TYPES or t.startswith("ENUM") or t.startswith("VARCHAR")


def _is_date(type_name: str) -> bool:
    t = type_name.upper()
    return t == "DATE" or t.startswith("TIMESTAMP")


_NUMBER_PREFIXES = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
    "UBIGINT", "UHUGEINT", "DECIMAL", "NUMERIC",
)  # fmt: skip


def _kinds_for_type(type_name: str) -> frozenset[str] | None:
    """PII kinds a column of this type can hold (None: any). A BOOLEAN ``email_verified`` or a
    BIGINT ``email_count`` is not an e-mail column, whatever its name says."""
    if _is_text(type_name):
        return None
    if _is_date(type_name):
        return frozenset({"date_of_birth"})
    if type_name.upper().startswith(_NUMBER_PREFIXES):
        return frozenset({"phone", "payment_card", "national_id"})
    return frozenset()


@dataclass(slots=True)
class _Tally:
    """Per-column counters gathered while reading the sampled rows."""

    values: int = 0
    text_values: int = 0
    whole: dict[str, int] = field(default_factory=dict)
    embedded: dict[str, int] = field(default_factory=dict)
    compatible: dict[str, int] = field(default_factory=dict)

    def add(self, bucket: dict[str, int], kind: str) -> None:
        bucket[kind] = bucket.get(kind, 0) + 1


def detect_pii(
    con: duckdb.DuckDBPyConnection,
    table: str,
    profile: TableProfile,
    *,
    sample_rows: int = 10000,
) -> dict[str, PiiMatch]:
    """Return ``{column: PiiMatch}`` for every column of ``table`` that holds personal data.

    Text columns are content-scanned on up to ``sample_rows`` rows (reservoir sample with a
    fixed seed when the table is larger, so reruns agree); other columns are judged by name,
    with DATE/TIMESTAMP columns checked for plausible birth dates from the profile.
    """
    ref = table_ref(con, table)
    text_cols = [c for c in profile.columns if _is_text(c.type) and c.nulls < c.rows]
    tallies = _scan(con, ref, [c.name for c in text_cols], profile.rows, sample_rows)
    out: dict[str, PiiMatch] = {}
    for col in profile.columns:
        rule = name_rule(col.name)
        allowed = _kinds_for_type(col.type)
        if rule is not None and allowed is not None and rule[1] not in allowed:
            rule = None
        tally = tallies.get(col.name)
        if tally is None and rule is None:
            continue
        match = _decide(col.name, col.type, rule, tally, col.min, col.max)
        if match is not None:
            out[col.name] = match
    return out


def _scan(
    con: duckdb.DuckDBPyConnection,
    ref: str,
    columns: Sequence[str],
    rows: int,
    sample_rows: int,
) -> dict[str, _Tally]:
    """One DuckDB query over the sample: candidate spans per kind plus shape flags per value."""
    if not columns or rows == 0 or sample_rows <= 0:
        return {}
    sample = (
        f" USING SAMPLE reservoir({int(sample_rows)} ROWS) REPEATABLE (42)"
        if rows > sample_rows
        else ""
    )
    inner = ", ".join(
        f"left(trim(CAST({quote_ident(c)} AS VARCHAR)), {MAX_SCAN_CHARS}) AS c{i}"
        for i, c in enumerate(columns)
    )
    exprs: list[str] = []
    per_col = 0
    for i in range(len(columns)):
        v = f"c{i}"
        cols = [
            f"length({v})",
            f"regexp_matches({v}, {sql_literal(PATTERN_REGEX['free_text'])})",
            *(f"regexp_extract_all({v}, {sql_literal(SPAN_REGEX[k])})" for k in _SPAN_KINDS),
            f"regexp_full_match({v}, {sql_literal(NAME_LIKE_REGEX)})",
            f"lower(regexp_extract({v}, '^\\pL+'))",
            f"regexp_full_match({v}, {sql_literal(PATTERN_REGEX['date'])})",
            *(f"regexp_matches({v}, {sql_literal(rx)})" for rx in _LOOSE_REGEX.values()),
        ]
        per_col = len(cols)
        exprs.extend(cols)
    sql = f"SELECT {', '.join(exprs)} FROM (SELECT {inner} FROM {ref}{sample})"
    tallies = {c: _Tally() for c in columns}
    loose_kinds = tuple(_LOOSE_REGEX)
    for row in con.execute(sql).fetchall():
        for i, c in enumerate(columns):
            part = row[i * per_col : (i + 1) * per_col]
            length = part[0]
            if not length:  # NULL or empty/whitespace-only after trim
                continue
            t = tallies[c]
            t.values += 1
            is_text = bool(part[1])
            t.text_values += is_text
            spans = dict(zip(_SPAN_KINDS, part[2 : 2 + len(_SPAN_KINDS)], strict=True))
            name_like, first_word, date_like = part[2 + len(_SPAN_KINDS) : 5 + len(_SPAN_KINDS)]
            loose = dict(zip(loose_kinds, part[5 + len(_SPAN_KINDS) :], strict=True))
            _tally_row(t, int(length), is_text, spans, bool(name_like), first_word,
                       bool(date_like), loose)  # fmt: skip
    return tallies


def _tally_row(
    t: _Tally,
    length: int,
    is_text: bool,
    spans: dict[str, list[str] | None],
    name_like: bool,
    first_word: str | None,
    date_like: bool,
    loose: dict[str, bool],
) -> None:
    """Classify one sampled value: whole-value match, embedded match, or loose compatibility.

    A value that *is* one kind (an IBAN) does not also count as embedding another kind found
    inside it (the digit groups of an IBAN can look like a phone or card number).
    """
    valid_by_kind: dict[str, list[str]] = {}
    for kind, found in spans.items():
        valid = [s for s in (_valid_span(kind, x) for x in (found or ())) if s]
        if valid:
            valid_by_kind[kind] = valid
            t.add(t.compatible, kind)
        elif found or loose.get(kind):
            t.add(t.compatible, kind)
    whole = {k for k, valid in valid_by_kind.items() if any(len(s) == length for s in valid)}
    for kind in whole:
        t.add(t.whole, kind)
    if not whole and is_text:
        for kind in valid_by_kind:
            t.add(t.embedded, kind)
    if name_like:
        t.add(t.compatible, "person_name")
        if first_word and first_word.lower() in FIRST_NAMES:
            t.add(t.whole, "person_name")
    if date_like:
        t.add(t.compatible, "date_of_birth")


def _decide(
    column: str,
    type_name: str,
    rule: tuple[str, str] | None,
    tally: _Tally | None,
    vmin: Any,
    vmax: Any,
) -> PiiMatch | None:
    """Apply the thresholds to one column's evidence and word the reason."""
    n = tally.values if tally else 0
    ntext = tally.text_values if tally else 0
    kinds: list[str] = []
    share: dict[str, float] = {}
    whole_share: dict[str, float] = {}
    embedded_share: dict[str, float] = {}
    reasons: list[str] = []
    by_name = False
    free_text = False

    if rule is not None:
        rule_name, kind = rule
        compat, detail = _name_evidence(kind, type_name, tally, vmin, vmax)
        contradicted = compat is not None and n >= MIN_VALUES_FOR_CONTRADICTION and (
            compat < NAME_CONTRADICTION_SHARE
        )
        if _is_date(type_name) and kind == "date_of_birth" and compat == 0.0:
            contradicted = True
        if not contradicted:
            by_name = True
            kinds.append(kind)
            share[kind] = compat if compat is not None else 0.0
            reasons.append(f"column name {column!r} (rule {rule_name}) {detail}".rstrip())

    if tally is not None and n:
        for kind in (*_SPAN_KINDS, "person_name"):
            whole = tally.whole.get(kind, 0)
            emb = tally.embedded.get(kind, 0)
            ws = whole / n
            es = emb / ntext if ntext else 0.0
            if whole:
                whole_share[kind] = ws
            if emb:
                embedded_share[kind] = es
            if kind in kinds:
                continue
            if ws >= WHOLE_VALUE_SHARE:
                kinds.append(kind)
                share[kind] = (whole + emb) / n
                reasons.append(f"{_pct(ws)} of {n:,} sampled values are {KIND_LABELS[kind]}")
            elif kind in SPAN_REGEX and emb and es >= FREE_TEXT_SHARE:
                kinds.append(kind)
                free_text = True
                share[kind] = (whole + emb) / n
                reasons.append(
                    f"{_pct(es)} of {ntext:,} sampled free-text values embed {KIND_LABELS[kind]}"
                )
    if not kinds:
        return None
    reason = "; ".join(reasons)
    return PiiMatch(
        column=column,
        kinds=tuple(kinds),
        by_name=by_name,
        name_rule=rule[0] if (rule and by_name) else None,
        share=share,
        reason=reason[:1].upper() + reason[1:],
        free_text=free_text,
        sampled=n,
        whole_share=whole_share,
        embedded_share=embedded_share,
    )


def _name_evidence(
    kind: str, type_name: str, tally: _Tally | None, vmin: Any, vmax: Any
) -> tuple[float | None, str]:
    """(share of values compatible with ``kind``, wording) for a column flagged by name."""
    if _is_date(type_name):
        if kind != "date_of_birth":
            return None, ""
        lo, hi = _as_date(vmin), _as_date(vmax)
        if lo is None or hi is None:
            return None, "(no values to check)"
        plausible = lo >= date(1900, 1, 1) and hi <= date.today()
        span = f"and values range from {lo.isoformat()} to {hi.isoformat()}"
        return (1.0 if plausible else 0.0), span
    if tally is None:
        return None, "(content not scanned: not a text column)"
    if tally.values == 0:
        return None, "(no non-empty values sampled to confirm)"
    compat = tally.compatible.get(kind, 0) / tally.values
    label = KIND_LABELS[kind] if kind != "date_of_birth" else "dates"
    return compat, f"and {_pct(compat)} of {tally.values:,} sampled values look like {label}"


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return None


def _pct(x: float) -> str:
    """97%, 2.1%, 0.4%: whole percent from 10% up, one decimal below."""
    p = 100.0 * x
    return f"{p:.0f}%" if p >= 10 or p == 0 else f"{p:.1f}%"


# --- Masking ----------------------------------------------------------------------------------

_EMAIL_WHOLE = re.compile(r"^\s*([^@\s])[^@]*@([^.@\s])[^@]*?(\.[A-Za-z]{2,24})\s*$")
_WHOLE_RE = {k: re.compile(r"^\s*(?:" + rx + r")\s*$") for k, rx in SPAN_REGEX.items()}
_NAME_WORD = re.compile(r"([^\W\d_])[^\s.-]*")
# The profiler's free-text class in Python syntax (\pL → [^\W\d_], i.e. a Unicode letter).
_FREE_TEXT_RE = re.compile(PATTERN_REGEX["free_text"].replace(r"\pL", r"[^\W\d_]"))


def _mask_whole(text: str, kind: str) -> str:
    """Mask a value that *is* PII of ``kind`` (see module docstring for the formats)."""
    s = text.strip()
    if kind == "email":
        m = _EMAIL_WHOLE.match(s)
        return f"{m.group(1)}***@{m.group(2)}***{m.group(3)}" if m else _generic(s)
    if kind == "phone":
        digits = re.sub(r"[^0-9]", "", s)
        return "***" + digits[-2:]
    if kind == "iban":
        compact = re.sub(r"\s+", "", s).upper()
        return compact[:2] + "***" + compact[-4:]
    if kind == "payment_card":
        digits = re.sub(r"[^0-9]", "", s)
        return "***" + digits[-4:]
    if kind == "person_name":
        return _NAME_WORD.sub(lambda m: m.group(1) + ".", s)
    return _generic(s)


def _generic(s: str) -> str:
    return (s[:1] + "***") if s else ""


def mask_value(value: object, kinds: Iterable[str], *, free_text: bool = True) -> str:
    """Mask one value for display: whole-value formats per kind, or spans redacted in text.

    The first kind whose whole-value pattern matches decides the format; kinds without a
    pattern (names, dates of birth) mask the whole value; in free text (three or more tokens,
    two of them words) embedded spans are replaced by their tag; any other value (an odd-format
    ID in an ``ssn`` column, a malformed ``ann@ example.org``) gets the generic mask, so a value
    of a PII column never leaves unmasked. ``None`` masks to ``""``.
    """
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, date | datetime) else str(value)
    kinds = tuple(kinds)
    for kind in kinds:
        if kind in _WHOLE_RE and _WHOLE_RE[kind].match(text):
            return _mask_whole(text, kind)
    for kind in ("person_name", "date_of_birth"):
        if kind in kinds:
            return _mask_whole(text, kind)
    span_kinds = _ordered_span_kinds(kinds) if free_text else []
    if span_kinds and _FREE_TEXT_RE.search(text):
        redacted = text
        for kind in span_kinds:
            redacted = _SPAN_RE[kind].sub(REDACTION_TAGS[kind], redacted)
        return redacted
    return _generic(text.strip())


def _ordered_span_kinds(kinds: Iterable[str]) -> list[str]:
    """Span kinds in a safe replacement order: e-mails before phones (digits inside e-mails),
    IBANs and cards before phones and national IDs (their digit runs overlap)."""
    order = ("email", "iban", "payment_card", "national_id", "ip_address", "phone",
             "street_address")  # fmt: skip
    ks = set(kinds)
    return [k for k in order if k in ks]


def _sql_mask_whole(v: str, kind: str) -> str:
    """DuckDB expression masking a whole value ``v`` (VARCHAR) like :func:`_mask_whole`."""
    t = f"trim({v})"
    if kind == "email":
        return (
            f"regexp_replace({t}, {sql_literal(_EMAIL_WHOLE.pattern)}, '\\1***@\\2***\\3')"
        )
    if kind == "phone":
        return f"'***' || right(regexp_replace({t}, '[^0-9]', '', 'g'), 2)"
    if kind == "iban":
        compact = f"upper(regexp_replace({t}, '\\s+', '', 'g'))"
        return f"left({compact}, 2) || '***' || right({compact}, 4)"
    if kind == "payment_card":
        return f"'***' || right(regexp_replace({t}, '[^0-9]', '', 'g'), 4)"
    if kind == "person_name":
        return f"regexp_replace({t}, '(\\pL)[^\\s.-]*', '\\1.', 'g')"
    return f"CASE WHEN {t} = '' THEN '' ELSE left({t}, 1) || '***' END"


def redact_sql(column_sql: str, kinds: Iterable[str], *, free_text: bool = True) -> str:
    """A DuckDB SQL expression (VARCHAR) that masks ``column_sql`` for storage and reports.

    With ``free_text=False`` (a column whose values *are* PII, not text embedding it) no value
    is kept in clear: one that matches no pattern (``andres at example.org``) gets the generic
    mask instead of span redaction.

    Whole PII values get the same format as :func:`mask_value`; in other values every span
    matching a PII regex is replaced by its tag (``[email]``, ``[phone]``...), surrounding
    words kept; a short value that matched nothing gets the generic mask. Redaction is
    regex-only (no checksum), so it errs on the side of masking. The result is VARCHAR.
    """
    kinds = tuple(kinds)
    v = f"CAST({column_sql} AS VARCHAR)"
    branches = [
        f"WHEN regexp_full_match({v}, {sql_literal(_WHOLE_RE[k].pattern)}) "
        f"THEN {_sql_mask_whole(v, k)}"
        for k in kinds
        if k in _WHOLE_RE
    ]
    fallback = None
    for kind in ("person_name", "date_of_birth"):
        if kind in kinds:
            fallback = _sql_mask_whole(v, kind)
            break
    if fallback is None:
        fallback = _sql_mask_whole(v, "generic")
        spans = _ordered_span_kinds(kinds) if free_text else []
        if spans:
            redacted = v
            for kind in spans:
                redacted = (
                    f"regexp_replace({redacted}, {sql_literal(SPAN_REGEX[kind])}, "
                    f"{sql_literal(REDACTION_TAGS[kind])}, 'g')"
                )
            free_text = f"regexp_matches({v}, {sql_literal(PATTERN_REGEX['free_text'])})"
            fallback = f"CASE WHEN {free_text} THEN {redacted} ELSE {fallback} END"
    return f"(CASE WHEN {column_sql} IS NULL THEN NULL {' '.join(branches)} ELSE {fallback} END)"
