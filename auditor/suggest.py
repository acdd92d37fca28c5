"""Suggest GX 1.x expectation suites from a dataset's profile and source metadata (issue 7).

``auditor suggest audit.yml --dataset crm.contacts`` samples the dataset exactly as ``auditor
audit`` does, proposes expectations, and returns three things:

* a **suite**: ordinary GX 1.x suite JSON (``gx.ExpectationSuite(...).to_json_dict()``, built
  by GX's own classes), each expectation's ``meta`` saying which rule proposed it, why, on
  which figures (``evidence``) and with what ``confidence`` (0-1);
* **findings**: what the sample contradicts. A rule most values obey but some break (96% valid
  e-mails) is *not* written as a rule that already fails; the breaking values are reported;
* **references**: foreign keys, declared in ``audit.yml`` or found by name and match share.
  GX core has no cross-table expectation, so they are emitted as a ``references`` snippet for
  ``audit.yml``, which ``auditor audit`` checks (orphans become findings there too).

The decision rule, precisely
----------------------------
1. Candidates are generated in strict form (:mod:`auditor.suggest_rules`) and run once on the
   sample through :func:`auditor.validate.run_suite`, so the observed share of values obeying
   each one is counted with GX's semantics (pandas null rules, Python regexes).
2. Each candidate's ``policy`` maps its observed share ``s`` over ``n`` evaluated values to
   *keep strict*, *keep with* ``mostly``, *finding* and/or *drop* (table in
   :mod:`auditor.suggest_candidates`). Every ``mostly`` is the Wilson score lower bound of ``s`` at
   the strictness's ``z``, rounded down to 0.001, so it accounts for the sample size.
3. The final suite is run on the sample again; an expectation that does not pass is dropped
   (listed under ``dropped`` with the reason). **Every suggested expectation therefore passes on
   the sample it was suggested from**; what the sample breaks is in ``findings``.

``confidence`` = ``prior`` (how plausible the rule kind is: 1.0 for declared constraints and
schema facts, down to 0.6 for length ranges) x ``evidence`` = ``1 - exp(-n KL(s || m))``, the
Chernoff bound on seeing a share ``s`` in ``n`` values if only ``m`` (the ``mostly``, or 0.99
for strict rules) held: large samples far above the threshold give evidence near 1.

Deterministic: the same sample, settings and ``as_of`` give byte-identical output (no ids,
no timestamps other than ``as_of``, every list ordered).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from auditor import expectation_sql as xsql
from auditor import suggest_rules as rules
from auditor.config import LoadedConfig
from auditor.errors import ConfigError
from auditor.measure import near_duplicates
from auditor.models import Finding, ObjectMetadata, TableProfile
from auditor.pii import detect_pii, mask_value
from auditor.profile import profile_table
from auditor.suggest_candidates import STRICTNESS, Candidate, Settings, pct
from auditor.suggest_sources import (
    LoadedSample,
    Reference,
    ReferenceSpec,
    load_samples,
    measure_references,
    parents_needed,
    reference_specs,
    settle,
)
from auditor.validate import Suite, SuiteExpectation, gx_suite_json, run_suite

__all__ = [
    "STRICTNESS", "Dropped", "LoadedSample", "Reference", "ReferenceSpec", "SuggestReport",
    "SuggestResult", "load_samples", "references_yaml", "settle", "suggest_datasets",
    "suggest_table", "wilson_lower", "write_outputs",
]

#: Expectation types that take ``mostly`` (column map, pair and multicolumn expectations).
MOSTLY_TYPES = frozenset({
    "expect_column_values_to_not_be_null", "expect_column_values_to_be_in_set",
    "expect_column_values_to_be_between", "expect_column_values_to_match_regex",
    "expect_column_value_lengths_to_be_between", "expect_column_values_to_be_unique",
    "expect_compound_columns_to_be_unique", "expect_column_pair_values_a_to_be_greater_than_b",
})
#: Tolerance a strict rule is credited with when computing its confidence.
STRICT_TOLERANCE = 0.01
_ENTITY_NAME = re.compile(r"(?:^|_)(?:name|company|organisation|organization)$", re.I)
_PERSON_NAME = re.compile(r"(?:first|last|given|family|middle|user|sur|nick)_?name$", re.I)


# --- Statistics ---------------------------------------------------------------------------


def wilson_lower(share: float, n: int, z: float) -> float:
    """Wilson score lower bound of a binomial proportion (robust near 0 and 1, unlike Wald)."""
    if n <= 0:
        return 0.0
    z2 = z * z
    centre = share + z2 / (2 * n)
    margin = z * math.sqrt(share * (1 - share) / n + z2 / (4 * n * n))
    return max(0.0, (centre - margin) / (1 + z2 / n))


def mostly_for(share: float, n: int, z: float) -> float:
    """The ``mostly`` for an observed share: Wilson lower bound rounded down to 0.001."""
    return math.floor(wilson_lower(share, n, z) * 1000) / 1000


def _kl(s: float, m: float) -> float:
    """Bernoulli KL divergence KL(s || m); 0 when s <= m."""
    if s <= m or m <= 0:
        return 0.0
    if m >= 1:
        return math.inf
    out = s * math.log(s / m)
    if s < 1:
        out += (1 - s) * math.log((1 - s) / (1 - m))
    return out


def confidence(prior: float, n: int, share: float, mostly: float | None) -> float:
    """``prior x (1 - exp(-n KL(share || mostly)))`` rounded to 0.01 (see module docstring)."""
    m = mostly if mostly is not None else 1 - STRICT_TOLERANCE
    evidence = 1 - math.exp(-n * _kl(min(share, 1.0), m)) if n > 0 else 0.0
    return round(prior * evidence, 2)


# --- Results ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Dropped:
    """A candidate that did not make it into the suite, and why (shown for transparency)."""

    rule: str
    type: str
    column: str | None
    reason: str
    observed_share: float | None = None


@dataclass(frozen=True, slots=True)
class SuggestResult:
    """One dataset's suggestion: suite JSON, findings, references and dropped candidates."""

    dataset: str
    strictness: str
    rows: int
    suite: dict[str, Any]
    findings: tuple[Finding, ...]
    references: tuple[Reference, ...] = ()
    dropped: tuple[Dropped, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (suite, findings, references, dropped)."""
        return xsql.to_jsonable({
            "dataset": self.dataset, "strictness": self.strictness, "rows": self.rows,
            "suite": self.suite, "findings": [asdict(f) for f in self.findings],
            "references": [{**asdict(r), "match_share": round(r.match_share, 4)}
                           for r in self.references],
            "dropped": [asdict(d) for d in self.dropped]})


@dataclass(frozen=True, slots=True)
class SuggestReport:
    """Every requested dataset's result, plus datasets whose source could not be read."""

    results: tuple[SuggestResult, ...]
    failures: dict[str, str] = field(default_factory=dict)


# --- One table ----------------------------------------------------------------------------


def suggest_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    *,
    dataset: str,
    strictness: str | Settings = "medium",
    as_of: datetime | None = None,
    profile: TableProfile | None = None,
    metadata: ObjectMetadata | None = None,
    key: Sequence[str] = (),
    references: Sequence[ReferenceSpec] = (),
    pii_columns: Sequence[str] = (),
    not_pii: Sequence[str] = (),
    entity_columns: Sequence[str] = (),
) -> SuggestResult:
    """Suggest a suite for ``table`` (one identifier visible to ``con``); see module docstring.

    ``key`` is the declared key (``audit.yml``); ``metadata`` the source's schema facts;
    ``references`` the foreign keys to measure; ``entity_columns`` the columns to search for
    near-duplicate entities (in addition to name-like columns found by name).
    """
    settings = strictness if isinstance(strictness, Settings) else STRICTNESS[strictness]
    now = as_of or datetime.now(UTC)
    settle(con)
    if profile is None:
        profile = profile_table(con, table, dataset=dataset, key_columns=key, as_of=now)
    settle(con)
    pii_kinds, findings = _pii(con, table, profile, dataset, pii_columns, not_pii)

    cands, direct = rules.generate(con, table, dataset=dataset, profile=profile,
                                   metadata=metadata, key=key, pii=pii_kinds,
                                   settings=settings, as_of=now)
    findings += direct
    findings += _near_duplicate_findings(con, table, dataset, profile, pii_kinds,
                                         entity_columns)
    masks = {c: (lambda v, k=k: _mask(v, k)) for c, k in pii_kinds.items()}
    kept, more, dropped = _decide(con, table, dataset, cands, settings, masks,
                                    profile.rows)
    findings += more
    suite, rejected = _build_suite(con, table, dataset, kept, settings, profile.rows, now)
    dropped += rejected
    refs, ref_findings = measure_references(con, table, dataset, references)
    findings += ref_findings
    findings.sort(key=lambda f: (_column_order(profile, f.column), f.code))
    return SuggestResult(dataset, settings.strictness, profile.rows, suite, tuple(findings),
                         tuple(refs), tuple(dropped))


def _mask(value: Any, kinds: tuple[str, ...]) -> str:
    """The auditor's masking, and first character + ``***`` for values it leaves as they are
    (a malformed e-mail such as ``jane doe at example.com`` is still personal data)."""
    masked = mask_value(value, kinds)
    return masked if masked != str(value) else str(value)[:1] + "***"


def _column_order(profile: TableProfile, column: str | None) -> int:
    """Findings are listed in column order (table-level ones first)."""
    names = [c.name for c in profile.columns]
    return names.index(column) if column in names else -1


def _pii(con: duckdb.DuckDBPyConnection, table: str, profile: TableProfile, dataset: str,
         declared: Sequence[str], not_pii: Sequence[str],
         ) -> tuple[dict[str, tuple[str, ...]], list[Finding]]:
    """Whole-value PII columns (their values stay out of the suite) and PII findings."""
    kinds: dict[str, tuple[str, ...]] = {}
    findings: list[Finding] = []
    for col, m in sorted(detect_pii(con, table, profile).items()):
        if col in not_pii:
            continue
        if m.free_text:
            findings.append(Finding(
                "SUG012", "major", f"free text embeds PII: {m.reason}", dataset=dataset,
                column=col, hint="redact before the text reaches a model or a report",
                detail={"kind": "pii_in_text", "kinds": list(m.kinds), "share": m.share}))
        else:
            kinds[col] = tuple(m.kinds)
    for col in declared:
        if col not in kinds and profile.column(col) is not None:
            kinds[col] = ("declared",)
    for col, k in kinds.items():
        findings.append(Finding(
            "SUG012", "info", f"holds personal data ({', '.join(k)}): no value set, example "
            "or literal value of it is put into the suite", dataset=dataset, column=col,
            hint="restrict access or mask it where the use case does not need it",
            detail={"kind": "pii_column", "kinds": list(k)}))
    return kinds, findings


def _near_duplicate_findings(con: duckdb.DuckDBPyConnection, table: str, dataset: str,
                             profile: TableProfile, pii: dict[str, tuple[str, ...]],
                             declared: Sequence[str]) -> list[Finding]:
    """Entity names (``name``, ``company_name``) that are unique only up to spelling."""
    out = []
    for c in profile.columns:
        nn = c.rows - c.nulls
        by_name = (_ENTITY_NAME.search(c.name) is not None and not _PERSON_NAME.search(c.name)
                   and c.name not in pii and c.type == "VARCHAR" and nn >= 20
                   and c.distinct >= 0.98 * nn)
        if c.name not in declared and not by_name:
            continue
        nd = near_duplicates(con, table, dataset, [c.name])
        settle(con)
        if nd.extra_rows:
            eg = "; ".join(" ~ ".join(v) for v in nd.examples[:3])
            out.append(Finding(
                "SUG013", "major", f"{nd.extra_rows} rows ({pct(nd.share)}) name an entity "
                f"already present under a spelling variant ({nd.groups} groups), e.g. {eg}",
                dataset=dataset, column=c.name, hint="merge the variants under one id",
                detail={"kind": "near_duplicates", "count": nd.extra_rows, "n": nd.rows,
                        "groups": nd.groups, "examples": [list(v) for v in nd.examples]}))
    return out


# --- Deciding ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Kept:
    """A candidate that made it into the suite, with its `mostly` and observed figures."""
    cand: Candidate
    mostly: float | None
    n: int
    share: float
    retained: bool = False
    finding: str | None = None


def _observed(o: Any, rows: int) -> tuple[int, float]:
    """(values evaluated, share obeying) from an outcome, with GX's denominators; aggregate
    and table expectations count as evaluated on every row."""
    n = max(o.element_count - o.missing_count, 0)
    if o.expectation_type not in MOSTLY_TYPES:
        n = rows
    if o.unexpected_percent is not None:
        return n, 1 - o.unexpected_percent / 100.0
    return n, 1.0 if o.success else 0.0


def _decide(con: duckdb.DuckDBPyConnection, table: str, dataset: str,
            cands: list[Candidate], settings: Settings,
            masks: Mapping[str, Callable[..., str]], rows: int,
            ) -> tuple[list[_Kept], list[Finding], list[Dropped]]:
    """Measure every candidate in strict form and apply its policy (module docstring)."""
    strict = Suite(f"{dataset}-candidates", None, tuple(
        SuiteExpectation(c.type, c.kwargs, {}, "warning") for c in cands))
    outcomes = run_suite(con, table, strict, dataset=dataset, masked_columns=masks)
    settle(con)
    kept: list[_Kept] = []
    findings: list[Finding] = []
    dropped: list[Dropped] = []
    for c, o in zip(cands, outcomes, strict=True):
        n, s = _observed(o, rows)
        if o.error:
            dropped.append(Dropped(c.rule, c.type, c.column, f"could not run: {o.error}"))
            continue
        can_relax = c.type in MOSTLY_TYPES and n > 0
        wilson = mostly_for(s, n, settings.z) if can_relax else None
        if c.policy == "fact" or (c.policy == "declared" and s >= 1):
            if o.success:
                kept.append(_Kept(c, None, n, s))
            else:
                dropped.append(Dropped(c.rule, c.type, c.column, "does not hold", s))
            continue
        if s >= 1 and c.policy in ("strict", "completeness"):
            relax = not settings.strict_when_clean and can_relax
            kept.append(_Kept(c, wilson if relax else None, n, s))
            continue
        if c.policy == "tolerant":
            if s >= settings.min_support and wilson:
                kept.append(_Kept(c, wilson, n, s))
            else:
                why = f"only {pct(s)} of values follow it" if n else "no value to check"
                dropped.append(Dropped(c.rule, c.type, c.column, why, s))
            continue
        report = c.policy == "declared" or s >= settings.min_support
        if c.policy == "completeness":
            report = c.finding is not None and s >= settings.min_support
        finding = None
        if report and c.finding is not None:
            f = _contradiction(c, o, n, s, dataset)
            findings.append(f)
            finding = f.code
        if wilson and (c.policy != "strict" or s >= settings.min_support):
            kept.append(_Kept(c, wilson, n, s, retained=c.policy != "completeness"
                              or finding is not None, finding=finding))
        else:
            dropped.append(Dropped(c.rule, c.type, c.column,
                                   f"contradicted: only {pct(s)} of values follow it", s))
    return kept, findings, dropped


def _contradiction(c: Candidate, o: Any, n: int, s: float, dataset: str) -> Finding:
    """The finding a contradicted candidate becomes, with masked examples of breaking values."""
    spec = c.finding
    assert spec is not None
    count = int(o.unexpected_count)
    # replace(), not format(): messages quote regexes, whose braces format() would parse
    msg = spec.message.replace("{pct}", pct(1 - s)).replace("{count}", str(count))
    msg = msg.replace("{n}", str(n))
    return Finding(spec.code, spec.severity, msg, dataset=dataset,  # type: ignore[arg-type]
                   column=c.column, hint=spec.hint,
                   detail={"kind": c.rule, "count": count, "n": n, "share": round(1 - s, 4),
                           "expectation": c.type, "kwargs": xsql.to_jsonable(c.kwargs),
                           "examples": list(o.examples[:5])})


# --- The suite -----------------------------------------------------------------------------


def _meta(k: _Kept, settings: Settings) -> dict[str, Any]:
    """The expectation's `meta`: rule, reason, evidence and confidence (module docstring)."""
    c = k.cand
    statistical = c.policy not in ("fact",) and not (c.policy == "declared" and k.share >= 1)
    conf = confidence(c.prior, k.n, k.share, k.mostly) if statistical else c.prior
    meta: dict[str, Any] = {
        "suggested_by": "auditor suggest", "rule": c.rule, "reason": c.reason,
        "confidence": conf,
        "evidence": xsql.to_jsonable({**c.evidence, "values_checked": k.n,
                                      "observed_share": round(k.share, 4)}),
    }
    if k.retained:
        meta["retained"] = ("the sample breaks the strict rule; kept at the level it reaches so "
                            "it fails if things get worse")
    if k.finding:
        meta["finding"] = k.finding
    return meta


def _build_suite(con: duckdb.DuckDBPyConnection, table: str, dataset: str, kept: list[_Kept],
                 settings: Settings, rows: int, as_of: datetime,
                 ) -> tuple[dict[str, Any], list[Dropped]]:
    """GX suite JSON built by GX's classes, verified to pass on the sample it came from.

    GX is reached through :func:`auditor.validate.gx_suite_json`: validate is the one module
    that imports GX (a project rule, checked by ``tests/test_validate.py``).
    """

    dropped: list[Dropped] = []
    items: list[tuple[_Kept, dict[str, Any], dict[str, Any]]] = []
    for k in kept:
        kwargs = dict(k.cand.kwargs)
        if k.mostly is not None:
            kwargs["mostly"] = k.mostly
        items.append((k, xsql.to_jsonable(kwargs), _meta(k, settings)))
    check = Suite(f"{dataset}-check", None, tuple(
        SuiteExpectation(k.cand.type, kw, {}, k.cand.severity) for k, kw, _ in items))
    outcomes = run_suite(con, table, check, dataset=dataset)
    settle(con)
    passing = []
    for (k, kw, meta), o in zip(items, outcomes, strict=True):
        if o.success:
            passing.append((k, kw, meta))
        else:
            dropped.append(Dropped(k.cand.rule, k.cand.type, k.cand.column,
                                   f"fails on its own sample: {o.error or 'unexpected'}",
                                   k.share))
    suite, rejected = gx_suite_json(
        f"{dataset.replace('.', '_')}_suggested",
        [(k.cand.type, kw, meta, k.cand.severity) for k, kw, meta in passing],
        meta={"dataset": dataset, "suggested_by": "auditor suggest",
              "strictness": settings.strictness, "sample_rows": rows,
              "as_of": as_of.astimezone(UTC).replace(tzinfo=None).isoformat()},
        notes="Suggested from a sample: review before relying on it. Each expectation's "
              "meta says why it was suggested and how confident the suggestion is.")
    for i, reason in rejected.items():
        k = passing[i][0]
        dropped.append(Dropped(k.cand.rule, k.cand.type, k.cand.column, f"GX rejects it: {reason}"))
    return suite, dropped


def references_yaml(results: Sequence[SuggestResult]) -> str:
    """The suggested foreign keys as an ``audit.yml`` snippet (merge under ``datasets:``)."""
    lines = ["# Foreign keys suggested by `auditor suggest`. GX 1.x has no cross-table",
             "# expectation, so `auditor audit` checks these itself (orphans become findings).",
             "# Merge under `datasets:` in audit.yml.", "datasets:"]
    any_ref = False
    for r in results:
        if not r.references:
            continue
        any_ref = True
        lines += [f"  {r.dataset}:", "    references:"]
        for ref in r.references:
            how = "declared" if ref.declared else "suggested"
            lines.append(f"      {ref.column}: {ref.target}  # {how}; "
                         f"{pct(ref.match_share)} of {ref.child_rows - ref.null_children} "
                         "values match")
    return "\n".join(lines) + "\n" if any_ref else ""


def suggest_datasets(loaded: LoadedConfig, names: Sequence[str], *,
                     strictness: str = "medium", as_of: datetime | None = None,
                     progress: Callable[[str], None] | None = None) -> SuggestReport:
    """Suggest suites for ``names`` of ``loaded`` (an in-memory DuckDB; nothing is stored)."""
    unknown = [n for n in names if n not in loaded.config.datasets]
    if unknown:
        raise ConfigError(f"unknown dataset {unknown[0]!r}",
                          hint="known: " + ", ".join(loaded.config.datasets))
    if strictness not in STRICTNESS:
        raise ConfigError(f"unknown strictness {strictness!r}", hint="use low, medium or high")
    settings = STRICTNESS[strictness]
    now = as_of or loaded.config.as_of or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    step = progress or (lambda _msg: None)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        step("sample " + ", ".join(names))
        samples, failures = load_samples(loaded, list(names), con, as_of=now)
        parents = parents_needed(loaded, samples)
        more, _ = load_samples(loaded, parents, con, as_of=now)
        samples.update(more)
        results = []
        for name in names:
            if name not in samples:
                continue
            step(f"suggest {name}")
            s = samples[name]
            ds = loaded.config.datasets[name]
            results.append(suggest_table(
                con, s.table, dataset=name, strictness=settings, as_of=now,
                profile=s.profile, metadata=s.metadata, key=s.key,
                references=reference_specs(loaded, name, samples, con, settings),
                pii_columns=ds.pii_columns, not_pii=ds.not_pii,
                entity_columns=ds.near_duplicates))
        return SuggestReport(tuple(results), failures)
    finally:
        con.close()


# --- Output --------------------------------------------------------------------------------


def suite_filename(dataset: str) -> str:
    """``crm.contacts`` → ``crm_contacts.json`` (the convention of ``expectations/``)."""
    return re.sub(r"[^\w.-]", "_", dataset.replace(".", "_")) + ".json"


def write_outputs(report: SuggestReport, directory: Path) -> list[Path]:
    """Write one suite per dataset, its findings beside it, and ``references.yml``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for r in report.results:
        path = directory / suite_filename(r.dataset)
        path.write_text(json.dumps(r.suite, indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        extra = {k: v for k, v in r.to_dict().items() if k != "suite"}
        side = path.with_suffix(".findings.json")
        side.write_text(json.dumps(extra, indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        written += [path, side]
    snippet = references_yaml(report.results)
    if snippet:
        ref_path = directory / "references.yml"
        ref_path.write_text(snippet, encoding="utf-8")
        written.append(ref_path)
    return written
