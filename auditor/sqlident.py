"""Quoting for SQL built from user-supplied names (config, files, suites): one place, one rule."""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """Double-quote one DuckDB identifier, doubling embedded double quotes.

    Table and column names come from config, file headers and suite files, so nothing is ever
    spliced into SQL unquoted. Dots are part of the name: a qualified name is quoted per part.
    """
    return '"' + str(name).replace('"', '""') + '"'


def sql_literal(value: str) -> str:
    """A SQL string literal with embedded single quotes doubled."""
    return "'" + str(value).replace("'", "''") + "'"
