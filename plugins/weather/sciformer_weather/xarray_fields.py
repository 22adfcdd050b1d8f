"""netCDF files and zarr stores through xarray, each (time, lat, lon) variable a channel.

xarray applies the CF conventions: packed values (`scale_factor`, `add_offset`) are unpacked,
`_FillValue` / `missing_value` become NaN and CF times become instants. netCDF4 files open with the
h5netcdf engine (with a chunk cache: netCDF chunks often span many time steps), netCDF3 with scipy
(or any engine xarray finds installed), zarr stores with zarr. Reads are lazy: only the requested
time indices are read.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import xarray as xr
from sciformer.errors import InputFileError

from .field_source import CHUNK_CACHE_BYTES, FieldSource, SourceSpec
from .grid import LATITUDE_NAMES, LONGITUDE_NAMES, TIME_NAMES, GridInfo

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
NETCDF3_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05")
OPEN_ERRORS = (OSError, ValueError, KeyError)  # what xarray's engines raise for a file they cannot read


def open_dataset(spec: SourceSpec) -> xr.Dataset:
    """The lazily read, CF-decoded dataset of a netCDF file or a zarr store."""
    path = Path(spec.path)
    try:
        if spec.kind == "zarr":
            return xr.open_zarr(path, chunks=None)
        with open(path, "rb") as handle:
            head = handle.read(8)
        if head == HDF5_MAGIC:  # netCDF4; phony dimensions name the axes of plain HDF5 datasets
            return xr.open_dataset(path, engine="h5netcdf", phony_dims="sort", cache=False, driver_kwds={"rdcc_nbytes": CHUNK_CACHE_BYTES})
        if head[:4] in NETCDF3_MAGIC:
            return xr.open_dataset(path, cache=False)
    except OPEN_ERRORS as error:
        what = "zarr store" if spec.kind == "zarr" else "netCDF file"
        raise InputFileError(f"{path}: not a readable {what} ({' '.join(str(error).split())})") from error
    raise InputFileError(f"{path}: not a netCDF file (neither netCDF4/HDF5 nor netCDF3 classic)")


class XarrayFields(FieldSource):
    """The (time, lat, lon) variables of a netCDF file or zarr store as channels (all of them by default)."""

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.dataset = open_dataset(spec)
        try:
            self.variables = spec.variables or field_variables(self.dataset)
            if not self.variables:
                raise InputFileError(f"{spec.path}: no (time, lat, lon) variable found; name them with the `variables` option")
            missing = [name for name in self.variables if name not in self.dataset.data_vars]
            if missing:
                raise InputFileError(f"{spec.path}: no variable(s) {missing} (variables: {sorted(map(str, self.dataset.data_vars))})")
            arrays = [self.dataset[name] for name in self.variables]
            bad = {name: array.dims for name, array in zip(self.variables, arrays) if array.ndim != 3}
            if bad:
                raise InputFileError(f"{spec.path}: variables must be (time, lat, lon); got {bad}")
            shapes = {name: array.shape for name, array in zip(self.variables, arrays)}
            if len(set(shapes.values())) != 1:
                raise InputFileError(f"{spec.path}: variables {list(self.variables)} have different shapes {shapes}")
            first = arrays[0]
            self.time_dim = first.dims[0]
            total, rows, cols = first.shape
            units = tuple(str(array.attrs.get("units", "")) for array in arrays)
            grid = GridInfo(
                self.variables,
                (rows, cols),
                _coordinate(self.dataset, first, 1, LATITUDE_NAMES, "latitude"),
                _coordinate(self.dataset, first, 2, LONGITUDE_NAMES, "longitude"),
                _times(self.dataset, first, spec.path),
                units if any(units) else None,
            )
            super().__init__(replace(spec, variables=self.variables), grid, total)
        except BaseException:
            self.dataset.close()
            raise

    def _read(self, start: int, stop: int) -> np.ndarray:
        window = {self.time_dim: slice(start, stop)}
        return np.stack([np.asarray(self.dataset[name].isel(window).values, dtype=np.float32) for name in self.variables], axis=1)

    def close(self) -> None:
        """Release the file or store."""
        self.dataset.close()


def field_variables(dataset: xr.Dataset) -> tuple[str, ...]:
    """Every 3-D data variable that is not a coordinate, in file order."""
    skip = {*LATITUDE_NAMES, *LONGITUDE_NAMES, *TIME_NAMES}
    return tuple(str(name) for name, array in dataset.data_vars.items() if array.ndim == 3 and name not in skip)


def _coordinate(dataset: xr.Dataset, variable: xr.DataArray, axis: int, names: tuple[str, ...], standard_name: str) -> tuple[float, ...] | None:
    """Degrees along `axis` of `variable`: its dimension's coordinate or a variable of that length named
    one of `names` or with that CF `standard_name`; None when there is none."""
    size = variable.shape[axis]
    for name in (variable.dims[axis], *names, *dataset.variables):
        if name not in dataset.variables:
            continue
        candidate = dataset[name]
        if candidate.shape == (size,) and (name in names or candidate.attrs.get("standard_name") == standard_name):
            return tuple(np.asarray(candidate.values, dtype=np.float64).tolist())
    return None


def _times(dataset: xr.Dataset, variable: xr.DataArray, path: str) -> tuple[int, ...] | None:
    """Seconds since 1970-01-01 UTC of each time index: the decoded time dimension's coordinate, or a
    variable named `time` / `valid_time`; None when there is none."""
    size = variable.shape[0]
    for name in (variable.dims[0], *TIME_NAMES):
        if name not in dataset.variables or dataset[name].shape != (size,):
            continue
        values = dataset[name].values
        if np.issubdtype(values.dtype, np.datetime64):
            if np.isnat(values).any():
                raise InputFileError(f"{path}: {name} has missing time stamps")
            return tuple(values.astype("datetime64[s]").astype(np.int64).tolist())
        if name in TIME_NAMES:
            units = dataset[name].attrs.get("units")
            raise InputFileError(f"{path}:{name}: time units {units!r} are not '<seconds|minutes|hours|days> since <date>'")
    return None
