"""The auditor's exception tree.

Problems *in the data* or *in a source during a run* are findings, not exceptions; exceptions
are for things a user must fix before a run makes sense (config), for sources that fail (which
the ingest stage turns into findings), and for bugs::

    AuditorError                 root; every error has a message and an optional hint
    ├── ConfigError              the user can fix it in audit.yml or on the command line
    │   ├── InvalidConfig        YAML / schema problems, with file:line:column
    │   ├── SecretError          ${env:...} / ${file:...} could not be resolved
    │   ├── UnknownConnector     `kind:` names no registered connector
    │   └── MissingDependency    the connector's optional extra is not installed
    ├── SourceError              a source misbehaved; becomes a finding, the run goes on
    │   ├── SourceUnavailable    missing file, host down, timeout (Transient where retrying helps)
    │   │   └── SourceAuthError  credentials refused (after one re-authentication)
    │   ├── SourceDataError      unreadable or corrupt content
    │   ├── UnknownObject        the table / file / column named in config does not exist
    │   └── SourceQuotaExceeded  the API's request quota is spent: the source stops for this run
    ├── SuiteError               an expectation suite file is invalid
    └── StoreError               the audit store cannot be opened or migrated
"""

from __future__ import annotations


class AuditorError(Exception):
    """Root of every error the auditor raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(AuditorError):
    """A problem the user fixes in the config file or on the command line (exit code 2)."""


class InvalidConfig(ConfigError):
    """The config file is not valid YAML or does not match the schema."""


class SecretError(ConfigError):
    """A `${env:...}` or `${file:...}` reference could not be resolved."""


class UnknownConnector(ConfigError):
    """A source names a `kind` that no installed connector provides."""

    def __init__(self, kind: str, known: list[str], *, where: str = "") -> None:
        prefix = f"{where}: " if where else ""
        super().__init__(
            f"{prefix}unknown source kind {kind!r}",
            hint=f"known kinds: {', '.join(sorted(known))}",
        )
        self.kind = kind
        self.valid_values = sorted(known)


class MissingDependency(ConfigError):
    """A connector's optional dependencies are not installed."""

    def __init__(self, connector: str, extra: str, package: str) -> None:
        super().__init__(
            f"connector {connector!r} needs the package {package!r}, which is not installed",
            hint=f'pip install "data-readiness-auditor[{extra}]"',
        )


class SourceError(AuditorError):
    """A source failed; the ingest stage records it as a finding and the run continues."""

    code = "SRC000"


class SourceUnavailable(SourceError):
    """The source cannot be reached: missing file, refused connection, timeout."""

    code = "SRC001"


class SourceAuthError(SourceUnavailable):
    """The source refused the credentials, also after re-authenticating once."""

    code = "SRC004"


class SourceQuotaExceeded(SourceError):
    """The API's request quota (e.g. Salesforce daily limit) is exhausted.

    The connector stops calling that source for the rest of the run, so one exhausted quota
    costs one request per dataset at most, never a retry storm.
    """

    code = "SRC005"


class SourceDataError(SourceError):
    """The source was reached but its content cannot be read."""

    code = "SRC002"


class UnknownObject(SourceError):
    """The object (table, file, column) named in config does not exist in the source."""

    code = "SRC003"


class SuiteError(AuditorError):
    """An expectation suite file is invalid or names an expectation that cannot run."""


class StoreError(AuditorError):
    """The audit store cannot be opened, migrated or written."""
