"""Stage 4: the readiness verdict of one use case. A pure function: no I/O.

Model (readiness-model.md §2): each requirement yields one evidence record with a utility in
[0, 1] between its ``fail`` and ``target`` thresholds; the score is the weighted sum of utilities
(group weight × within-group severity weight), so ``score + Σ points_lost == 100`` and every lost
point belongs to one check. Requirements with no evidence score utility 0 ("no evidence is not a
pass"); requirements that do not apply are excluded and reported. Groups with no applicable
requirement drop out and the remaining group weights are renormalised to 100.

The band is decided before the score and the score never overrides it: any blocker → Not ready
(C for access/legal gates, B for validity gates); otherwise critical findings, missing evidence
or a score below 80 → Conditionally ready; a score below 60 without blockers is also Not ready
(B), because a pilot cannot start on data that fails that much of what it needs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from auditor.access import broad_readers, can_read
from auditor.checks import ACCESS_BLOCKERS, GROUP_NAMES, CheckSpec, check_weight, group_weights
from auditor.config import UseCaseConfig, split_column_ref
from auditor.lineage import pii_feature_paths, traceability, unowned_datasets
from auditor.lineage_graph import LineageGraph
from auditor.measure import UseCaseMeasures
from auditor.models import (
    AccessGrant,
    AccessInventory,
    Band,
    Blocker,
    CheckEvidence,
    DatasetResult,
    UseCaseScore,
)

READY_SCORE = 80.0
NOT_READY_SCORE = 60.0


def wilson_low(successes: int, n: int, z: float = 1.96) -> float | None:
    """Lower 95% Wilson bound of a proportion; ``None`` without observations."""
    if n <= 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - margin) / denom)


def utility(spec: CheckSpec, value: float) -> float:
    span = spec.target - spec.fail
    if spec.direction == "higher":
        u = (value - spec.fail) / span if span else float(value >= spec.target)
    else:
        span = spec.fail - spec.target
        u = (spec.fail - value) / span if span else float(value <= spec.target)
    return min(1.0, max(0.0, u))


@dataclass
class _Context:
    uc: UseCaseConfig
    specs: dict[str, CheckSpec]
    datasets: dict[str, DatasetResult]
    measures: UseCaseMeasures
    as_of: datetime
    missing: list[str]
    graph: LineageGraph
    records: list[CheckEvidence] = field(default_factory=list)

    def col(self, ref: str) -> tuple[str, str] | None:
        return split_column_ref(ref, self.datasets)

    def loaded(self, name: str) -> DatasetResult | None:
        d = self.datasets.get(name)
        return d if d is not None and d.status == "ok" and d.profile is not None else None

    def required_columns(self) -> list[str]:
        refs = list(self.uc.features) + list(self.uc.context)
        if self.uc.label:
            refs.append(self.uc.label.column)
        return list(dict.fromkeys(refs))

    def owner_of(self, dataset: str | None) -> str | None:
        d = self.datasets.get(dataset or "")
        return (d.owner if d else None) or self.uc.owner

    def add(self, check: str, *, scope: str, value: float | None = None,
            status: str = "evaluated", display: str | None = None, n: int | None = None,
            ci95_low: float | None = None, reason: str | None = None,
            blocker: str | None = None, owner: str | None = None,
            evidence: dict[str, Any] | None = None, fix: str | None = None) -> None:
        spec = self.specs[check]
        u = utility(spec, value) if status == "evaluated" and value is not None else None
        if status == "not_evaluated":
            u = 0.0
        self.records.append(CheckEvidence(
            check=check, name=spec.name, group=spec.group, scope=scope, status=status,  # type: ignore[arg-type]
            severity=spec.severity, value=value, display=display, n=n, ci95_low=ci95_low,
            fail=spec.fail, target=spec.target, direction=spec.direction, utility=u,
            weight=check_weight(self.uc, spec), blocker=blocker, reason=reason,
            fix=fix or spec.fix, owner=owner or self.uc.owner, evidence=evidence or {}))

    def not_applicable(self, check: str, reason: str) -> None:
        self.add(check, scope="-", status="not_applicable", reason=reason)


def score_use_case(uc: UseCaseConfig, specs: dict[str, CheckSpec],
                   datasets: dict[str, DatasetResult], measures: UseCaseMeasures, *,
                   as_of: datetime, missing_columns: Iterable[str] = (),
                   graph: LineageGraph | None = None) -> UseCaseScore:
    """Evaluate every requirement of ``uc`` and fold them into band and score."""
    scoped = {d.ref: datasets[d.ref] for d in uc.datasets if d.ref in datasets}
    ctx = _Context(uc, specs, scoped, measures, as_of, list(missing_columns),
                   graph if graph is not None else LineageGraph())
    for evaluate in (_availability, _privacy, _completeness, _uniqueness, _validity,
                     _integrity, _freshness, _label, _text, _context):
        evaluate(ctx)
    return _fold(ctx)


# --- Availability and privacy ----------------------------------------------------------------


def _availability(ctx: _Context) -> None:
    declared = len(ctx.uc.datasets) + len(ctx.required_columns())
    found = declared - len(ctx.missing)
    ctx.add("A1", scope="declared datasets and columns", value=found / declared if declared else 1,
            display=f"{found}/{declared} found", n=declared,
            blocker="A1" if ctx.missing else None,
            reason=("missing: " + ", ".join(ctx.missing)) if ctx.missing else None,
            evidence={"kind": "metadata", "missing": ctx.missing})
    loaded = [d for d in ctx.datasets.values() if d.status == "ok" and d.rows > 0]
    failed = [f"{d.name} ({d.error or 'no rows'})" for d in ctx.datasets.values()
              if d not in loaded]
    total = len(ctx.datasets)
    ctx.add("A2", scope="datasets", value=len(loaded) / total if total else 0,
            display=f"{len(loaded)}/{total} loaded with rows", n=total,
            blocker="A2" if failed or not total else None,
            reason=("not loaded: " + "; ".join(failed)) if failed else None,
            evidence={"kind": "ingest", "failed": failed})
    _consumer_access(ctx)


def _consumer_access(ctx: _Context) -> None:
    """A3: the consuming role can read every required column (grants through role chains)."""
    role = ctx.uc.consuming_role
    if not role:
        ctx.not_applicable("A3", "no consuming_role declared")
        return
    cols = [s for s in (ctx.col(r) for r in ctx.required_columns()) if s]
    blind = sorted({name for name, _ in cols if not _inventory(ctx, name)})
    if blind:
        ctx.add("A3", scope=f"role {role}", status="not_evaluated",
                reason="no evidence: no access-control inventory for " + ", ".join(blind),
                evidence={"kind": "grants", "available": False, "datasets": blind})
        return
    reasons: dict[str, str] = {}
    denied = []
    for name, col in cols:
        d = ctx.datasets[name]
        grant = can_read(_inventory(ctx, name), role, d.object, col)  # type: ignore[arg-type]
        ref = f"{name}.{col}"
        if grant is None:
            denied.append(ref)
        else:
            reasons[ref] = _why(grant)
    ok = len(cols) - len(denied)
    ctx.add("A3", scope=f"role {role}", value=ok / len(cols) if cols else 1.0, n=len(cols),
            display=f"{role} can read {ok}/{len(cols)} required columns",
            blocker="B3" if denied else None,
            reason=("cannot read: " + ", ".join(denied)) if denied else None,
            fix=f"GRANT SELECT on the missing columns to {role} (or a role it is a member of)",
            evidence={"kind": "grants", "readable": reasons, "denied": denied})


def _inventory(ctx: _Context, dataset: str) -> AccessInventory | None:
    d = ctx.datasets.get(dataset)
    return d.access if d is not None else None


def _why(g: AccessGrant) -> str:
    chain = " → ".join(g.path) if len(g.path) > 1 else g.grantee
    extra = "".join(f", {x}" for x, on in (("row-filtered", g.row_filtered),
                                           ("masked", g.masked)) if on)
    return f"{g.via} via {chain}{extra}" + (f" ({g.detail})" if g.detail else "")


def _pii_in_scope(ctx: _Context) -> dict[str, Any]:
    return {f"{name}.{col}": info for name, d in ctx.datasets.items()
            for col, info in d.pii.items()}


def _privacy(ctx: _Context) -> None:
    pii = _pii_in_scope(ctx)
    _pii_exposure(ctx, pii)
    allowed = set(ctx.uc.pii_policy.allowed_in_features)
    cols = list(ctx.uc.features) + list(ctx.uc.context)
    bad = [c for c in cols if c in pii and not pii[c].free_text and c not in allowed]
    # column lineage carrying a PII column into a feature unmasked is the same exposure
    paths = [p.describe(ctx.graph) for p in pii_feature_paths(ctx.graph, ctx.uc, ctx.datasets)]
    count = len(bad) + len(paths)
    ctx.add("P3", scope="features and context", value=float(count),
            display=f"{count} disallowed PII column(s) or lineage path(s)"
            + (": " + ", ".join(bad + paths) if count else ""),
            n=len(cols), blocker="B2" if count else None,
            reason="; ".join([f"{c}: {pii[c].reason}" for c in bad]
                             + [f"unmasked lineage {p}" for p in paths]) or None,
            evidence={"kind": "pii+lineage", "columns": {c: pii[c].reason for c in bad},
                      "lineage_paths": paths})
    texts = [c for c in ctx.uc.context if c in pii and pii[c].free_text]
    policy = ctx.uc.pii_policy.free_text
    if not ctx.uc.context:
        ctx.not_applicable("P5", "no text context declared")
    elif policy == "allow":
        ctx.not_applicable("P5", "pii_policy.free_text is allow")
    else:
        share = max((pii[c].share for c in texts), default=0.0)
        worst = max(texts, key=lambda c: pii[c].share) if texts else None
        ctx.add("P5", scope=", ".join(ctx.uc.context), value=share,
                display=f"{share:.1%} of documents embed PII" + (f" ({worst})" if worst else ""),
                blocker="B2" if texts and policy == "block" else None,
                reason="; ".join(f"{c}: {pii[c].reason}" for c in texts) or None,
                evidence={"kind": "pii", "columns": {c: pii[c].reason for c in texts},
                          "policy": policy})


def _pii_exposure(ctx: _Context, pii: dict[str, Any]) -> None:
    """P2/B1: no PII column readable by a broad role (PUBLIC, declared, or many members)."""
    if not pii:
        ctx.not_applicable("P2", "no PII column in scope")
        return
    policy = ctx.uc.pii_policy
    exposed: dict[str, list[str]] = {}
    blind = []
    for ref in sorted(pii):
        name, col = ref.rsplit(".", 1)
        inv = _inventory(ctx, name)
        if inv is None:
            blind.append(ref)
            continue
        for g in broad_readers(inv, ctx.datasets[name].object, col, policy.broad_roles,
                               policy.max_members):
            if g.masked and policy.masked_ok:
                continue
            exposed.setdefault(ref, []).append(f"{g.path[-1] if g.path else g.grantee}: "
                                               f"{_why(g)}")
    pairs = sum(len(v) for v in exposed.values())
    if blind and not exposed:
        ctx.add("P2", scope=f"{len(pii)} PII columns", status="not_evaluated",
                reason="no evidence: who can read " + ", ".join(blind) + " is unknown "
                       "(no access-control inventory for these sources)",
                evidence={"kind": "grants", "pii_columns": sorted(pii), "unknown": blind})
        return
    ctx.add("P2", scope=f"{len(pii) - len(blind)} PII columns", value=float(pairs),
            display=f"{pairs} (PII column, broad role) pair(s) readable without masking",
            blocker="B1" if pairs else None,
            reason="; ".join(f"{c} readable by {', '.join(v)}" for c, v in exposed.items())
            or (("not inventoried: " + ", ".join(blind)) if blind else None),
            evidence={"kind": "grants", "exposed": exposed, "unknown": blind})


# --- Intrinsic quality -------------------------------------------------------------------------


def _completeness(ctx: _Context) -> None:
    per_col: dict[str, float] = {}
    worst: tuple[str, int, int] | None = None
    for ref in ctx.required_columns():
        split = ctx.col(ref)
        d = ctx.loaded(split[0]) if split else None
        prof = d.profile.column(split[1]) if d and d.profile and split else None
        if prof is None:
            continue
        present = prof.rows - prof.nulls - prof.empty
        per_col[ref] = present / prof.rows if prof.rows else 0.0
        if worst is None or per_col[ref] < worst[1] / max(worst[2], 1):
            worst = (ref, present, prof.rows)
    if worst is None:
        ctx.add("Q1", scope="required columns", status="not_evaluated",
                reason="no evidence: no required column could be profiled")
    else:
        ref, present, rows = worst
        split = ctx.col(ref)
        ctx.add("Q1", scope=ref, value=present / rows if rows else 0.0, n=rows,
                ci95_low=wilson_low(present, rows),
                display=f"worst {ref}: {present / rows if rows else 0:.1%} filled",
                owner=ctx.owner_of(split[0] if split else None),
                evidence={"kind": "profile", "per_column": per_col})
    if ctx.measures.record_completeness:
        rc = min(ctx.measures.record_completeness,
                 key=lambda r: r.complete / r.rows if r.rows else 0.0)
        ctx.add("Q2", scope=rc.dataset, value=rc.complete / rc.rows if rc.rows else 0.0,
                n=rc.rows, ci95_low=wilson_low(rc.complete, rc.rows),
                display=f"{rc.complete}/{rc.rows} rows complete in {rc.dataset}",
                owner=ctx.owner_of(rc.dataset),
                evidence={"kind": "sql", "per_dataset": {
                    r.dataset: r.complete / r.rows if r.rows else 0.0
                    for r in ctx.measures.record_completeness}})
    else:
        ctx.not_applicable("Q2", "no required columns")
    consts = []
    for ref in ctx.uc.features:
        split = ctx.col(ref)
        d = ctx.loaded(split[0]) if split else None
        prof = d.profile.column(split[1]) if d and d.profile and split else None
        if prof is not None and prof.distinct <= 1:
            consts.append(ref)
    if ctx.uc.features:
        ctx.add("Q10", scope="features", value=float(len(consts)),
                display=f"{len(consts)} constant feature(s)", n=len(ctx.uc.features),
                reason=", ".join(consts) or None, evidence={"kind": "profile"})
    else:
        ctx.not_applicable("Q10", "no features declared")


def _uniqueness(ctx: _Context) -> None:
    keyed = []
    for ref in ctx.uc.datasets:
        d = ctx.loaded(ref.ref)
        if d and d.profile and d.profile.key_columns and d.profile.duplicate_keys is not None:
            bad = d.profile.duplicate_keys + (d.profile.null_keys or 0)
            keyed.append((ref.ref, bad, d.profile.rows, d.profile.key_columns))
    if keyed:
        name, bad, rows, key = min(keyed, key=lambda k: 1 - k[1] / k[2] if k[2] else 0)
        share = 1 - bad / rows if rows else 0.0
        ctx.add("Q5", scope=f"{name} ({', '.join(key)})", value=share, n=rows,
                ci95_low=wilson_low(rows - bad, rows), owner=ctx.owner_of(name),
                display=f"{bad} duplicate or null key rows of {rows} in {name}",
                evidence={"kind": "profile", "per_dataset": {
                    k[0]: 1 - k[1] / k[2] if k[2] else 0.0 for k in keyed}})
    else:
        ctx.not_applicable("Q5", "no dataset declares a key")
    dups = [(ref.ref, ctx.datasets[ref.ref].near_duplicates) for ref in ctx.uc.datasets
            if ref.ref in ctx.datasets and ctx.datasets[ref.ref].near_duplicates is not None]
    if dups:
        name, nd = max(dups, key=lambda x: x[1].share)  # type: ignore[union-attr]
        assert nd is not None
        examples = [" ~ ".join(v) for v in nd.examples[:3]]
        ctx.add("Q6", scope=f"{name} ({', '.join(nd.columns)})", value=nd.share, n=nd.rows,
                display=f"{nd.extra_rows} near-duplicate rows in {nd.groups} groups",
                reason=("e.g. " + "; ".join(examples)) if examples else None,
                owner=ctx.owner_of(name),
                evidence={"kind": "sql", "examples": examples})
    else:
        ctx.not_applicable("Q6", "no near_duplicates columns declared")


def _required_columns_by_dataset(ctx: _Context) -> set[tuple[str, str]]:
    refs = ctx.required_columns() + [j.left for j in ctx.uc.joins] + [j.right for j in ctx.uc.joins]
    out = {s for s in (ctx.col(r) for r in refs) if s}
    for ref in ctx.uc.datasets:
        d = ctx.loaded(ref.ref)
        for k in (ref.key or (d.profile.key_columns if d and d.profile else ())):
            out.add((ref.ref, k))
    return out


def _validity(ctx: _Context) -> None:
    """Validity of what the model consumes: the worst required column (no dilution by the
    many passing checks on other columns; readiness-model.md pitfall 3)."""
    required = _required_columns_by_dataset(ctx)
    outcomes = [o for ref in ctx.uc.datasets if (d := ctx.loaded(ref.ref))
                for o in d.expectations if o.severity != "info"]
    relevant = [o for o in outcomes
                if not o.columns or any((o.dataset, c) in required for c in o.columns)]
    if not relevant:
        ctx.add("Q7", scope="required columns", status="not_evaluated",
                reason="no evidence: no expectation covers a required column")
        return
    per_col: dict[str, float] = {}
    for o in relevant:
        ok = 0.0 if o.error else 1.0 - min(1.0, o.unexpected_share)
        for c in (o.columns or ("(table)",)):
            key = f"{o.dataset}.{c}"
            per_col[key] = min(per_col.get(key, 1.0), ok)
    worst = min(per_col, key=lambda k: per_col[k])
    failing = sorted((o for o in relevant if o.success is False),
                     key=lambda o: -o.unexpected_share)
    critical = [o for o in failing if o.severity == "critical"]
    warnings = [o for o in failing if o.severity != "critical"]
    per_ds: dict[str, float] = {}
    for key, v in per_col.items():
        ds = next((d.ref for d in ctx.uc.datasets if key.startswith(d.ref + ".")), key)
        per_ds[ds] = min(per_ds.get(ds, 1.0), v)
    ctx.add("Q7", scope=worst, value=per_col[worst], n=len(relevant),
            display=f"{len(relevant) - len(failing)}/{len(relevant)} expectations on required "
                    f"columns pass; worst {worst}: {per_col[worst]:.1%} valid",
            blocker="B8" if critical else None,
            reason="; ".join(_describe(o) for o in failing[:4]) or None,
            owner=ctx.owner_of(failing[0].dataset) if failing else None,
            evidence={"kind": "gx", "failing": [_describe(o) for o in failing],
                      "critical_on_required": [_describe(o) for o in critical],
                      "warning_on_required": [_describe(o) for o in warnings],
                      "per_column": per_col, "per_dataset": per_ds})


def _describe(o: Any) -> str:
    where = f"{o.dataset}.{o.column}" if o.column else o.dataset
    if o.error:
        return f"{o.expectation_type} on {where}: {o.error}"
    pct = f"{o.unexpected_percent:.1f}%" if o.unexpected_percent is not None else "n/a"
    eg = f" e.g. {', '.join(o.examples[:3])}" if o.examples else ""
    return (f"{o.expectation_type} on {where} [{o.severity}]: {o.unexpected_count} unexpected "
            f"({pct}){eg}")


def _integrity(ctx: _Context) -> None:
    if not ctx.measures.joins:
        ctx.not_applicable("Q8", "no joins declared")
        return
    worst = min(ctx.measures.joins, key=lambda j: j.match_share)
    below = [j for j in ctx.measures.joins if j.match_share < j.min_match]
    split = ctx.col(worst.left)
    ctx.add("Q8", scope=f"{worst.left} -> {worst.right}", value=worst.match_share,
            n=worst.child_rows, ci95_low=wilson_low(worst.matched, worst.child_rows),
            display=f"{worst.matched}/{worst.child_rows} rows match "
                    f"({worst.match_share:.1%}, min {worst.min_match:.0%})",
            blocker="B7" if below else None,
            reason=(f"{worst.child_rows - worst.matched} orphan rows "
                    f"({worst.null_children} with null key); e.g. "
                    + ", ".join(worst.orphan_examples)) if worst.matched < worst.child_rows
            else None,
            owner=ctx.owner_of(split[0] if split else None),
            evidence={"kind": "sql", "query_hash": worst.query_hash,
                      "joins": {f"{j.left}->{j.right}": j.match_share
                                for j in ctx.measures.joins}})


# --- Currentness, ML fitness, text, lineage ------------------------------------------------------


def _freshness(ctx: _Context) -> None:
    fr = ctx.uc.freshness
    if fr is None:
        ctx.not_applicable("T1", "no freshness requirement declared")
        return
    split = ctx.col(fr.column)
    d = ctx.loaded(split[0]) if split else None
    prof = d.profile.column(split[1]) if d and d.profile and split else None
    if prof is None or prof.latest is None:
        ctx.add("T1", scope=fr.column, status="not_evaluated",
                reason=f"no evidence: {fr.column} has no timestamp values")
        return
    age_h = prof.freshness_hours if prof.freshness_hours is not None else float("nan")
    warn_h = fr.warn_after.total_seconds() / 3600
    err_h = fr.error_after.total_seconds() / 3600
    ctx.specs = {**ctx.specs, "T1": replace(ctx.specs["T1"], fail=err_h, target=warn_h)}
    ctx.add("T1", scope=fr.column, value=age_h,
            display=f"latest {prof.latest:%Y-%m-%d %H:%M}, {age_h:.0f} h old "
                    f"(warn {warn_h:.0f} h, error {err_h:.0f} h)",
            blocker="B6" if age_h > err_h else None, owner=ctx.owner_of(split[0]),
            evidence={"kind": "profile", "latest": str(prof.latest), "as_of": str(ctx.as_of)})


def _label(ctx: _Context) -> None:
    training = ctx.uc.kind == "tabular_training"
    lm = ctx.measures.label
    if ctx.uc.label is None:
        if training:
            ctx.add("F1", scope="label", status="not_evaluated", blocker="B4",
                    reason="no label declared for a training use case")
        else:
            ctx.not_applicable("F1", "no label for this kind of use case")
        for c in ("F2", "F3", "F4"):
            ctx.not_applicable(c, "no label declared")
        return
    if lm is None:
        ctx.add("F1", scope=ctx.uc.label.column, status="not_evaluated", blocker="B4",
                reason="no evidence: the label could not be measured")
        return
    share = lm.labelled / lm.rows if lm.rows else 0.0
    pop = f" where {lm.population}" if lm.population else ""
    ctx.add("F1", scope=lm.column + pop, value=share, n=lm.rows,
            ci95_low=wilson_low(lm.labelled, lm.rows),
            display=f"{lm.labelled}/{lm.rows} rows labelled",
            blocker="B4" if share < 1.0 else None,
            evidence={"kind": "sql", "query_hash": lm.query_hash, "classes": lm.class_counts})
    req = ctx.uc.sample
    ratios = {}
    if req.min_rows:
        ratios["rows"] = lm.labelled / req.min_rows
    if req.min_positive_events and lm.positives is not None:
        ratios["positive events"] = lm.positives / req.min_positive_events
    if ratios:
        what, ratio = min(ratios.items(), key=lambda kv: kv[1])
        ctx.add("F2", scope=lm.column, value=min(ratio, 1.0), n=lm.labelled,
                display=f"{lm.labelled} labelled rows (min {req.min_rows}), {lm.positives} "
                        f"positives (min {req.min_positive_events or '-'})",
                blocker="B4" if ratio < 0.5 else None,
                reason=f"{what} at {ratio:.0%} of the declared minimum" if ratio < 1 else None,
                evidence={"kind": "sql", "ratios": ratios})
    else:
        ctx.not_applicable("F2", "no sample minimum declared")
    if ctx.uc.label.type != "regression" and lm.class_counts:
        minority = min(lm.class_counts.values()) / lm.labelled if lm.labelled else 0.0
        ctx.add("F3", scope=lm.column, value=minority if len(lm.class_counts) > 1 else 0.0,
                n=lm.labelled, display=f"minority class share {minority:.1%}",
                evidence={"kind": "sql", "classes": lm.class_counts})
    else:
        ctx.not_applicable("F3", "regression label or no classes")
    if ctx.measures.correlations:
        top = max(ctx.measures.correlations, key=lambda c: c.value)
        ctx.add("F4", scope=top.feature, value=top.value,
                display=f"max |r| with label {top.value:.2f} ({top.feature})",
                blocker="B5" if top.value >= ctx.specs["F4"].fail else None,
                evidence={"kind": "sql", "correlations": {
                    c.feature: round(c.value, 4) for c in ctx.measures.correlations}})
    else:
        ctx.not_applicable("F4", "no numeric feature in the label's dataset")


def _text(ctx: _Context) -> None:
    if not ctx.measures.texts:
        ctx.not_applicable("X1", "no text context declared")
        ctx.not_applicable("X2", "no text context declared")
        return
    worst = min(ctx.measures.texts, key=lambda t: t.in_window / t.docs if t.docs else 0.0)
    ctx.add("X1", scope=worst.column, value=worst.in_window / worst.docs if worst.docs else 0.0,
            n=worst.docs, ci95_low=wilson_low(worst.in_window, worst.docs),
            display=f"{worst.in_window}/{worst.docs} documents of {worst.min_chars}-"
                    f"{worst.max_chars} chars; {worst.near_empty} near-empty",
            evidence={"kind": "sql"})
    dup = max(ctx.measures.texts, key=lambda t: t.duplicate_docs / t.docs if t.docs else 0.0)
    ctx.add("X2", scope=dup.column, value=dup.duplicate_docs / dup.docs if dup.docs else 0.0,
            n=dup.docs, display=f"{dup.duplicate_docs} duplicate documents",
            evidence={"kind": "sql"})


def _context(ctx: _Context) -> None:
    names = [d.ref for d in ctx.uc.datasets]
    trace = traceability(ctx.graph, ctx.uc, ctx.datasets)
    ctx.add("L1", scope="datasets", value=trace.share,
            display=f"{len(trace.traced)}/{len(names)} datasets trace to a system of record",
            reason=("untraced: " + ", ".join(trace.untraced)) if trace.untraced else None,
            evidence={"kind": "lineage", "traced": trace.traced})
    unowned = unowned_datasets(ctx.graph, ctx.uc, ctx.datasets)
    ctx.add("L3", scope="datasets",
            value=(len(names) - len(unowned)) / len(names) if names else 0.0,
            display=f"{len(names) - len(unowned)}/{len(names)} datasets have an owner "
                    "(themselves or upstream)",
            reason=("no owner anywhere in the lineage: " + ", ".join(unowned))
            if unowned else None,
            evidence={"kind": "metadata+lineage",
                      "per_dataset": {n: float(n not in unowned) for n in names}})
    required = _required_columns_by_dataset(ctx)
    tested = {(o.dataset, c) for n in names if (d := ctx.loaded(n))
              for o in d.expectations if o.error is None for c in o.columns}
    covered = required & tested
    if required:
        ctx.add("L7", scope="required columns", value=len(covered) / len(required),
                n=len(required), display=f"{len(covered)}/{len(required)} under test",
                reason=("untested: " + ", ".join(sorted(f"{d}.{c}" for d, c in required - tested)))
                if required - tested else None, evidence={"kind": "gx"})
    else:
        ctx.not_applicable("L7", "no required columns")


# --- Folding into band and score ----------------------------------------------------------------


def _fold(ctx: _Context) -> UseCaseScore:
    weights = group_weights(ctx.uc)
    counted = [r for r in ctx.records if r.status in ("evaluated", "not_evaluated")]
    groups = {g for g in weights if weights[g] > 0 and
              any(r.group == g and r.weight > 0 for r in counted)}
    total_w = sum(weights[g] for g in groups) or 1.0
    records: list[CheckEvidence] = []
    score = 0.0
    for r in ctx.records:
        if r.status not in ("evaluated", "not_evaluated") or r.group not in groups:
            records.append(r)
            continue
        group_total = sum(x.weight for x in counted if x.group == r.group)
        share = 100 * (weights[r.group] / total_w) * (r.weight / group_total if group_total else 0)
        u = r.utility or 0.0
        score += share * u
        records.append(replace(r, max_points=share, points_lost=share * (1 - u)))
    blockers = tuple(
        Blocker(r.blocker, r.check, f"{r.name}: {r.display or r.reason or r.status}"
                + (f" — {r.reason}" if r.reason and r.display else ""), r.fix, r.owner)
        for r in records if r.blocker)
    criticals = []
    for r in records:
        if r.blocker:
            continue
        if r.status == "not_evaluated":
            criticals.append(f"{r.check} {r.name}: {r.reason}")
        elif r.severity == "critical" and r.utility is not None and r.utility < 1:
            criticals.append(f"{r.check} {r.name}: {r.display}")
        elif r.check == "F2" and r.value is not None and r.value < 1:
            criticals.append(f"F2 {r.name}: {r.reason}")
        elif r.check == "F3" and r.value is not None and r.value < ctx.specs["F3"].fail:
            criticals.append(f"F3 {r.name}: {r.display}")
        for failing in r.evidence.get("warning_on_required", []) if not r.blocker else []:
            # Ready means every expectation on what the model consumes passes.
            criticals.append(f"Q7 expectation failing on a required column: {failing}")
    required = [r for r in records if r.status in ("evaluated", "not_evaluated", "error")]
    coverage = (sum(1 for r in required if r.status == "evaluated") / len(required)
                if required else 0.0)
    if any(b.id in ACCESS_BLOCKERS for b in blockers):
        band = Band.NOT_READY_C
    elif blockers or score < NOT_READY_SCORE:
        band = Band.NOT_READY_B
    elif criticals or score < READY_SCORE or coverage < 1.0:
        band = Band.CONDITIONAL
    else:
        band = Band.READY
    return UseCaseScore(
        use_case=ctx.uc.use_case, kind=ctx.uc.kind, band=band, score=round(score, 2),
        coverage=coverage, blockers=blockers, criticals=tuple(criticals),
        checks=tuple(records), group_weights={GROUP_NAMES.get(g, g): weights[g] / total_w * 100
                                              for g in sorted(groups)},
        per_dataset=_per_dataset(records))


def _per_dataset(records: list[CheckEvidence]) -> dict[str, float]:
    """Weighted mean utility of the dataset-resolved checks, per dataset (0-100)."""
    acc: dict[str, list[tuple[float, float]]] = {}
    for r in records:
        if r.fail is None or r.target is None:
            continue
        for ds, value in (r.evidence.get("per_dataset") or {}).items():
            if r.direction == "higher":
                span = r.target - r.fail
                u = (value - r.fail) / span if span else float(value >= r.target)
            else:
                span = r.fail - r.target
                u = (r.fail - value) / span if span else float(value <= r.target)
            acc.setdefault(ds, []).append((r.weight, min(1.0, max(0.0, u))))
    return {ds: round(100 * sum(w * u for w, u in v) / sum(w for w, _ in v), 1)
            for ds, v in acc.items() if sum(w for w, _ in v) > 0}
