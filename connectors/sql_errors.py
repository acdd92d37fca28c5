"""Database driver errors -> the auditor's SourceErrors, with every secret scrubbed.

Drivers word failures differently (psycopg gives SQLSTATEs and libpq text, PyMySQL numeric
codes, sqlite3 and DuckDB only text), and some put the connection string in their messages.
:func:`classify` turns any of them into one of three errors a person can act on, naming the
source, the target (``host:port/database``, never a password) and how many rows were read
before a stream broke. Driver text is kept (its first line, scrubbed) because it is often the
only precise diagnosis ("role \\"x\\" does not exist").

Errors are raised ``from None`` by the callers: a chained driver exception would put its own,
unscrubbed text back into a ``--debug`` traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

import sqlalchemy as sa

from auditor.errors import SourceDataError, SourceError, SourceUnavailable, UnknownObject

__all__ = ["ErrorContext", "Scrubber", "classify"]

_MASK = "***"
_KEYWORD_SECRET = re.compile(
    r"(?i)\b(password|passwd|pwd|secret|token|api_key)(\s*[=:]\s*)('[^']*'|\"[^\"]*\"|[^\s;,&]+)"
)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]+@")

# Driver wording, lower-cased, for drivers without SQLSTATEs (or failures before one exists).
_LOGIN_TEXT = (
    "password authentication failed", "access denied for user", "no pg_hba.conf entry",
    "authentication failed", "unknown database", "login failed",
)  # fmt: skip
_LOGIN_MISSING = re.compile(r'\b(role|database|user) "[^"]*" does not exist')
_CONNECT_TEXT = (
    "connection refused", "could not connect", "can't connect", "failed to resolve host",
    "could not translate host name", "name or service not known", "timeout expired",
    "timed out", "server closed the connection", "terminating connection",
    "lost connection", "connection already closed", "server has gone away", "broken pipe",
    "connection reset", "the connection is closed", "consuming input failed",
    "unable to open database file", "ssl negotiation", "connection is lost",
)  # fmt: skip
_TIMEOUT_TEXT = ("statement timeout", "max_statement_time", "maximum statement execution time",
                 "interrupted", "interrupt")
_MYSQL_LOGIN = {1044, 1045, 1049, 1698, 1251}
_MYSQL_CONNECT = {2002, 2003, 2005, 2006, 2013, 2055, 1927, 1053}
_MYSQL_TIMEOUT = {1969, 3024}
_MYSQL_SYNTAX = {1054, 1064, 1305, 1582, 1583, 1584}
_MYSQL_DENIED = {1142, 1143, 1227}


class Scrubber:
    """Removes known secrets (and anything shaped like one) from text bound for users."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        found: set[str] = set()
        for s in secrets:
            if s:
                found.update({s, quote(s, safe=""), quote_plus(s), quote(s)})
        # Longest first, so a password inside a URL is replaced as part of the URL.
        self._secrets = sorted((s for s in found if len(s) >= 3), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _MASK)
        text = _URL_PASSWORD.sub(rf"\1{_MASK}@", text)
        return _KEYWORD_SECRET.sub(rf"\1\2{_MASK}", text)


@dataclass(frozen=True, slots=True)
class ErrorContext:
    """What an error message may say about the source (nothing secret)."""

    source: str
    target: str
    user: str | None
    timeout: float
    scrub: Scrubber


def _driver_error(exc: BaseException) -> tuple[BaseException, bool]:
    """The DBAPI exception inside SQLAlchemy's wrapper, and whether the connection died."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        return exc.orig, bool(exc.connection_invalidated)
    return exc, False


def detail(exc: BaseException, scrub: Scrubber) -> str:
    """The driver's diagnosis: first meaningful line, scrubbed, without libpq's prefix."""
    text = str(exc.args[1]) if _mysql_code(exc) is not None and len(exc.args) > 1 else str(exc)
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(("LINE ", "^", "HINT:", "(Background"))]
    first = lines[0] if lines else type(exc).__name__
    first = re.sub(r"^[A-Z_]+: \[libpq\]\s*", "", first)  # ADBC's prefix
    first = re.sub(r"^(Execution error \[PGRES_\w+\]|Failed to connect|Failed to prepare "
                   r"query):\s*", "", first)
    first = re.sub(r"^connection failed:\s*", "", first)
    first = re.sub(r"^connection to server at .*? failed:\s*", "", first)
    first = first.replace("FATAL:  ", "").replace("ERROR:  ", "")
    return scrub(first[:500])


def _mysql_code(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], int) and type(exc).__module__.startswith(("pymysql", "MySQLdb",
                                                                              "mysql")):
        return int(args[0])
    return None


def classify(
    exc: BaseException,
    ctx: ErrorContext,
    *,
    obj: str | None = None,
    where: str | None = None,
    rows: int | None = None,
) -> SourceError:
    """The SourceError for a driver failure while connecting, querying or streaming ``obj``.

    ``rows`` is the number of rows already handed on when a stream broke (None: before it).
    """
    orig, invalidated = _driver_error(exc)
    state = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
    code = _mysql_code(orig)
    why = detail(orig, ctx.scrub)
    low = why.lower()
    src = f"source {ctx.source!r}"
    at = f"{src}, {obj}" if obj else src
    after = f" after {rows} rows were read" if rows is not None else ""

    if code in _MYSQL_TIMEOUT or (state == "57014" and "timeout" in low) or (
        state == "" and code is None and any(t in low for t in _TIMEOUT_TEXT)
    ):
        return SourceUnavailable(
            f"{at}: statement timeout after {ctx.timeout:g} s{after}",
            hint="raise the source's statement_timeout, or sample fewer rows "
            "(sampling.n, sampling.where)",
        )
    login = (
        code in _MYSQL_LOGIN
        or state.startswith("28")
        or state == "3D000"
        or (rows is None and not state and code is None
            and (any(t in low for t in _LOGIN_TEXT) or bool(_LOGIN_MISSING.search(low))))
    )
    if login:
        user = ctx.user or "(default user)"
        return SourceUnavailable(
            f"{src}: login refused for user {user} at {ctx.target}: {why}",
            hint="check the user, password and database of the source (the password is never "
            "shown)",
        )
    connection = (
        invalidated
        or code in _MYSQL_CONNECT
        or state.startswith("08")
        or state in ("57P01", "57P02", "57P03")
        or any(t in low for t in _CONNECT_TEXT)
    )
    if connection:
        if rows is not None:
            return SourceUnavailable(
                f"{at}: connection to {ctx.target} lost{after}: {why}",
                hint="the server closed the session (restart, admin kill, network); rerun",
            )
        return SourceUnavailable(
            f"{src}: cannot connect to {ctx.target}: {why}",
            hint="check host, port and that the database server is running and reachable",
        )
    if state == "42P01" or code == 1146 or "no such table" in low:
        return UnknownObject(f"{at}: table or view does not exist: {why}")
    if state == "25006" or code == 1792 or "readonly" in low or "read-only" in low:
        return SourceDataError(
            f"{at}: the database refused a write: the connector's sessions are read-only: {why}",
            hint="`where` must be a plain condition; the auditor never writes to sources",
        )
    if state == "42501" or code in _MYSQL_DENIED or "permission denied" in low:
        return SourceUnavailable(
            f"{at}: permission denied for user {ctx.user or '(default user)'}: {why}",
            hint="grant the auditor's user SELECT on the object (read-only access is enough)",
        )
    syntax = state.startswith("42") or state.startswith("22") or code in _MYSQL_SYNTAX or any(
        t in low for t in ("syntax error", "no such column", "no such function", "parser error",
                           "binder error")
    )
    if syntax and where:
        return SourceDataError(
            f"{at}: invalid filter {where!r}: {why}",
            hint="`where` is a SQL condition in the source's own dialect, over its columns",
        )
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError) and not syntax:
        return SourceUnavailable(f"{at}: database error{after}: {why}")
    return SourceDataError(f"{at}: query failed{after}: {why}")


def safe_repr_options(options: dict[str, Any]) -> dict[str, Any]:
    """Driver options for repr and logs: values of secret-looking keys masked."""
    return {
        k: (_MASK if _KEYWORD_SECRET.search(f"{k}=x") else v) for k, v in options.items()
    }
