"""netCDF variables as float arrays: netCDF4 through h5py, netCDF3 (classic) through scipy.

Packed values (`scale_factor`, `add_offset`) are unpacked and `_FillValue` / `missing_value` become NaN,
as CF conventions say. Reading is lazy: only the requested time indices are read.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from sciformer.errors import InputFileError

NETCDF3_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
LATITUDE_NAMES = ("latitude", "lat")
LONGITUDE_NAMES = ("longitude", "lon")
TIME_NAMES = ("time", "valid_time")
CHUNK_CACHE_BYTES = 64 << 20  # HDF5 chunk cache per variable: netCDF chunks often span many time steps
SECONDS = {"second": 1, "seconds": 1, "s": 1, "minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "h": 3600, "day": 86400, "days": 86400}


def netcdf_flavour(path: Path) -> str:
    """"netcdf4" (HDF5-based) or "netcdf3" (classic), from the file's first bytes."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError as error:
        raise InputFileError(f"{path}: cannot be opened ({error})") from error
    if head.startswith(HDF5_MAGIC):
        return "netcdf4"
    if head[:4] in NETCDF3_MAGIC:
        return "netcdf3"
    raise InputFileError(f"{path}: not a netCDF file (neither netCDF4/HDF5 nor netCDF3 classic)")


class NetcdfFile:
    """An open netCDF file: variable names, attributes and lazy reads, whichever its flavour."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.flavour = netcdf_flavour(self.path)
        self._cache: dict[str, Any] = {}  # variable objects kept, so their chunk cache survives between reads
        if self.flavour == "netcdf4":
            import h5py

            self._handle: Any = h5py.File(self.path, "r", rdcc_nbytes=CHUNK_CACHE_BYTES)
        else:
            from scipy.io import netcdf_file

            self._handle = netcdf_file(self.path, "r", mmap=True)

    def close(self) -> None:
        """Release the file."""
        self._cache.clear()
        self._handle.close()

    def __enter__(self) -> "NetcdfFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _variables(self) -> Mapping[str, Any]:
        return self._handle if self.flavour == "netcdf4" else self._handle.variables

    def names(self) -> list[str]:
        """Variable names (netCDF4 dimension-only entries excluded)."""
        import h5py

        if self.flavour == "netcdf3":
            return list(self._handle.variables)
        return [name for name, item in self._handle.items() if isinstance(item, h5py.Dataset)]

    def has(self, name: str) -> bool:
        """Whether a variable of that name exists."""
        return name in self.names()

    def shape(self, name: str) -> tuple[int, ...]:
        """Shape of a variable."""
        return tuple(self._variable(name).shape)

    def attribute(self, name: str, key: str) -> Any:
        """An attribute of a variable (bytes decoded, one-element arrays unwrapped), or None."""
        variable = self._variable(name)
        attrs = variable.attrs if self.flavour == "netcdf4" else variable._attributes
        if key not in attrs:
            return None
        value = attrs[key]
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        if isinstance(value, np.ndarray) and value.size == 1:
            return value.reshape(()).item()
        return value

    def _variable(self, name: str) -> Any:
        if name not in self._cache:
            variables = self._variables()
            if name not in variables:
                raise InputFileError(f"{self.path}: no variable {name!r} (variables: {sorted(self.names())})")
            self._cache[name] = variables[name]
        return self._cache[name]

    def read(self, name: str, selection: slice | int | tuple = slice(None)) -> np.ndarray:
        """Values of a variable as float (unpacked; fill and missing values -> NaN)."""
        raw = np.array(self._variable(name)[selection])  # a copy: safe after the file closes
        values = raw.astype(np.float64 if raw.dtype == np.float64 else np.float32)
        missing = np.zeros(raw.shape, dtype=bool)
        for key in ("_FillValue", "missing_value"):
            fill = self.attribute(name, key)
            if fill is not None and not (isinstance(fill, float) and np.isnan(fill)):
                missing |= raw == np.asarray(fill, dtype=raw.dtype)
        scale, offset = self.attribute(name, "scale_factor"), self.attribute(name, "add_offset")
        if scale is not None:
            values = values * np.float32(scale)
        if offset is not None:
            values = values + np.float32(offset)
        values[missing] = np.nan
        return values

    def coordinate(self, names: tuple[str, ...]) -> np.ndarray | None:
        """The first present coordinate variable of `names`, or None."""
        for name in names:
            if self.has(name):
                return self.read(name).astype(np.float64)
        return None

    def times(self) -> np.ndarray | None:
        """(T,) seconds since 1970-01-01 UTC from a CF time variable, or None."""
        for name in TIME_NAMES:
            if self.has(name):
                return cf_seconds(np.array(self._variable(name)[:]), self.attribute(name, "units"), f"{self.path}:{name}")
        return None


def cf_seconds(values: np.ndarray, units: str | None, where: str) -> np.ndarray:
    """CF times ("hours since 1900-01-01 00:00:00.0", ...) -> int64 seconds since 1970-01-01 UTC."""
    match = re.match(r"\s*(\w+)\s+since\s+(\d{1,4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?", units or "")
    if not match or match.group(1).lower() not in SECONDS:
        raise InputFileError(f"{where}: time units {units!r} are not '<seconds|minutes|hours|days> since <date>'")
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups()[1:])
    epoch = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.timezone.utc)
    offset = int((epoch - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)).total_seconds())
    return np.round(np.asarray(values, dtype=np.float64) * SECONDS[match.group(1).lower()]).astype(np.int64) + offset
