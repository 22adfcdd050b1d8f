"""The strongest simple baseline of any molecule recipe, on the recipe's own split (regression and
two-class classification), from the sample data a fresh clone has."""

from __future__ import annotations

import csv
from pathlib import Path

from sciformer.testing.baselines import sample_data_report

PLUGIN = Path(__file__).resolve().parents[1]
SCRIPT = PLUGIN / "scripts" / "strongest_baseline.py"
SAMPLE = PLUGIN / "data" / "esol_sample.csv"


def test_regression_recipe_gets_the_better_of_forest_and_ridge_on_valid(tmp_path: Path) -> None:
    recipe = tmp_path / "mat-esol-sample.yaml"
    recipe.write_text(
        "model: {domain: molecule, task: sequence-regression, num_labels: 1}\n"
        f"data: {{train: {SAMPLE}, options: {{data_column: smiles, target_column: logS}}, split: {{valid: 0.2, test: 0.2, seed: 0}}}}\n"
    )
    report = sample_data_report(SCRIPT, recipe)
    assert report.metric == "rmse" and not report.higher_is_better and report.test_records == 10
    assert report.valid == min(report.candidates.values()) and report.test > 0


def test_classification_recipe_gets_logistic_regression_roc_auc(tmp_path: Path) -> None:
    rows = list(csv.DictReader(open(SAMPLE, encoding="utf-8")))  # noqa: SIM115
    table = tmp_path / "soluble.csv"
    with open(table, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["smiles", "soluble"])
        writer.writerows([row["smiles"], int(float(row["logS"]) > -3)] for row in rows)
    recipe = tmp_path / "mat-soluble.yaml"
    recipe.write_text(
        "model: {domain: molecule, task: sequence-classification}\n"
        "data: {train: soluble.csv, options: {data_column: smiles, target_column: soluble}, split: {valid: 0.3, test: 0.3, seed: 0}}\n"
    )
    report = sample_data_report(SCRIPT, recipe)
    assert report.metric == "roc_auc" and report.higher_is_better and report.details["positive_class"] == "1"
    assert report.baseline == "logistic regression on Morgan fingerprints" and 0.0 <= report.test <= 1.0
