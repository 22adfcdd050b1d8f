"""The HDF5 results file: row i of every dataset belongs to input record i.

While a run is going, each finished chunk of rows is its own small HDF5 file in `OUT.h5.chunks/`,
written under a temporary name and renamed when complete, so a crash or `kill -9` can never leave a
half-written chunk behind: a resumed run skips the chunks that exist. When every chunk is there,
they are joined in input order into `OUT.h5` (written as `OUT.h5.partial`, then renamed) and the
folder is removed. A run stopped early joins what it has, with the rows of missing chunks marked
status 2 (root attribute `complete` = 0), and keeps the folder for `--resume`.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Mapping

import h5py
import numpy as np

from sciformer.errors import InputFileError

STATUS_SCORED, STATUS_BAD, STATUS_PENDING = 0, 1, 2
STRING = h5py.string_dtype(encoding="utf-8")
ROWS_PER_H5_CHUNK = 1024
RUN_FILE = "run.json"


def encode_attribute(value: Any) -> Any:
    """HDF5 attributes hold scalars and strings; anything else is stored as JSON."""
    return value if isinstance(value, (str, int, float)) else json.dumps(value)


def _dtype_of(values: np.ndarray) -> Any:
    if values.dtype == object and values.size and not isinstance(values.flat[0], (str, bytes)):
        return h5py.vlen_dtype(np.asarray(values.flat[0]).dtype)  # one variable-length vector per row
    return STRING if values.dtype.kind in "OUS" else values.dtype


class ChunkStore:
    """The folder of finished chunks of one run; `identity` must match for a run to resume there."""

    def __init__(self, output: Path, identity: Mapping[str, Any], *, resume: bool) -> None:
        self.output = Path(output)
        self.folder = self.output.with_name(self.output.name + ".chunks")
        run_file = self.folder / RUN_FILE
        wanted = json.loads(json.dumps(identity))
        if self.folder.exists() and resume and run_file.exists():
            found = json.loads(run_file.read_text())
            changed = sorted(k for k in set(found) | set(wanted) if found.get(k) != wanted.get(k))
            if changed:
                raise InputFileError(f"cannot resume {self.folder}: this run's {changed} differ; remove the folder or run without --resume")
            return
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        temporary = run_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(wanted, indent=1))
        os.replace(temporary, run_file)

    def path(self, index: int) -> Path:
        """The file of chunk `index`."""
        return self.folder / f"chunk-{index:08d}.h5"

    def pending_path(self, index: int) -> Path:
        """The placeholder of unscored chunk `index` in an early-stopped run's file (status 2 rows)."""
        return self.folder / f"pending-{index:08d}.h5"

    def _source(self, index: int) -> Path:
        scored = self.path(index)
        return scored if scored.exists() else self.pending_path(index)

    def done(self) -> set[int]:
        """Indices of the chunks already written completely."""
        return {int(p.stem.split("-")[1]) for p in self.folder.glob("chunk-*.h5")}

    def write(self, index: int, columns: Mapping[str, np.ndarray], attributes: Mapping[str, Mapping[str, Any]], *, pending: bool = False) -> None:
        """Write one chunk atomically (temporary name, then rename); `pending` writes a placeholder."""
        target = self.pending_path(index) if pending else self.path(index)
        temporary = target.with_suffix(".tmp")
        with h5py.File(temporary, "w") as handle:
            for name, values in columns.items():
                dataset = handle.create_dataset(name, data=values, dtype=_dtype_of(values))
                for key, value in (attributes.get(name) or {}).items():
                    dataset.attrs[key] = value
        os.replace(temporary, target)

    def statuses(self, count: int) -> np.ndarray:
        """The `status` column of chunks 0..count-1, in order."""
        parts = []
        for index in range(count):
            with h5py.File(self._source(index), "r") as chunk:
                parts.append(chunk["status"][:])
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int8)

    def join(self, count: int, attributes: Mapping[str, Any], summarise: Callable[[h5py.File], None] | None = None) -> Path:
        """Join chunks 0..count-1 (scored or placeholders) in order into the output file, let `summarise`
        add file-level results, and move it into place; the folder is removed unless a chunk is missing."""
        partial = self.output.with_name(self.output.name + ".partial")
        with h5py.File(partial, "w") as out:
            for key, value in attributes.items():
                out.attrs[key] = encode_attribute(value)
            rows = 0
            for index in range(count):
                with h5py.File(self._source(index), "r") as chunk:
                    size = len(chunk["status"])
                    for name, dataset in chunk.items():
                        if name not in out:
                            shape = dataset.shape[1:]
                            created = out.create_dataset(name, shape=(0, *shape), maxshape=(None, *shape), dtype=dataset.dtype, chunks=(ROWS_PER_H5_CHUNK, *shape))
                            created.attrs.update(dict(dataset.attrs))
                        out[name].resize(rows + size, axis=0)
                        out[name][rows:] = dataset[:]
                    rows += size
            complete = all(self.path(index).exists() for index in range(count))
            out.attrs["complete"] = int(complete)
            if summarise is not None:
                summarise(out)
        os.replace(partial, self.output)
        if complete:
            shutil.rmtree(self.folder)
        else:
            for placeholder in self.folder.glob("pending-*.h5"):
                placeholder.unlink()
        return self.output


def is_incomplete(path: Path) -> bool:
    """Whether `path` is the results file of a run stopped early (root attribute `complete` = 0)."""
    try:
        with h5py.File(path, "r") as handle:
            return int(handle.attrs.get("complete", 1)) == 0
    except OSError:
        return False
