"""The readiness requirements (readiness-model.md §1–2) and their defaults per use-case kind.

Every requirement has an id from the model (Q1, T1, P3 ...), a group whose weight is a policy
choice per kind, a direction, ``fail``/``target`` thresholds between which utility rises
linearly, a severity (within-group weight and gate level) and, for gates, the blocker id it
raises. Use cases override thresholds, weights and severities in ``overrides`` with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from auditor.config import UseCaseConfig

Direction = Literal["higher", "lower"]

GROUP_NAMES = {
    "Q": "Intrinsic quality",
    "F": "ML fitness",
    "T": "Currentness",
    "P": "Privacy & access",
    "L": "Context & lineage",
    "X": "Text fitness",
}

# Within a group checks are weighted by criticality, not by how many tests exist (§2.4).
SEVERITY_WEIGHT = {"blocker": 3.0, "critical": 3.0, "major": 2.0, "minor": 1.0, "info": 0.0}

GROUP_WEIGHTS: dict[str, dict[str, float]] = {
    "tabular_training": {"Q": 30, "F": 25, "T": 10, "P": 20, "L": 15},
    "batch_inference": {"Q": 35, "F": 10, "T": 20, "P": 20, "L": 15},
    "summarization": {"Q": 20, "X": 15, "T": 15, "P": 30, "L": 20},
    "rag": {"Q": 20, "X": 15, "T": 15, "P": 30, "L": 20},
    "agentic": {"Q": 20, "X": 15, "T": 15, "P": 30, "L": 20},
}


@dataclass(frozen=True, slots=True)
class CheckSpec:
    id: str
    name: str
    group: str
    direction: Direction
    fail: float
    target: float
    severity: Literal["blocker", "critical", "major", "minor", "info"]
    blocker: str | None = None
    fix: str = ""

    @property
    def weight(self) -> float:
        return SEVERITY_WEIGHT[self.severity]


CATALOG: dict[str, CheckSpec] = {c.id: c for c in [
    CheckSpec("A1", "Declared datasets and columns exist", "P", "higher", 0.0, 1.0, "blocker",
              "A1", "fix the dataset/column names in audit.yml or restore the missing columns"),
    CheckSpec("A2", "Datasets load with rows", "P", "higher", 0.0, 1.0, "blocker", "A2",
              "make the source reachable and non-empty; see the source findings"),
    CheckSpec("A3", "Consuming role can read required columns", "P", "higher", 0.0, 1.0,
              "critical", None, "grant SELECT on the required columns to the consuming role"),
    CheckSpec("P2", "PII not readable by broad roles", "P", "lower", 1.0, 0.0, "critical", None,
              "revoke broad grants on PII columns or apply a masking policy"),
    CheckSpec("P3", "No disallowed PII among features/context columns", "P", "lower", 1.0, 0.0,
              "blocker", "B2", "drop the PII column from the features or allow it explicitly "
              "in pii_policy.allowed_in_features with a legal basis"),
    CheckSpec("P5", "Free text free of embedded PII", "P", "lower", 0.05, 0.0, "blocker", "B2",
              "redact e-mails, phones and IBANs from the text before it reaches the model"),
    CheckSpec("Q1", "Completeness of required columns", "Q", "higher", 0.90, 0.99, "major",
              None, "backfill or make the column mandatory at entry; impute only if justified"),
    CheckSpec("Q2", "Record completeness", "Q", "higher", 0.80, 0.95, "major", None,
              "find the rows missing several required values; fix at source"),
    CheckSpec("Q5", "Key uniqueness", "Q", "higher", 0.98, 0.995, "major", None,
              "deduplicate on the declared key at source"),
    CheckSpec("Q6", "No near-duplicate entities", "Q", "lower", 0.05, 0.01, "major", None,
              "merge spelling-variant duplicates (MDM / dedupe job) and keep one id"),
    CheckSpec("Q7", "Validity (GX expectations)", "Q", "higher", 0.90, 0.999, "major", "B8",
              "fix the values breaking the failing expectations (see examples)"),
    CheckSpec("Q8", "Cross-dataset key match", "Q", "higher", 0.90, 0.99, "major", "B7",
              "create the missing parent records or correct the foreign keys"),
    CheckSpec("Q10", "No constant features", "Q", "lower", 1.0, 0.0, "minor", None,
              "drop features with a single value"),
    CheckSpec("T1", "Freshness", "T", "lower", 72.0, 24.0, "major", "B6",
              "restore the load job / schedule so the data is refreshed"),
    CheckSpec("F1", "Label completeness", "F", "higher", 0.95, 1.0, "blocker", "B4",
              "fill the label for every row of the population or narrow the population"),
    CheckSpec("F2", "Sample sufficiency (rows and positive events)", "F", "higher", 0.5, 1.0,
              "major", "B4", "collect more history or lower the model's complexity"),
    CheckSpec("F3", "Class balance (minority share)", "F", "higher", 0.01, 0.05, "minor", None,
              "collect more minority examples; plan resampling or class weights"),
    CheckSpec("F4", "No label leakage (max |r| feature-label)", "F", "lower", 0.95, 0.5,
              "blocker", "B5", "drop or lag the feature that encodes the label"),
    CheckSpec("L1", "Datasets traced to a system of record", "L", "higher", 0.0, 1.0, "major",
              None, "declare system_of_record or emit lineage from the pipeline"),
    CheckSpec("L3", "Every dataset has an owner", "L", "higher", 0.5, 1.0, "critical", None,
              "name an accountable owner for the dataset"),
    CheckSpec("L7", "Required columns under test", "L", "higher", 0.5, 1.0, "major", None,
              "add expectations covering the required columns"),
    CheckSpec("X1", "Documents of usable length", "X", "higher", 0.7, 0.9, "major", None,
              "filter empty/boilerplate tickets; split very long threads"),
    CheckSpec("X2", "No duplicate documents", "X", "lower", 0.05, 0.01, "minor", None,
              "deduplicate documents before indexing or summarising"),
]}

# Blockers that mean "not cleared for access/legal" (band C); the others are validity (band B).
ACCESS_BLOCKERS = {"A1", "A2", "A3", "B1", "B2", "B3"}


def specs_for(uc: UseCaseConfig) -> dict[str, CheckSpec]:
    """The catalog with this use case's overrides applied."""
    specs = dict(CATALOG)
    for cid, ov in uc.overrides.checks.items():
        if cid not in specs:
            continue
        spec = specs[cid]
        specs[cid] = replace(
            spec,
            fail=ov.fail if ov.fail is not None else spec.fail,
            target=ov.target if ov.target is not None else spec.target,
            severity=ov.severity or spec.severity,
        )
    return specs


def group_weights(uc: UseCaseConfig) -> dict[str, float]:
    weights = dict(GROUP_WEIGHTS[uc.kind])
    weights.update(uc.overrides.weights)
    return weights


def check_weight(uc: UseCaseConfig, spec: CheckSpec) -> float:
    ov = uc.overrides.checks.get(spec.id)
    return ov.weight if ov is not None and ov.weight is not None else spec.weight
