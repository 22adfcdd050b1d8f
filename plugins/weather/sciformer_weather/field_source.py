"""What every field source shares: `SourceSpec`, how to open one (small and picklable), and `FieldSource`,
an open (time, channel, lat, lon) array read over a time window. `sources.py` opens HDF5 files itself and
netCDF / zarr through `xarray_fields.py`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, replace

import numpy as np
from sciformer.errors import InputFileError
from typing_extensions import Self

from .grid import GridInfo

DEFAULT_DATASET = "fields"
CHUNK_CACHE_BYTES = 64 << 20  # HDF5 chunk cache per dataset: netCDF chunks often span many time steps


@dataclass(frozen=True)
class SourceSpec:
    """How to open one source: a file, its format, which dataset / variables, and a time window [start, stop)."""

    path: str
    kind: str  # "hdf5", "netcdf" or "zarr"
    dataset: str = DEFAULT_DATASET
    variables: tuple[str, ...] = ()
    start: int = 0
    stop: int | None = None


class FieldSource(abc.ABC):
    """An open source: `grid` describes it, `read(start, stop)` returns (n, C, H, W) float32 within the window."""

    def __init__(self, spec: SourceSpec, grid: GridInfo, total: int) -> None:
        start, stop = spec.start, total if spec.stop is None else spec.stop
        if not 0 <= start <= stop <= total:
            raise InputFileError(f"{spec.path}: time window [{start}, {stop}) lies outside the file's {total} time steps")
        self.spec = spec
        self.offset = start
        self.length = stop - start
        times = grid.times[start:stop] if grid.times is not None else None
        self.grid = replace(grid, times=times)

    def __len__(self) -> int:
        return self.length

    def read(self, start: int, stop: int | None = None) -> np.ndarray:
        """Fields of time indices [start, stop) of the window (one index when stop is None: (C, H, W))."""
        single = stop is None
        stop = start + 1 if stop is None else stop
        if not 0 <= start < stop <= self.length:
            raise IndexError(f"{self.spec.path}: time indices [{start}, {stop}) outside 0..{self.length - 1}")
        fields = self._read(self.offset + start, self.offset + stop)
        return fields[0] if single else fields

    @abc.abstractmethod
    def _read(self, start: int, stop: int) -> np.ndarray:
        """(stop - start, C, H, W) float32 of absolute file indices."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the file."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
