"""netCDF (or another field file) -> an HDF5 file in FourCastNet's layout, a chunk of time steps at a time."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Mapping

import h5py
import numpy as np

from sciformer.errors import InputFileError

from .sources import FieldSource

log = logging.getLogger(__name__)

CHUNK = 64  # time steps read and written at once


def write_fields(source: FieldSource, out: Path, *, start: int = 0, stop: int | None = None, attributes: Mapping[str, str] | None = None, compress: bool = True, overwrite: bool = False) -> Path:
    """Write time indices [start, stop) of `source` to `out`.

    The file holds `fields` (time, channel, lat, lon) float32 with a `channels` attribute, `latitude`,
    `longitude` (when known) and `time` (seconds since 1970-01-01 UTC, when known). It is written
    under a temporary name and renamed when complete.
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise InputFileError(f"output {out} exists; pass --overwrite to replace it")
    stop = len(source) if stop is None else stop
    if not 0 <= start < stop <= len(source):
        raise InputFileError(f"time window [{start}, {stop}) is not within the source's {len(source)} time steps")
    grid = source.grid
    shape = (stop - start, len(grid.channels), *grid.shape)
    partial = out.with_name(out.name + ".partial")
    options = {"compression": "gzip", "compression_opts": 4, "shuffle": True} if compress else {}
    try:
        with h5py.File(partial, "w") as handle:
            fields = handle.create_dataset("fields", shape=shape, dtype=np.float32, chunks=(1, *shape[1:]), **options)
            fields.attrs["channels"] = list(grid.channels)
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
