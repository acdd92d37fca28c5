"""Progress messages from deep inside a stage (a connector paging through an API).

Why a context variable: the CLI owns the progress bar, connectors own the paging loop, and
nothing in between should have to pass a callback through. The CLI installs a reporter for the
duration of a command; without one, messages go to the debug log only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

log = logging.getLogger("auditor.progress")

_reporter: ContextVar[Callable[[str], None] | None] = ContextVar("auditor_progress",
                                                                 default=None)


def bound() -> Callable[[str], None]:
    """A status reporter tied to the calling context's progress display (each message replaces
    the previous one). Bound here because the work may go on elsewhere: DuckDB pulls a
    connector's Arrow stream on its own threads, where the context variable is unset."""
    reporter = _reporter.get()

    def report(message: str) -> None:
        log.debug("%s", message)
        if reporter is not None:
            reporter(message)

    return report


@contextmanager
def reporting(reporter: Callable[[str], None]) -> Iterator[None]:
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)
