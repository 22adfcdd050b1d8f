"""CSV and TSV: one row per record, one column per value people compare.

A value per row is one column; a vector per row is one column per element (`probability_<label>`
per class, `embedding_0 .. embedding_<D-1>`), so a spreadsheet or `pandas.read_csv` reads numbers
without parsing; anything larger (a variable-length vector, a forecast field) is one cell holding a
JSON list, class indices as class names. Numbers are written in their shortest exact form; NaN and
the outputs of records that were not scored are empty cells.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TextIO

import h5py
import numpy as np

from sciformer.export.table import Block, Field, ResultsTable


def write_csv(results: Path, target: Path | TextIO) -> None:
    """Write the HDF5 results file `results` as comma-separated values."""
    _write(results, target, ",")


def write_tsv(results: Path, target: Path | TextIO) -> None:
    """Write the HDF5 results file `results` as tab-separated values."""
    _write(results, target, "\t")


def _write(results: Path, target: Path | TextIO, delimiter: str) -> None:
    if isinstance(target, Path):
        with open(target, "w", newline="", encoding="utf-8") as handle:
            _write_rows(results, handle, delimiter)
    else:
        _write_rows(results, target, delimiter)


def _write_rows(results: Path, handle: TextIO, delimiter: str) -> None:
    with h5py.File(results, "r") as file:
        table = ResultsTable(file)
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
        writer.writerow([name for field in table.fields for name in header(field)])
        for block in table.blocks():
            columns = [column for field in table.fields for column in cells(field, block)]
            writer.writerows(zip(*columns))


def header(field: Field) -> list[str]:
    """The column names of one field."""
    if field.shape is not None and len(field.shape) == 1:
        return field.element_columns()
    return [field.column]


def cells(field: Field, block: Block) -> list[list[str]]:
    """The text cells of one field over a block, one list per column."""
    values = block.values[field.dataset]
    if field.is_key:
        return [[str(value) for value in values.tolist()]]
    shown = block.scored
    if field.shape is None or len(field.shape) > 1:
        return [[_json(field, row) if keep else "" for row, keep in zip(values, shown)]]
    if field.names_classes:
        return [[(name or "") if keep else "" for name, keep in zip(field.class_names(values), shown)]]
    if len(field.shape) == 1:
        return [_texts(values[:, index], shown) for index in range(field.shape[0])]
    return [_texts(values, shown)]


def _texts(values: np.ndarray, shown: np.ndarray) -> list[str]:
    """Values as text, empty where not shown or not a finite number."""
    if values.dtype == object:
        return [str(value) if keep else "" for value, keep in zip(values.tolist(), shown)]
    keep = shown & np.isfinite(values) if values.dtype.kind == "f" else shown
    return np.where(keep, values.astype(str), "").tolist()


def _json(field: Field, row: np.ndarray) -> str:
    """One row's vector or array as a JSON list: class names for class indices, null for NaN."""
    if field.names_classes:
        return json.dumps(field.class_names(np.asarray(row)), separators=(",", ":"))
    return _json_array(np.asarray(row))


def _json_array(values: np.ndarray) -> str:
    if values.ndim > 1:
        return "[" + ",".join(_json_array(part) for part in values) + "]"
    texts = values.astype(str)
    if values.dtype.kind == "f":
        texts = np.where(np.isfinite(values), texts, "null")
    return "[" + ",".join(texts.tolist()) + "]"
