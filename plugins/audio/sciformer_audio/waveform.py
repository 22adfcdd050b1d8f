"""Waveforms as records carry them, and their conditioning to what the model hears.

A record's data is a `Waveform` (samples and their rate) or a bare 1-D array at the model's rate.
Conditioning, in order: check the samples (empty, non-finite, clipped), mix channels to mono (their
mean), resample to the model's rate with `scipy.signal.resample_poly`, check that one frame fits,
and remove the waveform's mean (AST's recipe). The tokenizer then crops it to the samples the model's
frames cover, and notes a crop.

Clipping rule: a sample is at full scale when its magnitude reaches 32767/32768, the largest int16
value in the [-1, 1) float convention (float audio beyond [-1, 1] counts too); a record with more
than `max_clipped_fraction` of its samples at full scale (0.1% by default) is bad.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from sciformer.errors import BadRecordError
from scipy.signal import resample_poly

INT16_SCALE = 32768.0  # int16 samples are divided by this into [-1, 1), as AST's loaders do
FULL_SCALE = 32767.0 / 32768.0


@dataclass(frozen=True)
class Waveform:
    """Audio samples in [-1, 1]: `samples` (N,) mono or (N, C) channels, at `sample_rate` Hz."""

    samples: np.ndarray
    sample_rate: int

    @property
    def channels(self) -> int:
        """Number of channels."""
        return 1 if self.samples.ndim == 1 else int(self.samples.shape[1])

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.samples.shape[0] / self.sample_rate


def as_float(samples: np.ndarray) -> np.ndarray:
    """Integer PCM to float in [-1, 1) (int16 by 32768, other widths by their own full scale); floats kept."""
    samples = np.asarray(samples)
    if samples.dtype.kind in "iu":
        info = np.iinfo(samples.dtype)
        scale = INT16_SCALE if samples.dtype == np.int16 else float(-info.min if info.min < 0 else (info.max + 1) / 2)
        offset = 0.0 if info.min < 0 else scale
        return ((samples.astype(np.float64) - offset) / scale).astype(np.float32)
    if samples.dtype.kind != "f":
        raise TypeError(f"audio samples must be integers or floats, got dtype {samples.dtype}")
    return samples


def to_mono(samples: np.ndarray) -> np.ndarray:
    """(N,) stays; (N, C) becomes the mean of its channels."""
    if samples.ndim == 1:
        return samples
    return samples.mean(axis=1, dtype=np.float64).astype(samples.dtype)


def resample(samples: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Polyphase resampling by the reduced ratio target/source (a no-op at equal rates)."""
    if source_rate == target_rate:
        return samples
    ratio = Fraction(int(target_rate), int(source_rate))
    return resample_poly(samples.astype(np.float64), ratio.numerator, ratio.denominator).astype(np.float32)


def clipped_fraction(samples: np.ndarray) -> float:
    """Share of samples at or beyond full scale."""
    return float(np.mean(np.abs(samples) >= FULL_SCALE)) if samples.size else 0.0


def condition(record_id: str, data: object, sample_rate: int, window_size: int, max_clipped_fraction: float) -> np.ndarray:
    """A record's audio -> mean-free float32 mono samples at `sample_rate`, all of them.

    `data` is a Waveform, or a 1-D array already at `sample_rate`. Raises BadRecordError for empty,
    non-finite, clipped or too-short audio (shorter than one `window_size` frame after resampling).
    """
    if isinstance(data, Waveform):
        samples, rate = data.samples, data.sample_rate
    elif isinstance(data, np.ndarray):
        samples, rate = data, sample_rate
    else:
        raise BadRecordError(record_id, f"audio record must hold a Waveform or a numpy array, got {type(data).__name__}")
    try:
        samples = as_float(samples)
    except TypeError as error:
        raise BadRecordError(record_id, str(error)) from None
    if samples.ndim not in (1, 2):
        raise BadRecordError(record_id, f"audio must be (samples,) or (samples, channels), got shape {samples.shape}")
    if samples.ndim == 2 and samples.shape[0] < samples.shape[1]:
        raise BadRecordError(record_id, f"audio of shape {samples.shape} has more channels than samples; give (samples, channels), not (channels, samples)")
    if samples.shape[0] == 0 or samples.size == 0:
        raise BadRecordError(record_id, "empty audio (no samples)")
    if not np.isfinite(samples).all():
        raise BadRecordError(record_id, "audio holds NaN or infinite samples")
    clipped = clipped_fraction(samples)
    if clipped > max_clipped_fraction:
        raise BadRecordError(
            record_id,
            f"clipped audio: {clipped:.2%} of samples at or beyond full scale (allowed {max_clipped_fraction:.2%}); "
            "float audio must lie in [-1, 1]",
        )
    mono = resample(to_mono(samples), int(rate), sample_rate)
    if mono.shape[0] < window_size:
        raise BadRecordError(
            record_id, f"audio too short: {mono.shape[0]} samples at {sample_rate} Hz, one frame needs {window_size}"
        )
    centred = mono.astype(np.float64)
    centred -= centred.mean()  # AST removes the waveform's mean before its fbank
    return centred.astype(np.float32)
