"""The SOQL subset the fake Salesforce understands: SELECT fields FROM object [WHERE simple
comparisons joined by AND] [ORDER BY Id] [LIMIT n]. Anything else is a MALFORMED_QUERY, as on
the real service."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any


# -- SOQL subset -----------------------------------------------------------------------------
class SoqlError(ValueError):
    """Unparseable SOQL (→ ``MALFORMED_QUERY``)."""


_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'(?:[^'\\]|\\.)*')
  | (?P<dt>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))?)(?![\w:])
  | (?P<num>-?\d+(?:\.\d+)?)(?![\w.])
  | (?P<op><=|>=|!=|<>|=|<|>|,)
  | (?P<word>[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)
  | (?P<bad>\S+)
)""", re.VERBOSE)

OPS = ("=", "!=", "<>", "<", ">", "<=", ">=")


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    op: str
    value: Any


@dataclass(slots=True)
class SoqlQuery:
    fields: list[str]
    object: str
    where: list[Condition] = field(default_factory=list)
    order_by: str | None = None
    descending: bool = False
    limit: int | None = None


def parse_soql(soql: str) -> SoqlQuery:
    """``SELECT f, Rel.f FROM O [WHERE a op v AND …] [ORDER BY f [ASC|DESC]] [LIMIT n]``;
    comparisons ``= != <> < > <= >=`` against strings, numbers, true/false/null, date and
    datetime literals. ``OR``, parentheses, ``LIKE``, ``IN``, functions → SoqlError."""
    tokens = [(m.lastgroup or "", m.group(m.lastgroup or 0)) for m in _TOKEN.finditer(soql)
              if m.lastgroup]
    pos = 0

    def peek() -> tuple[str, str]:
        return tokens[pos] if pos < len(tokens) else ("end", "")

    def take(kind: str | None = None, word: str | None = None) -> str:
        nonlocal pos
        k, text = peek()
        if (kind and k != kind) or (word and text.upper() != word):
            raise SoqlError(f"unexpected token: '{text or '<EOF>'}'")
        pos += 1
        return text

    take("word", "SELECT")
    fields = [take("word")]
    while peek()[1] == ",":
        take("op")
        fields.append(take("word"))
    take("word", "FROM")
    query = SoqlQuery(fields=fields, object=take("word"))
    if peek()[1].upper() == "WHERE":
        take()
        query.where.append(_condition(take, peek))
        while peek()[1].upper() == "AND":
            take()
            query.where.append(_condition(take, peek))
    if peek()[1].upper() == "ORDER":
        take()
        take("word", "BY")
        query.order_by = take("word")
        if peek()[1].upper() in ("ASC", "DESC"):
            query.descending = take().upper() == "DESC"
    if peek()[1].upper() == "LIMIT":
        take()
        query.limit = int(take("num"))
    if peek()[0] != "end":
        raise SoqlError(f"unexpected token: '{peek()[1]}'")
    return query


def _condition(take: Any, peek: Any) -> Condition:
    name = take("word")
    op = take("op")
    if op not in OPS:
        raise SoqlError(f"unexpected token: '{op}'")
    kind, text = peek()
    take()
    if kind == "str":
        value: Any = re.sub(r"\\(.)", r"\1", text[1:-1])
    elif kind == "num":
        value = float(text) if "." in text else int(text)
    elif kind == "dt":
        value = (date.fromisoformat(text) if len(text) == 10
                 else datetime.fromisoformat(text.replace("Z", "+00:00")))
    elif kind == "word" and text.lower() in ("true", "false", "null"):
        value = {"true": True, "false": False, "null": None}[text.lower()]
    else:
        raise SoqlError(f"unexpected token: '{text}'")
    return Condition(name, "!=" if op == "<>" else op, value)


def matches(value: Any, op: str, literal: Any) -> bool:
    """SOQL comparison semantics: null equals only null and is never < or >."""
    if op == "=":
        return bool(_norm(value) == _norm(literal))
    if op == "!=":
        return bool(_norm(value) != _norm(literal))
    if value is None or literal is None:
        return False
    a, b = _norm(value), _norm(literal)
    try:
        return bool({"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op])
    except TypeError:
        return False


def _norm(v: Any) -> Any:
    if isinstance(v, str):
        return v.lower()  # SOQL compares text case-insensitively
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    return v
