"""`auditor access`: who can read which dataset and column, and why (from the latest run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table


def register(app: typer.Typer) -> None:
    """Add the `access` command to the CLI."""

    @app.command()
    def access(
        config: Annotated[Path, typer.Argument(help="Path to audit.yml.")],
        dataset: Annotated[str | None, typer.Option("--dataset", "-d",
                                                    help="Only this dataset.")] = None,
        role: Annotated[str | None, typer.Option("--role", "-r",
                                                 help="Only this role or user.")] = None,
        store: Annotated[str | None, typer.Option(help="Audit store path.")] = None,
    ) -> None:
        """Print the access inventory of the latest run: reader, column, how, and the chain."""
        from auditor.cli import handle_errors, out
        from auditor.config import load_config
        from auditor.errors import StoreError
        from auditor.store import Store

        with handle_errors():
            loaded = load_config(config)
            st = Store.open(loaded.store_path(store), read_only=True)
            try:
                row = st.con.execute("SELECT run_id FROM runs ORDER BY started_at DESC "
                                     "LIMIT 1").fetchall()
                if not row:
                    raise StoreError("the audit store has no runs yet",
                                     hint="run `auditor audit` first")
                sql = ("SELECT dataset, object, coalesce(column_name, '*'), grantee, via, path, "
                       "can_login, row_filtered, masked, detail FROM access_grants "
                       "WHERE run_id = ?")
                params: list[object] = [row[0][0]]
                if dataset:
                    sql += " AND dataset = ?"
                    params.append(dataset)
                if role:
                    sql += " AND grantee = ?"
                    params.append(role)
                rows = st.con.execute(sql + " ORDER BY ALL", params).fetchall()
            finally:
                st.close()
            t = Table(title=f"Access inventory, run {row[0][0]}", title_justify="left")
            for c in ("Dataset", "Column", "Reader", "Login", "How", "Chain", "Notes"):
                t.add_column(c, overflow="fold")
            for ds, _obj, col, grantee, via, path, login, filtered, masked, detail in rows:
                notes = ", ".join(x for x, on in (("row-filtered", filtered),
                                                  ("masked", masked)) if on)
                notes = "; ".join(x for x in (notes, detail or "") if x)
                t.add_row(escape(ds), escape(col), escape(grantee), "yes" if login else "",
                          via, escape(" → ".join(json.loads(path))), escape(notes))
            out.print(t)
            if not rows:
                out.print("[dim]no grants recorded for this selection (sources without an "
                          "inventory are not listed)[/]")
