"""Baselines beside the shipped models: the report every baseline script prints, the registry of
scripts, the forecast baseline, and the table `make models` prints (examples/model_table.py)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from sciformer.baseline_report import BaselineReport, choose, scores
from sciformer.errors import InputFileError, SciformerError
from sciformer.plugins import PluginHost
from sciformer.testing.baselines import sample_data_report

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import baselines
import model_table


def report(model: str = "m", test: float | dict = 0.5, rows: int = 10, **changes) -> BaselineReport:
    values = {"model": model, "baseline": "b", "metric": "accuracy", "higher_is_better": True, "valid": 0.6, "test": test, "test_records": rows, "chosen": "c", "candidates": {"c": 0.6}}
    return BaselineReport(**{**values, **changes})


def test_report_round_trips_and_refuses_incomplete_or_non_finite_ones() -> None:
    original = report(test={"lead 1": 0.25, "lead 6": 1.5}, model_test={"lead 1": 0.2, "lead 6": 1.0})
    assert BaselineReport.from_json(original.to_json()) == original
    assert "model_test" not in json.loads(report().to_json())
    with pytest.raises(InputFileError, match="not finite"):
        BaselineReport.from_json(report(test=math.nan).to_json())
    with pytest.raises(InputFileError, match="needs"):
        BaselineReport.from_json(json.dumps({"model": "m", "test": 0.5}))
    assert scores(0.5) == {"": 0.5} and scores({"lead 1": 1}) == {"lead 1": 1.0}
    assert choose({"a": 0.2, "b": 0.9, "c": 0.9}, higher_is_better=True) == "b"
    assert choose({"a": 0.2, "b": 0.9}, higher_is_better=False) == "a"


def test_every_shipped_model_but_pretraining_ones_has_an_existing_baseline_script() -> None:
    recipes = {recipe.stem: recipe for recipe in model_table.RECIPES}
    for shipped in PluginHost().shipped_models().values():
        recipe = recipes[shipped.path.name]
        script = baselines.baseline_script(recipe)
        assert script is not None or baselines.task_of(recipe)[1] in ("mlm", "clm"), f"{recipe.name} has no baseline"
        assert script is None or script.is_file()


def test_forecast_baseline_scores_persistence_climatology_and_the_model_per_lead() -> None:
    recipe = ROOT / "plugins" / "weather" / "recipes" / "afno-era5-uk-t2m.yaml"
    result = sample_data_report(ROOT / "examples" / "weather_baseline.py", recipe)
    assert result.metric == "rmse" and not result.higher_is_better
    assert set(scores(result.test)) == set(scores(result.model_test)) == {"lead 1", "lead 6", "lead 24"}
    assert set(result.chosen.values()) <= {"persistence", "climatology"} and len(result.candidates) == 6


def test_table_has_a_row_per_shipped_model_and_judges_only_matching_test_rows(capsys: pytest.CaptureFixture[str]) -> None:
    shipped = PluginHost().shipped_models()
    summaries = {name: json.loads((model.path / "summary.json").read_text()) for name, model in shipped.items() if (model.path / "summary.json").is_file()}

    def run(script: Path, recipe: Path) -> BaselineReport:
        name = next(n for n, model in shipped.items() if model.path.name == recipe.stem)
        if name == "esm2-ss3-small":
            raise SciformerError("residue_baseline.py esm2-ss3-small.yaml: out of memory")
        if name == "afno-era5-uk-t2m":
            return report(recipe.stem, {"lead 1": 0.4, "lead 24": 1.0}, 48, metric="rmse", higher_is_better=False, model_test={"lead 1": 0.3, "lead 24": 1.2})
        summary = summaries[name]
        metric = next(m for m in ("accuracy", "roc_auc", "rmse") if m in summary["test"])
        higher = metric != "rmse"
        count = summary["records"]["test"] + (name == "mat-esol-small")  # one model's rows differ
        worse = summary["test"][metric] + (-0.1 if higher else 0.1)  # the rest: a baseline worse than the model
        return report(recipe.stem, worse, count, metric=metric, higher_is_better=higher)

    assert model_table.main(["--sample-data"], run=run) == 1  # one baseline failed
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Data: the sample data")
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines if line.startswith("| ") and " --- " not in line}
    for name in shipped:
        assert any(key == name or key.startswith(f"{name}, ") for key in rows), f"no row for {name}"
    assert rows["vit-mnist-small"].endswith("| yes |")
    assert rows["afno-era5-uk-t2m, lead 1"].endswith("| yes |") and rows["afno-era5-uk-t2m, lead 24"].endswith("| no |")
    esol_rows = summaries["mat-esol-small"]["records"]["test"]
    assert f"n/a: test rows differ ({esol_rows} vs {esol_rows + 1})" in rows["mat-esol-small"]
    assert "baseline failed: residue_baseline.py" in rows["esm2-ss3-small"]
    assert "n/a: no baseline registered for text clm" in rows["text-who-ordered"]
