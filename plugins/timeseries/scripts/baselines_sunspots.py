"""Persistence, seasonal-naive and exponential-smoothing (ETS) errors on the last years of the yearly sunspot
numbers (data/sunspots.csv), a time split: every window whose forecast years all lie in the test part.

A window's context (`--context` years) may reach back before the test part, as a forecaster's would; its
`--horizon` years all lie inside it. The seasonal naive repeats the last `--season` years (the solar
cycle, 11 years), and ETS fits each context with an additive damped trend and that season: the plugin's
own baselines, the numbers `sciformer score` writes beside a model's for the same windows. The script
prints those `sciformer score` options, so a forecaster trained on the years before the test part can be
scored on the same windows later. Nothing is trained.

    python plugins/timeseries/scripts/baselines_sunspots.py            # a table; --json for JSON
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from sciformer_timeseries.baselines import channel_errors, persistence, seasonal_naive
from sciformer_timeseries.ets import ets_forecast
from sciformer_timeseries.reader import read_table_windows

SUNSPOTS = Path(__file__).resolve().parents[1] / "data" / "sunspots.csv"


def test_windows(path: Path, context: int, horizon: int, test: int) -> tuple[dict[str, Any], np.ndarray, np.ndarray, list[str]]:
    """The reader options of the windows whose targets lie in the last `test` steps, and their contexts
    (N, L, C), truths (N, H, C) and record ids."""
    length = len(path.read_text().splitlines()) - 1  # rows after the header
    if not horizon <= test <= length - context:
        raise SystemExit(f"--test must be between the horizon ({horizon}) and {length - context} years (the series has {length})")
    options = {"context": context, "horizon": horizon, "start": length - test - context}
    windows = list(read_table_windows(path, options))
    contexts = np.stack([w.data.context for w in windows]).astype(np.float64)
    truths = np.stack([w.target for w in windows]).astype(np.float64)
    return options, contexts, truths, [w.id for w in windows]


def errors(contexts: np.ndarray, truths: np.ndarray, season: int, ets: bool) -> dict[str, dict[str, float]]:
    """Mean MSE and MAE over the windows (first channel) of each baseline; ETS also counts failed fits (left out)."""
    horizon = truths.shape[1]
    guesses = {
        "persistence": persistence(contexts, horizon),
        f"seasonal naive ({season})": seasonal_naive(contexts, horizon, season),
    }
    failed = 0
    if ets:
        fitted = ets_forecast(contexts, horizon, season)
        guesses[f"ETS (damped trend, season {season})"] = fitted.values.astype(np.float64)
        failed = len(fitted.failures)
    known = np.ones_like(truths, dtype=bool)
    table = {}
    for name, guess in guesses.items():
        scores = channel_errors(guess, truths, known)
        finite = np.isfinite(scores["mse"][:, 0])
        table[name] = {
            "mse": float(scores["mse"][finite, 0].mean()),
            "mae": float(scores["mae"][finite, 0].mean()),
            "windows": int(finite.sum()),
        }
        if name.startswith("ETS"):
            table[name]["failed"] = failed
    return table


def main() -> None:
    """Score the baselines on the test windows; print a table (or JSON) and the matching `sciformer score` options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--context", type=int, default=44, help="years of context (default 44, four cycles)")
    parser.add_argument("--horizon", type=int, default=11, help="years forecast (default 11, one cycle)")
    parser.add_argument(
        "--test", type=int, default=60, help="last years of the series whose values are forecast (default 60: 1949-2008)"
    )
    parser.add_argument("--season", type=int, default=11, help="seasonal period in years (default 11)")
    parser.add_argument("--no-ets", action="store_true", help="leave out the ETS baseline")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    options, contexts, truths, ids = test_windows(SUNSPOTS, args.context, args.horizon, args.test)
    table = errors(contexts, truths, args.season, not args.no_ets)
    score = " ".join(
        f"--option {key}={value}" for key, value in {"start": options["start"], "season": args.season, "ets": "true"}.items()
    )
    if args.json:
        report = {"data": str(SUNSPOTS.name), "windows": [ids[0], ids[-1]], **options, "season": args.season, "baselines": table}
        print(json.dumps({**report, "score_options": score}, indent=2))
        return
    print(f"{len(ids)} windows, forecasts from {ids[0]} to {ids[-1]}; context {args.context}, horizon {args.horizon} years")
    print(f"{'baseline':<34} {'MSE':>10} {'MAE':>8} {'windows':>8}")
    for name, row in table.items():
        failed = f" ({row['failed']} failed)" if row.get("failed") else ""
        print(f"{name:<34} {row['mse']:>10.1f} {row['mae']:>8.2f} {row['windows']:>8}{failed}")
    print(f"the same windows beside a model (context {args.context}, horizon {args.horizon}): sciformer score ... {score}")


if __name__ == "__main__":
    main()
