"""Expectations from the constraints a source's API declares on its fields.

Why: a CRM's field metadata is a contract the application enforces on write — a required field,
a unique external id, a restricted picklist, a maximum length. Records that break it exist all
the same (data loaded before the rule, imports that bypass validation, a picklist value
deactivated later), and a model trained on them inherits the mess. The auditor checks each
declared constraint like any user expectation, so a violation shows up as a failed expectation
naming the field and the rule the source itself states.

Severity: a broken primary key is critical (it breaks joins and deduplication); the other
rules are warnings — conditions to fix before a pilot, not blockers on their own.

Only connectors that set :attr:`ObjectMetadata.contracts` get these (the SaaS connectors):
a database's NOT NULL and PRIMARY KEY are enforced by the engine and cannot be violated in the
sample, so checking them would only add noise. ``source_contracts: false`` on a dataset turns
them off.
"""

from __future__ import annotations

from auditor.models import ObjectMetadata
from auditor.validate import Suite, SuiteExpectation, suite_from_expectations


def contract_suite(source: str, metadata: ObjectMetadata) -> Suite | None:
    """A suite named ``<source> contract`` with one expectation per declared constraint."""
    if not metadata.contracts:
        return None
    items: list[SuiteExpectation] = []

    def add(etype: str, column: str, rule: str, severity: str = "warning",
            **kwargs: object) -> None:
        meta = {"source_contract": rule,
                "rationale": f"{source} declares {column} {rule}; records that break it "
                             "were written around the application's validation"}
        items.append(SuiteExpectation(etype, {"column": column, **kwargs}, meta, severity))

    for col in metadata.columns:
        # A broken record id breaks every join and dedupe: critical. The other rules are
        # conditions to fix (a legacy picklist value can be mapped): warnings.
        key = "critical" if col.primary_key else "warning"
        if col.primary_key or col.nullable is False:
            add("expect_column_values_to_not_be_null", col.name,
                "primary key" if col.primary_key else "required", key)
        if col.primary_key or col.unique:
            add("expect_column_values_to_be_unique", col.name,
                "primary key" if col.primary_key else "unique", key)
        if col.allowed_values:
            add("expect_column_values_to_be_in_set", col.name,
                f"a restricted {col.source_type or 'picklist'} of {len(col.allowed_values)} "
                "values", value_set=list(col.allowed_values))
        if col.max_length and col.type in ("string", "large_string"):
            add("expect_column_value_lengths_to_be_between", col.name,
                f"at most {col.max_length} characters long", max_value=col.max_length)
    if not items:
        return None
    return suite_from_expectations(f"{source} contract", items)
