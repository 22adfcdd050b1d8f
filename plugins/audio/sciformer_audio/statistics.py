"""Settings learned from training records: AST's feature normalisation statistics and the class names."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from sciformer.config import ModelConfig
from sciformer.errors import BadRecordError, ConfigError
from sciformer.records import Record

from sciformer_audio.frontend import AudioFrontend
from sciformer_audio.settings import AudioSettings
from sciformer_audio.tokenizer import NUM_SAMPLES, WaveformTokenizer

log = logging.getLogger(__name__)

BATCH = 64  # records per front-end pass while gathering statistics


@torch.no_grad()
def feature_statistics(config: ModelConfig, records: Sequence[Record]) -> tuple[float, float]:
    """Mean and standard deviation of the padded, un-normalised features the model would see.

    As AST's get_norm_stats: over every value of every record's (max_length, bins) input, zero
    padding included. Bad records are left out.
    """
    tokenizer = WaveformTokenizer(config.replace(task=None, num_labels=0, labels=()))  # targets play no part
    frontend = AudioFrontend(tokenizer.settings)
    total = total_sq = 0.0
    count = 0
    encoded = []
    for record in records:
        try:
            encoded.append(tokenizer.encode(record))
        except BadRecordError:
            continue
    if not encoded:
        raise ConfigError("no usable audio records to compute normalisation statistics from")
    for start in range(0, len(encoded), BATCH):
        chunk = encoded[start : start + BATCH]
        batch = tokenizer.collate(chunk, [str(i) for i in range(len(chunk))])
        features = frontend.raw(batch.features, batch.extras[NUM_SAMPLES]).double()
        total += float(features.sum())
        total_sq += float(features.square().sum())
        count += features.numel()
    mean = total / count
    std = max(total_sq / count - mean * mean, 0.0) ** 0.5
    return mean, std


def prepare_config(config: ModelConfig, records: Sequence[Record]) -> ModelConfig:
    """Complete a new audio model's configuration: every setting explicit, statistics learned."""
    options = dict(config.domain_options)
    if "norm_mean" not in options or "norm_std" not in options:
        mean, std = feature_statistics(config, records)
        options.update(norm_mean=mean, norm_std=std)
        log.info("audio feature statistics from %d records: mean %.4f, std %.4f", len(records), mean, std)
    return config.replace(domain_options=AudioSettings.from_options(options).to_options())
