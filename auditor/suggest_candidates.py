"""Shared vocabulary of ``auditor suggest``: strictness settings, candidates, policies.

Every candidate is written in its *strict* form (no ``mostly``) together with a ``policy``
that says what to do once the strict form has been measured on the sample (that happens in
:mod:`auditor.suggest`, through the same engine as ``auditor audit``):

``fact``         schema facts (column exists, type, non-empty table): kept as is.
``declared``     a constraint the source or ``audit.yml`` declares (key, NOT NULL, picklist):
                 kept strict when the sample obeys it; when it does not, the breach is a finding
                 and the suite keeps the constraint at the level the sample reaches.
``strict``       an inferred rule that is all-or-nothing (a code format, non-negative amounts,
                 ``updated_at >= created_at``): strict when the sample obeys it (at ``low``
                 strictness a ``mostly`` from the Wilson bound instead); when at least
                 ``min_support`` of the values obey it, the breaking values are a finding and the
                 rule is kept at the level the sample reaches; below that it is dropped.
``tolerant``     an inferred statistical rule (value sets, robust ranges, lengths, free-form
                 word shapes): always carries ``mostly`` = Wilson lower bound of the observed
                 share, never produces findings, dropped below ``min_support``.
``completeness`` not-null: strict when the sample has no null (at ``low`` the Wilson bound);
                 otherwise the Wilson bound of the non-null share (Deequ's
                 RetainCompletenessRule) and, for columns that are at least ``min_support``
                 filled and whose nulls no categorical column explains, a finding.

Direct findings (duplicate rows, mixed date formats, spelling variants, placeholders, stale
timestamps, PII, near-duplicate entities) need no expectation; the rule modules produce them
beside the candidates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from auditor import expectation_sql as xsql
from auditor.models import ColumnProfile, ColumnSchema, Finding

Policy = Literal["fact", "declared", "strict", "tolerant", "completeness"]

#: DuckDB column kinds (see :mod:`auditor.expectation_sql`) that hold numbers.
NUMERIC_KINDS = ("int", "float", "float32", "decimal")


@dataclass(frozen=True, slots=True)
class Settings:
    """Knobs one ``--strictness`` level sets (the table is in docs/suggest-vs-deequ.md)."""

    strictness: str
    z: float  # Wilson lower bound z for every `mostly`
    min_support: float  # share a pattern needs to be the column's rule (or a finding)
    max_categories: int  # at most this many distinct values for a value set
    min_per_category: float  # ...and at least this many rows per distinct value on average
    range_margin: float  # numeric/date ranges: [p01 - m*span, p99 + m*span]
    length_margin: float  # lengths: [p01 * (1 - m), p99 * (1 + m)]
    freshness_factor: float  # stale when the newest value is older than f x the recent gap
    freshness_rule: bool  # also put a max-timestamp check in the suite
    compound_lambda: float | None  # expected chance collisions needed for a compound key
    strict_when_clean: bool  # rules the sample fully obeys are strict (else Wilson `mostly`)
    fk_min_match: float  # candidate foreign keys need this match share
    min_shape_share: float = 0.02  # an alternative shape needs this share of values
    max_alternatives: int = 3  # at most this many alternative shapes in one regex


STRICTNESS: dict[str, Settings] = {
    "low": Settings("low", z=3.29, min_support=0.95, max_categories=12, min_per_category=20,
                    range_margin=1.0, length_margin=1.0, freshness_factor=5.0,
                    freshness_rule=False, compound_lambda=None, strict_when_clean=False,
                    fk_min_match=0.95),
    "medium": Settings("medium", z=2.58, min_support=0.90, max_categories=25,
                       min_per_category=10, range_margin=0.5, length_margin=0.5,
                       freshness_factor=3.0, freshness_rule=True, compound_lambda=6.0,
                       strict_when_clean=True, fk_min_match=0.9),
    "high": Settings("high", z=1.96, min_support=0.80, max_categories=50, min_per_category=5,
                     range_margin=0.25, length_margin=0.25, freshness_factor=2.0,
                     freshness_rule=True, compound_lambda=3.0, strict_when_clean=True,
                     fk_min_match=0.8),
}  # fmt: skip

#: Columns this often non-null (or less) get no completeness rule at all.
MIN_RETAIN_COMPLETENESS = 0.2
#: Undeclared uniqueness needs at least this many values (30 rows unique says little).
MIN_UNIQUE_VALUES = 30
#: Share of values classified as free text above which a column is treated as prose.
FREE_TEXT_SHARE = 0.5
#: Text whose 1st length percentile is at least this is prose: near-empty values stand out...
MIN_PROSE_LENGTH = 20
#: ...when shorter than its 1st length percentile divided by this.
SHORT_TEXT_FACTOR = 4
#: Longer values get no shape regex (they are prose, not codes).
MAX_PATTERN_LENGTH = 64
#: Candidate columns for compound keys (keeps the pair search cheap).
MAX_COMPOUND_COLUMNS = 12


@dataclass(frozen=True, slots=True)
class FindingSpec:
    """The finding a contradicted candidate becomes; ``message`` gets {pct} {count} {n}."""

    code: str
    severity: str
    message: str
    hint: str


@dataclass(slots=True)
class Candidate:
    """One expectation in strict form, plus why it was proposed and what breaking it means."""

    type: str
    kwargs: dict[str, Any]
    rule: str
    reason: str
    prior: float
    policy: Policy
    column: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    severity: str = "warning"
    finding: FindingSpec | None = None


@dataclass(slots=True)
class ColumnContext:
    """What the generators know about one column."""

    profile: ColumnProfile
    info: xsql.ColumnInfo
    schema: ColumnSchema | None
    pii: tuple[str, ...] | None  # PII kinds of a whole-value PII column
    declared_key: bool  # part of the declared key (config `key` or the source's primary key)
    sole_key: bool = False  # the declared key is this column alone
    categorical: bool = False
    free_text: bool = False

    @property
    def name(self) -> str:
        return self.profile.name

    @property
    def ref(self) -> str:
        return xsql.quote_ident(self.profile.name)

    @property
    def non_null(self) -> int:
        return self.profile.rows - self.profile.nulls


def pct(share: float) -> str:
    """A share as a percentage with one decimal (``0.04`` → ``4.0%``)."""
    return f"{100.0 * share:.1f}%"


def finding(code: str, severity: str, message: str, dataset: str, column: str | None,
            hint: str, **detail: Any) -> Finding:
    """A direct finding (one that needs no expectation), with its figures in ``detail``."""
    return Finding(code, severity, message, dataset=dataset, column=column,  # type: ignore[arg-type]
                   hint=hint, detail=detail)


def declared_finding(what: str) -> FindingSpec:
    """The finding a declared constraint becomes when the sample breaks it."""
    return FindingSpec("SUG005", "major", f"{what} in {{count}} of {{n}} values ({{pct}}) "
                       "although the constraint is declared",
                       "fix the source rows; the suite keeps the constraint at today's level")


def plain(v: Any) -> Any:
    """A profile figure as JSON-friendly evidence (ISO strings for dates)."""
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, float | int | str | bool) or v is None:
        return v
    return float(v)
