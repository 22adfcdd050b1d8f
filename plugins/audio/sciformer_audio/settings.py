"""The audio domain's settings: one frozen, validated view of `ModelConfig.domain_options`.

Everything the reader, the tokenizer and the front end need lives here and is saved with the
checkpoint, so a model rebuilds its whole preprocessing from its configuration alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sciformer.config import ModelConfig
from sciformer.errors import ConfigError
from sciformer.known_keys import dataclass_from

FRONTENDS = ("fbank", "spectrogram")
SPECTROGRAM_SCALES = ("log", "linear")
#: How multi-channel audio becomes mono and how other sample rates are converted; stored with every
#: model so its outputs say what was done to the input.
DOWNMIX = "mean of channels"
RESAMPLER = "scipy.signal.resample_poly (Kaiser window, beta 5.0)"


@dataclass(frozen=True)
class AudioSettings:
    """Preprocessing and patching of the Audio Spectrogram Transformer.

    Defaults are AST's AudioSet recipe: 16 kHz, Kaldi fbank with 128 mel bins over 25 ms frames every
    10 ms, 1024 frames (10.24 s), 16x16 patches every 10 bins / frames, AudioSet's mean and std.
    """

    sample_rate: int = 16000
    frontend: str = "fbank"  # "fbank" (Kaldi log-mel) or "spectrogram" (plain STFT bins)
    num_mel_bins: int = 128
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    preemphasis: float = 0.97  # Kaldi's default pre-emphasis coefficient (fbank only)
    low_freq: float = 20.0  # lowest mel filter edge in Hz (Kaldi's default)
    high_freq: float = 0.0  # highest edge in Hz; zero or negative counts down from Nyquist (Kaldi's rule)
    spectrogram_power: float = 2.0  # spectrogram front end: 1 gives magnitudes, 2 power
    spectrogram_scale: str = "log"  # spectrogram front end: natural log with Kaldi's floor, or linear
    max_length: int = 1024  # frames the model sees: shorter inputs are zero-padded, longer ones cropped
    patch_size: int = 16
    frequency_stride: int = 10  # AST's overlapping patches: stride 10 < patch 16
    time_stride: int = 10
    norm_mean: float = -4.2677393  # AudioSet log-mel statistics (AST's); trained models store their own
    norm_std: float = 4.5689974
    position_grid: tuple[int, int] | None = None  # (freq, time) grid the position table was learned on
    freq_mask: int = 0  # training only: SpecAugment band of up to this many bins (AST AudioSet: 48)
    time_mask: int = 0  # training only: SpecAugment span of up to this many frames (AST AudioSet: 192)
    max_clipped_fraction: float = 0.001  # a record with more samples at full scale is bad (clipped)
    downmix: str = DOWNMIX
    resampler: str = RESAMPLER

    def __post_init__(self) -> None:
        if self.frontend not in FRONTENDS:
            raise ConfigError(f"audio frontend must be one of {list(FRONTENDS)}, got {self.frontend!r}")
        if self.spectrogram_scale not in SPECTROGRAM_SCALES:
            raise ConfigError(f"audio spectrogram_scale must be one of {list(SPECTROGRAM_SCALES)}, got {self.spectrogram_scale!r}")
        for name in ("sample_rate", "num_mel_bins", "max_length", "patch_size", "frequency_stride", "time_stride"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"audio option {name} must be a positive integer, got {value!r}")
        if not isinstance(self.freq_mask, int) or not isinstance(self.time_mask, int) or min(self.freq_mask, self.time_mask) < 0:
            raise ConfigError(f"audio freq_mask and time_mask must be integers >= 0, got {self.freq_mask!r} and {self.time_mask!r}")
        if self.frame_length_ms <= 0 or self.frame_shift_ms <= 0:
            raise ConfigError("audio frame_length_ms and frame_shift_ms must be positive")
        if self.window_size < 2 or self.window_shift < 1:
            raise ConfigError(f"{self.frame_length_ms} ms frames at {self.sample_rate} Hz are too short to analyse")
        if not 0.0 <= self.preemphasis < 1.0:
            raise ConfigError(f"audio preemphasis must lie in [0, 1), got {self.preemphasis}")
        if self.norm_std <= 0:
            raise ConfigError(f"audio norm_std must be positive, got {self.norm_std}")
        if not 0.0 <= self.max_clipped_fraction <= 1.0:
            raise ConfigError(f"audio max_clipped_fraction must lie in [0, 1], got {self.max_clipped_fraction}")
        if self.num_bins < self.patch_size or self.max_length < self.patch_size:
            raise ConfigError(
                f"a {self.patch_size}x{self.patch_size} patch does not fit {self.num_bins} frequency bins x {self.max_length} frames"
            )
        if self.position_grid is not None:
            grid = tuple(int(n) for n in self.position_grid)
            if len(grid) != 2 or min(grid) < 1:
                raise ConfigError(f"audio position_grid must be two positive integers, got {self.position_grid!r}")
            object.__setattr__(self, "position_grid", grid)

    # -- framing ----------------------------------------------------------------------------------

    @property
    def window_size(self) -> int:
        """Samples per frame (Kaldi truncates: 25 ms at 16 kHz is 400)."""
        return int(self.sample_rate * 0.001 * self.frame_length_ms)

    @property
    def window_shift(self) -> int:
        """Samples between frame starts (10 ms at 16 kHz is 160)."""
        return int(self.sample_rate * 0.001 * self.frame_shift_ms)

    @property
    def fft_size(self) -> int:
        """The frame zero-padded to the next power of two (Kaldi's round_to_power_of_two)."""
        return 1 << (self.window_size - 1).bit_length()

    @property
    def num_bins(self) -> int:
        """Frequency bins per frame: mel bins (fbank) or FFT bins up to Nyquist (spectrogram)."""
        return self.num_mel_bins if self.frontend == "fbank" else self.fft_size // 2 + 1

    @property
    def max_samples(self) -> int:
        """Samples that produce `max_length` frames; later samples never reach the model."""
        return self.window_size + (self.max_length - 1) * self.window_shift

    def num_frames(self, num_samples: int) -> int:
        """Frames Kaldi takes from `num_samples` samples with snip_edges (0 if shorter than one frame)."""
        return 0 if num_samples < self.window_size else 1 + (num_samples - self.window_size) // self.window_shift

    # -- patches ----------------------------------------------------------------------------------

    @property
    def patch_grid(self) -> tuple[int, int]:
        """(frequency, time) patches over `num_bins` x `max_length` (AST's get_shape)."""
        frequency = (self.num_bins - self.patch_size) // self.frequency_stride + 1
        time = (self.max_length - self.patch_size) // self.time_stride + 1
        return frequency, time

    @property
    def table_grid(self) -> tuple[int, int]:
        """The grid of the learned position table (the patch grid unless the model was trained on another)."""
        return self.position_grid or self.patch_grid

    @property
    def num_tokens(self) -> int:
        """Tokens per record: CLS, distillation and one per patch."""
        frequency, time = self.patch_grid
        return 2 + frequency * time

    # -- conversion -------------------------------------------------------------------------------

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> AudioSettings:
        """Settings from a `domain_options` mapping, naming any unknown key."""
        values = dict(options)
        if values.get("position_grid") is not None:
            values["position_grid"] = tuple(values["position_grid"])
        return dataclass_from(cls, "audio option(s)", values)

    @classmethod
    def from_config(cls, config: ModelConfig) -> AudioSettings:
        """Settings of an audio model configuration."""
        return cls.from_options(config.domain_options)

    def to_options(self) -> dict[str, Any]:
        """A JSON-ready `domain_options` dictionary holding every setting."""
        options = dataclasses.asdict(self)
        options["position_grid"] = list(self.table_grid)
        return options
