"""The one protocol for everything a plugin adds to attention, and how contributions combine."""

from __future__ import annotations

import abc
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sciformer.engine.context import LayerContext


@dataclass
class AttentionTerms:
    """One contribution to a layer's attention.

    `logits` is added to Q K^T / sqrt(d) before the softmax; any shape broadcastable to (B, H, T, T).
    `mixture` is added after the softmax (MAT's `lambda_d g(D) + lambda_g A`), broadcastable to
    (B, H, T, T); `attention_weight` scales the softmax itself (MAT's `lambda_a`).
    """

    logits: Tensor | None = None
    mixture: Tensor | None = None
    attention_weight: float | Tensor = 1.0


class AttentionBias(nn.Module, abc.ABC):
    """Base class of plugin attention biases: called once per layer per forward pass.

    Subclasses implement `forward(ctx) -> AttentionTerms | None`; returning None leaves a layer alone.
    Parameters of a bias belong to the model and are saved with it.
    """

    @abc.abstractmethod
    def forward(self, ctx: LayerContext) -> AttentionTerms | None:
        """This layer's contribution, computed from the batch and `ctx.state`."""


def combine_terms(terms: list[AttentionTerms], padding_mask: Tensor, causal: bool) -> AttentionTerms:
    """Sum logit biases and mixtures, multiply attention weights.

    Mixtures obey the same masks as the softmax: no weight on padded keys, nor on future keys when causal.
    """
    logits = mixture = None
    weight: float | Tensor = 1.0
    for term in terms:
        if term.logits is not None:
            logits = term.logits if logits is None else logits + term.logits
        if term.mixture is not None:
            mixture = term.mixture if mixture is None else mixture + term.mixture
        weight = weight * term.attention_weight
    if mixture is not None:
        allowed = padding_mask[:, None, None, :]  # (B, 1, 1, T)
        if causal:
            length = padding_mask.shape[1]
            allowed = allowed & torch.ones(length, length, dtype=torch.bool, device=padding_mask.device).tril()
        mixture = mixture * allowed.to(mixture.dtype)  # (B, H|1, T, T)
    return AttentionTerms(logits=logits, mixture=mixture, attention_weight=weight)


def resolve_mask(padding_mask: Tensor, causal: bool, logits: Tensor | None) -> tuple[Tensor | None, bool]:
    """Fold key padding, the causal mask and logit biases into one SDPA `attn_mask`.

    Returns `(attn_mask, is_causal)`. With nothing to mask but causality, `(None, True)` lets SDPA
    pick its fastest kernels; otherwise the mask is boolean (B, 1, 1|T, T) when only masks apply,
    or additive float broadcastable to (B, H, T, T) when biases are present.
    """
    length = padding_mask.shape[1]
    allowed: Tensor | None = None if bool(padding_mask.all()) else padding_mask[:, None, None, :]
    if causal:
        if allowed is None and logits is None:
            return None, True
        lower = torch.ones(length, length, dtype=torch.bool, device=padding_mask.device).tril()
        allowed = lower if allowed is None else allowed & lower
    if logits is None or allowed is None:
        return (allowed if logits is None else logits), False
    return logits.masked_fill(~allowed, float("-inf")), False
