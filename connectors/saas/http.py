"""One HTTP client for every SaaS connector: timeouts, retries, re-authentication, quota.

Why one client: the fault contract is the same for every vendor (back off on 429/503 honouring
``Retry-After``; re-authenticate once when a token expires; stop the source when the quota is
spent; never loop forever), while vendors only differ in how they *say* it. Each connector
tells this client how to read its error bodies through a ``classify`` function; the retry
mechanics (tenacity) and the transport (httpx) are shared.

Messages never carry credentials: requests are described by method and path only (no query
string, no headers, no body), and auth lives in an :class:`Auth` object whose headers are added
per request.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from auditor.errors import (
    SourceAuthError,
    SourceDataError,
    SourceError,
    SourceQuotaExceeded,
    SourceUnavailable,
    UnknownObject,
)

log = logging.getLogger(__name__)

FailureKind = Literal["expired", "quota", "throttled", "transient", "not_found", "denied",
                      "bad_request"]


@dataclass(frozen=True, slots=True)
class ApiFailure:
    """How a connector reads one failed response: what kind of failure, and the vendor's words."""

    kind: FailureKind
    message: str
    #: The vendor's own wait when it sends no ``Retry-After`` (HubSpot's rate-limit interval).
    retry_after: float | None = None


Classifier = Callable[[httpx.Response], ApiFailure | None]


class Auth(Protocol):
    """Credentials for one source. ``refresh`` gets a new token; static tokens cannot."""

    def headers(self) -> Mapping[str, str]:
        ...

    def refresh(self) -> bool:
        """Re-authenticate; False when these credentials cannot be renewed (static tokens)."""
        ...


class NoAuth:
    """For protocols that authenticate inside the request body (Odoo XML-RPC)."""

    def headers(self) -> Mapping[str, str]:
        return {}

    def refresh(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try. Every number is a config field of the SaaS connectors."""

    timeout: float = 30.0
    max_attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    #: A ``Retry-After`` longer than this is not waited out: the source stops with a finding.
    max_retry_after: float = 120.0


class _Retryable(Exception):
    """A failure worth another attempt (throttling, 5xx, network, truncated body)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def describe(method: str, url: str | httpx.URL) -> str:
    """``GET /services/data/v60.0/query``: method and path, never the query or credentials."""
    return f"{method} {urlsplit(str(url)).path or '/'}"


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def default_classify(resp: httpx.Response) -> ApiFailure | None:
    """Status-code reading shared by all vendors; connectors refine it from error bodies."""
    code = resp.status_code
    if code < 400:
        return None
    text = resp.text[:300].strip() or resp.reason_phrase
    if code == 401:
        return ApiFailure("expired", text)
    if code == 403:
        return ApiFailure("denied", text)
    if code == 404:
        return ApiFailure("not_found", text)
    if code == 429:
        return ApiFailure("throttled", text)
    if code >= 500 or code == 408:
        return ApiFailure("transient", text)
    return ApiFailure("bad_request", text)


def ssl_context(verify_tls: bool, ca_bundle: str | None) -> ssl.SSLContext | bool:
    """What httpx gets as ``verify``: a context trusting ``ca_bundle`` (a private CA) if given."""
    if ca_bundle:
        return ssl.create_default_context(cafile=ca_bundle)
    return verify_tls


class ApiClient:
    """httpx client for one source with the shared fault handling.

    ``sleep`` is an attribute so tests can record waits instead of waiting.
    """

    def __init__(self, source: str, base_url: str, *, auth: Auth, policy: RetryPolicy,
                 classify: Classifier = default_classify,
                 verify: ssl.SSLContext | bool = True,
                 headers: Mapping[str, str] | None = None) -> None:
        self.source = source
        self.auth = auth
        self.policy = policy
        self.classify = classify
        self.sleep: Callable[[float], None] = time.sleep
        #: Tokens renewed after a rejection (the one re-authentication per request).
        self.reauthentications = 0
        self.last_headers: httpx.Headers = httpx.Headers()
        self._http = httpx.Client(base_url=base_url, timeout=policy.timeout, verify=verify,
                                  headers=dict(headers or {}), follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    # -- public -------------------------------------------------------------------------------

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send with retries and one re-authentication; raise a SourceError when it fails."""
        return self._with_retries(method, url, lambda r: r, **kwargs)

    def json(self, method: str, url: str, **kwargs: Any) -> Any:
        """Like :meth:`request`, parsing JSON; a malformed body is retried, then SRC002."""
        return self.call(method, url, _parse_json, **kwargs)

    def call(self, method: str, url: str, parse: Callable[[httpx.Response], Any],
             **kwargs: Any) -> Any:
        """Send and ``parse`` the answer; ``parse`` raising :class:`MalformedBody` (a body cut
        short or garbled on the way) counts as a failed try: retried, then SRC002."""
        def attempt(resp: httpx.Response) -> Any:
            try:
                return parse(resp)
            except MalformedBody as exc:
                raise _Retryable(str(exc)) from ValueError(str(exc))
        return self._with_retries(method, url, attempt, **kwargs)

    # -- mechanics ----------------------------------------------------------------------------

    def _with_retries(self, method: str, url: str, parse: Callable[[httpx.Response], Any],
                      **kwargs: Any) -> Any:
        what = describe(method, url)
        retrying = Retrying(
            stop=stop_after_attempt(self.policy.max_attempts),
            wait=self._wait, retry=retry_if_exception_type(_Retryable),
            sleep=lambda s: self.sleep(s), reraise=True,
            before_sleep=lambda st: log.info("%s: %s failed (%s); retrying", self.source, what,
                                             st.outcome.exception() if st.outcome else "?"))
        try:
            for attempt in retrying:
                with attempt:
                    return parse(self._send(method, url, **kwargs))
        except _Retryable as exc:
            n = self.policy.max_attempts
            if isinstance(exc.__cause__, ValueError):
                raise SourceDataError(f"source {self.source!r}: {what}: {exc} "
                                      f"({n} attempts)") from None
            raise SourceUnavailable(f"source {self.source!r}: {what}: {exc} (gave up after "
                                    f"{n} attempts)",
                                    hint="the service is failing or throttling; retry later "
                                    "or raise max_attempts") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return exc.retry_after
        return wait_exponential(multiplier=self.policy.backoff,
                                max=self.policy.max_backoff)(state)

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        what = describe(method, url)
        extra = dict(kwargs.pop("headers", None) or {})
        reauthenticated = False
        while True:
            try:
                resp = self._http.request(method, url, headers={**self.auth.headers(), **extra},
                                          **kwargs)
            except httpx.TimeoutException:
                raise _Retryable(f"no answer within {self.policy.timeout:g} s") from None
            except httpx.TransportError as exc:
                raise _Retryable(f"connection failed: {type(exc).__name__}: "
                                 f"{_scrub(str(exc))}") from None
            self.last_headers = resp.headers
            failure = self.classify(resp)
            if failure is None:
                return resp
            if failure.kind == "expired" and not reauthenticated:
                if self.auth.refresh():
                    self.reauthentications += 1
                    reauthenticated = True
                    log.info("%s: %s: token rejected; re-authenticated", self.source, what)
                    continue
            self._raise(failure, resp, what, after_reauth=reauthenticated)

    def _raise(self, failure: ApiFailure, resp: httpx.Response, what: str, *,
               after_reauth: bool) -> None:
        src = f"source {self.source!r}: {what}: HTTP {resp.status_code}"
        msg = _scrub(failure.message)
        if failure.kind in ("throttled", "transient"):
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            if retry_after is None:
                retry_after = failure.retry_after
            if retry_after is not None and retry_after > self.policy.max_retry_after:
                raise SourceQuotaExceeded(
                    f"{src}: rate limit or quota spent: asked to wait {retry_after:g} s "
                    f"(max_retry_after is "
                    f"{self.policy.max_retry_after:g} s): {msg}",
                    hint="the API's rate limit is exhausted; run again later")
            raise _Retryable(f"HTTP {resp.status_code}: {msg}", retry_after)
        if failure.kind == "quota":
            raise SourceQuotaExceeded(f"{src}: request quota exhausted: {msg}",
                                      hint="wait for the quota to reset, or lower the sample "
                                      "sizes / number of datasets of this source")
        if failure.kind == "expired":
            again = " (also after re-authenticating)" if after_reauth else ""
            raise SourceAuthError(f"{src}: credentials rejected{again}: {msg}",
                                  hint="check the token or client credentials of this source")
        if failure.kind == "not_found":
            raise UnknownObject(f"{src}: not found: {msg}")
        if failure.kind == "denied":
            raise SourceAuthError(f"{src}: access denied: {msg}",
                                  hint="grant the integration user read access to it")
        raise SourceError(f"{src}: {msg}")


class MalformedBody(ValueError):
    """A response body that does not parse (truncated JSON or XML)."""


def _parse_json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = (f" at line {exc.lineno}, column {exc.colno}"
                 if isinstance(exc, json.JSONDecodeError) else "")
        raise MalformedBody(f"malformed JSON{where}") from None


def _scrub(text: str) -> str:
    """Drop anything that looks like a bearer token or a query string from a message."""
    text = re.sub(r"(?i)\b(bearer)(\s+)[^\s\"'&,;]+", r"\1\2***", text)
    text = re.sub(r"(?i)((?<!unexpected )token|access_token|apikey|api_key|password|secret)"
                  r"(\s*[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;]+", r"\1\2***", text)
    return re.sub(r"\?[^\s\"']*", "?…", text)
