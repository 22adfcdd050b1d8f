"""Cross-attention: queries from one sequence attend to another (a decoder's tokens to the encoder's output)."""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from sciformer.config import ModelConfig
from sciformer.engine.attention import reference_attention
from sciformer.engine.context import Mixed
from sciformer.engine.masking import AttentionInputs


class CrossAttention(nn.Module):
    """Multi-head attention of x (B, Tq, D) over a memory (B, Tk, D): queries from x, keys and values
    from the memory through one fused projection. The memory's padding arrives in `AttentionInputs`
    (`memory_inputs`); the fused path calls `F.scaled_dot_product_attention`, the reference path (when
    maps are asked for) returns the (B, H, Tq, Tk) maps."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.heads = config.heads
        self.head_dim = config.head_dim
        self.dropout = config.attention_dropout
        self.q = nn.Linear(config.dim, config.dim, bias=config.qkv_bias)
        self.kv = nn.Linear(config.dim, 2 * config.dim, bias=config.qkv_bias)
        self.out = nn.Linear(config.dim, config.dim)

    def forward(self, x: Tensor, memory: Tensor, attention: AttentionInputs) -> Mixed:
        """(B, Tq, D) over (B, Tk, D) -> (B, Tq, D), with the maps when `attention.need_weights`."""
        batch, length, dim = x.shape
        q = self.q(x).view(batch, length, self.heads, self.head_dim).transpose(1, 2)  # (B, H, Tq, Dh)
        k, v = self.kv(memory).view(batch, memory.shape[1], 2, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)  # each (B, H, Tk, Dh)
        dropout = self.dropout if self.training else 0.0
        maps = None
        if attention.need_weights:
            y, maps = reference_attention(q, k, v, attention, dropout, math.sqrt(self.head_dim))
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=attention.mask, dropout_p=dropout)
        return Mixed(self.out(y.transpose(1, 2).reshape(batch, length, dim)), maps)


def memory_inputs(memory_mask: Tensor, need_weights: bool = False) -> AttentionInputs:
    """What cross-attention over a memory with padding `memory_mask` (B, Tk) (True for real tokens) consumes."""
    mask = None if bool(memory_mask.all()) else memory_mask[:, None, None, :]
    return AttentionInputs(mask=mask, need_weights=need_weights)
