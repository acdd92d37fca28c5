"""The ``watch:`` block of ``audit.yml``: drift thresholds, retention and alert webhooks.

Kept in its own module (mounted at ``AuditConfig.watch``) so the core config does not grow
scheduling options. Everything is optional: an empty block gives the defaults documented in
``docs/drift.md``, which are deliberately conservative (a scheduled check that cries wolf gets
switched off).

Every rule has two thresholds. The *fixed* one applies while a series has fewer than
``min_history`` earlier values; once there is enough history the threshold is *learnt* (a robust
z-score over the window) and the ``min_*`` value is only a floor on the change, so a perfectly
constant history (MAD = 0) does not turn a 0.1 pp wobble into an alert.

Webhook URLs and headers may hold ``${env:NAME}`` / ``${file:path}`` references (a Slack
incoming-webhook URL *is* a secret). They are resolved only when a notification is sent, so a
missing variable becomes a notification failure (finding NOT001), never a failed check.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

RuleId = Literal[
    "schema.removed", "schema.retyped", "schema.added", "volume", "null_rate", "distinct",
    "distribution.numeric", "distribution.categorical", "freshness", "use_case.band",
    "use_case.score",
]
#: Every drift rule, in report order (JUnit testcases follow this order).
RULES: tuple[str, ...] = RuleId.__args__  # type: ignore[attr-defined]

NotifyEvent = Literal["regression", "not_ready", "source_failure", "always"]


def _duration(value: Any) -> timedelta:
    # Imported lazily: auditor.config imports this module to mount WatchConfig.
    from auditor.config import parse_duration

    return parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]


def _default_events() -> list[NotifyEvent]:
    return ["regression", "source_failure"]


def _default_warn_only() -> list[RuleId]:
    return ["schema.added"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VolumeRule(_Model):
    """Row count (source rows when the connector reports them) against recent runs."""

    enabled: bool = True
    max_change: float = Field(0.2, gt=0, description="Fixed: relative change vs the baseline "
                              "(median of earlier runs) above which volume is an anomaly.")
    min_change: float = Field(0.05, ge=0, description="Learnt: smallest relative change that "
                              "can be flagged, whatever the z-score.")


class NullRateRule(_Model):
    """Null share per column; only increases are regressions."""

    enabled: bool = True
    max_increase: float = Field(0.05, gt=0, description="Fixed: increase in null share (0.05 = "
                                "5 percentage points) above which the column regressed.")
    min_increase: float = Field(0.02, ge=0, description="Learnt: floor on the increase.")


class DistinctRule(_Model):
    """Distinct-value count per column, both directions (collapse or explosion)."""

    enabled: bool = True
    max_change: float = Field(0.5, gt=0, description="Fixed: relative change above which the "
                              "distinct count jumped.")
    min_change: float = Field(0.2, ge=0, description="Learnt: floor on the relative change.")
    unique_ratio: float = Field(0.95, gt=0, le=1, description="Columns whose distinct count is "
                                "at least this share of their non-null rows (ids) are left to "
                                "the volume rule: their distinct count is the row count.")


class DistributionRule(_Model):
    """PSI between a run and the previous one: quantile bins (numeric), top values (categorical)."""

    enabled: bool = True
    max_psi: float = Field(0.2, gt=0, description="Fixed: PSI above which a column drifted "
                           "(0.1-0.2 is the usual 'moderate', > 0.2 'significant' shift).")
    min_psi: float = Field(0.1, ge=0, description="Learnt: floor on the PSI.")
    max_categories: int = Field(50, ge=2, description="Categorical PSI only for text/boolean "
                                "columns with at most this many distinct values.")
    min_rows: int = Field(50, ge=1, description="Both runs need this many non-null values.")


class FreshnessRule(_Model):
    """Growth of a dataset's lag: hours between ``as_of`` and its newest (past) timestamp."""

    enabled: bool = True
    max_growth: Duration = Field(timedelta(hours=24), description="Fixed: growth of the lag "
                                 "over the baseline above which the dataset went stale.")
    min_growth: Duration = Field(timedelta(hours=12), description="Learnt: floor on the growth.")


class UseCaseRule(_Model):
    """A use case moving to a worse band, gaining blockers, or losing points."""

    enabled: bool = True
    max_score_drop: float = Field(5.0, gt=0, description="Fixed: points lost vs the baseline "
                                  "(median of earlier scores) that count as a regression.")
    min_score_drop: float = Field(2.0, ge=0, description="Learnt: floor on the points lost.")


class SchemaRule(_Model):
    """Columns removed, retyped or added since the dataset's previous successful load."""

    enabled: bool = True


class WebhookConfig(_Model):
    """One alert destination: a generic JSON POST, or a Slack-compatible message."""

    url: str = Field(description="Endpoint (http/https); may be a ${env:NAME} reference.")
    name: str | None = Field(None, description="Label used in warnings (default: the host).")
    format: Literal["json", "slack"] = Field(
        "json", description="json: the check summary as JSON; slack: {text, blocks} for Slack "
                            "incoming webhooks (and compatible: Mattermost, Rocket.Chat).")
    when: list[NotifyEvent] = Field(
        default_factory=_default_events,
        description="When to send: regression, not_ready, source_failure, always. (Not `on`: "
                    "YAML 1.1 reads a bare `on` key as the boolean true.)")
    timeout: Duration = Field(timedelta(seconds=10), description="Total time budget for this "
                              "notification, retries included; the check never waits longer.")
    retries: int = Field(3, ge=0, le=10, description="Retries after the first attempt (on "
                         "connection errors, timeouts, HTTP 429 and 5xx).")
    backoff: Duration = Field(timedelta(seconds=1), description="Wait before the first retry; "
                              "doubles on each retry (capped by the time budget).")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra HTTP headers; "
                                    "values may be ${env:NAME} references.")

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        if "${" not in v and not v.startswith(("http://", "https://")):
            raise ValueError("webhook url must start with http:// or https:// (or be a "
                             "${env:NAME} reference)")
        return v


class WatchConfig(_Model):
    """Scheduled checks (`auditor check`): how runs are compared with their predecessors."""

    window: int = Field(20, ge=2, le=500, description="Earlier runs a run is compared with.")
    min_history: int = Field(5, ge=3, description="Earlier values a series needs before its "
                             "threshold is learnt (robust z-score) instead of fixed.")
    z_threshold: float = Field(3.5, gt=0, description="|modified z-score| above which a value "
                               "is an outlier (Iglewicz & Hoaglin's 3.5).")
    schema_drift: SchemaRule = Field(default_factory=SchemaRule, alias="schema")
    volume: VolumeRule = Field(default_factory=VolumeRule)
    null_rate: NullRateRule = Field(default_factory=NullRateRule)
    distinct: DistinctRule = Field(default_factory=DistinctRule)
    distribution: DistributionRule = Field(default_factory=DistributionRule)
    freshness: FreshnessRule = Field(default_factory=FreshnessRule)
    use_case: UseCaseRule = Field(default_factory=UseCaseRule)
    warn_only: list[RuleId] = Field(
        default_factory=_default_warn_only,
        description="Rules reported as warnings: shown, but never change the exit code.")
    ignore: list[str] = Field(
        default_factory=list,
        description="Subjects never checked, as glob patterns over `dataset`, "
                    "`dataset.column` or a use case name (e.g. crm.accounts.updated_*).")
    retention: Duration | None = Field(None, description="After each `auditor check`, delete "
                                       "runs older than this (as `auditor store prune --keep`).")
    notify: list[WebhookConfig] = Field(default_factory=list, description="Alert webhooks.")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
