"""`sciformer plot` panels: every quantity's y-axis says what it measures (and its unit where it has one)."""

from __future__ import annotations

import json
from pathlib import Path

from sciformer.training.curves import curves_figure, plot_curves

ROWS = [
    {"split": "train", "step": 1, "epoch": 0, "loss": 2.0, "lr": 1e-3, "grad_norm": 3.0},
    {"split": "train", "step": 2, "epoch": 0, "loss": 1.5, "lr": 1e-3, "grad_norm": 2.5},
    {"split": "valid", "step": 2, "loss": 1.6, "rmse": 0.8, "accuracy": 0.5, "left_to_right_recall@5": 0.4, "custom_score": 7.0},
]


def test_every_panel_has_a_y_axis_label(tmp_path: Path) -> None:
    metrics = tmp_path / "run" / "metrics.jsonl"
    metrics.parent.mkdir()
    metrics.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    figure = curves_figure([metrics], "run")
    labels = {axes.get_title(): axes.get_ylabel() for axes in figure.axes if axes.get_visible()}
    assert labels == {
        "loss": "loss (training objective)",
        "accuracy": "accuracy (fraction correct)",
        "custom_score": "custom score",
        "grad_norm": "gradient norm (L2, before clipping)",
        "left_to_right_recall@5": "left to right recall@5 (fraction)",
        "lr": "learning rate",
        "rmse": "RMSE (target units)",
    }
    assert all(axes.get_xlabel() == "optimizer step" for axes in figure.axes if axes.get_visible())
    assert plot_curves([metrics], tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
