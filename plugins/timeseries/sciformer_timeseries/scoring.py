"""`sciformer score` for forecasters: the forecast of every window and, where the file holds the truth,
its errors next to two naive baselines and, with the option `ets`, exponential smoothing on the same windows.

Per record (N rows), C channels, H steps:

    forecast               (H, C)  the model's forecast, in the series' units
    truth                  (H, C)  the file's values after the context, NaN where unknown (not by default)
    mse_<forecaster>       (C,)    forecaster: model, persistence, seasonal (with the option `season`),
    mae_<forecaster>       (C,)    ets (with `ets: true`); over the known truth values; NaN without any
    squared_error_<forecaster>  (H, C)  each step's squared error, NaN where unknown (not by default)

and in the finished file `skill/<column>` (C,), the means over the scored rows with a value (with
`squared_error_<forecaster>` asked for: `skill/squared_error_<forecaster>` (H, C), the MSE of each step), `skill/samples`
(C,) how many, `skill/ets_failed` (C,) the rows with a truth whose ETS fit failed (NaN, left out of the
means), and the same as JSON in the root attribute `skill`. Rows are computed from their own
window only, so chunks, resumed runs and shards give the same file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import h5py
import numpy as np
from sciformer.data.batch import TokenBatch
from sciformer.data.results import STATUS_SCORED
from sciformer.engine.heads import ScoreColumn
from sciformer.engine.model import ModelOutput, SciformerModel
from sciformer.errors import ConfigError
from sciformer.scoring.scorer import Scorer

from .baselines import channel_errors, persistence, seasonal_naive
from .ets import ets_forecast, seasonal_period
from .forecaster_settings import window_options
from .generate import record_seed, sample_paths
from .transformer_options import is_transformer

log = logging.getLogger(__name__)

SKILL_GROUP = "skill"
METRICS = ("mse", "mae")


def season_option(options: Mapping[str, Any], context: int) -> int | None:
    """Reader option `season`: the seasonal-naive period in time steps (1 to the context length), or None."""
    value = options.get("season")
    if value in (None, ""):
        return None
    try:
        season = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"option season must be an integer number of time steps, got {value!r}") from None
    if not 1 <= season <= context:
        raise ConfigError(f"option season must be between 1 and the model's context length ({context}), got {season}")
    return season


def positive_option(options: Mapping[str, Any], name: str, default: int, minimum: int = 1) -> int:
    """An integer scoring option (`samples`, `seed`) of at least `minimum`, or its default."""
    value = options.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"option {name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"option {name} must be at least {minimum}, got {number}")
    return number


def ets_option(options: Mapping[str, Any]) -> bool:
    """Reader option `ets`: whether to score the exponential-smoothing baseline (default false)."""
    value = str(options.get("ets", "false")).lower()
    if value not in ("true", "false", "1", "0"):
        raise ConfigError(f"option ets must be true or false, got {options.get('ets')!r}")
    return value in ("true", "1")


class ForecastScorer(Scorer):
    """The engine's columns, the forecast and, for windows with a truth, errors of the model and the baselines."""

    def __init__(self, model: SciformerModel, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(model, options)
        self.series = window_options(model.config)
        self.season = season_option(self.options, self.series.context_steps)
        self.ets = ets_option(self.options)
        self.ets_failure: str | None = None  # the first failed ETS fit of this run, for the summary's warning
        self.sampled = is_transformer(model.config)  # forecasts are means of sampled paths (generate.py)
        if self.sampled:
            self.samples = positive_option(self.options, "samples", self.series.num_parallel_samples)
            self.seed = positive_option(self.options, "seed", 0, minimum=0)
        if self.season is None:
            log.info("no option season: the seasonal-naive baseline is left out")

    @property
    def forecasters(self) -> tuple[str, ...]:
        """The forecasters scored against the truth."""
        seasonal = ("seasonal",) if self.season is not None else ()
        return ("model", "persistence", *seasonal, *(("ets",) if self.ets else ()))

    @property
    def skill_names(self) -> tuple[str, ...]:
        """The per-record error columns."""
        return tuple(f"{metric}_{name}" for metric in METRICS for name in self.forecasters)

    @property
    def step_names(self) -> tuple[str, ...]:
        """The per-record, per-step squared-error columns (not written by default)."""
        return tuple(f"squared_error_{name}" for name in self.forecasters)

    def _attributes(self) -> dict[str, Any]:
        attributes: dict[str, Any] = {"layout": "(channel,)", "horizon": self.series.prediction_length}
        if self.series.channels:
            attributes["channels"] = list(self.series.channels)
        if self.season is not None:
            attributes["season"] = self.season
        if self.ets:
            period = seasonal_period(self.series.context_steps, self.season)
            season = f"additive season of {period} steps" if period else "no season"
            attributes["ets"] = f"Holt-Winters exponential smoothing, additive damped trend, {season}"
        return attributes

    def columns(self) -> dict[str, ScoreColumn]:
        """The engine's and the head's columns, `truth`, and the error columns."""
        columns = super().columns()
        forecast = columns["forecast"]
        columns["truth"] = ScoreColumn(
            forecast.shape, attributes={**forecast.attributes, "units": "the series' units; NaN where unknown"}, default=False
        )
        for name in self.skill_names:
            metric = "mean squared error" if name.startswith("mse") else "mean absolute error"
            columns[name] = ScoreColumn(
                (self.series.num_channels,), attributes={**self._attributes(), "metric": f"{metric} over the horizon, in units"}
            )
        for name in self.step_names:
            attributes = {**self._attributes(), "layout": "(step, channel)", "metric": "squared error, in units squared"}
            columns[name] = ScoreColumn(forecast.shape, attributes=attributes, default=False)
        return columns

    def model_forecast(self, result: ModelOutput, batch: TokenBatch) -> np.ndarray:
        """(B, H, C) the model's forecasts: the head's, or the mean of each record's sampled paths."""
        if not self.sampled:
            return result.prediction.float().cpu().numpy()
        seeds = [record_seed(self.seed, record_id) for record_id in batch.record_ids]
        return sample_paths(self.model, batch, self.samples, seeds, result).mean(dim=1).float().cpu().numpy()

    def values(self, outputs: Sequence[str], result: ModelOutput, batch: TokenBatch) -> dict[str, Any]:
        """The requested columns of one batch."""
        errors = (*self.skill_names, *self.step_names)
        own = ("truth", *errors, *(("forecast",) if self.sampled else ()))
        out = super().values([name for name in outputs if name not in own], result, batch)
        forecast = self.model_forecast(result, batch) if "forecast" in outputs or any(name.endswith("_model") for name in outputs) else None
        if self.sampled and "forecast" in outputs:
            out["forecast"] = forecast
        wanted = [name for name in outputs if name in ("truth", *errors)]
        if not wanted:
            return out
        horizon, channels = self.series.prediction_length, self.series.num_channels
        if batch.targets is None:
            return {
                **out,
                **{
                    name: np.full(
                        (batch.size, horizon, channels) if name not in self.skill_names else (batch.size, channels), np.nan, np.float32
                    )
                    for name in wanted
                },
            }
        known = batch.extras["target_mask"].cpu().numpy()
        truth = np.where(known, batch.targets.float().cpu().numpy(), np.nan)
        if "truth" in wanted:
            out["truth"] = truth.astype(np.float32)
        context = batch.features.float().cpu().numpy()
        guesses = {"persistence": persistence(context, horizon), **({"model": forecast} if forecast is not None else {})}
        if self.season is not None:
            guesses["seasonal"] = seasonal_naive(context, horizon, self.season)
        if self.ets and any(name.endswith("_ets") for name in wanted):
            guesses["ets"] = self._ets(context, known, batch.record_ids)
        for name, guess in guesses.items():
            for metric, value in channel_errors(guess, truth, known).items():
                if f"{metric}_{name}" in wanted:
                    out[f"{metric}_{name}"] = value
            if f"squared_error_{name}" in wanted:
                out[f"squared_error_{name}"] = ((guess - truth) ** 2).astype(np.float32)
        return out

    def _ets(self, context: np.ndarray, known: np.ndarray, record_ids: list[str]) -> np.ndarray:
        """ETS forecasts (B, H, C) of the records with a known truth value (NaN for the others and failed fits)."""
        rows = np.flatnonzero(known.any(axis=(1, 2)))
        guess = np.full(known.shape, np.nan, np.float32)
        fitted = ets_forecast(context[rows], self.series.prediction_length, self.season)
        guess[rows] = fitted.values
        for (row, channel), reason in fitted.failures.items():
            label = self.series.channels[channel] if self.series.channels else channel
            where = f"record {record_ids[rows[row]]!r}, channel {label!r}: {reason}"
            log.debug("ETS baseline: %s", where)
            self.ets_failure = self.ets_failure or where
        return guess

    def summarise(self, results: h5py.File) -> None:
        """`skill/<column>` (C,): the mean of each error column over scored rows with a value (the squared
        errors by step: (H, C)); `skill/samples` (C,): the rows with the model's MSE; `skill/ets_failed` (C,)
        with the option `ets`; the root attribute `skill` (JSON, the per-channel means)."""
        names = [name for name in self.skill_names if name in results]
        if not names:
            return
        scored = results["status"][:] == STATUS_SCORED
        group = results.require_group(SKILL_GROUP)
        means = {}
        for name in names + [name for name in self.step_names if name in results]:
            values = results[name][:].astype(np.float64)  # (N, C) or (N, H, C)
            keep = scored.reshape(-1, *[1] * (values.ndim - 1)) & np.isfinite(values)
            counts = keep.sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                means[name] = np.where(counts > 0, np.where(keep, values, 0.0).sum(axis=0) / counts, np.nan)
            group.create_dataset(name, data=means[name])
            by_step = {"layout": "(step, channel)"} if values.ndim == 3 else {}
            group[name].attrs.update({**self._attributes(), **by_step})
        samples = (scored[:, None] & np.isfinite(results[names[0]][:])).sum(axis=0)
        group.create_dataset("samples", data=samples.astype(np.int64))
        summary: dict[str, Any] = {**self._attributes(), "samples": samples.tolist()}
        failed = self._ets_failures(results, scored, names)
        if failed is not None:
            group.create_dataset("ets_failed", data=failed)
            summary["ets_failed"] = failed.tolist()
        labels = list(self.series.channels) or [str(c) for c in range(self.series.num_channels)]
        rows = [{"channel": label, **{name: _number(means[name][c]) for name in names}} for c, label in enumerate(labels)]
        results.attrs[SKILL_GROUP] = json.dumps({**summary, "scores": rows})
        log.info("skill over %s scored window(s) per channel written to %s/", samples.tolist(), SKILL_GROUP)

    def _ets_failures(self, results: h5py.File, scored: np.ndarray, names: Sequence[str]) -> np.ndarray | None:
        """(C,) scored rows with a truth (an error of another forecaster) but no ETS error, with a warning
        when there are any; None without an ETS column, or another forecaster's to tell which rows have a truth."""
        ets = next((name for name in names if name.endswith("_ets")), None)
        other = next((name for name in names if not name.endswith("_ets")), None)
        if ets is None or other is None:
            return None
        failed = (scored[:, None] & np.isfinite(results[other][:]) & ~np.isfinite(results[ets][:])).sum(axis=0)
        if failed.any():
            first = f"; the first: {self.ets_failure}" if self.ets_failure else ""
            log.warning(
                "ETS baseline: %s fit(s) per channel failed or did not converge; their ETS errors are NaN and left "
                "out of skill/mse_ets and skill/mae_ets%s",
                failed.tolist(),
                first,
            )
        return failed.astype(np.int64)


def _number(value: float) -> float | None:
    """A JSON number, None for NaN."""
    return float(value) if np.isfinite(value) else None
