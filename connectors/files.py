"""The built-in file connector: CSV/TSV/TXT, Parquet, JSON/NDJSON and Excel files in a directory.

Everything is read by DuckDB (Excel by calamine through fastexcel, then handed to DuckDB as
Arrow), so sampling, ``where`` filters and type names work the same for every format, and rows
cross into Python only as Arrow record batches streamed from a DuckDB connection this connector
owns.

CSV is where files go wrong, so it gets the most care:

* the dialect (delimiter, quoting, header, column types, date formats) comes from DuckDB's
  sniffer, run once per file with ``sniff_csv``; the read then passes that dialect explicitly
  (``auto_detect=false``) so the counting pass and the streaming pass see the same columns;
* the encoding is detected with charset-normalizer when not given; DuckDB reads UTF-8,
  UTF-16 (little-endian) and Latin-1 itself, anything else is transcoded to a temporary UTF-8
  file (streamed, bounded memory) in the connector's own temp directory;
* bad rows are never dropped silently: DuckDB's ``store_rejects`` puts each one in a reject
  table, and each becomes a :class:`RejectedRow` with its physical line number in the file.
"""

from __future__ import annotations

import codecs
import itertools
import math
import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, NoReturn

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import ConfigDict, Field

from auditor.connector import ConnectorConfig, resolve_path
from auditor.errors import SourceDataError, SourceUnavailable, UnknownObject
from auditor.models import ColumnSchema, ObjectMetadata, RejectedRow, Sample, SampleSpec
from connectors.file_text import (
    TRANSCODE_CHUNK,
    Encoding,
    duckdb_view,
    encoding_for,
    lines_at,
    ndjson_error_line,
)

__all__ = ["FORMATS", "FileConnector", "FileSourceConfig"]

Format = Literal["csv", "parquet", "json", "ndjson", "excel"]

#: File name endings this connector offers in ``discover()`` and the reader each one gets.
FORMATS: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".xlsx": "excel",
    ".xls": "excel",
}

#: Names accepted in ``options["format"]``, for files whose extension says nothing useful.
_FORMAT_ALIASES: dict[str, Format] = {
    "csv": "csv",
    "tsv": "csv",
    "txt": "csv",
    "text": "csv",
    "parquet": "parquet",
    "json": "json",
    "ndjson": "ndjson",
    "jsonl": "ndjson",
    "excel": "excel",
    "xlsx": "excel",
    "xls": "excel",
}

_DEFAULT_BATCH_ROWS = 65_536
_DEFAULT_MAX_REJECT_SHARE = 0.5
#: Rejected rows handed back as objects; the rest are counted in a note (a file with millions
#: of bad rows must not turn into millions of Python objects).
_DEFAULT_MAX_REJECTS_LISTED = 100_000
#: How much of a rejected row DuckDB keeps (its default, 10,000 bytes, cuts off the text an
#: open quote swallowed, and with it the count of lines lost) and how much a RejectedRow shows.
_REJECT_LINE_CAP = 16 << 20
_RAW_CHARS = 2_000
_CSV_LINE = re.compile(r"\bCSV Error on Line: (\d+)")


class FileSourceConfig(ConnectorConfig):
    """``sources.<name>`` for ``kind: file``: a directory of data files."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["file"] = Field(description="Source kind; always `file` for this connector.")
    path: str = Field(
        description=(
            "Directory holding the files, absolute or relative to the config file's directory. "
            "Datasets name files inside it by relative path; paths that leave it are refused."
        )
    )


@dataclass(slots=True)
class _CsvDialect:
    """The sniffed dialect with the user's overrides applied; rendered into ``read_csv`` args."""

    delimiter: str
    quote: str
    escape: str
    header: bool
    newline: str
    skip: int
    comment: str
    columns: list[tuple[str, str]]
    date_format: str | None = None
    timestamp_format: str | None = None


@dataclass(slots=True)
class _Prepared:
    """A relation over the whole object plus what reading it taught us."""

    relation: duckdb.DuckDBPyRelation
    source_rows: int | None = None
    rejected: list[RejectedRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Rows a full read must yield (known for CSV from the counting pass); checked at the end
    #: of an unfiltered "all" stream so the two passes can never silently disagree.
    readable_rows: int | None = None
    #: All rejected rows when ``rejected`` lists only the first ones.
    rejected_total: int | None = None


class FileConnector:
    """Reads files under one directory; one DuckDB connection, one cursor per open sample."""

    kind: ClassVar[str] = "file"
    config_model: ClassVar[type[ConnectorConfig]] = FileSourceConfig

    def __init__(self, name: str, config: FileSourceConfig, base_dir: Path) -> None:
        self.name = name
        self.config = config
        self.root = resolve_path(Path(base_dir), config.path).resolve()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._readers: list[pa.RecordBatchReader] = []
        self._tmp: Path | None = None
        self._finalizer: weakref.finalize | None = None
        self._transcoded: dict[tuple[str, int, int, str], Path] = {}
        self._counter = itertools.count()

    # --- the contract ---------------------------------------------------------------------

    def discover(self) -> list[str]:
        """Relative paths (``/``-separated, sorted) of the supported files under the directory.

        Hidden files and directories and Excel lock files (``~$x.xlsx``) are skipped; so are
        symlinks that point outside the directory, since ``sample`` would refuse them.
        """
        if not self.root.is_dir():
            raise SourceUnavailable(
                f"source {self.name!r}: directory {self.root} does not exist",
                hint="check `path` in the source's config (relative to the config file)",
            )
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for fname in filenames:
                if fname.startswith((".", "~$")) or _format_for(Path(fname)) is None:
                    continue
                full = Path(dirpath) / fname
                if not full.resolve().is_relative_to(self.root):
                    continue
                found.append(full.relative_to(self.root).as_posix())
        return sorted(found)

    def sample(self, obj: str, spec: SampleSpec, options: Mapping[str, Any]) -> Sample:
        """Read ``obj`` (a path relative to the directory) and stream the sample ``spec`` asks for.

        The counting pass (CSV, JSON) runs here, so malformed content raises
        :class:`SourceDataError` from this call rather than half-way through the stream.
        """
        path = self._resolve(obj)
        fmt = self._format(path, options)
        batch_rows = _positive_int(options.get("batch_rows", _DEFAULT_BATCH_ROWS), "batch_rows")
        cur = self._cursor()
        try:
            if fmt == "csv":
                prepared = self._prepare_csv(cur, path, options)
            elif fmt == "parquet":
                prepared = self._prepare_parquet(cur, path)
            elif fmt in ("json", "ndjson"):
                prepared = self._prepare_json(cur, path, fmt)
            else:
                prepared = self._prepare_excel(cur, path, options)
            relation = self._apply_spec(prepared.relation, spec, path, prepared.readable_rows)
            columns = tuple(
                ColumnSchema(name=n, type=str(t))
                for n, t in zip(relation.columns, relation.types, strict=True)
            )
            whole = not spec.where and (spec.method == "all" or spec.n is None)
            expected = prepared.readable_rows if whole else None
            reader = self._stream(relation, path, batch_rows, spec, expected)
        except BaseException:
            # A failed sample leaves nothing open; a returned one keeps its cursor until close().
            self._cursors.remove(cur)
            cur.close()
            raise
        metadata = ObjectMetadata(
            columns=columns,
            row_count_estimate=prepared.source_rows,
            location=str(path),
        )
        return Sample(
            reader=reader,
            metadata=metadata,
            rejected=prepared.rejected,
            source_rows=prepared.source_rows,
            notes=prepared.notes,
            rejected_total=prepared.rejected_total,
        )

    def close(self) -> None:
        """Close every open reader, every cursor, the connection and the temp files."""
        readers, self._readers = self._readers, []
        for reader in readers:
            reader.close()
        for cur in self._cursors:
            try:
                cur.close()
            except duckdb.Error:
                pass
        self._cursors.clear()
        if self._con is not None:
            self._con.close()
            self._con = None
        self._transcoded.clear()
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
            self._tmp = None

    def __enter__(self) -> FileConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing -------------------------------------------------------------------------

    def _where(self, path: Path) -> str:
        return f"source {self.name!r}, file {path}"

    def _resolve(self, obj: str) -> Path:
        """The file ``obj`` names, refusing anything outside the source directory.

        Checked after resolving symlinks and ``..`` so neither "../../etc/passwd" nor a link to
        it gets read; a refusal is a SourceDataError so the run records it and carries on.
        """
        try:
            candidate = (self.root / obj).resolve()
        except (OSError, ValueError) as exc:  # embedded NUL, symlink loop
            raise SourceDataError(f"source {self.name!r}: invalid file name {obj!r}") from exc
        if Path(obj).is_absolute() or not candidate.is_relative_to(self.root):
            raise SourceDataError(
                f"source {self.name!r}: {obj!r} is outside the source directory {self.root}",
                hint="name files by their path relative to the source's directory",
            )
        if not candidate.exists():
            raise SourceUnavailable(
                f"source {self.name!r}: file {candidate} does not exist",
                hint=f"files this source offers are listed by discover() under {self.root}",
            )
        if not candidate.is_file():
            raise UnknownObject(f"{self._where(candidate)}: not a regular file")
        if not os.access(candidate, os.R_OK):
            raise SourceUnavailable(f"{self._where(candidate)}: permission denied")
        return candidate

    def _format(self, path: Path, options: Mapping[str, Any]) -> Format:
        given = options.get("format")
        if given is not None:
            fmt = _FORMAT_ALIASES.get(str(given).lower().lstrip("."))
            if fmt is None:
                raise SourceDataError(
                    f"{self._where(path)}: unknown format {given!r}",
                    hint=f"options.format is one of {', '.join(sorted(_FORMAT_ALIASES))}",
                )
            return fmt
        fmt = _format_for(path)
        if fmt is None:
            raise SourceDataError(
                f"{self._where(path)}: unsupported file type {path.suffix or '(none)'!r}",
                hint=f"supported: {', '.join(FORMATS)}; or set options.format",
            )
        return fmt

    def _tempdir(self) -> Path:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="auditor-files-"))
            # Removed on close(), or when the connector is garbage-collected without one.
            self._finalizer = weakref.finalize(self, shutil.rmtree, self._tmp, True)
        return self._tmp

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            con = duckdb.connect(":memory:")
            spill = self._tempdir() / "duckdb"
            spill.mkdir(exist_ok=True)
            # Spill files go to our temp dir, not ".tmp" in whatever the working directory is
            # (possibly the data directory); and nothing is ever downloaded at run time.
            con.execute(f"SET temp_directory = {_lit(str(spill))}")
            con.execute("SET autoinstall_known_extensions = false")
            con.execute("SET autoload_known_extensions = false")
            con.execute("SET preserve_insertion_order = true")
            # Reading streams batch by batch; without a limit DuckDB may cache up to 80% of RAM.
            con.execute("SET memory_limit = '256MB'")
            self._con = con
        return self._con

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """A fresh cursor: an open Arrow reader holds its connection until drained."""
        cur = self._connection().cursor()
        self._cursors.append(cur)
        return cur

    def _fail(self, path: Path, what: str, exc: BaseException, line: int | None = None) -> NoReturn:
        where = f"{self._where(path)}, line {line}" if line else self._where(path)
        raise SourceDataError(f"{where}: {what}: {_first_lines(exc)}") from exc

    # --- sampling -------------------------------------------------------------------------

    def _apply_spec(
        self,
        relation: duckdb.DuckDBPyRelation,
        spec: SampleSpec,
        path: Path,
        known_rows: int | None,
    ) -> duckdb.DuckDBPyRelation:
        """Filter, then pick rows.

        "random" keeps the N rows with the smallest seeded hash of the whole row: reproducible
        for the same content and seed whatever the thread count, and uniform per row. DuckDB's
        ``reservoir(N ROWS) REPEATABLE`` was tried and rejected: in DuckDB 2.0.1 it only ever
        returns rows from the first ~20k of the input for small N. A plain ORDER BY hash LIMIT
        N fully sorts large inputs (1 GB for N=100k of 10M rows), so rows are first filtered
        to a hash below a threshold that ~N + 10 sigma rows pass; the N smallest all pass it,
        so the result is the same, in O(N) memory. Identical rows hash alike, so duplicates
        enter the sample together, keeping the file's duplicate share visible in the sample.
        """
        if spec.method not in ("all", "first", "random"):
            raise ValueError(f"unknown sample method {spec.method!r}")
        if spec.n is not None and spec.n < 0:
            raise ValueError(f"sample size must not be negative, got {spec.n}")
        rel = relation
        if spec.where:
            try:
                # The relation API parses the text as one expression: no statement smuggling.
                rel = rel.filter(spec.where)
            except duckdb.Error as exc:
                raise SourceDataError(
                    f"{self._where(path)}: invalid filter {spec.where!r}: {_first_lines(exc)}",
                    hint="`where` is a DuckDB SQL boolean expression over the file's columns",
                ) from exc
        if spec.n is None or spec.method == "all":
            return rel
        if spec.method == "random":
            key = f"hash(row(*COLUMNS(*)), {int(spec.seed) % (1 << 63)})"
            total = known_rows
            if spec.where or total is None:
                try:
                    total = int(rel.aggregate("count(*)").fetchall()[0][0])
                except duckdb.Error as exc:
                    self._fail(path, f"reading with filter {spec.where!r} failed", exc)
            share = (spec.n + 10 * math.sqrt(spec.n) + 100) / total if total else 1.0
            if share < 1:
                rel = rel.filter(f"{key} < {int(share * 2**64)}::UBIGINT")
            rel = rel.order(key)
        return rel.limit(spec.n)

    def _stream(
        self,
        relation: duckdb.DuckDBPyRelation,
        path: Path,
        batch_rows: int,
        spec: SampleSpec,
        expected: int | None,
    ) -> pa.RecordBatchReader:
        """A RecordBatchReader over the relation, with DuckDB errors turned into SourceErrors.

        The first batch is pulled here so errors that show at once (a filter that fails at run
        time, a corrupt parquet page) surface from ``sample()``, not from the consumer.
        """
        try:
            inner = relation.to_arrow_reader(batch_rows)
            first = next(iter(inner), None)
        except duckdb.Error as exc:
            what = f"reading with filter {spec.where!r} failed" if spec.where else "read failed"
            self._fail(path, what, exc)

        self._readers.append(inner)

        def batches() -> Iterator[pa.RecordBatch]:
            seen = 0
            try:
                for batch in itertools.chain([first] if first is not None else [], inner):
                    seen += batch.num_rows
                    yield batch
            except duckdb.Error as exc:
                self._fail(path, "read failed", exc)
            except pa.ArrowException as exc:
                if inner not in self._readers:
                    raise SourceUnavailable(
                        f"{self._where(path)}: the connector was closed while the sample was "
                        "being read"
                    ) from exc
                raise
            if expected is not None and seen != expected:
                raise SourceDataError(
                    f"{self._where(path)}: the read yielded {seen} rows but the counting pass "
                    f"found {expected}; the file may have changed while it was read"
                )

        return pa.RecordBatchReader.from_batches(inner.schema, batches())

    # --- parquet / json / excel -----------------------------------------------------------

    def _prepare_parquet(self, cur: duckdb.DuckDBPyConnection, path: Path) -> _Prepared:
        """Parquet: the row count is in the footer, so it is free; a bad footer fails here."""
        src = _sql_path(path)
        try:
            rows = cur.sql(f"SELECT sum(num_rows) FROM parquet_file_metadata({src})").fetchall()
            relation = cur.sql(f"SELECT * FROM read_parquet({src})")
        except duckdb.Error as exc:
            self._fail(path, "not a readable parquet file", exc)
        count = int(rows[0][0]) if rows and rows[0][0] is not None else None
        return _Prepared(relation, source_rows=count, readable_rows=count)

    def _prepare_json(self, cur: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> _Prepared:
        """JSON array or NDJSON via ``read_json``.

        One counting pass over every column parses the whole file, so malformed JSON or a value
        that does not fit the inferred type fails here with its line. DuckDB has no reject table
        for JSON (its ``ignore_errors`` turns bad records into all-NULL rows, which would hide
        them), so a bad record fails the file instead of becoming a RejectedRow.
        """
        _check_not_empty(path, self._where(path))
        layout = "newline_delimited" if fmt == "ndjson" else "auto"
        sql = f"SELECT * FROM read_json({_sql_path(path)}, format={_lit(layout)})"
        try:
            relation = cur.sql(sql)
            agg = "count(*), count(COLUMNS(*))" if relation.columns else "count(*)"
            count = cur.sql(f"SELECT {agg} FROM ({sql})").fetchall()[0][0]
        except duckdb.Error as exc:
            line = ndjson_error_line(path, str(exc)) if fmt == "ndjson" else None
            self._fail(path, "not readable as JSON", exc, line)
        return _Prepared(relation, source_rows=int(count), readable_rows=int(count))

    def _prepare_excel(
        self, cur: duckdb.DuckDBPyConnection, path: Path, options: Mapping[str, Any]
    ) -> _Prepared:
        """One sheet via fastexcel (calamine) into Arrow, then into DuckDB for sampling.

        A sheet is at most ~1M rows, so it is held in memory. Column types are guessed from
        the first rows; a later cell that does not fit (text in a number column, ``#DIV/0!``)
        makes its row a RejectedRow, as a CSV cast error would.
        """
        import fastexcel

        sheet_opt = options.get("sheet", 0)
        header = _bool_option(options.get("header", True), "header")
        try:
            book = fastexcel.read_excel(str(path))
        except Exception as exc:  # fastexcel raises its own (non-exported) error types
            self._fail(path, "not a readable Excel workbook", exc)
        names = list(book.sheet_names)
        if isinstance(sheet_opt, bool) or not isinstance(sheet_opt, int | str):
            raise SourceDataError(f"{self._where(path)}: options.sheet must be a name or index")
        if (isinstance(sheet_opt, int) and not 0 <= sheet_opt < len(names)) or (
            isinstance(sheet_opt, str) and sheet_opt not in names
        ):
            raise UnknownObject(
                f"{self._where(path)}: no sheet {sheet_opt!r}",
                hint=f"sheets: {', '.join(repr(n) for n in names)}",
            )
        try:
            sheet = book.load_sheet(sheet_opt, header_row=0 if header else None)
            batch, errors = sheet.to_arrow_with_errors()
        except Exception as exc:
            self._fail(path, f"cannot read sheet {sheet_opt!r}", exc)
        table = pa.Table.from_batches([batch])
        source_rows = table.num_rows
        rejected: list[RejectedRow] = []
        if errors is not None and errors.errors:
            bad: dict[int, RejectedRow] = {}
            for err in errors.errors:
                data_row = err.offset_position[0]
                col_idx = err.offset_position[1]
                col = table.column_names[col_idx] if col_idx < table.num_columns else None
                sheet_row = err.position[0] + 1
                cell = f"{_excel_column(err.position[1])}{sheet_row}"
                if data_row not in bad:
                    bad[data_row] = RejectedRow(
                        line=sheet_row, reason=f"cell {cell}: {err.detail}", column=col
                    )
            keep = pa.array([i not in bad for i in range(table.num_rows)])
            table = table.filter(keep)
            rejected = [bad[k] for k in sorted(bad)]
        table = _normalise_excel_types(table)
        _check_share(
            self._where(path), len(rejected), len(rejected) + table.num_rows, rejected, options
        )
        sheet_name = names[sheet_opt] if isinstance(sheet_opt, int) else sheet_opt
        notes = [f"sheet {sheet_name!r}"]
        return _Prepared(cur.from_arrow(table), source_rows, rejected, notes, table.num_rows)

    # --- csv ------------------------------------------------------------------------------

    def _prepare_csv(
        self, cur: duckdb.DuckDBPyConnection, path: Path, options: Mapping[str, Any]
    ) -> _Prepared:
        """Sniff, count with a reject table, convert rejects, then build the streaming read."""
        where = self._where(path)
        _check_not_empty(path, where)
        enc = encoding_for(path, options.get("encoding"), where)
        read_path = path if enc.duckdb else self._transcode(path, enc.codec)
        enc_arg = f", encoding={_lit(enc.duckdb)}" if enc.duckdb not in (None, "utf-8") else ""
        src = _sql_path(read_path)
        dialect = self._sniff(cur, path, src, enc_arg, options)
        args = _dialect_args(dialect) + enc_arg

        n = next(self._counter)
        rejects, scans = f"_auditor_rejects_{n}", f"_auditor_scans_{n}"
        count_sql = (
            f"SELECT count(*), count(COLUMNS(*)) FROM read_csv({src}, {args}, "
            f"store_rejects=true, rejects_table={_lit(rejects)}, rejects_scan={_lit(scans)}, "
            f"rejects_line_size_limit={_REJECT_LINE_CAP})"
        )
        try:
            loaded = int(cur.sql(count_sql).fetchall()[0][0])
        except duckdb.Error as exc:
            match = _CSV_LINE.search(str(exc))
            self._fail(path, "cannot be read as CSV", exc, int(match.group(1)) if match else None)
        try:
            rejected, total_rejected, lost = self._collect_rejects(
                cur, rejects, read_path, enc, dialect, options
            )
        finally:
            cur.execute(f"DROP TABLE IF EXISTS {rejects}; DROP TABLE IF EXISTS {scans}")

        notes = [
            f"encoding {enc.describe()}; delimiter {dialect.delimiter!r}, "
            f"quote {dialect.quote!r}, escape {dialect.escape!r}, "
            f"header {'yes' if dialect.header else 'no'}",
        ]
        if total_rejected > len(rejected):
            notes.append(
                f"{total_rejected} rows rejected; the first {len(rejected)} are listed "
                "(options.max_rejects_listed)"
            )
        _check_share(where, lost, loaded + lost, rejected, options)
        # The streaming read stores its rejects too (in a scratch table, one byte of each row)
        # rather than using ignore_errors: in DuckDB 2.0.1 ignore_errors alone also drops the
        # good rows after a field like `"x"y`, which store_rejects keeps.
        relation = cur.sql(
            f"SELECT * FROM read_csv({src}, {args}, store_rejects=true, "
            f"rejects_table={_lit(rejects + '_stream')}, rejects_scan={_lit(scans + '_stream')}, "
            f"rejects_line_size_limit=1)"
        )
        return _Prepared(relation, loaded + lost, rejected, notes, readable_rows=loaded,
                         rejected_total=total_rejected)

    def _sniff(
        self,
        cur: duckdb.DuckDBPyConnection,
        path: Path,
        src: str,
        enc_arg: str,
        options: Mapping[str, Any],
    ) -> _CsvDialect:
        """DuckDB's sniffer, with the user's options as fixed points.

        ``ignore_errors`` lets the sniffer settle on the dominant dialect despite a few broken
        rows (without it, one short row makes it fall back to a single column). When it finds
        no quoting we still read with ``"`` (RFC 4180): a file with no ``"`` reads the same,
        and a stray, unterminated ``"`` then becomes a RejectedRow instead of being loaded
        as data.
        """
        user: dict[str, str] = {}
        for key, arg in (
            ("delimiter", "delim"),
            ("quote", "quote"),
            ("escape", "escape"),
            ("date_format", "dateformat"),
            ("timestamp_format", "timestampformat"),
        ):
            if options.get(key) is not None:
                user[arg] = _lit(str(options[key]))
        if options.get("header") is not None:
            user["header"] = "true" if _bool_option(options["header"], "header") else "false"
        if "delim" not in user and path.suffix.lower() == ".tsv":
            user["delim"] = _lit("\t")
        if options.get("sniff_rows") is not None:  # -1: sniff types from the whole file
            rows = options["sniff_rows"]
            user["sample_size"] = "-1" if rows == -1 else str(_positive_int(rows, "sniff_rows"))
        extra = "".join(f", {k}={v}" for k, v in user.items())
        try:
            row = cur.sql(
                "SELECT Delimiter, Quote, Escape, NewLineDelimiter, Comment, SkipRows, HasHeader,"
                " Columns, DateFormat, TimestampFormat"
                f" FROM sniff_csv({src}, ignore_errors=true{enc_arg}{extra})"
            ).fetchall()[0]
        except duckdb.Error as exc:
            self._fail(path, "cannot detect a CSV dialect (not a delimited text file?)", exc)
        delim, quote, escape, newline, comment, skip, header, cols, datef, tsf = row

        def unset(v: str | None) -> str:
            return "" if v in (None, "(empty)") else str(v)

        dialect = _CsvDialect(
            delimiter=unset(delim),
            quote=unset(quote),
            escape=unset(escape),
            header=bool(header),
            newline=str(newline or "\\n"),
            skip=int(skip or 0),
            comment=unset(comment),
            columns=[(c["name"], c["type"]) for c in cols],
            date_format=options.get("date_format") or datef,
            timestamp_format=options.get("timestamp_format") or tsf,
        )
        if "quote" not in user and not dialect.quote:
            dialect.quote, dialect.escape = '"', '"'
        if options.get("escape") is not None:
            dialect.escape = str(options["escape"])
        if options.get("quote") is not None:
            dialect.quote = str(options["quote"])
        return dialect

    def _collect_rejects(
        self,
        cur: duckdb.DuckDBPyConnection,
        table: str,
        read_path: Path,
        enc: Encoding,
        dialect: _CsvDialect,
        options: Mapping[str, Any],
    ) -> tuple[list[RejectedRow], int, int]:
        """The reject table as RejectedRows (first N), the rejected row count, and the lines lost.

        DuckDB may log several errors for one row (one per missing column); they merge into one
        RejectedRow. "Lines lost" also counts the lines an unterminated quote swallowed, which
        is what the reject-share limit should weigh.
        """
        listed = _positive_int(
            options.get("max_rejects_listed", _DEFAULT_MAX_REJECTS_LISTED), "max_rejects_listed"
        )
        newline = "\r" if dialect.newline in ("\\r", "\r") else "\n"
        trimmed = "trim(csv_line, chr(13) || chr(10))"
        # Lines an open quote swallowed: the newlines inside the rejected "row".
        spill = (
            f"CASE WHEN error_type IN ('UNQUOTED VALUE', 'LINE SIZE OVER MAXIMUM') THEN "
            f"length({trimmed}) - length(replace({trimmed}, chr({ord(newline)}), '')) "
            f"ELSE 0 END"
        )
        cut = f"strlen(csv_line) >= {_REJECT_LINE_CAP - 8}"
        total, swallowed = cur.sql(
            f"SELECT count(*), coalesce(sum(spill), 0) FROM "
            f"(SELECT line, max({spill}) AS spill FROM {table} GROUP BY line)"
        ).fetchall()[0]
        total, swallowed = int(total), int(swallowed)
        if not total:
            return [], 0, 0
        rows = cur.sql(
            f"SELECT line, line_byte_position, column_name, error_type::VARCHAR, "
            f"left({trimmed}, {_RAW_CHARS}), error_message, {spill}, {cut} FROM {table} "
            f"WHERE line IN (SELECT DISTINCT line FROM {table} ORDER BY line LIMIT {listed}) "
            f"ORDER BY line, column_idx"
        ).fetchall()
        by_line: dict[int, list[tuple[Any, ...]]] = {}
        for r in rows:
            by_line.setdefault(int(r[0]), []).append(r)
        positions = sorted({int(g[0][1]) for g in by_line.values() if g[0][1] is not None})
        physical = lines_at(duckdb_view(read_path, enc), positions, newline.encode())
        result: list[RejectedRow] = []
        for record_line, group in by_line.items():
            pos = group[0][1]
            line = physical.get(int(pos)) if pos is not None else None
            reasons: dict[str, str] = {}
            for _, _, _, etype, _, msg, spilled, truncated in group:
                if etype in reasons:
                    continue
                reasons[etype] = f"{etype.lower()}: {msg}"
                if spilled:
                    least = "at least " if truncated else ""
                    reasons[etype] += (
                        f" (the open quote ran over the next {least}{spilled} lines, "
                        "which are lost with this row)"
                    )
            column = next((g[2] for g in group if g[2] is not None), None)
            result.append(
                RejectedRow(
                    line=line if line is not None else record_line,
                    reason="; ".join(reasons.values()),
                    column=column,
                    raw=group[0][4],
                )
            )
        return result, total, total + swallowed

    def _transcode(self, path: Path, codec: str) -> Path:
        """A UTF-8 copy of ``path`` in the temp dir, decoded chunk by chunk (bounded memory).

        Undecodable bytes become U+FFFD rather than stopping the read; the rows holding them
        are then visibly wrong in the profile. Copies are reused for the connector's lifetime.
        """
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns, codec)
        if key in self._transcoded:
            return self._transcoded[key]
        out = self._tempdir() / f"transcoded-{next(self._counter)}.csv"
        decoder = codecs.getincrementaldecoder(codec)(errors="replace")
        with path.open("rb") as src, out.open("wb") as dst:
            while chunk := src.read(TRANSCODE_CHUNK):
                dst.write(decoder.decode(chunk).encode("utf-8"))
            dst.write(decoder.decode(b"", final=True).encode("utf-8"))
        self._transcoded[key] = out
        return out


# --- helpers ------------------------------------------------------------------------------


def _format_for(path: Path) -> Format | None:
    return FORMATS.get(path.suffix.lower())


def _lit(value: str) -> str:
    """A SQL string literal (DuckDB strings have no backslash escapes, only doubled quotes)."""
    return "'" + value.replace("'", "''") + "'"


def _sql_path(path: Path) -> str:
    """A path as a SQL literal that DuckDB reads as exactly that file.

    DuckDB's readers treat ``*``, ``?`` and ``[`` as glob syntax (``a[1].csv`` would read
    ``a1.csv``), so each is wrapped in a one-character class, which matches only itself.
    """
    escaped = re.sub(r"([*?\[])", r"[\1]", str(path))
    return _lit(escaped)


def _first_lines(exc: BaseException, n: int = 2) -> str:
    lines = [
        ln.strip()
        for ln in str(exc).strip().splitlines()
        if ln.strip() and not ln.strip().startswith(("LINE ", "^"))
    ]
    return " ".join(lines[:n]) if lines else type(exc).__name__


def _positive_int(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number <= 0:
        raise SourceDataError(f"options.{name} must be a positive integer, got {value!r}")
    return number


def _bool_option(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise SourceDataError(f"options.{name} must be true or false, got {value!r}")


def _check_not_empty(path: Path, where: str) -> None:
    """An empty or whitespace-only file has no columns to sniff: a data error, not 0 rows."""
    with path.open("rb") as fh:
        head = fh.read(4096)
        if head.strip(b" \t\r\n\xef\xbb\xbf") or fh.read(1):
            return
    raise SourceDataError(f"{where}: the file is empty")


def _check_share(
    where: str, lost: int, total: int, rejected: list[RejectedRow], options: Mapping[str, Any]
) -> None:
    """Too many bad rows means the file was misread (wrong delimiter, encoding): refuse it."""
    try:
        limit = float(options.get("max_reject_share", _DEFAULT_MAX_REJECT_SHARE))
    except (TypeError, ValueError):
        raise SourceDataError(f"{where}: options.max_reject_share must be a number") from None
    if not total or lost / total <= limit:
        return
    first = rejected[0] if rejected else None
    at = f"; first at line {first.line}: {first.reason}" if first else ""
    raise SourceDataError(
        f"{where}: {lost} of {total} rows rejected ({lost / total:.0%}), more than "
        f"max_reject_share {limit:.0%}{at}",
        hint="check the delimiter, quote and encoding options, or raise max_reject_share",
    )


def _dialect_args(d: _CsvDialect) -> str:
    """``read_csv`` arguments that pin the dialect so every pass reads identical columns."""
    cols = ", ".join(f"{_lit(name)}: {_lit(typ)}" for name, typ in d.columns)
    args = [
        "auto_detect=false",
        f"delim={_lit(d.delimiter)}",
        f"quote={_lit(d.quote)}",
        f"escape={_lit(d.escape)}",
        f"new_line={_lit(d.newline)}",
        f"skip={d.skip}",
        f"comment={_lit(d.comment)}",
        f"header={'true' if d.header else 'false'}",
        f"columns={{{cols}}}",
    ]
    if d.date_format:
        args.append(f"dateformat={_lit(d.date_format)}")
    if d.timestamp_format:
        args.append(f"timestampformat={_lit(d.timestamp_format)}")
    return ", ".join(args)


def _excel_column(index: int) -> str:
    """0 -> "A", 27 -> "AB": cell references people can find in the workbook."""
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(ord("A") + rem) + name
    return name


def _normalise_excel_types(table: pa.Table) -> pa.Table:
    """Give Excel columns the types a CSV of the same data would get.

    Excel stores every number as a float, so float columns whose values are all whole (and
    float-exact) become int64; datetimes arrive as millisecond timestamps and become the
    microsecond TIMESTAMP DuckDB uses everywhere else (TIMESTAMP_MS would surprise checks).
    """
    for i, col in enumerate(table.columns):
        target: pa.DataType | None = None
        if pa.types.is_timestamp(col.type) and col.type.unit in ("s", "ms"):
            target = pa.timestamp("us", tz=col.type.tz)
        elif pa.types.is_floating(col.type) and col.null_count < len(col):
            values = col.drop_null()
            whole = pc.all(pc.equal(values, pc.floor(values))).as_py()
            if whole and pc.max(pc.abs(values)).as_py() < 2**53:
                target = pa.int64()
        if target is not None:
            field_ = table.field(i).with_type(target)
            table = table.set_column(i, field_, col.cast(target))
    return table
