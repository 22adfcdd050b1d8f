"""The `training:` section of a recipe: optimisation settings, checked on construction."""

from __future__ import annotations

import math
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin, get_type_hints

from sciformer.errors import ConfigError
from sciformer.known_keys import dataclass_from
from sciformer.training.metrics import metric_mode
from sciformer.training.objectives import DEFAULT_MASK_RATIO

KINDS = {int: "a whole number", float: "a number", str: "text", bool: "true or false", tuple: "a list", Mapping: "a mapping"}
AT_LEAST_ONE = ("epochs", "max_steps", "batch_size", "batch_tokens", "accumulate", "eval_every", "patience", "rollout_steps")
NOT_NEGATIVE = ("weight_decay", "warmup_steps")
FRACTIONS = ("mlm_probability", "mask_ratio")  # each must lie in (0, 1)


@dataclass(frozen=True)
class TrainingConfig:
    """Optimisation settings of one run (the `training:` section of a recipe)."""

    epochs: int = 10
    max_steps: int | None = None  # optimizer steps; overrides epochs when set
    batch_size: int = 32  # records per micro-batch (per rank), unless batch_tokens is set
    batch_tokens: int | None = None  # token budget per micro-batch (length-bucketed)
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 0
    grad_clip: float | None = 1.0
    accumulate: int = 1  # micro-batches per rank and optimizer step; the global batch is accumulate x world
    dtype: str = "float32"  # "bfloat16" runs the forward pass under autocast
    eval_every: int | None = None  # optimizer steps between evaluations; None = once per epoch
    patience: int | None = None  # evaluations without improvement before stopping early
    metric: str = "loss"  # validation metric that selects the best checkpoint
    mode: str | None = None  # "min" or "max"; by default the metric's own direction (training/metrics.py)
    seed: int = 0
    label_smoothing: float = 0.0  # classification: the share of each target spread over all classes
    class_weights: str | None = None  # "balanced": loss weight n / (K n_k) per class (training/loss_settings.py)
    ema: float | None = None  # decay of an average of the weights used for validation and the checkpoint
    augment: Mapping = field(default_factory=dict)  # {name: {settings}} of the domain's augmentations
    mlm_probability: float = 0.15
    mask_ratio: float = DEFAULT_MASK_RATIO  # share of patch tokens masked by the masked-patches task
    rollout_steps: int = 1  # forecasters: model steps rolled out from each record, each trained (training/rollout.py)
    device: str = "cpu"  # "cuda" means each torchrun process's own GPU
    fsdp: bool = False  # shard parameters, gradients and optimizer moments over the ranks (FSDP)
    tensorboard: bool = False  # also write TensorBoard events (needs the tensorboard package)
    keep_state: bool = False  # keep the resumable state after a run that finished
    refit_head: bool = False  # classifiers: refit the last layer on frozen features after training, chosen on valid (training/head_refit.py)

    def __post_init__(self) -> None:
        for name, hint in get_type_hints(type(self)).items():
            object.__setattr__(self, name, checked_value(f"training.{name}", getattr(self, name), hint))
        if self.dtype not in ("float32", "bfloat16"):
            raise ConfigError(f"training.dtype must be float32 or bfloat16, got {self.dtype!r}")
        for name in AT_LEAST_ONE:
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"training.{name} must be at least 1, got {value}")
        for name in NOT_NEGATIVE:
            if getattr(self, name) < 0:
                raise ConfigError(f"training.{name} must not be negative, got {getattr(self, name)}")
        if not 0 < self.lr < math.inf:
            raise ConfigError(f"training.lr must be positive and finite, got {self.lr}")
        if self.device.split(":")[0] not in ("cpu", "cuda"):
            raise ConfigError(f"training.device must be cpu or cuda (cuda:N for one GPU), got {self.device!r}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ConfigError(f"training.grad_clip must be positive or null (no clipping), got {self.grad_clip}")
        for name in FRACTIONS:
            if not 0.0 < getattr(self, name) < 1.0:
                raise ConfigError(f"training.{name} must lie in (0, 1), got {getattr(self, name)}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"training.label_smoothing must lie in [0, 1), got {self.label_smoothing}")
        if self.class_weights not in (None, "balanced"):
            raise ConfigError(f"training.class_weights must be balanced or null, got {self.class_weights!r}")
        if self.ema is not None and not 0.0 < self.ema < 1.0:
            raise ConfigError(f"training.ema must lie in (0, 1) (the decay per step, e.g. 0.999) or be null, got {self.ema}")
        if self.ema is not None and self.fsdp:
            raise ConfigError("training.ema is not supported with training.fsdp (the average would be of each rank's shard)")
        if self.refit_head and self.fsdp:
            raise ConfigError("training.refit_head is not supported with training.fsdp (the last layer would be a shard)")
        object.__setattr__(self, "mode", metric_mode(self.metric, self.mode))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingConfig:
        """Build from a recipe section, naming unknown keys."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"recipe section training must be a mapping of settings, got {data!r}")
        return dataclass_from(cls, "training setting(s)", data)


def checked_fields(section: str, values: Mapping[str, Any], cls: type) -> dict[str, Any]:
    """The settings of a recipe section, each checked against the type of `cls`'s field of that name
    (unknown names are left for `cls` to report)."""
    hints = get_type_hints(cls)
    return {name: checked_value(f"{section}.{name}", v, hints[name]) if name in hints else v for name, v in values.items()}


def checked_value(key: str, value: Any, hint: Any) -> Any:
    """`value` as the field's type asks (an int where a float goes becomes a float; text that reads as a
    number, such as YAML's `1e-4`, becomes one); otherwise a ConfigError naming `key`."""
    kinds = get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    optional = type(None) in kinds
    kind = next(k for k in kinds if k is not type(None))
    kind = get_origin(kind) or kind
    if kind not in KINDS:
        return value
    wanted = KINDS[kind] + (" or null" if optional else "")
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{key} must be {wanted}, got null")
    if kind is float and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is tuple and isinstance(value, list):
        value = tuple(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ConfigError(f"{key} must be {wanted}, got {value!r}")
    return value
