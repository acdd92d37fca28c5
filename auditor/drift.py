"""Regressions and drift between a run and its predecessors: pure functions, no SQL, no I/O.

The input is a :class:`~auditor.history.Comparison` (snapshots read by :mod:`auditor.history`);
the output is a list of :class:`Drift` records, each naming its rule, subject, the measured value,
the baseline, the threshold and how that threshold was obtained. ``docs/drift.md`` is the user
documentation; the short version:

* **Baseline** of a series (row count, null share, distinct count, lag, score) is the median of
  the earlier runs in the window (the previous run when there is only one): one odd run does
  not move it. Schema, bands and distributions compare with the *previous* run.
* **Fixed thresholds** while a series has fewer than ``min_history`` earlier values.
* **Learnt thresholds** once it has enough: the modified z-score of Iglewicz & Hoaglin,
  ``z = 0.6745 (x − median) / MAD`` (``MAD`` = median absolute deviation; when it is 0 the mean
  absolute deviation × 1.2533 is used instead), flags ``|z| > z_threshold`` (3.5) *and* a change
  of at least the rule's floor. Median and MAD ignore the odd outlier that mean and standard
  deviation would chase, and the floor keeps a perfectly constant history from turning a
  rounding wobble into an alert.
* **Distributions**: population stability index, ``PSI = Σ (a − e) ln(a / e)`` over bins (shares
  below 1e-4 are raised to 1e-4). Numeric columns: the bins are the previous run's stored
  quantiles (p01…p99), each run's CDF is rebuilt by linear interpolation between its quantiles,
  so no sample is re-read. Categorical columns: the bins are the top values of both runs plus
  "other"; a value missing from a run's top list gets the smallest share consistent with that
  list, so PSI is a lower bound and re-ordering of rare values never raises an alert.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal

from auditor.history import (
    NUMERIC_TYPES,
    ColumnStats,
    Comparison,
    DatasetSnapshot,
    UseCaseSnapshot,
)
from auditor.watch_config import RULES, WatchConfig

Severity = Literal["regression", "warning"]
Method = Literal["fixed", "robust_z", "previous_run"]
Direction = Literal["up", "down", "both"]

#: Iglewicz & Hoaglin: 0.6745 = Φ⁻¹(0.75) makes MAD a consistent estimate of σ for normal data.
MAD_SCALE = 0.6745
#: Scale of the mean absolute deviation when MAD is 0 (√(π/2) = 1.2533).
MEAN_AD_SCALE = 1.253314
#: Floor on bin shares in PSI (an empty bin would make the logarithm infinite).
PSI_EPSILON = 1e-4
QUANTILE_PROBS: tuple[tuple[str, float], ...] = (
    ("p01", 0.01), ("p05", 0.05), ("p25", 0.25), ("p50", 0.50), ("p75", 0.75), ("p95", 0.95),
    ("p99", 0.99))


@dataclass(frozen=True, slots=True)
class Drift:
    """One detected change: what, where, by how much, against what, and why it counts."""

    rule: str
    subject: str
    message: str
    severity: Severity
    method: Method
    value: float | None = None
    baseline: float | None = None
    threshold: float | None = None
    z: float | None = None
    history: int = 0
    dataset: str | None = None
    column: str | None = None
    use_case: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DriftReport:
    """Every drift of one run, and the status of each rule (pass/fail/warn/disabled/...)."""

    run_id: str
    drifts: tuple[Drift, ...]
    rules: dict[str, str]
    prior_runs: int

    @property
    def regressions(self) -> list[Drift]:
        return [d for d in self.drifts if d.severity == "regression"]

    @property
    def warnings(self) -> list[Drift]:
        return [d for d in self.drifts if d.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "prior_runs": self.prior_runs, "rules": self.rules,
                "drifts": [_plain(asdict(d)) for d in self.drifts]}


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, 6)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# --- statistics -----------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    s = sorted(values)
    n = len(s)
    if n == 0:
        raise ValueError("median of an empty series")
    mid = n // 2
    return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2.0


def robust_scale(values: Sequence[float]) -> float:
    """σ-equivalent spread from MAD (mean absolute deviation when MAD is 0); 0 if constant."""
    m = median(values)
    dev = [abs(v - m) for v in values]
    mad = median(dev)
    if mad > 0:
        return mad / MAD_SCALE
    mean_ad = sum(dev) / len(dev)
    return MEAN_AD_SCALE * mean_ad


def robust_z(value: float, history: Sequence[float]) -> float:
    """Modified z-score of ``value`` against ``history`` (±inf when history is constant)."""
    m = median(history)
    scale = robust_scale(history)
    if scale > 0:
        return (value - m) / scale
    return 0.0 if value == m else math.copysign(math.inf, value - m)


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index of two share vectors over the same bins."""
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, PSI_EPSILON), max(a, PSI_EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def _knots(quantiles: dict[str, float]) -> list[tuple[float, float]]:
    """(value, cumulative share) points of a stored quantile set; ties keep the largest share
    (the CDF is right-continuous, so a point mass jumps at its value)."""
    pts = sorted((float(quantiles[k]), p) for k, p in QUANTILE_PROBS if k in quantiles)
    out: list[tuple[float, float]] = []
    for x, p in pts:
        if out and out[-1][0] == x:
            out[-1] = (x, max(out[-1][1], p))
        else:
            out.append((x, p))
    return out


def quantile_cdf(knots: list[tuple[float, float]], x: float) -> float:
    """Piecewise-linear CDF through the knots, extended linearly beyond p01/p99 and clamped."""
    if not knots:
        return 0.0
    if len(knots) == 1:
        return 0.0 if x < knots[0][0] else 1.0
    if x <= knots[0][0]:
        (x0, p0), (x1, p1) = knots[0], knots[1]
        return max(0.0, p0 - (p1 - p0) * (x0 - x) / (x1 - x0)) if x < x0 else p0
    if x >= knots[-1][0]:
        (x0, p0), (x1, p1) = knots[-2], knots[-1]
        return min(1.0, p1 + (p1 - p0) * (x - x1) / (x1 - x0))
    for (x0, p0), (x1, p1) in zip(knots, knots[1:], strict=False):
        if x0 <= x < x1:
            return p0 + (p1 - p0) * (x - x0) / (x1 - x0)
    return knots[-1][1]  # pragma: no cover - the loop covers [x_first, x_last)


def numeric_psi(before: dict[str, float], after: dict[str, float]) -> tuple[float, float]:
    """(PSI, KS distance) between two quantile sets, on bins cut at ``before``'s quantiles."""
    kb, ka = _knots(before), _knots(after)
    edges = [x for x, _ in kb]
    fb = [quantile_cdf(kb, x) for x in edges]
    fa = [quantile_cdf(ka, x) for x in edges]
    e = [b - a for a, b in zip([0.0, *fb], [*fb, 1.0], strict=True)]
    a = [b - a for a, b in zip([0.0, *fa], [*fa, 1.0], strict=True)]
    probe = sorted({*edges, *(x for x, _ in ka)})
    ks = max((abs(quantile_cdf(kb, x) - quantile_cdf(ka, x)) for x in probe), default=0.0)
    return psi(e, a), ks


def categorical_shares(before: ColumnStats, after: ColumnStats
                       ) -> tuple[list[str], list[float], list[float]]:
    """Bins (top values of both runs + other) and each run's share of the non-null values.

    A value absent from a run's top list has either share 0 (the list holds every distinct
    value) or some share no larger than the list's smallest; the smallest share consistent with
    the other run is used, so the resulting PSI never exceeds the true one.
    """
    cats = list(dict.fromkeys([v for v, _ in before.top_values] +
                              [v for v, _ in after.top_values]))
    known_b = {v: n / before.non_null for v, n in before.top_values} if before.non_null else {}
    known_a = {v: n / after.non_null for v, n in after.top_values} if after.non_null else {}

    def shares(known: dict[str, float], col: ColumnStats, other: dict[str, float]
               ) -> list[float]:
        complete = len(col.top_values) >= col.distinct
        smallest = min(known.values(), default=0.0)
        guess = {c: 0.0 if complete else min(other.get(c, 0.0), smallest)
                 for c in cats if c not in known}
        rest = max(0.0, 1.0 - sum(known.values()))
        if sum(guess.values()) > rest:  # the guesses cannot hold more than the remainder
            k = rest / sum(guess.values())
            guess = {c: g * k for c, g in guess.items()}
        out = [known.get(c, guess.get(c, 0.0)) for c in cats]
        return [*out, max(0.0, 1.0 - sum(out))]

    return [*cats, "(other)"], shares(known_b, before, known_a), shares(known_a, after, known_b)


# --- threshold decision ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Assessment:
    """The outcome of testing one value against its series."""

    flagged: bool
    method: Method
    baseline: float
    change: float
    threshold: float
    z: float | None


def assess(value: float, prior: Sequence[float], cfg: WatchConfig, *, fixed: float,
           floor: float, direction: Direction, relative: bool) -> Assessment:
    """Fixed threshold on the change while history is short; robust z plus a floor after.

    ``change`` is ``value − baseline`` (relative to ``|baseline|`` when ``relative``); the
    threshold is in the same unit. With a learnt threshold it is the change at which
    ``|z|`` reaches ``z_threshold``, but never less than ``floor``.
    """
    base = median(prior)
    diff = value - base
    if relative:
        change = diff / abs(base) if base else (0.0 if diff == 0 else math.copysign(1.0, diff))
    else:
        change = diff
    magnitude = {"up": change, "down": -change, "both": abs(change)}[direction]
    if len(prior) < cfg.min_history:
        return Assessment(magnitude > fixed, "fixed", base, change, fixed, None)
    z = robust_z(value, prior)
    z_dir = {"up": z, "down": -z, "both": abs(z)}[direction]
    learnt = cfg.z_threshold * robust_scale(prior)
    if relative:
        learnt = learnt / abs(base) if base else 0.0
    flagged = z_dir > cfg.z_threshold and magnitude >= floor
    return Assessment(flagged, "robust_z", base, change, max(learnt, floor), z)


def _num(v: float | None) -> str:
    if v is None:
        return "?"
    return f"{v:,.0f}" if abs(v) >= 10_000 else f"{v:.4g}"


def _why(a: Assessment, n: int, unit: str = "", pct: bool = False) -> str:
    def f(v: float) -> str:
        return f"{v * 100:.1f}{unit or '%'}" if pct else f"{v:.4g}{unit}"

    if a.method == "fixed":
        return f"fixed threshold {f(a.threshold)}, {n} earlier run{'s' * (n != 1)}"
    z = "∞" if a.z is None or math.isinf(a.z) else f"{a.z:+.1f}"
    return f"robust z {z}, learnt threshold {f(a.threshold)} over {n} earlier runs"


# --- rules ----------------------------------------------------------------------------------


class _Collector:
    """Builds drifts with the right severity and drops ignored subjects."""

    def __init__(self, cfg: WatchConfig):
        self.cfg = cfg
        self.items: list[Drift] = []

    def ignored(self, subject: str) -> bool:
        return any(fnmatchcase(subject, pat) for pat in self.cfg.ignore)

    def add(self, rule: str, subject: str, message: str, method: Method, **kw: Any) -> None:
        sev: Severity = "warning" if rule in self.cfg.warn_only else "regression"
        self.items.append(Drift(rule, subject, message, sev, method, **kw))


def _is_numeric(col: ColumnStats) -> bool:
    return col.type.upper().startswith(NUMERIC_TYPES) and col.quantiles is not None


def _is_categorical(col: ColumnStats, max_categories: int) -> bool:
    t = col.type.upper()
    return (t.startswith(("VARCHAR", "BOOLEAN", "ENUM")) and not col.pii
            and 0 < col.distinct <= max_categories and bool(col.top_values))


def _discrete(col: ColumnStats, max_categories: int) -> bool:
    return 0 < col.distinct <= max_categories and bool(col.top_values)


def detect_dataset(cur: DatasetSnapshot, hist: list[DatasetSnapshot], cfg: WatchConfig,
                   out: _Collector | None = None) -> list[Drift]:
    """Schema, volume, null-rate, distinct-count, distribution and freshness drift of one
    dataset against its earlier loads (oldest first)."""
    c = out or _Collector(cfg)
    ds = cur.dataset
    if not hist or c.ignored(ds):
        return c.items
    prev = hist[-1]
    n = len(hist)
    common = dict(dataset=ds, history=n)
    if cfg.schema_drift.enabled:
        _schema(c, cur, prev)
    volume: Assessment | None = None
    if cfg.volume.enabled:
        r = cfg.volume
        a = assess(cur.volume, [h.volume for h in hist], cfg, fixed=r.max_change,
                   floor=r.min_change, direction="both", relative=True)
        if a.flagged:
            volume = a
            c.add("volume", ds, f"{ds}: {cur.volume:,} rows vs {a.baseline:,.0f} "
                  f"({a.change:+.1%}; {_why(a, n, pct=True)})", a.method, value=cur.volume,
                  baseline=a.baseline, threshold=a.threshold, z=a.z, **common)
    for name, col in cur.columns.items():
        subject = f"{ds}.{name}"
        if c.ignored(subject):
            continue
        series = [h.columns[name] for h in hist if name in h.columns]
        if not series:
            continue
        kw = dict(dataset=ds, column=name, history=len(series))
        if cfg.null_rate.enabled:
            r2 = cfg.null_rate
            a = assess(col.null_share, [s.null_share for s in series], cfg,
                       fixed=r2.max_increase, floor=r2.min_increase, direction="up",
                       relative=False)
            if a.flagged:
                c.add("null_rate", subject, f"{subject}: null share {col.null_share:.1%} vs "
                      f"{a.baseline:.1%} ({a.change * 100:+.1f} pp; "
                      f"{_why(a, len(series), ' pp', pct=True)})", a.method,
                      value=col.null_share, baseline=a.baseline, threshold=a.threshold,
                      z=a.z, **kw)
        if cfg.distinct.enabled:
            _distinct(c, subject, col, series, cfg, kw, volume)
        if cfg.distribution.enabled:
            _distribution(c, subject, col, series, cfg, kw)
    if cfg.freshness.enabled and cur.lag_hours is not None:
        lags = [h.lag_hours for h in hist if h.lag_hours is not None]
        if lags:
            r3 = cfg.freshness
            a = assess(cur.lag_hours, lags, cfg, fixed=r3.max_growth.total_seconds() / 3600,
                       floor=r3.min_growth.total_seconds() / 3600, direction="up",
                       relative=False)
            if a.flagged:
                c.add("freshness", ds, f"{ds}: newest data is {cur.lag_hours:.1f} h old vs "
                      f"{a.baseline:.1f} h (lag grew {a.change:+.1f} h; "
                      f"{_why(a, len(lags), ' h')})", a.method, value=cur.lag_hours,
                      baseline=a.baseline, threshold=a.threshold, z=a.z, dataset=ds,
                      history=len(lags))
    return c.items


def _schema(c: _Collector, cur: DatasetSnapshot, prev: DatasetSnapshot) -> None:
    ds = cur.dataset
    ev = {"previous_run": prev.run.run_id}
    for name, col in prev.columns.items():
        subject = f"{ds}.{name}"
        if c.ignored(subject):
            continue
        now = cur.columns.get(name)
        if now is None:
            c.add("schema.removed", subject, f"{subject}: column removed (was {col.type})",
                  "previous_run", dataset=ds, column=name, evidence=ev)
        elif now.type != col.type:
            c.add("schema.retyped", subject, f"{subject}: type {col.type} → {now.type}",
                  "previous_run", dataset=ds, column=name,
                  evidence={**ev, "before": col.type, "after": now.type})
    for name, col in cur.columns.items():
        subject = f"{ds}.{name}"
        if name not in prev.columns and not c.ignored(subject):
            c.add("schema.added", subject, f"{subject}: column added ({col.type})",
                  "previous_run", dataset=ds, column=name, evidence=ev)


def _distinct(c: _Collector, subject: str, col: ColumnStats, series: list[ColumnStats],
              cfg: WatchConfig, kw: dict[str, Any], volume: Assessment | None) -> None:
    r = cfg.distinct
    prev = series[-1]

    def unique(s: ColumnStats) -> bool:
        return s.non_null > 0 and s.distinct >= r.unique_ratio * s.non_null

    if unique(col) and unique(prev):
        return  # an id: its distinct count is its row count, which the volume rule watches
    a = assess(col.distinct, [s.distinct for s in series], cfg, fixed=r.max_change,
               floor=r.min_change, direction="both", relative=True)
    if a.flagged and volume is not None and a.change * volume.change > 0 \
            and abs(a.change) <= 1.1 * abs(volume.change):
        return  # half the rows, fewer distinct names: already reported as a volume anomaly
    if a.flagged:
        c.add("distinct", subject, f"{subject}: {col.distinct:,} distinct values vs "
              f"{a.baseline:,.0f} ({a.change:+.1%}; {_why(a, len(series), pct=True)})",
              a.method, value=col.distinct, baseline=a.baseline, threshold=a.threshold, z=a.z,
              **kw)


def _psi_of(before: ColumnStats, after: ColumnStats, cfg: WatchConfig
            ) -> tuple[str, float, dict[str, Any]] | None:
    """(rule, PSI, evidence) for a pair of profiles of one column, when comparable."""
    r = cfg.distribution
    if before.non_null < r.min_rows or after.non_null < r.min_rows:
        return None
    if _is_numeric(before) and _is_numeric(after) and before.quantiles and after.quantiles:
        if _discrete(before, r.max_categories) and _discrete(after, r.max_categories):
            # Few distinct values: quantiles of a discrete variable jump between values when a
            # share crosses 25 % or 50 %, so their exact top-value counts are compared instead.
            cats, sb, sa = categorical_shares(before, after)
            return "distribution.numeric", psi(sb, sa), {
                "bins": "top values", "p50_before": before.quantiles.get("p50"),
                "p50_after": after.quantiles.get("p50")}
        value, ks = numeric_psi(before.quantiles, after.quantiles)
        return "distribution.numeric", value, {
            "bins": "quantiles", "ks": round(ks, 4), "p50_before": before.quantiles.get("p50"),
            "p50_after": after.quantiles.get("p50")}
    if (_is_categorical(before, r.max_categories) and _is_categorical(after, r.max_categories)
            and before.type == after.type):
        cats, sb, sa = categorical_shares(before, after)
        moves = sorted(zip(cats, sb, sa, strict=True), key=lambda t: -abs(t[2] - t[1]))[:3]
        return "distribution.categorical", psi(sb, sa), {
            "largest_moves": [{"value": v, "before": round(b, 4), "after": round(a, 4)}
                              for v, b, a in moves]}
    return None


def _distribution(c: _Collector, subject: str, col: ColumnStats, series: list[ColumnStats],
                  cfg: WatchConfig, kw: dict[str, Any]) -> None:
    got = _psi_of(series[-1], col, cfg)
    if got is None:
        return
    rule, value, evidence = got
    # The PSI's own history: between consecutive earlier runs, so a naturally noisy column
    # learns a higher threshold than a stable one.
    past = [p[1] for p in (_psi_of(a, b, cfg) for a, b in zip(series, series[1:], strict=False))
            if p is not None and p[0] == rule]
    r = cfg.distribution
    if len(past) >= cfg.min_history:
        z = robust_z(value, past)
        learnt = median(past) + cfg.z_threshold * robust_scale(past)
        a = Assessment(z > cfg.z_threshold and value >= r.min_psi, "robust_z", median(past),
                       value, max(learnt, r.min_psi), z)
    else:
        a = Assessment(value > r.max_psi, "fixed", 0.0, value, r.max_psi, None)
    if not a.flagged:
        return
    detail = ""
    if rule == "distribution.numeric":
        detail = f", median {_num(evidence['p50_before'])} → {_num(evidence['p50_after'])}"
    else:
        mv = evidence["largest_moves"][0]
        detail = f", {mv['value']!r} {mv['before']:.1%} → {mv['after']:.1%}"
    why = (f"fixed threshold {r.max_psi:g}" if a.method == "fixed" else
           f"robust z {a.z:+.1f} over {len(past)} earlier PSIs, learnt threshold "
           f"{a.threshold:.3g}")
    c.add(rule, subject, f"{subject}: PSI {value:.3f} vs the previous run{detail} ({why})",
          a.method, value=value, baseline=a.baseline if a.method == "robust_z" else None,
          threshold=a.threshold, z=a.z,
          evidence=evidence, **kw)


def detect_use_case(cur: UseCaseSnapshot, hist: list[UseCaseSnapshot], cfg: WatchConfig,
                    out: _Collector | None = None) -> list[Drift]:
    """A worse band or new blockers than the previous run; a score drop against the series."""
    c = out or _Collector(cfg)
    name = cur.use_case
    if not hist or not cfg.use_case.enabled or c.ignored(name):
        return c.items
    prev = hist[-1]
    new_blockers = sorted(set(cur.blockers) - set(prev.blockers))
    ev: dict[str, Any] = {"previous_run": prev.run.run_id, "previous_band": prev.band,
                          "new_blockers": new_blockers}
    if cur.rank > prev.rank or new_blockers:
        what = f"band {prev.band} → {cur.band}" if cur.band != prev.band else f"still {cur.band}"
        extra = f"; new blockers {', '.join(new_blockers)}" if new_blockers else ""
        c.add("use_case.band", name, f"{name}: {what}{extra}", "previous_run",
              use_case=name, history=len(hist), evidence=ev)
    elif cur.band != prev.band and cur.rank == prev.rank:
        c.items.append(Drift("use_case.band", name, f"{name}: band {prev.band} → {cur.band}",
                             "warning", "previous_run", use_case=name, history=len(hist),
                             evidence=ev))
    r = cfg.use_case
    a = assess(cur.score, [h.score for h in hist], cfg, fixed=r.max_score_drop,
               floor=r.min_score_drop, direction="down", relative=False)
    if a.flagged:
        deltas = {k: cur.lost.get(k, 0.0) - prev.lost.get(k, 0.0)
                  for k in set(cur.lost) | set(prev.lost)}
        top = sorted(((k, v) for k, v in deltas.items() if v > 0.05), key=lambda t: -t[1])[:3]
        lost = ", ".join(f"{k} −{v:.1f}" for k, v in top)
        c.add("use_case.score", name, f"{name}: score {cur.score:.1f} vs {a.baseline:.1f} "
              f"({a.change:+.1f} points{'; ' + lost if lost else ''}; "
              f"{_why(a, len(hist), ' points')})",
              a.method, value=cur.score, baseline=a.baseline, threshold=a.threshold, z=a.z,
              use_case=name, history=len(hist),
              evidence={"lost_since_previous_run": {k: round(v, 2) for k, v in top}})
    return c.items


def _enabled(rule: str, cfg: WatchConfig) -> bool:
    group = {"schema": cfg.schema_drift.enabled, "volume": cfg.volume.enabled,
             "null_rate": cfg.null_rate.enabled, "distinct": cfg.distinct.enabled,
             "distribution": cfg.distribution.enabled, "freshness": cfg.freshness.enabled,
             "use_case": cfg.use_case.enabled}
    return group[rule.split(".")[0]]


def detect(comparison: Comparison, cfg: WatchConfig) -> DriftReport:
    """Every drift of ``comparison.run`` against its predecessors, with a status per rule.

    Rule statuses: ``fail`` (a regression), ``warn`` (warnings only), ``pass``, ``disabled``,
    or ``no_history`` (no earlier run had anything to compare with).
    """
    c = _Collector(cfg)
    for name, snap in comparison.datasets.items():
        detect_dataset(snap, comparison.dataset_history.get(name, []), cfg, c)
    for name, uc in comparison.use_cases.items():
        detect_use_case(uc, comparison.use_case_history.get(name, []), cfg, c)
    prior = comparison.prior_runs
    rules: dict[str, str] = {}
    for rule in RULES:
        mine = [d for d in c.items if d.rule == rule]
        if not _enabled(rule, cfg):
            rules[rule] = "disabled"
        elif any(d.severity == "regression" for d in mine):
            rules[rule] = "fail"
        elif mine:
            rules[rule] = "warn"
        else:
            rules[rule] = "pass" if prior else "no_history"
    order = {r: i for i, r in enumerate(RULES)}
    drifts = sorted(c.items, key=lambda d: (d.severity != "regression", order[d.rule],
                                            d.subject))
    return DriftReport(comparison.run.run_id, tuple(drifts), rules, prior)
