"""A field file -> an HDF5 file in FourCastNet's layout (a chunk of time steps at a time), or a CF netCDF
file or zarr store for xarray."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import h5py
import numpy as np
import xarray as xr
from sciformer.errors import InputFileError

from .cf import CONVENTIONS, grid_coordinates, instants, write_dataset
from .sources import FieldSource
from .suffixes import NETCDF_SUFFIXES, ZARR_SUFFIXES

log = logging.getLogger(__name__)

CHUNK = 64  # time steps read and written at once


def write_fields(source: FieldSource, out: Path, *, start: int = 0, stop: int | None = None, attributes: Mapping[str, str] | None = None, compress: bool = True, overwrite: bool = False) -> Path:
    """Write time indices [start, stop) of `source` to `out`.

    An HDF5 file holds `fields` (time, channel, lat, lon) float32 with `channels` (and, when known,
    `units`) attributes, `latitude`, `longitude` (when known) and `time` (seconds since 1970-01-01 UTC,
    when known). `out` ending in `.nc` or `.zarr` gets a CF dataset instead (see `cf_fields`). The
    output is written under a temporary name and renamed when complete.
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise InputFileError(f"output {out} exists; pass --overwrite to replace it")
    stop = len(source) if stop is None else stop
    if not 0 <= start < stop <= len(source):
        raise InputFileError(f"time window [{start}, {stop}) is not within the source's {len(source)} time steps")
    grid = source.grid
    if out.suffix.lower() in (*NETCDF_SUFFIXES, *ZARR_SUFFIXES):
        dataset = cf_fields(source, start, stop, {"converted_from": str(source.spec.path), **(attributes or {})})
        netcdf_gzip = compress and out.suffix.lower() in NETCDF_SUFFIXES  # zarr compresses by default
        write_dataset(dataset, out, {name: {"zlib": True, "complevel": 4, "shuffle": True} for name in grid.channels} if netcdf_gzip else None)
        log.info("wrote %s fields %s to %s", source.spec.path, dataset[grid.channels[0]].shape, out)
        return out
    shape = (stop - start, len(grid.channels), *grid.shape)
    partial = out.with_name(out.name + ".partial")
    options = {"compression": "gzip", "compression_opts": 4, "shuffle": True} if compress else {}
    try:
        with h5py.File(partial, "w") as handle:
            fields = handle.create_dataset("fields", shape=shape, dtype=np.float32, chunks=(1, *shape[1:]), **options)
            fields.attrs["channels"] = list(grid.channels)
            if grid.units is not None:
                fields.attrs["units"] = list(grid.units)
            for first in range(start, stop, CHUNK):
                last = min(first + CHUNK, stop)
                fields[first - start : last - start] = source.read(first, last)
            if grid.latitudes is not None:
                handle.create_dataset("latitude", data=np.asarray(grid.latitudes, dtype=np.float64)).attrs["units"] = "degrees_north"
            if grid.longitudes is not None:
                handle.create_dataset("longitude", data=np.asarray(grid.longitudes, dtype=np.float64)).attrs["units"] = "degrees_east"
            if grid.times is not None:
                times = handle.create_dataset("time", data=np.asarray(grid.times[start:stop], dtype=np.int64))
                times.attrs["units"] = "seconds since 1970-01-01 00:00:00"
            handle.attrs["converted_from"] = str(source.spec.path)
            for key, value in (attributes or {}).items():
                handle.attrs[key] = value
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    log.info("wrote %s fields %s to %s", source.spec.path, shape, out)
    return out


def cf_fields(source: FieldSource, start: int, stop: int, attributes: Mapping[str, str]) -> xr.Dataset:
    """Time indices [start, stop) of `source` as a CF dataset held in memory: one (time, latitude,
    longitude) float32 variable per channel with its units, and the coordinates that are known."""
    grid = source.grid
    fields = source.read(start, stop)  # (T, C, H, W)
    units = grid.units or ("",) * len(grid.channels)
    variables = {
        name: (("time", "latitude", "longitude"), fields[:, c], {"units": unit} if unit else {})
        for c, (name, unit) in enumerate(zip(grid.channels, units))
    }
    coordinates: dict = grid_coordinates(grid.latitudes, grid.longitudes)
    if grid.times is not None:
        coordinates["time"] = xr.Variable("time", instants(grid.times[start:stop]), {"standard_name": "time", "long_name": "time"})
    return xr.Dataset(variables, coordinates, attrs={"Conventions": CONVENTIONS, **attributes})
