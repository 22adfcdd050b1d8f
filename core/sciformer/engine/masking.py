"""One mask path: padding, causality and every plugin's attention terms resolved once into `AttentionInputs`.

The model resolves them once per forward pass (once per layer when plugins add biases); the fused SDPA
path, the grouped bfloat16 CPU path and the reference path all read the same value, and the causal
mask is built here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from sciformer.engine.bias import AttentionTerms

MaybeTensor = Tensor | float | None  # a mask, mixture or attention weight: a tensor, a number or absent


def causal_allowed(length: int, device: torch.device) -> Tensor:
    """(T, T) boolean, True where query i may attend key j (j <= i)."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


@dataclass(frozen=True)
class AttentionInputs:
    """What a layer's attention consumes besides Q, K and V.

    `mask` is boolean (True attends) or additive float, broadcastable to (B, H, T, T), with key
    padding, causality and logit biases folded in; it is None either when nothing is masked or when
    `is_causal` hands causality to SDPA's own kernel. `mixture` (MAT's post-softmax terms, already
    masked) and `attention_weight` give `weight * softmax(...) + mixture`. `need_weights` asks the
    mixer to return its (B, H, T, T) maps.
    """

    mask: Tensor | None = None
    is_causal: bool = False
    mixture: Tensor | None = None
    attention_weight: float | Tensor = 1.0
    need_weights: bool = False

    def additive(self, length: int, dtype: torch.dtype, device: torch.device) -> Tensor | None:
        """The mask and causality as one additive bias (0 or -inf where masked), or None when there is neither."""
        mask = self.mask
        if mask is not None and mask.dtype == torch.bool:
            mask = torch.zeros(mask.shape, dtype=dtype, device=device).masked_fill_(~mask, float("-inf"))
        elif mask is not None:
            mask = mask.to(dtype)
        if self.is_causal:
            future = torch.zeros(length, length, dtype=dtype, device=device).masked_fill_(~causal_allowed(length, device), float("-inf"))
            mask = future if mask is None else mask + future
        return mask

    def map_tensors(self, change: Callable[[MaybeTensor], MaybeTensor]) -> AttentionInputs:
        """A copy with `change` applied to the mask, the mixture and the attention weight (as windowed attention
        needs); `change` takes and returns a tensor, a number or None."""
        return replace(self, mask=change(self.mask), mixture=change(self.mixture), attention_weight=change(self.attention_weight))


def resolve_attention(padding_mask: Tensor, causal: bool, terms: list[AttentionTerms], need_weights: bool = False) -> AttentionInputs:
    """Fold key padding, the causal mask and the plugins' terms into one `AttentionInputs`.

    Logit biases are summed, mixtures summed (and kept off padded and, when causal, future keys), and
    attention weights multiplied. With nothing to mask but causality the mask stays None and
    `is_causal` lets SDPA pick its fastest kernels.
    """
    logits = mixture = None
    weight: float | Tensor = 1.0
    for term in terms:
        if term.logits is not None:
            logits = term.logits if logits is None else logits + term.logits
        if term.mixture is not None:
            mixture = term.mixture if mixture is None else mixture + term.mixture
        weight = weight * term.attention_weight
    length = padding_mask.shape[1]
    allowed: Tensor | None = None if bool(padding_mask.all()) else padding_mask[:, None, None, :]  # (B, 1, 1, T)
    if mixture is not None:
        keys = padding_mask[:, None, None, :] if allowed is None else allowed
        if causal:
            keys = keys & causal_allowed(length, padding_mask.device)
        mixture = mixture * keys.to(mixture.dtype)  # (B, H|1, T, T)
    is_causal = False
    if causal:
        if allowed is None and logits is None:
            is_causal = True
        else:
            lower = causal_allowed(length, padding_mask.device)
            allowed = lower if allowed is None else allowed & lower
    mask = allowed if logits is None else (logits if allowed is None else logits.masked_fill(~allowed, float("-inf")))
    return AttentionInputs(mask=mask, is_causal=is_causal, mixture=mixture, attention_weight=weight, need_weights=need_weights)


def diagonal_blocks(t: MaybeTensor, batch: int, windows: int, used: Tensor | None = None) -> MaybeTensor:
    """A (B|1, H|1, T|1, T) mask or bias -> (N, H|1, S|1, S): each window's block on the diagonal, for
    mixers that fold W windows of S = T / W tokens into the batch. `used` (B*W,) keeps only the windows in
    use (N of them); without it N = B*W. Numbers and None pass through."""
    if not isinstance(t, Tensor):
        return t
    if t.dim() < 4:
        t = t.reshape(*([1] * (4 - t.dim())), *t.shape)
    t = t.expand(batch, *t.shape[1:])
    heads, queries, keys = t.shape[1:]
    size = keys // windows
    if queries == 1:
        blocks = t.reshape(batch, heads, 1, windows, size).permute(0, 3, 1, 2, 4)  # (B, W, H, 1, S)
    else:
        blocks = t.reshape(batch, heads, windows, size, windows, size).diagonal(dim1=2, dim2=4)  # (B, H, S, S, W)
        blocks = blocks.permute(0, 4, 1, 2, 3)  # (B, W, H, S, S)
    blocks = blocks.reshape(batch * windows, *blocks.shape[2:])
    return blocks if used is None else blocks[used]


def block_diagonal(maps: Tensor, batch: int, windows: int, used: Tensor | None = None) -> Tensor:
    """(N, H, S, S) per-window attention maps -> (B, H, T, T), zero between windows (and for unused ones)."""
    heads, size = maps.shape[1], maps.shape[-1]
    if used is not None:
        full = maps.new_zeros(batch * windows, heads, size, size)
        full[used] = maps
        maps = full
    per_window = maps.view(batch, windows, heads, size, size)
    out = maps.new_zeros(batch, heads, windows * size, windows * size)
    for window in range(windows):
        span = slice(window * size, (window + 1) * size)
        out[:, :, span, span] = per_window[:, window]
    return out
