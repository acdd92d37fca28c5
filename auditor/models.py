"""Domain objects passed forward between stages.

Stages never hand each other DuckDB connections, GX objects or connector SDK objects; they hand
over these plain, frozen records. That keeps each stage replaceable and testable on its own, and
it is what the JSON report serialises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

import pyarrow as pa

Severity = Literal["blocker", "critical", "major", "minor", "info"]
SEVERITY_ORDER: dict[str, int] = {"blocker": 0, "critical": 1, "major": 2, "minor": 3, "info": 4}


# --- What connectors return -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ColumnSchema:
    """A column as the source declares it (before any profiling)."""

    name: str
    type: str
    nullable: bool | None = None
    primary_key: bool = False
    unique: bool = False
    comment: str | None = None
    allowed_values: tuple[str, ...] | None = None
    #: Longest value the source accepts (characters), where the source enforces one.
    max_length: int | None = None
    #: The source's own type name (``picklist``, ``Edm.DateTime``, ``many2one``...).
    source_type: str | None = None
    #: The source's own sensitivity label (HubSpot ``dataSensitivity``): the column is PII.
    sensitivity: str | None = None


@dataclass(frozen=True, slots=True)
class ObjectMetadata:
    """Schema and catalogue facts for one source object (file, table, CRM object)."""

    columns: tuple[ColumnSchema, ...]
    primary_key: tuple[str, ...] = ()
    row_count_estimate: int | None = None
    owner: str | None = None
    description: str | None = None
    location: str | None = None
    #: The source enforces ``nullable``/``unique``/``allowed_values``/``max_length`` on write
    #: (an API's field metadata): the audit turns them into expectations (``auditor.contracts``).
    contracts: bool = False


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A source row the connector could not read; reported, never silently dropped."""

    line: int | None
    reason: str
    column: str | None = None
    raw: str | None = None


@dataclass(frozen=True, slots=True)
class SampleSpec:
    """How many and which rows to pull: reproducible for the same source content and spec."""

    method: Literal["all", "first", "random"] = "all"
    n: int | None = None
    seed: int = 42
    where: str | None = None


@dataclass(slots=True)
class Sample:
    """A bounded sample as a stream of Arrow batches, plus what the source said about it."""

    reader: pa.RecordBatchReader
    metadata: ObjectMetadata
    rejected: list[RejectedRow] = field(default_factory=list)
    source_rows: int | None = None
    notes: list[str] = field(default_factory=list)
    #: All rejected rows, when ``rejected`` lists only the first ones (bounded memory).
    rejected_total: int | None = None
    #: Set when paging stopped early (a page failed for good, a cursor repeated, the quota ran
    #: out): why, and where, so the rows already pulled are kept and the gap is reported.
    stopped: StopInfo | None = None
    #: Values that did not parse as the column's declared type, loaded as null: column → count.
    unparsed: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StopInfo:
    """Where and why a paged pull stopped before the end of the object."""

    reason: str
    rows: int
    pages: int
    next_cursor: str | None = None


# --- Profiling ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ColumnProfile:
    """Statistics for one column of one sample, computed in DuckDB."""

    name: str
    type: str
    rows: int
    nulls: int
    empty: int
    distinct: int
    min: Any = None
    max: Any = None
    mean: float | None = None
    stddev: float | None = None
    quantiles: dict[str, Any] | None = None
    min_length: int | None = None
    max_length: int | None = None
    mean_length: float | None = None
    top_values: tuple[tuple[Any, int], ...] = ()
    patterns: dict[str, int] = field(default_factory=dict)
    latest: datetime | None = None
    freshness_hours: float | None = None

    @property
    def null_share(self) -> float:
        return self.nulls / self.rows if self.rows else 0.0

    @property
    def missing_share(self) -> float:
        """Null or empty-string share: what a model sees as "no value"."""
        return (self.nulls + self.empty) / self.rows if self.rows else 0.0


@dataclass(frozen=True, slots=True)
class TableProfile:
    """Table-level statistics plus the per-column profiles."""

    dataset: str
    rows: int
    columns: tuple[ColumnProfile, ...]
    duplicate_rows: int
    key_columns: tuple[str, ...] = ()
    duplicate_keys: int | None = None
    null_keys: int | None = None

    def column(self, name: str) -> ColumnProfile | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None


# --- Validation -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExpectationOutcome:
    """One expectation's result, with GX's own counting rules (see auditor.validate)."""

    suite: str
    dataset: str
    expectation_type: str
    kwargs: dict[str, Any]
    success: bool | None
    element_count: int = 0
    unexpected_count: int = 0
    missing_count: int = 0
    unexpected_percent: float | None = None
    observed_value: Any = None
    examples: tuple[str, ...] = ()
    severity: str = "critical"
    meta: dict[str, Any] = field(default_factory=dict)
    engine: str = "duckdb-sql"
    error: str | None = None

    @property
    def column(self) -> str | None:
        col = self.kwargs.get("column")
        return str(col) if col is not None else None

    @property
    def columns(self) -> tuple[str, ...]:
        if "column" in self.kwargs:
            return (str(self.kwargs["column"]),)
        for key in ("column_list", "column_A", "column_B"):
            if key in self.kwargs:
                val = self.kwargs[key]
                return tuple(val) if isinstance(val, list) else (str(val),)
        return ()

    @property
    def unexpected_share(self) -> float:
        """Unexpected values over the values GX evaluated (non-null for map expectations)."""
        if self.unexpected_percent is not None:
            return self.unexpected_percent / 100.0
        return 0.0 if self.success else 1.0


# --- Findings and scores --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    """Something wrong that a person must act on; stable `code`, a place, and a fix."""

    code: str
    severity: Severity
    message: str
    dataset: str | None = None
    column: str | None = None
    source: str | None = None
    hint: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class Band(StrEnum):
    """Gated, ordinal verdict (readiness-model.md §2.7); decided before the score."""

    NOT_READY_C = "Not ready — C (access/legal)"
    NOT_READY_B = "Not ready — B (validity)"
    CONDITIONAL = "Conditionally ready"
    READY = "Ready"


@dataclass(frozen=True, slots=True)
class CheckEvidence:
    """One scored requirement: measured value → utility → points lost, with its evidence."""

    check: str
    name: str
    group: str
    scope: str
    status: Literal["evaluated", "not_applicable", "not_evaluated", "error"]
    severity: Severity
    value: float | None = None
    display: str | None = None
    n: int | None = None
    ci95_low: float | None = None
    fail: float | None = None
    target: float | None = None
    direction: Literal["higher", "lower"] = "higher"
    utility: float | None = None
    weight: float = 1.0
    points_lost: float = 0.0
    max_points: float = 0.0
    blocker: str | None = None
    reason: str | None = None
    fix: str | None = None
    owner: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Blocker:
    """A hard gate that forces Not ready whatever the score (readiness-model.md §2.6)."""

    id: str
    check: str
    message: str
    fix: str | None = None
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class UseCaseScore:
    """The verdict for one AI use case."""

    use_case: str
    kind: str
    band: Band
    score: float
    coverage: float
    blockers: tuple[Blocker, ...]
    criticals: tuple[str, ...]
    checks: tuple[CheckEvidence, ...]
    group_weights: dict[str, float]
    per_dataset: dict[str, float] = field(default_factory=dict)

    def lost_points(self) -> list[CheckEvidence]:
        """Checks that cost points, largest loss first."""
        lost = [c for c in self.checks if c.points_lost > 0.005]
        return sorted(lost, key=lambda c: -c.points_lost)


@dataclass(frozen=True, slots=True)
class PiiSummary:
    """Why a column is treated as PII, and how much of it matches."""

    column: str
    kinds: tuple[str, ...]
    reason: str
    share: float
    free_text: bool = False
    declared: bool = False


@dataclass(frozen=True, slots=True)
class NearDuplicateSummary:
    """Rows naming the same entity under spelling variants (see auditor.measure)."""

    columns: tuple[str, ...]
    rows: int
    extra_rows: int
    groups: int
    examples: tuple[tuple[str, ...], ...] = ()
    query_hash: str = ""

    @property
    def share(self) -> float:
        return self.extra_rows / self.rows if self.rows else 0.0


@dataclass(frozen=True, slots=True)
class DatasetResult:
    """Everything the run learnt about one dataset."""

    name: str
    source: str
    object: str
    status: Literal["ok", "failed"]
    rows: int = 0
    source_rows: int | None = None
    sample_table: str | None = None
    metadata: ObjectMetadata | None = None
    profile: TableProfile | None = None
    expectations: tuple[ExpectationOutcome, ...] = ()
    rejected_rows: int = 0
    pii: dict[str, PiiSummary] = field(default_factory=dict)
    owner: str | None = None
    system_of_record: str | None = None
    near_duplicates: NearDuplicateSummary | None = None
    access: AccessInventory | None = None
    error: str | None = None
    #: The sample is incomplete: paging stopped early (see :class:`StopInfo`).
    stopped: StopInfo | None = None
    #: What the connector said about the pull (API usage, how a random sample was drawn...).
    notes: tuple[str, ...] = ()
    #: Values not of the source's declared type, loaded as null: column → count.
    unparsed: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditResult:
    """What `auditor.api.run_audit` returns and every renderer consumes."""

    run_id: str
    started_at: datetime
    finished_at: datetime
    config_path: str
    config_hash: str
    store_path: str
    datasets: tuple[DatasetResult, ...]
    use_cases: tuple[UseCaseScore, ...]
    findings: tuple[Finding, ...]

    @property
    def failed_sources(self) -> list[DatasetResult]:
        return [d for d in self.datasets if d.status == "failed"]

    def dataset(self, name: str) -> DatasetResult | None:
        for d in self.datasets:
            if d.name == name:
                return d
        return None


# --- Access control (who can read what, and why) ------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """One principal's effective read access to a table or column, with the reason.

    ``path`` is the membership chain from the principal to the role that holds the privilege
    (``("alice", "analysts", "reporting")`` means alice is in analysts, which is in reporting,
    which was granted SELECT). ``via`` says where the privilege comes from.
    """

    object: str
    column: str | None
    grantee: str
    privilege: str = "SELECT"
    via: Literal["direct", "role", "public", "superuser", "owner", "predefined_role",
                 "default_privileges", "declared", "profile", "permission_set",
                 "permission_set_group", "group"] = "direct"
    path: tuple[str, ...] = ()
    can_login: bool = False
    row_filtered: bool = False
    masked: bool = False
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class RoleInfo:
    """A role or user of the source, with its (transitive) membership facts."""

    name: str
    can_login: bool = False
    superuser: bool = False
    member_of: tuple[str, ...] = ()
    members: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AccessInventory:
    """Who can read which table and column of one source, and why (connector-protocols §5)."""

    source: str
    grants: tuple[AccessGrant, ...]
    roles: tuple[RoleInfo, ...] = ()
    owners: dict[str, str] = field(default_factory=dict)
    row_policies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
