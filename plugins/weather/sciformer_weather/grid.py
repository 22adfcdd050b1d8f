"""What a gridded dataset says about itself: channel names, coordinates, time stamps; latitude weights."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
from sciformer.errors import ConfigError, InputFileError

LATITUDE_NAMES = ("latitude", "lat")
LONGITUDE_NAMES = ("longitude", "lon")
TIME_NAMES = ("time", "valid_time")
SECONDS = {"second": 1, "seconds": 1, "s": 1, "minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "h": 3600, "day": 86400, "days": 86400}


@dataclass(frozen=True)
class GridInfo:
    """Channel names and coordinates of a (time, channel, lat, lon) dataset.

    `latitudes` (H,) and `longitudes` (W,) in degrees, None when the file does not give them;
    `times` (T,) seconds since 1970-01-01 UTC, None when unknown; `units` (C,) each channel's units
    ("" where a channel has none), None when the file gives none.
    """

    channels: tuple[str, ...]
    shape: tuple[int, int]
    latitudes: tuple[float, ...] | None = None
    longitudes: tuple[float, ...] | None = None
    times: tuple[int, ...] | None = None
    units: tuple[str, ...] | None = None

    def time_label(self, index: int) -> str | None:
        """ISO time of time index `index` (UTC, minutes), or None without time stamps."""
        if self.times is None:
            return None
        return dt.datetime.fromtimestamp(self.times[index], dt.timezone.utc).strftime("%Y-%m-%dT%H:%M")

    def hours_of_day(self) -> np.ndarray | None:
        """(T,) UTC hour of each time index, or None without time stamps."""
        if self.times is None:
            return None
        return (np.asarray(self.times, dtype=np.int64) // 3600) % 24


def latitude_weights(latitudes: np.ndarray | tuple[float, ...] | None, rows: int) -> np.ndarray:
    """(H,) cos(latitude) weights normalised to mean 1 (uniform when latitudes are unknown).

    These are the area weights of FourCastNet's and WeatherBench's latitude-weighted RMSE and ACC.
    """
    if latitudes is None:
        return np.ones(rows, dtype=np.float64)
    lat = np.asarray(latitudes, dtype=np.float64)
    if lat.shape != (rows,):
        raise ConfigError(f"{lat.shape[0]} latitudes given for a grid of {rows} rows")
    if np.any(np.abs(lat) > 90):
        raise ConfigError(f"latitudes must lie in [-90, 90], got range [{lat.min()}, {lat.max()}]")
    weights = np.cos(np.deg2rad(lat))
    if weights.sum() <= 0:
        raise ConfigError("latitude weights sum to zero (a grid of poles only)")
    return weights / weights.mean()


def cf_seconds(values: np.ndarray, units: str | None, where: str) -> np.ndarray:
    """CF times ("hours since 1900-01-01 00:00:00.0", ...) -> int64 seconds since 1970-01-01 UTC."""
    match = re.match(r"\s*(\w+)\s+since\s+(\d{1,4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?", units or "")
    if not match or match.group(1).lower() not in SECONDS:
        raise InputFileError(f"{where}: time units {units!r} are not '<seconds|minutes|hours|days> since <date>'")
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups()[1:])
    epoch = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.timezone.utc)
    offset = int((epoch - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)).total_seconds())
    return np.round(np.asarray(values, dtype=np.float64) * SECONDS[match.group(1).lower()]).astype(np.int64) + offset
