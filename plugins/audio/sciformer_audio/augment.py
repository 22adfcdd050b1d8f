"""SpecAugment masking as AST's training recipe applies it: one frequency band and one time span per record.

Masked values are set to zero on the un-normalised features (before `(x - mean) / (2 std)`), as in
AST's data loader. Used only while training, and only when the model's settings ask for it.
"""

from __future__ import annotations

import torch
from torch import Tensor


def mask_spans(size: int, max_width: int, batch: int, device: torch.device) -> Tensor:
    """(B, size) True inside one random span per row: width ~ U[0, max_width), start ~ U[0, size - width)."""
    width = (torch.rand(batch, device=device) * min(max_width, size)).floor()
    start = (torch.rand(batch, device=device) * (size - width)).floor()
    index = torch.arange(size, device=device)[None, :]
    return (index >= start[:, None]) & (index < (start + width)[:, None])


def spec_augment(features: Tensor, freq_mask: int, time_mask: int) -> Tensor:
    """(B, frames, bins) -> the same with a frequency band and a time span zeroed per record."""
    batch, frames, bins = features.shape
    keep = torch.ones_like(features, dtype=torch.bool)
    if freq_mask > 0:
        keep &= ~mask_spans(bins, freq_mask, batch, features.device)[:, None, :]
    if time_mask > 0:
        keep &= ~mask_spans(frames, time_mask, batch, features.device)[:, :, None]
    return features * keep
