"""One optimizer step as every training loop takes it: AdamW with weight decay on matrices only, the
warmup + cosine learning rate of the step, the gradient norm clipped, then step and zero.

The trainer and the contrastive loop both step this way, so `training:` settings mean the same in both.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from sciformer.training.config import TrainingConfig
from sciformer.training.schedule import warmup_cosine


def adamw(module: nn.Module, config: TrainingConfig) -> torch.optim.AdamW:
    """AdamW over `module`'s parameters: `weight_decay` on those of two or more dimensions, none on
    biases, norms and other vectors."""
    decay = [p for p in module.parameters() if p.dim() >= 2]
    no_decay = [p for p in module.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr)


def clip_norm(module: nn.Module, max_norm: float | None) -> float:
    """Clip the gradient norm of `module`'s parameters to `max_norm` (when set); returns the norm before."""
    return float(torch.nn.utils.clip_grad_norm_(module.parameters(), max_norm or float("inf")))


def optimizer_step(
    optimizer: torch.optim.Optimizer, clip: Callable[[float | None], float], config: TrainingConfig, step: int, total_steps: int
) -> tuple[float, float]:
    """Set the learning rate of optimizer step `step` (0-based) of `total_steps`, clip the gradients with
    `clip(config.grad_clip)` (which returns their norm), step and zero them; returns (lr, gradient norm)."""
    lr = config.lr * warmup_cosine(step, config.warmup_steps, total_steps)
    for group in optimizer.param_groups:
        group["lr"] = lr
    grad_norm = clip(config.grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return lr, grad_norm
