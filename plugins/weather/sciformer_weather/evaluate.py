"""`sciformer weather evaluate`: a forecaster scored over a period of a field file at several leads, next to
persistence and climatology, by the scoring pipeline (`sciformer.scoring.score` with `ForecastScorer`).

The evaluation is a `sciformer score` run with reader options `leads`, `all_leads` (every lead scored on
the same initial times t in [start, stop - max(leads)), so every truth lies inside the period), `start` /
`stop` and `climatology`; its results file (the score layout of `scoring.py`: per-record `forecast`,
`truth`, `rmse_*` / `acc_*`, and their means in `skill/`) is the evaluation file, and `Evaluation` reads
the means back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from sciformer.checkpoint import read_checkpoint_info, resolve_model
from sciformer.data.results import STATUS_BAD, STATUS_SCORED
from sciformer.errors import ConfigError, InputFileError
from sciformer.plugins import PluginHost
from sciformer.scoring import score

from .matching import mismatch
from .options import WeatherOptions
from .scoring import FORECASTERS, SKILL_GROUP
from .sources import open_fields
from .stats import Climatology, compute_climatology

log = logging.getLogger(__name__)

SKILL_COLUMNS = tuple(f"{kind}_{name}" for kind in ("rmse", "acc") for name in FORECASTERS)


@dataclass
class Evaluation:
    """Mean skill over `samples` initial times (`skipped` had bad inputs): `rmse[name]` and `acc[name]` are
    (leads, channels) arrays for each of FORECASTERS; leads are in time steps of the file."""

    leads: list[int]
    channels: tuple[str, ...]
    samples: int
    skipped: int
    rmse: dict[str, np.ndarray]
    acc: dict[str, np.ndarray]

    @classmethod
    def read(cls, results: Path) -> Evaluation:
        """The means of a finished results file's `skill/` group, and its counts of scored and bad records."""
        with h5py.File(results, "r") as handle:
            group = handle[SKILL_GROUP]
            status = handle["status"][:]
            return cls(
                leads=[int(lead) for lead in group["rmse_model"].attrs["leads"]],
                channels=tuple(str(channel) for channel in group["rmse_model"].attrs["channels"]),
                samples=int((status == STATUS_SCORED).sum()),
                skipped=int((status == STATUS_BAD).sum()),
                rmse={name: group[f"rmse_{name}"][:] for name in FORECASTERS},
                acc={name: group[f"acc_{name}"][:] for name in FORECASTERS},
            )

    def rows(self) -> list[dict[str, Any]]:
        """One row per lead and channel with every forecaster's RMSE and ACC."""
        rows = []
        for i, lead in enumerate(self.leads):
            for c, channel in enumerate(self.channels):
                row: dict[str, Any] = {"lead": lead, "channel": channel}
                for name in FORECASTERS:
                    row[f"rmse_{name}"] = float(self.rmse[name][i, c])
                    row[f"acc_{name}"] = float(self.acc[name][i, c])
                rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {"samples": self.samples, "skipped": self.skipped, "leads": self.leads, "channels": list(self.channels), "scores": self.rows()}


def check_input(input_path: Path, options: Mapping[str, Any], weather: WeatherOptions, model: str) -> tuple[int, int]:
    """Refuse an input whose channels, grid, units or coordinates are not those the model (named `model`) was
    trained on, in one line (InputFileError; `matching.py`), before any work; returns its window's offset and length."""
    with open_fields(input_path, options) as fields:
        if fields.grid.channels != weather.channels or fields.grid.shape != weather.grid:
            raise InputFileError(
                f"{input_path}: channels {list(fields.grid.channels)} on a {fields.grid.shape} grid do not match the model's "
                f"{list(weather.channels)} on {weather.grid}"
            )
        problem = mismatch(fields.grid, weather, fields.spec.path, model)
        if problem:
            raise InputFileError(problem)
        return fields.offset, len(fields)


def period_climatology(input_path: Path, options: Mapping[str, Any], start: int, stop: int | None, kind: str, out: Path) -> Climatology:
    """The climatology of time indices [start, stop) of the input, checked to span enough days and saved to `out`."""
    with open_fields(input_path, options) as fields:
        climatology = compute_climatology(fields, start, stop, kind)
    climatology.check_days("weather evaluate --climatology-period")
    climatology.save(out)
    return climatology


def evaluate(
    model: str | Path,
    input_path: Path,
    leads: Sequence[int],
    climatology: Path,
    output: Path,
    host: PluginHost,
    *,
    options: Mapping[str, Any] | None = None,
    start: int = 0,
    stop: int | None = None,
    batch_size: int = 16,
    device: str = "cpu",
    dtype: str = "float32",
    overwrite: bool = False,
) -> Evaluation:
    """Score forecasts from every initial time t in [start, stop - max(leads)) of the input into `output`.

    `start` / `stop` are time indices of the input (of its window, for a selection file), so every truth
    lies inside [start, stop); leads are in time steps of the file, multiples of the model step. `options`
    are further reader options (`variables`, `dataset`); `climatology` is a file of `weather stats
    --climatology`; `batch_size` initial times are forecast together.
    """
    folder = resolve_model(str(model), host)
    weather = WeatherOptions.from_config(read_checkpoint_info(folder).config)
    leads = sorted({int(lead) for lead in leads})
    options = dict(options or {})
    offset, total = check_input(input_path, options, weather, folder.name)
    stop = total if stop is None else stop
    if not 0 <= start < stop - leads[-1] or stop > total:
        raise ConfigError(f"no initial time in [{start}, {stop}) leaves room for a {leads[-1]}-step lead (the input has {total} steps)")
    reader = {
        **options,
        "leads": ",".join(str(lead) for lead in leads),
        "all_leads": True,
        "start": offset + start,
        "stop": offset + stop,
        "climatology": str(climatology),
    }
    summary = score(
        folder, input_path, output, host, options=reader, outputs=("forecast", "truth", *SKILL_COLUMNS),
        batch_tokens=batch_size * weather.num_tokens, device=device, dtype=dtype, overwrite=overwrite,
    )  # fmt: skip
    if summary.scored == 0:
        raise InputFileError(f"{input_path}: every initial time in [{start}, {stop - leads[-1]}) has non-finite values")
    if summary.bad:
        log.warning("%d initial time(s) with non-finite inputs were skipped (status 1 in %s)", summary.bad, output)
    return Evaluation.read(output)
