"""The ``auditor`` command line: thin commands over :mod:`auditor.api` and the renderers.

Every command turns an :class:`~auditor.errors.AuditorError` into ``Error: <message>`` plus a
hint and exit code 2; anything else is a bug (exit 4, traceback only with ``--debug``).
Tracebacks never show local variables: they could hold resolved secrets.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from auditor import __version__, progress
from auditor.errors import AuditorError, SourceError
from auditor.exit_codes import ExitCode

app = typer.Typer(help="Data Readiness Auditor: is our data ready for this AI use case?",
                  pretty_exceptions_show_locals=False, no_args_is_help=True,
                  rich_markup_mode="rich")
config_app = typer.Typer(help="Validate audit.yml and print its JSON Schema.",
                         pretty_exceptions_show_locals=False, no_args_is_help=True)
app.add_typer(config_app, name="config")


class _State:
    quiet = False
    debug = bool(os.environ.get("AUDITOR_DEBUG"))


STATE = _State()
out = Console()
err = Console(stderr=True)


class Format(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


def _version(value: bool) -> None:
    if value:
        out.print(f"auditor {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors and the result.")]
    = False,
    debug: Annotated[bool, typer.Option("--debug", help="Debug logs and full tracebacks.")]
    = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version.")] = False,
) -> None:
    STATE.quiet = quiet
    STATE.debug = debug or STATE.debug
    logging.basicConfig(level=logging.DEBUG if STATE.debug else logging.WARNING,
                        format="%(message)s", handlers=[RichHandler(console=err)], force=True)


@contextmanager
def handle_errors() -> Iterator[None]:
    """Map errors to messages and exit codes (see auditor.exit_codes)."""
    try:
        yield
    except AuditorError as exc:
        if STATE.debug:
            raise
        # soft_wrap: a file:line:column must stay on one line to be clickable and greppable
        err.print(f"[bold red]Error:[/] {escape(exc.message)}", soft_wrap=True)
        if exc.hint:
            err.print(f"[dim]hint: {escape(exc.hint)}[/]", soft_wrap=True)
        code = ExitCode.SOURCE_ERROR if isinstance(exc, SourceError) else ExitCode.USAGE
        raise typer.Exit(code) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - the one place that turns bugs into exit 4
        if STATE.debug:
            raise
        err.print(f"[bold red]Internal error:[/] {escape(type(exc).__name__)}: "
                  f"{escape(str(exc))}\n[dim]rerun with --debug for the traceback[/]")
        raise typer.Exit(ExitCode.INTERNAL) from None


def audit_steps(loaded: object) -> int:
    """Progress steps of one audit: ingest and validate per dataset, score per use case."""
    cfg = loaded.config  # type: ignore[attr-defined]
    return len(cfg.datasets) * 2 + len(cfg.use_cases)


@contextmanager
def progress_reporter(total: int) -> Iterator[object]:
    """A rich progress bar on stderr (silent with --quiet or when not a terminal)."""
    if STATE.quiet:
        yield lambda _msg: None
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                  console=err, transient=True) as bar:
        task = bar.add_task("starting", total=total)

        def step(msg: str) -> None:
            bar.update(task, description=msg, advance=1)

        with progress.reporting(lambda msg: bar.update(task, description=msg)):
            yield step


ConfigArg = Annotated[Path, typer.Argument(help="Path to audit.yml.")]


class Engine(StrEnum):
    native = "native"
    gx = "gx"


EngineOpt = Annotated[Engine, typer.Option(
    help="Expectation engine: native (DuckDB SQL with GX semantics) or gx (GX pandas).")]
AsOfOpt = Annotated[datetime | None, typer.Option(
    help="Reference time for freshness (default: config as_of, else now).")]


@app.command()
def audit(
    config: ConfigArg,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="Write the report to this file.")] = None,
    fail_under: Annotated[float | None, typer.Option(
        help="Exit 1 when any use case scores below this.")] = None,
    store: Annotated[str | None, typer.Option(help="Audit store path (overrides config).")]
    = None,
    engine: EngineOpt = Engine.native,
    as_of: AsOfOpt = None,
) -> None:
    """Run the full audit and print the verdict per AI use case."""
    from auditor.api import run_audit
    from auditor.config import load_config
    from auditor.exit_codes import exit_code_for
    from auditor.report import render_json, render_markdown
    from auditor.report.console import render_console

    with handle_errors():
        loaded = load_config(config)
        with progress_reporter(audit_steps(loaded)) as step:
            result = run_audit(loaded, store_path=store, progress=step,  # type: ignore[arg-type]
                               engine=engine.value, as_of=as_of)
        if fmt is Format.json:
            text = render_json(result, fail_under)
        elif fmt is Format.markdown:
            text = render_markdown(result)
        else:
            text = ""
        if output is not None:
            if fmt is Format.table:
                text = render_markdown(result) if output.suffix == ".md" else \
                    render_json(result, fail_under)
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text, encoding="utf-8")
            if not STATE.quiet:
                err.print(f"[dim]report written to {escape(str(output))}[/]")
        if fmt is Format.table:
            render_console(result, out)
        elif output is None:
            sys.stdout.write(text + "\n")
        raise typer.Exit(exit_code_for(result, fail_under))


@app.command()
def profile(
    config: ConfigArg,
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset name from config.")],
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """Profile one dataset (in memory; the audit store is not touched)."""
    from dataclasses import asdict

    from auditor.api import profile_dataset
    from auditor.config import load_config
    from auditor.errors import ConfigError
    from auditor.report.console import render_profile
    from auditor.report.json import _plain

    with handle_errors():
        loaded = load_config(config)
        if dataset not in loaded.config.datasets:
            raise ConfigError(f"unknown dataset {dataset!r}",
                              hint="known: " + ", ".join(loaded.config.datasets))
        result = profile_dataset(loaded, dataset)
        if fmt is Format.json:
            sys.stdout.write(json.dumps(_plain({"profile": asdict(result.profile)
                                                if result.profile else None,
                                                "pii": {c: asdict(p)
                                                        for c, p in result.pii.items()}}),
                                        indent=2) + "\n")
        else:
            render_profile(result, out)


@app.command()
def runs(
    config: ConfigArg,
    store: Annotated[str | None, typer.Option(help="Audit store path.")] = None,
    limit: Annotated[int, typer.Option(help="How many runs.")] = 20,
) -> None:
    """List earlier runs in the audit store."""
    from rich.table import Table

    from auditor.config import load_config
    from auditor.store import Store

    with handle_errors():
        loaded = load_config(config)
        st = Store.open(loaded.store_path(store), read_only=True)
        try:
            rows = st.runs(limit)
        finally:
            st.close()
        t = Table(title="Runs", title_justify="left")
        for c in ("Run", "Started", "Status", "Config hash", "Verdicts"):
            t.add_column(c)
        for r in rows:
            summary = json.loads(r["summary"]) if r["summary"] else {}
            t.add_row(r["run_id"], f"{r['started_at']:%Y-%m-%d %H:%M:%S}", r["status"],
                      r["config_hash"], escape("; ".join(f"{k}: {v['band']} {v['score']}"
                                                         for k, v in summary.items())))
        out.print(t)


@config_app.command("validate")
def config_validate(config: ConfigArg) -> None:
    """Check audit.yml: schema, references, secret references and connector options."""
    from auditor.api import bind_sources, load_suites
    from auditor.config import load_config

    with handle_errors():
        loaded = load_config(config)
        for c in bind_sources(loaded).values():
            c.close()
        suites = load_suites(loaded)
        cfg = loaded.config
        if not STATE.quiet:
            out.print(f"[green]✓[/] {escape(str(config))}: {len(cfg.sources)} sources, "
                      f"{len(cfg.datasets)} datasets, {len(cfg.use_cases)} use cases, "
                      f"{sum(len(s) for s in suites.values())} suites")


@config_app.command("schema")
def config_schema() -> None:
    """Print the JSON Schema of audit.yml (for editor completion and validation)."""
    from auditor.config import json_schema
    from auditor.registry import source_schemas

    with handle_errors():
        sys.stdout.write(json.dumps(json_schema(source_schemas()), indent=2) + "\n")


@app.command("connectors")
def connectors_list() -> None:
    """List the installed connector kinds."""
    from auditor.registry import kinds

    for k in kinds():
        out.print(k)


@app.command()
def discover(
    config: ConfigArg,
    source: Annotated[str, typer.Option("--source", "-s", help="Source name from config.")],
) -> None:
    """List the objects a source offers (files, tables, CRM objects, entity sets, models)."""
    from auditor.config import load_config
    from auditor.errors import ConfigError
    from auditor.registry import bind

    with handle_errors():
        loaded = load_config(config)
        if source not in loaded.config.sources:
            raise ConfigError(f"unknown source {source!r}",
                              hint="known: " + ", ".join(loaded.config.sources))
        con = bind(source, loaded.config.sources[source].options, loaded.base_dir,
                   where=loaded.where("sources", source))
        try:
            for name in con.discover():
                out.print(name, markup=False, highlight=False)
        finally:
            con.close()


def _register_subcommands() -> None:
    from auditor.cli import access, lineage, report, suggest, watch

    access.register(app)
    report.register(app)
    lineage.register(app)
    watch.register(app)
    suggest.register(app)


_register_subcommands()


def main() -> None:
    """Console-script entry point."""
    app()
