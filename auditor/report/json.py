"""The JSON report: versioned and stable, for machines (CI gates, dashboards, diffing runs).

``report_version`` follows semver: new keys bump the minor version; renamed or removed keys bump
the major version. The README documents every top-level key.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from auditor import __version__
from auditor.exit_codes import exit_code_for
from auditor.models import AuditResult, DatasetResult

REPORT_VERSION = "1.0"


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str | int | bool) or value is None:
        return value
    return str(value)


def _dataset(d: DatasetResult) -> dict[str, Any]:
    out = asdict(d)
    out.pop("metadata", None)
    out["access"] = ([asdict(g) for g in d.access.grants if g.object == d.object]
                     if d.access else None)
    out["columns"] = [asdict(c) for c in d.metadata.columns] if d.metadata else []
    return out


def to_dict(result: AuditResult, fail_under: float | None = None) -> dict[str, Any]:
    return _plain({
        "report_version": REPORT_VERSION,
        "auditor_version": __version__,
        "run": {
            "id": result.run_id, "started_at": result.started_at,
            "finished_at": result.finished_at, "config_path": result.config_path,
            "config_hash": result.config_hash, "store_path": result.store_path,
            "status": "partial" if result.failed_sources else "ok",
            "exit_code": int(exit_code_for(result, fail_under)),
        },
        "use_cases": [{**asdict(u), "band": u.band.value} for u in result.use_cases],
        "datasets": [_dataset(d) for d in result.datasets],
        "findings": [asdict(f) for f in result.findings],
    })


def render_json(result: AuditResult, fail_under: float | None = None) -> str:
    return json.dumps(to_dict(result, fail_under), indent=2, ensure_ascii=False)
