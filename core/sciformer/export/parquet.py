"""Parquet through pyarrow: one row per record, typed columns, written a block of rows at a time.

Class indices become class names and one value per class becomes one column per class, as in CSV;
any other vector per row (the embedding) is a fixed-size list, an array per row (a forecast field)
nested fixed-size lists, a variable-length vector a list. The outputs of records that were not scored,
and NaN values of scalar columns, are null. The file's root attributes (provenance, run manifest,
summary) travel as JSON in the schema metadata under the key `sciformer`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import h5py
import numpy as np

from sciformer.errors import OutputError
from sciformer.export.table import Block, Field, ResultsTable

if TYPE_CHECKING:
    import pyarrow as pa

METADATA_KEY = b"sciformer"


def write_parquet(results: Path, target: Path | TextIO) -> None:
    """Write the HDF5 results file `results` as a Parquet file."""
    import pyarrow.parquet as pq

    if not isinstance(target, Path):
        raise OutputError("Parquet cannot be streamed: give an --output file ending in .parquet")
    with h5py.File(results, "r") as file:
        table = ResultsTable(file)
        metadata = {METADATA_KEY: json.dumps(table.attributes(), default=str).encode()}
        writer: pq.ParquetWriter | None = None
        try:
            for block in table.blocks():
                batch = _table(table.fields, block)
                if writer is None:
                    writer = pq.ParquetWriter(target, batch.schema.with_metadata(metadata))
                writer.write_table(batch)
        finally:
            if writer is not None:
                writer.close()


def _table(fields: list[Field], block: Block) -> pa.Table:
    import pyarrow as pa

    columns: dict[str, pa.Array] = {}
    for field in fields:
        columns.update(_columns(field, block))
    return pa.table(columns)


def _columns(field: Field, block: Block) -> dict[str, pa.Array]:
    import pyarrow as pa

    values = block.values[field.dataset]
    if field.is_key:
        return {field.column: pa.array(values.tolist(), type=pa.string()) if values.dtype == object else pa.array(values)}
    hidden = ~block.scored
    if field.shape is None:
        return {field.column: _lists(field, values, hidden)}
    if field.names_classes:
        return {field.column: pa.array(field.class_names(values), type=pa.string(), mask=hidden)}
    if field.per_class:
        return {name: _scalars(values[:, index], hidden) for index, name in enumerate(field.element_columns())}
    if not field.shape:
        return {field.column: _scalars(values, hidden)}
    flat = pa.array(values.reshape(-1))
    for size in reversed(field.shape[1:]):
        flat = pa.FixedSizeListArray.from_arrays(flat, size)
    return {field.column: pa.FixedSizeListArray.from_arrays(flat, field.shape[0], mask=pa.array(hidden))}


def _scalars(values: np.ndarray, hidden: np.ndarray) -> pa.Array:
    import pyarrow as pa

    if values.dtype == object:
        return pa.array(values.tolist(), type=pa.string(), mask=hidden)
    return pa.array(values, mask=hidden | ~np.isfinite(values) if values.dtype.kind == "f" else hidden)


def _lists(field: Field, rows: np.ndarray, hidden: np.ndarray) -> pa.Array:
    """Variable-length vectors per row as a list column (class names for class indices)."""
    import pyarrow as pa

    parts = [np.asarray(row) for row in rows]
    offsets = np.zeros(len(parts) + 1, dtype=np.int32)  # a block stays far below 2**31 items
    np.cumsum([len(part) for part in parts], out=offsets[1:])
    flat = np.concatenate(parts) if parts else np.zeros(0, dtype=field.dtype)
    items = pa.array(field.class_names(flat), type=pa.string()) if field.names_classes else pa.array(flat.astype(field.dtype, copy=False))
    return pa.ListArray.from_arrays(pa.array(offsets), items, mask=pa.array(hidden))
