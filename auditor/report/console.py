"""Terminal rendering with rich: verdict per use case, top blockers, top lost points."""

from __future__ import annotations

from collections import Counter

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from auditor.models import AuditResult, Band, DatasetResult, UseCaseScore

BAND_STYLE = {
    Band.READY: "bold green",
    Band.CONDITIONAL: "bold yellow",
    Band.NOT_READY_B: "bold red",
    Band.NOT_READY_C: "bold red",
}


def render_console(result: AuditResult, console: Console, *, top: int = 5) -> None:
    table = Table(title="AI use-case readiness", title_justify="left", expand=False)
    for col, kw in (("Use case", {"no_wrap": True}), ("Kind", {}), ("Band", {}),
                    ("Score", {"justify": "right"}), ("Coverage", {"justify": "right"}),
                    ("Blockers", {"justify": "right"})):
        table.add_column(col, **kw)  # type: ignore[arg-type]
    for u in result.use_cases:
        table.add_row(escape(u.use_case), u.kind, Text(u.band.value, BAND_STYLE[u.band]),
                      f"{u.score:.1f}", f"{u.coverage:.0%}", str(len(u.blockers)))
    console.print(table)
    for u in result.use_cases:
        console.print(_use_case_panel(u, top))
    failed = result.failed_sources
    if failed:
        console.print(Panel("\n".join(f"[red]✗[/] {escape(d.name)}: {escape(d.error or '')}"
                                      for d in failed), title="Sources that failed",
                            border_style="red"))
    counts = Counter(f.severity for f in result.findings)
    summary = ", ".join(f"{counts[s]} {s}" for s in ("blocker", "critical", "major", "minor",
                                                      "info") if counts[s])
    console.print(f"[dim]{len(result.datasets)} datasets, {len(result.findings)} findings "
                  f"({summary or 'none'}). Run {result.run_id} stored in "
                  f"{escape(result.store_path)}[/]")


def _use_case_panel(u: UseCaseScore, top: int) -> Panel:
    parts: list[Text | Table] = []
    if u.blockers:
        parts.append(Text("Blockers", style="bold red"))
        for b in u.blockers:
            line = Text("  ✗ ", style="red")
            line.append(f"{b.id} ", style="bold")
            line.append(b.message)
            if b.fix:
                line.append(f"\n      fix: {b.fix}", style="dim")
            if b.owner:
                line.append(f" (owner: {b.owner})", style="dim")
            parts.append(line)
    if u.criticals:
        parts.append(Text("Conditions", style="bold yellow"))
        for c in u.criticals[:top]:
            parts.append(Text(f"  ! {c}", style="yellow"))
    lost = u.lost_points()[:top]
    if lost:
        t = Table(title="Top lost points", title_justify="left", show_edge=False, pad_edge=False)
        t.add_column("Check")
        t.add_column("Measured")
        t.add_column("Lost", justify="right")
        t.add_column("Fix", style="dim")
        for c in lost:
            t.add_row(f"{c.check} {c.name}", escape(c.display or c.reason or c.status),
                      f"{c.points_lost:.1f}", escape(c.fix or ""))
        parts.append(t)
    title = f"{u.use_case} — {u.band.value} — {u.score:.1f}/100"
    return Panel(Group(*parts) if parts else Text("no lost points"), title=escape(title),
                 title_align="left", border_style=BAND_STYLE[u.band].split()[-1])


def render_profile(d: DatasetResult, console: Console) -> None:
    p = d.profile
    if p is None:
        console.print(f"[red]{escape(d.name)}: {escape(d.error or 'not profiled')}[/]")
        return
    header = (f"{d.name}: {p.rows} rows, {p.duplicate_rows} duplicate rows"
              + (f", key ({', '.join(p.key_columns)}): {p.duplicate_keys} duplicate, "
                 f"{p.null_keys} null" if p.key_columns else "")
              + (f", {d.rejected_rows} rejected rows" if d.rejected_rows else ""))
    t = Table(title=escape(header), title_justify="left")
    for col in ("Column", "Type", "Null %", "Empty %", "Distinct", "Min", "Max", "Mean",
                "Patterns", "Top values", "PII"):
        t.add_column(col, overflow="fold")
    for c in p.columns:
        pii = d.pii.get(c.name)
        patterns = ", ".join(f"{k} {v}" for k, v in sorted(c.patterns.items(),
                                                            key=lambda kv: -kv[1]) if v)
        tops = ", ".join(f"{str(v)[:20]}×{n}" for v, n in c.top_values[:3])
        t.add_row(escape(c.name), c.type, f"{100 * c.null_share:.1f}",
                  f"{100 * c.empty / c.rows if c.rows else 0:.1f}", str(c.distinct),
                  escape(_short(c.min)), escape(_short(c.max)),
                  "" if c.mean is None else f"{c.mean:.4g}", escape(patterns), escape(tops),
                  escape(", ".join(pii.kinds)) if pii else "")
    console.print(t)


def _short(v: object, n: int = 24) -> str:
    s = "" if v is None else str(v)
    return s if len(s) <= n else s[: n - 1] + "…"
