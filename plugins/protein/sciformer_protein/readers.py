"""Readers of protein records: CSV / TSV with residue label masks, and HDF5 string datasets.

FASTA (streamed, duplicate headers kept apart by index) and plain text (one sequence per non-blank
line) are the core's readers, `sciformer.readers`. Every reader yields records lazily; a record the
reader cannot read (bytes that are not UTF-8, a short table row, a damaged HDF5 chunk) is yielded with
`error` set and the others go on. Options (all optional):
- CSV / TSV: `data_column` (default `sequence`), `id_column` (default `id` when the table has it,
  else the row number), `target_column`, and for residue-level labels `label_mask_column` (a
  string of 0/1 per residue; residues marked 0 get the `unlabelled` character, default ".").
- HDF5: `dataset` (default `sequences`, or `sequence`), `id_column` and `target_column` naming
  datasets of the same length.
Column and dataset names a model brings (`model_columns`) are used where the input has them; a blank
cell in the model's target column means no target.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from sciformer.errors import InputFileError
from sciformer.reader_options import DEFAULT_ID_COLUMN
from sciformer.reading import column_option, csv_table, dataset_rows, not_utf8, readable
from sciformer.records import Record

HDF5_CHUNK = 4096  # rows read from an HDF5 dataset at a time


def read_table(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """Rows of a CSV (or TSV) table with a sequence column and optional id, target and label-mask columns."""
    with csv_table(path) as table:
        data_column = column_option(options, "data_column", table.columns) or "sequence"
        id_column = column_option(options, "id_column", table.columns, DEFAULT_ID_COLUMN)
        target_column = column_option(options, "target_column", table.columns)
        mask_column = column_option(options, "label_mask_column", table.columns) if target_column else None
        unlabelled = str(options.get("unlabelled", "."))
        table.require(data_column, id_column, target_column, mask_column)
        for number, row, problem in table:
            record_id = readable(row[id_column]) if id_column else str(number)
            target = row[target_column] if target_column else None
            if target is not None and not target.strip() and "target_column" not in options:
                target = None  # a blank cell of the model's target column: no label
            error = problem
            if mask_column and target is not None and error is None:
                target, error = _mask_labels(target, row[mask_column], unlabelled)
            yield Record(id=record_id, data=row[data_column], target=target, error=error)


def _mask_labels(labels: str, mask: str, unlabelled: str) -> tuple[str, str | None]:
    """Replace labels of residues marked 0 by `unlabelled`; an error when the lengths differ."""
    if len(mask) != len(labels):
        return labels, f"label mask has {len(mask)} entries for {len(labels)} labels"
    return "".join(label if flag == "1" else unlabelled for label, flag in zip(labels, mask)), None


def read_hdf5(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """Sequences from a 1-D string dataset, read in chunks; ids and targets from sibling datasets."""
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise InputFileError(f"{path}: not a readable HDF5 file ({error})") from error
    with handle:
        name = options.get("dataset") or next((n for n in ("sequences", "sequence") if n in handle), None)
        if name is None or name not in handle:
            raise InputFileError(f"{path}: no dataset {name or 'sequences'!r}; give --dataset (datasets: {sorted(handle)})")
        sequences = handle[name]
        if sequences.ndim != 1 or sequences.dtype.kind not in "OSU":
            raise InputFileError(f"{path}: dataset {name!r} must be a 1-D string dataset, got shape {sequences.shape} and type {sequences.dtype}")
        extra = {key: column_option(options, key, handle) for key in ("id_column", "target_column")}
        for key, dataset in extra.items():
            if dataset and (dataset not in handle or handle[dataset].shape[:1] != sequences.shape):
                raise InputFileError(f"{path}: {key} {dataset!r} is not a dataset of {sequences.shape[0]} rows")
        columns = {"sequence": name, **{key: dataset for key, dataset in extra.items() if dataset}}
        for start in range(0, sequences.shape[0], HDF5_CHUNK):
            stop = min(start + HDF5_CHUNK, sequences.shape[0])
            chunks = {key: dataset_rows(handle[dataset], start, stop) for key, dataset in columns.items()}
            for offset in range(stop - start):
                values = {key: _plain(chunk[offset]) for key, chunk in chunks.items()}
                yield _hdf5_record(values, columns, start + offset)


def _hdf5_record(values: Mapping[str, Any], columns: Mapping[str, str], index: int) -> Record:
    """The record of row `index` from its values by column key (`sequence`, `id_column`, `target_column`)."""
    error = _row_problem(values, columns, index)
    sequence = values["sequence"]
    return Record(
        id=readable(str(values.get("id_column", index + 1))),
        data=sequence if isinstance(sequence, str) else "",
        target=None if error else values.get("target_column"),
        error=error,
    )


def _row_problem(values: Mapping[str, Any], columns: Mapping[str, str], index: int) -> str | None:
    """Why a row's values cannot be used (a damaged chunk, bytes that are not UTF-8), or None."""
    for key, value in values.items():
        if isinstance(value, OSError):
            return f"row {index} of dataset {columns[key]!r} cannot be read ({value})"
        if isinstance(value, str) and (problem := not_utf8(value, f"dataset {columns[key]!r}")):
            return problem
    return None


def _plain(value: Any) -> Any:
    """HDF5 scalars -> Python values (bytes decoded, keeping bytes that are not UTF-8 for `not_utf8`)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="surrogateescape")
    return value.item() if isinstance(value, np.generic) else value
