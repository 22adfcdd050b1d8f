"""Baselines of a forecast recipe: persistence and the climatology, at leads 1, 6 and 24 time steps.

Scores rollouts from the initial times of the recipe's validation and test records (its selection
files, or `data.split` with its seed) whose longest lead still lies in the same file or window, with
the weather plugin's own evaluation: latitude-weighted RMSE per lead, of the model, persistence and
the model folder's climatology (for the shipped model, the mean per UTC hour of the training hours).
For each lead the better of persistence and climatology on validation is the baseline scored on test;
the model's RMSE on the same test initial times comes with it (its summary.json holds only one-step
errors in normalised units). Prints a baseline report (JSON).

    python examples/weather_baseline.py plugins/weather/recipes/afno-era5-uk-t2m.yaml
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sciformer.baseline_report import BaselineReport, choose
from sciformer.checkpoint import load_checkpoint, resolve_model
from sciformer.errors import ConfigError, InputFileError
from sciformer.plugins import PluginHost
from sciformer.records import Record
from sciformer.training.recipe import load_recipe, recipe_records
from sciformer_weather.evaluate import FORECASTERS, evaluate
from sciformer_weather.rollout import Forecaster
from sciformer_weather.scoring import CLIMATOLOGY_FILE
from sciformer_weather.sources import open_source
from sciformer_weather.stats import Climatology

LEADS = (1, 6, 24)  # time steps of the file: hours for hourly data
BASELINES = ("persistence", "climatology")


def runs(indices: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted time indices as runs of consecutive ones: [(first, last), ...]."""
    found: list[tuple[int, int]] = []
    for index in sorted(set(indices)):
        if found and index == found[-1][1] + 1:
            found[-1] = (found[-1][0], index)
        else:
            found.append((index, index))
    return found


def part_rmse(forecaster: Forecaster, records: Sequence[Record], climatology: Climatology, leads: Sequence[int]) -> tuple[dict[str, np.ndarray], int]:
    """Mean RMSE (leads, channels) of each forecaster over the records' initial times that have a truth
    at the longest lead, and how many initial times that is."""
    by_source: dict = defaultdict(list)
    for record in records:
        if record.data is not None and not record.error:
            by_source[record.data.spec].append(record.data.index)
    totals = {name: np.zeros((len(leads), len(forecaster.options.channels))) for name in FORECASTERS}
    samples = 0
    for spec, indices in by_source.items():
        with open_source(spec) as source:
            usable = [index for index in indices if index + max(leads) < len(source)]
            for first, last in runs(usable):
                result = evaluate(forecaster, source, leads, climatology, start=first, stop=last + max(leads) + 1)
                for name in FORECASTERS:
                    totals[name] += result.rmse[name] * result.samples
                samples += result.samples
    if samples == 0:
        raise InputFileError(f"no initial time among {len(records)} records has a truth {max(leads)} steps ahead")
    return {name: total / samples for name, total in totals.items()}, samples


def main() -> None:
    """Score persistence, climatology and the model on valid and test; choose per lead on valid; print the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe")
    parser.add_argument("--model", help="Checkpoint folder or shipped model name (default: the shipped model named as the recipe).")
    args = parser.parse_args()
    host = PluginHost()
    recipe = load_recipe(args.recipe)
    stem = Path(args.recipe).stem
    folder = resolve_model(args.model or stem, host)
    if not (folder / CLIMATOLOGY_FILE).is_file():
        raise ConfigError(f"{folder} holds no {CLIMATOLOGY_FILE}, the climatology this baseline scores")
    climatology = Climatology.load(folder / CLIMATOLOGY_FILE)
    forecaster = Forecaster(load_checkpoint(folder, host))
    parts = recipe_records(recipe, host, "weather")
    valid, _ = part_rmse(forecaster, parts["valid"], climatology, LEADS)
    test, samples = part_rmse(forecaster, parts["test"], climatology, LEADS)
    channels = forecaster.options.channels
    labels = {(i, c): f"lead {lead}" if len(channels) == 1 else f"{channel}, lead {lead}" for i, lead in enumerate(LEADS) for c, channel in enumerate(channels)}
    candidates = {f"{name}, {label}": float(valid[name][key]) for key, label in labels.items() for name in BASELINES}
    chosen = {label: choose({name: float(valid[name][key]) for name in BASELINES}, higher_is_better=False) for key, label in labels.items()}
    kind = "mean per UTC hour" if climatology.kind == "hour" else "period mean"
    print(BaselineReport(
        model=stem,
        baseline=f"persistence or climatology ({kind})",
        metric="rmse",
        higher_is_better=False,
        valid={label: float(valid[chosen[label]][key]) for key, label in labels.items()},
        test={label: float(test[chosen[label]][key]) for key, label in labels.items()},
        test_records=samples,
        chosen=chosen,
        candidates=candidates,
        details={"rmse": "latitude-weighted, in the field's units", "leads": "time steps of the file", "climatology": str(folder / CLIMATOLOGY_FILE)},
        model_test={label: float(test["model"][key]) for key, label in labels.items()},
    ).to_json())


if __name__ == "__main__":
    main()
