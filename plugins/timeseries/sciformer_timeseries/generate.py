"""Forecasts of the encoder-decoder model over the whole horizon: sampled paths, decoded step by step.

As transformers' `TimeSeriesTransformerForPrediction.generate`: the context is encoded once; for each
forecast step the decoder runs over the steps so far (their lags reading the context and the values
sampled before), the head gives the step's distribution and one value is drawn for each of `samples`
paths, which becomes part of the history of the next step. The forecast is the mean of the paths.

Each record draws from its own seed, so a record's paths do not depend on the batch it shares (scoring
in chunks, resumed or sharded gives the same file); with one record and the same seed, the draws are
those of transformers' `generate`.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import torch
from sciformer.data.batch import TokenBatch
from sciformer.engine.model import ModelOutput, SciformerModel
from torch import Tensor

from .distribution_head import distribution
from .transformer_embedding import DECODER_HISTORY
from .transformer_options import TransformerOptions


def record_seed(seed: int, record_id: str) -> int:
    """The seed of one record's paths: the run's seed and a checksum of its id."""
    return (seed * 1_000_003 + zlib.crc32(record_id.encode("utf-8"))) % 2**63


def sample_paths(model: SciformerModel, batch: TokenBatch, samples: int, seeds: Sequence[int], encoded: ModelOutput | None = None) -> Tensor:
    """(B, samples, H, C) sampled forecast paths of a batch in the series' units, record i drawing from
    `seeds[i]`; `encoded` is the model's encoder output for `batch`, when already computed."""
    options = TransformerOptions.from_config(model.config)
    encoded = encoded if encoded is not None else model.encode(batch)
    paths = []
    for row, seed in enumerate(seeds):
        one = _record(batch, row, samples)
        memory = _repeated(encoded, row, samples)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            paths.append(_decode(model, one, memory, options))
    return torch.stack(paths)


def _record(batch: TokenBatch, row: int, samples: int) -> TokenBatch:
    """Record `row` of a batch repeated `samples` times (its context, observed mask and time features)."""
    repeated = TokenBatch(
        padding_mask=batch.padding_mask[row : row + 1].expand(samples, -1),
        record_ids=[batch.record_ids[row]] * samples,
        features=batch.features[row : row + 1].expand(samples, -1, -1),
    )
    for key, value in batch.extras.items():
        if isinstance(value, Tensor) and value.shape[:1] == batch.features.shape[:1]:
            repeated.extras[key] = value[row : row + 1].expand(samples, *value.shape[1:])
    return repeated


def _repeated(encoded: ModelOutput, row: int, samples: int) -> ModelOutput:
    """The encoder output of record `row`, repeated for its paths."""
    embedded = encoded.embedded
    layout = type(embedded.layout)(*(part[row : row + 1].expand(samples, *part.shape[1:]) for part in embedded.layout))
    repeat = embedded._replace(
        hidden=embedded.hidden[row : row + 1].expand(samples, -1, -1),
        padding_mask=embedded.padding_mask[row : row + 1].expand(samples, -1),
        pool_mask=embedded.pool_mask[row : row + 1].expand(samples, -1),
        positions=embedded.positions[row : row + 1].expand(samples, -1),
        layout=layout,
    )
    return ModelOutput(hidden=encoded.hidden[row : row + 1].expand(samples, -1, -1), pooled=encoded.pooled[row : row + 1], embedded=repeat)


def _decode(model: SciformerModel, batch: TokenBatch, encoded: ModelOutput, options: TransformerOptions) -> Tensor:
    """(samples, H, C) paths of one record's repeated batch, drawn with the current random state."""
    history = batch.features.float()
    drawn = []
    for _ in range(options.prediction_length):
        batch.extras[DECODER_HISTORY] = history
        prediction = model.decode(batch, encoded).prediction[:, -1:]  # (samples, 1, C, P)
        value = distribution(prediction, options.distribution).sample()  # (samples, 1, C)
        drawn.append(value)
        history = torch.cat([history, value], dim=1)
    return torch.cat(drawn, dim=1)
