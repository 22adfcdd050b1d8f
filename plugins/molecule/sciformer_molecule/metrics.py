"""Metrics of molecule benchmarks that are not sums over batches: ROC-AUC, and RMSE / MAE / R^2."""

from __future__ import annotations

import numpy as np
from sciformer.errors import ConfigError


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties); labels are 0 / 1."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        raise ConfigError("ROC-AUC needs both classes among the labels (is the split label-pure?)")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    start = 0
    while start < len(scores):  # average ranks over runs of tied scores
        stop = start
        while stop + 1 < len(scores) and sorted_scores[stop + 1] == sorted_scores[start]:
            stop += 1
        ranks[order[start : stop + 1]] = (start + stop) / 2.0 + 1.0
        start = stop + 1
    return float((ranks[labels].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def regression_metrics(targets: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and R^2 of predictions against targets."""
    targets = np.asarray(targets, dtype=np.float64)
    error = np.asarray(predictions, dtype=np.float64) - targets
    total = ((targets - targets.mean()) ** 2).sum()
    return {
        "rmse": float(np.sqrt((error**2).mean())),
        "mae": float(np.abs(error).mean()),
        "r2": float(1.0 - (error**2).sum() / total) if total > 0 else float("nan"),
    }
