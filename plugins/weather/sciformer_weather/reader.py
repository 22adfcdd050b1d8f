"""Records of the weather domain: one time index of a field file, input at t and target at t + lead.

Records hold lazy `FieldRef`s, so reading a year of global fields costs nothing until a tokenizer
loads a record. A folder is read as one file per period (FourCastNet stores one HDF5 file per year);
pairs never cross from one file into the next.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator, Mapping

from sciformer.errors import ConfigError, InputFileError
from sciformer.records import Record

from .sources import HDF5_SUFFIXES, NETCDF_SUFFIXES, FieldRef, open_source, source_spec

log = logging.getLogger(__name__)


def lead_option(options: Mapping[str, Any]) -> int:
    """Reader option `lead`: time steps between input and target (default 1; 0 yields inputs without targets)."""
    try:
        lead = int(options.get("lead", 1))
    except (TypeError, ValueError):
        raise ConfigError(f"reader option lead must be an integer, got {options.get('lead')!r}") from None
    if lead < 0:
        raise ConfigError(f"reader option lead must not be negative, got {lead}")
    return lead


def read_field_records(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """Records of a field file or a folder of them.

    Options: `lead` (default 1), `dataset` (HDF5, default `fields`), `variables` (netCDF, default all
    (time, lat, lon) variables), `start` / `stop` (time window of each file). Record ids are the input's
    time (`2019-03-01T00:00`) when the file has time stamps, else its time index; in a folder they are
    prefixed with the file's stem.
    """
    lead = lead_option(options)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in (*HDF5_SUFFIXES, *NETCDF_SUFFIXES))
        if not files:
            raise InputFileError(f"{path}: folder holds no HDF5 or netCDF field files")
        for file in files:
            yield from _file_records(file, options, lead, prefix=f"{file.stem}/")
        return
    yield from _file_records(path, options, lead, prefix="")


def _file_records(path: Path, options: Mapping[str, Any], lead: int, prefix: str) -> Iterator[Record]:
    spec = source_spec(path, options)
    with open_source(spec) as source:
        grid, count, spec, offset = source.grid, len(source), source.spec, source.offset
    if count <= lead:
        log.warning("%s: %d time step(s) give no input-target pair at lead %d", path, count, lead)
    shape_only = replace(grid, times=None)
    last = count - lead if lead else count
    times = grid.times or (None,) * count
    for index in range(last):
        label = grid.time_label(index) or str(offset + index)
        target = FieldRef(spec, index + lead, shape_only, times[index + lead]) if lead else None
        yield Record(id=f"{prefix}{label}", data=FieldRef(spec, index, shape_only, times[index]), target=target)
