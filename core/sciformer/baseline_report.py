"""What every baseline script prints: one JSON object describing the strongest simple baseline of a
recipe's task, its settings chosen on the recipe's validation split and scored once on its test split.

A score is one number, or a mapping from a label to a number where a task has several (a forecast's
leads). `candidates` holds the validation score of every setting tried; `chosen` names the one kept.
`model_test` is only given where the baseline's scoring also scores the shipped model on the same
test rows (a forecast evaluation scores the model, persistence and climatology together).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sciformer.errors import InputFileError, SciformerError

if TYPE_CHECKING:
    from sciformer.plugins import PluginHost
    from sciformer.records import Record
    from sciformer.training.recipe import Recipe

Score = float | dict[str, float]


@dataclass(frozen=True)
class BaselineReport:
    """A baseline's result on a recipe's split; `model` is the recipe's stem (the shipped model's name)."""

    model: str
    baseline: str
    metric: str
    higher_is_better: bool
    valid: Score
    test: Score
    test_records: int
    chosen: str | dict[str, str]
    candidates: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    model_test: Score | None = None

    def to_json(self) -> str:
        """The report as indented JSON, numbers rounded to 4 significant digits (no `model_test` when None)."""
        raw = asdict(self)
        if raw["model_test"] is None:
            del raw["model_test"]
        return json.dumps(_rounded(raw), indent=2)

    @classmethod
    def from_json(cls, text: str) -> BaselineReport:
        """Parse a script's output; InputFileError when it is not a complete report with finite scores."""
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputFileError(f"a baseline report is one JSON object ({error})") from None
        names = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.name not in ("details", "model_test")}
        if not isinstance(raw, dict) or required - set(raw):
            raise InputFileError(f"a baseline report needs {sorted(required)}, got {sorted(raw) if isinstance(raw, dict) else raw!r}")
        report = cls(**{key: value for key, value in raw.items() if key in names})
        for name in ("valid", "test", "model_test"):
            value = getattr(report, name)
            if value is not None and not all(math.isfinite(v) for v in scores(value).values()):
                raise InputFileError(f"baseline report of {report.model}: {name} {value!r} is not finite")
        return report


def run_script(script: Path, recipe: Path, env: Mapping[str, str] | None = None) -> BaselineReport:
    """Run `python SCRIPT RECIPE` in a new process (with `env`, else this one's) and parse its report."""
    done = subprocess.run([sys.executable, str(script), str(recipe)], env=None if env is None else dict(env), capture_output=True, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise SciformerError(f"{script.name} {recipe.name}: {lines[-1]}")
    return BaselineReport.from_json(done.stdout)


def scores(value: Score) -> dict[str, float]:
    """A score as {label: number}; a single number has the label ""."""
    if isinstance(value, Mapping):
        return {str(label): float(number) for label, number in value.items()}
    return {"": float(value)}


def choose(candidates: Mapping[str, float], higher_is_better: bool) -> str:
    """The candidate with the best validation score (the first of equals)."""
    sign = 1.0 if higher_is_better else -1.0
    return max(candidates, key=lambda name: sign * candidates[name])


def recipe_parts(
    description: str, domain: str, host: PluginHost | None = None, arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> tuple[argparse.Namespace, Recipe, dict[str, list[Record]]]:
    """A baseline script's command line (`RECIPE`, and what `arguments` adds), the recipe and its train /
    valid / test records, read and split as `sciformer train` reads them."""
    from sciformer.plugins import PluginHost
    from sciformer.training.recipe import load_recipe, recipe_records

    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe")
    if arguments is not None:
        arguments(parser)
    args = parser.parse_args()
    recipe = load_recipe(args.recipe)
    return args, recipe, recipe_records(recipe, host or PluginHost(), domain)


def labelled_parts(parts: Mapping[str, list[Record]]) -> tuple[list[str], dict[str, list[Record]]]:
    """The class names of the training records' targets, and each part without the records of other classes."""
    from sciformer.targets import class_names

    labels = class_names(str(r.target) for r in parts["train"] if r.target is not None)
    return labels, {name: [r for r in records if str(r.target) in labels] for name, records in parts.items()}


def accuracy_report(
    recipe: str | Path, baseline: str, valid: Mapping[str, float], test: Callable[[str], float], test_records: int, details: Mapping[str, Any],
) -> BaselineReport:
    """The report of a classifier scored by accuracy: the candidate best on validation, scored once on test by `test(name)`."""
    chosen = choose(valid, higher_is_better=True)
    return BaselineReport(
        model=Path(recipe).stem, baseline=baseline, metric="accuracy", higher_is_better=True, valid=valid[chosen], test=test(chosen),
        test_records=test_records, chosen=chosen, candidates=dict(valid), details=dict(details),
    )


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(item) for item in value]
    return value
