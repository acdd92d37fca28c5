"""Python ``re`` patterns rewritten for DuckDB's RE2, or declined.

GX evaluates ``expect_column_values_to_match_regex`` and friends with Python's ``re`` (pandas
engine); DuckDB's ``regexp_matches`` is RE2. The two agree on most patterns but not on
character classes (``\\d``/``\\w``/``\\s`` are Unicode-aware in Python, ASCII in RE2), ``$``
(Python also matches before a final newline) and a few escapes; lookarounds and
back-references have no RE2 form at all. :func:`translate_regex` rewrites what can be made
exact and says why it declines the rest, so the native engine hands those expectations to GX.
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass
from typing import Any

try:  # Python 3.11+: the regex parser GX/pandas use to decide Python-vs-RE2 semantics
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - older Pythons
    import sre_parse as _sre_parse  # type: ignore[no-redef]

__all__ = ["RegexPlan", "translate_regex"]


@dataclass(frozen=True, slots=True)
class RegexPlan:
    """A Python regex rewritten for RE2, or why it cannot be.

    ``ascii_only``: the rewrite equals Python only on ASCII values (``\\b``/``\\B`` remain);
    ``no_newline``: it equals Python only if no value contains ``\\n`` (``$``).
    """

    pattern: str | None
    reason: str | None = None
    ascii_only: bool = False
    no_newline: bool = False


def _re2_char(code: int) -> str:
    return f"\\x{{{code:X}}}"


def _code_point_ranges(runs: re.Pattern[str]) -> str:
    """RE2 ranges of the code points ``runs`` (a pattern ending in ``+``) matches in Python."""
    everything = "".join(map(chr, range(0x110000)))
    parts = []
    for m in runs.finditer(everything):
        lo, hi = m.start(), m.end() - 1
        parts.append(_re2_char(lo) if lo == hi else f"{_re2_char(lo)}-{_re2_char(hi)}")
    return "".join(parts)


@functools.lru_cache(maxsize=8)
def _python_class_body(escape: str) -> str:
    """RE2 class body (ranges) matching exactly what Python's Unicode ``escape`` matches."""
    return _code_point_ranges(re.compile(f"{escape}+"))


_UNSUPPORTED_OPS = {"ASSERT", "ASSERT_NOT", "GROUPREF", "GROUPREF_EXISTS", "ATOMIC_GROUP"}


def _regex_nodes(pattern: str) -> tuple[list[tuple[str, Any]], int] | None:
    """Flattened (op name, argument) nodes and global flags of a Python regex, None if invalid."""
    try:
        with warnings.catch_warnings():  # "possible nested set" etc. are not ours to report
            warnings.simplefilter("ignore")
            parsed = _sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return None
    out: list[tuple[str, Any]] = []

    def walk(tokens: Any) -> None:
        for op, arg in tokens:
            name = str(op)
            out.append((name, arg))
            if name == "SUBPATTERN":
                walk(arg[3])
            elif name == "BRANCH":
                for branch in arg[1]:
                    walk(branch)
            elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                walk(arg[2])
            elif name in ("ATOMIC_GROUP", "IN"):
                walk(arg)

    walk(parsed)
    return out, int(parsed.state.flags)


def translate_regex(pattern: str) -> RegexPlan:
    """Rewrite a GX/Python regex so DuckDB's RE2 ``regexp_matches`` gives Python's answer.

    pandas (which GX calls) treats a pattern Python cannot parse but RE2 can (``\\p{L}``) with
    RE2 semantics; we do the same. For Python-valid patterns the Unicode-sensitive escapes are
    replaced by classes generated from Python's own ``re``.
    """
    parsed = _regex_nodes(pattern)
    if parsed is None:
        # pandas hands such patterns to pyarrow's RE2 after rewriting \Z as \z.
        return RegexPlan(re.sub(r"(?<!\\)((?:\\\\)*)\\Z", r"\1\\z", pattern))
    nodes, flags = parsed
    bad_flags = flags & (re.VERBOSE | re.ASCII | re.LOCALE | re.DEBUG)
    if bad_flags:
        return RegexPlan(None, f"regex flags {re.RegexFlag(bad_flags)!r} have no RE2 equivalent")
    names = {name for name, _ in nodes}
    if names & _UNSUPPORTED_OPS:
        return RegexPlan(None, "regex uses lookaround, backreference or atomic groups (not RE2)")
    at_args = {str(arg) for name, arg in nodes if name == "AT"}
    ascii_only = bool(at_args & {"AT_BOUNDARY", "AT_NON_BOUNDARY"})
    no_newline = "AT_END" in at_args
    try:
        rewritten = _rewrite_escapes(pattern, flags)
    except ValueError as exc:
        return RegexPlan(None, str(exc))
    return RegexPlan(rewritten, ascii_only=ascii_only, no_newline=no_newline)


_CLASS_ESCAPES = {"d": r"\d", "w": r"\w", "s": r"\s"}


def _class_end(pattern: str, start: int) -> int:
    """Index just past the ``]`` closing the Python character class opened at ``start``."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":  # a leading ']' is a literal
        i += 1
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "]":
            return i + 1
        i += 1
    raise ValueError("unterminated character class")


_CATEGORY_IN_CLASS = re.compile(r"(?<!\\)(?:\\\\)*\\[dDwWsS]")


@functools.lru_cache(maxsize=256)
def _python_class_exact(cls: str, ignore_case: bool) -> str:
    """An RE2 class matching exactly the code points Python's class ``cls`` matches."""
    body = _code_point_ranges(re.compile(f"(?:{cls})+", re.IGNORECASE if ignore_case else 0))
    return f"[{body}]" if body else r"[^\x{0}-\x{10FFFF}]"


def _literal_escape(pattern: str, i: int) -> tuple[str, int] | None:
    """RE2 spelling of a ``\\u``, ``\\U`` or ``\\N{...}`` escape at ``i`` (None if not one)."""
    e = pattern[i + 1]
    if e in "uU":
        width = 4 if e == "u" else 8
        digits = pattern[i + 2 : i + 2 + width]
        if len(digits) != width or not all(ch in "0123456789abcdefABCDEF" for ch in digits):
            raise ValueError(f"bad \\{e} escape")
        return _re2_char(int(digits, 16)), i + 2 + width
    if e == "N" and pattern.startswith("{", i + 2):
        import unicodedata

        end = pattern.find("}", i + 3)
        try:
            return _re2_char(ord(unicodedata.lookup(pattern[i + 3 : end]))), end + 1
        except KeyError as exc:
            raise ValueError("bad \\N{...} escape") from exc
    return None


def _rewrite_escapes(pattern: str, flags: int = 0) -> str:
    """Rewrite what RE2 reads differently from Python (``\\d \\w \\s``, ``\\Z``, ``\\u``...).

    Character classes holding ``\\d \\w \\s`` (or negations) are replaced by the exact set of
    code points Python's class matches; other classes are kept for RE2, as pandas does.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "[":
            end = _class_end(pattern, i)
            cls = pattern[i:end]
            if _CATEGORY_IN_CLASS.search(cls):
                out.append(_python_class_exact(cls, bool(flags & re.IGNORECASE)))
            else:
                j = i
                while j < end:
                    lit = _literal_escape(pattern, j) if pattern[j] == "\\" else None
                    if lit is not None:
                        out.append(lit[0])
                        j = lit[1]
                    elif pattern[j] == "\\":
                        out.append(pattern[j : j + 2])
                        j += 2
                    else:
                        out.append(pattern[j])
                        j += 1
            i = end
            continue
        if c == "\\" and i + 1 < n:
            e = pattern[i + 1]
            if e.lower() in _CLASS_ESCAPES:
                body = _python_class_body(_CLASS_ESCAPES[e.lower()])
                out.append(f"[^{body}]" if e.isupper() else f"[{body}]")
                i += 2
                continue
            if e == "Z":
                out.append(r"\z")
                i += 2
                continue
            lit = _literal_escape(pattern, i)
            if lit is not None:
                out.append(lit[0])
                i = lit[1]
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)
