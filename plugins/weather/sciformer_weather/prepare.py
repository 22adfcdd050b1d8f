"""Completing a weather model's settings from its training records: grid, channels, coordinates, statistics."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from sciformer.config import ModelConfig
from sciformer.errors import ConfigError
from sciformer.records import Record

from .reader import RolloutTargets
from .sources import FieldRef
from .stats import record_stats

log = logging.getLogger(__name__)


def complete_config(config: ModelConfig, records: Sequence[Record]) -> ModelConfig:
    """Fill in what the records say and the configuration does not: channels, their units, grid, latitudes,
    longitudes, model step (the records' lead, a rollout's first) and per-channel mean / std of the input fields. Given values
    are kept."""
    usable = [r for r in records if not r.error and r.data is not None]
    if not usable:
        raise ConfigError("no usable weather records to learn the grid and normalisation statistics from")
    options: dict[str, Any] = dict(config.domain_options)
    first = usable[0]
    if isinstance(first.data, FieldRef):
        grid = first.data.grid
        options.setdefault("channels", list(grid.channels))
        options.setdefault("grid", list(grid.shape))
        if grid.units is not None:
            options.setdefault("units", list(grid.units))
        if grid.latitudes is not None:
            options.setdefault("latitudes", list(grid.latitudes))
        if grid.longitudes is not None:
            options.setdefault("longitudes", list(grid.longitudes))
        target = first.target.fields[0] if isinstance(first.target, RolloutTargets) else first.target
        if isinstance(target, FieldRef):
            options.setdefault("step", target.index - first.data.index)
            if target.time is not None and first.data.time is not None:
                options.setdefault("step_hours", (target.time - first.data.time) / 3600.0)
    else:
        shape = np.shape(first.data)
        if len(shape) == 2:
            shape = (1, *shape)
        if len(shape) != 3:
            raise ConfigError(f"record {first.id!r}: a weather field is (channel, lat, lon), got shape {shape}")
        options.setdefault("channels", [f"c{i}" for i in range(shape[0])])
        options.setdefault("grid", list(shape[1:]))
    if "mean" not in options or "std" not in options:
        stats = record_stats(usable, options["channels"])
        options.setdefault("mean", list(stats.mean))
        options.setdefault("std", list(stats.std))
        log.info("weather statistics from %d training record(s): mean %s, std %s", len(usable), stats.mean, stats.std)
    return config.replace(domain_options=options)
