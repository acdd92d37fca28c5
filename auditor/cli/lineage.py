"""``auditor lineage send`` and ``auditor lineage show <dataset>``.

``send`` replays the spool of events a lineage backend did not accept during an audit (LIN001),
under the same time budget, keeping whatever still fails. ``show`` prints what the audit store
knows about a dataset's lineage: upstream and downstream datasets (with the job that links them
and where the edge came from) and, where known, each column's sources and transformations.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.tree import Tree

if TYPE_CHECKING:  # the graph module pulls in openlineage; keep `auditor --help` fast
    from auditor.lineage_graph import LineageGraph


def register(app: typer.Typer) -> None:
    """Mount the ``lineage`` command group on the main CLI."""
    lineage_app = typer.Typer(help="OpenLineage: resend spooled events, show a dataset's "
                                   "lineage.", pretty_exceptions_show_locals=False,
                              no_args_is_help=True)
    lineage_app.command("send")(send)
    lineage_app.command("show")(show)
    app.add_typer(lineage_app, name="lineage")


ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Path to audit.yml.")]
StoreOpt = Annotated[str | None, typer.Option(help="Audit store path (overrides config).")]


def send(
    config: ConfigOpt = Path("audit.yml"),
    store: StoreOpt = None,
    spool: Annotated[Path | None, typer.Option(help="Spool file (default: from config).")]
    = None,
    timeout: Annotated[float | None, typer.Option(help="Time budget in seconds.")] = None,
) -> None:
    """Resend the OpenLineage events that could not be delivered during earlier audits."""
    from auditor.cli import err, handle_errors, out
    from auditor.config import load_config
    from auditor.errors import ConfigError
    from auditor.exit_codes import ExitCode
    from auditor.lineage_config import lineage_config_of
    from auditor.lineage_send import default_paths, resend_spool, resolve_transport

    with handle_errors():
        loaded = load_config(config)
        lineage = lineage_config_of(loaded.config)
        store_path = loaded.store_path(store)
        _, default_spool = default_paths(lineage, store_path, loaded.base_dir)
        path = spool or default_spool
        try:
            plan = resolve_transport(lineage, base_dir=loaded.base_dir, store_path=store_path)
        except ValueError as exc:
            raise ConfigError(f"lineage: {exc}") from None
        if plan is None:
            raise ConfigError("lineage is disabled (lineage.enabled or OPENLINEAGE_DISABLED)")
        result = resend_spool(path, plan, timeout=timeout)
        left = len(result.unsent)
        if result.sent == 0 and left == 0 and result.error is None:
            out.print(f"nothing to send: {escape(str(path))} is empty")
            return
        out.print(f"sent {result.sent} events to {escape(result.transport)} in "
                  f"{result.elapsed:.2f} s; {left} left in {escape(str(path))}")
        if left:
            err.print(f"[bold red]Error:[/] {escape(result.error or 'not delivered')}")
            raise typer.Exit(ExitCode.BELOW_THRESHOLD)


def show(
    dataset: Annotated[str, typer.Argument(help="Dataset name from audit.yml, node id "
                                                "(dataset:ns:name) or dataset name.")],
    config: ConfigOpt = Path("audit.yml"),
    store: StoreOpt = None,
    run: Annotated[str | None, typer.Option(help="Run id (default: latest with lineage).")]
    = None,
    depth: Annotated[int, typer.Option(help="How many hops to follow.")] = 10,
    columns: Annotated[bool, typer.Option(help="Show column lineage.")] = True,
) -> None:
    """Print a dataset's upstream and downstream lineage, column level where known."""
    from auditor.cli import handle_errors, out
    from auditor.config import load_config
    from auditor.errors import ConfigError
    from auditor.lineage_graph import load_graph
    from auditor.store import Store

    with handle_errors():
        loaded = load_config(config)
        st = Store.open(loaded.store_path(store), read_only=True)
        try:
            graph, run_id = load_graph(st.con, run)
        finally:
            st.close()
        if run_id is None:
            raise ConfigError("the audit store holds no lineage yet",
                              hint="run `auditor audit` (with lineage wired in) first")
        node = graph.find(dataset)
        if node is None:
            raise ConfigError(f"no dataset {dataset!r} in the lineage of run {run_id}",
                              hint="use a dataset name from audit.yml or a node id")
        for line in render_lineage(graph, node.id, depth=depth, columns=columns, run_id=run_id):
            out.print(line)


def _label(graph: LineageGraph, nid: str) -> str:
    n = graph.nodes.get(nid)
    if n is None:
        return escape(nid)
    text = f"{n.namespace} {n.name}"
    extra = []
    if n.dataset:
        extra.append(f"dataset {n.dataset}")
    if n.system_of_record:
        extra.append(f"system of record: {n.system_of_record}")
    if n.owners:
        extra.append("owner " + ", ".join(sorted(n.owners)))
    return escape(text) + (f" [dim]({escape('; '.join(extra))})[/]" if extra else "")


def render_lineage(graph: LineageGraph, nid: str, *, depth: int = 10, columns: bool = True,
                   run_id: str | None = None) -> list[Tree | str]:
    """Rich renderables: upstream tree, downstream tree, then column lineage."""
    g = graph
    head = f"[bold]{_label(g, nid)}[/]" + (f" [dim]run {run_id}[/]" if run_id else "")
    up = Tree(f"upstream of {head}")
    down = Tree(f"downstream of {head}")

    def grow(tree: Tree, cur: str, level: int, seen: set[str], upward: bool) -> None:
        if level >= depth:
            return
        edges = g.edges_into(cur) if upward else g.edges_from(cur)
        for e in edges:
            nxt = e.src if upward else e.dst
            via = f" [dim]via {escape(e.job)}[/]" if e.job else ""
            src = f" [dim]\\[{escape(e.origin)}][/]" if e.origin else ""
            branch = tree.add(_label(g, nxt) + via + src)
            if nxt not in seen:
                grow(branch, nxt, level + 1, seen | {nxt}, upward)

    grow(up, nid, 0, {nid}, True)
    grow(down, nid, 0, {nid}, False)
    for tree in (up, down):
        if not tree.children:
            tree.add("[dim]none known[/]")
    parts: list[Tree | str] = [up, down]
    if columns:
        node = g.nodes.get(nid)
        fields = list(node.fields) if node else []
        known = {c.dst_field for c in g.column_edges if c.dst == nid} | \
            {c.src_field for c in g.column_edges if c.src == nid}
        fields += sorted(known - set(fields))
        col_tree = Tree("columns")
        shown = False
        for f in fields:
            ins = g.column_inputs(nid, f)
            outs = g.column_outputs(nid, f)
            if not ins and not outs:
                continue
            shown = True
            pii = " [red](PII)[/]" if node and f in node.pii_fields else ""
            branch = col_tree.add(f"[bold]{escape(f)}[/]{pii}")
            _column_branch(g, branch, nid, f, depth, upward=True, seen={(nid, f)})
            _column_branch(g, branch, nid, f, depth, upward=False, seen={(nid, f)})
        parts.append(col_tree if shown else "[dim]no column lineage known[/]")
    return parts


def _column_branch(g: LineageGraph, tree: Tree, nid: str, fld: str, depth: int, *, upward: bool,
                   seen: set[tuple[str, str]]) -> None:
    """Column sources (←) or consumers (→), followed hop by hop up to ``depth``."""
    if depth <= 0:
        return
    edges = g.column_inputs(nid, fld) if upward else \
        g.column_outputs(nid, fld)
    for e in edges:
        other, other_fld = (e.src, e.src_field) if upward else (e.dst, e.dst_field)
        node = g.nodes.get(other)
        pii = " [red](PII)[/]" if node and other_fld in node.pii_fields else ""
        branch = tree.add(f"{'←' if upward else '→'} {_short(g, other)}.{escape(other_fld)}"
                          f"{pii} [cyan]{escape(e.transformation)}[/]")
        if (other, other_fld) not in seen:
            _column_branch(g, branch, other, other_fld, depth - 1, upward=upward,
                           seen=seen | {(other, other_fld)})


def _short(graph: LineageGraph, nid: str) -> str:
    n = graph.nodes.get(nid)
    return escape(n.dataset or n.name) if n else escape(nid)
