"""Series from tables: CSV / TSV (through `sciformer.reading`) and Parquet (through pyarrow).

Wide tables hold one series: a time column and one column per channel. Long tables hold many, one row
per time step and series: a `series_column` naming the series, a time column and the channel columns;
series may have different lengths, and their rows keep the file's order. Empty cells and NA / NaN /
null are missing values (NaN); any other cell that is not a finite number, and a short row, make the
windows holding that step bad records, naming the row. A series whose times do not strictly increase
(`time_order`) makes every window of it a bad record, naming the first offending row; nothing is sorted.
A CSV whose header row is all numbers, a data row, is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sciformer.errors import InputFileError
from sciformer.reading import column_option, csv_table

from .series import Series
from .time_order import order_problem

log = logging.getLogger(__name__)

MISSING = frozenset({"", "nan", "na", "n/a", "null", "none"})


def value_columns(options: Mapping[str, Any], columns: Sequence[str], taken: Sequence[str | None]) -> list[str]:
    """Option `value_columns` (comma-separated), else every column that is not `taken` (time, series)."""
    chosen = options.get("value_columns")
    if chosen:
        names = (
            [name.strip() for name in str(chosen).split(",") if name.strip()]
            if isinstance(chosen, str)
            else [str(c) for c in chosen]
        )
    else:
        names = [name for name in columns if name not in taken]
    if not names:
        raise InputFileError("the table has no value columns besides its time and series columns")
    return names


def parse_cell(text: str) -> tuple[float, str | None]:
    """A table cell -> (value, None), NaN for a missing value; (NaN, reason) for a cell that is not a finite number."""
    stripped = text.strip()
    if stripped.lower() in MISSING:
        return np.nan, None
    try:
        value = float(stripped)
    except ValueError:
        return np.nan, f"{stripped[:20]!r} is not a number"
    return (value, None) if np.isfinite(value) else (np.nan, f"{stripped!r} is not a finite number")


def assemble(
    path: Path,
    names: Sequence[str] | None,
    times: Sequence[str] | None,
    cells: np.ndarray,
    broken: Mapping[int, str],
    channels: Sequence[str],
) -> list[Series]:
    """Rows (N, C) of a table -> its series, grouped by `names` (None: one series named after the file),
    each in the file's row order; `broken` maps a row index to why it is unusable. A series whose times do
    not strictly increase is kept, with that problem: its windows are bad records (and a warning names it)."""
    groups: dict[str, list[int]] = {}
    for row, name in enumerate(names if names is not None else [path.stem] * len(cells)):
        groups.setdefault(name, []).append(row)
    out = []
    for name, rows in groups.items():
        index = np.asarray(rows)
        problems = {step: broken[row] for step, row in enumerate(rows) if row in broken}
        labels = tuple(times[row] for row in rows) if times is not None else None
        order = order_problem(labels, lambda step, rows=rows: f"row {rows[step] + 1:,}") if labels else None
        if order:
            log.warning("%s: %s%s; its windows are bad records", path, f"series {name!r}: " if names is not None else "", order)
        out.append(Series(name, cells[index].astype(np.float32), tuple(channels), labels, problems or None, order))
    return out


def check_header(path: Path, columns: Sequence[str], options: Mapping[str, Any]) -> None:
    """Refuse a CSV whose header row is all numbers (a data row taken for the header), unless its columns are named by option."""
    if options.get("time_column") or options.get("value_columns") or not columns:
        return
    if all(np.isfinite(parse_cell(name)[0]) for name in columns):
        shown = ",".join(columns[:4]) + (",..." if len(columns) > 4 else "")
        raise InputFileError(
            f"{path}: the first row ({shown}) is all numbers, a data row, not a header; "
            "add a header row naming the columns (e.g. time,VALUE); a header of numeric names needs the option time_column or value_columns"
        )


def read_csv_series(path: Path, options: Mapping[str, Any]) -> list[Series]:
    """The series of a CSV (or, by suffix, TSV) table; options as `reader_options.TABLE_OPTIONS`."""
    with csv_table(path) as table:
        check_header(path, table.columns, options)
        time_column = column_option(options, "time_column", table.columns, "time")
        series_column = column_option(options, "series_column", table.columns, "series")
        channels = value_columns(options, table.columns, (time_column, series_column))
        table.require(time_column, series_column, *channels)
        names: list[str] = []
        times: list[str] = []
        rows: list[list[float]] = []
        broken: dict[int, str] = {}
        for number, row, problem in table:
            parsed = [parse_cell(row[column]) for column in channels]
            reason = problem or next((f"column {c!r}: {why}" for c, (_, why) in zip(channels, parsed) if why), None)
            if reason:
                broken[len(rows)] = f"row {number:,}: {reason}"
            rows.append([value for value, _ in parsed])
            names.append(row[series_column] if series_column else path.stem)
            times.append(row[time_column] if time_column else str(number - 1))
    cells = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(channels))
    return assemble(path, names if series_column else None, times if time_column else None, cells, broken, channels)


def read_parquet_series(path: Path, options: Mapping[str, Any]) -> list[Series]:
    """The series of a Parquet table (pyarrow); the same options and rules as CSV."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputFileError(f"{path}: reading Parquet needs pyarrow (pip install 'sciformer-timeseries[parquet]')") from None
    table = pq.read_table(path)
    columns = list(table.column_names)
    time_column = column_option(options, "time_column", columns, "time")
    series_column = column_option(options, "series_column", columns, "series")
    channels = value_columns(options, columns, (time_column, series_column))
    missing = [c for c in (time_column, series_column, *channels) if c and c not in columns]
    if missing:
        raise InputFileError(f"{path}: column(s) {missing} not found (columns: {columns[:8]})")
    cells = np.full((table.num_rows, len(channels)), np.nan)
    broken: dict[int, str] = {}
    for index, name in enumerate(channels):
        try:
            cells[:, index] = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        except (TypeError, ValueError):
            raise InputFileError(f"{path}: column {name!r} is not numeric") from None
    for row in np.flatnonzero(np.isinf(cells).any(axis=1)):
        broken[int(row)] = f"row {row + 1:,}: an infinite value"
    names = [str(v) for v in table.column(series_column).to_pylist()] if series_column else None
    times = [str(v) for v in table.column(time_column).to_pylist()] if time_column else None
    return assemble(path, names, times, cells, broken, channels)
