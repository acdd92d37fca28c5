"""``auditor suggest``: propose GX suites from profiles and source metadata (issue 7).

Kept out of ``auditor/cli/__init__.py``: that module calls :func:`register` to add the command.
What goes where: the suite JSON (or the full JSON report) goes to stdout so it can be piped into
a file; findings, references and progress go to stderr (or to stdout with ``--write``, when
stdout carries no JSON). Exit codes as for ``audit``: 0 done, 2 usage/config error, 3 a
source could not be read (the other datasets are still suggested).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from auditor.suggest import SuggestReport


class Strictness(StrEnum):
    """The ``--strictness`` levels (see docs/suggest-vs-deequ.md)."""
    low = "low"
    medium = "medium"
    high = "high"


class SuggestFormat(StrEnum):
    """What stdout carries: the suite JSON, or suite + findings + references."""
    suite = "suite"
    json = "json"


def _quiet_gx(record: logging.LogRecord) -> bool:
    """Drop GX's INFO chatter (it pins some of its loggers to INFO, e.g. "Created temporary
    directory ... for ephemeral docs site"), which would otherwise interleave with output."""
    return not (record.name.startswith("great_expectations") and record.levelno < logging.WARNING)


def register(app: typer.Typer) -> None:
    """Add the ``suggest`` command to ``app`` (the ``auditor`` Typer application)."""
    app.command("suggest")(suggest)


def suggest(
    config: Annotated[Path, typer.Argument(help="Path to audit.yml.")],
    dataset: Annotated[list[str] | None, typer.Option(
        "--dataset", "-d", help="Dataset name from config (repeat for several).")] = None,
    all_datasets: Annotated[bool, typer.Option(
        "--all", help="Every dataset of the config.")] = False,
    write: Annotated[Path | None, typer.Option(
        "--write", "-w", help="Write <dataset>.json suites, <dataset>.findings.json and "
        "references.yml into this directory instead of printing the suite.")] = None,
    strictness: Annotated[Strictness, typer.Option(
        help="low: fewer, looser rules; high: more rules, tighter bounds.")]
    = Strictness.medium,
    fmt: Annotated[SuggestFormat, typer.Option(
        "--format", "-f", help="suite: GX suite JSON; json: suite, findings, references and "
        "dropped candidates.")] = SuggestFormat.suite,
    as_of: Annotated[datetime | None, typer.Option(
        help="Reference time for freshness (default: config as_of, else now).")] = None,
) -> None:
    """Suggest GX expectation suites (plus findings and foreign keys) from sampled data."""
    from auditor.cli import STATE, err, handle_errors, out, progress_reporter
    from auditor.config import load_config
    from auditor.errors import ConfigError
    from auditor.exit_codes import ExitCode
    from auditor.suggest import references_yaml, suggest_datasets, write_outputs

    with handle_errors():
        if not STATE.debug:
            for handler in logging.getLogger().handlers:
                handler.addFilter(_quiet_gx)
        if bool(dataset) == all_datasets:
            raise ConfigError("name the datasets with --dataset, or pass --all",
                              hint="auditor suggest audit.yml --dataset crm.contacts")
        loaded = load_config(config)
        names = list(loaded.config.datasets) if all_datasets else list(dict.fromkeys(dataset or []))
        with progress_reporter(len(names) + 1) as step:
            report = suggest_datasets(loaded, names, strictness=strictness.value, as_of=as_of,
                                      progress=step)  # type: ignore[arg-type]
        human = out if write is not None else err
        if write is not None:
            paths = write_outputs(report, write)
            if not STATE.quiet:
                for p in paths:
                    human.print(f"[dim]wrote[/] {p}")
        elif fmt is SuggestFormat.suite:
            suites = [r.suite for r in report.results]
            payload = suites[0] if len(suites) == 1 else suites
            sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(json.dumps({
                "strictness": strictness.value,
                "results": [r.to_dict() for r in report.results],
                "references_yml": references_yaml(report.results),
                "failures": report.failures}, indent=2, ensure_ascii=False) + "\n")
        if not STATE.quiet or report.failures:
            render_summary(report, human, show_references=write is None)
        if report.failures:
            raise typer.Exit(ExitCode.SOURCE_ERROR)


def render_summary(report: SuggestReport, console: Console, *, show_references: bool) -> None:
    """Findings per dataset, source failures and the references snippet, for people."""
    from rich.markup import escape
    from rich.table import Table

    from auditor.suggest import references_yaml

    for name, message in report.failures.items():
        console.print(f"[bold red]{escape(name)}[/]: source failed: {escape(message)}")
    for r in report.results:
        n = len(r.suite.get("expectations", []))
        console.print(f"[bold]{escape(r.dataset)}[/]: {n} expectations suggested from "
                      f"{r.rows} rows ({r.strictness}), {len(r.findings)} findings, "
                      f"{len(r.dropped)} candidates dropped")
        if r.findings:
            t = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
            for col in ("severity", "code", "column", "finding"):
                t.add_column(col, overflow="fold")
            for f in r.findings:
                t.add_row(f.severity, f.code, escape(f.column or "-"), escape(f.message))
            console.print(t)
    snippet = references_yaml(report.results)
    if snippet and show_references:
        console.print("[bold]references[/] (for audit.yml):")
        console.print(escape(snippet.rstrip()), highlight=False, soft_wrap=True)
