"""Sampling, foreign keys and the DuckDB plumbing behind ``auditor suggest``.

Datasets are sampled with the connectors and sampling spec of ``audit.yml`` (the same rows
``auditor audit`` would see) into plain tables of one in-memory DuckDB connection; nothing is
written to the audit store. Foreign keys come from ``audit.yml``'s ``references`` (declared)
or from names plus match share (candidates): GX 1.x has no cross-table expectation, so they
are measured here and emitted as a ``references`` snippet, not as suite entries.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from auditor import expectation_sql as xsql
from auditor.config import LoadedConfig, split_column_ref
from auditor.errors import SourceDataError, SourceError
from auditor.measure import join_match
from auditor.models import Finding, ObjectMetadata, SampleSpec, TableProfile
from auditor.profile import profile_table
from auditor.registry import bind
from auditor.suggest_candidates import Settings, pct


def settle(con: duckdb.DuckDBPyConnection) -> None:
    """Finish any half-read result: DuckDB 2 keeps its transaction (and snapshot) open."""
    con.execute("SELECT 1").fetchall()


@dataclass(frozen=True, slots=True)
class ReferenceSpec:
    """A foreign key to measure: ``column`` of the child against ``parent_table.parent_column``."""

    column: str
    target: str  # "dataset.column", as audit.yml's `references` spells it
    parent_table: str
    parent_column: str
    declared: bool


@dataclass(frozen=True, slots=True)
class Reference:
    """A measured foreign key (declared in audit.yml, or a name + match-share candidate)."""

    column: str
    target: str
    declared: bool
    child_rows: int
    null_children: int
    matched: int
    orphan_examples: tuple[str, ...]

    @property
    def match_share(self) -> float:
        """Share of non-null child values found in the parent (1.0 when none)."""
        present = self.child_rows - self.null_children
        return self.matched / present if present else 1.0


def measure_references(con: duckdb.DuckDBPyConnection, table: str, dataset: str,
                       specs: Sequence[ReferenceSpec]) -> tuple[list[Reference], list[Finding]]:
    """Match share of each foreign key (anti-join, as ``auditor audit`` does) and a finding
    for the orphans. Null children are not orphans here: completeness reports those."""
    refs, findings = [], []
    for spec in specs:
        jm = join_match(con, table, spec.column, spec.parent_table, spec.parent_column,
                        left=f"{dataset}.{spec.column}", right=spec.target, min_match=1.0)
        settle(con)
        ref = Reference(spec.column, spec.target, spec.declared, jm.child_rows,
                        jm.null_children, jm.matched, jm.orphan_examples)
        refs.append(ref)
        orphans = jm.child_rows - jm.null_children - jm.matched
        if orphans:
            findings.append(Finding(
                "SUG011", "major", f"{orphans} values ({pct(1 - ref.match_share)}) of "
                f"{spec.column} have no match in {spec.target}, e.g. "
                f"{', '.join(jm.orphan_examples[:3])}", dataset=dataset, column=spec.column,
                hint="load the missing parents or fix the keys; the reference is emitted for "
                "audit.yml (GX has no cross-table expectation)",
                detail={"kind": "orphans", "count": orphans, "n": jm.child_rows - jm.null_children,
                        "target": spec.target, "declared": spec.declared,
                        "examples": list(jm.orphan_examples)}))
    return refs, findings


@dataclass(frozen=True, slots=True)
class LoadedSample:
    """A dataset sampled into the working DuckDB connection."""

    name: str
    table: str
    metadata: ObjectMetadata
    profile: TableProfile
    key: tuple[str, ...]


def load_samples(loaded: LoadedConfig, names: Sequence[str], con: duckdb.DuckDBPyConnection,
                 *, as_of: datetime) -> tuple[dict[str, LoadedSample], dict[str, str]]:
    """Sample and profile ``names`` exactly as ``auditor audit`` would (same connectors, same
    sampling spec), into plain tables of ``con``; the audit store is not touched.

    Returns (samples, failures): a source that cannot be read is a failure, not an exception.
    """
    cfg = loaded.config
    out: dict[str, LoadedSample] = {}
    failures: dict[str, str] = {}
    connectors: dict[str, Any] = {}
    try:
        for name in names:
            ds = cfg.datasets[name]
            try:
                if ds.source not in connectors:
                    connectors[ds.source] = bind(ds.source, cfg.sources[ds.source].options,
                                                 loaded.base_dir,
                                                 where=loaded.where("sources", ds.source))
                spec = SampleSpec(method=ds.sampling.method, n=ds.sampling.n,
                                  seed=ds.sampling.seed, where=ds.sampling.where)
                sample = connectors[ds.source].sample(ds.object, spec, ds.options)
                table = "sample__" + re.sub(r"\W", "_", name)
                settle(con)
                cur = con.cursor()
                try:
                    cur.register("__incoming", sample.reader)
                    cur.execute(f"CREATE OR REPLACE TABLE {xsql.quote_ident(table)} AS "
                                "SELECT * FROM __incoming").fetchall()
                except duckdb.Error as exc:
                    raise SourceDataError(f"dataset {name}: reading {ds.object!r} failed: "
                                          f"{exc}") from None
                finally:
                    cur.close()
                settle(con)
                present = {c.name for c in xsql.describe_table(con, table)}
                key = tuple(k for k in ds.key if k in present)
                profile = profile_table(con, table, dataset=name, key_columns=key, as_of=as_of)
                settle(con)
                out[name] = LoadedSample(name, table, sample.metadata, profile, key)
            except SourceError as exc:
                failures[name] = str(exc)
    finally:
        for c in connectors.values():
            c.close()
    return out, failures


def reference_specs(loaded: LoadedConfig, name: str, samples: dict[str, LoadedSample],
                    con: duckdb.DuckDBPyConnection, settings: Settings) -> list[ReferenceSpec]:
    """Declared references, then candidates: a column named like another dataset's single key
    (``account_id`` or ``crm_account_id`` for ``account_id``) whose values mostly match it."""
    cfg = loaded.config
    child = samples[name]
    specs: list[ReferenceSpec] = []
    for col, target in cfg.datasets[name].references.items():
        split = split_column_ref(target, cfg.datasets)
        if split and split[0] in samples and child.profile.column(col) is not None \
                and samples[split[0]].profile.column(split[1]) is not None:
            specs.append(ReferenceSpec(col, target, samples[split[0]].table, split[1], True))
    done = {s.column for s in specs}
    for c in child.profile.columns:
        if c.name in done or c.name in child.key:
            continue
        for other, ds in cfg.datasets.items():
            if other == name or other not in samples or len(ds.key) != 1:
                continue
            k = ds.key[0]
            if c.name != k and not c.name.endswith("_" + k):
                continue
            parent = samples[other]
            jm = join_match(con, child.table, c.name, parent.table, k, left=c.name,
                            right=f"{other}.{k}", min_match=1.0)
            settle(con)
            present = jm.child_rows - jm.null_children
            if present and jm.matched / present >= settings.fk_min_match:
                specs.append(ReferenceSpec(c.name, f"{other}.{k}", parent.table, k, False))
                break
    return specs


def parents_needed(loaded: LoadedConfig, samples: dict[str, LoadedSample]) -> list[str]:
    """Datasets the loaded ``samples`` may reference: declared targets, and datasets whose
    single key is named like one of their columns (confirmed by match share once loaded)."""
    cfg = loaded.config
    out: list[str] = []
    for name, s in samples.items():
        for target in cfg.datasets[name].references.values():
            split = split_column_ref(target, cfg.datasets)
            if split and split[0] not in samples and split[0] not in out:
                out.append(split[0])
        columns = [c.name for c in s.profile.columns if c.name not in s.key]
        for other, ds in cfg.datasets.items():
            if other in samples or other in out or len(ds.key) != 1:
                continue
            if any(c == ds.key[0] or c.endswith("_" + ds.key[0]) for c in columns):
                out.append(other)
    return out
