"""Rollout training: a model whose prediction is its own next input (a forecaster) runs `steps` times
from each record, each step on its previous output, and is trained on all the predictions at once, so
that it learns to correct the errors it feeds itself (FourCastNet's multi-step fine-tuning).

The domain says how a prediction becomes the next input (`Domain.next_input`); the records carry a
target per step, `batch.targets` (B, steps, ...), and the predictions are stacked the same way, so the
head's loss and metrics cover every step of the rollout.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.domain import Domain
from sciformer.errors import ConfigError
from sciformer.plugins import PluginHost

#: (batch, prediction) -> the batch one model step later, with `prediction` as its input, or None.
NextInput = Callable[[TokenBatch, Tensor], TokenBatch | None]


def check_rollout_domain(host: PluginHost, config: ModelConfig, steps: int) -> None:
    """Refuse a rollout of more than one step for a domain that cannot feed its predictions back."""
    if steps > 1 and type(host.domain(config.domain).domain).next_input is Domain.next_input:
        raise ConfigError(f"training.rollout_steps is {steps}, but domain {config.domain!r} cannot feed its predictions back as inputs (it has no next_input)")


def rolled_out(forward: Callable[[TokenBatch], Tensor], batch: TokenBatch, steps: int, next_input: NextInput) -> Tensor:
    """Predictions (B, steps, ...) of `steps` model steps from `batch`, each fed back through `next_input`."""
    check_rollout_targets(batch, steps)
    predictions = []
    current: TokenBatch | None = batch
    for step in range(steps):
        prediction = forward(current)
        predictions.append(prediction)
        if step + 1 < steps:
            current = next_input(current, prediction)
            if current is None:
                raise ConfigError(f"training.rollout_steps is {steps}, but this batch's predictions cannot be fed back as inputs")
    return torch.stack(predictions, dim=1)


def check_rollout_targets(batch: TokenBatch, steps: int) -> None:
    """Refuse a batch whose targets do not hold one target per rollout step (B, steps, ...)."""
    targets = batch.targets
    if targets is None or targets.dim() < 2 or targets.shape[1] != steps:
        got = "none" if targets is None else f"shape {tuple(targets.shape)}"
        raise ConfigError(
            f"training.rollout_steps is {steps}, so each record needs a target per step (B, {steps}, ...), got {got}: "
            f"read the records with {steps} target steps (weather: reader option rollout: {steps})"
        )
