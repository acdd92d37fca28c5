"""The ``lineage:`` block of ``audit.yml``: where OpenLineage events go and where lineage is read.

Kept in its own module (and mounted at ``AuditConfig.lineage`` by the config owner) so the core
config never grows transport options. Everything here is optional: with no block and no
``OPENLINEAGE_*`` environment, events are archived to a local NDJSON file next to the store, so
every run still emits and the lineage graph can be rebuilt offline.

Secrets (``api_key``) must be ``${env:NAME}`` or ``${file:path}`` references. They are resolved
only when events are sent, so a missing variable becomes a lineage finding (LIN001) instead of
failing the audit; its value never reaches the store, reports or the spool.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from auditor.secrets import REFERENCE, resolve_references

#: Job namespace when neither the config nor ``OPENLINEAGE_NAMESPACE`` names one.
DEFAULT_NAMESPACE = "readiness-auditor"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(_Model):
    """Kafka transport (needs ``openlineage-python[kafka]``, i.e. confluent-kafka)."""

    topic: str = Field(description="Topic the events are produced to.")
    config: dict[str, str] = Field(
        default_factory=dict,
        description="confluent-kafka producer config, e.g. {bootstrap.servers: host:9092}.")
    message_key: str | None = Field(None, description="Fixed message key (default: per run "
                                    "chain, as the OpenLineage client does).")


class MarquezSource(_Model):
    """Read lineage back from a Marquez API (GET /api/v1/lineage and /column-lineage)."""

    url: str = Field(description="Marquez base URL, e.g. http://marquez:5000.")
    nodes: list[str] = Field(
        default_factory=list,
        description="Node ids to start from (dataset:{namespace}:{name}); default: every "
                    "audited dataset.")
    depth: int = Field(20, ge=1, le=100)
    api_key: str | None = Field(None, description="${env:NAME} reference to a bearer token.")
    timeout: float = Field(5.0, gt=0, le=300, description="Total budget for reading, seconds.")
    column_lineage: bool = Field(True, description="Also read /api/v1/column-lineage.")

    @field_validator("api_key")
    @classmethod
    def _reference_only(cls, v: str | None) -> str | None:
        return _check_reference(v)


class SqlLineageSource(_Model):
    """Declared transformation SQL or view definitions parsed with openlineage-sql."""

    path: str | None = Field(None, description="SQL file (statements separated by ';'), "
                             "relative to the config file.")
    query: str | None = Field(None, description="Inline SQL (alternative to path).")
    source: str | None = Field(None, description="Name of a source in `sources`: its "
                               "namespace, database and default schema are used.")
    namespace: str | None = Field(None, description="Dataset namespace (when no source).")
    dialect: str | None = Field(None, description="openlineage-sql dialect: postgres, mysql, "
                                "sqlite, mssql, snowflake, bigquery, generic ...")
    default_database: str | None = None
    default_schema: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> SqlLineageSource:
        if (self.path is None) == (self.query is None):
            raise ValueError("give exactly one of `path` and `query`")
        return self


class LineageConfig(_Model):
    """OpenLineage emission (transport, timeout, namespaces) and lineage consumption."""

    enabled: bool = Field(True, description="Emit events after each audit run.")
    transport: Literal["console", "file", "http", "kafka"] | None = Field(
        None, description="Where events go. Unset: the standard OpenLineage configuration "
                          "(OPENLINEAGE_URL, OPENLINEAGE_CONFIG, openlineage.yml, "
                          "OPENLINEAGE__TRANSPORT__*), else a local NDJSON archive.")
    url: str | None = Field(None, description="HTTP: base URL, e.g. http://marquez:5000.")
    endpoint: str = Field("api/v1/lineage", description="HTTP: endpoint path.")
    api_key: str | None = Field(None, description="HTTP: ${env:NAME} or ${file:path} "
                                "reference to a bearer token (never a literal).")
    timeout: float = Field(5.0, gt=0, le=300, description="Total time budget of the send step "
                           "in seconds; a slower or failing backend becomes finding LIN001 and "
                           "the events are spooled for `auditor lineage send`.")
    retries: int = Field(1, ge=0, le=5, description="HTTP retries within the time budget.")
    compression: Literal["gzip"] | None = None
    file: str | None = Field(None, description="File transport / local archive (NDJSON, "
                             "appended). Default: lineage/events.ndjson beside the store.")
    spool: str | None = Field(None, description="Unsent events (NDJSON). Default: "
                              "lineage/spool.ndjson beside the store.")
    kafka: KafkaSettings | None = None
    namespace: str | None = Field(None, description="Job namespace (default: "
                                  "OPENLINEAGE_NAMESPACE, else readiness-auditor).")
    job_name: str | None = Field(None, description="Parent job name (default: the config's "
                                 "`name`, else the config file name).")
    source_namespaces: dict[str, str] = Field(
        default_factory=dict,
        description="Dataset namespace per source name, overriding the naming convention "
                    "(e.g. {crm: salesforce://acme.my.salesforce.com}).")
    store_namespace: str | None = Field(None, description="Namespace of the DuckDB snapshot "
                                        "tables (default duckdb://{absolute store path}).")
    # --- consumption --------------------------------------------------------------------
    event_logs: list[str] = Field(default_factory=list,
                                  description="OpenLineage NDJSON event logs to read.")
    marquez: MarquezSource | None = None
    sql: list[SqlLineageSource] = Field(default_factory=list)
    systems_of_record: list[str] = Field(
        default_factory=list,
        description="Graph nodes that are systems of record: a node id "
                    "(dataset:{namespace}:{name}) or a namespace (every dataset in it).")

    @field_validator("api_key")
    @classmethod
    def _reference_only(cls, v: str | None) -> str | None:
        return _check_reference(v)

    def job_namespace(self) -> str:
        return self.namespace or os.environ.get("OPENLINEAGE_NAMESPACE") or DEFAULT_NAMESPACE


def _check_reference(v: str | None) -> str | None:
    """Secrets never live in audit.yml: only references are accepted (README, secrets)."""
    if v is not None and not REFERENCE.fullmatch(v.strip()):
        raise ValueError("must be a ${env:NAME} or ${file:path} reference, not a literal key")
    return v


def resolve_secret(value: str | None, base_dir: Path, where: str) -> str | None:
    """Resolve a secret reference at send time (raises :class:`auditor.errors.SecretError`)."""
    if value is None:
        return None
    resolved: Any = resolve_references(value, base_dir=base_dir, where=where)
    return str(resolved)


def lineage_config_of(config: Any) -> LineageConfig:
    """The ``lineage`` block of an ``AuditConfig`` (defaults while it is not mounted yet)."""
    value = getattr(config, "lineage", None)
    if isinstance(value, LineageConfig):
        return value
    if isinstance(value, dict):
        return LineageConfig.model_validate(value)
    return LineageConfig()
