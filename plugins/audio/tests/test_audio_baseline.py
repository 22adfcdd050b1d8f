"""The log-mel baseline beside the shipped FSDD model runs on the sample data a fresh clone has."""

from __future__ import annotations

from pathlib import Path

from sciformer.testing.baselines import sample_data_report

PLUGIN = Path(__file__).resolve().parents[1]


def test_log_mel_baseline_reports_accuracy_chosen_on_valid() -> None:
    report = sample_data_report(PLUGIN / "scripts" / "fsdd_baseline.py", PLUGIN / "recipes" / "ast-fsdd-small.yaml")
    assert report.metric == "accuracy" and 0.0 <= report.test <= 1.0
    assert report.chosen in report.candidates and report.valid == max(report.candidates.values())
