"""What a token mixer and an attention bias see of the batch, one layer at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from torch import Tensor

from sciformer.data.batch import TokenBatch


class Embedded(NamedTuple):
    """The embedder's output: token vectors and which of them are real.

    `hidden` (B, T, D); `padding_mask` (B, T) True for real tokens; `pool_mask` (B, T) True for the
    tokens that mean pooling averages (real tokens minus special ones such as BOS/EOS or CLS);
    `positions` (B, T) used by rotary attention. `layout` is the domain's own description of where
    the tokens lie (the vision domain's patch grid), read by its mixers and downsampling steps and
    replaced by each downsampling step; None where nothing needs it.
    """

    hidden: Tensor
    padding_mask: Tensor
    pool_mask: Tensor
    positions: Tensor
    layout: Any = None


@dataclass(frozen=True)
class LayerContext:
    """The read-only view of the batch that attention biases and token mixers receive for block `layer`.

    `state` lives for one forward pass and is shared by all layers, so a bias can carry a value from
    one layer to the next (as Uni-Mol's pair representation does); it is the only mutable part.
    """

    batch: TokenBatch
    embedded: Embedded
    layer: int
    state: dict[Any, Any]

    @property
    def padding_mask(self) -> Tensor:
        """(B, T) True for real tokens."""
        return self.embedded.padding_mask


class Mixed(NamedTuple):
    """What a token mixer (and a block) returns: `hidden` (B, T, D) and, when asked for, the (B, H, T, T) attention maps."""

    hidden: Tensor
    attention: Tensor | None = None
