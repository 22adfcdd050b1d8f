"""Reading records of a domain from a path, through the reader a plugin registered for its format.

Text is read with `open_text`: a byte that is not UTF-8 spoils only the record that holds it, which
the reader yields with `error` set (`not_utf8` names the byte), and the other records go on.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Container, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO, TypeVar

from sciformer.errors import InputFileError
from sciformer.plugins import PluginHost
from sciformer.reader_options import DEFAULT_ID_COLUMN, MODEL_COLUMNS
from sciformer.records import Record

UNDECODED = re.compile("[\udc80-\udcff]")  # bytes that are not UTF-8, as errors="surrogateescape" keeps them
SHOWN_COLUMNS = 8  # columns listed when one is missing

T = TypeVar("T")


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


def open_text(path: Path, newline: str | None = None) -> TextIO:
    """A UTF-8 text file (a leading byte-order mark skipped) whose bytes that are not UTF-8 are kept as
    surrogate characters, for `not_utf8` to find in the record that holds them."""
    return open(path, encoding="utf-8-sig", errors="surrogateescape", newline=newline)


def not_utf8(text: str, where: str) -> str | None:
    """Why `text` read by `open_text` is not UTF-8 (its first bad byte, `where` it lies), or None."""
    match = UNDECODED.search(text)
    if match is None:
        return None
    return f"not UTF-8 text: byte 0x{ord(match.group()) - 0xDC00:02X} at character {match.start() + 1} of {where}"


def readable(text: str) -> str:
    """`text` read by `open_text` with each byte that is not UTF-8 shown as U+FFFD (for record ids)."""
    return UNDECODED.sub("\ufffd", text)


def dataset_rows(dataset: Any, start: int, stop: int) -> list[Any]:
    """Rows `start:stop` of an HDF5 dataset; a row that cannot be read (its compressed chunk is
    damaged) comes back as its OSError, so only the records of that chunk are bad."""
    try:
        return list(dataset[start:stop])
    except OSError:
        return [_dataset_row(dataset, index) for index in range(start, stop)]


def _dataset_row(dataset: Any, index: int) -> Any:
    try:
        return dataset[index]
    except OSError as error:
        return error


class CsvTable:
    """Rows of an open CSV / TSV table, each with the reason it cannot be used (None when it can).

    A row is bad when a cell of a `require`d column is missing (a short row) or is not UTF-8, or when
    the row has more non-empty cells than the header. A header that is not UTF-8 or lacks a required
    column, and a CSV syntax error (a quote left open runs past the field size limit), stop the read.
    """

    def __init__(self, handle: TextIO, path: Path, delimiter: str) -> None:
        self.path = path
        self.rows = csv.DictReader(handle, delimiter=delimiter)
        self.columns: list[str] = self._read(lambda: self.rows.fieldnames) or []
        problem = not_utf8(delimiter.join(self.columns), "the header")
        if problem:
            raise InputFileError(f"{path}: {problem}")
        self.used: tuple[str, ...] = ()

    def require(self, *columns: str | None, hint: str = "") -> None:
        """Check that the table has `columns` (None entries are skipped) and mark them as used."""
        wanted = tuple(c for c in columns if c)
        if not self.columns:
            return  # an empty file: no header and no rows, so no records, like a header alone
        missing = [c for c in wanted if c not in self.columns]
        if missing:
            shown = f"{self.columns[:SHOWN_COLUMNS]}{' ...' if len(self.columns) > SHOWN_COLUMNS else ''}"
            raise InputFileError(f"{self.path}: column(s) {missing} not found (columns: {shown}){hint}")
        self.used += wanted

    def __iter__(self) -> Iterator[tuple[int, dict[str, str], str | None]]:
        """(row number from 1, cells by column with missing ones as "", problem) for each data row."""
        number = 0
        while (row := self._read(lambda: next(self.rows, None))) is not None:
            number += 1
            extra = [cell for cell in row.pop(None, []) if cell.strip()]  # cells beyond the header's columns
            yield number, {column: value or "" for column, value in row.items()}, self._problem(row, extra)

    def _problem(self, row: Mapping[str, str | None], extra: list[str]) -> str | None:
        missing = [c for c in self.used if row.get(c) is None]
        if missing:
            present = sum(value is not None for value in row.values())
            return f"row has {present} of the header's {len(self.columns)} cells (no {missing[0]!r} cell)"
        if extra:
            return f"row has {len(extra)} non-empty cell(s) beyond the header's {len(self.columns)} columns"
        if UNDECODED.search("".join(row[c] or "" for c in self.used)) is None:  # one search per row, the usual case
            return None
        return next(p for c in self.used if (p := not_utf8(row[c] or "", f"column {c!r}")))

    def _read(self, step: Callable[[], T]) -> T:
        """`step()`, with a CSV syntax error turned into a file error naming the line."""
        try:
            return step()
        except csv.Error as error:
            raise InputFileError(f"{self.path}: line {self.rows.line_num}: {error}") from error


@contextmanager
def csv_table(path: Path, delimiter: str | None = None) -> Iterator[CsvTable]:
    """An open CSV table (tab-separated when the suffix is .tsv, unless `delimiter` is given)."""
    with open_text(path, newline="") as handle:
        yield CsvTable(handle, path, delimiter or ("\t" if path.suffix.lower() == ".tsv" else ","))


def column_option(options: Mapping[str, Any], key: str, present: Container[str], default: str | None = None) -> str | None:
    """The column (or dataset, or property) option `key` names: the user's choice, which the reader then
    requires (empty or None: none); else the model's column for `key` (under `model_columns`) or
    `default`, the first of the two that `present` holds; else None."""
    if key in options:
        return options[key] or None
    for name in ((options.get(MODEL_COLUMNS) or {}).get(key), default):
        if name and name in present:
            return name
    return None


def table_rows(path: Path, options: Mapping[str, Any], default_data_column: str, extra_columns: tuple[str, ...] = ()) -> Iterator[tuple[Record, dict[str, str]]]:
    """Rows of a CSV (or, by suffix, TSV) table as records, each with its raw row.

    Options (`table_options`): `data_column` (default `default_data_column`), `target_column`,
    `id_column` (default `id` when the table has it, else the row number from 1); the model's column
    names are used where the table has them (`column_option`). A row that `CsvTable` finds bad, or whose
    cell in a target column the user named is blank, becomes a record with `error` set; a blank cell in
    the model's target column means no target. A missing column stops the read before any record,
    naming the columns there are.
    """
    with csv_table(path) as table:
        data_column = column_option(options, "data_column", table.columns) or default_data_column
        target_column = column_option(options, "target_column", table.columns)
        id_column = column_option(options, "id_column", table.columns, DEFAULT_ID_COLUMN)
        table.require(data_column, target_column, id_column, *extra_columns)
        for number, row, problem in table:
            record_id = readable(row[id_column]) if id_column else str(number)
            target = row[target_column] if target_column and row[target_column].strip() else None
            blank = target_column is not None and target is None
            error = problem or (f"empty {target_column!r} value" if blank and "target_column" in options else None)
            yield Record(id=record_id, data=row[data_column], target=None if error else target, error=error), row
