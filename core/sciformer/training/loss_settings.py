"""The recipe's loss settings for a head: label smoothing and class-balanced loss weights.

`training.class_weights: balanced` weights each class by `n / (K x n_k)` (n labelled items in the
training split, n_k of class k, K classes), so that every class counts as much in the loss as if the
classes were equally frequent; a class absent from training keeps weight 1. Only heads that declare
an option in `Head.loss_options` accept it; a recipe asking a head for one it ignores is refused.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from sciformer.engine.heads import IGNORE_INDEX, Head
from sciformer.errors import ConfigError
from sciformer.training.config import TrainingConfig

CLASS_WEIGHTS = ("balanced",)


def requested_loss_options(config: TrainingConfig) -> list[str]:
    """The loss options a training configuration asks for."""
    return [name for name, on in (("label_smoothing", config.label_smoothing > 0), ("class_weights", config.class_weights is not None)) if on]


def check_loss_options(head: Head, config: TrainingConfig) -> None:
    """ConfigError when the recipe asks `head` for a loss option it does not honour."""
    ignored = [name for name in requested_loss_options(config) if name not in head.loss_options]
    if ignored:
        honoured = sorted(head.loss_options) or "none"
        raise ConfigError(f"training.{ignored[0]} does not apply to the {type(head).__name__} (loss options it honours: {honoured})")


def balanced_class_weights(targets: Iterable[Tensor], num_labels: int) -> Tensor:
    """(num_labels,) weights n / (K x n_k) from the class indices of the training items (IGNORE_INDEX
    left out); classes without items get 1."""
    counts = torch.zeros(num_labels, dtype=torch.float64)
    for batch_targets in targets:
        labelled = batch_targets.flatten().long()
        labelled = labelled[labelled != IGNORE_INDEX]
        counts += torch.bincount(labelled, minlength=num_labels).double()[:num_labels]
    present = counts > 0
    weights = torch.ones(num_labels, dtype=torch.float64)
    weights[present] = counts.sum() / (int(present.sum()) * counts[present])
    return weights.float()


def configure_head_loss(head: Head, config: TrainingConfig, training_targets: Iterable[Tensor], num_labels: int) -> Tensor | None:
    """Apply the recipe's label smoothing and class weights to `head`; returns the weights (or None)."""
    check_loss_options(head, config)
    weights = balanced_class_weights(training_targets, num_labels) if config.class_weights == "balanced" else None
    head.configure_loss(label_smoothing=config.label_smoothing, class_weights=weights)
    return weights
