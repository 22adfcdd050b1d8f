"""What a token mixer and an attention bias see of the batch, one layer at a time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from torch import Tensor

from sciformer.data.batch import TokenBatch


class Embedded(NamedTuple):
    """The embedder's output: token vectors and which of them are real.

    `hidden` (B, T, D); `padding_mask` (B, T) True for real tokens; `pool_mask` (B, T) True for the
    tokens that mean pooling averages (real tokens minus special ones such as BOS/EOS or CLS);
    `positions` (B, T) used by rotary attention.
    """

    hidden: Tensor
    padding_mask: Tensor
    pool_mask: Tensor
    positions: Tensor


@dataclass
class LayerContext:
    """Per-layer view handed to attention biases and token mixers.

    `state` lives for one forward pass and is shared by all layers, so a bias can carry a value from
    one layer to the next (as Uni-Mol's pair representation does). Mixers read `attention_mask` and
    `is_causal` (padding, causal mask and logit biases folded as SDPA takes them), `mixture` and `attention_weight` (MAT-style post-softmax
    terms) and append attention maps to `attention_maps` when `need_weights` is set.
    """

    batch: TokenBatch
    embedded: Embedded
    layer: int
    state: dict[Any, Any]
    need_weights: bool = False
    attention_mask: Tensor | None = None
    is_causal: bool = False
    mixture: Tensor | None = None
    attention_weight: float | Tensor = 1.0
    attention_maps: list[Tensor] = field(default_factory=list)

    @property
    def padding_mask(self) -> Tensor:
        """(B, T) True for real tokens."""
        return self.embedded.padding_mask
