"""Random time shift of training waveforms: a spoken word or a call starts earlier or later, its label stays.

Each record is delayed (silence put before it) or advanced (its first samples dropped) by a whole
number of samples drawn uniformly from +-`max_ms`; `extras["num_samples"]` follows. The front end
then crops or pads the filterbank to the model's frames as usual.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from sciformer.augmentation import Augmentation, BatchTransform
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.errors import ConfigError

from sciformer_audio.settings import AudioSettings
from sciformer_audio.tokenizer import NUM_SAMPLES


def shift_waveforms(waveforms: torch.Tensor, lengths: torch.Tensor, shifts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, S) right-padded waveforms with (B,) lengths, each moved later by its (B,) shift in samples
    (earlier when negative) -> the moved waveforms, right-padded, and their new lengths."""
    starts = shifts.clamp(min=0)
    drops = (-shifts).clamp(min=0).minimum(lengths - 1)
    new_lengths = lengths - drops + starts
    moved = waveforms.new_zeros(waveforms.shape[0], int(new_lengths.max()))
    for row, (start, drop, length) in enumerate(zip(starts.tolist(), drops.tolist(), lengths.tolist())):
        moved[row, start : start + length - drop] = waveforms[row, drop:length]
    return moved, new_lengths


def time_shift_augmentation(config: ModelConfig) -> Augmentation:
    """The `time_shift` augmentation for a model's sample rate."""
    rate = AudioSettings.from_config(config).sample_rate

    def build(max_ms: float = 100.0) -> BatchTransform:
        if not isinstance(max_ms, (int, float)) or max_ms <= 0:
            raise ConfigError(f"training.augment.time_shift.max_ms must be a positive number of milliseconds, got {max_ms!r}")
        most = max(1, round(max_ms * rate / 1000))

        def transform(batch: TokenBatch, generator: torch.Generator) -> TokenBatch:
            shifts = torch.randint(-most, most + 1, (batch.size,), generator=generator)
            waveforms, lengths = shift_waveforms(batch.features, batch.extras[NUM_SAMPLES], shifts)
            return replace(batch, features=waveforms, extras={**batch.extras, NUM_SAMPLES: lengths})

        return transform

    return Augmentation("time_shift", "delay or advance each recording by up to `max_ms` milliseconds", build)
