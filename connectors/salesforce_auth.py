"""Salesforce OAuth 2.0: the five ways a source gets a bearer token (connector-protocols §1.1).

Why the connector logs in itself instead of using simple-salesforce: every login path of that
library hard-codes ``https://{domain}.salesforce.com``, so the token URL could not point at a
My Domain host, a sandbox proxy or the local fake. All flows POST a form to
``{login_url}/services/oauth2/token`` and read ``access_token`` + ``instance_url``; a refused
login is HTTP 400 ``{"error", "error_description"}`` and becomes a SourceAuthError carrying the
vendor's description (never the credentials: requests are described by method and path only).

The username-password flow still works but Salesforce is deprecating it in favour of client
credentials (help article 000886201, 2026-03); prefer ``client_credentials`` or ``jwt_bearer``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from auditor.errors import MissingDependency, SourceAuthError
from connectors.saas.http import ApiClient, NoAuth
from connectors.saas.oauth import OAuthToken, token_classify

TOKEN_PATH = "/services/oauth2/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: Salesforce accepts JWT assertions that expire within 3 minutes (simple-salesforce uses 3).
JWT_LIFETIME = 180


class _AuthModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ClientCredentials(_AuthModel):
    """OAuth client credentials: runs as the connected app's "run-as" integration user."""

    flow: Literal["client_credentials"] = Field(description="OAuth client credentials flow.")
    client_id: str = Field(description="Consumer key of the connected app.")
    client_secret: SecretStr = Field(description="Consumer secret of the connected app.")


class JwtBearer(_AuthModel):
    """OAuth JWT bearer: an RS256 assertion signed with the connected app's private key."""

    flow: Literal["jwt_bearer"] = Field(description="OAuth JWT bearer flow.")
    client_id: str = Field(description="Consumer key of the connected app (JWT `iss`).")
    username: str = Field(description="Salesforce username to act as (JWT `sub`).")
    private_key: SecretStr | None = Field(None, description="PEM private key (RSA) whose "
                                          "certificate is uploaded to the connected app.")
    private_key_file: str | None = Field(None, description="Path of the PEM private key "
                                         "(relative to the config file); instead of "
                                         "private_key.")
    audience: str | None = Field(None, description="JWT `aud`; default "
                                 "https://test.salesforce.com when login_url is the sandbox "
                                 "login host, else https://login.salesforce.com.")

    @model_validator(mode="after")
    def _one_key(self) -> JwtBearer:
        if (self.private_key is None) == (self.private_key_file is None):
            raise ValueError("jwt_bearer needs exactly one of private_key, private_key_file")
        return self


class RefreshToken(_AuthModel):
    """OAuth refresh token grant (a token obtained once through the web-server flow)."""

    flow: Literal["refresh_token"] = Field(description="OAuth refresh token flow.")
    client_id: str = Field(description="Consumer key of the connected app.")
    client_secret: SecretStr | None = Field(None, description="Consumer secret, when the app "
                                            "requires it for refresh.")
    refresh_token: SecretStr = Field(description="The long-lived refresh token.")


class Password(_AuthModel):
    """OAuth username-password flow. Deprecated by Salesforce; kept for old orgs."""

    flow: Literal["password"] = Field(description="OAuth username-password flow (deprecated by "
                                      "Salesforce; prefer client_credentials).")
    client_id: str = Field(description="Consumer key of the connected app.")
    client_secret: SecretStr = Field(description="Consumer secret of the connected app.")
    username: str = Field(description="Salesforce username.")
    password: SecretStr = Field(description="Password of that user.")
    security_token: SecretStr | None = Field(None, description="Security token appended to "
                                             "the password (not needed from trusted IPs).")


class AccessToken(_AuthModel):
    """A session id / access token obtained elsewhere. It cannot be renewed when it expires."""

    flow: Literal["access_token"] = Field(description="Static access token (no refresh).")
    access_token: SecretStr = Field(description="Bearer token (session id).")


AuthConfig = Annotated[ClientCredentials | JwtBearer | RefreshToken | Password | AccessToken,
                       Field(discriminator="flow")]


class SalesforceAuth(OAuthToken):
    """The org's bearer token: from ``{login_url}/services/oauth2/token`` by the configured
    flow, or static (``access_token``, cannot be renewed). ``instance_url`` comes from the
    token response."""

    def __init__(self, config: AuthConfig, *, login_url: str, base_dir: Path,
                 client_factory: Callable[[str], ApiClient]) -> None:
        self.config = config
        self.login_url = login_url.rstrip("/")
        self.base_dir = base_dir
        self.instance_url: str | None = None
        super().__init__(client_factory(self.login_url), TOKEN_PATH)
        if isinstance(config, AccessToken):
            self._token = config.access_token.get_secret_value()

    @property
    def logins(self) -> int:
        return self.fetches

    @property
    def can_refresh(self) -> bool:
        return not isinstance(self.config, AccessToken)

    def ensure(self) -> None:
        if self._token is None:
            self.fetch()

    def refresh(self) -> bool:
        return self.can_refresh and super().refresh()

    def accept(self, body: Mapping[str, Any]) -> None:
        self.instance_url = str(body.get("instance_url") or "") or None

    def form(self) -> tuple[dict[str, str], dict[str, str]]:
        return self._form()

    def _form(self) -> tuple[dict[str, str], dict[str, str]]:
        c = self.config
        if isinstance(c, ClientCredentials):
            return ({"grant_type": "client_credentials", "client_id": c.client_id,
                     "client_secret": c.client_secret.get_secret_value()}, {})
        if isinstance(c, RefreshToken):
            form = {"grant_type": "refresh_token", "client_id": c.client_id,
                    "refresh_token": c.refresh_token.get_secret_value()}
            if c.client_secret is not None:
                form["client_secret"] = c.client_secret.get_secret_value()
            return form, {}
        if isinstance(c, Password):
            secret = c.password.get_secret_value() + (
                c.security_token.get_secret_value() if c.security_token else "")
            return ({"grant_type": "password", "client_id": c.client_id,
                     "client_secret": c.client_secret.get_secret_value(),
                     "username": c.username, "password": secret}, {})
        if isinstance(c, JwtBearer):
            return {"grant_type": JWT_GRANT, "assertion": self._assertion(c)}, {}
        raise AssertionError(f"no token flow for {type(c).__name__}")  # pragma: no cover

    def _assertion(self, c: JwtBearer) -> str:
        if c.private_key is not None:
            pem = c.private_key.get_secret_value().encode()
        else:
            from auditor.connector import resolve_path

            pem = resolve_path(self.base_dir, str(c.private_key_file)).read_bytes()
        audience = c.audience or ("https://test.salesforce.com"
                                  if "test.salesforce.com" in self.login_url
                                  else "https://login.salesforce.com")
        claims = {"iss": c.client_id, "sub": c.username, "aud": audience,
                  "exp": int(time.time()) + JWT_LIFETIME}
        return sign_rs256(claims, pem)


def sign_rs256(claims: Mapping[str, Any], pem: bytes) -> str:
    """The RS256 JWT assertion of the bearer flow, signed by PyJWT."""
    try:
        import jwt
    except ImportError:  # pragma: no cover - pyjwt[crypto] is the `salesforce` extra
        raise MissingDependency("salesforce", "salesforce", "pyjwt[crypto]") from None
    try:
        return jwt.encode(dict(claims), pem, algorithm="RS256")
    except (ValueError, TypeError, jwt.exceptions.PyJWTError) as exc:
        raise SourceAuthError(f"jwt_bearer: the private key cannot sign RS256: "
                              f"{type(exc).__name__}",
                              hint="give an unencrypted PEM RSA private key") from None


def token_client(factory: Callable[..., ApiClient]) -> Callable[[str], ApiClient]:
    """How the connector builds the token endpoint client: its TLS/retry settings, no auth."""
    return lambda base_url: factory(base_url, auth=NoAuth(), classify=token_classify(),
                                    headers={"Accept": "application/json"})
