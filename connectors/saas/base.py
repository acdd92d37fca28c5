"""What every SaaS connector shares: config, paging into Arrow, caps, partial pulls, quota stop.

A vendor module supplies four things — how to list objects, how to describe one (its fields as
:class:`~connectors.saas.records.FieldSpec`), how to page through it, and how to read its error
bodies — and inherits the behaviour the issue asks of every connector:

* the first page is fetched eagerly, so a source that cannot be read at all fails ``sample``
  (and becomes a source finding) instead of failing halfway through the store write;
* later pages stream one by one into the store (bounded memory); a page that fails for good, a
  cursor seen twice, or a quota running out ends the stream *keeping the rows already pulled*,
  and :class:`~auditor.models.StopInfo` records where it stopped (finding SRC006);
* an exhausted quota stops the source for the rest of the run: later datasets of the same
  source fail at once with the same finding, without another request;
* ``page_size`` and ``max_records`` cap every pull; ``first n`` stops paging at ``n``;
  ``random n`` draws a seeded sample from the first ``max_records`` records in key order, so
  the same data and seed give the same rows.
"""

from __future__ import annotations

import logging
import random
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import Field

from auditor import progress
from auditor.connector import ConnectorConfig, resolve_path
from auditor.errors import SourceError, SourceQuotaExceeded, UnknownObject
from auditor.models import ObjectMetadata, Sample, SampleSpec, StopInfo
from connectors.saas.http import ApiClient, RetryPolicy, ssl_context
from connectors.saas.records import FieldSpec, schema, to_batch

log = logging.getLogger(__name__)


class SaasSourceConfig(ConnectorConfig):
    """Fields every SaaS source has; each vendor's model adds its endpoint and credentials."""

    timeout: float = Field(30, gt=0, description="Seconds to wait for one HTTP response.")
    max_attempts: int = Field(5, ge=1, le=20, description="Tries per request on 429, 5xx, "
                              "timeouts and dropped connections (1 = no retry).")
    backoff: float = Field(0.5, ge=0, description="First retry delay in seconds (doubles per "
                           "try) when the server sends no Retry-After.")
    max_retry_after: float = Field(120, ge=0, description="Longest Retry-After waited out; a "
                                   "longer one stops the source with a quota finding.")
    page_size: int | None = Field(None, gt=0, description="Records per page (vendor default "
                                  "and maximum apply).")
    max_records: int = Field(50_000, gt=0, description="Most records pulled per object.")
    verify_tls: bool = Field(True, description="Verify the server's TLS certificate.")
    ca_bundle: str | None = Field(None, description="PEM file of a private CA to trust "
                                  "(relative to the config file).")

    def policy(self) -> RetryPolicy:
        return RetryPolicy(timeout=self.timeout, max_attempts=self.max_attempts,
                           backoff=self.backoff, max_retry_after=self.max_retry_after)


@dataclass(frozen=True, slots=True)
class ObjectDescription:
    """What ``describe`` learnt about one object."""

    fields: tuple[FieldSpec, ...]
    label: str | None = None
    row_count: int | None = None
    owner: str | None = None
    location: str | None = None


@dataclass(slots=True)
class Page:
    """One page of records; ``next_cursor`` is None on the last page."""

    records: list[dict[str, Any]]
    next_cursor: str | None = None
    total: int | None = None


@dataclass(slots=True)
class _Pull:
    rows: int = 0
    pages: int = 0
    cursor: str | None = None
    seen: set[str] = field(default_factory=set)
    bad: Counter[str] = field(default_factory=Counter)


class SaasConnector(ABC):
    """Base of the Salesforce, HubSpot, Dynamics, OData and Odoo connectors."""

    kind: ClassVar[str]
    config_model: ClassVar[type[SaasSourceConfig]]
    #: Largest page the vendor serves; ``page_size`` above it is clamped.
    max_page_size: ClassVar[int] = 1000

    def __init__(self, name: str, config: SaasSourceConfig, base_dir: Path) -> None:
        self.name = name
        self.config = config
        self.base_dir = base_dir
        self._stopped: SourceError | None = None
        self._described: dict[str, ObjectDescription] = {}
        #: How retries wait; tests replace it to record waits instead of sleeping.
        self.sleep: Callable[[float], None] = time.sleep
        self._clients: list[ApiClient] = []

    # -- vendor hooks -------------------------------------------------------------------------

    @abstractmethod
    def list_objects(self) -> list[str]:
        """Object names the credentials can read."""

    @abstractmethod
    def describe(self, obj: str, options: Mapping[str, Any]) -> ObjectDescription:
        """Fields of ``obj`` (raise UnknownObject when it does not exist)."""

    @abstractmethod
    def pages(self, obj: str, fields: Sequence[FieldSpec], *, page_size: int,
              limit: int | None, where: str | None,
              options: Mapping[str, Any]) -> Iterator[Page]:
        """Pages of ``obj`` in a stable order (key order), following the vendor's cursor."""

    # -- shared -------------------------------------------------------------------------------

    def http(self, base_url: str, **kwargs: Any) -> ApiClient:
        """An :class:`ApiClient` configured from this source's retry and TLS settings."""
        ca = str(resolve_path(self.base_dir, self.config.ca_bundle)) \
            if self.config.ca_bundle else None
        client = ApiClient(self.name, base_url, policy=self.config.policy(),
                           verify=ssl_context(self.config.verify_tls, ca), **kwargs)
        client.sleep = lambda seconds: self.sleep(seconds)
        self._clients.append(client)
        return client

    def discover(self) -> list[str]:
        self._check_stopped()
        return self._guard(self.list_objects)

    def description(self, obj: str, options: Mapping[str, Any]) -> ObjectDescription:
        key = f"{obj}\0{options.get('fields')}"
        if key not in self._described:
            self._described[key] = self._guard(lambda: self.describe(obj, options))
        return self._described[key]

    def sample(self, obj: str, spec: SampleSpec, options: Mapping[str, Any]) -> Sample:
        self._check_stopped()
        desc = self.description(obj, options)
        fields = _selected(desc.fields, options.get("fields"), obj)
        cap = self.config.max_records
        limit = min(spec.n, cap) if spec.method == "first" and spec.n else cap
        page_size = min(self.config.page_size or self.max_page_size, self.max_page_size, limit)
        pull = _Pull()
        pages = self._guard(lambda: self.pages(obj, fields, page_size=page_size, limit=limit,
                                               where=spec.where, options=options))
        first = self._guard(lambda: next(pages, Page([])))
        metadata = ObjectMetadata(
            columns=tuple(f.column() for f in fields),
            primary_key=tuple(f.name for f in fields if f.primary_key),
            row_count_estimate=first.total if first.total is not None else desc.row_count,
            owner=desc.owner, description=desc.label, location=desc.location, contracts=True)
        sample = Sample(reader=None, metadata=metadata, source_rows=first.total)  # type: ignore[arg-type]
        # progress.bound() here, in the caller's context: DuckDB drains the stream on its threads
        batches = self._stream(obj, first, pages, fields, limit, pull, sample, progress.bound())
        if spec.method == "random" and spec.n is not None:
            table = pa.Table.from_batches(list(batches), schema=schema(fields))
            if table.num_rows > spec.n:
                picked = sorted(random.Random(spec.seed).sample(range(table.num_rows), spec.n))
                table = table.take(pa.array(picked, type=pa.int64()))
            sample.notes.append(f"random {spec.n} of the first {pull.rows} records in key order "
                                f"(max_records {cap}, seed {spec.seed})")
            batches = iter(table.to_batches())
        sample.reader = pa.RecordBatchReader.from_batches(schema(fields), batches)
        return sample

    def close(self) -> None:
        """Close every client :meth:`http` made (vendors that hold more call this too)."""
        for client in self._clients:
            client.close()
        self._clients.clear()

    # -- mechanics ----------------------------------------------------------------------------

    def _stream(self, obj: str, first: Page, pages: Iterator[Page],
                fields: Sequence[FieldSpec], limit: int, pull: _Pull,
                sample: Sample, report: Callable[[str], None]) -> Iterator[pa.RecordBatch]:
        """Batches page by page. The next page is fetched on a worker thread while the current
        one is converted and written: with real APIs a page costs 100 ms or more of network
        wait, which this hides behind the conversion."""
        page: Page | None = first
        ahead: Future[Page | None] | None = None
        pool = ThreadPoolExecutor(1, thread_name_prefix=f"pages-{self.name}")
        try:
            while page is not None:
                take = page.records[: max(0, limit - pull.rows)]
                pull.pages += 1
                pull.rows += len(take)
                cursor = page.next_cursor
                last = pull.rows >= limit or cursor is None
                repeated = not last and cursor in pull.seen
                if not last and not repeated:
                    pull.seen.add(cursor)  # type: ignore[arg-type]
                    pull.cursor = cursor
                    ahead = pool.submit(next, pages, None)
                if take:
                    yield to_batch(take, fields, pull.bad)
                report(f"ingest {self.name}:{obj}: {pull.rows:,} records, {pull.pages} "
                       f"page{'s' if pull.pages != 1 else ''}")
                if last:
                    break
                if repeated:
                    sample.stopped = StopInfo(
                        f"the API returned cursor {cursor!r} a second time; paging stopped to "
                        "avoid a loop", pull.rows, pull.pages, cursor)
                    break
                assert ahead is not None
                try:
                    page = ahead.result()
                except SourceError as exc:
                    if isinstance(exc, SourceQuotaExceeded):
                        self._stopped = exc
                    log.warning("%s", exc)
                    sample.stopped = StopInfo(str(exc), pull.rows, pull.pages, pull.cursor)
                    break
                finally:
                    ahead = None
        finally:
            if ahead is not None:  # abandoned mid-stream: let the fetch finish, then close
                ahead.cancel() or _quietly(ahead.result)
            pool.shutdown(wait=True)
            close = getattr(pages, "close", None)
            if close:
                close()
            sample.unparsed.update(pull.bad)

    def _check_stopped(self) -> None:
        if self._stopped is not None:
            raise type(self._stopped)(f"source {self.name!r} stopped earlier in this run: "
                                      f"{self._stopped}", hint=self._stopped.hint)

    def _guard(self, fn: Any) -> Any:
        try:
            return fn()
        except SourceQuotaExceeded as exc:
            self._stopped = exc
            raise


def _quietly(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except Exception:  # noqa: BLE001 - the stream is being abandoned; its error is moot
        log.debug("prefetched page failed after the stream was abandoned", exc_info=True)


def _selected(fields: Sequence[FieldSpec], wanted: Any, obj: str) -> tuple[FieldSpec, ...]:
    """``options.fields`` narrows the pull (the key always stays); unknown names are errors."""
    if not wanted:
        return tuple(fields)
    by_name = {f.name: f for f in fields}
    unknown = [w for w in wanted if w not in by_name]
    if unknown:
        raise UnknownObject(f"{obj}: options.fields names unknown fields {unknown}; "
                            f"known: {sorted(by_name)[:20]}")
    keep = set(wanted) | {f.name for f in fields if f.primary_key}
    return tuple(f for f in fields if f.name in keep)
