"""Config loading: schema errors with file:line:column, references, secrets, JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from auditor.config import json_schema, load_config, parse_duration
from auditor.errors import InvalidConfig, SecretError

MINIMAL = """\
version: 1
sources:
  crm:
    kind: file
    path: data
datasets:
  crm.accounts:
    source: crm
    object: accounts.csv
use_cases:
  - use_case: churn
    kind: tabular_training
    datasets: [crm.accounts]
    features: [crm.accounts.segment]
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "audit.yml"
    p.write_text(text)
    return p


def test_minimal_config_loads(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, MINIMAL))
    assert loaded.config.use_cases[0].datasets[0].ref == "crm.accounts"
    assert loaded.store_path() == tmp_path / ".auditor" / "audit.duckdb"
    assert len(loaded.hash) == 16


def test_unknown_field_names_file_line_and_column(tmp_path: Path) -> None:
    text = MINIMAL.replace("    object: accounts.csv", "    object: accounts.csv\n    onwer: x")
    with pytest.raises(InvalidConfig) as exc:
        load_config(write(tmp_path, text))
    assert f"{tmp_path / 'audit.yml'}:10:5 datasets.crm.accounts.onwer: unknown field" \
        in str(exc.value)


def test_bad_literal_reports_value_and_position(tmp_path: Path) -> None:
    text = MINIMAL.replace("kind: tabular_training", "kind: tabular_trainin")
    with pytest.raises(InvalidConfig) as exc:
        load_config(write(tmp_path, text))
    msg = str(exc.value)
    assert ":12:5 use_cases[0].kind" in msg and "tabular_trainin" in msg


def test_invalid_yaml_reports_position(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfig) as exc:
        load_config(write(tmp_path, MINIMAL + "  - : [unclosed\n"))
    assert "invalid YAML" in str(exc.value)
    assert str(tmp_path / "audit.yml") + ":" in str(exc.value)


def test_unknown_source_and_dataset_and_column_refs(tmp_path: Path) -> None:
    text = (MINIMAL.replace("    source: crm", "    source: crn")
            .replace("features: [crm.accounts.segment]",
                     "features: [crm.acounts.segment]\n    joins: [{left: erp.x.y, right: "
                     "crm.accounts.id}]"))
    with pytest.raises(InvalidConfig) as exc:
        load_config(write(tmp_path, text))
    msg = str(exc.value)
    assert "datasets.crm.accounts.source: unknown source 'crn'" in msg
    assert ":14:16 use_cases[0].features.0: 'crm.acounts.segment' does not start with a known" \
        in msg
    assert "use_cases[0].joins.0.left: 'erp.x.y'" in msg


def test_missing_file() -> None:
    with pytest.raises(InvalidConfig, match="config file not found"):
        load_config("/nonexistent/audit.yml")


def test_env_and_file_secrets_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "token.txt").write_text("s3cret-from-file\n")
    monkeypatch.setenv("AUDITOR_TEST_PATH", "data-from-env")
    text = MINIMAL.replace("    path: data", "    path: ${env:AUDITOR_TEST_PATH}\n"
                                             "    token: ${file:token.txt}")
    loaded = load_config(write(tmp_path, text))
    opts = loaded.config.sources["crm"].options
    assert opts["path"] == "data-from-env"
    assert opts["token"] == "s3cret-from-file"
    # the hash is over the unresolved text: rotating a secret does not change it
    monkeypatch.setenv("AUDITOR_TEST_PATH", "other")
    assert load_config(tmp_path / "audit.yml").hash == loaded.hash


def test_missing_env_secret_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUDITOR_NOPE", raising=False)
    text = MINIMAL.replace("    path: data", "    path: ${env:AUDITOR_NOPE}")
    with pytest.raises(SecretError, match="environment variable 'AUDITOR_NOPE' is not set") as e:
        load_config(write(tmp_path, text))
    assert ":3:3" in str(e.value)


def test_durations() -> None:
    assert parse_duration("24h").total_seconds() == 86400
    assert parse_duration("90m").total_seconds() == 5400
    assert parse_duration("1w").days == 7
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_sampling_needs_n(tmp_path: Path) -> None:
    text = MINIMAL.replace("    object: accounts.csv",
                           "    object: accounts.csv\n    sampling: {method: random}")
    with pytest.raises(InvalidConfig, match="needs n"):
        load_config(write(tmp_path, text))


def test_json_schema_validates_sample_config() -> None:
    from auditor.registry import source_schemas

    schema = json_schema(source_schemas())
    root = Path(__file__).parent.parent
    data = yaml.safe_load((root / "sample_data" / "audit.yml").read_text())
    jsonschema.validate(json.loads(json.dumps(data, default=str)), schema)
    bad = dict(data, use_cases=[dict(data["use_cases"][0], kind="nope")])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(json.loads(json.dumps(bad, default=str)), schema)


def test_sql_filters_must_be_single_expressions(tmp_path: Path) -> None:
    text = MINIMAL.replace("    features: [crm.accounts.segment]",
                           "    features: [crm.accounts.segment]\n"
                           "    population: \"1=1; DROP TABLE runs\"")
    with pytest.raises(InvalidConfig) as exc:
        load_config(write(tmp_path, text))
    assert ":15:5 use_cases[0].population: not a single SQL expression" in str(exc.value)
