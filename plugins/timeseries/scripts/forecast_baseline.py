"""Baselines of a time-series forecast recipe: persistence, seasonal naive and, with `--ets`, exponential
smoothing, on the recipe's own validation and test windows.

Reads the recipe's windows as `sciformer train` does (each split with its own reader options), forecasts
each window's horizon from its context with every candidate (persistence; seasonal naive with each
period of SEASONS that fits the context; Holt-Winters ETS with the same periods when asked, which costs
about 0.1 s per window and channel), keeps the one with the lowest validation MSE (over every known
value of every window; an ETS fit that failed leaves its window's values out, and `details` counts them)
and scores it once on test. Prints a baseline report (JSON).

    python plugins/timeseries/scripts/forecast_baseline.py RECIPE [--ets] [--seasons 24,168]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import numpy as np
from sciformer.baseline_report import BaselineReport, choose, recipe_parts
from sciformer.records import Record
from sciformer_timeseries.baselines import persistence, seasonal_naive
from sciformer_timeseries.ets import ets_forecast
from sciformer_timeseries.series import Window

SEASONS = "24,168"  # a day and a week of hourly steps (the default); periods longer than the context are left out


def windows(records: list[Record]) -> tuple[np.ndarray, np.ndarray]:
    """Contexts (N, L, C) and targets (N, H, C) of the usable windows."""
    usable = [r for r in records if not r.error and r.target is not None]
    context = np.stack([np.asarray(r.data.context if isinstance(r.data, Window) else r.data, dtype=np.float64) for r in usable])
    target = np.stack([np.asarray(r.target, dtype=np.float64) for r in usable])
    if context.ndim == 2:
        context, target = context[..., None], target[..., None]
    return context, target


def mse(forecast: np.ndarray, target: np.ndarray) -> float:
    """Mean squared error over the known target values."""
    known = np.isfinite(target) & np.isfinite(forecast)
    return float(np.mean((forecast[known] - target[known]) ** 2))


def candidates(length: int, horizon: int, ets: bool, seasons: tuple[int, ...]) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Every candidate for contexts of `length` steps: contexts (N, L, C) -> forecasts (N, H, C)."""
    out: dict[str, Callable[[np.ndarray], np.ndarray]] = {"persistence": lambda context: persistence(context, horizon)}
    for season in (s for s in seasons if s <= length):
        out[f"seasonal naive ({season})"] = lambda context, season=season: seasonal_naive(context, horizon, season)
        if ets:
            out[f"ETS (damped trend, season {season})"] = lambda context, season=season: ets_forecast(context.astype(np.float32), horizon, season).values
    return out


def main() -> None:
    """Choose on validation, score once on test, print the report."""

    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--ets", action="store_true", help="also fit Holt-Winters ETS per window and channel (slow)")
        parser.add_argument("--seasons", help=f"comma-separated seasonal periods in time steps (default: the recipe's reader option season, else {SEASONS}: hourly data)")

    args, recipe, parts = recipe_parts(__doc__.splitlines()[0], "timeseries", arguments=arguments)
    data = {name: windows(records) for name, records in parts.items() if name in ("valid", "test")}
    horizon = data["valid"][1].shape[1]
    seasons = tuple(int(value) for value in str(args.seasons or (recipe.data.get("options") or {}).get("season") or SEASONS).split(","))
    forecasters = candidates(data["valid"][0].shape[1], horizon, args.ets, seasons)
    valid = {name: mse(forecast(data["valid"][0]), data["valid"][1]) for name, forecast in forecasters.items()}
    chosen = choose(valid, higher_is_better=False)
    tested = forecasters[chosen](data["test"][0])  # the chosen one only
    test = mse(tested, data["test"][1])
    left_out = int((~np.isfinite(tested)).sum())
    report = BaselineReport(
        model=recipe.source.stem if recipe.source else "recipe", baseline="persistence, seasonal naive" + (" or ETS" if args.ets else ""),
        metric="mse", higher_is_better=False, valid=valid[chosen], test=test, test_records=len(data["test"][0]), chosen=chosen,
        candidates=valid, details={"windows": {name: len(values[0]) for name, values in data.items()}, "values left out (failed fits)": left_out},
    )
    sys.stdout.write(report.to_json() + "\n")


if __name__ == "__main__":
    main()
