"""The pixel logistic regression beside the shipped vision models runs on the sample data a fresh clone has."""

from __future__ import annotations

from pathlib import Path

import pytest
from sciformer.testing.baselines import sample_data_report

PLUGIN = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("recipe", ["vit-digits-small", "vit-mnist-small"])
def test_pixel_baseline_reports_accuracy_chosen_on_valid(recipe: str) -> None:
    report = sample_data_report(PLUGIN / "scripts" / "baseline_logreg.py", PLUGIN / "recipes" / f"{recipe}.yaml")
    assert report.metric == "accuracy" and 0.0 <= report.test <= 1.0
    assert report.valid == max(report.candidates.values()) and report.test_records == report.details["records"]["test"]
