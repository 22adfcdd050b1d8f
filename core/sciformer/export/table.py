"""A results file read as a table: one row per record, in blocks of rows, each dataset a `Field`.

`record_id`, `status` and `error` come first (named `id`, `status`, `error`), then `prediction`, then
the other datasets in the order of the file's `outputs` attribute. A dataset with a `labels`
attribute holds class indices (written as class names) or one value per class (written as one column
per class, `probabilities` as `probability_<label>`). A record that was not scored (status 1 or 2)
has empty output cells. Groups (a forecaster's `skill/`) and root attributes stay in the HDF5 file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import h5py
import numpy as np

from sciformer.data.results import STATUS_SCORED

KEYS = ("record_id", "status", "error")  # every row's identity, never emptied
COLUMN_NAMES = {"record_id": "id", "probabilities": "probability", "logits": "logit"}  # one per class reads singular
BLOCK_BYTES = 32 << 20  # rows are read and written this much at a time, so memory stays flat
RAGGED_ROW_BYTES = 1024  # a guess for a variable-length row when sizing blocks


@dataclass(frozen=True)
class Field:
    """How one dataset of a results file becomes table columns.

    `shape` is one row's shape (None: a variable-length vector per row); `column` is the column's
    name, or the prefix of its per-element columns (`embedding_0`, `probability_Nucleus`).
    """

    dataset: str
    column: str
    shape: tuple[int, ...] | None
    dtype: np.dtype
    labels: tuple[str, ...] = ()

    @property
    def is_key(self) -> bool:
        """`record_id`, `status` or `error`: shown for every row."""
        return self.dataset in KEYS

    @property
    def names_classes(self) -> bool:
        """Class indices (per row, or per element of a variable-length row) written as class names."""
        return bool(self.labels) and self.dtype.kind in "iu" and self.shape in ((), None)

    @property
    def per_class(self) -> bool:
        """One value per class: one column per class, named by the class."""
        return bool(self.labels) and self.shape == (len(self.labels),)

    def element_columns(self) -> list[str]:
        """Columns of a vector per row: `<column>_<label>` per class, else `<column>_<index>`."""
        return [f"{self.column}_{suffix}" for suffix in (self.labels if self.per_class else range((self.shape or (0,))[0]))]

    def row_bytes(self) -> int:
        """Bytes one row takes in memory (a guess for variable-length rows and strings)."""
        if self.shape is None or self.dtype == object:
            return RAGGED_ROW_BYTES
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    def class_names(self, indices: np.ndarray) -> list[str | None]:
        """Class names of indices; None for an index that names no class (-1 of an unscored row)."""
        return [self.labels[i] if 0 <= i < len(self.labels) else None for i in indices.tolist()]


@dataclass(frozen=True)
class Block:
    """Consecutive rows of every field, with which of them were scored."""

    scored: np.ndarray  # (n,) bool
    values: dict[str, np.ndarray]  # dataset -> (n, *shape), or (n,) objects for strings and ragged rows


class ResultsTable:
    """An open results file seen as a table."""

    def __init__(self, results: h5py.File) -> None:
        self.results = results
        self.count = len(results["status"])
        outputs = _outputs(results)
        names = [name for name, item in results.items() if isinstance(item, h5py.Dataset) and name not in KEYS]
        names.sort(key=lambda name: (name != "prediction", outputs.index(name) if name in outputs else len(outputs), name))
        self.fields = [_field(name, results[name]) for name in (*KEYS, *names)]

    def attributes(self) -> dict[str, object]:
        """The file's root attributes (provenance, summary), JSON text decoded."""
        return {key: _decoded(value) for key, value in self.results.attrs.items()}

    def blocks(self) -> Iterator[Block]:
        """Consecutive blocks of rows of about BLOCK_BYTES; one empty block for a file of no rows."""
        rows = max(1, BLOCK_BYTES // max(1, sum(field.row_bytes() for field in self.fields)))
        for start in range(0, max(self.count, 1), rows):
            stop = min(start + rows, self.count)
            values = {field.dataset: self._read(field, start, stop) for field in self.fields}
            yield Block(values["status"] == STATUS_SCORED, values)

    def _read(self, field: Field, start: int, stop: int) -> np.ndarray:
        dataset = self.results[field.dataset]
        if h5py.check_string_dtype(dataset.dtype) is not None:
            return np.asarray(dataset.asstr()[start:stop], dtype=object)
        return dataset[start:stop]


def _field(name: str, dataset: h5py.Dataset) -> Field:
    ragged = h5py.check_vlen_dtype(dataset.dtype)
    string = h5py.check_string_dtype(dataset.dtype) is not None
    shape = None if ragged is not None and not string else tuple(dataset.shape[1:])
    dtype = np.dtype(object) if string else np.dtype(ragged if ragged is not None else dataset.dtype)
    labels = tuple(label.decode() if isinstance(label, bytes) else str(label) for label in dataset.attrs.get("labels", ()))
    return Field(name, COLUMN_NAMES.get(name, name), shape, dtype, labels)


def _outputs(results: h5py.File) -> list[str]:
    outputs = _decoded(results.attrs.get("outputs", "[]"))
    return list(outputs) if isinstance(outputs, list) else []


def _decoded(value: object) -> object:
    """An attribute as Python: JSON text parsed, numpy scalars and arrays as plain values."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value.tolist() if isinstance(value, (np.ndarray, np.generic)) else value
