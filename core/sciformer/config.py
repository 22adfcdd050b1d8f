"""The model configuration: one frozen, validated dataclass shared by every domain."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sciformer.errors import ConfigError
from sciformer.known_keys import dataclass_from, refuse_unknown

NORMS = ("pre", "post")
ACTIVATIONS = ("gelu", "gelu_tanh", "relu")
POSITIONS = ("none", "sinusoidal", "learned", "rotary")
POOLINGS = ("cls", "mean")
#: Tasks whose heads the engine provides; plugins may add their own task names through their heads hook.
ENGINE_TASKS = ("mlm", "clm", "sequence-classification", "sequence-regression", "token-classification")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to build a model; stored as JSON beside the weights."""

    domain: str
    dim: int = 256  # model width D; ESM-2 8M uses 320, ViT-S 384
    depth: int = 4  # number of blocks
    heads: int = 4  # attention heads; dim must divide by it
    mlp_ratio: float = 4.0  # hidden width of the block MLP relative to dim (every reference model uses 4)
    norm: str = "pre"  # "pre" (GPT-2, ESM, ViT) trains stably without warmup tricks; "post" is BERT's
    norm_eps: float = 1e-5
    norm_layer: str = "layernorm"  # the norm of every block and the final norm: "layernorm", "rmsnorm" or a plugin's
    mlp_layer: str = "mlp"  # the block feed-forward: "mlp" (fc1, activation, fc2) or a plugin's
    qk_norm: bool = False  # a norm over each head's queries and keys before the product (timm's qk_norm)
    attention_norm: bool = False  # a norm of the attention output before its projection (timm's scale_norm)
    mlp_norm: bool = False  # a norm of the MLP hidden layer before fc2 (timm's scale_mlp_norm)
    final_norm: bool = True  # a LayerNorm after the last block, as pre-norm models need
    activation: str = "gelu"  # exact erf GELU, as ESM and ViT use
    dropout: float = 0.0
    attention_dropout: float = 0.0
    qkv_bias: bool = True
    position: str = "learned"  # "rotary" applies inside attention; the others inside the embedder
    max_positions: int = 1024
    causal: bool = False  # GPT-style mask; False gives BERT-style bidirectional attention
    task: str | None = None  # None: an encoder without a head (embeddings only)
    num_labels: int = 0  # classes (or regression outputs) of a sequence / token head
    labels: tuple[str, ...] = ()  # class names, kept with the checkpoint for readable outputs
    pooling: str = "mean"  # how sequence heads and embeddings pool tokens
    tie_embeddings: bool = True  # LM heads reuse the input embedding matrix
    domain_options: Mapping[str, Any] = field(default_factory=dict)  # the plugin's own settings

    def __post_init__(self) -> None:
        _check_choice("norm", self.norm, NORMS)
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_choice("position", self.position, POSITIONS)
        _check_choice("pooling", self.pooling, POOLINGS)
        for name in ("dim", "depth", "heads", "max_positions"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"model.{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.dim % self.heads:
            raise ConfigError(f"model.dim ({self.dim}) must be divisible by model.heads ({self.heads})")
        if self.position == "rotary" and (self.dim // self.heads) % 2:
            raise ConfigError(f"rotary positions need an even head width, got {self.dim // self.heads}")
        if not 0.0 <= self.dropout < 1.0 or not 0.0 <= self.attention_dropout < 1.0:
            raise ConfigError("model.dropout and model.attention_dropout must lie in [0, 1)")
        if self.mlp_ratio <= 0:
            raise ConfigError(f"model.mlp_ratio must be positive, got {self.mlp_ratio}")
        if self.num_labels < 0:
            raise ConfigError(f"model.num_labels must not be negative, got {self.num_labels}")
        if self.labels and len(self.labels) != self.num_labels:
            raise ConfigError(f"model.labels has {len(self.labels)} names but num_labels is {self.num_labels}")
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "domain_options", dict(self.domain_options))

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.dim // self.heads

    @property
    def mlp_dim(self) -> int:
        """Hidden width of the block MLP."""
        return round(self.dim * self.mlp_ratio)

    def option(self, name: str, default: Any = None) -> Any:
        """A plugin setting from `domain_options`, or `default` when absent."""
        return self.domain_options.get(name, default)

    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        data = dataclasses.asdict(self)
        data["labels"] = list(self.labels)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Build from a dictionary, naming any unknown key."""
        if "domain" not in data:
            refuse_unknown("model setting(s)", data, sorted(f.name for f in dataclasses.fields(cls)))
            raise ConfigError("model configuration has no 'domain'")
        values = dict(data)
        if "labels" in values:
            values["labels"] = tuple(values["labels"])
        return dataclass_from(cls, "model setting(s)", values)


def merge_settings(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Model settings from layers, later ones winning (domain defaults, a checkpoint, a recipe, a test's
    configuration): the one merge rule, where `domain_options` merge key by key and the rest replace."""
    merged: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
        options.update(layer.get("domain_options") or {})
    return {**merged, "domain_options": options} if options or "domain_options" in merged else merged


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"model.{name} must be one of {list(choices)}, got {value!r}")
