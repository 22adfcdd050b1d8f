"""The HDF5 results file: row i of every dataset belongs to input record i.

Rows are appended chunk by chunk to `OUT.partial`; after each chunk the file is flushed and its
`rows_complete` attribute advanced, so a run stopped at any point can resume from the last
complete chunk. The file gets its final name only when complete.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np

from sciformer.errors import InputFileError

log = logging.getLogger(__name__)

STATUS_SCORED, STATUS_BAD = 0, 1
STRING = h5py.string_dtype(encoding="utf-8")
CHUNK_ROWS = 1024
ROWS_COMPLETE = "rows_complete"


def encode_attribute(value: Any) -> Any:
    """HDF5 attributes hold scalars and strings; anything else is stored as JSON."""
    return value if isinstance(value, (str, int, float)) else json.dumps(value)


def partial_path(path: Path) -> Path:
    """Where an unfinished results file lives."""
    return path.with_name(path.name + ".partial")


class ResultWriter:
    """Appends rows to growable datasets; `close()` renames `OUT.partial` to `OUT`.

    With `resume=True` an existing partial file whose `identity` attributes match is reopened and
    truncated to its last complete chunk; otherwise a new partial file is started.
    """

    def __init__(self, path: str | Path, attributes: Mapping[str, Any], *, resume: bool = False, identity: tuple[str, ...] = ()) -> None:
        self.path = Path(path)
        self.partial = partial_path(self.path)
        self.file = self._reopen(attributes, identity) if resume and self.partial.exists() else None
        if self.file is None:
            self.file = h5py.File(self.partial, "w")
            for key, value in attributes.items():
                self.file.attrs[key] = encode_attribute(value)
            self.file.attrs[ROWS_COMPLETE] = 0
        self.rows = int(self.file.attrs[ROWS_COMPLETE])

    def _reopen(self, attributes: Mapping[str, Any], identity: tuple[str, ...]) -> h5py.File | None:
        try:
            handle = h5py.File(self.partial, "r+")
        except OSError as error:
            log.warning("%s is unreadable (%s); starting again from the first record", self.partial, error)
            self.partial.unlink()
            return None
        for key in identity:
            if handle.attrs.get(key) != encode_attribute(attributes[key]):
                handle.close()
                raise InputFileError(f"cannot resume {self.partial}: its {key} differs from this run's; remove it or run without --resume")
        rows = int(handle.attrs[ROWS_COMPLETE])
        for dataset in handle.values():
            dataset.resize(rows, axis=0)
        log.info("resuming %s after %d complete rows", self.partial, rows)
        return handle

    def append(self, columns: Mapping[str, np.ndarray], attributes: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """Add the same number of rows to every named dataset (created on first use), then flush."""
        counts = {len(values) for values in columns.values()}
        if len(counts) != 1:
            raise ValueError(f"columns disagree on row count: { {k: len(v) for k, v in columns.items()} }")
        count = counts.pop()
        for name, values in columns.items():
            if name not in self.file:
                self._create(name, values, (attributes or {}).get(name) or {})
            dataset = self.file[name]
            dataset.resize(self.rows + count, axis=0)
            dataset[self.rows :] = values
        self.rows += count
        self.file.attrs[ROWS_COMPLETE] = self.rows
        self.file.flush()

    def _create(self, name: str, values: np.ndarray, attributes: Mapping[str, Any]) -> None:
        if values.dtype == object and values.size and not isinstance(values.flat[0], (str, bytes)):
            dtype = h5py.vlen_dtype(np.float32)  # one variable-length vector per row
        else:
            dtype = STRING if values.dtype.kind in "OUS" else values.dtype
        shape = values.shape[1:] if dtype not in (STRING,) and values.dtype != object else ()
        dataset = self.file.create_dataset(name, shape=(self.rows, *shape), maxshape=(None, *shape), dtype=dtype, chunks=(CHUNK_ROWS, *shape))
        for key, value in attributes.items():
            dataset.attrs[key] = value

    def close(self, attributes: Mapping[str, Any] | None = None) -> Path:
        """Write final attributes, close and move the file to its final name."""
        for key, value in (attributes or {}).items():
            self.file.attrs[key] = encode_attribute(value)
        self.file.close()
        os.replace(self.partial, self.path)
        return self.path

    def abort(self) -> None:
        """Close, keeping the partial file for --resume."""
        self.file.close()
