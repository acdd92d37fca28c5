"""Value-shape analysis for ``auditor suggest``: regexes, date formats, spelling variants.

Why a lattice of shapes
-----------------------
A column of codes such as ``A00001`` deserves the tight rule ``^A\\d{5}$``; a column of surnames
only deserves "letters, maybe a hyphen". Each value is mapped to its *shape* at four levels, from
specific to general, and the most specific level whose few (at most ``max_alternatives``) most
frequent shapes cover at least ``min_support`` of the values wins:

=====  ==========================================================  ==========================
level  mapping                                                     ``"INV-0042"`` becomes
=====  ==========================================================  ==========================
0      digits → ``9``, letters kept                                ``INV-9999`` → ``^INV-\\d{4}$``
1      ASCII upper → ``A``, lower → ``a``, other letters → ``L``    ``AAA-9999``
2      level 1 with runs collapsed (``+``)                         ``A-9`` → ``^[A-Z]+-\\d+$``
3      any letter → ``L``, runs collapsed                          ``L-9``
=====  ==========================================================  ==========================

Levels 0 and 1 fix the structure and length of a value (identifiers, codes): values breaking
them are defects, so the rule is strict and a contradicted rule becomes a finding. Levels 2 and
3 describe free-form words (names, titles) where an unusual but valid value is always possible,
so those rules carry a ``mostly`` and never produce findings.

Shapes are computed in DuckDB (``GROUP BY shape``), so only a handful of rows reach Python;
regexes are written in Python ``re`` syntax, which is what GX evaluates (the native engine
translates them, see :mod:`auditor.expectation_sql`).

Dates stored as text get their own classification (:data:`DATE_FORMATS`) because the shape of
``01/03/2025`` hides the real problem: it is ambiguous (1 March or 3 January), so several date
formats in one column are reported whatever their shares. Categorical columns get spelling
variants instead of shapes (:func:`spelling_variants`): ``eur``/``EURO``/``€`` beside ``EUR``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from auditor.profile import sql_literal

#: Private-use code points used as temporary markers while classifying letters in SQL.
_UPPER_MARK = "\ue000"
_LOWER_MARK = "\ue001"

#: Python-syntax character class for "any letter" (Unicode-aware, no digits or underscore).
LETTER_CLASS = r"[^\W\d_]"

#: Whole-value e-mail regex (RFC 5322 local part characters, dotted domain, 2-24 letter TLD).
EMAIL_REGEX = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}$"
)
#: Whole-value phone regex: international (+CC / 00CC), national with trunk 0, or NANP; the
#: digit counts make ``0000``, ``12345`` and ``+49 30`` fail (too short to dial).
PHONE_REGEX = (
    r"^(?:(?:\+|00)[1-9](?:[ ().\-/]{0,2}[0-9]){6,14}"
    r"|\(?0[1-9](?:[ ().\-/]{0,2}[0-9]){7,12}"
    r"|\(?[2-9][0-9]{2}\)?[ .\-]?[2-9][0-9]{2}[ .\-][0-9]{4})$"
)

#: Date formats recognised in text columns, most preferred first: (label, full-match regex).
#: The regexes are valid in both RE2 (counting in DuckDB) and Python (the suite).
DATE_FORMATS: tuple[tuple[str, str], ...] = (
    (
        "ISO 8601",
        r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$",
    ),
    ("DD/MM/YYYY or MM/DD/YYYY", r"^\d{1,2}/\d{1,2}/\d{4}$"),
    ("DD.MM.YYYY", r"^\d{1,2}\.\d{1,2}\.\d{4}$"),
    ("DD-MM-YYYY", r"^\d{1,2}-\d{1,2}-\d{4}$"),
    ("YYYY/MM/DD", r"^\d{4}/\d{1,2}/\d{1,2}$"),
    ("Month D, YYYY", r"^[A-Za-z]+\.? \d{1,2}(?:st|nd|rd|th)?,? \d{4}$"),
    ("D Month YYYY", r"^\d{1,2}(?:st|nd|rd|th)? [A-Za-z]+\.?,? \d{4}$"),
    ("YYYYMMDD", r"^\d{8}(?:T\d{6}Z?)?$"),
)
OTHER_FORMAT = "other"

#: Tokens that stand in for "no value" (compared trimmed and case-folded).
PLACEHOLDERS: tuple[str, ...] = (
    "", "-", "--", "---", ".", "..", "?", "??", "???", "n/a", "na", "n.a.", "n.a", "#n/a",
    "none", "null", "nil", "nan", "undefined", "unknown", "unk", "tbd", "tba", "todo", "test",
    "asdf", "qwerty", "xxx", "xx", "x", "dummy", "placeholder", "missing", "not available",
    "0", "00", "000", "0000", "00000", "1234", "12345", "123456", "9999", "99999",
)  # fmt: skip


# --- Shapes -------------------------------------------------------------------------------


def shape_sql(v: str, level: int) -> str:
    """SQL expression mapping VARCHAR ``v`` to its shape string at ``level`` (0-3)."""
    s = f"regexp_replace({v}, '\\p{{Nd}}', '9', 'g')"
    if level == 0:
        return s
    s = f"regexp_replace({s}, '[A-Z]', '{_UPPER_MARK}', 'g')"
    s = f"regexp_replace({s}, '[a-z]', '{_LOWER_MARK}', 'g')"
    s = f"regexp_replace({s}, '\\pL', 'L', 'g')"
    s = f"replace(replace({s}, '{_UPPER_MARK}', 'A'), '{_LOWER_MARK}', 'a')"
    if level == 1:
        return s
    for sym in ("A", "a", "L", "9"):
        s = f"regexp_replace({s}, '{sym}+', '{sym}', 'g')"
    if level == 2:
        return s
    s = f"regexp_replace({s}, '[AaL]+', 'L', 'g')"
    return s


_SPECIAL = set(r".^$*+?{}[]\|()")


def _literal(ch: str) -> str:
    if ch in _SPECIAL:
        return "\\" + ch
    if ch == "\t":
        return r"\t"
    if ch == "\n":
        return r"\n"
    if ord(ch) < 32 or ord(ch) == 127:
        return f"\\x{ord(ch):02x}"
    return ch


def _runs(shape: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for ch in shape:
        if out and out[-1][0] == ch:
            out[-1] = (ch, out[-1][1] + 1)
        else:
            out.append((ch, 1))
    return out


def _quant(n: int) -> str:
    return "" if n == 1 else f"{{{n}}}"


def shape_regex_body(shape: str, level: int) -> str:
    """The (unanchored) Python regex matching exactly the values of one ``shape``."""
    parts: list[str] = []
    for ch, n in _runs(shape):
        if ch == "9":
            parts.append(r"\d" + (_quant(n) if level <= 1 else "+"))
        elif level == 0:
            parts.append(_literal(ch) * n)
        elif ch == "A" and level in (1, 2):
            parts.append("[A-Z]" + (_quant(n) if level == 1 else "+"))
        elif ch == "a" and level in (1, 2):
            parts.append("[a-z]" + (_quant(n) if level == 1 else "+"))
        elif ch == "L":
            parts.append(LETTER_CLASS + (_quant(n) if level == 1 else "+"))
        else:
            parts.append(_literal(ch) * n)
    return "".join(parts)


def anchored(bodies: Sequence[str]) -> str:
    """``^body$`` for one alternative, ``^(?:a|b)$`` for several."""
    if len(bodies) == 1:
        return f"^{bodies[0]}$"
    return "^(?:" + "|".join(bodies) + ")$"


@dataclass(frozen=True, slots=True)
class ShapePattern:
    """The dominant shapes of a column at the most specific level that explains it."""

    level: int
    shapes: tuple[tuple[str, int], ...]
    covered: int
    total: int
    regex: str

    @property
    def fixed(self) -> bool:
        """Levels 0-1 fix structure and length: breaking them is a defect, not variety."""
        return self.level <= 1

    @property
    def share(self) -> float:
        """Share of non-null values the chosen shapes cover."""
        return self.covered / self.total if self.total else 0.0


def dominant_shape(
    con: duckdb.DuckDBPyConnection,
    table_ref: str,
    column_ref: str,
    *,
    min_support: float,
    min_shape_share: float,
    max_alternatives: int,
    start_level: int = 0,
) -> ShapePattern | None:
    """The most specific shape pattern covering ``min_support`` of the non-null values.

    At each level the ``max_alternatives`` most frequent shapes holding at least
    ``min_shape_share`` of the values each are kept; the first level where they cover
    ``min_support`` wins. ``None`` when no level does (the column has no dominant shape).
    """
    v = f"CAST({column_ref} AS VARCHAR)"
    for level in range(start_level, 4):
        rows = con.execute(
            f"SELECT shape, n, sum(n) OVER () AS total FROM ("
            f"SELECT {shape_sql(v, level)} AS shape, count(*) AS n FROM {table_ref} "
            f"WHERE {column_ref} IS NOT NULL GROUP BY 1) "
            f"ORDER BY n DESC, shape LIMIT {max_alternatives}"
        ).fetchall()
        if not rows:
            return None
        total = int(rows[0][2])
        chosen = tuple((str(s), int(n)) for s, n, _ in rows if n / total >= min_shape_share)
        covered = sum(n for _, n in chosen)
        if chosen and covered / total >= min_support:
            bodies = [shape_regex_body(s, level) for s, _ in chosen]
            return ShapePattern(level, chosen, covered, total, anchored(bodies))
    return None


# --- Dates stored as text -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DateFormats:
    """How many values of a text column follow each known date format."""

    counts: tuple[tuple[str, int], ...]
    total: int

    @property
    def present(self) -> list[tuple[str, int]]:
        """Formats seen at least once, most frequent first (ties in preference order)."""
        order = {name: i for i, (name, _) in enumerate(DATE_FORMATS)}
        seen = [(f, n) for f, n in self.counts if n > 0]
        return sorted(seen, key=lambda fn: (-fn[1], order.get(fn[0], len(order))))

    @property
    def dominant(self) -> tuple[str, int] | None:
        """The most frequent recognised format (not "other"), if any."""
        present = [fn for fn in self.present if fn[0] != OTHER_FORMAT]
        return present[0] if present else None


def date_format_regex(name: str) -> str:
    """The full-match regex of the date format called ``name``."""
    for label, rx in DATE_FORMATS:
        if label == name:
            return rx
    raise KeyError(name)


def date_formats(
    con: duckdb.DuckDBPyConnection, table_ref: str, column_ref: str
) -> DateFormats:
    """Count the non-null values of a text column per date format (first match wins)."""
    v = f"CAST({column_ref} AS VARCHAR)"
    whens = " ".join(
        f"WHEN regexp_full_match({v}, {sql_literal(rx)}) THEN {sql_literal(name)}"
        for name, rx in DATE_FORMATS
    )
    rows = con.execute(
        f"SELECT CASE {whens} ELSE {sql_literal(OTHER_FORMAT)} END AS f, count(*) "
        f"FROM {table_ref} WHERE {column_ref} IS NOT NULL GROUP BY 1"
    ).fetchall()
    counts = dict((str(f), int(n)) for f, n in rows)
    names = [name for name, _ in DATE_FORMATS] + [OTHER_FORMAT]
    return DateFormats(tuple((name, counts.get(name, 0)) for name in names), sum(counts.values()))


# --- Categorical values -------------------------------------------------------------------


def normalise(value: str) -> str:
    """Case-folded, accent-free, alphanumeric-only form: what a human reads as "the same"."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(ch for ch in decomposed.casefold() if ch.isalnum())


#: A value is an abbreviation/extension variant only when it is this many times rarer.
VARIANT_RARITY = 5


def spelling_variants(values: Sequence[tuple[str, int]]) -> dict[str, str | None]:
    """Map each variant spelling to the canonical value it stands for (``None``: no letters).

    ``values`` are (value, count) pairs of one categorical column. Processed from the most
    frequent value down, a value is a variant of an already-accepted, more frequent value when
    their :func:`normalise` forms are equal (``eur``/``Eur`` for ``EUR``), or when one extends
    the other by one character and the variant is :data:`VARIANT_RARITY` times rarer
    (``EURO``/``US$`` for ``EUR``/``USD``). Substitutions are never variants: ``AUD`` and
    ``AED`` are both legitimate. A value with no letter or digit (``€``, ``-``) is a variant of
    nothing (``None``) when the accepted values all have some.
    """
    ordered = sorted(values, key=lambda vc: (-vc[1], str(vc[0])))
    accepted: list[tuple[str, int, str]] = []
    out: dict[str, str | None] = {}
    for value, count in ordered:
        text = str(value)
        norm = normalise(text)
        match: str | None = None
        found = False
        for canon, ccount, cnorm in accepted:
            if norm and norm == cnorm:
                match, found = canon, True
                break
            if (
                len(norm) >= 2
                and len(cnorm) >= 2
                and abs(len(norm) - len(cnorm)) == 1
                and (norm.startswith(cnorm) or cnorm.startswith(norm))
                and count * VARIANT_RARITY <= ccount
            ):
                match, found = canon, True
                break
        if not found and not norm and accepted and all(c for _, _, c in accepted):
            found = True
        if found:
            out[text] = match
        else:
            accepted.append((text, count, norm))
    return out


# --- Placeholders -------------------------------------------------------------------------


def placeholder_sql(column_ref: str) -> str:
    """SQL boolean: the value is a placeholder token (see :data:`PLACEHOLDERS`)."""
    tokens = ", ".join(sql_literal(t) for t in PLACEHOLDERS)
    return f"lower(trim(CAST({column_ref} AS VARCHAR))) IN ({tokens})"


def python_regex_ok(regex: str) -> bool:
    """Whether Python's ``re`` (what GX uses) compiles ``regex``."""
    try:
        re.compile(regex)
    except re.error:
        return False
    return True
