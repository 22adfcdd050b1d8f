"""Metrics over a whole split that do not decompose into per-batch sums: ROC-AUC and balanced accuracy.

The trainer collects each classification head's class probabilities and targets over the split
(`Head.class_scores`), then computes these once; they can select the checkpoint like any other
metric (`training.metric: roc_auc`).
"""

from __future__ import annotations

import torch
from torch import Tensor

#: Why a whole-split metric can be missing from a split's metrics.
WHY_MISSING = {"roc_auc": " (ROC-AUC needs labelled records of at least two classes in the split)"}


def average_ranks(values: Tensor) -> Tensor:
    """1-based ranks of `values` (N,), ties sharing their average rank."""
    order = values.argsort()
    ordered = values[order]
    _, inverse, counts = torch.unique_consecutive(ordered, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).double()
    mean_rank = ends - (counts.double() - 1) / 2  # average of the 1-based ranks each tie group spans
    ranks = torch.empty(values.shape, dtype=torch.float64)
    ranks[order] = mean_rank[inverse]
    return ranks


def binary_roc_auc(scores: Tensor, positive: Tensor) -> float | None:
    """Area under the ROC curve of `scores` (N,) for the bool labels `positive` (N,), by the
    Mann-Whitney rank statistic; None when either class is absent."""
    n_pos = int(positive.sum())
    n_neg = positive.numel() - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = average_ranks(scores.double())
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_auc(probabilities: Tensor, targets: Tensor) -> float | None:
    """ROC-AUC of (N, K) class probabilities against (N,) class indices: class 1's for two classes,
    else the mean one-vs-rest area over the classes present (macro)."""
    if probabilities.shape[1] == 2:
        return binary_roc_auc(probabilities[:, 1], targets == 1)
    areas = [binary_roc_auc(probabilities[:, k], targets == k) for k in range(probabilities.shape[1])]
    present = [a for a in areas if a is not None]
    return sum(present) / len(present) if present else None


def balanced_accuracy(probabilities: Tensor, targets: Tensor) -> float:
    """The mean over the classes present of the share of their records predicted right."""
    predicted = probabilities.argmax(dim=1)
    recalls = [float((predicted[targets == k] == k).double().mean()) for k in targets.unique().tolist()]
    return sum(recalls) / len(recalls)


def ranking_metrics(probabilities: Tensor, targets: Tensor) -> dict[str, float]:
    """`roc_auc` (when both classes of some pair are present) and `balanced_accuracy` of a split."""
    if targets.numel() == 0:
        return {}
    metrics = {"balanced_accuracy": balanced_accuracy(probabilities, targets)}
    area = roc_auc(probabilities, targets)
    if area is not None:
        metrics["roc_auc"] = area
    return metrics
