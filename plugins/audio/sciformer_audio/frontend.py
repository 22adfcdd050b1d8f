"""The model's front end: waveforms -> fixed-size normalised time-frequency images, as AST feeds them.

The fbank (or spectrogram) of each record is zero-padded or cropped to `max_length` frames, then
normalised with AST's `(x - mean) / (2 std)` using the statistics stored with the weights.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from sciformer_audio.augment import spec_augment
from sciformer_audio.fbank import KaldiFbank, Spectrogram
from sciformer_audio.settings import AudioSettings


class AudioFrontend(nn.Module):
    """(B, S) waveforms at the model's rate and their (B,) lengths -> (B, max_length, bins) features.

    Has no parameters (its window and filters are non-persistent buffers), so checkpoints hold none of it.
    """

    def __init__(self, settings: AudioSettings) -> None:
        super().__init__()
        s = settings
        if s.frontend == "fbank":
            self.transform: nn.Module = KaldiFbank(
                s.sample_rate, s.num_mel_bins, s.frame_length_ms, s.frame_shift_ms, s.preemphasis, s.low_freq, s.high_freq
            )
        else:
            self.transform = Spectrogram(s.sample_rate, s.frame_length_ms, s.frame_shift_ms, s.spectrogram_power, s.spectrogram_scale == "log")
        self.max_length = s.max_length
        self.mean = s.norm_mean
        self.std = s.norm_std
        self.freq_mask = s.freq_mask
        self.time_mask = s.time_mask

    def raw(self, waveforms: Tensor, lengths: Tensor) -> Tensor:
        """Un-normalised features padded with zeros or cropped to (B, max_length, bins)."""
        features, _ = self.transform(waveforms, lengths)
        frames = features.shape[1]
        if frames < self.max_length:
            return F.pad(features, (0, 0, 0, self.max_length - frames))
        return features[:, : self.max_length]

    def forward(self, waveforms: Tensor, lengths: Tensor) -> Tensor:
        """Normalised features (B, max_length, bins): (x - mean) / (2 std); SpecAugment first while training."""
        features = self.raw(waveforms, lengths)
        if self.training and (self.freq_mask or self.time_mask):
            features = spec_augment(features, self.freq_mask, self.time_mask)
        return (features - self.mean) / (2.0 * self.std)
