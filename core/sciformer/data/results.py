"""The HDF5 results file: row i of every dataset belongs to input record i.

While a run is going, each finished chunk of rows is its own small HDF5 file in `OUT.h5.chunks/`,
written under a temporary name and renamed when complete, so a crash or `kill -9` can never leave a
half-written chunk behind: a resumed run skips the chunks that exist. When every chunk is there,
they are joined in input order into `OUT.h5` (written as `OUT.h5.partial`, then renamed) and the
folder is removed. A run stopped early joins what it has, with the rows of missing chunks marked
status 2 (root attribute `complete` = 0), and keeps the folder for `--resume`. The folder's `run.json`
holds the run's manifest (sciformer.scoring.manifest), which a resumed run must match.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from sciformer.errors import OutputError

STATUS_SCORED, STATUS_BAD, STATUS_PENDING = 0, 1, 2
STRING = h5py.string_dtype(encoding="utf-8")
ROWS_PER_H5_CHUNK = 1024
RUN_FILE = "run.json"
# Free space asked for before a write, as multiples of the data: HDF5 metadata and heaps of
# variable-length rows add about 15% to a joined file (measured), more to a small chunk file.
CHUNK_OVERHEAD, JOIN_OVERHEAD, SPACE_MARGIN = 1.5, 1.2, 1 << 20


def encode_attribute(value: Any) -> Any:
    """HDF5 attributes hold scalars and strings; anything else is stored as JSON."""
    return value if isinstance(value, (str, int, float)) else json.dumps(value)


def _dtype_of(values: np.ndarray) -> Any:
    if values.dtype == object and values.size and not isinstance(values.flat[0], (str, bytes)):
        return h5py.vlen_dtype(np.asarray(values.flat[0]).dtype)  # one variable-length vector per row
    return STRING if values.dtype.kind in "OUS" else values.dtype


class ChunkStore:
    """The folder of finished chunks of one run, with the run's manifest (`run.json`) beside them."""

    def __init__(self, output: Path) -> None:
        self.output = Path(output)
        self.folder = self.output.with_name(self.output.name + ".chunks")

    def manifest(self) -> dict[str, Any] | None:
        """The manifest of the run that made the folder, or None when there is no folder."""
        run_file = self.folder / RUN_FILE
        if not run_file.is_file():
            return None
        try:
            return json.loads(run_file.read_text())
        except json.JSONDecodeError:
            return {}

    def start(self, manifest: Mapping[str, Any]) -> None:
        """Begin a new run: an empty folder (an earlier one removed) with this run's manifest."""
        if self.folder.exists():
            shutil.rmtree(self.folder)
        with writing(self.output, "the chunk folder"):
            self.folder.mkdir(parents=True)
            run_file = self.folder / RUN_FILE
            temporary = run_file.with_suffix(".tmp")
            temporary.write_text(json.dumps(manifest, indent=1))
            os.replace(temporary, run_file)

    def done_records(self) -> int:
        """How many records the finished chunks hold."""
        total = 0
        for index in self.done():
            with h5py.File(self.path(index), "r") as chunk:
                total += len(chunk["status"])
        return total

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

    def write(
        self, index: int, columns: Mapping[str, np.ndarray], attributes: Mapping[str, Mapping[str, Any]], *,
        pending: bool = False, dtypes: Mapping[str, Any] | None = None,
    ) -> None:
        """Write one chunk atomically (temporary name, then rename); `pending` writes a placeholder.

        `dtypes` gives a column's HDF5 type where its values cannot tell (ragged columns of no rows)."""
        target = self.pending_path(index) if pending else self.path(index)
        temporary = target.with_suffix(".tmp")
        ensure_space(self.output, f"chunk {index}", CHUNK_OVERHEAD * sum(_raw_bytes(values) for values in columns.values()) + SPACE_MARGIN)
        image = io.BytesIO()  # built in memory, so a full disk fails a plain write, never HDF5 itself
        with h5py.File(image, "w") as handle:
            for name, values in columns.items():
                dataset = handle.create_dataset(name, data=values, dtype=(dtypes or {}).get(name) or _dtype_of(values))
                for key, value in (attributes.get(name) or {}).items():
                    dataset.attrs[key] = value
        with writing(self.output, f"chunk {index}", temporary):
            temporary.write_bytes(image.getbuffer())
            os.replace(temporary, target)

    def statuses(self, count: int) -> tuple[np.ndarray, int]:
        """The `status` column of chunks 0..count-1, in order, and how many scored rows carry a note in
        `error` (a truncated input, ...): one read of each chunk for the run's summary."""
        parts, noted = [], 0
        for index in range(count):
            with h5py.File(self._source(index), "r") as chunk:
                status = chunk["status"][:]
                notes = np.char.str_len(chunk["error"].asstr()[:].astype(str)) > 0
            parts.append(status)
            noted += int((notes & (status == STATUS_SCORED)).sum())
        return (np.concatenate(parts) if parts else np.zeros(0, dtype=np.int8)), noted

    def join(self, count: int, attributes: Mapping[str, Any], summarise: Callable[[h5py.File], None] | None = None) -> Path:
        """Join chunks 0..count-1 (scored or placeholders) in order into the output file, let `summarise`
        add file-level results, and move it into place; the folder is removed unless a chunk is missing."""
        partial = self.output.with_name(self.output.name + ".partial")
        sources = [self._source(index) for index in range(count)]
        ensure_space(self.output, "the results file", JOIN_OVERHEAD * sum(p.stat().st_size for p in sources) + SPACE_MARGIN)
        with writing(self.output, "the results file", partial):
            complete = self._join_into(partial, count, attributes, summarise)
            os.replace(partial, self.output)
        if complete:
            shutil.rmtree(self.folder)
        else:
            for placeholder in self.folder.glob("pending-*.h5"):
                placeholder.unlink()
        return self.output

    def _join_into(self, partial: Path, count: int, attributes: Mapping[str, Any], summarise: Callable[[h5py.File], None] | None) -> bool:
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
                        _copy_rows(dataset, out[name], rows)
                    rows += size
            complete = all(self.path(index).exists() for index in range(count))
            out.attrs["complete"] = int(complete)
            if summarise is not None:
                summarise(out)
        return complete


def _copy_rows(source: h5py.Dataset, target: h5py.Dataset, first: int) -> None:
    """Copy every row of `source` into `target` from row `first`. Variable-length rows that all have the
    same length go one by one: h5py would read them back as one 2-D array and refuse it."""
    values = source[:]
    if h5py.check_vlen_dtype(source.dtype) is not None and len({len(row) for row in values}) == 1:
        for offset, row in enumerate(values):
            target[first + offset] = row
    else:
        target[first:] = values


def ensure_space(output: Path, what: str, needed: float) -> None:
    """Refuse a write that would not fit on the output's device. HDF5 can crash the process when the
    disk fills in the middle of a write, so the joined file's space is checked before it is written."""
    free = shutil.disk_usage(output.parent).free
    if free < needed:
        raise OutputError(
            f"cannot write {what} of {output}: no space left on the device (about {needed / 1e6:,.1f} MB needed, {free / 1e6:,.1f} MB free); "
            "finished chunks are kept, free space and rerun with --resume"
        )


def _raw_bytes(values: np.ndarray) -> int:
    if values.dtype != object:
        return values.nbytes
    return sum(len(v) if isinstance(v, (str, bytes)) else np.asarray(v).nbytes for v in values.flat)


@contextlib.contextmanager
def writing(output: Path, what: str, temporary: Path | None = None) -> Iterator[None]:
    """Turn a failed write (disk full, read-only folder) into one OutputError line; the half-written
    `temporary` is removed, and chunks already finished stay for `--resume`."""
    try:
        yield
    except OSError as error:
        full = error.errno == errno.ENOSPC or "No space left" in str(error)
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        reason = "no space left on the device" if full else (error.strerror or str(error).split("(")[0].strip())
        raise OutputError(f"cannot write {what} of {output}: {reason}; finished chunks are kept, free space and rerun with --resume") from None


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The run manifest stored in a results file (root attribute `run_manifest`), or None."""
    try:
        with h5py.File(path, "r") as handle:
            text = handle.attrs.get("run_manifest")
    except OSError:
        return None
    return json.loads(text) if isinstance(text, str) else None


def is_incomplete(path: Path) -> bool:
    """Whether `path` is the results file of a run stopped early (root attribute `complete` = 0)."""
    try:
        with h5py.File(path, "r") as handle:
            return int(handle.attrs.get("complete", 1)) == 0
    except OSError:
        return False
