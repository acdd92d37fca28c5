"""`auditor check`, `auditor history` and `auditor store prune`: scheduled checks over run history.

``check`` is the cron/CI entry point: it runs the audit (:func:`auditor.api.run_audit`), compares
the new run with its predecessors (:mod:`auditor.history` reads, :mod:`auditor.drift` decides),
sends alerts (:mod:`auditor.notify`), and exits per :mod:`auditor.exit_codes` plus one rule: a
regression is exit 1. Precedence: 2 (config/store, nothing run) > 3 (a source failed) > 1
(regression, Not ready or below ``--fail-under``) > 0. Notifications never change the code.
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from auditor.cli import AsOfOpt, Engine, EngineOpt

if TYPE_CHECKING:
    from auditor.config import LoadedConfig
    from auditor.drift import Drift, DriftReport
    from auditor.exit_codes import ExitCode
    from auditor.history import Comparison, PruneResult
    from auditor.models import AuditResult, Finding
    from auditor.notify import Delivery

CHECK_VERSION = "1.0"
NOT_READY = ("Not ready — B (validity)", "Not ready — C (access/legal)")
_BARS = "▁▂▃▄▅▆▇█"
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass
class CheckOutcome:
    """Everything one `auditor check` learnt and decided; what the renderers consume."""

    result: AuditResult
    comparison: Comparison
    report: DriftReport
    exit_code: ExitCode
    status: str
    events: set[str]
    fail_under: float | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    pruned: PruneResult | None = None
    timings: dict[str, float] = field(default_factory=dict)


def run_check(loaded: LoadedConfig, *, store_path: str | None = None,
              as_of: datetime | None = None, engine: str = "native",
              fail_under: float | None = None, notify: bool = True,
              progress: Callable[[str], None] | None = None) -> CheckOutcome:
    """Audit, compare with history, alert, apply retention. Raises only what `audit` raises."""
    from auditor.api import run_audit
    from auditor.drift import detect
    from auditor.errors import StoreError
    from auditor.exit_codes import ExitCode, exit_code_for
    from auditor.history import load_comparison, prune
    from auditor.notify import failure_finding, notify_all
    from auditor.store import Store

    cfg = loaded.config.watch
    t0 = time.monotonic()
    result = run_audit(loaded, store_path=store_path, progress=progress, engine=engine,
                       as_of=as_of)
    t1 = time.monotonic()
    try:
        store = Store.open(loaded.store_path(store_path), read_only=True)
    except StoreError as exc:  # another run took the store between our commit and now
        raise StoreError(f"run {result.run_id} was stored, but it could not be compared with "
                         f"its history: {exc.message}", hint="rerun `auditor check` later, "
                         "or compare by hand with `auditor history`") from None
    try:
        comparison = load_comparison(store.con, result.run_id, window=cfg.window)
    finally:
        store.close()
    report = detect(comparison, cfg)
    t2 = time.monotonic()
    base = exit_code_for(result, fail_under)
    code = ExitCode.BELOW_THRESHOLD if base == ExitCode.OK and report.regressions else base
    events = set()
    if report.regressions:
        events.add("regression")
    if any(_gate(u.band.value, u.score, fail_under) for u in result.use_cases):
        events.add("not_ready")
    if result.failed_sources:
        events.add("source_failure")
    status = ("source_failure" if code == ExitCode.SOURCE_ERROR else "regression"
              if report.regressions else "not_ready" if "not_ready" in events else "ok")
    out = CheckOutcome(result, comparison, report, code, status, events, fail_under)
    if notify and cfg.notify:
        out.deliveries = notify_all(list(cfg.notify), _summary(out), events,
                                    base_dir=loaded.base_dir)
        out.findings = [failure_finding(d) for d in out.deliveries if not d.ok]
    t3 = time.monotonic()
    if cfg.retention is not None:
        try:
            st = Store.open(loaded.store_path(store_path))
            try:
                out.pruned = prune(st, cfg.retention)
            finally:
                st.close()
        except Exception as exc:  # noqa: BLE001 - retention is housekeeping, not the verdict
            out.warnings.append(f"retention skipped: {exc}")
    out.timings = {"audit_s": t1 - t0, "compare_s": t2 - t1, "notify_s": t3 - t2,
                   "total_s": time.monotonic() - t0}
    return out


def _gate(band: str, score: float, fail_under: float | None) -> bool:
    return band in NOT_READY or (fail_under is not None and score < fail_under)


# --- machine outputs ------------------------------------------------------------------------


def _drift_dict(d: Drift) -> dict[str, Any]:
    from auditor.drift import _plain

    return _plain({"rule": d.rule, "severity": d.severity, "subject": d.subject,
                   "dataset": d.dataset, "column": d.column, "use_case": d.use_case,
                   "message": d.message, "method": d.method, "value": d.value,
                   "baseline": d.baseline, "threshold": d.threshold, "z": d.z,
                   "history": d.history, "evidence": d.evidence})


def _headline(o: CheckOutcome) -> str:
    name = o.result.config_path
    parts = []
    if o.report.regressions:
        parts.append(f"{len(o.report.regressions)} regression"
                     f"{'s' * (len(o.report.regressions) != 1)}")
    gated = [u for u in o.result.use_cases if _gate(u.band.value, u.score, o.fail_under)]
    if gated:
        parts.append(f"{len(gated)} use case{'s' * (len(gated) != 1)} not ready")
    if o.result.failed_sources:
        parts.append(f"{len(o.result.failed_sources)} source(s) failed")
    return f"auditor check {Path(name).name}: {', '.join(parts) or 'no regression'} " \
           f"(run {o.result.run_id}, exit {int(o.exit_code)})"


def _summary(o: CheckOutcome) -> dict[str, Any]:
    """The part of the check JSON that notifications carry."""
    r = o.result
    prev = {n: h[-1] for n, h in o.comparison.use_case_history.items() if h}
    return {
        "check_version": CHECK_VERSION, "headline": _headline(o), "status": o.status,
        "exit_code": int(o.exit_code),
        "run": {"id": r.run_id, "started_at": r.started_at.isoformat(),
                "finished_at": r.finished_at.isoformat(),
                "as_of": o.comparison.run.as_of.isoformat() if o.comparison.run.as_of else None,
                "config_path": r.config_path, "config_hash": r.config_hash,
                "store_path": r.store_path, "status": "partial" if r.failed_sources else "ok"},
        "prior_runs": o.report.prior_runs,
        "use_cases": [{"use_case": u.use_case, "band": u.band.value,
                       "score": round(u.score, 2), "not_ready": u.band.value in NOT_READY,
                       "below_threshold": o.fail_under is not None and u.score < o.fail_under,
                       "previous": ({"run_id": prev[u.use_case].run.run_id,
                                     "band": prev[u.use_case].band,
                                     "score": round(prev[u.use_case].score, 2)}
                                    if u.use_case in prev else None)}
                      for u in r.use_cases],
        "sources": [{"dataset": d.name, "status": d.status, "error": d.error}
                    for d in r.datasets],
        "regressions": [_drift_dict(d) for d in o.report.regressions],
        "warnings": [_drift_dict(d) for d in o.report.warnings],
    }


def check_dict(o: CheckOutcome) -> dict[str, Any]:
    """The `--json` document (``check_version`` 1.0: minor bumps add keys)."""
    from dataclasses import asdict

    from auditor import __version__

    out = _summary(o)
    out["auditor_version"] = __version__
    out["fail_under"] = o.fail_under
    out["rules"] = o.report.rules
    out["findings"] = [asdict(f) for f in o.findings]
    out["notifications"] = [d.to_dict() for d in o.deliveries]
    out["retention"] = ({"cutoff": o.pruned.cutoff.isoformat(),
                         "deleted_runs": list(o.pruned.deleted_runs),
                         "kept_as_latest": list(o.pruned.protected_runs)}
                        if o.pruned else None)
    out["check_warnings"] = o.warnings
    out["timings"] = {k: round(v, 3) for k, v in o.timings.items()}
    return out


def _x(text: str) -> str:
    return _XML_BAD.sub("", text)


def junit_xml(o: CheckOutcome) -> str:
    """JUnit XML: a testcase per use case, per drift rule and per source; failures carry the
    message (what CI test reporters show), the body every detail line."""
    root = ET.Element("testsuites", name="auditor check")
    stamp = o.result.started_at.isoformat()
    totals = {"tests": 0, "failures": 0, "skipped": 0}

    def suite(name: str) -> ET.Element:
        return ET.SubElement(root, "testsuite", name=name, timestamp=stamp)

    def case(s: ET.Element, cls: str, name: str, *, failure: str | None = None,
             body: str = "", kind: str = "", skipped: str | None = None,
             out: str = "") -> None:
        c = ET.SubElement(s, "testcase", classname=cls, name=_x(name), time="0")
        totals["tests"] += 1
        if failure is not None:
            f = ET.SubElement(c, "failure", message=_x(failure[:1000]), type=kind)
            f.text = _x(body or failure)
            totals["failures"] += 1
        elif skipped is not None:
            ET.SubElement(c, "skipped", message=_x(skipped))
            totals["skipped"] += 1
        if out:
            ET.SubElement(c, "system-out").text = _x(out)

    ucs = suite("auditor.use_cases")
    for u in o.result.use_cases:
        problems = []
        if u.band.value in NOT_READY:
            ids = ", ".join(f"{b.id} ({b.check})" for b in u.blockers)
            problems.append(f"{u.band.value}, score {u.score:.1f}" +
                            (f"; blockers {ids}" if ids else ""))
        if o.fail_under is not None and u.score < o.fail_under:
            problems.append(f"score {u.score:.1f} < --fail-under {o.fail_under:g}")
        detail = "\n".join([f"{b.id} {b.check}: {b.message}" for b in u.blockers] +
                           [f"{c.check} {c.name}: -{c.points_lost:.1f} points"
                            for c in u.lost_points()[:10]])
        case(ucs, "auditor.use_cases", u.use_case,
             failure="; ".join(problems) if problems else None, body=detail, kind="not_ready",
             out="" if problems else f"{u.band.value}, score {u.score:.1f}\n{detail}")
    drift = suite("auditor.drift")
    for rule, status in o.report.rules.items():
        mine = [d for d in o.report.drifts if d.rule == rule]
        regs = [d.message for d in mine if d.severity == "regression"]
        warns = [d.message for d in mine if d.severity == "warning"]
        skip = {"disabled": "rule disabled in watch config",
                "no_history": "no earlier run to compare with"}.get(status)
        case(drift, "auditor.drift", rule,
             failure=f"{len(regs)} regression{'s' * (len(regs) != 1)}: " + "; ".join(regs)
             if regs else None, body="\n".join(regs), kind="regression", skipped=skip,
             out="\n".join(f"warning: {w}" for w in warns))
    src = suite("auditor.sources")
    for d in o.result.datasets:
        case(src, "auditor.sources", d.name,
             failure=f"{d.name} failed to load: {d.error}" if d.status == "failed" else None,
             kind="source_failure", out=f"{d.rows} rows" if d.status == "ok" else "")
    if o.deliveries:
        note = suite("auditor.notify")
        for dl in o.deliveries:
            case(note, "auditor.notify", dl.name,
                 out="delivered" if dl.ok else f"warning NOT001: {dl.error} (never fails "
                 "the check)")
    for s in root:
        cases = list(s)
        s.set("tests", str(len(cases)))
        s.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        s.set("errors", "0")
        s.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", "0")
    root.set("skipped", str(totals["skipped"]))
    root.set("time", f"{o.timings.get('total_s', 0.0):.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


# --- terminal -------------------------------------------------------------------------------


def sparkline(values: list[float | None]) -> str:
    """One block character per value, scaled to the series' own min..max (flat = mid)."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return ""
    lo, hi = min(vals), max(vals)
    chars = []
    for v in values:
        if v is None or not math.isfinite(v):
            chars.append(" ")
        elif hi == lo:
            chars.append(_BARS[3])
        else:
            chars.append(_BARS[round((v - lo) / (hi - lo) * (len(_BARS) - 1))])
    return "".join(chars)


def render_check(o: CheckOutcome, con: Console, err: Console) -> None:
    n = o.report.prior_runs
    con.print(f"[bold]Check of run {o.result.run_id}[/] against {n} earlier "
              f"run{'s' * (n != 1)}")
    t = Table(title_justify="left")
    for col in ("Use case", "Band", "Score", "Previous"):
        t.add_column(col)
    prev = {k: h[-1] for k, h in o.comparison.use_case_history.items() if h}
    for u in o.result.use_cases:
        p = prev.get(u.use_case)
        t.add_row(escape(u.use_case), escape(u.band.value), f"{u.score:.1f}",
                  escape(f"{p.band} {p.score:.1f}") if p else "-")
    if o.result.use_cases:
        con.print(t)
    if o.report.drifts:
        d = Table(title="Drift and regressions", title_justify="left")
        for col in ("", "Rule", "Change"):
            d.add_column(col, overflow="fold")
        for x in o.report.drifts:
            d.add_row("[red]✗[/]" if x.severity == "regression" else "[yellow]![/]", x.rule,
                      escape(x.message))
        con.print(d)
    counts: dict[str, int] = {}
    for st in o.report.rules.values():
        counts[st] = counts.get(st, 0) + 1
    con.print(f"{len(o.report.rules)} drift rules: " +
              ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    for dl in o.deliveries:
        if dl.ok:
            con.print(f"[dim]notified {escape(dl.name)} ({dl.attempts} attempt(s))[/]")
    for f in o.findings:
        err.print(f"[yellow]warning:[/] {f.code} {escape(f.message)}", soft_wrap=True)
    for w in o.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}", soft_wrap=True)
    if o.pruned and o.pruned.deleted_runs:
        con.print(f"[dim]retention: deleted {len(o.pruned.deleted_runs)} run(s) started "
                  f"before {o.pruned.cutoff:%Y-%m-%d %H:%M}[/]")
    con.print(f"[bold]{escape(_headline(o))}[/]")


def _history_tables(con: Any, use_case: str | None, dataset: str | None,
                    limit: int) -> tuple[list[Table], dict[str, Any]]:
    """Rich tables and the same data as a dict (for --format json)."""
    from auditor.history import dataset_history, names, use_case_history

    all_ds, all_uc = names(con)
    tables: list[Table] = []
    data: dict[str, Any] = {}
    if use_case is None and dataset is None:
        t = Table(title=f"Use cases (last {limit} runs, oldest → newest)", title_justify="left")
        for c in ("Use case", "Runs", "Score trend", "Band", "Score", "Δ prev"):
            t.add_column(c)
        for n in all_uc:
            h = use_case_history(con, n, limit=limit)
            delta = f"{h[-1].score - h[-2].score:+.1f}" if len(h) > 1 else "-"
            t.add_row(escape(n), str(len(h)), sparkline([s.score for s in h]),
                      escape(h[-1].band), f"{h[-1].score:.1f}", delta)
            data.setdefault("use_cases", {})[n] = [
                {"run_id": s.run.run_id, "band": s.band, "score": s.score} for s in h]
        d = Table(title="Datasets", title_justify="left")
        for c in ("Dataset", "Loads", "Rows trend", "Rows", "Columns", "Lag (h)"):
            d.add_column(c)
        for n in all_ds:
            hd = dataset_history(con, n, limit=limit)
            if not hd:
                continue
            lag = hd[-1].lag_hours
            d.add_row(escape(n), str(len(hd)), sparkline([float(s.volume) for s in hd]),
                      f"{hd[-1].volume:,}", str(len(hd[-1].columns)),
                      "-" if lag is None else f"{lag:.1f}")
            data.setdefault("datasets", {})[n] = [
                {"run_id": s.run.run_id, "rows": s.volume} for s in hd]
        return [t, d], data
    if use_case is not None:
        from auditor.errors import ConfigError

        if use_case not in all_uc:
            raise ConfigError(f"no run in the store scored use case {use_case!r}",
                              hint="known: " + (", ".join(all_uc) or "none"))
        uh = use_case_history(con, use_case, limit=limit)
        ut = Table(title=f"{use_case}: score {sparkline([u.score for u in uh])}",
                   title_justify="left")
        for c in ("Run", "Started", "Band", "Score", "Δ", "Coverage", "Blockers"):
            ut.add_column(c, no_wrap=c in ("Run", "Started"))
        for i, u in enumerate(uh):
            delta = f"{u.score - uh[i - 1].score:+.1f}" if i else "-"
            ut.add_row(u.run.run_id, f"{u.run.started_at:%Y-%m-%d %H:%M}", escape(u.band),
                       f"{u.score:.1f}", delta, f"{u.coverage:.0%}", ", ".join(u.blockers))
        tables.append(ut)
        data["use_case"] = {"name": use_case, "runs": [
            {"run_id": u.run.run_id, "started_at": u.run.started_at.isoformat(),
             "band": u.band, "score": u.score, "coverage": u.coverage,
             "blockers": list(u.blockers)} for u in uh]}
    if dataset is not None:
        from auditor.errors import ConfigError

        hd = dataset_history(con, dataset, limit=limit)
        if not hd:
            raise ConfigError(f"no run in the store loaded dataset {dataset!r}",
                              hint="known: " + (", ".join(all_ds) or "none"))
        t = Table(title=f"{dataset}: rows {sparkline([float(s.volume) for s in hd])}",
                  title_justify="left")
        for c in ("Run", "Started", "Rows", "Columns", "Lag (h)"):
            t.add_column(c, no_wrap=c in ("Run", "Started"))
        for s in hd:
            lag = s.lag_hours
            t.add_row(s.run.run_id, f"{s.run.started_at:%Y-%m-%d %H:%M}", f"{s.volume:,}",
                      str(len(s.columns)), "-" if lag is None else f"{lag:.1f}")
        ct = Table(title=f"{dataset}: columns over {len(hd)} loads (oldest → newest)",
                   title_justify="left")
        for col in ("Column", "Type", "Null share", "Now", "Distinct", "Now"):
            ct.add_column(col)
        cols: dict[str, Any] = {}
        for name in dict.fromkeys(n for s in hd for n in s.columns):
            series = [s.columns.get(name) for s in hd]
            last = next(x for x in reversed(series) if x is not None)
            ct.add_row(escape(name), escape(last.type),
                       sparkline([x.null_share if x else None for x in series]),
                       f"{last.null_share:.1%}" if series[-1] else "gone",
                       sparkline([float(x.distinct) if x else None for x in series]),
                       f"{last.distinct:,}" if series[-1] else "gone")
            cols[name] = [None if x is None else {"null_share": x.null_share,
                                                  "distinct": x.distinct} for x in series]
        tables += [t, ct]
        data["dataset"] = {"name": dataset, "runs": [
            {"run_id": s.run.run_id, "started_at": s.run.started_at.isoformat(),
             "rows": s.volume, "lag_hours": s.lag_hours} for s in hd], "columns": cols}
    return tables, data


# --- commands -------------------------------------------------------------------------------


ConfigArg = Annotated[Path, typer.Argument(help="Path to audit.yml.")]
StoreOpt = Annotated[str | None, typer.Option(help="Audit store path (overrides config).")]


def register(app: typer.Typer) -> None:
    """Add `check`, `history` and `store prune` to the CLI."""
    store_app = typer.Typer(help="Maintain the audit store.", no_args_is_help=True,
                            pretty_exceptions_show_locals=False)
    app.add_typer(store_app, name="store")

    @app.command()
    def check(
        config: ConfigArg,
        junit: Annotated[Path | None, typer.Option(help="Write JUnit XML here.")] = None,
        json_out: Annotated[Path | None, typer.Option("--json", help="Write the check as "
                                                      "JSON here ('-' for stdout).")] = None,
        fail_under: Annotated[float | None, typer.Option(
            help="Exit 1 when any use case scores below this.")] = None,
        store: StoreOpt = None,
        engine: EngineOpt = Engine.native,
        as_of: AsOfOpt = None,
        notify: Annotated[bool, typer.Option(help="Send the configured webhooks.")] = True,
    ) -> None:
        """Scheduled check: audit, compare with earlier runs, alert; exit 1 on a regression."""
        from auditor.cli import STATE, audit_steps, err, handle_errors, out, progress_reporter
        from auditor.config import load_config

        with handle_errors():
            loaded = load_config(config)
            with progress_reporter(audit_steps(loaded)) as step:
                outcome = run_check(loaded, store_path=store, as_of=as_of, engine=engine.value,
                                    fail_under=fail_under, notify=notify,
                                    progress=step)  # type: ignore[arg-type]
            if junit is not None:
                junit.parent.mkdir(parents=True, exist_ok=True)
                junit.write_text(junit_xml(outcome), encoding="utf-8")
            text = json.dumps(check_dict(outcome), indent=2, ensure_ascii=False, default=str)
            rendered = False
            if json_out is not None and str(json_out) == "-":
                sys.stdout.write(text + "\n")
            else:
                if json_out is not None:
                    json_out.parent.mkdir(parents=True, exist_ok=True)
                    json_out.write_text(text, encoding="utf-8")
                if STATE.quiet:
                    out.print(escape(_headline(outcome)))
                else:
                    render_check(outcome, out, err)
                    rendered = True
            if not rendered:  # warnings reach stderr whatever stdout carries
                for w in [f"{f.code} {f.message}" for f in outcome.findings] + outcome.warnings:
                    err.print(f"warning: {escape(w)}", soft_wrap=True)
            raise typer.Exit(int(outcome.exit_code))

    @app.command()
    def history(
        config: ConfigArg,
        use_case: Annotated[str | None, typer.Option("--use-case", "-u",
                                                     help="Trend of one use case.")] = None,
        dataset: Annotated[str | None, typer.Option("--dataset", "-d",
                                                    help="Trend of one dataset.")] = None,
        limit: Annotated[int, typer.Option(min=1, help="How many runs.")] = 20,
        fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
        store: StoreOpt = None,
    ) -> None:
        """Trends across runs: score and band per use case; rows, nulls, distinct per column."""
        from auditor.cli import handle_errors, out
        from auditor.config import load_config
        from auditor.store import Store

        with handle_errors():
            if fmt not in ("table", "json"):
                raise typer.BadParameter("use table or json", param_hint="--format")
            loaded = load_config(config)
            st = Store.open(loaded.store_path(store), read_only=True)
            try:
                tables, data = _history_tables(st.con, use_case, dataset, limit)
            finally:
                st.close()
            if fmt == "json":
                sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
                return
            for t in tables:
                out.print(t)

    @store_app.command("prune")
    def store_prune(
        config: ConfigArg,
        keep: Annotated[str | None, typer.Option(
            help="Keep runs younger than this (90d, 12w, 36h); default: watch.retention.")]
        = None,
        dry_run: Annotated[bool, typer.Option(help="Only show what would go.")] = False,
        store: StoreOpt = None,
    ) -> None:
        """Delete runs older than --keep (all their rows and samples) in one transaction.

        The latest run of every dataset is always kept, however old.
        """
        from auditor.cli import handle_errors, out
        from auditor.config import load_config, parse_duration
        from auditor.errors import ConfigError, StoreError
        from auditor.history import prune
        from auditor.store import Store

        with handle_errors():
            loaded = load_config(config)
            try:
                window = parse_duration(keep) if keep else loaded.config.watch.retention
            except ValueError as exc:
                raise ConfigError(f"--keep: {exc}") from None
            if window is None:
                raise ConfigError("no retention window", hint="pass --keep 90d or set "
                                  "watch.retention in audit.yml")
            path = loaded.store_path(store)
            if not path.exists():
                raise StoreError(f"audit store {str(path)!r} does not exist",
                                 hint="run `auditor audit` first")
            st = Store.open(path)
            try:
                res = prune(st, window, dry_run=dry_run)
            finally:
                st.close()
            verb = "would delete" if dry_run else "deleted"
            out.print(f"{verb} {len(res.deleted_runs)} run(s) started before "
                      f"{res.cutoff:%Y-%m-%d %H:%M} UTC ({res.samples_dropped} sample tables, "
                      f"{sum(res.rows_deleted.values()):,} rows)")
            if res.protected_runs:
                out.print(f"kept {len(res.protected_runs)} older run(s): the latest run of a "
                          f"dataset ({', '.join(res.protected_runs)})")
