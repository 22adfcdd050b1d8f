"""The audio settings: defaults are AST's AudioSet recipe; mistakes are named clearly."""

from __future__ import annotations

import pytest
from sciformer.errors import ConfigError
from sciformer_audio.settings import AudioSettings


def test_defaults_are_ast_audioset() -> None:
    """16 kHz, 400-sample frames every 160 in a 512-point FFT, a 12 x 101 patch grid, 1214 tokens."""
    settings = AudioSettings()
    assert (settings.window_size, settings.window_shift, settings.fft_size) == (400, 160, 512)
    assert settings.patch_grid == (12, 101) and settings.num_tokens == 1214
    assert settings.max_samples == 400 + 1023 * 160
    assert settings.to_options()["position_grid"] == [12, 101]
    assert AudioSettings.from_options(settings.to_options()) == AudioSettings(position_grid=(12, 101))


def test_spectrogram_bins_and_8khz_framing() -> None:
    """At 8 kHz a 25 ms frame is 200 samples in a 256-point FFT: 129 spectrogram bins."""
    settings = AudioSettings(sample_rate=8000, frontend="spectrogram", max_length=100)
    assert (settings.window_size, settings.fft_size, settings.num_bins) == (200, 256, 129)
    assert settings.num_frames(199) == 0 and settings.num_frames(200) == 1 and settings.num_frames(8000) == 98


@pytest.mark.parametrize(
    "options, message",
    [
        ({"frontend": "mfcc"}, "frontend must be one of"),
        ({"num_mel_bins": 8}, "patch does not fit 8 frequency bins"),
        ({"max_length": 0}, "max_length must be a positive integer"),
        ({"norm_std": 0.0}, "norm_std must be positive"),
        ({"time_mask": -1}, "freq_mask and time_mask"),
        ({"position_grid": [3]}, "position_grid must be two positive integers"),
        ({"sampling_rate": 8000}, r"unknown audio option\(s\) \['sampling_rate'\]"),
    ],
)
def test_mistakes_are_named(options: dict, message: str) -> None:
    """Each invalid option raises ConfigError saying what is wrong."""
    with pytest.raises(ConfigError, match=message):
        AudioSettings.from_options(options)
