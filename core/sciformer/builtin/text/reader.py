"""Readers of the `text` domain: one record per line of a .txt file, or rows of a CSV / TSV table."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sciformer.reading import not_utf8, open_text, table_rows
from sciformer.records import Record


def read_lines(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """Each non-blank line is a record whose id is its line number (from 1); a line that is not UTF-8 is a bad record."""
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield Record(id=str(number), data=line.strip(), error=not_utf8(line, f"line {number:,}"))


def read_table(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """Rows of a CSV / TSV file: `data_column` (default `text`), optional `target_column`, `id_column` (default `id` when present)."""
    for record, _ in table_rows(path, options, default_data_column="text"):
        yield record
