"""bfloat16 attention on the CPU computed a few heads at a time, for sequences long enough to pay.

On CPUs without bfloat16 matrix tiles (AMX) the flash SDPA kernel runs bfloat16 no faster than float32.
Computing `softmax(Q K^T / sqrt(d) + mask) V` explicitly, for a group of heads whose (T, T) scores fit
in the L2 cache, runs both products at the bfloat16 GEMM rate: 1.7x faster than flash SDPA at T 1,214
(AST), 1.25-1.7x at T 128-512, slower below T 96 (benchmarks/NOTES.md). float32 stays on flash SDPA,
which is as fast or faster there.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

MIN_LENGTH = 128  # measured against flash SDPA: 1.26-1.57x at T 128, 1.05-1.46x at T 96, 0.75-1.30x at T 64
SCORE_BYTES = 2 << 20  # bytes of scores per group: groups of 0.5-2 MiB measured fastest (1 MiB L2, 32 MiB L3)


def use_grouped_attention(q: Tensor, dropout: float) -> bool:
    """Whether `grouped_attention` should replace SDPA for q (B, H, T, Dh).

    Only for bfloat16 on the CPU, without autograd or dropout, and T >= MIN_LENGTH.
    """
    return (
        q.dtype == torch.bfloat16
        and q.device.type == "cpu"
        and dropout == 0.0
        and not torch.is_grad_enabled()
        and q.shape[-2] >= MIN_LENGTH
    )


def grouped_attention(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | None, scale: float | None = None) -> Tensor:
    """`F.scaled_dot_product_attention(q, k, v, bias, scale=scale)` without dropout, a few heads at a time.

    q, k, v (B, H, T, Dh); `bias` additive (-inf where masked; `AttentionInputs.additive`), broadcastable
    to (B, H, T, T); `scale` of the logits, None for 1 / sqrt(Dh). Query rows with every key masked come out
    as zeros, as from SDPA. Returns (B, H, T, Dh).
    """
    batch, heads, length, head_dim = q.shape
    if bias is not None:
        bias = bias.expand(batch, heads, length, length)  # a view: broadcast dimensions keep stride 0
    group = max(1, min(heads, SCORE_BYTES // (length * length * q.element_size())))
    scale = 1.0 / math.sqrt(head_dim) if scale is None else scale
    keys_t = k.transpose(-2, -1)  # (B, H, Dh, T)
    out = torch.empty(batch, heads, length, head_dim, dtype=q.dtype, device=q.device)
    for b in range(batch):
        for first in range(0, heads, group):
            h = slice(first, first + group)
            if bias is None:
                scores = torch.matmul(q[b, h] * scale, keys_t[b, h])  # (g, T, T)
            else:
                scores = torch.baddbmm(bias[b, h], q[b, h], keys_t[b, h], alpha=scale)
            torch.matmul(scores.softmax(dim=-1), v[b, h], out=out[b, h])
    if bias is not None:
        out.nan_to_num_(nan=0.0)  # rows with every key masked: softmax of all -inf is NaN; SDPA gives 0
    return out
