"""The readiness model's arithmetic and gates (readiness-model.md §2.3-2.7), on built inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from auditor.checks import CATALOG, specs_for
from auditor.config import UseCaseConfig
from auditor.measure import JoinMeasure, LabelMeasure, RecordCompleteness, UseCaseMeasures
from auditor.models import (
    AccessGrant,
    AccessInventory,
    Band,
    ColumnProfile,
    DatasetResult,
    ExpectationOutcome,
    PiiSummary,
    RoleInfo,
    TableProfile,
)
from auditor.score import score_use_case, utility, wilson_low

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)


def col(name: str, rows: int = 1000, nulls: int = 0, distinct: int = 50, **kw: object
        ) -> ColumnProfile:
    return ColumnProfile(name=name, type="VARCHAR", rows=rows, nulls=nulls, empty=0,
                         distinct=distinct, **kw)  # type: ignore[arg-type]


def dataset(name: str, columns: list[ColumnProfile], *, owner: str | None = "team@x",
            expectations: tuple[ExpectationOutcome, ...] = (), pii: dict | None = None,
            dup_keys: int = 0) -> DatasetResult:
    prof = TableProfile(dataset=name, rows=columns[0].rows, columns=tuple(columns),
                        duplicate_rows=0, key_columns=("id",), duplicate_keys=dup_keys,
                        null_keys=0)
    return DatasetResult(name=name, source="s", object="o", status="ok", rows=columns[0].rows,
                         profile=prof, owner=owner, system_of_record="crm",
                         expectations=expectations, pii=pii or {})


def expectation(column: str, unexpected: int, severity: str = "critical") -> ExpectationOutcome:
    return ExpectationOutcome(suite="s", dataset="crm.accounts",
                              expectation_type="expect_column_values_to_not_be_null",
                              kwargs={"column": column}, success=unexpected == 0,
                              element_count=1000, unexpected_count=unexpected,
                              unexpected_percent=unexpected / 10, severity=severity)


def use_case(**kw: object) -> UseCaseConfig:
    base = {"use_case": "churn", "kind": "tabular_training", "datasets": ["crm.accounts"],
            "features": ["crm.accounts.segment", "crm.accounts.tenure"],
            "label": {"column": "crm.accounts.churned"},
            "sample": {"min_rows": 500, "min_positive_events": 50},
            "freshness": {"column": "crm.accounts.updated_at", "warn_after": "24h",
                          "error_after": "72h"}}
    base.update(kw)
    return UseCaseConfig.model_validate(base)


def healthy(**overrides: object) -> tuple[dict[str, DatasetResult], UseCaseMeasures]:
    cols = [col("id", distinct=1000), col("segment"), col("tenure", mean=3.0),
            col("churned", distinct=2),
            col("updated_at", latest=AS_OF - timedelta(hours=2), freshness_hours=2.0)]
    exps = tuple(expectation(c, 0) for c in ("id", "segment", "tenure", "churned"))
    ds = dataset("crm.accounts", cols, expectations=exps, **overrides)  # type: ignore[arg-type]
    m = UseCaseMeasures(
        record_completeness=[RecordCompleteness("crm.accounts", ("segment",), 1000, 1000)],
        label=LabelMeasure("crm.accounts.churned", 1000, 1000, 200,
                           {"true": 200, "false": 800}, None, "h"))
    return {"crm.accounts": ds}, m


def test_utility_is_linear_between_fail_and_target() -> None:
    q1 = CATALOG["Q1"]
    assert utility(q1, 0.90) == 0.0 and utility(q1, 0.99) == 1.0
    assert utility(q1, 0.97) == pytest.approx(7 / 9)
    t1 = CATALOG["T1"]  # lower is better
    assert utility(t1, 24) == 1.0 and utility(t1, 72) == 0.0 and utility(t1, 48) == 0.5


def test_wilson_lower_bound() -> None:
    assert wilson_low(0, 0) is None
    assert wilson_low(100, 100) == pytest.approx(0.963, abs=1e-3)  # ~ rule of three
    assert wilson_low(50, 100) < 0.5


def test_healthy_use_case_scores_and_points_add_up() -> None:
    datasets, m = healthy()
    uc = use_case()
    s = score_use_case(uc, specs_for(uc), datasets, m, as_of=AS_OF)
    assert not s.blockers
    assert s.score + sum(c.points_lost for c in s.checks) == pytest.approx(100.0)
    assert s.band is Band.READY, [c for c in s.checks if c.points_lost > 0]


def test_missing_evidence_costs_points_and_caps_band() -> None:
    datasets, m = healthy()
    uc = use_case(consuming_role="ml_svc")  # no access inventory for these sources
    s = score_use_case(uc, specs_for(uc), datasets, m, as_of=AS_OF)
    a3 = next(c for c in s.checks if c.check == "A3")
    assert a3.status == "not_evaluated" and a3.utility == 0 and a3.points_lost > 0
    assert s.band is Band.CONDITIONAL
    assert s.coverage < 1
    assert s.score + sum(c.points_lost for c in s.checks) == pytest.approx(100.0)


def test_blocker_forces_not_ready_despite_high_score() -> None:
    datasets, m = healthy()
    m.joins.append(JoinMeasure("crm.accounts.id", "erp.c.id", 1000, 0, 900, 0.95, ("X1",), "h"))
    uc = use_case()
    s = score_use_case(uc, specs_for(uc), datasets, m, as_of=AS_OF)
    assert s.score > 80
    assert s.band is Band.NOT_READY_B
    assert [b.id for b in s.blockers] == ["B7"]


def test_pii_feature_is_access_blocker_band_c() -> None:
    pii = {"segment": PiiSummary("segment", ("email",), "looks like e-mail", 0.9)}
    datasets, m = healthy(pii=pii)
    uc = use_case()
    s = score_use_case(uc, specs_for(uc), datasets, m, as_of=AS_OF)
    assert s.band is Band.NOT_READY_C
    assert any(b.id == "B2" and "crm.accounts.segment" in b.message for b in s.blockers)
    allowed = use_case(pii_policy={"allowed_in_features": ["crm.accounts.segment"]})
    s2 = score_use_case(allowed, specs_for(allowed), datasets, m, as_of=AS_OF)
    assert not any(b.id == "B2" for b in s2.blockers)


def test_stale_data_beyond_error_after_blocks() -> None:
    datasets, m = healthy()
    stale = col("updated_at", latest=AS_OF - timedelta(days=9), freshness_hours=216.0)
    ds = datasets["crm.accounts"]
    assert ds.profile is not None
    cols = tuple(stale if c.name == "updated_at" else c for c in ds.profile.columns)
    from dataclasses import replace
    datasets["crm.accounts"] = replace(ds, profile=replace(ds.profile, columns=cols))
    uc = use_case()
    s = score_use_case(uc, specs_for(uc), datasets, m, as_of=AS_OF)
    t1 = next(c for c in s.checks if c.check == "T1")
    assert t1.value == 216.0 and t1.utility == 0.0 and t1.blocker == "B6"


def test_critical_expectation_on_required_column_blocks_but_warning_only_costs() -> None:
    datasets, m = healthy()
    from dataclasses import replace
    ds = datasets["crm.accounts"]
    warn = replace(ds, expectations=(expectation("segment", 50, "warning"),))
    s = score_use_case(use_case(), specs_for(use_case()), {"crm.accounts": warn}, m, as_of=AS_OF)
    q7 = next(c for c in s.checks if c.check == "Q7")
    assert q7.blocker is None and q7.points_lost > 0
    crit = replace(ds, expectations=(expectation("segment", 50, "critical"),))
    s = score_use_case(use_case(), specs_for(use_case()), {"crm.accounts": crit}, m, as_of=AS_OF)
    assert any(b.id == "B8" for b in s.blockers)


def test_overrides_change_thresholds_and_group_weights() -> None:
    datasets, m = healthy()
    ds = datasets["crm.accounts"]
    from dataclasses import replace
    assert ds.profile is not None
    cols = tuple(replace(c, nulls=40) if c.name == "segment" else c for c in ds.profile.columns)
    datasets["crm.accounts"] = replace(ds, profile=replace(ds.profile, columns=cols))
    base = use_case()
    lost = next(c for c in score_use_case(base, specs_for(base), datasets, m, as_of=AS_OF)
                .checks if c.check == "Q1").points_lost
    relaxed = use_case(overrides={"checks": {"Q1": {"fail": 0.8, "target": 0.95,
                                                    "reason": "backfilled monthly"}},
                                  "weights": {"Q": 10, "F": 45}})
    s = score_use_case(relaxed, specs_for(relaxed), datasets, m, as_of=AS_OF)
    q1 = next(c for c in s.checks if c.check == "Q1")
    assert q1.fail == 0.8 and q1.utility == 1.0 and q1.points_lost == 0 < lost
    assert s.group_weights["Intrinsic quality"] == pytest.approx(10.0)


def test_unlabelled_rows_block_training() -> None:
    datasets, m = healthy()
    m.label = LabelMeasure("crm.accounts.churned", 1000, 950, 10, {"true": 10, "false": 940},
                           None, "h")
    uc = use_case()
    s = score_use_case(uc, specs_for(uc), datasets, m, as_of=AS_OF)
    ids = {b.id for b in s.blockers}
    assert "B4" in ids  # label completeness < 1 and positives 10 < 50% of 50
    f3 = next(c for c in s.checks if c.check == "F3")
    assert f3.value == pytest.approx(10 / 950)


def _inventory(*grants: AccessGrant, roles: tuple[RoleInfo, ...] = ()) -> AccessInventory:
    return AccessInventory(source="s", grants=grants, roles=roles)


def test_consuming_role_without_access_is_blocker_b3() -> None:
    inv = _inventory(AccessGrant("o", None, "svc", via="direct", path=("svc",), can_login=True))
    datasets, m = healthy()
    from dataclasses import replace
    datasets["crm.accounts"] = replace(datasets["crm.accounts"], access=inv)
    uc = use_case(consuming_role="svc")
    s = score_use_case(uc, specs_for(uc), datasets, m, as_of=AS_OF)
    a3 = next(c for c in s.checks if c.check == "A3")
    assert a3.value == 1.0 and a3.blocker is None
    # only one column granted: the others are denied
    col_only = _inventory(AccessGrant("o", "segment", "svc", path=("svc",)))
    datasets["crm.accounts"] = replace(datasets["crm.accounts"], access=col_only)
    s = score_use_case(uc, specs_for(uc), datasets, m, as_of=AS_OF)
    a3 = next(c for c in s.checks if c.check == "A3")
    assert a3.value == pytest.approx(1 / 3) and a3.blocker == "B3"
    assert s.band is Band.NOT_READY_C
    assert "crm.accounts.tenure" in (a3.reason or "")


def test_pii_readable_by_public_is_blocker_b1_unless_masked() -> None:
    pii = {"segment": PiiSummary("segment", ("email",), "e-mails", 0.9)}
    datasets, m = healthy(pii=pii)
    from dataclasses import replace
    uc = use_case(features=["crm.accounts.tenure"],
                  pii_policy={"broad_roles": ["PUBLIC", "everyone"]})
    public = _inventory(AccessGrant("o", None, "PUBLIC", via="public", path=("PUBLIC",)))
    datasets["crm.accounts"] = replace(datasets["crm.accounts"], access=public)
    s = score_use_case(uc, specs_for(uc), datasets, m, as_of=AS_OF)
    p2 = next(c for c in s.checks if c.check == "P2")
    assert p2.value == 1.0 and p2.blocker == "B1" and s.band is Band.NOT_READY_C
    masked = _inventory(AccessGrant("o", "segment", "PUBLIC", via="public", path=("PUBLIC",),
                                    masked=True))
    datasets["crm.accounts"] = replace(datasets["crm.accounts"], access=masked)
    s = score_use_case(uc, specs_for(uc), datasets, m, as_of=AS_OF)
    assert next(c for c in s.checks if c.check == "P2").blocker is None


def test_role_with_many_members_is_broad() -> None:
    members = tuple(RoleInfo(f"u{i}", can_login=True, member_of=("staff",)) for i in range(60))
    inv = _inventory(AccessGrant("o", None, "staff", path=("staff",)),
                     roles=(RoleInfo("staff"), *members))
    pii = {"segment": PiiSummary("segment", ("email",), "e-mails", 0.9)}
    datasets, m = healthy(pii=pii)
    from dataclasses import replace
    datasets["crm.accounts"] = replace(datasets["crm.accounts"], access=inv)
    uc = use_case(features=["crm.accounts.tenure"])  # default max_members 50
    s = score_use_case(uc, specs_for(uc), datasets, m, as_of=AS_OF)
    assert next(c for c in s.checks if c.check == "P2").blocker == "B1"
    relaxed = use_case(features=["crm.accounts.tenure"], pii_policy={"max_members": 100})
    s = score_use_case(relaxed, specs_for(relaxed), datasets, m, as_of=AS_OF)
    assert next(c for c in s.checks if c.check == "P2").blocker is None
