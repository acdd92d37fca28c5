"""Shared fixtures: real PostgreSQL and MariaDB servers on 127.0.0.1.

Database tests use the real servers. When a server is unreachable they skip with the reason on a
developer's machine, and fail when ``CI=true`` (CI always has both servers, so a skip there would
hide a broken set-up).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

PG_ADMIN_URL = os.environ.get("AUDITOR_TEST_PG_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MYSQL_ADMIN_URL = os.environ.get("AUDITOR_TEST_MYSQL_URL",
                                 "mysql+pymysql://root@127.0.0.1:3306/test")


def _unreachable(what: str, exc: Exception) -> None:
    reason = f"{what} not reachable: {type(exc).__name__}: {exc}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def _engine(url: str, what: str):  # type: ignore[no-untyped-def]
    try:
        import sqlalchemy as sa
    except ImportError as exc:  # pragma: no cover - sqlalchemy is a core dependency
        _unreachable(what, exc)
    try:
        engine = sa.create_engine(url, pool_pre_ping=True)
        with engine.connect() as con:
            con.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "unreachable"
        _unreachable(what, exc)
    return engine


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[object]:
    """Admin engine on the local PostgreSQL ``test`` database (trust auth)."""
    engine = _engine(PG_ADMIN_URL, "PostgreSQL on 127.0.0.1:5432")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def mysql_engine() -> Iterator[object]:
    """Admin engine on the local MariaDB ``test`` database (root, empty password)."""
    engine = _engine(MYSQL_ADMIN_URL, "MariaDB on 127.0.0.1:3306")
    yield engine
    engine.dispose()


@pytest.fixture
def unique_name() -> str:
    """A short unique identifier for schemas, roles and tables created by one test."""
    return "t" + uuid.uuid4().hex[:10]
