"""Odoo domains (``[('field', 'op', value), '|', ...]``) as the fake evaluates them, and the
fake's error type (faults 1-4, JSON-RPC error names, JSON-2 statuses)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

X2MANY = ("one2many", "many2many")
_ERRORS = {  # kind → XML-RPC fault code, exception name, JSON-2 status
    "app": (1, "builtins.ValueError", 500), "missing": (1, "builtins.KeyError", 404),
    "user": (2, "odoo.exceptions.UserError", 422),
    "denied": (3, "odoo.exceptions.AccessDenied", 401),
    "access": (4, "odoo.exceptions.AccessError", 403)}


class OdooError(Exception):
    """An Odoo server exception, rendered per protocol by the fake."""

    def __init__(self, kind: str, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.kind, self.message = kind, message
        self.code, default, self.status = _ERRORS[kind]
        self.name = name or default

    def fault_string(self) -> str:
        if self.code != 1:
            return self.message
        return ("Traceback (most recent call last):\n  File \"/opt/odoo/odoo/service/model.py\""
                f", line 156, in execute_cr\n{self.name.rsplit('.', 1)[-1]}: {self.message}\n")


def matches(domain: list[Any], fields: Mapping[str, Mapping[str, Any]],
            read: Callable[[str], Any], model: str) -> bool:
    """Polish-notation ``&``/``|``/``!`` over leaves; implicit AND between the rest."""
    stack: list[bool] = []
    for term in reversed(domain):
        if term in ("&", "|"):
            if len(stack) < 2:
                raise OdooError("app", f"Invalid domain {domain!r}")
            a, b = stack.pop(), stack.pop()
            stack.append(a and b if term == "&" else a or b)
        elif term == "!":
            stack.append(not stack.pop())
        else:
            stack.append(_leaf(term, fields, read, model))
    return all(stack)


def _leaf(leaf: Any, fields: Mapping[str, Mapping[str, Any]], read: Callable[[str], Any],
          model: str) -> bool:
    if not isinstance(leaf, list | tuple) or len(leaf) != 3 or leaf[0] not in fields:
        raise OdooError("app", f"Invalid leaf {leaf!r} on model {model}")
    name, op, want = leaf
    ftype = fields[name]["type"]
    have = read(name)
    empty = have is None or have is False or have == []
    if op in ("=", "!="):
        if want is False and ftype != "boolean":
            hit = empty
        elif ftype in X2MANY:
            hit = want in (have or [])
        else:
            hit = not empty and have == want or ftype == "boolean" and have == want
        return hit if op == "=" else not hit
    if op in ("in", "not in"):
        wanted = set(want if isinstance(want, list | tuple) else [want])
        hit = bool(set(have or []) & wanted) if ftype in X2MANY else have in wanted
        return hit if op == "in" else not hit
    if op == "ilike":
        return not empty and str(want).lower() in str(have).lower()
    if op in ("<", ">", "<=", ">="):
        if empty:
            return False
        try:
            return {"<": have < want, ">": have > want, "<=": have <= want,
                    ">=": have >= want}[op]
        except TypeError:
            raise OdooError("app", f"cannot compare {name} with {want!r}") from None
    raise OdooError("app", f"Invalid operator {op!r} in leaf {leaf!r} (this fake "
                    "evaluates =, !=, <, >, <=, >=, in, not in, ilike)")
