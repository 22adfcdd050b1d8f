"""Field sources: a (time, channel, lat, lon) array read lazily from HDF5, netCDF or zarr, over a time window.

HDF5 files follow FourCastNet's layout: one dataset `fields` of shape (time, channel, lat, lon), float.
Channel names come from the dataset's `channels` attribute (or a `channels` dataset), their units from
its optional `units` attribute (one per channel), coordinates from `latitude` / `longitude` (or `lat` /
`lon`) datasets and time stamps from a `time` dataset (CF units, seconds since 1970 when it has none).
netCDF files and zarr stores (folders ending in `.zarr`) hold one (time, lat, lon) variable per channel
and are read through xarray (`xarray_fields.py`).

A `SourceSpec` says how to open a source (it is small and picklable, so records can carry it into
worker processes; it and the `FieldSource` base are in `field_source.py`); `open_source(spec)` opens it. A selection file (`.json`) names a source and a time
window, so recipes can train on one period of a file and validate on another.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sciformer.errors import InputFileError

from .field_source import CHUNK_CACHE_BYTES, DEFAULT_DATASET, FieldSource, SourceSpec
from .grid import LATITUDE_NAMES, LONGITUDE_NAMES, GridInfo, cf_seconds
from .suffixes import HDF5_SUFFIXES, NETCDF_SUFFIXES, SELECTION_SUFFIXES, ZARR_SUFFIXES

SELECTION_KEYS = ("source", "variables", "dataset", "start", "stop")


class Hdf5Fields(FieldSource):
    """A FourCastNet-layout HDF5 file."""

    def __init__(self, spec: SourceSpec) -> None:
        import h5py

        self.spec = spec
        try:
            self.file = h5py.File(spec.path, "r", rdcc_nbytes=CHUNK_CACHE_BYTES)
        except OSError as error:
            raise InputFileError(f"{spec.path}: not a readable HDF5 file ({error})") from error
        try:
            if spec.dataset not in self.file:
                raise InputFileError(f"{spec.path}: no dataset {spec.dataset!r} (top-level entries: {sorted(self.file)})")
            self.fields = self.file[spec.dataset]
            if self.fields.ndim != 4:
                raise InputFileError(f"{spec.path}:{spec.dataset} has shape {self.fields.shape}; expected (time, channel, lat, lon)")
            if self.fields.dtype.kind != "f":
                raise InputFileError(f"{spec.path}:{spec.dataset} holds {self.fields.dtype}, expected floating-point fields")
            super().__init__(spec, self._grid(), self.fields.shape[0])
        except BaseException:
            self.file.close()
            raise

    def _grid(self) -> GridInfo:
        total, count, rows, cols = self.fields.shape
        names = self.fields.attrs.get("channels")
        if names is None and "channels" in self.file:
            names = self.file["channels"][:]
        channels = tuple(_text(n) for n in names) if names is not None else tuple(f"c{i}" for i in range(count))
        if len(channels) != count:
            raise InputFileError(f"{self.spec.path}: {len(channels)} channel names for {count} channels")
        lat = self._coordinate(LATITUDE_NAMES, rows)
        lon = self._coordinate(LONGITUDE_NAMES, cols)
        times = None
        if "time" in self.file:
            raw = self.file["time"]
            if raw.shape != (total,):
                raise InputFileError(f"{self.spec.path}: time has shape {raw.shape}, expected ({total},)")
            units = _text(raw.attrs.get("units", "seconds since 1970-01-01"))
            times = tuple(int(t) for t in cf_seconds(raw[:], units, f"{self.spec.path}:time"))
        channel_units = self.fields.attrs.get("units")
        if channel_units is not None and len(channel_units) != count:
            raise InputFileError(f"{self.spec.path}: {len(channel_units)} channel units for {count} channels")
        return GridInfo(channels, (rows, cols), lat, lon, times, None if channel_units is None else tuple(_text(u) for u in channel_units))

    def _coordinate(self, names: tuple[str, ...], size: int) -> tuple[float, ...] | None:
        for name in names:
            if name in self.file:
                values = np.asarray(self.file[name][:], dtype=np.float64)
                if values.shape != (size,):
                    raise InputFileError(f"{self.spec.path}: {name} has shape {values.shape}, expected ({size},)")
                return tuple(values.tolist())
        return None

    def _read(self, start: int, stop: int) -> np.ndarray:
        return np.asarray(self.fields[start:stop], dtype=np.float32)

    def close(self) -> None:
        """Release the file."""
        self.file.close()


def open_source(spec: SourceSpec) -> FieldSource:
    """Open a source described by `spec`."""
    exists = Path(spec.path).is_dir() if spec.kind == "zarr" else Path(spec.path).is_file()
    if not exists:
        raise InputFileError(f"field {'store' if spec.kind == 'zarr' else 'file'} not found: {spec.path}")
    if spec.kind == "hdf5":
        return Hdf5Fields(spec)
    if spec.kind in ("netcdf", "zarr"):
        from .xarray_fields import XarrayFields  # imported when first needed: xarray takes a second to import

        return XarrayFields(spec)
    raise InputFileError(f"{spec.path}: unknown source kind {spec.kind!r}")


def source_spec(path: str | Path, options: Mapping[str, Any] | None = None) -> SourceSpec:
    """The spec of a file by its suffix: HDF5, netCDF, a zarr store or a selection file; options `dataset`,
    `variables`, `start`, `stop`."""
    path = Path(path)
    options = dict(options or {})
    suffix = path.suffix.lower()
    if suffix in SELECTION_SUFFIXES:
        return read_selection(path, options)
    variables = options.get("variables") or ()
    if isinstance(variables, str):
        variables = tuple(v.strip() for v in variables.split(",") if v.strip())
    window = {"start": int(options.get("start") or 0), "stop": None if options.get("stop") is None else int(options["stop"])}
    if suffix in HDF5_SUFFIXES:
        return SourceSpec(str(path), "hdf5", dataset=options.get("dataset") or DEFAULT_DATASET, **window)
    if suffix in NETCDF_SUFFIXES:
        return SourceSpec(str(path), "netcdf", variables=tuple(variables), **window)
    if suffix in ZARR_SUFFIXES:
        return SourceSpec(str(path), "zarr", variables=tuple(variables), **window)
    accepted = [*HDF5_SUFFIXES, *NETCDF_SUFFIXES, *ZARR_SUFFIXES, *SELECTION_SUFFIXES]
    raise InputFileError(f"{path}: unknown field file type {suffix or '(none)'} (accepted: {accepted})")


def read_selection(path: Path, options: Mapping[str, Any] | None = None) -> SourceSpec:
    """A selection file: {"source": FILE, "variables": [...], "dataset": ..., "start": i, "stop": j}.

    `source` is relative to the selection file's folder, `$VARS` expanded. `start` / `stop` select time
    indices [start, stop) of the source. Reader options given beside it override its keys.
    """
    try:
        selection = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InputFileError(f"{path}: not a readable selection file ({error})") from error
    if not isinstance(selection, dict) or "source" not in selection:
        raise InputFileError(f"{path}: a selection file is a JSON object with at least 'source'")
    unknown = sorted(set(selection) - set(SELECTION_KEYS))
    if unknown:
        raise InputFileError(f"{path}: unknown selection key(s) {unknown}; known: {list(SELECTION_KEYS)}")
    source = Path(os.path.expandvars(str(selection["source"]))).expanduser()
    if not source.is_absolute():
        source = (Path(path).parent / source).resolve()
    if source.suffix.lower() in SELECTION_SUFFIXES:
        raise InputFileError(f"{path}: a selection's source must be a field file, not another selection")
    merged = {k: v for k, v in selection.items() if k != "source"}
    merged.update({k: v for k, v in (options or {}).items() if k in SELECTION_KEYS and v is not None})
    return source_spec(source, merged)


def open_fields(path: str | Path, options: Mapping[str, Any] | None = None) -> FieldSource:
    """Open a field file (HDF5, netCDF, zarr store or selection) with reader options."""
    return open_source(source_spec(path, options))


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class FieldRef:
    """A lazy reference to the field at time index `index` of a source; `load()` reads it.

    Records carry these instead of arrays so a reader stays lazy however large the fields are.
    `grid` describes the source (without time stamps) for code that learns settings from records.
    """

    spec: SourceSpec
    index: int
    grid: GridInfo = field(compare=False)
    time: int | None = None  # seconds since 1970-01-01 UTC, when the source has time stamps

    @property
    def hour(self) -> float | None:
        """UTC hour of day (fractional), or None without a time stamp."""
        return None if self.time is None else (self.time % 86400) / 3600.0

    def load(self) -> np.ndarray:
        """(C, H, W) float32, through this process's cache of open sources."""
        return OPEN_SOURCES.read(self.spec, self.index)


class SourceCache:
    """Sources kept open per process, so the records of one file share a handle and its chunk cache.

    netCDF files are often compressed in chunks spanning many time steps; reopening the file for each
    record would decompress a chunk per record. Entries are keyed by process id as well, so a worker
    process never uses a handle its parent opened. The least recently used source is closed beyond
    `capacity`. Each source also keeps the last block of consecutive time steps it read (up to
    BLOCK_STEPS, and BLOCK_BYTES in all): records are read in time order, and a scoring record loads its
    input and the truths at several leads, so most reads are of a block already in memory.
    """

    BLOCK_STEPS = 64
    BLOCK_BYTES = 64 * 2**20

    def __init__(self, capacity: int = 4) -> None:
        self.capacity = capacity
        self._open: OrderedDict[tuple[int, SourceSpec], FieldSource] = OrderedDict()
        self._blocks: dict[tuple[int, SourceSpec], tuple[int, np.ndarray]] = {}
        self._lock = threading.Lock()

    def read(self, spec: SourceSpec, index: int) -> np.ndarray:
        """Field `index` of the source `spec`."""
        key = (os.getpid(), spec)
        with self._lock:
            source = self._open.pop(key, None)
            if source is None:
                source = open_source(spec)
            self._open[key] = source
            while len(self._open) > self.capacity:
                (pid, oldest_spec), oldest = self._open.popitem(last=False)
                self._blocks.pop((pid, oldest_spec), None)
                if pid == os.getpid():
                    oldest.close()
            first, block = self._blocks.get(key, (0, None))
            if block is None or not first <= index < first + len(block):
                step_bytes = 4 * len(source.grid.channels) * source.grid.shape[0] * source.grid.shape[1]
                steps = max(1, min(self.BLOCK_STEPS, self.BLOCK_BYTES // step_bytes, len(source) - index))
                first, block = index, source.read(index, index + steps)
                self._blocks[key] = (first, block)
            return block[index - first].copy()

    def clear(self) -> None:
        """Close every source this process opened."""
        with self._lock:
            for (pid, _), source in self._open.items():
                if pid == os.getpid():
                    source.close()
            self._open.clear()
            self._blocks.clear()


OPEN_SOURCES = SourceCache()
