"""Secret references: ``${env:NAME}`` and ``${file:path}``.

Secrets never live in config files. A reference is resolved when the config is loaded, into a
:class:`pydantic.SecretStr` where the connector's model declares one, so its value never reaches
``repr``, logs, the store or reports. The config hash is taken over the *unresolved* text, so a
rotated password does not look like a changed audit.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from auditor.errors import SecretError

REFERENCE = re.compile(r"\$\{(env|file):([^}]+)\}")


def resolve_references(value: Any, *, base_dir: Path, where: str) -> Any:
    """Return ``value`` with every ``${env:...}``/``${file:...}`` replaced, recursively."""
    if isinstance(value, str):
        return _resolve_string(value, base_dir=base_dir, where=where)
    if isinstance(value, dict):
        return {k: resolve_references(v, base_dir=base_dir, where=f"{where}.{k}")
                for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_references(v, base_dir=base_dir, where=f"{where}[{i}]")
                for i, v in enumerate(value)]
    return value


def _resolve_string(text: str, *, base_dir: Path, where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        scheme, ref = match.group(1), match.group(2).strip()
        if scheme == "env":
            if ref not in os.environ:
                raise SecretError(
                    f"{where}: environment variable {ref!r} is not set",
                    hint=f"export {ref}=... before running, or use ${{file:...}}",
                )
            return os.environ[ref]
        path = Path(ref).expanduser()
        if not path.is_absolute():
            path = base_dir / path
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretError(
                f"{where}: cannot read secret file {str(path)!r}: {exc.strerror}",
                hint="check the path (relative paths are relative to the config file)",
            ) from None

    return REFERENCE.sub(replace, text)


def contains_reference(value: Any) -> bool:
    """True when ``value`` (or anything nested in it) holds a secret reference."""
    if isinstance(value, str):
        return bool(REFERENCE.search(value))
    if isinstance(value, dict):
        return any(contains_reference(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_reference(v) for v in value)
    return False
