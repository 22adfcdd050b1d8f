"""The time-shift augmentation: recordings delayed or advanced by whole samples, lengths kept right."""

from __future__ import annotations

import pytest
import torch
from sciformer.augmentation import build_augmentations
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.errors import ConfigError
from sciformer_audio.time_shift import shift_waveforms
from sciformer_audio.tokenizer import NUM_SAMPLES


def test_shift_waveforms_delays_and_advances() -> None:
    waveforms = torch.tensor([[1.0, 2.0, 3.0, 0.0], [4.0, 5.0, 6.0, 7.0]])
    lengths = torch.tensor([3, 4])
    moved, new_lengths = shift_waveforms(waveforms, lengths, torch.tensor([2, -1]))
    assert new_lengths.tolist() == [5, 3]
    assert moved.tolist() == [[0.0, 0.0, 1.0, 2.0, 3.0], [5.0, 6.0, 7.0, 0.0, 0.0]]
    _, kept = shift_waveforms(waveforms, lengths, torch.tensor([-10, -10]))
    assert kept.tolist() == [1, 1], "an advance never empties a recording"


def test_time_shift_is_offered_for_audio_models_and_checks_its_setting(host) -> None:
    config = ModelConfig(domain="audio", domain_options={"sample_rate": 8000})
    (shift,) = build_augmentations(host, config, {"time_shift": {"max_ms": 1}})  # up to 8 samples
    waveforms = torch.arange(1.0, 101.0).repeat(4, 1)
    batch = TokenBatch(padding_mask=torch.ones(4, 3, dtype=torch.bool), record_ids=list("abcd"), features=waveforms, extras={NUM_SAMPLES: torch.full((4,), 100)})
    moved = shift(batch, torch.Generator().manual_seed(0))
    for row in range(4):
        length = int(moved.extras[NUM_SAMPLES][row])
        signal = moved.features[row, :length]
        nonzero = signal[signal != 0]
        assert abs(length - 100) <= 8 and torch.equal(nonzero, torch.arange(nonzero[0].item(), nonzero[0].item() + len(nonzero)))
    with pytest.raises(ConfigError, match="time_shift.max_ms must be a positive number"):
        build_augmentations(host, config, {"time_shift": {"max_ms": 0}})
