"""CF-convention coordinates, and writing datasets as netCDF4 (through h5netcdf) or zarr stores."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from sciformer.errors import OutputError

from .suffixes import ZARR_SUFFIXES

CONVENTIONS = "CF-1.8"
LATITUDE = {"standard_name": "latitude", "long_name": "latitude", "units": "degrees_north"}
LONGITUDE = {"standard_name": "longitude", "long_name": "longitude", "units": "degrees_east"}


def grid_coordinates(latitudes: Sequence[float] | None, longitudes: Sequence[float] | None) -> dict[str, xr.Variable]:
    """`latitude` and `longitude` coordinates in degrees, those that are known."""
    coordinates = {}
    for name, values, attributes in (("latitude", latitudes, LATITUDE), ("longitude", longitudes, LONGITUDE)):
        if values is not None:
            coordinates[name] = xr.Variable(name, np.asarray(values, dtype=np.float64), attributes)
    return coordinates


def instants(seconds: Sequence[float] | np.ndarray) -> np.ndarray:
    """Seconds since 1970-01-01 UTC -> datetime64[s]."""
    return np.round(np.asarray(seconds, dtype=np.float64)).astype(np.int64).astype("datetime64[s]")


def write_dataset(dataset: xr.Dataset, out: Path, encoding: dict[str, dict[str, Any]] | None = None) -> Path:
    """Write `dataset` as a zarr store (`out` ends in `.zarr`) or netCDF4, under a temporary name renamed
    into place when complete (an existing `out` is replaced)."""
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    _remove(partial)
    try:
        if out.suffix.lower() in ZARR_SUFFIXES:
            dataset.to_zarr(partial, mode="w", encoding=encoding, zarr_format=2, consolidated=True)  # the format every zarr reader knows
        else:
            dataset.to_netcdf(partial, engine="h5netcdf", encoding=encoding)
        _remove(out)
        os.replace(partial, out)
    except OSError as error:
        raise OutputError(f"cannot write {out}: {error.strerror or error}") from None
    finally:
        _remove(partial)
    return out


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
