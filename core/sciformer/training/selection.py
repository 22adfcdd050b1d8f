"""Choosing the best model on validation: when to evaluate, the selection metric of each evaluation, the
best so far, and early stopping after `patience` evaluations without improvement.

A run's `progress` (kept for resuming) holds `step`, `best`, `best_step`, `best_metrics` and `stale`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sciformer.errors import ConfigError
from sciformer.training.ranking import WHY_MISSING


def evaluation_due(eval_every: int | None, step: int, at_end: bool, epoch_end: bool) -> bool:
    """True after optimizer step `step` when validation is due: every `eval_every` steps (else at each
    epoch's end) and after the last step."""
    return bool((eval_every and step % eval_every == 0) or at_end or (epoch_end and not eval_every))


def selection_value(metrics: Mapping[str, float], name: str) -> float | None:
    """The selection metric `name` of one evaluation's `metrics`; None when nothing was evaluated.
    Refused, naming what is reported, when the metric is not among them."""
    if not metrics:
        return None
    if name not in metrics:
        raise ConfigError(f"training.metric {name!r} is not reported{WHY_MISSING.get(name, '')}; available: {sorted(metrics)}")
    return metrics[name]


def keep_if_best(progress: dict[str, Any], value: float | None, metrics: Mapping[str, float], mode: str) -> bool:
    """Record one evaluation in `progress`; True when it is the best so far ("min": lower is better,
    "max": higher), or when there is nothing to compare (no validation records)."""
    best = progress["best"]
    improved = value is None or best is None or (value < best if mode == "min" else value > best)
    if improved:
        progress.update(best=value, best_step=progress["step"], best_metrics=dict(metrics), stale=0)
    else:
        progress["stale"] += 1
    return improved


def patience_spent(progress: Mapping[str, Any], patience: int | None) -> bool:
    """True when early stopping says stop: `patience` evaluations in a row without improvement."""
    return bool(patience and progress["stale"] >= patience)
