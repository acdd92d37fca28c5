"""Bearer tokens for the SaaS connectors: static ones, and OAuth 2.0 token-endpoint grants.

Why shared: Salesforce (five flows), HubSpot (refresh token), SAP BTP and Entra ID (client
credentials) all POST a form to a token endpoint and get ``{"access_token", "expires_in"?}``
back (RFC 6749 §4-6). What differs is the form and what else the answer carries; subclasses
say that in :meth:`OAuthToken.form` and :meth:`OAuthToken.accept`. The holder implements the
shared client's ``Auth`` protocol: the token is fetched on first use, renewed shortly before
``expires_in`` runs out, and once more when the API rejects it (``refresh``).

The token endpoint is called through an :class:`ApiClient` without auth, so it gets the same
TLS settings and retries as the data calls; a 400/401 from it means the credentials are wrong
(see :func:`token_classify`) and is reported at once as SRC004, never retried.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from auditor.errors import SourceAuthError
from connectors.saas.http import ApiClient, ApiFailure, Classifier, default_classify

#: Renew this many seconds before the token endpoint's ``expires_in`` runs out.
RENEW_MARGIN = 60.0


class StaticToken:
    """A token handed over in config (private app token, session id): it cannot be renewed."""

    def __init__(self, token: SecretStr, scheme: str = "Bearer") -> None:
        self._token = token
        self._scheme = scheme

    def headers(self) -> Mapping[str, str]:
        return {"Authorization": f"{self._scheme} {self._token.get_secret_value()}"}

    def refresh(self) -> bool:
        return False


class OAuthToken:
    """An access token from ``POST token_url``; subclasses give the grant's form."""

    def __init__(self, client: ApiClient, token_url: str) -> None:
        self._client = client
        self._url = token_url
        self._token: str | None = None
        self._expires = float("inf")
        self.fetches = 0
        self.clock = time.monotonic

    # grant-specific
    def form(self) -> tuple[dict[str, str], dict[str, str]]:
        """The form fields and extra headers of one token request."""
        raise NotImplementedError

    def accept(self, body: Mapping[str, Any]) -> None:
        """Read what else the token answer carries (instance URL, a rotated refresh token)."""

    # Auth protocol
    def headers(self) -> Mapping[str, str]:
        if self._token is None or self.clock() >= self._expires:
            self.fetch()
        return {"Authorization": f"Bearer {self._token}"}

    def refresh(self) -> bool:
        self.fetch()
        return True

    def fetch(self) -> None:
        form, headers = self.form()
        body = self._client.json("POST", self._url, data=form, headers=headers)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise SourceAuthError(f"source {self._client.source!r}: the token endpoint "
                                  "answered without an access_token",
                                  hint="check the token URL: it must be the OAuth token "
                                  "endpoint")
        self._token = str(token)
        expires_in = body.get("expires_in")
        self._expires = (self.clock() + max(0.0, float(expires_in) - RENEW_MARGIN)
                         if expires_in not in (None, "") else float("inf"))
        self.fetches += 1
        self.accept(body)

    def close(self) -> None:
        self._client.close()


def token_classify(base: Classifier = default_classify) -> Classifier:
    """Token endpoint errors: 400/401 ``{"error", "error_description"}`` (RFC 6749 §5.2)
    mean refused credentials — "expired" on a client that cannot refresh, so SRC004 at once."""

    def classify(resp: httpx.Response) -> ApiFailure | None:
        failure = base(resp)
        if failure is None or resp.status_code not in (400, 401):
            return failure
        try:
            body = resp.json()
        except ValueError:
            return ApiFailure("expired", failure.message)
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            text = str(body.get("error_description") or body["error"])
            return ApiFailure("expired", f"{body['error']}: {text}")
        return ApiFailure("expired", failure.message)

    return classify
