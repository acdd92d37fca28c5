"""Shared helpers for the lineage tests: the OpenLineage schema validator and one sample audit.

The validator follows notes §5: every saved schema goes into a ``referencing.Registry`` by its
``$id`` (no network); the event is validated against ``#/$defs/RunEvent`` (etc.) for readable
errors, then each facet separately against the file its ``_schemaURL`` names, because the core
schema does not descend into facets. Format checking is real: ``date-time`` requires RFC 3339
with an offset and ``uri`` an RFC 3986 absolute URI, implemented here so the check never silently
depends on optional packages (jsonschema skips formats whose checker is not installed).
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SPECS = REPO.parent / "shared" / "specs" / "openlineage"

_DATE_TIME = re.compile(
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)"
    r"(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$")
# RFC 3986 absolute URI: scheme ":" hier-part [ "?" query ] [ "#" fragment ], with only the
# characters the grammar allows (unreserved, reserved, and well-formed percent-encodings).
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:"
                  r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#\[\]]|%[0-9A-Fa-f]{2})*$")


def specs_dir() -> Path:
    """The saved OpenLineage schemas; skip (or fail under CI=true) when they are absent."""
    if not (SPECS / "OpenLineage.json").exists():
        reason = f"OpenLineage JSON Schemas not found at {SPECS} (../shared/specs from the repo)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return SPECS


def format_checker() -> Any:
    """A FormatChecker that really checks date-time and uri (and uuid, as jsonschema does)."""
    import uuid
    from datetime import datetime

    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not _DATE_TIME.match(value):
            return False
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        return True

    @checker.checks("uri")
    def _uri(value: object) -> bool:
        return not isinstance(value, str) or bool(_URI.match(value))

    @checker.checks("uuid", raises=ValueError)
    def _uuid(value: object) -> bool:
        if isinstance(value, str):
            uuid.UUID(value)
        return True

    return checker


class OpenLineageValidator:
    """Validate wire-form events: core schema by event type, then each facet by its file."""

    def __init__(self, specs: Path) -> None:
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource

        self.schemas: dict[str, dict[str, Any]] = {}
        for f in specs.glob("*.json"):
            doc = json.loads(f.read_text(encoding="utf-8"))
            if "$id" in doc:
                self.schemas[doc["$id"]] = doc
        self.registry = Registry().with_resources(
            (sid, Resource.from_contents(doc)) for sid, doc in self.schemas.items())
        self.checker = format_checker()
        self._cls = Draft202012Validator
        self.core = next(sid for sid in self.schemas if sid.endswith("/OpenLineage.json"))

    def _validator(self, schema: dict[str, Any]) -> Any:
        return self._cls(schema, registry=self.registry, format_checker=self.checker)

    def errors(self, event: dict[str, Any]) -> list[str]:
        """Every problem found, as ``path: message`` strings (empty when valid)."""
        kind = str(event.get("schemaURL", "")).rsplit("/", 1)[-1] or "RunEvent"
        out = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
               for e in self._validator({"$ref": f"{self.core}#/$defs/{kind}"})
               .iter_errors(event)]
        for where, key, facet in _facets(event):
            url = str(facet.get("_schemaURL", ""))
            sid = url.split("#", 1)[0]
            if sid == self.core:
                continue
            if sid not in self.schemas:
                out.append(f"{where}.{key}: no saved schema for {url}")
                continue
            for e in self._validator(self.schemas[sid]).iter_errors({key: facet}):
                out.append(f"{where}.{'/'.join(map(str, e.absolute_path))}: {e.message}")
        return out


def _facets(event: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for key, f in ((event.get("run") or {}).get("facets") or {}).items():
        out.append(("run.facets", key, f))
    for key, f in ((event.get("job") or {}).get("facets") or {}).items():
        out.append(("job.facets", key, f))
    datasets = [("inputs", d) for d in event.get("inputs") or []] + \
        [("outputs", d) for d in event.get("outputs") or []]
    if event.get("dataset"):
        datasets.append(("dataset", event["dataset"]))
    for side, d in datasets:
        for group in ("facets", "inputFacets", "outputFacets"):
            for key, f in (d.get(group) or {}).items():
                out.append((f"{side}[{d.get('name')}].{group}", key, f))
    return out


@functools.cache
def _validator_for(path: str) -> OpenLineageValidator:
    return OpenLineageValidator(Path(path))


def validator() -> OpenLineageValidator:
    return _validator_for(str(specs_dir()))


@functools.cache
def sample_audit() -> tuple[Any, Any, Path]:
    """(loaded config, AuditResult, store path) of one run over sample_data, made once."""
    from auditor.api import run_audit
    from auditor.config import load_config

    tmp = Path(tempfile.mkdtemp(prefix="auditor-lineage-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    loaded = load_config(REPO / "sample_data" / "audit.yml")
    store = tmp / "audit.duckdb"
    result = run_audit(loaded, store_path=str(store))
    return loaded, result, store


def clean_openlineage_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OPENLINEAGE_* variable or openlineage.yml from the developer's machine leaks in."""
    for key in list(os.environ):
        if key.startswith("OPENLINEAGE"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("OPENLINEAGE_CONFIG", str(REPO / "tests" / "no-such-openlineage.yml"))
