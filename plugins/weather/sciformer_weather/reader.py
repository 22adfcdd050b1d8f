"""Records of the weather domain: one time index of a field file, input at t and target at t + lead.

Records hold lazy `FieldRef`s, so reading a year of global fields costs nothing until a tokenizer
loads a record. A folder ending in `.zarr` is a zarr store; any other folder is read as one file (or
store) per period (FourCastNet stores one HDF5 file per year); pairs never cross from one into the next.

For rollout training, the option `rollout` (k, default 1) gives each record the targets at lead, 2 lead,
..., k lead (`RolloutTargets`), and only records whose k targets all lie in the file or its window.

For scoring, the option `leads` (e.g. `1,6,24`) yields every time index instead, each with the truths
at those leads (`LeadTruths`; None where a lead falls beyond the file or its time window), so a
forecast can be scored at every lead for which the file holds the truth. With `all_leads` (true), only
the time indices whose truth at every lead lies in the file or its window are yielded, so every lead is
scored on the same initial times (`sciformer weather evaluate`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sciformer.errors import ConfigError, InputFileError
from sciformer.records import Record

from .sources import FieldRef, open_source, source_spec
from .suffixes import HDF5_SUFFIXES, NETCDF_SUFFIXES, ZARR_SUFFIXES

log = logging.getLogger(__name__)


def lead_option(options: Mapping[str, Any]) -> int:
    """Reader option `lead`: time steps between input and target (default 1; 0 yields inputs without targets)."""
    return _count_option(options, "lead", 1, 0)


def rollout_option(options: Mapping[str, Any]) -> int:
    """Reader option `rollout`: targets per record, one per model step of a rollout (default 1: one target)."""
    return _count_option(options, "rollout", 1, 1)


def _count_option(options: Mapping[str, Any], name: str, default: int, minimum: int) -> int:
    """An integer reader option of at least `minimum`, or its default."""
    try:
        value = int(options.get(name, default))
    except (TypeError, ValueError):
        raise ConfigError(f"reader option {name} must be an integer, got {options.get(name)!r}") from None
    if value < minimum:
        raise ConfigError(f"reader option {name} must be at least {minimum}, got {value}")
    return value


def leads_option(options: Mapping[str, Any]) -> tuple[int, ...] | None:
    """Reader option `leads`: lead times to score, in time steps of the file (`1,6,24`, a list or one
    integer), sorted and unique; None when not given."""
    value = options.get("leads")
    if value is None or value == "":
        return None
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, (list, tuple)) else [value]
    try:
        leads = sorted({int(str(item).strip()) for item in items if str(item).strip()})
    except ValueError:
        raise ConfigError(f"reader option leads must be comma-separated positive integers (time steps), got {value!r}") from None
    if not leads or leads[0] < 1:
        raise ConfigError(f"reader option leads must be comma-separated positive integers (time steps), got {value!r}")
    return tuple(leads)


def all_leads_option(options: Mapping[str, Any]) -> bool:
    """Reader option `all_leads`: with `leads`, yield only the time indices that have the truth at every lead
    (true / false, default false)."""
    value = options.get("all_leads", False)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false", "1", "0"):
        raise ConfigError(f"reader option all_leads must be true or false, got {value!r}")
    return text in ("true", "1")


@dataclass(frozen=True)
class LeadTruths:
    """A scoring record's target: the truth at each lead (time steps of the file), None where the lead
    falls beyond the file or its window."""

    leads: tuple[int, ...]
    fields: tuple[FieldRef | None, ...]


@dataclass(frozen=True)
class RolloutTargets:
    """A rollout-training record's targets: the fields at lead, 2 lead, ..., k lead."""

    fields: tuple[FieldRef, ...]


def read_field_records(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """Records of a field file or a folder of them.

    Options: `lead` (default 1), `rollout` (targets at k successive leads, default 1), `leads` (scoring: every time index, with the truths at these leads;
    `lead` is then ignored), `all_leads` (with `leads`: only the time indices with every lead's truth), `dataset` (HDF5, default `fields`),
    `variables` (netCDF and zarr, default all (time, lat, lon) variables), `start` / `stop` (time window of each file). Record ids are the input's
    time (`2019-03-01T00:00`) when the file has time stamps, else its time index; in a folder they are
    prefixed with the file's stem.
    """
    lead = lead_option(options)
    leads = leads_option(options)
    if rollout_option(options) > 1 and not lead:
        raise ConfigError("reader option rollout needs a lead of at least 1")
    if path.is_dir() and path.suffix.lower() not in ZARR_SUFFIXES:
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in (*HDF5_SUFFIXES, *NETCDF_SUFFIXES, *ZARR_SUFFIXES))
        if not files:
            raise InputFileError(f"{path}: folder holds no HDF5 or netCDF field files or zarr stores")
        for file in files:
            yield from _file_records(file, options, lead, leads, prefix=f"{file.stem}/")
        return
    yield from _file_records(path, options, lead, leads, prefix="")


def _file_records(path: Path, options: Mapping[str, Any], lead: int, leads: tuple[int, ...] | None, prefix: str) -> Iterator[Record]:
    spec = source_spec(path, options)
    with open_source(spec) as source:
        grid, count, spec, offset = source.grid, len(source), source.spec, source.offset
    steps = rollout_option(options)
    if leads is None and count <= lead * steps:
        log.warning("%s: %d time step(s) give no input-target pair at lead %d", path, count, lead * steps)
    shape_only = replace(grid, times=None)
    times = grid.times or (None,) * count

    def ref(index: int) -> FieldRef | None:
        return FieldRef(spec, index, shape_only, times[index]) if index < count else None

    if leads is not None:
        last = max(count - leads[-1], 0) if all_leads_option(options) else count
    else:
        last = count - lead * steps if lead else count
    for index in range(last):
        label = grid.time_label(index) or str(offset + index)
        if leads is not None:
            target: Any = LeadTruths(leads, tuple(ref(index + step) for step in leads))
        elif steps > 1:
            target = RolloutTargets(tuple(ref(index + lead * step) for step in range(1, steps + 1)))
        else:
            target = ref(index + lead) if lead else None
        yield Record(id=f"{prefix}{label}", data=ref(index), target=target)
