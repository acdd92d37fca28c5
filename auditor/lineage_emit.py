"""AuditResult + config → OpenLineage events. A pure function: no I/O, no clock, no randomness.

One parent run for the audit session and one child run per dataset (START, then COMPLETE, or
FAIL with an ``errorMessage`` facet when the source failed). The child's input is the *source*
dataset (the identity users look up in Marquez), carrying schema, dataSource, ownership,
documentation and tags as dataset facets and ``dataQualityMetrics`` / ``dataQualityAssertions``
as input facets (Marquez stores quality as INPUT facets, notes §8.2). Its output is the DuckDB
snapshot table, with column lineage from the source (IDENTITY, or masked where the store masks
PII). A child run ends COMPLETE even when expectations fail: the audit itself succeeded and the
assertions carry the outcome (the alternative dbt takes is documented in docs/lineage.md).

Event times come from the run's own timestamps and run ids are derived with
``generate_static_uuid`` from the audit run id, so re-emitting a run (from the spool, or after a
crash) sends identical events and consumers deduplicate them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from openlineage.client.event_v2 import (
    InputDataset,
    Job,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
)
from openlineage.client.facet_v2 import (
    column_lineage_dataset as cl,
)
from openlineage.client.facet_v2 import (
    data_quality_assertions_dataset as dqa,
)
from openlineage.client.facet_v2 import (
    data_quality_metrics_input_dataset as dqm,
)
from openlineage.client.facet_v2 import (
    dataset_type_dataset,
    datasource_dataset,
    documentation_dataset,
    documentation_job,
    error_message_run,
    input_statistics_input_dataset,
    job_type_job,
    lifecycle_state_change_dataset,
    output_statistics_output_dataset,
    ownership_dataset,
    ownership_job,
    parent_run,
    processing_engine_run,
    schema_dataset,
    tags_dataset,
)
from openlineage.client.uuid import generate_static_uuid

from auditor import __version__
from auditor.config import AuditConfig
from auditor.lineage_config import LineageConfig
from auditor.lineage_naming import (
    DatasetId,
    datasource_uri,
    source_dataset_id,
    store_dataset_id,
)
from auditor.models import AuditResult, DatasetResult, ExpectationOutcome

#: Who produced the events: the auditor at this version (not configurable, notes §1.2).
PRODUCER = f"https://pypi.org/project/data-readiness-auditor/{__version__}/"
INTEGRATION = "READINESS_AUDITOR"
PARENT_JOB_TYPE = "AUDIT"
CHILD_JOB_TYPE = "DATASET_AUDIT"
_QUANTILE_KEYS = {"p01": "0.01", "p05": "0.05", "p25": "0.25", "p50": "0.5", "p75": "0.75",
                  "p95": "0.95", "p99": "0.99"}


def _ts(t: datetime, offset_ms: int = 0) -> str:
    """RFC 3339 in UTC with an explicit offset (naive times were a classic bug, notes §10.5)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return (t.astimezone(UTC) + timedelta(milliseconds=offset_ms)).isoformat()


def run_uuid(audit_run_id: str, started_at: datetime, part: str) -> str:
    """Deterministic UUID per (audit run, part): re-emission is idempotent."""
    if started_at.tzinfo is None:
        started_at = started_at.replace(tzinfo=UTC)
    return str(generate_static_uuid(started_at, f"{audit_run_id}/{part}".encode()))


def parent_job_name(config: AuditConfig, config_path: str, lineage: LineageConfig) -> str:
    """Stable per audit config: ``audit.{name}``; the file stem when the config has no name."""
    if lineage.job_name:
        return lineage.job_name
    from pathlib import Path

    return "audit." + (config.name or Path(config_path).stem)


def dataset_ids(result_datasets: list[DatasetResult] | tuple[DatasetResult, ...],
                config: AuditConfig, lineage: LineageConfig, base_dir: Any,
                store_path: str) -> dict[str, tuple[DatasetId, DatasetId | None]]:
    """Audited dataset name → (source identity, snapshot identity or None)."""
    out: dict[str, tuple[DatasetId, DatasetId | None]] = {}
    for d in result_datasets:
        src = config.sources.get(d.source)
        options = src.options if src is not None else {"kind": "unknown"}
        ident = source_dataset_id(
            str(options.get("kind", "unknown")), options, d.object, source=d.source,
            base_dir=base_dir, location=d.metadata.location if d.metadata else None,
            namespace_override=lineage.source_namespaces.get(d.source))
        snap = store_dataset_id(store_path, d.sample_table,
                                namespace_override=lineage.store_namespace) \
            if d.sample_table else None
        out[d.name] = (ident, snap)
    return out


class RunLike(Protocol):
    """What emission reads from a run: an :class:`AuditResult`, or a run still in progress."""

    run_id: str
    started_at: datetime
    finished_at: datetime
    config_path: str
    store_path: str
    datasets: tuple[DatasetResult, ...]


@dataclass(frozen=True)
class RunView:
    """A run before its :class:`AuditResult` exists (scoring needs the graph first)."""

    run_id: str
    started_at: datetime
    finished_at: datetime
    config_path: str
    store_path: str
    datasets: tuple[DatasetResult, ...]


def build_events(result: AuditResult | RunLike, config: AuditConfig, lineage: LineageConfig,
                 base_dir: Any, *, mask_pii: bool | None = None) -> list[RunEvent]:
    """Every event of one audit run, in emission order (parent START … parent terminal)."""
    ns = lineage.job_namespace()
    parent_name = parent_job_name(config, result.config_path, lineage)
    parent_id = run_uuid(result.run_id, result.started_at, "audit")
    masked = config.store.mask_pii if mask_pii is None else mask_pii
    ids = dataset_ids(result.datasets, config, lineage, base_dir, result.store_path)
    owners = sorted({u.owner for u in config.use_cases if u.owner})
    engine = processing_engine_run.ProcessingEngineRunFacet(
        version=__version__, name="data-readiness-auditor",
        openlineageAdapterVersion=_ol_version(), producer=PRODUCER)
    parent_job = Job(namespace=ns, name=parent_name, facets={
        "jobType": _job_type(PARENT_JOB_TYPE),
        "documentation": documentation_job.DocumentationJobFacet(
            description=f"Data readiness audit of {len(result.datasets)} datasets for "
                        f"{len(config.use_cases)} AI use cases "
                        f"({', '.join(u.use_case for u in config.use_cases) or 'none'}).",
            producer=PRODUCER),
        **({"ownership": ownership_job.OwnershipJobFacet(
            owners=[ownership_job.Owner(name=o, type="USE_CASE_OWNER") for o in owners],
            producer=PRODUCER)} if owners else {})})
    events: list[RunEvent] = [RunEvent(
        eventType=RunState.START, eventTime=_ts(result.started_at),
        run=Run(runId=parent_id, facets={"processing_engine": engine}), job=parent_job,
        producer=PRODUCER)]
    parent_facet = parent_run.ParentRunFacet(
        run=parent_run.Run(runId=parent_id),
        job=parent_run.Job(namespace=ns, name=parent_name), producer=PRODUCER)
    for i, d in enumerate(result.datasets):
        ident, snap = ids[d.name]
        events.extend(_dataset_events(result, d, config, ident, snap, ns=ns,
                                      parent_name=parent_name, parent=parent_facet,
                                      masked=masked, order=i))
    failed = [d.name for d in result.datasets if d.status == "failed"]
    end_facets: dict[str, Any] = {"processing_engine": engine}
    if failed:
        end_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=f"{len(failed)} of {len(result.datasets)} sources failed: "
                    + ", ".join(failed),
            programmingLanguage="PYTHON", producer=PRODUCER)
    events.append(RunEvent(
        eventType=RunState.FAIL if failed else RunState.COMPLETE,
        eventTime=_ts(result.finished_at, 1), run=Run(runId=parent_id, facets=end_facets),
        job=parent_job, producer=PRODUCER))
    return events


def _ol_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("openlineage-python")
    except PackageNotFoundError:  # pragma: no cover - it is a dependency
        return "unknown"


def _job_type(job_type: str) -> job_type_job.JobTypeJobFacet:
    # Marquez requires all three fields although the spec requires two (notes §8.2).
    return job_type_job.JobTypeJobFacet(processingType="BATCH", integration=INTEGRATION,
                                        jobType=job_type, producer=PRODUCER)


def _dataset_events(result: AuditResult | RunLike, d: DatasetResult, config: AuditConfig,
                    ident: DatasetId, snap: DatasetId | None, *, ns: str, parent_name: str,
                    parent: parent_run.ParentRunFacet, masked: bool,
                    order: int) -> list[RunEvent]:
    run_id = run_uuid(result.run_id, result.started_at, f"dataset/{d.name}")
    cfg = config.datasets.get(d.name)
    description = cfg.description if cfg and cfg.description else \
        (d.metadata.description if d.metadata and d.metadata.description else None)
    owner = d.owner or (d.metadata.owner if d.metadata else None)
    job_facets: dict[str, Any] = {
        "jobType": _job_type(CHILD_JOB_TYPE),
        "documentation": documentation_job.DocumentationJobFacet(
            description=f"Samples {d.object!r} from source {d.source!r} into the audit store, "
                        f"profiles it and runs its expectation suites (dataset {d.name}).",
            producer=PRODUCER)}
    if owner:
        job_facets["ownership"] = ownership_job.OwnershipJobFacet(
            owners=[ownership_job.Owner(name=owner, type="DATA_OWNER")], producer=PRODUCER)
    job = Job(namespace=ns, name=f"{parent_name}.{d.name}", facets=job_facets)
    source = datasource_dataset.DatasourceDatasetFacet(
        name=d.source, uri=datasource_uri(ident), producer=PRODUCER)
    start = RunEvent(
        eventType=RunState.START, eventTime=_ts(result.started_at, 1 + 2 * order),
        run=Run(runId=run_id, facets={"parent": parent}), job=job,
        inputs=[InputDataset(namespace=ident.namespace, name=ident.name,
                             facets={"dataSource": source})], producer=PRODUCER)
    end_time = _ts(result.finished_at, -(2 * (len(result.datasets) - order)))
    facets = _dataset_facets(d, source, owner, description)
    if d.status == "failed":
        fail = RunEvent(
            eventType=RunState.FAIL, eventTime=end_time,
            run=Run(runId=run_id, facets={"parent": parent, "errorMessage":
                                           error_message_run.ErrorMessageRunFacet(
                                               message=d.error or "source failed",
                                               programmingLanguage="PYTHON",
                                               producer=PRODUCER)}),
            job=job, inputs=[InputDataset(namespace=ident.namespace, name=ident.name,
                                          facets=facets)], producer=PRODUCER)
        return [start, fail]
    input_facets: dict[str, Any] = {
        "dataQualityMetrics": _metrics(d),
        "inputStatistics": input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
            rowCount=d.rows, producer=PRODUCER)}
    if d.expectations:
        input_facets["dataQualityAssertions"] = dqa.DataQualityAssertionsDatasetFacet(
            assertions=[_assertion(o) for o in d.expectations], producer=PRODUCER)
    outputs = [_snapshot(d, ident, snap, config, masked)] if snap else []
    end = RunEvent(
        eventType=RunState.COMPLETE, eventTime=end_time,
        run=Run(runId=run_id, facets={"parent": parent}), job=job,
        inputs=[InputDataset(namespace=ident.namespace, name=ident.name, facets=facets,
                             inputFacets=input_facets)],
        outputs=outputs, producer=PRODUCER)
    return [start, end]


def _dataset_facets(d: DatasetResult, source: Any, owner: str | None,
                    description: str | None) -> dict[str, Any]:
    facets: dict[str, Any] = {"dataSource": source}
    fields = _schema_fields(d)
    if fields:
        facets["schema"] = schema_dataset.SchemaDatasetFacet(fields=fields, producer=PRODUCER)
    if owner:
        facets["ownership"] = ownership_dataset.OwnershipDatasetFacet(
            owners=[ownership_dataset.Owner(name=owner, type="DATA_OWNER")], producer=PRODUCER)
    if description:
        facets["documentation"] = documentation_dataset.DocumentationDatasetFacet(
            description=description, producer=PRODUCER)
    tags = []
    if d.system_of_record:
        tags.append(tags_dataset.TagsDatasetFacetFields(
            key="system_of_record", value=d.system_of_record, source="CONFIG"))
    for col, p in sorted(d.pii.items()):
        tags.append(tags_dataset.TagsDatasetFacetFields(
            key="pii", value=",".join(p.kinds) or "true", source="READINESS_AUDITOR",
            field=col))
    if tags:
        facets["tags"] = tags_dataset.TagsDatasetFacet(tags=tags, producer=PRODUCER)
    return facets


def _schema_fields(d: DatasetResult) -> list[schema_dataset.SchemaDatasetFacetFields]:
    if d.metadata and d.metadata.columns:
        return [schema_dataset.SchemaDatasetFacetFields(
            name=c.name, type=c.type, description=c.comment, ordinal_position=i + 1)
            for i, c in enumerate(d.metadata.columns)]
    if d.profile:
        return [schema_dataset.SchemaDatasetFacetFields(name=c.name, type=c.type,
                                                        ordinal_position=i + 1)
                for i, c in enumerate(d.profile.columns)]
    return []


def _number(v: Any) -> float | None:
    """Only real numbers go into metrics (the schema types min/max/quantiles as numbers)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def _metrics(d: DatasetResult) -> dqm.DataQualityMetricsInputDatasetFacet:
    cols: dict[str, dqm.ColumnMetrics] = {}
    p = d.profile
    for c in p.columns if p else ():
        # PII columns' min/max/quantiles are values, not statistics: never emitted.
        numeric = c.name not in d.pii
        quantiles = {_QUANTILE_KEYS.get(k, k.lstrip("p")): q for k, v in
                     (c.quantiles or {}).items() if (q := _number(v)) is not None} \
            if numeric else {}
        cols[c.name] = dqm.ColumnMetrics(
            nullCount=c.nulls, distinctCount=c.distinct, count=float(c.rows - c.nulls),
            min=_number(c.min) if numeric else None, max=_number(c.max) if numeric else None,
            quantiles=quantiles or None)
    return dqm.DataQualityMetricsInputDatasetFacet(
        rowCount=p.rows if p else d.rows, columnMetrics=cols, producer=PRODUCER)


def _assertion(o: ExpectationOutcome) -> dqa.Assertion:
    """One GX expectation → one assertion (type, column, success; never example values)."""
    bounds = {k: v for k, v in o.kwargs.items() if k in (
        "min_value", "max_value", "value_set", "regex", "type_", "value", "mostly",
        "strict_min", "strict_max")}
    actual = str(o.unexpected_count) if o.element_count else (
        str(o.observed_value) if _number(o.observed_value) is not None else None)
    return dqa.Assertion(
        assertion=o.expectation_type, success=bool(o.success), column=o.column,
        severity=o.severity, name=f"{o.suite}.{o.expectation_type}",
        description=o.error or (str(o.meta.get("rationale")) if o.meta.get("rationale")
                                else None),
        expected=_short(bounds) if bounds else None, actual=actual,
        params={k: v for k, v in o.kwargs.items() if k != "batch_id"} or None)


def _short(value: Mapping[str, Any]) -> str:
    import json

    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= 500 else text[:497] + "..."


def _snapshot(d: DatasetResult, ident: DatasetId, snap: DatasetId, config: AuditConfig,
              masked: bool) -> OutputDataset:
    """The DuckDB snapshot table, with column lineage from the source."""
    fields: dict[str, cl.Fields] = {}
    for c in d.profile.columns if d.profile else ():
        pii = masked and c.name in d.pii
        t = cl.Transformation(type="DIRECT", subtype="TRANSFORMATION" if pii else "IDENTITY",
                              description="PII masked in the audit store" if pii else None,
                              masking=True if pii else None)
        fields[c.name] = cl.Fields(inputFields=[cl.InputField(
            namespace=ident.namespace, name=ident.name, field=c.name, transformations=[t])],
            transformationType="MASKED" if pii else "IDENTITY")
    kept = config.store.keep_samples
    facets: dict[str, Any] = {
        "schema": schema_dataset.SchemaDatasetFacet(fields=[
            schema_dataset.SchemaDatasetFacetFields(name=c.name, type=c.type,
                                                    ordinal_position=i + 1)
            for i, c in enumerate(d.profile.columns if d.profile else ())], producer=PRODUCER),
        "columnLineage": cl.ColumnLineageDatasetFacet(fields=fields, producer=PRODUCER),
        "datasetType": dataset_type_dataset.DatasetTypeDatasetFacet(
            datasetType="TABLE", subType="SNAPSHOT", producer=PRODUCER),
        "lifecycleStateChange": lifecycle_state_change_dataset.LifecycleStateChangeDatasetFacet(
            lifecycleStateChange=lifecycle_state_change_dataset.LifecycleStateChange.CREATE
            if kept else lifecycle_state_change_dataset.LifecycleStateChange.DROP,
            producer=PRODUCER)}
    return OutputDataset(
        namespace=snap.namespace, name=snap.name, facets=facets,
        outputFacets={"outputStatistics":
                      output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                          rowCount=d.rows, producer=PRODUCER)})
