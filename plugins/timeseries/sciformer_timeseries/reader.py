"""The read functions of the time-series readers: series from a file, then their windows on the fly."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sciformer.records import Record

from .series import WindowOptions, windows
from .suffixes import PARQUET_SUFFIXES


def read_table_windows(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """Windows of the series of a CSV, TSV or Parquet table."""
    from .tables import read_csv_series, read_parquet_series

    window = WindowOptions.parse(options)
    read = read_parquet_series if path.suffix.lower() in PARQUET_SUFFIXES else read_csv_series
    yield from windows(read(path, options), window)


def read_hdf5_windows(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """Windows of the series of an HDF5 / netCDF-4 file (one series per grid point or station)."""
    from .hdf5 import read_hdf5_series

    window = WindowOptions.parse(options)
    yield from windows(read_hdf5_series(path, options), window)
