"""The speed augmentation: recordings played faster or slower, lengths and pitch following the factor."""

from __future__ import annotations

import pytest
import torch
from sciformer.augmentation import build_augmentations
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.errors import ConfigError
from sciformer_audio.speed import change_speed
from sciformer_audio.tokenizer import NUM_SAMPLES

RATE = 8000


def peak_hz(signal: torch.Tensor) -> float:
    """The frequency of the strongest bin of a signal sampled at RATE."""
    spectrum = torch.fft.rfft(signal.double()).abs()
    return float(spectrum.argmax()) * RATE / len(signal)


def test_change_speed_shortens_raises_pitch_and_keeps_padding_zero() -> None:
    seconds = torch.arange(8000, dtype=torch.float64) / RATE
    tone = torch.sin(2 * torch.pi * 500 * seconds).float()
    waveforms = torch.stack([tone, torch.cat([tone[:4000], torch.zeros(4000)])])
    moved, lengths = change_speed(waveforms, torch.tensor([8000, 4000]), torch.tensor([1.25, 0.8], dtype=torch.float64))
    assert lengths.tolist() == [6400, 5000]
    assert moved.shape == (2, 6400)
    assert peak_hz(moved[0, :6400]) == pytest.approx(625, abs=2)
    assert peak_hz(moved[1, :5000]) == pytest.approx(400, abs=2)
    assert torch.equal(moved[1, 5000:], torch.zeros(1400)), "the padding stays silent"
    same, kept = change_speed(waveforms, torch.tensor([8000, 4000]), torch.ones(2, dtype=torch.float64))
    assert kept.tolist() == [8000, 4000] and torch.allclose(same[:, :4000], waveforms[:, :4000])


def test_speed_is_offered_for_audio_models_draws_within_its_range_and_checks_its_setting(host) -> None:
    config = ModelConfig(domain="audio", domain_options={"sample_rate": RATE})
    (speed,) = build_augmentations(host, config, {"speed": {"max_change": 0.1}})
    waveforms = torch.randn(16, 1000)
    batch = TokenBatch(padding_mask=torch.ones(16, 3, dtype=torch.bool), record_ids=[str(i) for i in range(16)], features=waveforms, extras={NUM_SAMPLES: torch.full((16,), 1000)})
    first, again = speed(batch, torch.Generator().manual_seed(3)), speed(batch, torch.Generator().manual_seed(3))
    lengths = first.extras[NUM_SAMPLES]
    assert torch.equal(lengths, again.extras[NUM_SAMPLES]) and torch.equal(first.features, again.features), "seeded: the same batch twice"
    assert int(lengths.min()) >= 909 and int(lengths.max()) <= 1112 and len(set(lengths.tolist())) > 4
    for bad in (0, 1, -0.1, "fast"):
        with pytest.raises(ConfigError, match="speed.max_change must be a number in"):
            build_augmentations(host, config, {"speed": {"max_change": bad}})
