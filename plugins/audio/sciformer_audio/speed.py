"""Speed perturbation of training waveforms: a word spoken faster or slower (and higher or lower), its label kept.

Each record is resampled by a factor drawn uniformly from 1 +- `max_change`, as Kaldi's speed
perturbation does with sox: played back `factor` times faster, so it lasts 1 / factor as long and its
frequencies move up by `factor`. The new samples are read off the old ones by linear interpolation,
which also damps the top of the band a little; `extras["num_samples"]` follows.
"""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F
from sciformer.augmentation import Augmentation, BatchTransform
from sciformer.data.batch import TokenBatch
from sciformer.errors import ConfigError

from sciformer_audio.tokenizer import NUM_SAMPLES


def change_speed(waveforms: torch.Tensor, lengths: torch.Tensor, factors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, S) right-padded waveforms with (B,) lengths, each played `factors[b]` times faster -> the
    resampled waveforms, right-padded, and their new lengths (at least one sample)."""
    new_lengths = (lengths.double() / factors.double()).round().long().clamp(min=1)
    resampled = waveforms.new_zeros(waveforms.shape[0], int(new_lengths.max()))
    for row, (length, new_length) in enumerate(zip(lengths.tolist(), new_lengths.tolist())):
        signal = waveforms[row, :length].reshape(1, 1, length)
        resampled[row, :new_length] = F.interpolate(signal, size=new_length, mode="linear", align_corners=True).reshape(new_length)
    return resampled, new_lengths


def speed_augmentation() -> Augmentation:
    """The `speed` augmentation."""

    def build(max_change: float = 0.1) -> BatchTransform:
        if not isinstance(max_change, (int, float)) or not 0 < max_change < 1:
            raise ConfigError(f"training.augment.speed.max_change must be a number in (0, 1), got {max_change!r}")

        def transform(batch: TokenBatch, generator: torch.Generator) -> TokenBatch:
            factors = 1 + (2 * torch.rand(batch.size, generator=generator, dtype=torch.float64) - 1) * max_change
            waveforms, lengths = change_speed(batch.features, batch.extras[NUM_SAMPLES], factors)
            return replace(batch, features=waveforms, extras={**batch.extras, NUM_SAMPLES: lengths})

        return transform

    return Augmentation("speed", "play each recording up to `max_change` (a share) faster or slower", build)
