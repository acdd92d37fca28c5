"""Table and column lineage from SQL (view definitions, declared transformations).

openlineage-sql (the OpenLineage Rust parser) finds the tables and, for direct projections, which
input columns feed each output column. It does not say *how* (notes §6: no transformation type,
no INDIRECT edges, ``SELECT *`` gives no column lineage). The readiness questions need exactly
that for PII: ``email AS contact_email`` carries the value, ``md5(email) AS email_hash`` does not.
So the top-level projection list is split here and each output column classified: a bare column
reference is IDENTITY, an expression using a hashing/masking function is MASKED, an aggregate is
AGGREGATION, anything else TRANSFORMATION. The heuristic errs towards "carries the value": a
masking function it does not know leaves the edge TRANSFORMATION, which is reported, never hidden.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from auditor.lineage_graph import ColumnEdge, LineageGraph

_MASKING = re.compile(
    r"\b(md5|sha1|sha2|sha224|sha256|sha384|sha512|hash|xxhash\w*|crc32|hmac|digest|crypt|"
    r"encrypt\w*|mask\w*|redact\w*|anonymi[sz]e\w*|pseudonymi[sz]e\w*|tokeni[sz]e\w*|"
    r"obfuscate\w*|hash_\w+)\s*\(", re.IGNORECASE)
_AGGREGATE = re.compile(r"^\s*(count|sum|avg|min|max|median|mode|stddev\w*|var\w*|"
                        r"array_agg|string_agg|group_concat|listagg|any_value|first|last)"
                        r"\s*\(", re.IGNORECASE)
_IDENT = r'(?:"[^"]+"|`[^`]+`|\[[^\]]+\]|[A-Za-z_][\w$]*)'
_COLUMN_REF = re.compile(rf"^\s*(?:{_IDENT}\s*\.\s*)*({_IDENT})\s*$")
_ALIAS = re.compile(rf"^(.*?)\s+AS\s+({_IDENT})\s*$", re.IGNORECASE | re.DOTALL)
_IMPLICIT_ALIAS = re.compile(rf"^(.*[\w\)\]\"'`])\s+({_IDENT})\s*$", re.DOTALL)
_NOT_ALIAS = {"end", "and", "or", "not", "null", "then", "else", "when", "case", "is", "in",
              "like", "between", "distinct", "from", "asc", "desc"}


def split_statements(text: str) -> list[str]:
    """Split a script on ``;`` outside quotes and comments."""
    out: list[str] = []
    buf: list[str] = []
    i, n = 0, len(text)
    quote: str | None = None
    while i < n:
        ch = text[i]
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = None
        elif ch in ("'", '"', "`"):
            quote = ch
            buf.append(ch)
        elif text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        elif ch == ";":
            out.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
        i += 1
    out.append("".join(buf).strip())
    return [s for s in out if s]


def _unquote(ident: str) -> str:
    if ident[:1] in ('"', "`", "["):
        return ident[1:-1]
    return ident


def _top_level(text: str) -> Iterable[tuple[int, str]]:
    """Yield (index, char) for characters at parenthesis depth 0 outside quotes."""
    depth = 0
    quote: str | None = None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in ("'", '"', "`"):
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0:
            yield i, ch


def projections(statement: str) -> dict[str, str]:
    """Output column name (lower-case) → its expression, for the outermost SELECT."""
    top = "".join(ch if _ else " " for _, ch in _mask_nested(statement))
    m = re.search(r"\bselect\b", top, re.IGNORECASE)
    if not m:
        return {}
    start = m.end()
    end_m = re.compile(r"\b(from|union|intersect|except|where|group|order|limit)\b",
                       re.IGNORECASE).search(top, start)
    end = end_m.start() if end_m else len(statement)
    body = statement[start:end]
    body = re.sub(r"^\s*(distinct|all)\b", "", body, flags=re.IGNORECASE)
    items, last = [], 0
    for i, ch in _top_level(body):
        if ch == ",":
            items.append(body[last:i])
            last = i + 1
    items.append(body[last:])
    out: dict[str, str] = {}
    for item in (s.strip() for s in items):
        if not item or item.endswith("*"):
            continue
        name, expr = _name_and_expr(item)
        if name:
            out[name.lower()] = expr
    return out


def _mask_nested(text: str) -> Iterable[tuple[bool, str]]:
    """(is top level, char) for every char, so keywords inside parentheses are ignored."""
    depth = 0
    quote: str | None = None
    for ch in text:
        if quote:
            yield False, ch
            if ch == quote:
                quote = None
            continue
        if ch in ("'", '"', "`"):
            quote = ch
            yield depth == 0, ch
            continue
        if ch == "(":
            depth += 1
            yield False, ch
            continue
        if ch == ")":
            depth -= 1
            yield False, ch
            continue
        yield depth == 0, ch


def _name_and_expr(item: str) -> tuple[str | None, str]:
    if m := _ALIAS.match(item):
        return _unquote(m.group(2)), m.group(1).strip()
    if m := _COLUMN_REF.match(item):
        return _unquote(m.group(1)), item
    m = _IMPLICIT_ALIAS.match(item)
    if m and m.group(2).lower() not in _NOT_ALIAS:
        return _unquote(m.group(2)), m.group(1).strip()
    return None, item


def classify_expression(expr: str) -> str:
    """IDENTITY, MASKED, AGGREGATION or TRANSFORMATION for one projection expression."""
    if _MASKING.search(expr):
        return "MASKED"
    if _COLUMN_REF.match(expr):
        return "IDENTITY"
    if _AGGREGATE.match(expr):
        return "AGGREGATION"
    return "TRANSFORMATION"


def _table_name(t: Any, levels: int, default_database: str | None,
                default_schema: str | None) -> str:
    """Qualify a parsed table to the naming spec's depth (3: db.schema.table, 2, 1)."""
    parts = [t.database, t.schema, t.name]
    if levels >= 3:
        parts = [t.database or default_database, t.schema or default_schema, t.name]
    elif levels == 2:
        parts = [t.schema or t.database or default_database, t.name]
    else:
        parts = [t.name]
    return ".".join(p for p in parts if p)


def graph_from_sql(statements: list[str], *, namespace: str, dialect: str | None = None,
                   default_database: str | None = None, default_schema: str | None = None,
                   levels: int = 3, origin: str = "sql") -> tuple[LineageGraph, list[str]]:
    """Parse each statement; return the graph and one problem per unparsable statement."""
    import openlineage_sql

    g = LineageGraph()
    problems: list[str] = []
    for idx, stmt in enumerate(statements):
        meta = openlineage_sql.parse([stmt], dialect=dialect, default_schema=default_schema)
        for err in meta.errors:
            problems.append(f"statement {idx + 1}: {err.message}")
        if not meta.out_tables:
            continue

        def name_of(t: Any) -> str:
            return _table_name(t, levels, default_database, default_schema)

        outs = {name_of(t): t for t in meta.out_tables}
        ins = {name_of(t): t for t in meta.in_tables if name_of(t) not in outs}
        for i in ins:
            for o in outs:
                g.add_edge(g.node(namespace, i, origin).id, g.node(namespace, o, origin).id,
                           None, origin)
        exprs = projections(stmt)
        only_out = next(iter(outs)) if len(outs) == 1 else None
        only_in = next(iter(ins)) if len(ins) == 1 else None
        for cl in meta.column_lineage:
            d = cl.descendant
            dst = name_of(d.origin) if d.origin is not None else only_out
            if dst is None:
                continue
            kind = classify_expression(exprs.get(d.name.lower(), d.name))
            for src_col in cl.lineage:
                src = name_of(src_col.origin) if src_col.origin is not None else only_in
                if src is None:
                    continue
                sid, did = g.node(namespace, src, origin).id, g.node(namespace, dst, origin).id
                g.column_edges.add(ColumnEdge(
                    sid, src_col.name, did, d.name, kind,
                    "DIRECT", None if kind == "MASKED" else kind, kind == "MASKED" or None,
                    (exprs.get(d.name.lower()) or "")[:200] or None, origin))
                g.add_edge(sid, did, None, origin)
    return g, problems


def duckdb_view_statements(con: Any) -> list[str]:
    """``CREATE VIEW`` statements of a DuckDB database (its view definitions)."""
    rows = con.execute("SELECT sql FROM duckdb_views() WHERE NOT internal AND sql IS NOT NULL "
                       "ORDER BY schema_name, view_name").fetchall()
    return [str(r[0]).rstrip().rstrip(";") for r in rows]


def sqlalchemy_view_statements(engine: Any, schema: str | None = None) -> list[str]:
    """``CREATE VIEW`` statements rebuilt from a database's catalogue (PostgreSQL, MySQL ...)."""
    import sqlalchemy as sa

    insp = sa.inspect(engine)
    out = []
    for view in insp.get_view_names(schema=schema):
        definition = insp.get_view_definition(view, schema=schema)
        if not definition:
            continue
        text = str(definition).strip().rstrip(";")
        if re.match(r"^\s*create\b", text, re.IGNORECASE):
            out.append(text)
        else:
            qualified = f"{schema}.{view}" if schema else view
            out.append(f"CREATE VIEW {qualified} AS {text}")
    return out
