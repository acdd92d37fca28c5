"""Renderers: turn an AuditResult into terminal output, JSON or Markdown. No logic of their own."""

from auditor.report.json import render_json, to_dict
from auditor.report.markdown import render_markdown

__all__ = ["render_json", "render_markdown", "to_dict"]
