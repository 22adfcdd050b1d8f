"""Readers any plugin can hand its `RecordReader`: plain lines, CSV / TSV tables and streamed FASTA.

Each yields records lazily; a record it cannot read (bytes that are not UTF-8, a short table row) is
yielded with `error` set and the others go on.
- lines (`read_lines`): one record per non-blank line, stripped; the id is the line number (from 1).
- tables (`table_reader(default)`): `data_column` (default `default`), `target_column`, `id_column`
  (default `id` when the table has it, else the row number); options as `reader_options.table_options`
  describes them, rules as `reading.table_rows` applies them.
- FASTA (`read_fasta`): the record id is the header's first word; a header seen before keeps the records
  apart by their index in the file (the later one is `ID#INDEX`, INDEX counting records from 1). A file
  whose first non-blank line is not a `>` header stops the read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from sciformer.errors import InputFileError
from sciformer.reading import not_utf8, open_text, readable, table_rows
from sciformer.records import Record

SEQUENCE_SPACE = str.maketrans("", "", " \t\r\n")  # removed from FASTA sequence lines, as Biopython does

ReadFunction = Callable[[Path, Mapping[str, Any]], Iterator[Record]]


def read_lines(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """Each non-blank line is a record whose id is its line number (from 1); a line that is not UTF-8 is a bad record."""
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield Record(id=str(number), data=line.strip(), error=not_utf8(line, f"line {number:,}"))


def read_table(path: Path, options: Mapping[str, Any], data_column: str = "text") -> Iterator[Record]:
    """Rows of a CSV / TSV file: `data_column` option (default `data_column`), optional `target_column`, `id_column`."""
    for record, _ in table_rows(path, options, default_data_column=data_column):
        yield record


def table_reader(data_column: str) -> ReadFunction:
    """`read_table` whose data column defaults to `data_column` (picklable, for `RecordReader.read`)."""
    return partial(read_table, data_column=data_column)


def read_fasta(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """FASTA records, streamed; duplicate headers are kept apart by their index in the file."""
    seen: set[str] = set()
    with open_text(path) as handle:
        for index, (header, sequence, problem) in enumerate(fasta_entries(handle, path), start=1):
            words = header.split(maxsplit=1)
            record_id = readable(words[0]) if words else str(index)
            if record_id in seen:
                record_id = f"{record_id}#{index}"
            seen.add(record_id)
            yield Record(id=record_id, data=sequence, error=problem)


def fasta_entries(lines: Iterable[str], path: Path) -> Iterator[tuple[str, str, str | None]]:
    """(header without '>', sequence, why the entry is not UTF-8 or None) for each entry of `lines`."""
    header: str | None = None
    parts: list[str] = []
    problem: str | None = None
    for number, line in enumerate(lines, start=1):
        if line.startswith(">"):
            if header is not None:
                yield header, "".join(parts), problem
            header, parts, problem = line[1:].strip(), [], not_utf8(line, f"line {number:,}")
        elif header is not None:
            parts.append(line.translate(SEQUENCE_SPACE))
            problem = problem or not_utf8(line, f"line {number:,}")
        elif line.strip():
            raise InputFileError(f"{path}: not a FASTA file: line {number:,} does not start with '>'")
    if header is not None:
        yield header, "".join(parts), problem
