"""Per-channel normalisation: (x - mean) / std on the way in, x * std + mean on the way out."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .options import WeatherOptions


class Normaliser:
    """The channel statistics of a model, applied to (..., C, H, W) arrays or tensors."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        self.mean = np.asarray(mean, dtype=np.float32)[:, None, None]  # (C, 1, 1)
        self.std = np.asarray(std, dtype=np.float32)[:, None, None]

    @classmethod
    def of(cls, options: WeatherOptions) -> Normaliser:
        """The normaliser of a model's options."""
        return cls(options.mean, options.std)

    def forward(self, fields: np.ndarray) -> np.ndarray:
        """Physical units -> normalised."""
        return ((fields - self.mean) / self.std).astype(np.float32)

    def inverse(self, fields: np.ndarray | Tensor) -> np.ndarray | Tensor:
        """Normalised -> physical units (numpy or torch, same type out)."""
        if isinstance(fields, Tensor):
            std = torch.as_tensor(self.std, device=fields.device, dtype=fields.dtype)
            mean = torch.as_tensor(self.mean, device=fields.device, dtype=fields.dtype)
            return fields * std + mean
        return (fields * self.std + self.mean).astype(np.float32)
