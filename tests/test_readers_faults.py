"""A fault in one record of a text file or CSV table is that record's error; the others are read."""

from __future__ import annotations

from pathlib import Path

import pytest
from sciformer.errors import InputFileError
from sciformer.reading import read_records
from sciformer.records import Record
from sciformer.scoring.encoding import encode_chunk

COUNT = 3000
BAD = 2501  # the record (line or row number, from 1) holding the fault


def test_a_byte_that_is_not_utf8_spoils_only_its_line(host, tmp_path: Path) -> None:
    lines = [b"the man ordered beef\n"] * COUNT
    lines[BAD - 1] = b"the caf\xe9 ordered beef\n"  # latin-1 e-acute
    path = tmp_path / "lines.txt"
    path.write_bytes(b"".join(lines))
    records = list(read_records(host, "text", path))
    assert len(records) == COUNT
    assert [r.id for r in records if r.error] == [str(BAD)]
    assert records[BAD - 1].error == f"not UTF-8 text: byte 0xE9 at character 8 of line {BAD:,}"


def test_table_rows_mark_bad_rows_and_read_the_others(host, tmp_path: Path) -> None:
    rows = [b"id,text,label,note\n"] + [f"r{n},the man ordered beef,1,ok\n".encode() for n in range(1, COUNT + 1)]
    rows[BAD] = b"r2501,the caf\xe9,1,ok\n"
    rows[1000] = b"r1000,the man\n"  # short: no label cell
    rows[1500] = b"r1500,the man,ordered beef,1,ok\n"  # an unquoted comma: one cell too many
    rows[2000] = b"r2000,the man,1,caf\xe9\n"  # the bad byte lies in a column nobody reads
    path = tmp_path / "table.csv"
    path.write_bytes(b"\xef\xbb\xbf" + b"".join(rows))  # a byte-order mark before the header is skipped
    records = list(read_records(host, "text", path, {"id_column": "id", "target_column": "label"}))
    assert len(records) == COUNT
    errors = {r.id: r.error for r in records if r.error}
    assert errors == {
        "r1000": "row has 2 of the header's 4 cells (no 'label' cell)",
        "r1500": "row has 1 non-empty cell(s) beyond the header's 4 columns",
        "r2501": "not UTF-8 text: byte 0xE9 at character 8 of column 'text'",
    }
    assert records[1999].data == "the man" and records[1999].target == "1"


def test_file_level_faults_stop_before_any_record(host, tmp_path: Path) -> None:
    header = tmp_path / "header.csv"
    header.write_bytes(b"id,t\xe9xt\nr1,the man\n")
    with pytest.raises(InputFileError, match=r"header.csv: not UTF-8 text: byte 0xE9 at character 5 of the header"):
        list(read_records(host, "text", header))
    unclosed = tmp_path / "unclosed.csv"
    unclosed.write_text("text\nthe man\n\"the woman\n" + "beef\n" * 30_000)  # the quote swallows the rest
    with pytest.raises(InputFileError, match=r"unclosed.csv: line \d+: field larger than field limit") as caught:
        list(read_records(host, "text", unclosed))
    assert "\n" not in str(caught.value)


def test_a_warning_is_reported_beside_a_scored_record(host, text_config) -> None:
    tokenizer = host.tokenizer(text_config)
    records = [
        Record("ok", "the man ordered beef"),
        Record("cut", "the man", warning="truncated input: 2 of 4 words"),
        Record("bad", "the man", error="unreadable"),
    ]
    chunk = encode_chunk(tokenizer, records)
    assert chunk.status.tolist() == [0, 0, 1]
    assert chunk.errors.tolist() == ["", "truncated input: 2 of 4 words", "unreadable"]
    assert sorted(chunk.encoded) == [0, 1]
