"""Text-file plumbing of the file connector: which encoding a file is in, what DuckDB sees of
it, and where in the file a record DuckDB complains about starts.

Split from :mod:`connectors.files` because it is the part that knows about bytes (BOMs, code
pages, newline positions) rather than about DuckDB's readers.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import charset_normalizer

from auditor.errors import SourceDataError

#: Bytes read from the start, the middle and the end of a file to guess its encoding.
_PROBE_BYTES = 64 * 1024
#: Bytes per read when transcoding or replaying a file.
TRANSCODE_CHUNK = 1 << 20
#: charset-normalizer cannot tell the Latin code pages apart on short, name-heavy samples (it
#: ranks mac_latin2 or cp1250 first for plain West-European text); cp1252 is what Windows tools
#: export in those locales, so it wins when its "chaos" is within this margin of the best guess.
_CP1252_MARGIN = 0.1
_DUCKDB_NATIVE = {"utf-8": "utf-8", "ascii": "utf-8", "iso8859-1": "latin-1", "utf-16-le": "utf-16"}
_JSON_LINE = re.compile(r"\bin line (\d+)")


@dataclass(frozen=True, slots=True)
class Encoding:
    """How DuckDB gets at a text file: natively (``duckdb`` set) or through a transcoded copy."""

    codec: str
    duckdb: str | None
    detected: bool

    def describe(self) -> str:
        how = "detected" if self.detected else "given"
        via = "" if self.duckdb else ", transcoded to UTF-8 for reading"
        name = "latin-1" if self.codec == "iso8859-1" else self.codec
        return f"{name} ({how}{via})"


def encoding_for(path: Path, given: Any, where: str) -> Encoding:
    """The encoding to read ``path`` with, and whether DuckDB can decode it itself."""
    with path.open("rb") as fh:
        head = fh.read(4)
    if given is not None:
        try:
            codec = codecs.lookup(str(given)).name
        except LookupError as exc:
            raise SourceDataError(f"{where}: unknown encoding {given!r}") from exc
        detected = False
    else:
        codec = _detect_codec(path, where)
        detected = True
    if codec in ("utf-16", "utf-16-le", "utf-16-be"):
        # DuckDB's utf-16 is little-endian only (a big-endian file reads as zero rows).
        if head.startswith(codecs.BOM_UTF16_BE) or codec == "utf-16-be":
            return Encoding("utf-16-be" if codec == "utf-16-be" else "utf-16", None, detected)
        return Encoding("utf-16", "utf-16", detected)
    if codec == "utf-8-sig":
        codec = "utf-8"
    return Encoding(codec, _DUCKDB_NATIVE.get(codec), detected)


def _detect_codec(path: Path, where: str) -> str:
    """Guess a text file's encoding from its start, middle and end.

    Probing three places rather than only the head catches the common "ASCII for 10,000
    rows, then one name with an accent" file that a head-only guess calls UTF-8.
    """
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(_PROBE_BYTES)
        parts = [head]
        for offset in (size // 2, size - _PROBE_BYTES):
            if offset > len(head):
                fh.seek(offset)
                chunk = fh.read(_PROBE_BYTES)
                # Start and end on a line boundary so no multi-byte character is cut.
                start = chunk.find(b"\n") + 1
                end = chunk.rfind(b"\n") + 1
                if 0 < start < end:
                    parts.append(chunk[start:end])
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if head.startswith(bom):
            return codec
    if b"\x00" not in head:
        probe = b"\n".join(parts)
        try:
            codecs.getincrementaldecoder("utf-8")().decode(probe, final=False)
            return "utf-8"
        except UnicodeDecodeError:
            pass
    else:
        probe = head
    matches = charset_normalizer.from_bytes(probe)
    best = matches.best()
    if best is None:
        raise SourceDataError(
            f"{where}: binary content, not a text file",
            hint="set options.encoding if this is text in an unusual encoding",
        )
    codec = best.encoding
    if not codec.startswith("utf"):
        west = next((m for m in matches if "cp1252" in m.could_be_from_charset), None)
        if west is not None and west.chaos <= best.chaos + _CP1252_MARGIN:
            codec = "cp1252"
    return codecs.lookup(codec).name


def duckdb_view(path: Path, enc: Encoding) -> Iterator[bytes]:
    """The file as the UTF-8 byte stream DuckDB parses: its reject byte positions count that.

    For native UTF-16 and Latin-1 DuckDB transcodes internally (keeping a BOM as U+FEFF), so
    the positions are not file offsets; this replays the same transcoding, chunk by chunk.
    """
    codec = {"utf-16": "utf-16-le", "latin-1": "latin-1"}.get(enc.duckdb or "")
    decoder = codecs.getincrementaldecoder(codec)(errors="replace") if codec else None
    with path.open("rb") as fh:
        while chunk := fh.read(TRANSCODE_CHUNK):
            yield decoder.decode(chunk).encode("utf-8") if decoder else chunk
        if decoder:
            yield decoder.decode(b"", final=True).encode("utf-8")


def lines_at(chunks: Iterable[bytes], positions: list[int], newline: bytes) -> dict[int, int]:
    """1-based physical line for each DuckDB ``line_byte_position`` (sorted ascending).

    DuckDB's own ``line`` column counts records, so a quoted value spanning lines shifts it;
    its ``line_byte_position`` is one past the start of the row (for CRLF files the start is
    taken as the LF), so the newlines strictly before that position count the lines above.
    One streaming pass, stopping at the last position.
    """
    found: dict[int, int] = {}
    if not positions:
        return found
    pending = iter(positions)
    pos = next(pending, None)
    offset = seen = 0
    for chunk in chunks:
        end = offset + len(chunk)
        while pos is not None and pos <= end:
            found[pos] = seen + chunk[: pos - offset].count(newline) + 1
            pos = next(pending, None)
        if pos is None:
            break
        seen += chunk.count(newline)
        offset = end
    while pos is not None:  # past the end: should not happen, but keep a line for it
        found[pos] = seen + 1
        pos = next(pending, None)
    return found


def ndjson_error_line(path: Path, message: str) -> int | None:
    """The physical line of the NDJSON record a DuckDB error message points at.

    DuckDB's "in line N" counts records, not lines (blank lines are skipped), and is one
    past the record for "Malformed JSON" errors but exact for "JSON transform error"s, as
    DuckDB 2.0.1 words them; so count non-blank lines to the record (one streaming pass).
    """
    match = _JSON_LINE.search(message)
    if match is None:
        return None
    record = int(match.group(1)) - (1 if "Malformed JSON" in message else 0)
    if record < 1:
        return None
    seen = 0
    with path.open("rb") as fh:
        for number, text in enumerate(fh, start=1):
            if text.strip():
                seen += 1
                if seen == record:
                    return number
    return None
