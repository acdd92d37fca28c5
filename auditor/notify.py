"""Alerts: POST a check's outcome to webhooks (generic JSON, or Slack-compatible).

A notification is a side effect of a check, never its verdict: a webhook that refuses, errors or
hangs costs at most its time budget (``timeout``, retries included) and becomes a warning line
plus finding ``NOT001``; the exit code stays what the audit and the drift rules decided. The
budget is enforced twice: each HTTP attempt gets only the remaining time as its httpx timeout,
and the whole delivery runs in a daemon thread that is abandoned at the deadline, so even a
server that trickles one byte a second cannot hold the check.

Retries cover what retrying can fix: connection errors, timeouts, HTTP 429 and 5xx, with
exponential backoff (``backoff``, doubling, capped by the remaining budget; a 429's
``Retry-After`` is honoured when it fits). Other 4xx answers (a revoked Slack hook answers 403
or 404) are final.

The URL and headers are resolved from ``${env:...}``/``${file:...}`` only here, at send time;
warnings and findings name the webhook by its ``name`` or host, never by its URL (the path of a
Slack webhook is its secret).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from auditor import __version__
from auditor.errors import AuditorError
from auditor.models import Finding
from auditor.secrets import resolve_references
from auditor.watch_config import WebhookConfig

#: Slack rejects section texts over 3000 characters; keep well under it.
_SLACK_TEXT_MAX = 2900
#: Extra wait after the budget before the delivery thread is abandoned (thread start-up).
_JOIN_SLACK = 0.25


@dataclass(slots=True)
class Delivery:
    """What happened to one notification."""

    name: str
    ok: bool
    attempts: int = 0
    status: int | None = None
    error: str | None = None
    elapsed: float = 0.0
    sent: bool = True
    log: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "sent": self.sent, "attempts": self.attempts,
                "status": self.status, "error": self.error,
                "elapsed_s": round(self.elapsed, 3)}


def wanted(hook: WebhookConfig, events: set[str]) -> bool:
    """Whether ``hook`` subscribes to any of the check's ``events``."""
    return "always" in hook.when or bool(events & set(hook.when))


def label(hook: WebhookConfig, index: int = 0) -> str:
    """How warnings name a webhook: its name, else its host (never the path or query)."""
    if hook.name:
        return hook.name
    if "${" in hook.url:
        return f"webhook[{index}]"
    return urlsplit(hook.url).hostname or f"webhook[{index}]"


def slack_payload(summary: dict[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` (notification preview) plus mrkdwn blocks."""
    lines = [f"*{summary.get('headline', 'auditor check')}*"]
    for uc in summary.get("use_cases", []):
        prev = uc.get("previous") or {}
        was = f" (was {prev['band']} {prev['score']:.1f})" if prev else ""
        lines.append(f"• {uc['use_case']}: {uc['band']} {uc['score']:.1f}{was}")
    regs = summary.get("regressions", [])
    if regs:
        lines.append(f"*Regressions ({len(regs)})*")
        lines += [f"• `{d['rule']}` {d['message']}" for d in regs[:15]]
        if len(regs) > 15:
            lines.append(f"… and {len(regs) - 15} more")
    failed = [s for s in summary.get("sources", []) if s.get("status") != "ok"]
    if failed:
        lines.append("*Failed sources*: " + ", ".join(s["dataset"] for s in failed))
    text = "\n".join(lines)
    if len(text) > _SLACK_TEXT_MAX:
        text = text[:_SLACK_TEXT_MAX - 1] + "…"
    return {"text": summary.get("headline", "auditor check"),
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def payload_for(hook: WebhookConfig, summary: dict[str, Any]) -> dict[str, Any]:
    if hook.format == "slack":
        return slack_payload(summary)
    return {"event": "auditor.check", "auditor_version": __version__, **summary}


def send(hook: WebhookConfig, summary: dict[str, Any], *, base_dir: Path,
         index: int = 0, name: str | None = None) -> Delivery:
    """Deliver one notification within the hook's time budget; never raises."""
    name = name or label(hook, index)
    started = time.monotonic()
    budget = hook.timeout.total_seconds()
    try:
        url = str(resolve_references(hook.url, base_dir=base_dir, where=f"watch.notify[{index}]"
                                     ".url"))
        headers = resolve_references(dict(hook.headers), base_dir=base_dir,
                                     where=f"watch.notify[{index}].headers")
    except AuditorError as exc:
        return Delivery(name, ok=False, error=str(exc), sent=False)
    if not url.startswith(("http://", "https://")):
        return Delivery(name, ok=False, error="the resolved url is not http(s)", sent=False)
    result = Delivery(name, ok=False)
    body = payload_for(hook, summary)
    worker = threading.Thread(target=_deliver, name=f"notify-{name}", daemon=True,
                              args=(hook, url, headers, body, started + budget, result))
    worker.start()
    worker.join(budget + _JOIN_SLACK)
    result.elapsed = time.monotonic() - started
    if worker.is_alive():
        # A socket that keeps trickling bytes defeats per-read timeouts; we stop waiting.
        result.ok = False
        result.error = f"no complete answer within {budget:g} s"
        return result
    if result.error:
        result.error = result.error.replace(url, name)
    return result


def _deliver(hook: WebhookConfig, url: str, headers: dict[str, str], body: dict[str, Any],
             deadline: float, result: Delivery) -> None:
    """The retry loop (runs in a worker thread; writes into ``result``)."""
    backoff = hook.backoff.total_seconds()
    try:
        with httpx.Client(follow_redirects=False,
                          headers={"User-Agent": f"data-readiness-auditor/{__version__}"}) as cli:
            for attempt in range(hook.retries + 1):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    result.error = (result.error or "") + " (time budget spent)"
                    return
                result.attempts = attempt + 1
                retry_after = 0.0
                try:
                    resp = cli.post(url, json=body, headers=headers,
                                    timeout=httpx.Timeout(remaining))
                except httpx.TimeoutException:
                    result.error = f"timed out after {remaining:.1f} s"
                except httpx.HTTPError as exc:
                    result.error = f"{type(exc).__name__}: {exc}"
                else:
                    result.status = resp.status_code
                    if resp.is_success:
                        result.ok, result.error = True, None
                        return
                    result.error = f"HTTP {resp.status_code}"
                    if resp.status_code != 429 and resp.status_code < 500:
                        return  # the receiver refused the message; retrying will not help
                    retry_after = _retry_after(resp)
                result.log.append(f"attempt {attempt + 1}: {result.error}")
                if attempt == hook.retries:
                    return
                wait = max(backoff * (2 ** attempt), retry_after)
                if time.monotonic() + wait >= deadline:
                    result.error = f"{result.error} (no time left to retry)"
                    return
                time.sleep(wait)
    except Exception as exc:  # noqa: BLE001 - a notifier bug must not fail the check either
        result.ok = False
        result.error = f"{type(exc).__name__}: {exc}"


def _retry_after(resp: httpx.Response) -> float:
    try:
        return max(0.0, float(resp.headers.get("Retry-After", "0")))
    except ValueError:
        return 0.0


def notify_all(hooks: list[WebhookConfig], summary: dict[str, Any], events: set[str], *,
               base_dir: Path) -> list[Delivery]:
    """Send to every hook subscribed to ``events``, one after the other.

    Sequential on purpose: the worst case is the sum of the budgets, which the user set, and
    a cron job should not open a burst of connections.
    """
    labels = [label(h, i) for i, h in enumerate(hooks)]
    labels = [f"{n}#{i}" if labels.count(n) > 1 else n for i, n in enumerate(labels)]
    out = []
    for i, hook in enumerate(hooks):
        if not wanted(hook, events):
            continue
        try:
            out.append(send(hook, summary, base_dir=base_dir, index=i, name=labels[i]))
        except Exception as exc:  # noqa: BLE001 - a notifier bug must not fail the check
            out.append(Delivery(labels[i], ok=False, sent=False,
                                error=f"internal error: {type(exc).__name__}: {exc}"))
    return out


def failure_finding(d: Delivery) -> Finding:
    """Finding NOT001 for a notification that did not get through."""
    tries = f" after {d.attempts} attempt{'s' * (d.attempts != 1)}" if d.attempts else ""
    return Finding("NOT001", "major", f"notification {d.name!r} failed{tries}: {d.error}",
                   hint="check the webhook URL, its secret reference and the receiving "
                        "service; the audit result and exit code are unaffected",
                   detail=d.to_dict())
