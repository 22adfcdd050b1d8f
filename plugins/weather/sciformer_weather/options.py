"""The weather domain's settings, read from `ModelConfig.domain_options` and validated once.

Everything the tokenizer, embedder, mixer and head need to be rebuilt from a checkpoint lives here:
the grid, the channels and their normalisation statistics, the patch size and the AFNO settings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sciformer.config import ModelConfig
from sciformer.errors import ConfigError

DOMAIN = "weather"
TASK = "forecast"  # the one task weather models learn: the field `lead` steps later
PAD_MODES = ("constant", "reflect", "replicate", "circular")  # torch.nn.functional.pad modes
NAN_POLICIES = ("bad", "fill")  # "bad": a record with NaN / inf is rejected; "fill": see tokenizer.py
MIXERS = ("afno", "attention")

#: Settings a new weather model starts from. FourCastNet uses no final norm (its `norm` layer is never
#: applied), LayerNorm eps 1e-6, exact GELU, MLP ratio 4 and 8 AFNO blocks.
DEFAULT_CONFIG: dict[str, Any] = {
    "dim": 128,
    "depth": 4,
    "heads": 4,
    "mlp_ratio": 4.0,
    "norm": "pre",
    "norm_eps": 1e-6,
    "final_norm": False,
    "activation": "gelu",
    "position": "learned",
    "task": TASK,
    "domain_options": {"patch": 4, "num_blocks": 8},
}


@dataclass(frozen=True)
class WeatherOptions:
    """Validated weather settings of one model.

    `grid` (H, W) is the field size the model takes; `patch` (ph, pw) the patch size; the grid is padded
    on the bottom and right up to a multiple of the patch (`pad_mode`) and cropped back by the head.
    `mean` / `std` normalise each channel on the way in and out; `latitudes` (H,) give the
    latitude weights; `latitudes`, `longitudes` (W,) and `units` are what an input must match
    (`matching.py`); `step` is how many time indices one model step advances.
    """

    channels: tuple[str, ...]
    grid: tuple[int, int]
    patch: tuple[int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    latitudes: tuple[float, ...] | None
    step: int = 1
    num_blocks: int = 8  # AFNO block-diagonal blocks; FourCastNet uses 8
    sparsity_threshold: float = 0.01  # soft-shrinkage lambda of the AFNO filter
    hard_thresholding_fraction: float = 1.0  # share of Fourier modes the AFNO filter keeps
    hidden_size_factor: int = 1  # width factor of the AFNO spectral MLP
    pad_mode: str = "constant"
    nan_policy: str = "bad"
    mixer: str = "afno"
    weighted_loss: bool = False  # latitude-weighted MSE instead of plain MSE
    residual: bool = False  # predict the change from the input (the head's output is added to it); FourCastNet: False
    time_features: bool = False  # add sin / cos of the input's UTC hour of day as two input channels
    step_hours: float | None = None  # hours one model step advances (needed by time_features in rollouts)
    input_noise: float = 0.0  # std of Gaussian noise added to normalised input fields while training (rollout stability)
    units: tuple[str, ...] | None = None  # each channel's units (CF, e.g. "K"), when the training data gave them
    longitudes: tuple[float, ...] | None = None  # the grid's longitudes (W,), when the training data gave them

    def __post_init__(self) -> None:
        channels = len(self.channels)
        if channels < 1:
            raise ConfigError("domain_options.channels must name at least one channel")
        if len(self.grid) != 2 or min(self.grid) < 1:
            raise ConfigError(f"domain_options.grid must be [lat, lon] sizes, got {list(self.grid)}")
        if len(self.patch) != 2 or min(self.patch) < 1:
            raise ConfigError(f"domain_options.patch must be a positive size or [h, w], got {list(self.patch)}")
        if self.units is not None and len(self.units) != channels:
            raise ConfigError(f"domain_options.units needs one value per channel ({channels}), got {list(self.units)}")
        if len(self.mean) != channels or len(self.std) != channels:
            raise ConfigError(f"domain_options.mean and std need one value per channel ({channels}), got {len(self.mean)} and {len(self.std)}")
        if any(not math.isfinite(s) or s <= 0 for s in self.std) or any(not math.isfinite(m) for m in self.mean):
            raise ConfigError(f"domain_options.std must be positive and mean finite, got mean {list(self.mean)}, std {list(self.std)}")
        if self.latitudes is not None and len(self.latitudes) != self.grid[0]:
            raise ConfigError(f"domain_options.latitudes has {len(self.latitudes)} values for a grid of {self.grid[0]} rows")
        if self.longitudes is not None and len(self.longitudes) != self.grid[1]:
            raise ConfigError(f"domain_options.longitudes has {len(self.longitudes)} values for a grid of {self.grid[1]} columns")
        if self.step < 1:
            raise ConfigError(f"domain_options.step must be at least 1, got {self.step}")
        if not 0.0 < self.hard_thresholding_fraction <= 1.0:
            raise ConfigError(f"domain_options.hard_thresholding_fraction must lie in (0, 1], got {self.hard_thresholding_fraction}")
        if self.sparsity_threshold < 0:
            raise ConfigError(f"domain_options.sparsity_threshold must not be negative, got {self.sparsity_threshold}")
        if self.num_blocks < 1 or self.hidden_size_factor < 1:
            raise ConfigError("domain_options.num_blocks and hidden_size_factor must be at least 1")
        for name, value, choices in (("pad_mode", self.pad_mode, PAD_MODES), ("nan_policy", self.nan_policy, NAN_POLICIES), ("mixer", self.mixer, MIXERS)):
            if value not in choices:
                raise ConfigError(f"domain_options.{name} must be one of {list(choices)}, got {value!r}")
        if self.input_noise < 0:
            raise ConfigError(f"domain_options.input_noise must not be negative, got {self.input_noise}")
        if self.time_features and not self.step_hours:
            raise ConfigError("domain_options.time_features needs step_hours (learned from time-stamped training records)")
        if self.pad_mode == "reflect" and any(p > g - 1 for p, g in zip(self.padding, self.grid)):
            raise ConfigError(f"pad_mode 'reflect' needs padding smaller than the grid; padding {self.padding} for grid {self.grid}")

    @property
    def padded_grid(self) -> tuple[int, int]:
        """(H', W'): the grid rounded up to a multiple of the patch size."""
        return tuple(math.ceil(g / p) * p for g, p in zip(self.grid, self.patch))  # type: ignore[return-value]

    @property
    def padding(self) -> tuple[int, int]:
        """Rows and columns added at the bottom and right."""
        return tuple(pg - g for pg, g in zip(self.padded_grid, self.grid))  # type: ignore[return-value]

    @property
    def patch_grid(self) -> tuple[int, int]:
        """(h, w): patches along latitude and longitude; the token count is h * w."""
        return tuple(pg // p for pg, p in zip(self.padded_grid, self.patch))  # type: ignore[return-value]

    @property
    def input_channels(self) -> int:
        """Channels the patch embedding sees: the fields plus two time-of-day channels when enabled."""
        return len(self.channels) + (2 if self.time_features else 0)

    @property
    def num_tokens(self) -> int:
        """Tokens per field."""
        h, w = self.patch_grid
        return h * w

    @classmethod
    def from_config(cls, config: ModelConfig) -> WeatherOptions:
        """Read and validate `config.domain_options`; names what is missing."""
        options = config.domain_options
        missing = [key for key in ("channels", "grid") if not options.get(key)]
        if missing:
            raise ConfigError(
                f"weather models need domain_options {missing}; train from records (the trainer fills them in) or set them"
            )
        channels = tuple(str(c) for c in options["channels"])
        unknown = sorted(set(options) - KNOWN_OPTIONS)
        if unknown:
            raise ConfigError(f"unknown weather domain_options {unknown}; known: {sorted(KNOWN_OPTIONS)}")
        latitudes, longitudes = options.get("latitudes"), options.get("longitudes")
        options_out = cls(
            channels=channels,
            grid=_pair("grid", options["grid"]),
            patch=_pair("patch", options.get("patch", 4)),
            mean=tuple(float(m) for m in options.get("mean", [0.0] * len(channels))),
            std=tuple(float(s) for s in options.get("std", [1.0] * len(channels))),
            latitudes=tuple(float(v) for v in latitudes) if latitudes else None,
            step=int(options.get("step", 1)),
            num_blocks=int(options.get("num_blocks", 8)),
            sparsity_threshold=float(options.get("sparsity_threshold", 0.01)),
            hard_thresholding_fraction=float(options.get("hard_thresholding_fraction", 1.0)),
            hidden_size_factor=int(options.get("hidden_size_factor", 1)),
            pad_mode=str(options.get("pad_mode", "constant")),
            nan_policy=str(options.get("nan_policy", "bad")),
            mixer=str(options.get("mixer", "afno")),
            weighted_loss=bool(options.get("weighted_loss", False)),
            residual=bool(options.get("residual", False)),
            time_features=bool(options.get("time_features", False)),
            step_hours=None if options.get("step_hours") is None else float(options["step_hours"]),
            input_noise=float(options.get("input_noise", 0.0)),
            units=tuple(str(u) for u in options["units"]) if options.get("units") else None,
            longitudes=tuple(float(v) for v in longitudes) if longitudes else None,
        )
        if options_out.mixer == "afno" and config.dim % options_out.num_blocks:
            raise ConfigError(f"model.dim ({config.dim}) must be divisible by domain_options.num_blocks ({options_out.num_blocks})")
        if config.position not in ("learned", "none"):
            raise ConfigError(f"weather models use learned patch positions or none; model.position {config.position!r} is not supported")
        return options_out


KNOWN_OPTIONS = frozenset(
    {
        "channels", "grid", "patch", "mean", "std", "latitudes", "longitudes", "step", "num_blocks", "sparsity_threshold",
        "hard_thresholding_fraction", "hidden_size_factor", "pad_mode", "nan_policy", "mixer", "weighted_loss", "residual",
        "time_features", "step_hours", "input_noise", "units",
    }
)  # fmt: skip


def _pair(name: str, value: Any) -> tuple[int, int]:
    """An int or a two-item sequence as (a, b)."""
    if isinstance(value, int):
        return (value, value)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return (int(value[0]), int(value[1]))
    raise ConfigError(f"domain_options.{name} must be an integer or [a, b], got {value!r}")
