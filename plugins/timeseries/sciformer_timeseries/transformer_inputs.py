"""The encoder-decoder forecaster's inputs per time step, as transformers' `TimeSeriesTransformerModel`
builds them (`create_network_inputs`, `get_lagged_subsequences`):

- the series scaled by the window's own statistics over the encoder's `context_length` observed steps
  (`mean`: loc 0, scale the mean |x|, at least 1e-10; `std`: loc the mean, scale sqrt(var + 1e-5); `none`);
- at each step, the scaled value of every channel `lag` steps earlier, for each lag of `lags_sequence`
  (channel after channel, lags within a channel);
- the window's static features log(1 + |loc|) and log(scale) of each channel, the same at every step;
- the step's time features.

A step at absolute position p of the history (the record's `past_length` context steps, then the
forecast steps) sees the values at p - lag; the encoder's steps are the last `context_length` of the
context, the decoder's the forecast steps, each of which sees only values before it.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from .transformer_options import TransformerOptions


class WindowScaling(NamedTuple):
    """A window's statistics, shared by the encoder, the decoder and the head: loc and scale (B, 1, C) and
    the static features (B, 2C)."""

    loc: Tensor
    scale: Tensor
    static: Tensor


def window_scaling(context: Tensor, observed: Tensor, options: TransformerOptions) -> WindowScaling:
    """Statistics of the encoder's steps (the last `context_length` of each context (B, past_length, C))."""
    values = context[:, -options.context_length :].float()
    weights = observed[:, -options.context_length :].to(values.dtype)
    count = weights.sum(dim=1, keepdim=True)
    if options.scaling == "std":
        denominator = count.clamp_min(1.0)
        loc = (values * weights).sum(dim=1, keepdim=True) / denominator
        variance = (((values - loc) * weights) ** 2).sum(dim=1, keepdim=True) / denominator
        scale = torch.sqrt(variance + options.scale_floor)
    elif options.scaling == "mean":
        scale = ((values * weights).abs().sum(dim=1, keepdim=True) / count.clamp(min=1)).clamp(min=options.scale_floor)
        loc = torch.zeros_like(scale)
    else:
        scale = torch.ones_like(count)
        loc = torch.zeros_like(count)
    static = torch.cat([loc.squeeze(1).abs().log1p(), scale.squeeze(1).log()], dim=1)
    return WindowScaling(loc, scale, static)


def lagged_values(history: Tensor, lags: tuple[int, ...], first: int, steps: int) -> Tensor:
    """(B, T, C) scaled history -> (B, steps, C * len(lags)): for steps at positions first .. first + steps - 1,
    the value `lag` steps before each (channel-major, as transformers reshapes (C, lags))."""
    stacked = torch.stack([history[:, first - lag : first - lag + steps] for lag in lags], dim=-1)  # (B, steps, C, I)
    return stacked.flatten(2)


def step_inputs(history: Tensor, scaling: WindowScaling, time_features: Tensor, options: TransformerOptions, first: int) -> Tensor:
    """Inputs (B, S, feature_size) of the S steps from position `first` of a history (B, T, C) in the series'
    units, whose time features are `time_features` (B, S, F)."""
    scaled = (history.float() - scaling.loc) / scaling.scale
    steps = time_features.shape[1]
    static = scaling.static[:, None, :].expand(-1, steps, -1)
    return torch.cat([lagged_values(scaled, options.lags_sequence, first, steps), static, time_features.float()], dim=-1)
