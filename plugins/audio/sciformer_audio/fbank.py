"""Kaldi-compatible log-mel filterbanks and plain STFT spectrograms in torch, batched on the device.

Follows Kaldi's `compute-fbank-feats` (and torchaudio's `compliance.kaldi.fbank`) as AST uses it:
frames of `window_size` samples every `window_shift` with snip_edges (only whole frames), no dither,
per frame: remove the DC offset, pre-emphasis, the symmetric Hann window (Kaldi's "hanning"), zero
padding to a power of two, the power spectrum, Kaldi's triangular HTK-mel filters (1127 ln(1 + f/700),
triangles in mel space, Nyquist bin unused), and the natural log floored at float32 epsilon. No energy.

Waveforms arrive right-padded in a (B, S) batch with their lengths; frames that reach into the
padding are zeroed, so a record's features do not depend on what it is batched with.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from sciformer.errors import ConfigError
from torch import Tensor, nn

EPSILON = torch.finfo(torch.float32).eps  # Kaldi's log floor: std::numeric_limits<float>::epsilon()


def mel_scale(frequency: Tensor | float) -> Tensor | float:
    """HTK mel scale, as Kaldi's MelBanks::MelScale: 1127 ln(1 + f / 700)."""
    if isinstance(frequency, Tensor):
        return 1127.0 * torch.log1p(frequency / 700.0)
    return 1127.0 * math.log1p(frequency / 700.0)


def mel_banks(num_bins: int, fft_size: int, sample_rate: int, low_freq: float, high_freq: float) -> Tensor:
    """Kaldi's triangular mel filters as a (num_bins, fft_size // 2 + 1) float64 matrix.

    Triangles are linear in mel between the edges of equally spaced mel bands; the Nyquist column
    is zero, as Kaldi uses only the first fft_size / 2 bins. `high_freq` <= 0 counts down from Nyquist.
    A band too narrow to hold an FFT bin keeps zero weights and so a constant log(epsilon) feature:
    Kaldi refuses such settings, but torchaudio and AST (128 bins at 16 kHz: band 3 is empty) accept them.
    """
    nyquist = 0.5 * sample_rate
    high = high_freq if high_freq > 0 else nyquist + high_freq
    if not 0.0 <= low_freq < high <= nyquist:
        raise ConfigError(f"mel filters need 0 <= low_freq < high_freq <= Nyquist ({nyquist} Hz), got {low_freq} and {high}")
    mel_low, mel_high = mel_scale(low_freq), mel_scale(high)
    delta = (mel_high - mel_low) / (num_bins + 1)
    band = torch.arange(num_bins, dtype=torch.float64)[:, None]
    left, centre, right = mel_low + band * delta, mel_low + (band + 1) * delta, mel_low + (band + 2) * delta
    fft_mel = mel_scale(torch.arange(fft_size // 2, dtype=torch.float64) * (sample_rate / fft_size))[None, :]
    rising = (fft_mel - left) / (centre - left)
    falling = (right - fft_mel) / (right - centre)
    weights = torch.where(fft_mel <= centre, rising, falling)
    weights = torch.where((fft_mel > left) & (fft_mel < right), weights, torch.zeros(()))  # (M, fft_size/2)
    return F.pad(weights, (0, 1))  # the Nyquist column


def hanning_window(size: int) -> Tensor:
    """Kaldi's "hanning" window: the symmetric Hann window 0.5 - 0.5 cos(2 pi n / (N - 1))."""
    return torch.hann_window(size, periodic=False, dtype=torch.float64)


def frame_counts(lengths: Tensor, window_size: int, window_shift: int) -> Tensor:
    """Whole frames per record with snip_edges: 1 + (n - window) // shift, 0 below one window. (B,)."""
    frames = torch.div(lengths - window_size, window_shift, rounding_mode="floor") + 1
    return frames.clamp(min=0)


def frames_of(waveforms: Tensor, lengths: Tensor, window_size: int, window_shift: int) -> tuple[Tensor, Tensor]:
    """(B, S) padded waveforms -> frames (B, F, window_size) and a (B, F) mask of frames inside each record."""
    if waveforms.shape[1] < window_size:
        waveforms = F.pad(waveforms, (0, window_size - waveforms.shape[1]))
    frames = waveforms.unfold(1, window_size, window_shift)  # (B, F, W)
    counts = frame_counts(lengths.to(frames.device), window_size, window_shift)
    inside = torch.arange(frames.shape[1], device=frames.device)[None, :] < counts[:, None]  # (B, F)
    return frames, inside


def power_spectrum(frames: Tensor, window: Tensor, fft_size: int, preemphasis: float, remove_dc: bool) -> Tensor:
    """Per-frame DC removal, pre-emphasis and window, then |rfft|^2: (..., W) -> (..., fft_size // 2 + 1)."""
    if remove_dc:
        frames = frames - frames.mean(dim=-1, keepdim=True)
    if preemphasis:
        previous = torch.cat((frames[..., :1], frames[..., :-1]), dim=-1)  # Kaldi: x[0] - c x[0], x[i] - c x[i-1]
        frames = frames - preemphasis * previous
    frames = frames * window
    spectrum = torch.fft.rfft(frames, n=fft_size)
    return spectrum.real.square() + spectrum.imag.square()


def log_floor(values: Tensor) -> Tensor:
    """Natural log with Kaldi's floor at float32 epsilon."""
    return values.clamp(min=EPSILON).log()


class KaldiFbank(nn.Module):
    """Kaldi log-mel filterbanks of a padded batch: (B, S) waveforms, (B,) lengths -> (B, F, M), (B, F) mask.

    Computed in float32 on the waveforms' device whatever autocast says; frames outside a record are zero.
    """

    def __init__(
        self,
        sample_rate: int,
        num_mel_bins: int = 128,
        frame_length_ms: float = 25.0,
        frame_shift_ms: float = 10.0,
        preemphasis: float = 0.97,
        low_freq: float = 20.0,
        high_freq: float = 0.0,
    ) -> None:
        super().__init__()
        self.window_size = int(sample_rate * 0.001 * frame_length_ms)
        self.window_shift = int(sample_rate * 0.001 * frame_shift_ms)
        self.fft_size = 1 << (self.window_size - 1).bit_length()
        self.preemphasis = preemphasis
        banks = mel_banks(num_mel_bins, self.fft_size, sample_rate, low_freq, high_freq)
        self.register_buffer("banks", banks.T.float().contiguous(), persistent=False)  # (fft_size/2 + 1, M)
        self.register_buffer("window", hanning_window(self.window_size).float(), persistent=False)

    def forward(self, waveforms: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """(B, S), (B,) -> log-mel features (B, F, M) and the (B, F) mask of real frames."""
        with torch.autocast(waveforms.device.type, enabled=False):
            frames, inside = frames_of(waveforms.float(), lengths, self.window_size, self.window_shift)
            power = power_spectrum(frames, self.window.float(), self.fft_size, self.preemphasis, remove_dc=True)
            features = log_floor(power @ self.banks.float())  # (B, F, M)
            return features * inside[..., None], inside


class Spectrogram(nn.Module):
    """A plain STFT spectrogram on Kaldi's frames: Hann window, |rfft|^power, optionally the floored log.

    No DC removal, pre-emphasis or mel filters. (B, S), (B,) -> (B, F, fft_size // 2 + 1), (B, F) mask.
    """

    def __init__(self, sample_rate: int, frame_length_ms: float = 25.0, frame_shift_ms: float = 10.0, power: float = 2.0, log: bool = True) -> None:
        super().__init__()
        self.window_size = int(sample_rate * 0.001 * frame_length_ms)
        self.window_shift = int(sample_rate * 0.001 * frame_shift_ms)
        self.fft_size = 1 << (self.window_size - 1).bit_length()
        self.power = power
        self.log = log
        self.register_buffer("window", hanning_window(self.window_size).float(), persistent=False)

    def forward(self, waveforms: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """(B, S), (B,) -> spectrogram (B, F, fft_size // 2 + 1) and the (B, F) mask of real frames."""
        with torch.autocast(waveforms.device.type, enabled=False):
            frames, inside = frames_of(waveforms.float(), lengths, self.window_size, self.window_shift)
            spectrum = power_spectrum(frames, self.window.float(), self.fft_size, preemphasis=0.0, remove_dc=False)
            if self.power != 2.0:
                spectrum = spectrum.pow(self.power / 2.0)
            features = log_floor(spectrum) if self.log else spectrum
            return features * inside[..., None], inside
