"""The shipped models beside their strongest simple baselines, as a markdown table (`make models` prints
it after training).

For every shipped model, the baseline script of its recipe (the recipe of the same name, as
train_models.py trains it; the script from baselines.py) runs afresh on that recipe's split: minutes on
the full data, and nothing is trained. The model's test value is its summary.json's; a forecast's
baseline evaluation scores the model on the same initial times, and that value is shown instead (its
summary.json holds one-step errors in normalised units). A verdict is given only where the model and
the baseline were scored on the same number of test rows.

Data: SCIFORMER_DATA, else the shared data folder beside the repository, as train_models.py; with
--sample-data, or where there is neither, the sample data each plugin ships (no verdict where its test
rows are not the shipped model's).

    python examples/model_table.py --sample-data
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baselines import baseline_script, task_of
from sciformer.baseline_report import BaselineReport, run_script, scores
from sciformer.errors import SciformerError
from sciformer.plugins import PluginHost
from sciformer.training.recipe import DATA_ENV
from train_models import RECIPES, SHARED_DATA

Runner = Callable[[Path, Path], BaselineReport]  # (script, recipe) -> report
COLUMNS = ("model", "metric", "test rows", "model's test", "baseline's test", "strongest simple baseline (chosen on valid)", "model wins")


@dataclass(frozen=True)
class Row:
    """One line of the table; `failed` marks a baseline that did not run."""

    model: str
    metric: str = "-"
    rows: str = "-"
    model_value: str = "-"
    baseline_value: str = "-"
    baseline: str = "-"
    verdict: str = "-"
    failed: bool = False

    def cells(self) -> tuple[str, ...]:
        """The row's cells in COLUMNS order."""
        return (self.model, self.metric, self.rows, self.model_value, self.baseline_value, self.baseline, self.verdict)


def verdict(model: float, baseline: float, higher_is_better: bool) -> str:
    """yes / no / tie, from the metric's direction."""
    if model == baseline:
        return "tie"
    return "yes" if (model > baseline) == higher_is_better else "no"


def report_rows(name: str, summary: Mapping[str, Any], report: BaselineReport) -> list[Row]:
    """A row per score of the report (one, or one per lead of a forecast), beside the model's value."""
    baseline_test = scores(report.test)
    if report.model_test is not None:  # the baseline's evaluation scored the model on the same rows
        model_test: dict[str, float | None] = dict(scores(report.model_test))
        model_rows = report.test_records
    else:
        value = (summary.get("test") or {}).get(report.metric)
        model_test = {label: None if value is None else float(value) for label in baseline_test}
        model_rows = (summary.get("records") or {}).get("test")
    rows = []
    for label, baseline in baseline_test.items():
        chosen = report.chosen.get(label, "") if isinstance(report.chosen, dict) else report.chosen
        model = model_test.get(label)
        if model is None:
            judged = f"n/a: summary.json has no test {report.metric}"
        elif model_rows != report.test_records:
            judged = f"n/a: test rows differ ({model_rows} vs {report.test_records})"
        else:
            judged = verdict(model, baseline, report.higher_is_better)
        rows.append(Row(
            model=f"{name}, {label}" if label else name,
            metric=report.metric,
            rows=str(report.test_records) if model_rows == report.test_records else f"{model_rows} / {report.test_records}",
            model_value="-" if model is None else f"{model:.4g}",
            baseline_value=f"{baseline:.4g}",
            baseline=f"{report.baseline} ({chosen})",
            verdict=judged,
        ))
    return rows


def table_rows(host: PluginHost, run: Runner) -> list[Row]:
    """Rows for every shipped model, in name order."""
    recipes = {recipe.stem: recipe for recipe in RECIPES}
    rows: list[Row] = []
    for name, shipped in sorted(host.shipped_models().items()):
        recipe = recipes.get(shipped.path.name)
        script = baseline_script(recipe) if recipe is not None else None
        if script is None:
            reason = "no recipe" if recipe is None else f"no baseline registered for {' '.join(task_of(recipe))}"
            rows.append(Row(name, verdict=f"n/a: {reason}"))
            continue
        summary_file = shipped.path / "summary.json"
        summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
        try:
            rows.extend(report_rows(name, summary, run(script, recipe)))
        except SciformerError as error:
            rows.append(Row(name, verdict=f"baseline failed: {error}", failed=True))
    return rows


def markdown(rows: list[Row]) -> str:
    """The rows as a markdown table."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def data_env(sample_data: bool) -> tuple[dict[str, str], str]:
    """The baseline scripts' environment and a line saying which data they read."""
    env = dict(os.environ)
    if not sample_data and not env.get(DATA_ENV) and SHARED_DATA.is_dir():
        env[DATA_ENV] = str(SHARED_DATA)
    if sample_data or not env.get(DATA_ENV):
        env.pop(DATA_ENV, None)
        return env, "Data: the sample data each plugin ships (its test rows are not the shipped models')."
    return env, f"Data: the full data sets in {env[DATA_ENV]}."


def main(argv: list[str] | None = None, run: Runner | None = None) -> int:
    """Print the table; exit status 1 when a baseline failed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample-data", action="store_true", help="Run the baselines on the sample data the plugins ship.")
    args = parser.parse_args(argv)
    env, data = data_env(args.sample_data)
    rows = table_rows(PluginHost(), run or (lambda script, recipe: run_script(script, recipe, env)))
    print(data)
    print()
    print(markdown(rows))
    return 1 if any(row.failed for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
