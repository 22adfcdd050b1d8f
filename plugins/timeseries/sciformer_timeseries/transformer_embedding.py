"""The encoder-decoder forecaster's embedders: each step's inputs (transformer_inputs.py) through a bias-free
Linear, plus a fixed sinusoidal position, then a LayerNorm (transformers' `TimeSeriesValueEmbedding`,
`TimeSeriesSinusoidalPositionalEmbedding` and `layernorm_embedding`).

The encoder embeds the last `context_length` steps of each record's context (positions 0 ..), the decoder
the forecast steps (positions `context_length` ..). The decoder's history, whose values its steps see
through their lags, is in order of preference `extras["decoder_history"]` (the context and the values
sampled so far, while generating), the context and the target but its last step (teacher forcing, in
training), or the context alone (one step: the first forecast step needs nothing more).
"""

from __future__ import annotations

import numpy as np
import torch
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.engine.context import Embedded
from torch import Tensor, nn

from .transformer_inputs import WindowScaling, step_inputs, window_scaling
from .transformer_options import TransformerOptions

DECODER_HISTORY = "decoder_history"  # batch.extras: (B, past_length + n - 1, C) history for n decoder steps
PAST_TIME, FUTURE_TIME = "past_time", "future_time"  # batch.extras: time features (B, past_length, F), (B, H, F)


def sinusoidal_table(positions: int, dim: int) -> Tensor:
    """transformers' time-series position table (positions, dim): sin of the even-indexed frequencies in the
    first half of the features, cos of the odd-indexed ones in the second (not interleaved)."""
    angles = np.array([[position / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)] for position in range(positions)])
    half = dim // 2 + dim % 2
    table = torch.empty(positions, dim)
    table[:, :half] = torch.FloatTensor(np.sin(angles[:, 0::2]))
    table[:, half:] = torch.FloatTensor(np.cos(angles[:, 1::2]))
    return table


class StepEmbedder(nn.Module):
    """Inputs of some steps -> (B, S, D): value embedding, positions from `offset`, LayerNorm, dropout."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.options = options = TransformerOptions.from_config(config)
        self.value_embedding = nn.Linear(options.feature_size, config.dim, bias=False)
        self.register_buffer("positions", sinusoidal_table(options.context_length + options.prediction_length, config.dim), persistent=False)
        self.layernorm_embedding = nn.LayerNorm(config.dim, eps=config.norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def embed(self, inputs: Tensor, offset: int, scaling: WindowScaling) -> Embedded:
        """(B, S, feature_size) inputs at positions offset .. offset + S - 1 -> Embedded, every step real."""
        steps = inputs.shape[1]
        hidden = self.value_embedding(inputs.to(self.value_embedding.weight.dtype)) + self.positions[offset : offset + steps]
        hidden = self.dropout(self.layernorm_embedding(hidden))
        mask = torch.ones(inputs.shape[0], steps, dtype=torch.bool, device=inputs.device)
        positions = torch.arange(offset, offset + steps, device=inputs.device).expand(inputs.shape[0], -1)
        return Embedded(hidden, mask, mask, positions, layout=scaling)


def _time(batch: TokenBatch, key: str, steps: int, options: TransformerOptions) -> Tensor:
    """Time features (B, steps, F) of `extras[key]`; none (F = 0) for a model without them."""
    if not options.time_features:
        return batch.features.new_zeros(batch.features.shape[0], steps, 0)
    if key not in batch.extras:
        raise ValueError(f"this model uses time features {list(options.time_features)}: the batch needs extras[{key!r}]")
    return batch.extras[key]


class EncoderEmbedder(StepEmbedder):
    """Records' contexts (B, past_length, C) -> the encoder's `context_length` steps; the window's scaling
    travels in `Embedded.layout` to the decoder and the head."""

    def forward(self, batch: TokenBatch) -> Embedded:
        """Scale and embed the encoder's steps of a batch."""
        options = self.options
        expected = (options.past_length, options.num_channels)
        if batch.features is None or batch.features.dim() != 3 or tuple(batch.features.shape[1:]) != expected:
            got = None if batch.features is None else tuple(batch.features.shape)
            raise ValueError(f"the encoder needs contexts (B, {expected[0]}, {expected[1]}) (context_length + the longest lag), got {got}")
        scaling = window_scaling(batch.features, batch.extras["observed"], options)
        first = options.past_length - options.context_length
        time = _time(batch, PAST_TIME, options.past_length, options)[:, first:]
        return self.embed(step_inputs(batch.features, scaling, time, options, first), 0, scaling)


class DecoderEmbedder(StepEmbedder):
    """The decoder's forecast steps (see the module docstring), scaled as the encoder scaled the window."""

    def forward(self, batch: TokenBatch, encoded: Embedded) -> Embedded:
        """Embed the decoder's steps of a batch."""
        options = self.options
        history = decoder_history(batch)
        steps = history.shape[1] - options.past_length + 1
        if not 1 <= steps <= options.prediction_length:
            raise ValueError(f"a decoder history of {history.shape[1]} steps gives {steps} forecast steps; the model forecasts 1 to {options.prediction_length}")
        time = _time(batch, FUTURE_TIME, options.prediction_length, options)[:, :steps]
        return self.embed(step_inputs(history, encoded.layout, time, options, options.past_length), options.context_length, encoded.layout)


def decoder_history(batch: TokenBatch) -> Tensor:
    """The history the decoder's steps see, in the series' units (see the module docstring)."""
    if DECODER_HISTORY in batch.extras:
        return batch.extras[DECODER_HISTORY]
    if batch.targets is not None:
        return torch.cat([batch.features, batch.targets[:, :-1].to(batch.features.dtype)], dim=1)
    return batch.features
