"""The baseline scripts beside the shipped protein models run on the sample data a fresh clone has."""

from __future__ import annotations

from pathlib import Path

from sciformer.testing.baselines import sample_data_report

PLUGIN = Path(__file__).resolve().parents[1]


def test_composition_baseline_reports_accuracy_chosen_on_valid() -> None:
    report = sample_data_report(PLUGIN / "scripts" / "composition_baseline.py", PLUGIN / "recipes" / "esm2-deeploc-small.yaml")
    assert report.metric == "accuracy" and report.higher_is_better and 0.0 <= report.test <= 1.0
    assert report.chosen in report.candidates and report.valid == max(report.candidates.values())


def test_residue_baseline_reports_per_residue_accuracy() -> None:
    report = sample_data_report(PLUGIN / "scripts" / "residue_baseline.py", PLUGIN / "recipes" / "esm2-ss3-small.yaml")
    assert report.metric == "accuracy" and 0.0 <= report.test <= 1.0 and report.details["labelled_residues"]["test"] > report.test_records
