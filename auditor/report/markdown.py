"""Markdown report: the shareable summary with, for each lost point, why and how to fix."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined

from auditor.models import AuditResult, Band

_env = Environment(loader=PackageLoader("auditor.report", "templates"),
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                   autoescape=False)


def _md(text: object) -> str:
    """Escape the characters that would break a Markdown table cell."""
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


_env.filters["md"] = _md


def render_markdown(result: AuditResult) -> str:
    return _env.get_template("report.md.j2").render(
        r=result, Band=Band,
        by_severity=sorted(result.findings, key=lambda f: ["blocker", "critical", "major",
                                                           "minor", "info"].index(f.severity)))
