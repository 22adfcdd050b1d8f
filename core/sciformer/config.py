"""The model configuration: one frozen, validated dataclass shared by every domain."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sciformer.errors import ConfigError
from sciformer.known_keys import dataclass_from, refuse_unknown

NORMS = ("pre", "post", "res-post")
ATTENTION_FORMS = ("dot", "cosine")
ACTIVATIONS = ("gelu", "gelu_tanh", "relu")
POSITIONS = ("none", "sinusoidal", "learned", "rotary")
POOLINGS = ("cls", "mean")
#: The settings that take one of a few values: name -> its choices (checked in this order).
CHOICES = {
    "norm": NORMS,
    "attention_form": ATTENTION_FORMS,
    "activation": ACTIVATIONS,
    "position": POSITIONS,
    "pooling": POOLINGS,
}
#: Tasks whose heads the engine provides; plugins may add their own task names through their heads hook.
ENGINE_TASKS = ("mlm", "clm", "sequence-classification", "sequence-regression", "token-classification")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to build a model; stored as JSON beside the weights."""

    domain: str  # the domain (a plugin's `Domain.name`) that tokenizes, embeds and reads this model's records
    dim: int = 256  # model width D; ESM-2 8M uses 320, ViT-S 384
    depth: int = 4  # number of blocks (all stages together)
    heads: int = 4  # attention heads; dim must divide by it
    mlp_ratio: float = 4.0  # hidden width of the block MLP relative to dim (every reference model uses 4)
    norm: str = "pre"  # "pre" (GPT-2, ESM, ViT) trains stably; "post" is BERT's; "res-post" (Swin V2) norms each branch's output
    norm_eps: float = 1e-5  # epsilon of every norm layer
    norm_layer: str = "layernorm"  # the norm of every block and the final norm: "layernorm", "rmsnorm" or a plugin's
    mlp_layer: str = "mlp"  # the block feed-forward: "mlp" (fc1, activation, fc2) or a plugin's
    qk_norm: bool = False  # a norm over each head's queries and keys before the product (timm's qk_norm)
    attention_form: str = "dot"  # "dot": q k^T / sqrt(d); "cosine" (Swin V2): unit q, k times a learned per-head scale (<= 100)
    attention_norm: bool = False  # a norm of the attention output before its projection (timm's scale_norm)
    mlp_norm: bool = False  # a norm of the MLP hidden layer before fc2 (timm's scale_mlp_norm)
    final_norm: bool = True  # a LayerNorm after the last block, as pre-norm models need
    activation: str = "gelu"  # exact erf GELU, as ESM and ViT use
    dropout: float = 0.0  # dropout of the embeddings, the MLP hidden layer and each block's residual branches (training only)
    attention_dropout: float = 0.0  # dropout of the attention weights (training only)
    qkv_bias: bool = True  # biases in the query, key and value projections
    position: str = "learned"  # "rotary" applies inside attention; the others inside the embedder
    max_positions: int = 1024  # longest token sequence a model takes; the size of absolute position tables
    causal: bool = False  # GPT-style mask; False gives BERT-style bidirectional attention
    task: str | None = None  # None: an encoder without a head (embeddings only)
    num_labels: int = 0  # classes (or regression outputs) of a sequence / token head
    labels: tuple[str, ...] = ()  # class names, kept with the checkpoint for readable outputs
    pooling: str = "mean"  # how sequence heads and embeddings pool tokens
    tie_embeddings: bool = True  # LM heads reuse the input embedding matrix
    domain_options: Mapping[str, Any] = field(default_factory=dict)  # the plugin's own settings
    stage_depths: tuple[int, ...] = ()  # blocks per stage (Swin); empty: one stage of `depth` blocks at width `dim`
    stage_heads: tuple[int, ...] = ()  # attention heads per stage; stage s has width dim * 2**s
    decoder_depth: int = 0  # blocks of a decoder over the domain's decoder tokens (causal self-attention, cross-attention over the encoder's output, feed-forward); 0: none

    def __post_init__(self) -> None:
        check_choices("model", self, CHOICES)
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
        object.__setattr__(self, "stage_depths", tuple(self.stage_depths))
        object.__setattr__(self, "stage_heads", tuple(self.stage_heads))
        _check_stages(self)
        if not isinstance(self.decoder_depth, int) or self.decoder_depth < 0:
            raise ConfigError(f"model.decoder_depth must be a non-negative integer, got {self.decoder_depth!r}")
        if self.decoder_depth and self.stage_depths:
            raise ConfigError("model.decoder_depth is not supported with model.stage_depths (a decoder attends to one stage's tokens)")
        object.__setattr__(self, "domain_options", dict(self.domain_options))

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.dim // self.heads

    @property
    def mlp_dim(self) -> int:
        """Hidden width of the block MLP."""
        return round(self.dim * self.mlp_ratio)

    @property
    def stages(self) -> tuple[tuple[int, int, int], ...]:
        """(width, heads, depth) of each stage: one stage of `depth` blocks unless `stage_depths` is set."""
        if not self.stage_depths:
            return ((self.dim, self.heads, self.depth),)
        return tuple((self.dim * 2**s, heads, depth) for s, (depth, heads) in enumerate(zip(self.stage_depths, self.stage_heads)))

    @property
    def output_dim(self) -> int:
        """Width of the final hidden states and the pooled output: the last stage's width."""
        return self.stages[-1][0]

    def stage_config(self, stage: int) -> ModelConfig:
        """The configuration blocks of `stage` are built with: its width and heads (stage settings kept)."""
        width, heads, _ = self.stages[stage]
        return self if (width, heads) == (self.dim, self.heads) else self.replace(dim=width, heads=heads)

    def stage_at(self, layer: int) -> tuple[int, int]:
        """(stage, index within the stage) of block `layer`."""
        for stage, (_, _, depth) in enumerate(self.stages):
            if layer < depth:
                return stage, layer
            layer -= depth
        raise IndexError(f"block {layer} is beyond the model's depth {self.depth}")

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
        for name in ("stage_depths", "stage_heads", "decoder_depth"):  # encoder-only, single-stage models keep their files unchanged
            if not data[name]:
                del data[name]
            elif name != "decoder_depth":
                data[name] = list(data[name])
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


def _check_stages(config: ModelConfig) -> None:
    depths, heads = config.stage_depths, config.stage_heads
    if not depths and not heads:
        return
    if len(depths) != len(heads):
        raise ConfigError(f"model.stage_depths {list(depths)} and model.stage_heads {list(heads)} must have the same length")
    if any(not isinstance(v, int) or v < 1 for v in (*depths, *heads)):
        raise ConfigError(f"model.stage_depths and model.stage_heads must hold positive integers, got {list(depths)} and {list(heads)}")
    if sum(depths) != config.depth:
        raise ConfigError(f"model.stage_depths {list(depths)} sum to {sum(depths)}, not model.depth ({config.depth})")
    for stage, (width, count, _) in enumerate(config.stages):
        if width % count:
            raise ConfigError(f"stage {stage} width {width} (model.dim * 2**{stage}) must be divisible by its heads ({count})")


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    """ConfigError unless `value` is one of `choices`; `name` is the setting's full name (`model.norm`)."""
    if value not in choices:
        raise ConfigError(f"{name} must be one of {list(choices)}, got {value!r}")


def check_choices(section: str, settings: object, choices: Mapping[str, tuple[str, ...]]) -> None:
    """`check_choice` of each attribute of `settings` that `choices` names, in its order, as `section.name`."""
    for name, allowed in choices.items():
        check_choice(f"{section}.{name}", getattr(settings, name), allowed)
