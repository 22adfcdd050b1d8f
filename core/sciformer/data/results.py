"""The HDF5 results file: row i of every dataset belongs to input record i; written under a temporary
name and renamed only when complete."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np

STATUS_SCORED, STATUS_BAD, STATUS_PENDING = 0, 1, 2
STRING = h5py.string_dtype(encoding="utf-8")
CHUNK_ROWS = 1024


class ResultWriter:
    """Appends rows to growable datasets; `close()` renames `OUT.partial` to `OUT`."""

    def __init__(self, path: str | Path, attributes: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.file = h5py.File(self.partial, "w")
        for key, value in attributes.items():
            self.file.attrs[key] = value if isinstance(value, (str, int, float)) else json.dumps(value)
        self.rows = 0

    def append(self, columns: Mapping[str, np.ndarray], attributes: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """Add the same number of rows to every named dataset (created on first use)."""
        counts = {len(values) for values in columns.values()}
        if len(counts) != 1:
            raise ValueError(f"columns disagree on row count: { {k: len(v) for k, v in columns.items()} }")
        count = counts.pop()
        for name, values in columns.items():
            values = np.asarray(values, dtype=object if values.dtype.kind in "OUS" else values.dtype)
            if name not in self.file:
                dtype = STRING if values.dtype == object else values.dtype
                self.file.create_dataset(name, shape=(self.rows, *values.shape[1:]), maxshape=(None, *values.shape[1:]), dtype=dtype, chunks=(CHUNK_ROWS, *values.shape[1:]))
                for key, value in ((attributes or {}).get(name) or {}).items():
                    self.file[name].attrs[key] = value
            dataset = self.file[name]
            dataset.resize(self.rows + count, axis=0)
            dataset[self.rows :] = values
        self.rows += count

    def close(self, attributes: Mapping[str, Any] | None = None) -> Path:
        """Write final attributes, close and move the file to its final name."""
        for key, value in (attributes or {}).items():
            self.file.attrs[key] = value if isinstance(value, (str, int, float)) else json.dumps(value)
        self.file.close()
        os.replace(self.partial, self.path)
        return self.path

    def abort(self) -> None:
        """Close and delete the partial file."""
        self.file.close()
        self.partial.unlink(missing_ok=True)
