"""Connector discovery through the ``auditor.connectors`` entry-point group.

Built-in connectors register exactly as third-party ones do, so ``kind`` names, the "unknown
kind" message and the config JSON Schema all come from one place. Entry points are loaded
lazily: listing kinds does not import any vendor SDK.
"""

from __future__ import annotations

import os
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from auditor.connector import Connector, ConnectorConfig
from auditor.errors import InvalidConfig, UnknownConnector

GROUP = "auditor.connectors"


@cache
def _entry_points() -> dict[str, EntryPoint]:
    eps = {ep.name: ep for ep in entry_points(group=GROUP)}
    only = os.environ.get("AUDITOR_CONNECTORS")
    if only:
        keep = {k.strip() for k in only.split(",")}
        eps = {k: v for k, v in eps.items() if k in keep}
    return eps


def kinds() -> list[str]:
    """Registered connector kinds, without importing them."""
    return sorted(_entry_points())


def connector_class(kind: str, *, where: str = "") -> type[Connector]:
    eps = _entry_points()
    if kind not in eps:
        raise UnknownConnector(kind, list(eps), where=where)
    cls: type[Connector] = eps[kind].load()
    return cls


def bind(name: str, options: dict[str, Any], base_dir: Path, *, where: str = "") -> Connector:
    """Validate a source's options against its connector's model and build the connector."""
    cls = connector_class(str(options.get("kind")), where=where)
    try:
        config: ConnectorConfig = cls.config_model.model_validate(options)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: "
            f"{'unknown field' if e['type'] == 'extra_forbidden' else e['msg']}"
            for e in exc.errors()
        )
        raise InvalidConfig(f"{where or 'sources.' + name}: {problems}") from None
    return cls(name, config, base_dir)  # type: ignore[call-arg]


def source_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of each connector's config model, by kind (for `auditor config schema`)."""
    out = {}
    for kind in kinds():
        try:
            out[kind] = connector_class(kind).config_model.model_json_schema()
        except ImportError:
            continue
    return out
