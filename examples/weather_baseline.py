"""Baselines of a forecast recipe: persistence and the climatology, at leads 1, 6 and 24 time steps.

Scores rollouts from the initial times of the recipe's validation and test records (its selection
files, or `data.split` with its seed) whose longest lead still lies in the same file or window, with
the weather plugin's evaluation (`sciformer_weather.evaluate`, a scoring run over each file or window):
latitude-weighted RMSE per lead of each record, of the model, persistence and the model folder's
climatology (for the shipped model, the mean per UTC hour of the training hours), averaged over the
part's records.
For each lead the better of persistence and climatology on validation is the baseline scored on test;
the model's RMSE on the same test initial times comes with it (its summary.json holds only one-step
errors in normalised units). Prints a baseline report (JSON).

    python examples/weather_baseline.py plugins/weather/recipes/afno-era5-uk-t2m.yaml
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
from sciformer.baseline_report import BaselineReport, choose
from sciformer.checkpoint import resolve_model
from sciformer.data.results import STATUS_SCORED
from sciformer.errors import ConfigError, InputFileError
from sciformer.plugins import PluginHost
from sciformer.records import Record
from sciformer.training.recipe import load_recipe, recipe_records
from sciformer_weather.evaluate import evaluate
from sciformer_weather.scoring import CLIMATOLOGY_FILE, FORECASTERS
from sciformer_weather.sources import SourceSpec, open_source
from sciformer_weather.stats import Climatology

LEADS = (1, 6, 24)  # time steps of the file: hours for hourly data
BASELINES = ("persistence", "climatology")


def reader_options(spec: SourceSpec) -> dict[str, str]:
    """The reader options that open the same data as `spec`, apart from its time window."""
    if spec.kind == "hdf5":
        return {"dataset": spec.dataset}
    return {"variables": ",".join(spec.variables)} if spec.variables else {}


def part_rmse(model: Path, records: Sequence[Record], climatology: Path, host: PluginHost, scratch: Path) -> tuple[dict[str, np.ndarray], int]:
    """Mean RMSE (leads, channels) of each forecaster over the records' initial times that have a truth
    at the longest lead, and how many initial times that is."""
    by_source: dict[SourceSpec, set[str]] = defaultdict(set)
    for record in records:
        if record.data is not None and not record.error:
            by_source[record.data.spec].add(record.id)
    scores: dict[str, list[np.ndarray]] = {name: [] for name in FORECASTERS}
    for number, (spec, ids) in enumerate(by_source.items()):
        with open_source(spec) as source:
            if len(source) <= max(LEADS):
                continue
        output = scratch / f"part-{number}.h5"
        evaluate(model, Path(spec.path), LEADS, climatology, output, host, options=reader_options(spec), start=spec.start, stop=spec.stop, overwrite=True)
        with h5py.File(output, "r") as results:
            keep = np.isin(results["record_id"].asstr()[:], sorted(ids)) & (results["status"][:] == STATUS_SCORED)
            for name in FORECASTERS:
                scores[name].append(results[f"rmse_{name}"][keep].astype(np.float64))  # (n, L, C)
    samples = sum(len(values) for values in scores["model"])
    if samples == 0:
        raise InputFileError(f"no initial time among {len(records)} records has a truth {max(LEADS)} steps ahead")
    return {name: np.concatenate(values).mean(axis=0) for name, values in scores.items()}, samples


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
    parts = recipe_records(recipe, host, "weather")
    with tempfile.TemporaryDirectory(prefix="weather-baseline-") as scratch:
        valid, _ = part_rmse(folder, parts["valid"], folder / CLIMATOLOGY_FILE, host, Path(scratch))
        test, samples = part_rmse(folder, parts["test"], folder / CLIMATOLOGY_FILE, host, Path(scratch))
    channels = climatology.channels
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
