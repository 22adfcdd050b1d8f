"""An exponential moving average of a model's weights, for evaluation and the saved checkpoint.

After each optimizer step every floating-point parameter's average moves towards it:
`average += (1 - d) (weight - average)`, with `d = min(decay, (1 + step) / (10 + step))` so that the
early average is not dominated by the random initial weights. Validation, checkpoint selection, the
saved model and the test metrics then use the averaged weights (`applied`), while the optimizer keeps
training the raw ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from sciformer.errors import ConfigError

EMA_FILE = "ema.safetensors"  # in the run's state/ folder, for exact resume


class WeightAverage:
    """The moving average of `model`'s floating-point parameters (kept in float32)."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ConfigError(f"training.ema must lie in (0, 1) (the decay per step, e.g. 0.999), got {decay}")
        self.decay = decay
        self.names = [name for name, p in model.named_parameters() if p.is_floating_point()]
        self.average = [p.detach().float().clone() for name, p in model.named_parameters() if p.is_floating_point()]

    def _weights(self, model: nn.Module) -> list[torch.Tensor]:
        found = dict(model.named_parameters())
        return [found[name] for name in self.names]

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Move the average towards the model's weights after optimizer step `step` (counting from 0)."""
        decay = min(self.decay, (1 + step) / (10 + step))
        torch._foreach_lerp_(self.average, [p.detach().float() for p in self._weights(model)], 1.0 - decay)

    @contextmanager
    @torch.no_grad()
    def applied(self, model: nn.Module) -> Iterator[None]:
        """Within the block `model` holds the averaged weights; its own come back afterwards."""
        weights = self._weights(model)
        own = [p.detach().clone() for p in weights]
        for p, average in zip(weights, self.average):
            p.copy_(average)
        try:
            yield
        finally:
            for p, value in zip(weights, own):
                p.copy_(value)

    def save(self, directory: Path) -> None:
        """Write the average into `directory` (resumable state)."""
        save_file(dict(zip(self.names, self.average)), str(directory / EMA_FILE))

    def load(self, directory: Path) -> None:
        """Read the average `save` wrote; ConfigError when it is missing or holds other tensors."""
        path = directory / EMA_FILE
        if not path.is_file():
            raise ConfigError(f"cannot resume with training.ema: {path} is missing (the run was started without it)")
        saved = load_file(str(path))
        if sorted(saved) != sorted(self.names):
            raise ConfigError(f"cannot resume with training.ema: {path} holds the average of another model")
        self.average = [saved[name] for name in self.names]
