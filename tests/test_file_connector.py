"""The file connector on real files: dialects, encodings, rejects, sampling, formats, errors.

Every file is written into ``tmp_path`` by the test that reads it, so each test states the
exact bytes it expects the connector to make sense of.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from pydantic import ValidationError

from auditor.connector import Connector
from auditor.errors import SourceDataError, SourceUnavailable, UnknownObject
from auditor.models import Sample, SampleSpec
from connectors.files import FileConnector, FileSourceConfig


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def conn(data_dir: Path) -> Iterator[FileConnector]:
    c = FileConnector("files", FileSourceConfig(kind="file", path="data"), data_dir.parent)
    yield c
    c.close()


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def read(
    conn: FileConnector, obj: str, spec: SampleSpec | None = None, **options: Any
) -> tuple[Sample, pa.Table]:
    sample = conn.sample(obj, spec or SampleSpec(), options)
    return sample, sample.reader.read_all()


def types(sample: Sample) -> dict[str, str]:
    return {c.name: c.type for c in sample.metadata.columns}


# --- config and contract --------------------------------------------------------------------


def test_config_model_is_strict_and_documented() -> None:
    cfg = FileSourceConfig(kind="file", path="exports")
    with pytest.raises(ValidationError):
        FileSourceConfig(kind="file", path="x", delimiter=";")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        FileSourceConfig(kind="database", path="x")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        cfg.path = "elsewhere"  # type: ignore[misc]
    assert all(f.description for f in FileSourceConfig.model_fields.values())


def test_satisfies_connector_protocol(conn: FileConnector) -> None:
    assert isinstance(conn, Connector)
    assert FileConnector.kind == "file"
    assert FileConnector.config_model is FileSourceConfig


def test_discover_lists_supported_files_sorted(conn: FileConnector, data_dir: Path) -> None:
    for name in ("b.csv", "a.parquet", "sub/c.jsonl", "sub/d.xlsx", "notes.md", ".hidden.csv"):
        write(data_dir / name, "x\n1\n")
    write(data_dir / ".git" / "e.csv", "x\n")
    write(data_dir / "~$d.xlsx", "lock")
    assert conn.discover() == ["a.parquet", "b.csv", "sub/c.jsonl", "sub/d.xlsx"]


def test_discover_missing_directory(tmp_path: Path) -> None:
    c = FileConnector("gone", FileSourceConfig(kind="file", path="nope"), tmp_path)
    with pytest.raises(SourceUnavailable, match="nope"):
        c.discover()


# --- CSV dialects ---------------------------------------------------------------------------


def test_semicolon_delimiter_and_header_are_sniffed(conn: FileConnector, data_dir: Path) -> None:
    write(data_dir / "s.csv", "id;city;amount\n1;Berlin;10.5\n2;Paris, FR;20\n3;Rome;7.25\n")
    sample, table = read(conn, "s.csv")
    assert table.column_names == ["id", "city", "amount"]
    assert types(sample) == {"id": "BIGINT", "city": "VARCHAR", "amount": "DOUBLE"}
    assert table.column("city").to_pylist() == ["Berlin", "Paris, FR", "Rome"]
    assert sample.source_rows == 3
    assert sample.rejected == []
    assert "delimiter ';'" in sample.notes[0]


def test_tab_delimiter_without_header(conn: FileConnector, data_dir: Path) -> None:
    write(data_dir / "t.txt", "1\t2024-01-05\talpha\n2\t2024-02-06\tbeta\n3\t2024-03-07\tgamma\n")
    sample, table = read(conn, "t.txt")
    assert table.num_rows == 3  # the first row is data, not a header
    assert types(sample) == {"column0": "BIGINT", "column1": "DATE", "column2": "VARCHAR"}
    assert table.column("column2").to_pylist() == ["alpha", "beta", "gamma"]


def test_dialect_options_override_the_sniffer(conn: FileConnector, data_dir: Path) -> None:
    write(data_dir / "o.csv", "a|b\n1|x\n2|y\n")
    sample, table = read(conn, "o.csv", delimiter="|", header=False)
    assert table.num_rows == 3
    assert table.column("column1").to_pylist() == ["b", "x", "y"]
    write(data_dir / "d.csv", "day,n\n03/01/2024,1\n04/02/2024,2\n")
    _, table = read(conn, "d.csv", date_format="%m/%d/%Y")
    assert table.column("day").to_pylist() == [dt.date(2024, 3, 1), dt.date(2024, 4, 2)]


def test_format_option_for_unknown_extension(conn: FileConnector, data_dir: Path) -> None:
    write(data_dir / "export.dat", "a,b\n1,2\n")
    with pytest.raises(SourceDataError, match="unsupported file type"):
        read(conn, "export.dat")
    _, table = read(conn, "export.dat", format="csv")
    assert table.to_pylist() == [{"a": 1, "b": 2}]


# --- CSV encodings ---------------------------------------------------------------------------

NAMES = ["Zoë", "François", "Müller", "Søren", "Ærøskøbing", "Gärtner", "Renée"]


def names_csv() -> str:
    rows = ["id;name;city"] + [f"{i};{n};Köln" for i, n in enumerate(NAMES)]
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("given", [None, "latin-1"])
def test_latin1(conn: FileConnector, data_dir: Path, given: str | None) -> None:
    write(data_dir / "l.csv", names_csv(), "latin-1")
    options = {"encoding": given} if given else {}
    sample, table = read(conn, "l.csv", **options)
    assert table.column("name").to_pylist() == NAMES
    assert set(table.column("city").to_pylist()) == {"Köln"}


def test_utf16_with_bom(conn: FileConnector, data_dir: Path) -> None:
    write(data_dir / "u.csv", names_csv(), "utf-16")
    sample, table = read(conn, "u.csv")
    assert table.column("name").to_pylist() == NAMES
    assert "utf-16" in sample.notes[0]


def test_utf16_big_endian_is_transcoded(conn: FileConnector, data_dir: Path) -> None:
    # DuckDB's own utf-16 is little-endian only: a BE file would read as zero rows.
    path = data_dir / "be.csv"
    path.write_bytes(b"\xfe\xff" + names_csv().encode("utf-16-be"))
    _, table = read(conn, "be.csv")
    assert table.column("name").to_pylist() == NAMES


def test_cp1252_euro_sign_is_transcoded_in_a_temp_dir(conn: FileConnector, data_dir: Path) -> None:
    rows = ["id;name;price"] + [f"{i};{n};{i + 1},50 €" for i, n in enumerate(NAMES)]
    write(data_dir / "w.csv", "\n".join(rows) + "\n", "cp1252")
    before = sorted(os.listdir(data_dir))
    sample, table = read(conn, "w.csv")
    assert table.column("name").to_pylist() == NAMES
    assert table.column("price").to_pylist()[0] == "1,50 €"
    assert "cp1252" in sample.notes[0] and "transcoded" in sample.notes[0]
    assert sorted(os.listdir(data_dir)) == before  # nothing written next to the source
    tmp = conn._tmp
    assert tmp is not None and any(tmp.iterdir())
    conn.close()
    assert not tmp.exists()


def test_late_non_ascii_is_found_by_the_encoding_probe(conn: FileConnector, data_dir: Path) -> None:
    rows = ["id,name"] + [f"{i},plain{i}" for i in range(20_000)] + ["20000,Gärtner €"]
    write(data_dir / "late.csv", "\n".join(rows) + "\n", "cp1252")
    sample, table = read(conn, "late.csv", SampleSpec(where="id = 20000"))
    assert table.column("name").to_pylist() == ["Gärtner €"]
    assert sample.rejected == []


# --- CSV rejected rows -----------------------------------------------------------------------


def test_bad_rows_are_rejected_with_physical_line_numbers(
    conn: FileConnector, data_dir: Path
) -> None:
    lines = ["id,name,amount"]  # line 1
    lines.append('1,"two\nline",10')  # lines 2-3: a legal quoted newline
    lines += [f"{i},n{i},{i}" for i in range(2, 25_000)]  # lines 4..25001
    lines.append("25000,late,not-a-number")  # line 25002: beyond the type sniffer's sample
    lines.append("25001,short")  # line 25003: too few columns
    lines.append("25002,long,1,extra")  # line 25004: too many columns
    lines.append("25003,ok,3")  # line 25005
    lines.append('25004,"open,4')  # line 25006: unterminated quote, swallows the next line
    lines.append("25005,ok,5")  # line 25007
    write(data_dir / "bad.csv", "\n".join(lines) + "\n")

    sample, table = read(conn, "bad.csv")
    got = {r.line: r for r in sample.rejected}
    assert sorted(got) == [25002, 25003, 25004, 25006]
    assert got[25002].column == "amount" and got[25002].reason.startswith("cast")
    assert got[25002].raw == "25000,late,not-a-number"
    assert got[25003].reason.startswith("missing columns")
    assert got[25004].reason.startswith("too many columns")
    assert got[25006].reason.startswith("unquoted value") and "1 lines" in got[25006].reason
    assert got[25006].raw == '25004,"open,4\n25005,ok,5'

    ids = table.column("id").to_pylist()
    assert len(ids) == 25_000  # 1..24999 and 25003: every good row before the open quote
    assert ids[:2] == [1, 2] and ids[-1] == 25003
    assert table.column("name").to_pylist()[0] == "two\nline"
    assert types(sample)["amount"] == "BIGINT"
    assert sample.source_rows == 25_000 + 5  # good rows + 4 rejected + 1 swallowed line


def test_crlf_and_utf16_line_numbers(conn: FileConnector, data_dir: Path) -> None:
    text = 'id;name;note\r\n1;Zoë;"a\r\nb"\r\n2;Ærø;x\r\n3;Søren\r\n4;Jürgen;ok\r\n'
    write(data_dir / "c.csv", text, "utf-16")
    sample, table = read(conn, "c.csv")
    assert [(r.line, r.raw) for r in sample.rejected] == [(5, "3;Søren")]
    assert table.column("name").to_pylist() == ["Zoë", "Ærø", "Jürgen"]


def test_stray_quote_becomes_a_rejected_row(conn: FileConnector, data_dir: Path) -> None:
    # With no well-formed quoted field to learn from, DuckDB's sniffer picks "no quoting" and
    # would load `"x` as data; the connector reads RFC 4180 quoting and rejects the row.
    write(data_dir / "q.tsv", 'a\tb\tc\n1\t2\t3\n4\t"x"y\t6\n7\t8\t9\n10\t11\t12\n')
    sample, table = read(conn, "q.tsv")
    assert [r.line for r in sample.rejected] == [3]
    assert table.column("a").to_pylist() == [1, 7, 10]


def test_too_many_rejects_fail_the_file(conn: FileConnector, data_dir: Path) -> None:
    write(data_dir / "m.csv", "a,b,c\n1,2,3\n4\n5\n6,7\n8,9,10\n")
    with pytest.raises(SourceDataError) as info:
        read(conn, "m.csv")
    message = str(info.value)
    assert "m.csv" in message and "3 of 5 rows rejected" in message and "line 3" in message
    sample, table = read(conn, "m.csv", max_reject_share=0.8)
    assert table.num_rows == 2 and [r.line for r in sample.rejected] == [3, 4, 5]


def test_reject_list_is_capped_with_a_note(conn: FileConnector, data_dir: Path) -> None:
    rows = ["a,b"] + [f"{i},{i}" if i % 10 else f"{i}" for i in range(1, 201)]
    write(data_dir / "many.csv", "\n".join(rows) + "\n")
    sample, _ = read(conn, "many.csv", max_rejects_listed=5)
    assert [r.line for r in sample.rejected] == [11, 21, 31, 41, 51]
    assert any("20 rows rejected" in n for n in sample.notes)


@pytest.mark.parametrize(
    ("content", "match"),
    [(b"", "empty"), (b"\n\n", "empty"), (bytes(range(256)) * 40, "binary|dialect")],
)
def test_unreadable_csv(conn: FileConnector, data_dir: Path, content: bytes, match: str) -> None:
    (data_dir / "x.csv").write_bytes(content)
    with pytest.raises(SourceDataError, match=match) as info:
        read(conn, "x.csv")
    assert str(data_dir / "x.csv") in str(info.value)


def test_header_only_csv_is_an_empty_dataset(conn: FileConnector, data_dir: Path) -> None:
    write(data_dir / "h.csv", "a,b\n")
    sample, table = read(conn, "h.csv")
    assert table.num_rows == 0 and table.column_names == ["a", "b"]
    assert sample.source_rows == 0


# --- sampling ---------------------------------------------------------------------------------


@pytest.fixture
def numbers(data_dir: Path) -> str:
    rows = ["id,grp,val"] + [f"{i},{'ab'[i % 2]},{i * 3}" for i in range(1, 5001)]
    write(data_dir / "n.csv", "\n".join(rows) + "\n")
    return "n.csv"


def test_all_and_first(conn: FileConnector, numbers: str) -> None:
    sample, table = read(conn, numbers)
    assert table.num_rows == 5000 and sample.source_rows == 5000
    sample, table = read(conn, numbers, SampleSpec(method="first", n=7))
    assert table.column("id").to_pylist() == [1, 2, 3, 4, 5, 6, 7]
    assert sample.source_rows == 5000


def test_random_is_reproducible_per_seed(conn: FileConnector, numbers: str) -> None:
    def ids(seed: int) -> list[int]:
        _, t = read(conn, numbers, SampleSpec(method="random", n=20, seed=seed))
        return t.column("id").to_pylist()

    first = ids(42)
    assert len(first) == len(set(first)) == 20
    assert ids(42) == first
    with FileConnector("again", conn.config, conn.root.parent) as fresh:
        again = fresh.sample(numbers, SampleSpec(method="random", n=20, seed=42), {})
        assert again.reader.read_all().column("id").to_pylist() == first
    assert set(ids(7)) != set(first)
    assert max(first) > 1000  # spread over the file, not clustered at its start
    _, everything = read(conn, numbers, SampleSpec(method="random", n=10_000))
    assert everything.num_rows == 5000


def test_where_applies_before_sampling(conn: FileConnector, numbers: str) -> None:
    _, t = read(conn, numbers, SampleSpec(method="first", n=3, where="grp = 'b' AND val > 30"))
    assert t.column("id").to_pylist() == [11, 13, 15]
    _, t = read(conn, numbers, SampleSpec(method="random", n=50, seed=1, where="grp = 'a'"))
    assert t.num_rows == 50 and set(t.column("grp").to_pylist()) == {"a"}


@pytest.mark.parametrize(
    "where",
    ["no_such_column > 1", "val >", "true; DROP TABLE x", "val::DATE > DATE '2020-01-01'"],
)
def test_bad_filter_names_file_and_filter(
    conn: FileConnector, numbers: str, data_dir: Path, where: str
) -> None:
    with pytest.raises(SourceDataError) as info:
        read(conn, numbers, SampleSpec(where=where))
    assert str(data_dir / numbers) in str(info.value)
    assert repr(where) in str(info.value)


# --- other formats ----------------------------------------------------------------------------


def test_parquet_with_types(conn: FileConnector, data_dir: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "name": ["a", "b", None],
            "at": pa.array([dt.datetime(2024, 1, i) for i in (1, 2, 3)], pa.timestamp("us")),
            "day": pa.array([dt.date(2024, 1, i) for i in (1, 2, 3)], pa.date32()),
            "amount": pa.array([1.5, 2.5, 3.5]),
        }
    )
    import pyarrow.parquet as pq

    pq.write_table(table, data_dir / "p.parquet")
    sample, got = read(conn, "p.parquet")
    assert types(sample) == {
        "id": "BIGINT",
        "name": "VARCHAR",
        "at": "TIMESTAMP",
        "day": "DATE",
        "amount": "DOUBLE",
    }
    assert got.to_pylist() == table.to_pylist()
    assert sample.source_rows == 3
    assert sample.metadata.location == str(data_dir / "p.parquet")


def test_json_array_and_ndjson(conn: FileConnector, data_dir: Path) -> None:
    records = [
        {"id": 1, "name": "Zoë", "at": "2024-01-01T10:00:00", "tags": ["x"]},
        {"id": 2, "name": "Bob", "at": "2024-01-02T11:30:00", "tags": []},
    ]
    write(data_dir / "a.json", json.dumps(records))
    write(data_dir / "n.ndjson", "\n".join(json.dumps(r) for r in records) + "\n")
    write(data_dir / "l.jsonl", "\n".join(json.dumps(r) for r in records) + "\n")
    for obj in ("a.json", "n.ndjson", "l.jsonl"):
        sample, table = read(conn, obj)
        assert types(sample) == {
            "id": "BIGINT",
            "name": "VARCHAR",
            "at": "TIMESTAMP",
            "tags": "VARCHAR[]",
        }, obj
        assert table.column("name").to_pylist() == ["Zoë", "Bob"]
        assert sample.source_rows == 2


def test_bad_ndjson_names_the_physical_line(conn: FileConnector, data_dir: Path) -> None:
    write(data_dir / "b.jsonl", '{"a": 1}\n\n{"a": 2}\n{"a" 3}\n{"a": 4}\n')
    with pytest.raises(SourceDataError, match=r"b\.jsonl, line 4: not readable as JSON"):
        read(conn, "b.jsonl")
    # A value that does not fit the type inferred from the first records, found by the
    # counting pass in sample() rather than half-way through the stream.
    rows = [json.dumps({"a": i}) for i in range(25_000)] + ["", json.dumps({"a": "text"})]
    write(data_dir / "late.jsonl", "\n".join(rows) + "\n")
    with pytest.raises(SourceDataError, match=r"late\.jsonl, line 25002: not readable"):
        read(conn, "late.jsonl")


def make_xlsx(path: Path) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    other = wb.add_worksheet("summary")
    other.write_row(0, 0, ["total"])
    other.write_row(1, 0, [42])
    ws = wb.add_worksheet("customers")
    ws.write_row(0, 0, ["id", "name", "joined", "balance", "active"])
    for i in range(1, 1201):
        ws.write_row(i, 0, [i, f"Kunde {i} Ø", None, i * 1.25, i % 2 == 0])
        ws.write_datetime(i, 2, dt.datetime(2024, 1, 1) + dt.timedelta(days=i), date)
    ws.write_row(1201, 0, [1201, "bad balance", None, "n/a", True])  # sheet row 1202
    ws.write_datetime(1201, 2, dt.datetime(2024, 6, 1), date)
    wb.close()


def test_xlsx_with_types_sheets_and_bad_cells(conn: FileConnector, data_dir: Path) -> None:
    make_xlsx(data_dir / "book.xlsx")
    sample, table = read(conn, "book.xlsx", sheet="customers")
    assert types(sample) == {
        "id": "BIGINT",
        "name": "VARCHAR",
        "joined": "TIMESTAMP",
        "balance": "DOUBLE",
        "active": "BOOLEAN",
    }
    assert table.num_rows == 1200 and sample.source_rows == 1201
    assert table.slice(0, 1).to_pylist() == [
        {
            "id": 1,
            "name": "Kunde 1 Ø",
            "joined": dt.datetime(2024, 1, 2),
            "balance": 1.25,
            "active": False,
        }
    ]
    [bad] = sample.rejected
    assert bad.line == 1202 and bad.column == "balance" and "D1202" in bad.reason

    _, first_sheet = read(conn, "book.xlsx")
    assert first_sheet.to_pylist() == [{"total": 42}]
    _, by_index = read(conn, "book.xlsx", SampleSpec(method="first", n=2), sheet=1)
    assert by_index.column("id").to_pylist() == [1, 2]
    with pytest.raises(UnknownObject, match="nope"):
        read(conn, "book.xlsx", sheet="nope")


# --- errors and safety -------------------------------------------------------------------------


def test_missing_file_names_path_and_source(conn: FileConnector, data_dir: Path) -> None:
    with pytest.raises(SourceUnavailable) as info:
        read(conn, "sub/missing.csv")
    assert str(data_dir / "sub" / "missing.csv") in str(info.value)
    assert "'files'" in str(info.value)


def test_corrupt_parquet(conn: FileConnector, data_dir: Path) -> None:
    (data_dir / "c.parquet").write_bytes(b"PAR1" + os.urandom(2000))
    with pytest.raises(SourceDataError, match=r"c\.parquet"):
        read(conn, "c.parquet")


@pytest.mark.parametrize("obj", ["../secret.csv", "../../etc/passwd", "/etc/passwd", "link.csv"])
def test_paths_outside_the_directory_are_refused(
    conn: FileConnector, data_dir: Path, obj: str
) -> None:
    write(data_dir.parent / "secret.csv", "a\n1\n")
    (data_dir / "link.csv").symlink_to(data_dir.parent / "secret.csv")
    with pytest.raises(SourceDataError, match="outside the source directory") as info:
        read(conn, obj)
    assert obj in str(info.value)
    assert "link.csv" not in conn.discover()


@pytest.mark.parametrize("name", ["it's.csv", "a[1].csv", "b*.csv", "c?.csv", 'd"q".csv'])
def test_awkward_file_names_read_exactly_that_file(
    conn: FileConnector, data_dir: Path, name: str
) -> None:
    # DuckDB treats * ? [ as globs: "a[1].csv" must not read "a1.csv".
    for decoy in ("a1.csv", "bx.csv", "cx.csv"):
        write(data_dir / decoy, "v\ndecoy\n")
    write(data_dir / name, "v\nright\n")
    _, table = read(conn, name)
    assert table.column("v").to_pylist() == ["right"]


# --- streaming ------------------------------------------------------------------------------------


def test_large_parquet_streams_in_batches(conn: FileConnector, data_dir: Path) -> None:
    path = data_dir / "big.parquet"
    with duckdb.connect() as con:
        con.execute(
            "COPY (SELECT range AS id, range % 97 AS k, 'row ' || range AS s FROM range(2000000)) "
            f"TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 100000)"
        )
    sample = conn.sample("big.parquet", SampleSpec(), {"batch_rows": 65_536})
    assert sample.source_rows == 2_000_000
    assert isinstance(sample.reader, pa.RecordBatchReader)
    sizes = [batch.num_rows for batch in sample.reader]
    assert len(sizes) >= 10 and max(sizes) <= 2 * 65_536
    assert sum(sizes) == 2_000_000

    sample = conn.sample("big.parquet", SampleSpec(method="random", n=1000, seed=3), {})
    assert sample.reader.read_all().num_rows == 1000


def test_open_samples_do_not_block_each_other(conn: FileConnector, numbers: str) -> None:
    one = conn.sample(numbers, SampleSpec(), {"batch_rows": 100})
    two = conn.sample(numbers, SampleSpec(method="first", n=5), {})
    assert two.reader.read_all().num_rows == 5
    assert one.reader.read_all().num_rows == 5000


def test_close_stops_open_readers_and_can_reopen(conn: FileConnector, numbers: str) -> None:
    sample = conn.sample(numbers, SampleSpec(), {"batch_rows": 100})
    batches = iter(sample.reader)
    assert next(batches).num_rows > 0
    conn.close()
    with pytest.raises(SourceUnavailable, match="closed"):
        for _ in batches:
            pass
    _, table = read(conn, numbers, SampleSpec(method="first", n=2))  # opens a new connection
    assert table.num_rows == 2
