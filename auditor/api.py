"""The library facade: ``run_audit(config) -> AuditResult``. The only module that knows the order.

config → connectors → store → profile / PII / validate → measure → score → (renderers)

Sources that fail become findings and the run goes on; config and suite errors are raised before
anything is written, so a typo never leaves a half-written run behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import duckdb

from auditor import __version__, lineage
from auditor.access import load_declared_inventory
from auditor.checks import specs_for
from auditor.config import DatasetConfig, LoadedConfig, UseCaseConfig, split_column_ref
from auditor.connector import Connector, SupportsAccess, resolve_path
from auditor.contracts import contract_suite
from auditor.errors import SourceDataError, SourceError, SuiteError
from auditor.findings import (
    dataset_findings,
    missing_column_finding,
    orphan_finding,
    source_failure_finding,
)
from auditor.measure import (
    UseCaseMeasures,
    join_match,
    label_correlations,
    label_stats,
    near_duplicates,
    record_completeness,
    text_usability,
)
from auditor.models import (
    AccessInventory,
    AuditResult,
    ColumnProfile,
    DatasetResult,
    ExpectationOutcome,
    Finding,
    ObjectMetadata,
    PiiSummary,
    SampleSpec,
    TableProfile,
)
from auditor.pii import detect_pii, mask_value, redact_sql
from auditor.profile import profile_table
from auditor.registry import bind
from auditor.score import score_use_case
from auditor.sqlident import quote_ident
from auditor.store import RunWriter, Store
from auditor.validate import Suite, load_suite, run_suite, run_suite_with_gx

log = logging.getLogger("auditor")
Progress = Callable[[str], None]


@dataclass
class _Loaded:
    """A dataset's working state during a run (before it is frozen into a DatasetResult)."""

    name: str
    cfg: DatasetConfig
    table: str
    rows: int
    result: DatasetResult


def load_suites(loaded: LoadedConfig) -> dict[str, list[Suite]]:
    """Read every suite named in config up front: a broken suite file is a config error."""
    suites: dict[str, list[Suite]] = {}
    for name, ds in loaded.config.datasets.items():
        suites[name] = []
        for i, ref in enumerate(ds.suites):
            path = resolve_path(loaded.base_dir, ref)
            if not path.exists():
                raise SuiteError(f"{loaded.where('datasets', name, 'suites', i)} "
                                 f"datasets.{name}.suites[{i}]: suite file {str(path)!r} "
                                 "not found")
            suites[name].append(load_suite(path))
    return suites


def load_declared_access(loaded: LoadedConfig) -> dict[str, AccessInventory]:
    """Declared access inventories (YAML) per source; a broken file is a config error."""
    out = {}
    for source, ref in loaded.config.access_inventories.items():
        inv = load_declared_inventory(resolve_path(loaded.base_dir, ref))
        out[source] = replace(inv, source=source)
    return out


def _access(loaded: LoadedConfig, connectors: dict[str, Connector],
            states: dict[str, _Loaded], declared: dict[str, AccessInventory],
            findings: list[Finding]) -> dict[str, AccessInventory]:
    """Who can read the loaded objects, per source: introspected where the connector can,
    declared where the config provides a file. A failure is a finding; the run goes on."""
    out = dict(declared)
    objects: dict[str, list[str]] = {}
    for st in states.values():
        objects.setdefault(st.cfg.source, []).append(st.cfg.object)
    for source, objs in objects.items():
        conn = connectors[source]
        if source in out or not isinstance(conn, SupportsAccess):
            continue
        try:
            inv = conn.access(sorted(set(objs)))
        except SourceError as exc:
            findings.append(Finding("ACC001", "critical", f"access inventory of source "
                                    f"{source!r} could not be read: {exc}", source=source,
                                    hint=exc.hint or "grant the auditor's login read access "
                                    "to the catalog, or declare an inventory file"))
            continue
        if inv is not None:
            out[source] = inv
    return out


def _only(inv: AccessInventory, obj: str) -> AccessInventory:
    return replace(inv, grants=tuple(g for g in inv.grants if g.object == obj))


def bind_sources(loaded: LoadedConfig) -> dict[str, Connector]:
    """Build a connector per source; unknown kinds and bad options abort here (exit 2)."""
    return {name: bind(name, src.options, loaded.base_dir, where=loaded.where("sources", name))
            for name, src in loaded.config.sources.items()}


def run_audit(loaded: LoadedConfig, *, store_path: str | None = None,
              progress: Progress | None = None, engine: str = "native",
              as_of: datetime | None = None) -> AuditResult:
    """Run the whole audit described by ``loaded`` and persist it as one atomic run."""
    cfg = loaded.config
    as_of = as_of or cfg.as_of or datetime.now(UTC)
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    suites = load_suites(loaded)
    declared = load_declared_access(loaded)
    connectors = bind_sources(loaded)
    started = datetime.now(UTC)
    store = Store.open(loaded.store_path(store_path))
    try:
        with store.run(config_path=str(loaded.path), config_hash=loaded.hash,
                       version=__version__, as_of=as_of) as writer, _closing(connectors):
            result = _run(loaded, writer, connectors, suites, declared, as_of=as_of,
                          started=started,
                          progress=progress or (lambda _: None), engine=engine)
        # after COMMIT: a lineage backend that is down or slow can only add a finding
        return lineage.emit_run(result, loaded, store=store)
    finally:
        store.close()


@contextmanager
def _closing(connectors: dict[str, Connector]) -> Iterator[None]:
    try:
        yield
    finally:
        for c in connectors.values():
            try:
                c.close()
            except Exception:  # noqa: BLE001 - closing must not hide the run's own outcome
                log.debug("closing a connector failed", exc_info=True)


def _run(loaded: LoadedConfig, writer: RunWriter, connectors: dict[str, Connector],
         suites: dict[str, list[Suite]], declared: dict[str, AccessInventory], *,
         as_of: datetime, started: datetime, progress: Progress, engine: str) -> AuditResult:
    cfg = loaded.config
    findings: list[Finding] = []
    states: dict[str, _Loaded] = {}
    failed: dict[str, DatasetResult] = {}
    for name, ds in cfg.datasets.items():
        progress(f"ingest {name}")
        try:
            states[name] = _ingest(writer, connectors[ds.source], name, ds, as_of=as_of)
        except SourceError as exc:
            log.debug("source failure for %s", name, exc_info=True)
            failed[name] = DatasetResult(name=name, source=ds.source, object=ds.object,
                                         status="failed", error=str(exc), owner=ds.owner,
                                         system_of_record=ds.system_of_record)
            findings.append(source_failure_finding(name, ds.source, exc))
    con = writer.con
    for name, st in states.items():
        progress(f"validate {name}")
        contract = contract_suite(st.cfg.source, st.result.metadata) \
            if st.cfg.source_contracts and st.result.metadata else None
        st.result = replace(st.result, expectations=tuple(
            _validate(con, st, [*([contract] if contract else []), *suites[name]],
                      engine=engine)))
    for source, inv in _access(loaded, connectors, states, declared, findings).items():
        writer.write_roles(inv)
        for st in states.values():
            if st.cfg.source == source:
                st.result = replace(st.result, access=inv)
                writer.write_access(st.name, _only(inv, st.cfg.object))
    datasets = {**{n: s.result for n, s in states.items()}, **failed}
    findings.extend(_reference_findings(con, states, cfg.datasets))
    graph, lineage_findings = lineage.collect_graph(loaded, datasets, run_id=writer.run_id,
                                                    store_path=str(writer.store.path))
    findings.extend(lineage_findings)
    lineage.write_graph(writer, graph)
    scores = []
    for uc in cfg.use_cases:
        progress(f"score {uc.use_case}")
        missing = _missing_columns(uc, datasets, cfg.datasets)
        for ref in missing:
            findings.append(missing_column_finding(uc.use_case, ref, _where_ref(loaded, uc, ref)))
        measures = _measure(con, uc, states, missing)
        findings.extend(lineage.unowned_findings(graph, uc, datasets))
        scores.append(score_use_case(uc, specs_for(uc), datasets, measures, as_of=as_of,
                                     missing_columns=missing, graph=graph))
    for st in states.values():
        findings.extend(dataset_findings(st.result))
    if cfg.store.mask_pii:
        for st in states.values():
            writer.mask_columns(st.table, {c: redact_sql(quote_ident(c), p.kinds,
                                                         free_text=p.free_text)
                                           for c, p in st.result.pii.items()})
    ordered = [datasets[n] for n in cfg.datasets]
    for d in ordered:
        writer.write_dataset(d)
        if d.metadata:
            writer.write_schema(d.name, d.metadata.columns)
        if d.profile:
            writer.write_profile(d.profile)
        writer.write_expectations(d.expectations)
        writer.write_pii(d.name, {c: p.reason for c, p in d.pii.items()})
        if not cfg.store.keep_samples and d.sample_table:
            writer.drop_sample(d.sample_table)
    writer.write_findings(findings)
    writer.write_scores(scores)
    result = AuditResult(
        run_id=writer.run_id, started_at=started, finished_at=datetime.now(UTC),
        config_path=str(loaded.path), config_hash=loaded.hash,
        store_path=str(writer.store.path), datasets=tuple(ordered), use_cases=tuple(scores),
        findings=tuple(findings))
    writer.finish(result, "partial" if failed else "ok")
    return result


def _ingest(writer: RunWriter, connector: Connector, name: str, ds: DatasetConfig, *,
            as_of: datetime) -> _Loaded:
    spec = SampleSpec(method=ds.sampling.method, n=ds.sampling.n, seed=ds.sampling.seed,
                      where=ds.sampling.where)
    sample = connector.sample(ds.object, spec, ds.options)
    try:
        table, rows = writer.write_sample(name, sample.reader)
    except duckdb.Error as exc:
        # A connector error raised mid-stream reaches us wrapped by DuckDB's Arrow scan.
        raise SourceDataError(f"dataset {name}: reading {ds.object!r} failed mid-stream: "
                              f"{exc}") from None
    writer.write_rejected(name, sample.rejected)
    con = writer.con
    present = {c[0] for c in con.execute(f"DESCRIBE {quote_ident(table)}").fetchall()}
    keys = [k for k in ds.key if k in present]
    profile = profile_table(con, table, dataset=name, key_columns=keys, as_of=as_of)
    pii = _pii(con, table, profile, ds, sample.metadata)
    if pii:
        profile = _mask_profile(profile, pii)
    near = None
    dedupe = [c for c in ds.near_duplicates if c in present]
    if dedupe:
        near = near_duplicates(con, table, name, dedupe)
    result = DatasetResult(
        name=name, source=ds.source, object=ds.object, status="ok", rows=rows,
        source_rows=sample.source_rows, sample_table=table, metadata=sample.metadata,
        profile=profile,
        rejected_rows=sample.rejected_total or len(sample.rejected), pii=pii,
        owner=ds.owner or sample.metadata.owner,
        system_of_record=ds.system_of_record, near_duplicates=near, stopped=sample.stopped,
        notes=tuple(sample.notes), unparsed=dict(sample.unparsed))
    return _Loaded(name, ds, table, rows, result)


def _pii(con: duckdb.DuckDBPyConnection, table: str, profile: TableProfile,
         ds: DatasetConfig, metadata: ObjectMetadata | None = None) -> dict[str, PiiSummary]:
    found: dict[str, PiiSummary] = {}
    for col, m in detect_pii(con, table, profile).items():
        if col in ds.not_pii:
            continue
        found[col] = PiiSummary(col, tuple(m.kinds), m.reason,
                                max(m.share.values(), default=0.0), m.free_text)
    for col in ds.pii_columns:
        if col not in found and profile.column(col) is not None:
            found[col] = PiiSummary(col, ("declared",), "declared as PII in audit.yml", 1.0,
                                    declared=True)
    for c in metadata.columns if metadata else ():
        if c.sensitivity and c.name not in found and c.name not in ds.not_pii \
                and profile.column(c.name) is not None:
            found[c.name] = PiiSummary(c.name, ("declared",), f"{ds.source} classifies the "
                                       f"field as {c.sensitivity} data", 1.0, declared=True)
    return found


def _mask_profile(profile: TableProfile, pii: dict[str, PiiSummary]) -> TableProfile:
    """Masked copies of PII columns' example values: profiles are stored and printed."""
    def mask(col: ColumnProfile) -> ColumnProfile:
        p = pii.get(col.name)
        if p is None:
            return col
        if p.free_text:
            return replace(col, top_values=tuple(
                (mask_value(v, p.kinds)[:40], c) for v, c in col.top_values))
        return replace(
            col, min=None if col.min is None else mask_value(col.min, p.kinds, free_text=False),
            max=None if col.max is None else mask_value(col.max, p.kinds, free_text=False),
            quantiles=None, top_values=tuple((mask_value(v, p.kinds, free_text=False), c)
                                             for v, c in col.top_values))
    return replace(profile, columns=tuple(mask(c) for c in profile.columns))


def _validate(con: duckdb.DuckDBPyConnection, st: _Loaded, suites: list[Suite], *,
              engine: str) -> list[ExpectationOutcome]:
    outcomes: list[ExpectationOutcome] = []
    masks = {c: (lambda v, k=p.kinds, f=p.free_text: mask_value(v, k, free_text=f))
             for c, p in st.result.pii.items()}
    for suite in suites:
        if engine == "gx":
            outcomes.extend(run_suite_with_gx(con, st.table, suite, dataset=st.name))
        else:
            outcomes.extend(run_suite(con, st.table, suite, dataset=st.name,
                                      masked_columns=masks))
    return outcomes


def _reference_findings(con: duckdb.DuckDBPyConnection, states: dict[str, _Loaded],
                        declared: dict[str, DatasetConfig]) -> list[Finding]:
    """Orphan foreign keys for every declared dataset reference between loaded datasets."""
    out = []
    for name, st in states.items():
        for col, target in st.cfg.references.items():
            split = split_column_ref(target, declared)
            parent = states.get(split[0]) if split else None
            prof = st.result.profile
            if parent is None or split is None or prof is None or prof.column(col) is None \
                    or parent.result.profile is None \
                    or parent.result.profile.column(split[1]) is None:
                continue
            join = join_match(con, st.table, col, parent.table, split[1],
                              left=f"{name}.{col}", right=target, min_match=1.0)
            if (f := orphan_finding(name, col, target, join)) is not None:
                out.append(f)
    return out


def _missing_columns(uc: UseCaseConfig, datasets: dict[str, DatasetResult],
                     declared: dict[str, DatasetConfig]) -> list[str]:
    """Declared columns absent from a dataset that did load (schema drift or typos)."""
    refs = list(uc.features) + list(uc.context) + [j.left for j in uc.joins] + \
        [j.right for j in uc.joins]
    if uc.label:
        refs.append(uc.label.column)
    if uc.freshness:
        refs.append(uc.freshness.column)
    missing = []
    for ref in dict.fromkeys(refs):
        split = split_column_ref(ref, declared)
        d = datasets.get(split[0]) if split else None
        if d and d.status == "ok" and d.profile and d.profile.column(split[1]) is None:
            missing.append(ref)
    return missing


def _where_ref(loaded: LoadedConfig, uc: UseCaseConfig, ref: str) -> str:
    idx = loaded.config.use_cases.index(uc)
    for field in ("features", "context"):
        values = getattr(uc, field)
        if ref in values:
            return loaded.where("use_cases", idx, field, values.index(ref))
    return loaded.where("use_cases", idx)


def _measure(con: duckdb.DuckDBPyConnection, uc: UseCaseConfig, states: dict[str, _Loaded],
             missing: list[str]) -> UseCaseMeasures:
    m = UseCaseMeasures()

    def locate(ref: str) -> tuple[_Loaded, str] | None:
        if ref in missing:
            return None
        split = split_column_ref(ref, {d.ref: None for d in uc.datasets})
        if split and split[0] in states:
            return states[split[0]], split[1]
        return None

    for j in uc.joins:
        left, right = locate(j.left), locate(j.right)
        if left and right:
            m.joins.append(join_match(con, left[0].table, left[1], right[0].table, right[1],
                                      left=j.left, right=j.right, min_match=j.min_match))
    required = list(uc.features) + ([uc.label.column] if uc.label else []) + list(uc.context)
    by_ds: dict[str, list[str]] = {}
    for ref in required:
        loc = locate(ref)
        if loc:
            by_ds.setdefault(loc[0].name, []).append(loc[1])
    for name, cols in by_ds.items():
        m.record_completeness.append(
            record_completeness(con, states[name].table, name, list(dict.fromkeys(cols))))
    if uc.label and (loc := locate(uc.label.column)):
        st, col = loc
        try:
            m.label = label_stats(con, st.table, col, ref=uc.label.column,
                                  positive=uc.label.positive, population=uc.population)
        except duckdb.Error as exc:
            m.errors.append(f"label population filter failed: {exc}")
            m.label = label_stats(con, st.table, col, ref=uc.label.column,
                                  positive=uc.label.positive, population=None)
        numeric = [(ref, c) for ref in uc.features if (fl := locate(ref)) and fl[0] is st
                   and (prof := st.result.profile and st.result.profile.column(fl[1]))
                   and prof.mean is not None for c in [fl[1]]]
        if uc.label.type == "binary":
            m.correlations = label_correlations(con, st.table, col, uc.label.positive, numeric)
    for ref in uc.context:
        loc = locate(ref)
        if loc:
            m.texts.append(text_usability(con, loc[0].table, loc[1], ref=ref,
                                          min_chars=uc.text.min_chars,
                                          max_chars=uc.text.max_chars))
    return m


def profile_dataset(loaded: LoadedConfig, dataset: str) -> DatasetResult:
    """Ingest and profile one dataset in memory, without touching the audit store."""
    ds = loaded.config.datasets[dataset]
    connectors = {ds.source: bind(ds.source, loaded.config.sources[ds.source].options,
                                  loaded.base_dir, where=loaded.where("sources", ds.source))}
    store = Store.open(":memory:")
    try:
        with store.run(config_path=str(loaded.path), config_hash=loaded.hash,
                       version=__version__, as_of=datetime.now(UTC)) as writer, \
                _closing(connectors):
            as_of = loaded.config.as_of or datetime.now(UTC)
            return _ingest(writer, connectors[ds.source], dataset, ds, as_of=as_of).result
    finally:
        store.close()


def summary_dict(result: AuditResult) -> dict[str, Any]:
    return {u.use_case: {"band": u.band.value, "score": u.score} for u in result.use_cases}

