"""`auditor report`: render a stored run as one self-contained HTML file.

The report is rendered from the audit store, not from a new audit: it shows exactly what a past
run committed (any run, not only the latest), it needs no source to be reachable, and it opens
the store read-only, so it can run while nothing else holds the store for writing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape


def register(app: typer.Typer) -> None:
    """Add the `report` command to the CLI."""

    @app.command()
    def report(
        config: Annotated[Path, typer.Argument(help="Path to audit.yml.")],
        run: Annotated[str, typer.Argument(
            help="Run id (see `auditor runs`) or `latest`.")] = "latest",
        output: Annotated[Path, typer.Option("--output", "-o",
                                             help="HTML file to write.")] = Path("report.html"),
        store: Annotated[str | None, typer.Option(help="Audit store path (overrides config).")]
        = None,
        history: Annotated[int, typer.Option(
            help="Earlier runs shown in the trend sparklines.", min=1)] = 20,
    ) -> None:
        """Write an HTML report of a stored run: verdicts, score breakdown, profiles, trends."""
        from auditor.cli import STATE, err, handle_errors
        from auditor.config import load_config
        from auditor.errors import ConfigError
        from auditor.report.html import render_stored_run
        from auditor.store import Store

        with handle_errors():
            loaded = load_config(config)
            st = Store.open(loaded.store_path(store), read_only=True)
            try:
                run_id, html = render_stored_run(st.con, run, history_limit=history)
            finally:
                st.close()
            try:
                output.parent.mkdir(parents=True, exist_ok=True)
                output.write_text(html, encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"cannot write {str(output)!r}: {exc.strerror or exc}",
                                 hint="choose another --output path") from None
            if not STATE.quiet:
                err.print(f"[dim]report of run {escape(run_id)} written to "
                          f"{escape(str(output))} ({len(html.encode()) / 1024:.0f} KiB)[/]")
