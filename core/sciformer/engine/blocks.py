"""Transformer blocks: [token mixer + feed-forward] with residuals, in pre-norm, post-norm or res-post-norm order."""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn

from sciformer.config import NORMS, ModelConfig
from sciformer.engine.context import LayerContext, Mixed
from sciformer.engine.fused_linear import GELU_ALGORITHMS, linear_gelu, use_fused_linear
from sciformer.engine.masking import AttentionInputs

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}


class MLP(nn.Module):
    """Two linear layers with an activation between them: (B, T, D) -> (B, T, D).

    `norm`, when given, normalises the hidden layer before `fc2` (timm's `scale_mlp_norm`). On the CPU
    without autograd, `fc1` and a GELU run as one oneDNN call (see fused_linear.py).
    """

    def __init__(self, config: ModelConfig, norm: nn.Module | None = None) -> None:
        super().__init__()
        self.fc1 = nn.Linear(config.dim, config.mlp_dim)
        self.fc2 = nn.Linear(config.mlp_dim, config.dim)
        self.activation = ACTIVATIONS[config.activation]
        self.activation_name = config.activation
        self.dropout = nn.Dropout(config.dropout)
        self.norm = norm

    def forward(self, x: Tensor) -> Tensor:
        """Apply the MLP token-wise."""
        hidden = None
        if self.activation_name in GELU_ALGORITHMS and use_fused_linear(x, self.fc1):
            hidden = linear_gelu(x, self.fc1, self.activation_name)
        if hidden is None:
            hidden = self.activation(self.fc1(x))
        hidden = self.dropout(hidden)
        return self.fc2(hidden if self.norm is None else self.norm(hidden))


class Block(nn.Module):
    """One layer: a token mixer (attention or a plugin's) and a feed-forward, each with a residual.

    `order` is `ModelConfig.norm`. "pre": `x + mixer(norm1(x))`, then `x + mlp(norm2(x))`. "post":
    `norm1(x + mixer(x))`, then `norm2(x + mlp(x))`. "res-post" (Swin V2): `x + norm1(mixer(x))`, then
    `x + norm2(mlp(x))`. Every part is injected (see parts.py), so attention and AFNO, LayerNorm
    and MAT's norm, the two-layer MLP and MAT's one-layer feed-forward share this block.
    """

    def __init__(
        self, mixer: nn.Module, mlp: nn.Module, norm1: nn.Module, norm2: nn.Module, *, order: str, dropout: float
    ) -> None:
        super().__init__()
        if order not in NORMS:
            raise ValueError(f"block order must be one of {list(NORMS)}, got {order!r}")
        self.order = order
        self.norm1 = norm1
        self.mixer = mixer
        self.norm2 = norm2
        self.mlp = mlp
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, ctx: LayerContext, attention: AttentionInputs) -> Mixed:
        """(B, T, D) -> (B, T, D), with the mixer's attention maps when `attention.need_weights`."""
        if self.order == "pre":
            mixed = self.mixer(self.norm1(x), ctx, attention)
            x = x + self.dropout(mixed.hidden)
            return Mixed(x + self.dropout(self.mlp(self.norm2(x))), mixed.attention)
        mixed = self.mixer(x, ctx, attention)
        if self.order == "post":
            x = self.norm1(x + self.dropout(mixed.hidden))
            return Mixed(self.norm2(x + self.dropout(self.mlp(x))), mixed.attention)
        x = x + self.dropout(self.norm1(mixed.hidden))
        return Mixed(x + self.dropout(self.norm2(self.mlp(x))), mixed.attention)
