"""The connector contract: what every source kind (built-in or third-party) provides.

A connector is one module with one config model, registered under the entry-point group
``auditor.connectors`` (see ``pyproject.toml``); the ``kind`` in ``audit.yml`` is the entry-point
name. The contract is a Protocol so third parties need not inherit from anything here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from auditor.models import AccessInventory, Sample, SampleSpec


class ConnectorConfig(BaseModel):
    """Base of every connector's own config model (the ``sources.<name>`` block)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str


@runtime_checkable
class Connector(Protocol):
    """A source of datasets.

    Implementations are constructed as ``Connector(name, config, base_dir)`` where ``base_dir``
    is the directory of the config file (relative paths in config are relative to it).
    ``sample`` raises a :class:`auditor.errors.SourceError` subclass when the source fails; the
    ingest stage turns that into a finding and carries on with the other datasets.
    """

    kind: ClassVar[str]
    config_model: ClassVar[type[ConnectorConfig]]

    def discover(self) -> list[str]:
        """Names of the objects this source offers (files, tables, CRM objects)."""
        ...

    def sample(self, obj: str, spec: SampleSpec, options: Mapping[str, Any]) -> Sample:
        """Pull a bounded, reproducible sample of ``obj`` as a stream of Arrow batches."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...


@runtime_checkable
class SupportsAccess(Protocol):
    """Optional capability: the source can tell who can read its objects."""

    def access(self, objects: list[str]) -> AccessInventory | None:
        """Effective read access to ``objects`` (names as in dataset ``object``), with reasons;
        None when this particular source has no grants to report."""
        ...


ConnectorFactory = type[Connector]


def resolve_path(base_dir: Path, path: str | Path) -> Path:
    """Resolve a config-relative path (absolute paths pass through unchanged)."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (base_dir / p)
