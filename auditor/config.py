"""``audit.yml``: sources, datasets and AI use cases, validated with file:line:column errors.

Sources stay ``{kind, options}`` here; the registry binds them to the connector's own config
model, so this module never grows per-connector fields (and never imports connectors).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from auditor.errors import InvalidConfig
from auditor.lineage_config import LineageConfig
from auditor.secrets import resolve_references
from auditor.watch_config import WatchConfig

UseCaseKind = Literal["tabular_training", "batch_inference", "summarization", "rag", "agentic"]
CHECK_GROUPS = ("Q", "F", "T", "P", "L", "R", "X")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """Parse ``90m``, ``24h``, ``3d``, ``1w`` (dbt-style freshness periods) or seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration; use e.g. 90m, 24h, 3d or 1w")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StoreConfig(_Model):
    path: str = Field(".auditor/audit.duckdb", description="DuckDB audit store file, relative "
                      "to the config file's directory.")
    mask_pii: bool = Field(True, description="Mask PII values in stored samples and reports.")
    keep_samples: bool = Field(True, description="Keep each run's sample tables in the store.")


class SourceConfig(BaseModel):
    """A source: ``kind`` selects the connector; the other keys are that connector's options."""

    model_config = ConfigDict(frozen=True, extra="allow")
    kind: str = Field(description="Connector kind, e.g. file, postgres, salesforce.")

    @property
    def options(self) -> dict[str, Any]:
        return {"kind": self.kind, **(self.model_extra or {})}


class SamplingConfig(_Model):
    method: Literal["all", "first", "random"] = Field(
        "all", description="all rows, the first n rows, or a seeded random sample of n rows")
    n: int | None = Field(None, gt=0, description="Rows to sample (first/random).")
    seed: int = Field(42, description="Seed for reproducible random samples.")
    where: str | None = Field(None, description="SQL filter applied before sampling.")

    @model_validator(mode="after")
    def _n_required(self) -> SamplingConfig:
        if self.method != "all" and self.n is None:
            raise ValueError(f"sampling method {self.method!r} needs n")
        return self


class DatasetConfig(_Model):
    source: str = Field(description="Name of a source in `sources`.")
    object: str = Field(description="File, table or object name within the source.")
    key: list[str] = Field(default_factory=list, description="Primary/business key columns.")
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    suites: list[str] = Field(default_factory=list, description="GX 1.x suite JSON files.")
    owner: str | None = Field(None, description="Accountable data owner (person or team).")
    description: str | None = None
    system_of_record: str | None = Field(None, description="System this dataset comes from.")
    near_duplicates: list[str] = Field(
        default_factory=list,
        description="Columns that identify an entity; rows equal after normalisation "
                    "(case, punctuation, legal suffixes) are reported as near-duplicates.")
    references: dict[str, str] = Field(
        default_factory=dict,
        description="Foreign keys: column -> `dataset.column` it must match (like dbt's "
                    "relationships test); orphans are reported as findings.")
    pii_columns: list[str] = Field(default_factory=list, description="Columns declared PII.")
    not_pii: list[str] = Field(default_factory=list, description="Columns never treated as PII.")
    source_contracts: bool = Field(
        True, description="Check the constraints the source's API declares (required, unique, "
        "picklist values, maximum length) as expectations, where the connector reports them.")
    options: dict[str, Any] = Field(default_factory=dict,
                                    description="Connector-specific read options.")


class UseCaseDataset(_Model):
    ref: str = Field(description="Dataset name from `datasets`.")
    key: list[str] | None = None
    system_of_record: str | None = None


class JoinConfig(_Model):
    left: str = Field(description="Child column, `dataset.column` (every value should match).")
    right: str = Field(description="Parent column, `dataset.column`.")
    min_match: float = Field(0.95, ge=0, le=1, description="Blocker below this match share.")


class LabelConfig(_Model):
    column: str = Field(description="`dataset.column` holding the target.")
    type: Literal["binary", "multiclass", "regression"] = "binary"
    positive: Any = True


class FreshnessConfig(_Model):
    column: str = Field(description="`dataset.column` timestamp whose maximum is the data age.")
    warn_after: Duration
    error_after: Duration


class SampleRequirement(_Model):
    min_rows: int = Field(0, ge=0)
    min_positive_events: int | None = Field(None, ge=0)


class PiiPolicy(_Model):
    allowed_in_features: list[str] = Field(default_factory=list)
    broad_roles: list[str] = Field(default_factory=lambda: ["PUBLIC"],
                                   description="Roles that count as broad (PUBLIC always does).")
    max_members: int | None = Field(
        50, ge=0, description="A role with more login members than this is broad too.")
    masked_ok: bool = True
    free_text: Literal["block", "warn", "allow"] = Field(
        "block", description="PII embedded in text columns of the LLM context: block (blocker), "
                             "warn (critical finding) or allow.")


class TextRequirement(_Model):
    min_chars: int = 20
    max_chars: int = 8000


class CheckOverride(_Model):
    weight: float | None = Field(None, ge=0)
    fail: float | None = None
    target: float | None = None
    severity: Literal["blocker", "critical", "major", "minor", "info"] | None = None
    reason: str = Field(description="Why this use case deviates from the default (required).")


class Overrides(_Model):
    weights: dict[str, float] = Field(default_factory=dict,
                                      description="Group weights (Q, F, T, P, L, X), sum 100.")
    checks: dict[str, CheckOverride] = Field(default_factory=dict)

    @field_validator("weights")
    @classmethod
    def _known_groups(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = set(v) - set(CHECK_GROUPS)
        if unknown:
            raise ValueError(f"unknown weight groups {sorted(unknown)}; use {CHECK_GROUPS}")
        return v


def _dataset_ref(value: Any) -> Any:
    return {"ref": value} if isinstance(value, str) else value


class UseCaseConfig(_Model):
    use_case: str = Field(description="Use case name.")
    version: int = 1
    kind: UseCaseKind
    description: str | None = None
    owner: str | None = None
    purpose: str | None = None
    consuming_role: str | None = None
    datasets: list[Annotated[UseCaseDataset, BeforeValidator(
        _dataset_ref, json_schema_input_type=UseCaseDataset | str)]]
    joins: list[JoinConfig] = Field(default_factory=list)
    label: LabelConfig | None = None
    population: str | None = Field(None, description="SQL filter over the label's dataset that "
                                   "defines the rows the model learns from.")
    features: list[str] = Field(default_factory=list)
    context: list[str] = Field(default_factory=list,
                               description="Text columns an LLM reads (summarization/RAG).")
    freshness: FreshnessConfig | None = None
    sample: SampleRequirement = Field(default_factory=SampleRequirement)
    pii_policy: PiiPolicy = Field(default_factory=PiiPolicy)
    text: TextRequirement = Field(default_factory=TextRequirement)
    overrides: Overrides = Field(default_factory=Overrides)


class AuditConfig(_Model):
    version: Literal[1] = 1
    name: str | None = None
    as_of: datetime | None = Field(None, description="Reference time for freshness (default: "
                                   "now). Fix it for reproducible demos and tests.")
    store: StoreConfig = Field(default_factory=StoreConfig)
    sources: dict[str, SourceConfig]
    datasets: dict[str, DatasetConfig]
    use_cases: list[UseCaseConfig] = Field(default_factory=list)
    access_inventories: dict[str, str] = Field(
        default_factory=dict,
        description="Declared access inventory YAML per source name, for systems whose grants "
                    "cannot be introspected (files, SaaS without an API for it).")
    watch: WatchConfig = Field(default_factory=WatchConfig)
    lineage: LineageConfig = Field(default_factory=LineageConfig)


class LoadedConfig:
    """A validated config plus where it came from (for paths, hashes and error locations)."""

    def __init__(self, config: AuditConfig, path: Path, text: str, root: yaml.Node | None):
        self.config = config
        self.path = path
        self.base_dir = path.parent
        self.hash = hashlib.sha256(text.encode()).hexdigest()[:16]
        self._root = root

    def where(self, *loc: str | int) -> str:
        """``file:line:col`` of the node at ``loc`` (falls back to the file name)."""
        line_col = _locate(self._root, loc) if self._root is not None else None
        if line_col is None:
            return str(self.path)
        return f"{self.path}:{line_col[0]}:{line_col[1]}"

    def store_path(self, override: str | None = None) -> Path:
        p = Path(override or self.config.store.path).expanduser()
        return p if p.is_absolute() else self.base_dir / p


def read_yaml_mapping(path: Path, what: str, expected: str
                      ) -> tuple[str, dict[str, Any], yaml.Node | None]:
    """Text, data and node tree (for positions) of a YAML file that must hold a mapping.

    Every YAML file the auditor reads (audit.yml, declared inventories) reports problems the
    same way: ``file:line:col``.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidConfig(f"{path}: {what} not found",
                            hint=f"pass the path to an existing {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidConfig(f"{path}: cannot read {what}: {exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        pos = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidConfig(f"{path}{pos}: invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise InvalidConfig(f"{path}:1:1: {what} must be a mapping with {expected}")
    return text, data, root


def load_config(path: str | Path) -> LoadedConfig:
    """Read, check and resolve ``audit.yml``; every error names file:line:column."""
    path = Path(path)
    text, data, root = read_yaml_mapping(path, "config file",
                                         "`sources`, `datasets` and `use_cases`")
    try:
        config = AuditConfig.model_validate(data)
    except ValidationError as exc:
        raise InvalidConfig(format_validation_error(exc, path, root, "invalid config"),
                            hint="`auditor config schema` prints the JSON Schema") from None
    loaded = LoadedConfig(config, path, text, root)
    _check_references(loaded)
    _resolve_source_secrets(loaded)
    return loaded


def _resolve_source_secrets(loaded: LoadedConfig) -> None:
    sources = {}
    for name, src in loaded.config.sources.items():
        opts = resolve_references(src.options, base_dir=loaded.base_dir,
                                  where=loaded.where("sources", name))
        sources[name] = SourceConfig.model_validate(opts)
    loaded.config = loaded.config.model_copy(update={"sources": sources})


def format_validation_error(exc: ValidationError, path: Path, root: yaml.Node | None,
                            title: str) -> str:
    """One line per problem: ``file:line:col field.path: message``."""
    lines = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        line_col = _locate(root, loc) if root is not None else None
        pos = f"{path}:{line_col[0]}:{line_col[1]}" if line_col else str(path)
        field = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in loc)
        field = field.replace(".[", "[")
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "literal_error":
            msg = f"{msg} (got {err.get('input')!r})"
        lines.append(f"{pos} {field}: {msg}")
    return f"{title}:\n  " + "\n  ".join(lines)


def _locate(node: yaml.Node | None, loc: tuple[str | int, ...]) -> tuple[int, int] | None:
    """Walk the YAML node tree along ``loc``; return the deepest (line, col) found, 1-based."""
    found = None
    for part in loc:
        if node is None:
            break
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    found = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                    nxt = value_node
                    break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part < len(node.value):
                node = node.value[part]
                found = (node.start_mark.line + 1, node.start_mark.column + 1)
            else:
                node = None
        else:
            break
    if found is None and node is not None:
        found = (node.start_mark.line + 1, node.start_mark.column + 1)
    return found


def split_column_ref(ref: str, datasets: dict[str, Any]) -> tuple[str, str] | None:
    """Split ``crm.accounts.email`` into (``crm.accounts``, ``email``) by longest dataset name."""
    best = None
    for name in datasets:
        if ref.startswith(name + ".") and (best is None or len(name) > len(best)):
            best = name
    return (best, ref[len(best) + 1:]) if best else None


def _check_references(loaded: LoadedConfig) -> None:
    """Cross-references YAML typing cannot see: unknown sources, datasets and column refs."""
    cfg = loaded.config
    errors: list[str] = []
    for name, ds in cfg.datasets.items():
        if ds.source not in cfg.sources:
            errors.append(f"{loaded.where('datasets', name, 'source')} datasets.{name}.source: "
                          f"unknown source {ds.source!r} (known: {', '.join(cfg.sources)})")
        for col, target in ds.references.items():
            split = split_column_ref(target, cfg.datasets)
            if split is None:
                errors.append(f"{loaded.where('datasets', name, 'references', col)} "
                              f"datasets.{name}.references.{col}: {target!r} does not start "
                              "with a known dataset name (write dataset.column)")
    for src in cfg.access_inventories:
        if src not in cfg.sources:
            errors.append(f"{loaded.where('access_inventories', src)} access_inventories: "
                          f"unknown source {src!r}")
    for name, ds in cfg.datasets.items():
        if ds.sampling.where:
            errors += _expression_errors(ds.sampling.where, loaded.where(
                "datasets", name, "sampling", "where"), f"datasets.{name}.sampling.where")
    for i, uc in enumerate(cfg.use_cases):
        if uc.population:
            errors += _expression_errors(uc.population, loaded.where(
                "use_cases", i, "population"), f"use_cases[{i}].population")
    names = [u.use_case for u in cfg.use_cases]
    for dup in {n for n in names if names.count(n) > 1}:
        errors.append(f"{loaded.path}: use case {dup!r} is declared twice")
    for i, uc in enumerate(cfg.use_cases):
        declared = {d.ref for d in uc.datasets}
        for j, d in enumerate(uc.datasets):
            if d.ref not in cfg.datasets:
                errors.append(f"{loaded.where('use_cases', i, 'datasets', j)} "
                              f"use_cases[{i}].datasets[{j}]: unknown dataset {d.ref!r}")
        refs: list[tuple[tuple[str | int, ...], str]] = []
        refs += [(("features", k), f) for k, f in enumerate(uc.features)]
        refs += [(("context", k), f) for k, f in enumerate(uc.context)]
        refs += [(("pii_policy", "allowed_in_features", k), f)
                 for k, f in enumerate(uc.pii_policy.allowed_in_features)]
        for k, j in enumerate(uc.joins):
            refs += [(("joins", k, "left"), j.left), (("joins", k, "right"), j.right)]
        if uc.label:
            refs.append((("label", "column"), uc.label.column))
        if uc.freshness:
            refs.append((("freshness", "column"), uc.freshness.column))
        for loc, ref in refs:
            split = split_column_ref(ref, cfg.datasets)
            field = f"use_cases[{i}]." + ".".join(map(str, loc))
            if split is None:
                errors.append(f"{loaded.where('use_cases', i, *loc)} {field}: {ref!r} does not "
                              "start with a known dataset name (write dataset.column)")
            elif split[0] not in declared:
                errors.append(f"{loaded.where('use_cases', i, *loc)} {field}: dataset "
                              f"{split[0]!r} is not in this use case's datasets")
        unknown_checks = [c for c in uc.overrides.checks if c[:1] not in CHECK_GROUPS]
        for c in unknown_checks:
            errors.append(f"{loaded.where('use_cases', i, 'overrides', 'checks', c)} "
                          f"unknown check id {c!r}")
    if errors:
        raise InvalidConfig("invalid config:\n  " + "\n  ".join(errors))


def _expression_errors(expr: str, where: str, field: str) -> list[str]:
    """SQL filters in config must be one expression: no statement can ride along."""
    import duckdb

    try:
        duckdb.SQLExpression(expr)
    except duckdb.Error as exc:
        return [f"{where} {field}: not a single SQL expression: {str(exc).splitlines()[0]}"]
    return []


def json_schema(source_schemas: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """JSON Schema of ``audit.yml`` for editors; sources are typed per connector kind."""
    schema = AuditConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "auditor audit.yml"
    if source_schemas:
        one_of = []
        for kind, sub in sorted(source_schemas.items()):
            defs = sub.pop("$defs", {})
            schema.setdefault("$defs", {}).update(defs)
            name = f"Source_{kind}"
            schema["$defs"][name] = sub
            one_of.append({"$ref": f"#/$defs/{name}"})
        schema["properties"]["sources"]["additionalProperties"] = {"oneOf": one_of}
    return schema
