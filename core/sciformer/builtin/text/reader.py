"""Readers of the `text` domain: one record per line of a .txt file, or rows of a CSV / TSV table."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterator, Mapping

from sciformer.errors import InputFileError
from sciformer.records import Record


def read_lines(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """Each non-blank line is a record whose id is its line number (from 1)."""
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield Record(id=str(number), data=line.strip())


def read_table(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """Rows of a CSV (or TSV) file: `data_column` (default `text`), optional `target_column`, `id_column`."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    data_column = options.get("data_column", "text")
    target_column = options.get("target_column")
    id_column = options.get("id_column")
    with open(path, encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter=delimiter)
        missing = [c for c in (data_column, target_column, id_column) if c and c not in (rows.fieldnames or [])]
        if missing:
            raise InputFileError(f"{path}: column(s) {missing} not found (columns: {rows.fieldnames})")
        for number, row in enumerate(rows, start=1):
            record_id = row[id_column] if id_column else str(number)
            target = row[target_column] if target_column else None
            yield Record(id=record_id, data=row[data_column], target=target)
