"""Reading records of a domain from a path, through the reader a plugin registered for its format."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterator, Mapping

from sciformer.errors import InputFileError
from sciformer.plugins import PluginHost
from sciformer.records import Record


def read_records(host: PluginHost, domain: str, path: str | Path, options: Mapping[str, Any] | None = None) -> Iterator[Record]:
    """Stream the records of `path` (file or folder) with the domain's reader for its suffix."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"input not found: {path}")
    reader = host.reader_for(domain, path)
    try:
        yield from reader.read(path, dict(options or {}))
    except (OSError, UnicodeDecodeError) as error:
        raise InputFileError(f"{path}: cannot be read as {reader.name} ({error})") from error


def table_rows(path: Path, options: Mapping[str, Any], default_data_column: str, extra_columns: tuple[str, ...] = ()) -> Iterator[tuple[Record, dict[str, str]]]:
    """Rows of a CSV (or, by suffix, TSV) table as records, each with its raw row.

    Options: `data_column` (default `default_data_column`), `target_column`, `id_column` (default:
    the row number from 1). A row whose target cell is blank becomes a record with `error` set. A
    missing column stops the read before any record, naming the columns there are.
    """
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    data_column = options.get("data_column") or default_data_column
    target_column = options.get("target_column")
    id_column = options.get("id_column")
    with open(path, encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter=delimiter)
        columns = rows.fieldnames or []
        missing = [c for c in (data_column, target_column, id_column, *extra_columns) if c and c not in columns]
        if missing:
            raise InputFileError(f"{path}: column(s) {missing} not found (columns: {columns})")
        for number, row in enumerate(rows, start=1):
            record_id = row[id_column] if id_column else str(number)
            target = row[target_column] if target_column else None
            error = f"empty {target_column!r} value" if target is not None and not target.strip() else None
            yield Record(id=record_id, data=row[data_column] or "", target=None if error else target, error=error), row
