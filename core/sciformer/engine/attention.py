"""Multi-head self-attention: a fused SDPA path and a plain-softmax reference path that returns maps."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sciformer.config import ModelConfig
from sciformer.engine.context import LayerContext
from sciformer.engine.cpu_attention import grouped_attention, use_grouped_attention
from sciformer.engine.positions import RotaryPositions


class Attention(nn.Module):
    """Self-attention with one fused QKV projection.

    Padding, causality and every plugin's logit bias arrive folded in `ctx.attention_mask`; MAT-style
    terms arrive as `ctx.mixture` and `ctx.attention_weight`, giving
    `out = weight * softmax(Q K^T / sqrt(d) + bias) V + mixture V`. The fused path calls
    `F.scaled_dot_product_attention`, or `grouped_attention` for long bfloat16 sequences on the CPU
    without autograd (see cpu_attention.py); the reference path (used when maps are asked for) computes the
    same thing with an explicit softmax and records the (B, H, T, T) maps.
    """

    def __init__(self, config: ModelConfig, rotary: RotaryPositions | None = None) -> None:
        super().__init__()
        self.heads = config.heads
        self.head_dim = config.head_dim
        self.dropout = config.attention_dropout
        self.qkv = nn.Linear(config.dim, 3 * config.dim, bias=config.qkv_bias)
        self.out = nn.Linear(config.dim, config.dim)
        self.rotary = rotary

    def forward(self, x: Tensor, ctx: LayerContext) -> Tensor:
        """(B, T, D) -> (B, T, D)."""
        batch, length, dim = x.shape
        qkv = self.qkv(x).view(batch, length, 3, self.heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, H, T, Dh)
        if self.rotary is not None:
            q, k = self.rotary(q, k, ctx.embedded.positions)
        mask = ctx.attention_mask
        if mask is not None and mask.is_floating_point():
            mask = mask.to(q.dtype)
        dropout = self.dropout if self.training else 0.0
        if ctx.need_weights:
            y = self._reference(q, k, v, mask, ctx, dropout)
        else:
            if use_grouped_attention(q, dropout):
                y = grouped_attention(q, k, v, mask, ctx.is_causal)
            else:
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=ctx.is_causal)
            if ctx.mixture is not None:
                y = ctx.attention_weight * y + ctx.mixture.to(v.dtype) @ v
        y = y.transpose(1, 2).reshape(batch, length, dim)  # (B, T, D)
        return self.out(y)

    def _reference(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, ctx: LayerContext, dropout: float) -> Tensor:
        """Explicit softmax attention; appends the (B, H, T, T) map actually applied to V."""
        scores = (q @ k.transpose(-2, -1)).float() / math.sqrt(self.head_dim)  # (B, H, T, T)
        length = scores.shape[-1]
        if ctx.is_causal:
            causal = torch.ones(length, length, dtype=torch.bool, device=q.device).tril()
            scores = scores.masked_fill(~causal, float("-inf"))
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask.float()
        weights = scores.softmax(dim=-1)
        weights = F.dropout(weights, p=dropout, training=dropout > 0)
        if ctx.mixture is not None:
            weights = ctx.attention_weight * weights + ctx.mixture.float()
        ctx.attention_maps.append(weights.detach())
        return weights.to(v.dtype) @ v
