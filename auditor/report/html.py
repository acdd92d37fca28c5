"""The HTML report: one self-contained file rendered from a stored run.

Why it looks the way it does:

* **Self-contained.** Reports are mailed, attached to tickets and opened on air-gapped laptops:
  no CDN, no web fonts, no scripts. CSS is inlined and pinned by a ``Content-Security-Policy``
  hash (``default-src 'none'``), so a browser refuses anything external that a future edit might
  add, and the headless-browser test sees the refusal as a console error.
* **Charts are SVG built here, in Python.** No JS chart library; every text that goes into an
  SVG passes through :func:`markupsafe.escape` (via ``Markup.format``), and the template runs
  with autoescape on, so names and values from the data cannot inject markup.
* **From the store, never from samples.** :mod:`auditor.report.store_reader` returns what the
  run committed for reports, where PII values are already masked.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import duckdb
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from auditor import __version__
from auditor.models import SEVERITY_ORDER
from auditor.report import store_reader

_env = Environment(loader=PackageLoader("auditor.report", "templates"),
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                   autoescape=True)

#: Group letter → (name, colour). Colours stay distinguishable for common colour blindness.
GROUPS: dict[str, tuple[str, str]] = {
    "Q": ("Intrinsic quality", "#4e79a7"), "F": ("ML fitness", "#f28e2b"),
    "T": ("Currentness", "#e15759"), "P": ("Privacy & access", "#76b7b2"),
    "L": ("Context & lineage", "#b07aa1"), "X": ("Text fitness", "#edc948"),
}
SCORE_COLOUR = "#2e7d32"
QUANTILE_MASS = (("p01", "p05", 0.04), ("p05", "p25", 0.20), ("p25", "p50", 0.25),
                 ("p50", "p75", 0.25), ("p75", "p95", 0.20), ("p95", "p99", 0.04))


def band_class(band: str) -> str:
    """CSS class of a band: the colour is the first thing a reader looks for."""
    if band.startswith("Not ready"):
        return "bad"
    return "warn" if band.startswith("Conditionally") else "good"


# --- formatting -----------------------------------------------------------------------------


def fmt_num(value: Any) -> str:
    """Counts with thousands separators; None as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.4g}"
    return f"{int(value):,}"


def fmt_pct(share: float | None, digits: int = 1) -> str:
    return "—" if share is None else f"{100 * share:.{digits}f}%"


def fmt_dt(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return "—" if value is None else str(value)


def fmt_value(value: Any, limit: int = 40) -> str:
    """A data value, shortened: long free text would drown the tables."""
    if value is None:
        return "—"
    if isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = str(value).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fmt_threshold(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


for _name, _fn in (("num", fmt_num), ("pct", fmt_pct), ("dt", fmt_dt), ("val", fmt_value),
                   ("thr", fmt_threshold), ("band_class", band_class)):
    _env.filters[_name] = _fn


# --- SVG charts -----------------------------------------------------------------------------


def _svg(width: float, height: float, body: Markup, label: str, cls: str = "chart") -> Markup:
    return Markup('<svg class="{}" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" '
                  'viewBox="0 0 {} {}" role="img" aria-label="{}">{}</svg>').format(
        cls, f"{width:g}", f"{height:g}", f"{width:g}", f"{height:g}", label, body)


def _rect(x: float, y: float, w: float, h: float, fill: str, title: str = "",
          cls: str = "") -> Markup:
    tip = Markup("<title>{}</title>").format(title) if title else Markup("")
    klass = Markup(' class="{}"').format(cls) if cls else Markup("")
    return Markup('<rect x="{:.2f}" y="{:.2f}" width="{:.2f}" height="{:.2f}" fill="{}"{}>'
                  '{}</rect>').format(x, y, max(w, 0.0), max(h, 0.0), fill, klass, tip)


def _text(x: float, y: float, text: str, anchor: str = "start", cls: str = "lbl") -> Markup:
    return Markup('<text x="{:.2f}" y="{:.2f}" text-anchor="{}" class="{}">{}</text>').format(
        x, y, anchor, cls, text)


def score_breakdown_svg(uc: dict[str, Any], width: int = 1000) -> Markup:
    """Stacked bar over 0–100: the score, then every lost point by check, largest first.

    Score + Σ points lost = 100 (readiness model), so the bar always fills the track and the
    reader sees at once which checks ate the points. Markers at 60 and 80 are the band edges.
    """
    left, track, top, bar_h = 4.0, width - 8.0, 18.0, 30.0
    scale = track / 100.0
    parts: list[Markup] = []
    score = max(0.0, min(100.0, float(uc["score"])))
    parts.append(_rect(left, top, score * scale, bar_h, SCORE_COLOUR,
                       f"score {score:.1f} of 100"))
    if score * scale > 60:
        parts.append(_text(left + 6, top + 20, f"score {score:.1f}", cls="lbl inv"))
    x = left + score * scale
    for c in sorted(lost_checks(uc), key=lambda c: -c["points_lost"]):
        w = c["points_lost"] * scale
        colour = GROUPS.get(c["group"], ("", "#999"))[1]
        parts.append(_rect(x, top, w, bar_h, colour,
                           f"{c['check']} {c['name']}: −{c['points_lost']:.1f} points",
                           cls="lost"))
        if w >= 26:
            parts.append(_text(x + w / 2, top + 20, c["check"], "middle", "lbl inv"))
        x += w
    for mark, label in ((60, "60 not ready below"), (80, "80 ready from")):
        mx = left + mark * scale
        parts.append(Markup('<line x1="{0:.2f}" x2="{0:.2f}" y1="12" y2="{1:.2f}" '
                            'class="mark"/>').format(mx, top + bar_h + 4))
        parts.append(_text(mx, 10, label, "middle", "tick"))
    parts.append(_text(left, top + bar_h + 16, "0", cls="tick"))
    parts.append(_text(left + track, top + bar_h + 16, "100", "end", "tick"))
    return _svg(width, top + bar_h + 20, Markup("").join(parts),
                f"score breakdown of {uc['use_case']}")


def lost_checks(uc: dict[str, Any]) -> list[dict[str, Any]]:
    """Checks that cost points (the same 0.005 cut-off as ``UseCaseScore.lost_points``)."""
    return [c for c in uc["checks"] if (c["points_lost"] or 0) > 0.005]


def points_bar_svg(check: dict[str, Any], width: int = 90) -> Markup:
    """Kept vs lost points of one check, on the scale of its maximum points."""
    max_points = float(check["max_points"] or 0)
    if max_points <= 0:
        return Markup("")
    lost = float(check["points_lost"] or 0)
    colour = GROUPS.get(check["group"], ("", "#999"))[1]
    kept_w = (max_points - lost) / max_points * width
    body = Markup("").join([
        _rect(0, 2, kept_w, 10, "#d9e5d6", f"kept {max_points - lost:.2f}"),
        _rect(kept_w, 2, width - kept_w, 10, colour,
              f"lost {lost:.2f} of {max_points:.2f}")])
    return _svg(width, 14, body, f"{check['check']} points", "chart mini")


def null_share_svg(columns: Sequence[dict[str, Any]], width: int = 560) -> Markup:
    """Missing values per column: null share (dark) and empty strings (light), 0–100%."""
    if not columns:
        return Markup("")
    label_w, row_h, value_w = 180.0, 16.0, 60.0
    track = width - label_w - value_w
    parts: list[Markup] = []
    for i, c in enumerate(columns):
        rows = c.get("rows") or 0
        nulls = (c.get("nulls") or 0) / rows if rows else 0.0
        empty = (c.get("empty") or 0) / rows if rows else 0.0
        y = i * row_h
        parts.append(_text(label_w - 6, y + 12, fmt_value(c.get("name"), 28), "end"))
        parts.append(_rect(label_w, y + 3, track, row_h - 6, "#eef0f3"))
        parts.append(_rect(label_w, y + 3, nulls * track, row_h - 6, "#c0392b",
                           f"{c.get('name')}: {fmt_pct(nulls)} null"))
        parts.append(_rect(label_w + nulls * track, y + 3, empty * track, row_h - 6,
                           "#f1948a", f"{c.get('name')}: {fmt_pct(empty)} empty"))
        parts.append(_text(width - 4, y + 12, fmt_pct(nulls + empty), "end", "lbl num"))
    return _svg(width, len(columns) * row_h + 2, Markup("").join(parts),
                "null share per column")


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        value = value.isoformat()
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                return None
            return number if math.isfinite(number) else None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    return None


def distribution_svg(profile: dict[str, Any], width: int = 220) -> Markup:
    """A small distribution sketch from what the profile stored.

    Quantiles (numbers, dates, timestamps): a histogram whose bars span consecutive quantiles
    with height ∝ probability mass / width, over p01–p99 (min and max as labels, so one outlier
    does not squash the shape). Otherwise the top values as horizontal bars.
    """
    q = profile.get("quantiles") or {}
    points = {k: _as_number(v) for k, v in q.items()}
    if all(points.get(k) is not None for k in ("p01", "p05", "p25", "p50", "p75", "p95", "p99")):
        return _histogram(profile, {k: float(v) for k, v in points.items() if v is not None},
                          width)
    tops = profile.get("top_values") or []
    rows = profile.get("rows") or 0
    if not tops or not rows:
        return Markup("")
    most = max(count for _, count in tops[:5])
    if most <= 1:
        return Markup('<span class="note">every value distinct</span>')
    if most / rows < 0.01:  # near-unique values: bars of 0% tell nothing
        return Markup('<span class="note">no frequent value (top: {} rows)</span>').format(most)
    label_w, row_h = 96.0, 13.0
    track = width - label_w - 40
    parts: list[Markup] = []
    for i, (value, count) in enumerate(tops[:5]):
        share = count / rows
        y = i * row_h
        parts.append(_text(label_w - 4, y + 10, fmt_value(value, 16), "end", "lbl small"))
        parts.append(_rect(label_w, y + 2, max(count / most * track, 1.0), row_h - 4,
                           "#4e79a7", f"{fmt_value(value, 80)}: {count:,} rows "
                           f"({fmt_pct(share)})"))
        parts.append(_text(width - 2, y + 10, fmt_pct(share, 0), "end", "lbl small num"))
    return _svg(width, len(tops[:5]) * row_h + 2, Markup("").join(parts),
                f"top values of {profile.get('name')}")


def _histogram(profile: dict[str, Any], q: dict[str, float], width: int) -> Markup:
    lo, hi = q["p01"], q["p99"]
    span = hi - lo
    height, base = 34.0, 30.0
    eps = span / 60 if span > 0 else 1.0
    bins: list[list[float]] = []
    for a, b, mass in QUANTILE_MASS:
        x0, x1 = q[a], q[b]
        if bins and bins[-1][0] == x0 and bins[-1][1] == x1:
            bins[-1][2] += mass  # zero-width or repeated bins pile into one spike
        else:
            bins.append([x0, x1, mass])
    dens = [m / max(x1 - x0, eps) for x0, x1, m in bins]
    top = max(dens) or 1.0

    def sx(v: float) -> float:
        return 2 + (v - lo) / (span if span > 0 else 1.0) * (width - 4)

    parts: list[Markup] = []
    raw = profile.get("quantiles") or {}
    for (x0, x1, mass), d in zip(bins, dens, strict=True):
        w = max(sx(max(x1, x0 + eps)) - sx(x0), 2.0)
        h = max(d / top * (base - 4), 1.5)
        parts.append(_rect(sx(x0), base - h, w, h, "#4e79a7",
                           f"{mass:.0%} of values between {fmt_value(_raw_q(raw, x0, q))} "
                           f"and {fmt_value(_raw_q(raw, x1, q))}"))
    med = sx(q["p50"])
    parts.append(Markup('<line x1="{0:.2f}" x2="{0:.2f}" y1="2" y2="{1:.2f}" class="median">'
                        '<title>median {2}</title></line>').format(
        med, base, fmt_value(raw.get("p50"))))
    parts.append(Markup('<line x1="0" x2="{:.2f}" y1="{:.2f}" y2="{:.2f}" class="axis"/>'
                        ).format(width, base, base))
    body = Markup("").join(parts)
    svg = _svg(width, height, body, f"distribution of {profile.get('name')}")
    return Markup('<div class="dist">{}<div class="range"><span>p1 {}</span><span>p99 {}</span>'
                  '</div></div>').format(svg, _short_edge(raw.get("p01")),
                                          _short_edge(raw.get("p99")))


def _raw_q(raw: dict[str, Any], value: float, q: dict[str, float]) -> Any:
    """The stored (unparsed) quantile for a parsed value, so tooltips show dates as dates."""
    for key, v in q.items():
        if v == value:
            return raw.get(key)
    return value


def _short_edge(value: Any) -> str:
    """An axis label: dates without their time, numbers with four significant digits."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:.3g}"
    text = fmt_value(value, 19)
    return text[:10] if len(text) == 19 and text[4:5] == "-" else text


def sparkline_svg(points: Sequence[dict[str, Any]], fmt: str = "{:,.0f}", width: int = 120,
                  height: int = 28) -> Markup:
    """Trend over earlier runs; every point has a tooltip with its run and value."""
    values = [p["value"] for p in points if p.get("value") is not None]
    if not values:
        return Markup("")
    lo, hi = min(values), max(values)
    pad = 4.0
    n = len(values)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = pad + (i * (width - 2 * pad) / (n - 1) if n > 1 else (width - 2 * pad) / 2)
        y = height / 2 if hi == lo else pad + (hi - v) / (hi - lo) * (height - 2 * pad)
        return x, y

    coords = [xy(i, v) for i, v in enumerate(values)]
    parts: list[Markup] = []
    if n > 1:
        parts.append(Markup('<polyline points="{}" class="spark"/>').format(
            " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)))
    for (x, y), p, v in zip(coords, [p for p in points if p.get("value") is not None], values,
                            strict=True):
        cls = "dot last" if (x, y) == coords[-1] else "dot"
        parts.append(Markup('<circle cx="{:.1f}" cy="{:.1f}" r="{}" class="{}"><title>{}: {}'
                            '</title></circle>').format(
            x, y, 2.6 if cls != "dot" else 1.8, cls,
            f"{p['run_id']} ({fmt_dt(p.get('started_at'))})", fmt.format(v)))
    return _svg(width, height, Markup("").join(parts), "trend over runs", "chart spark")


# --- view model -----------------------------------------------------------------------------


def _dataset_view(d: dict[str, Any], history: dict[str, Any], seen: set[str]
                  ) -> dict[str, Any]:
    profile = d.get("profile") or {}
    columns = profile.get("columns") or []
    expectations = sorted(d["expectations"], key=lambda e: (
        e["success"] is not False, e["error"] is None, -(e["unexpected_count"] or 0)))
    return {
        **d,
        "anchor": _anchor("ds-" + d["name"], seen),
        "rows_trend": sparkline_svg(history["rows"].get(d["name"], [])),
        "null_chart": null_share_svg(columns),
        "column_views": [{**c, "dist": distribution_svg(c),
                          "missing": ((c.get("nulls") or 0) + (c.get("empty") or 0))
                          / c["rows"] if c.get("rows") else None,
                          "pii_reason": d["pii"].get(c.get("name"))} for c in columns],
        "expectations": expectations,
        "failed_expectations": sum(1 for e in expectations if e["success"] is False),
    }


def _anchor(name: str, seen: set[str] | None = None) -> str:
    """A readable element id for a name; ``seen`` keeps ids unique (``a.b`` vs ``a-b``)."""
    base = "".join(ch if ch.isalnum() else "-" for ch in name).lower()
    anchor, n = base, 1
    while seen is not None and anchor in seen:
        n += 1
        anchor = f"{base}-{n}"
    if seen is not None:
        seen.add(anchor)
    return anchor


def _lineage_view(lin: dict[str, Any] | None) -> dict[str, Any] | None:
    if not lin:
        return None
    label = {n.get("node_id"): (n.get("dataset") or
                                 f"{n.get('namespace') or ''}/{n.get('name') or ''}")
             for n in lin["nodes"]}
    transforms: dict[str, int] = defaultdict(int)
    for c in lin["column_edges"]:
        transforms[str(c.get("transformation") or "UNKNOWN")] += 1
    return {
        "nodes": sorted(lin["nodes"], key=lambda n: str(label.get(n.get("node_id")))),
        "edges": [{**e, "src": label.get(e.get("src_id"), e.get("src_id")),
                   "dst": label.get(e.get("dst_id"), e.get("dst_id"))} for e in lin["edges"]],
        "column_edges": [{**c, "src": label.get(c.get("src_id"), c.get("src_id")),
                          "dst": label.get(c.get("dst_id"), c.get("dst_id"))}
                         for c in lin["column_edges"][:200]],
        "column_edge_total": len(lin["column_edges"]),
        "transforms": dict(sorted(transforms.items())),
        "label": label,
    }


def _access_view(access: dict[str, Any] | None) -> dict[str, Any] | None:
    if not access:
        return None
    by_dataset: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for g in access["grants"]:
        by_dataset[g.get("dataset") or g.get("object") or "?"].append(g)
    summary = [{"dataset": ds, "grants": len(gs),
                "readers": len({g["grantee"] for g in gs}),
                "logins": len({g["grantee"] for g in gs if g.get("can_login")}),
                "column_grants": sum(1 for g in gs if g.get("column")),
                "masked": sum(1 for g in gs if g.get("masked")),
                "public": any(g.get("via") == "public" or g.get("grantee") == "PUBLIC"
                              for g in gs)}
               for ds, gs in by_dataset.items()]
    return {"by_dataset": dict(by_dataset), "summary": summary, "roles": access["roles"]}


def build_context(data: dict[str, Any], history: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the template needs, with the charts already rendered to SVG."""
    history = history or {"runs": [], "scores": {}, "rows": {}}
    use_cases = []
    seen: set[str] = set()
    for uc in data["use_cases"]:
        applicable = [c for c in uc["checks"] if c["status"] != "not_applicable"]
        use_cases.append({
            **uc, "anchor": _anchor("uc-" + uc["use_case"], seen),
            "breakdown": score_breakdown_svg(uc),
            "trend": sparkline_svg(history["scores"].get(uc["use_case"], []), "{:.1f}"),
            "lost": sorted(lost_checks(uc), key=lambda c: -c["points_lost"]),
            "applicable": [{**c, "bar": points_bar_svg(c)} for c in applicable],
            "not_applicable": [c for c in uc["checks"] if c["status"] == "not_applicable"],
        })
    findings = sorted(data["findings"], key=lambda f: SEVERITY_ORDER.get(f["severity"], 9))
    counts: dict[str, int] = defaultdict(int)
    for f in findings:
        counts[f["severity"]] += 1
    return {
        "run": data["run"], "use_cases": use_cases,
        "datasets": [_dataset_view(d, history, seen) for d in data["datasets"]],
        "findings": findings,
        "finding_counts": [(s, counts[s]) for s in SEVERITY_ORDER if counts[s]],
        "access": _access_view(data.get("access")),
        "lineage": _lineage_view(data.get("lineage")),
        "history_runs": len(history["runs"]),
        "generated_at": datetime.now(UTC), "auditor_version": __version__,
    }


def _css() -> tuple[Markup, str]:
    """The stylesheet and its CSP source expression (the hash pins exactly this CSS)."""
    loader = _env.loader
    assert loader is not None
    css = loader.get_source(_env, "report.css")[0]
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    return Markup(css), f"'sha256-{digest}'"


def render_html(data: dict[str, Any], history: dict[str, Any] | None = None) -> str:
    """Render a run read by :func:`store_reader.read_run` as one self-contained HTML page."""
    css, css_hash = _css()
    return _env.get_template("report.html.j2").render(css=css, css_hash=css_hash,
                                                      **build_context(data, history))


def render_stored_run(con: duckdb.DuckDBPyConnection, ref: str | None = None,
                      history_limit: int = 20) -> tuple[str, str]:
    """(run id, HTML) for ``ref`` (a run id, ``latest`` or None) read from an open store."""
    run_id = store_reader.resolve_run_id(con, ref)
    data = store_reader.read_run(con, run_id)
    history = store_reader.read_history(con, run_id, history_limit)
    return run_id, render_html(data, history)
