"""Which baseline script goes with which model: the strongest simple baseline of each kind of task.

A shipped model is trained by the recipe of the same name; the recipe's model domain and task pick the
script, so a new recipe of a known kind (another molecule data set) gets its baseline without an entry
here. Every script takes the recipe path, uses the recipe's own split, chooses its settings on the
validation part, scores the test part once and prints one baseline report (`sciformer.baseline_report`).
"""

from __future__ import annotations

from pathlib import Path

from sciformer.training.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[1]
BASELINES = {
    ("audio", "sequence-classification"): "plugins/audio/scripts/fsdd_baseline.py",
    ("molecule", "sequence-classification"): "plugins/molecule/scripts/strongest_baseline.py",
    ("molecule", "sequence-regression"): "plugins/molecule/scripts/strongest_baseline.py",
    ("protein", "sequence-classification"): "plugins/protein/scripts/composition_baseline.py",
    ("protein", "token-classification"): "plugins/protein/scripts/residue_baseline.py",
    ("vision", "sequence-classification"): "plugins/vision/scripts/baseline_logreg.py",
    ("timeseries", "forecast"): "plugins/timeseries/scripts/forecast_baseline.py",
    ("weather", "forecast"): "examples/weather_baseline.py",
}


def task_of(recipe: Path) -> tuple[str, str]:
    """The recipe's (model domain, task)."""
    model = load_recipe(recipe).model
    return str(model["domain"]), str(model.get("task", ""))


def baseline_script(recipe: Path) -> Path | None:
    """The baseline script of the recipe's kind of task, or None when none is registered."""
    script = BASELINES.get(task_of(recipe))
    return ROOT / script if script else None
