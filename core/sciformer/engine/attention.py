"""Multi-head self-attention: a fused SDPA path and a plain-softmax reference path that returns maps."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sciformer.config import ModelConfig
from sciformer.engine.context import LayerContext, Mixed
from sciformer.engine.cpu_attention import grouped_attention, use_grouped_attention
from sciformer.engine.masking import AttentionInputs
from sciformer.engine.parts import NormMaker

LOGIT_SCALE_INIT = math.log(10.0)  # Swin V2's initial per-head logit scale of the cosine form (a factor of 10)
LOGIT_SCALE_MAX = math.log(100.0)  # the clamp of the logit scale: cosine logits are at most 100 x the cosine


class Attention(nn.Module):
    """Self-attention with one fused QKV projection.

    Padding, causality and every plugin's logit bias arrive resolved in `AttentionInputs` (masking.py),
    with MAT-style post-softmax terms, giving `out = weight * softmax(Q K^T / sqrt(d) + bias) V + mixture V`.
    The cosine form (`config.attention_form`, Swin V2) replaces `Q K^T / sqrt(d)` by the cosine of each
    query and key times a learned per-head `logit_scale` (exp of it, clamped at 100): `cosine_form`
    makes unit queries carrying the scale and unit keys, which every path then multiplies unscaled.
    `positions` (rotary, or any module mapping (q, k, positions) to (q, k)) moves queries and keys;
    `norm` makes the optional q-k norms (`config.qk_norm`, per head) and the norm before the output
    projection (`config.attention_norm`), as timm's `qk_norm` and `scale_norm`. The fused path calls
    `F.scaled_dot_product_attention`, or `grouped_attention` for long bfloat16 sequences on the CPU
    without autograd (see cpu_attention.py); the reference path (used when maps are asked for) computes
    the same thing with an explicit softmax and returns the (B, H, T, T) maps.
    """

    def __init__(self, config: ModelConfig, positions: nn.Module | None = None, norm: NormMaker | None = None) -> None:
        super().__init__()
        self.heads = config.heads
        self.head_dim = config.head_dim
        self.dropout = config.attention_dropout
        self.qkv = nn.Linear(config.dim, 3 * config.dim, bias=config.qkv_bias)
        self.out = nn.Linear(config.dim, config.dim)
        self.positions = positions
        if (config.qk_norm or config.attention_norm) and norm is None:
            raise ValueError("q-k and attention-output norms need a norm maker")
        self.q_norm = norm(config.head_dim) if config.qk_norm else None
        self.k_norm = norm(config.head_dim) if config.qk_norm else None
        self.out_norm = norm(config.dim) if config.attention_norm else None
        cosine = config.attention_form == "cosine"
        self.logit_scale = nn.Parameter(torch.full((config.heads, 1, 1), LOGIT_SCALE_INIT)) if cosine else None

    def forward(self, x: Tensor, ctx: LayerContext, attention: AttentionInputs) -> Mixed:
        """(B, T, D) -> (B, T, D), with the (B, H, T, T) maps when `attention.need_weights`."""
        batch, length, dim = x.shape
        qkv = self.qkv(x).view(batch, length, 3, self.heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, H, T, Dh)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        if self.positions is not None:
            q, k = self.positions(q, k, ctx.embedded.positions)
        scale = None  # SDPA's 1 / sqrt(d)
        if self.logit_scale is not None:
            q, k = cosine_form(q, k, self.logit_scale)
            scale = 1.0
        dropout = self.dropout if self.training else 0.0
        maps = None
        if attention.need_weights:
            y, maps = self._reference(q, k, v, attention, dropout)
        else:
            if use_grouped_attention(q, dropout):
                y = grouped_attention(q, k, v, attention.additive(length, q.dtype, q.device), scale)
            else:
                mask = attention.mask
                if mask is not None and mask.is_floating_point():
                    mask = mask.to(q.dtype)
                causal = attention.is_causal
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=causal, scale=scale)
            if attention.mixture is not None:
                y = attention.attention_weight * y + attention.mixture.to(v.dtype) @ v
        y = y.transpose(1, 2).reshape(batch, length, dim)  # (B, T, D)
        if self.out_norm is not None:
            y = self.out_norm(y)
        return Mixed(self.out(y), maps)

    def _reference(self, q: Tensor, k: Tensor, v: Tensor, attention: AttentionInputs, dropout: float) -> tuple[Tensor, Tensor]:
        """Explicit softmax attention; returns the output and the (B, H, T, T) map actually applied to V."""
        divisor = 1.0 if self.logit_scale is not None else math.sqrt(self.head_dim)  # the cosine form's scale is in q already
        return reference_attention(q, k, v, attention, dropout, divisor)


def reference_attention(q: Tensor, k: Tensor, v: Tensor, attention: AttentionInputs, dropout: float, divisor: float) -> tuple[Tensor, Tensor]:
    """Explicit softmax of `q k^T / divisor` plus the mask, in float32, applied to V (with MAT-style
    mixtures); returns the output and the (B, H, Tq, Tk) map actually applied."""
    scores = (q @ k.transpose(-2, -1)).float()  # (B, H, Tq, Tk)
    if divisor != 1.0:
        scores = scores / divisor
    bias = attention.additive(scores.shape[-1], scores.dtype, scores.device)
    if bias is not None:
        scores = scores + bias
    weights = scores.softmax(dim=-1).nan_to_num(nan=0.0)  # rows with every key masked: zeros, as from SDPA
    weights = F.dropout(weights, p=dropout, training=dropout > 0)
    if attention.mixture is not None:
        weights = attention.attention_weight * weights + attention.mixture.float()
    return weights.to(v.dtype) @ v, weights.detach()


def cosine_form(q: Tensor, k: Tensor, logit_scale: Tensor) -> tuple[Tensor, Tensor]:
    """(q, k) (B, H, T, Dh) -> unit queries times `exp(min(logit_scale, log 100))` (H, 1, 1) and unit keys,
    so that their plain product is Swin V2's scaled cosine similarity."""
    scale = logit_scale.clamp(max=LOGIT_SCALE_MAX).exp()
    return (F.normalize(q, dim=-1) * scale).to(q.dtype), F.normalize(k, dim=-1).to(k.dtype)
