"""Transformer blocks: [token mixer + MLP] with residuals, in pre-norm or post-norm order."""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn

from sciformer.config import ModelConfig
from sciformer.engine.context import LayerContext
from sciformer.engine.fused_linear import GELU_ALGORITHMS, linear_gelu, use_fused_linear

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}


class MLP(nn.Module):
    """Two linear layers with an activation between them: (B, T, D) -> (B, T, D).

    On the CPU without autograd, `fc1` and a GELU run as one oneDNN call (see fused_linear.py).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.fc1 = nn.Linear(config.dim, config.mlp_dim)
        self.fc2 = nn.Linear(config.mlp_dim, config.dim)
        self.activation = ACTIVATIONS[config.activation]
        self.activation_name = config.activation
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the MLP token-wise."""
        hidden = None
        if self.activation_name in GELU_ALGORITHMS and use_fused_linear(x, self.fc1):
            hidden = linear_gelu(x, self.fc1, self.activation_name)
        if hidden is None:
            hidden = self.activation(self.fc1(x))
        return self.fc2(self.dropout(hidden))


class Block(nn.Module):
    """One layer: a token mixer (attention or a plugin's) and an MLP, each with a residual.

    Pre-norm: `x + mixer(norm1(x))`, then `x + mlp(norm2(x))`. Post-norm: `norm1(x + mixer(x))`,
    then `norm2(x + mlp(x))`. The mixer is injected, so attention and AFNO share this block.
    """

    def __init__(self, config: ModelConfig, mixer: nn.Module) -> None:
        super().__init__()
        self.pre_norm = config.norm == "pre"
        self.norm1 = nn.LayerNorm(config.dim, eps=config.norm_eps)
        self.mixer = mixer
        self.norm2 = nn.LayerNorm(config.dim, eps=config.norm_eps)
        self.mlp = MLP(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, ctx: LayerContext) -> Tensor:
        """(B, T, D) -> (B, T, D)."""
        if self.pre_norm:
            x = x + self.dropout(self.mixer(self.norm1(x), ctx))
            return x + self.dropout(self.mlp(self.norm2(x)))
        x = self.norm1(x + self.dropout(self.mixer(x, ctx)))
        return self.norm2(x + self.dropout(self.mlp(x)))
