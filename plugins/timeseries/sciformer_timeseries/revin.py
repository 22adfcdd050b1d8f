"""Reversible instance normalisation (RevIN): each window's channels scaled by their own statistics on
the way in, the forecast scaled back on the way out. The three scalers are transformers' PatchTST ones:

- `std`: loc the mean, scale sqrt(variance + minimum_scale) (PatchTSTStdScaler, minimum 1e-5);
- `mean`: loc 0, scale the mean absolute value, at least minimum_scale (PatchTSTMeanScaler, 1e-10);
- `none`: loc 0, scale 1.

Statistics use the observed context values only (`observed`), in float32.
"""

from __future__ import annotations

import torch
from torch import Tensor


def instance_statistics(values: Tensor, observed: Tensor, scaling: str, floor: float) -> tuple[Tensor, Tensor]:
    """(loc, scale), each (B, 1, C), of contexts `values` (B, L, C) over their `observed` (B, L, C) steps."""
    values = values.float()
    weights = observed.to(values.dtype)
    count = weights.sum(dim=1, keepdim=True).clamp_min(1.0)
    if scaling == "std":
        loc = (values * weights).sum(dim=1, keepdim=True) / count
        variance = (((values - loc) * weights) ** 2).sum(dim=1, keepdim=True) / count
        return loc, torch.sqrt(variance + floor)
    if scaling == "mean":
        scale = (values * weights).abs().sum(dim=1, keepdim=True) / count
        return torch.zeros_like(scale), scale.clamp(min=floor)
    ones = torch.ones_like(count)
    return torch.zeros_like(ones), ones
