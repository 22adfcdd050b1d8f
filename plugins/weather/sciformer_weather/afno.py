"""The Adaptive Fourier Neural Operator filter (Guibas et al. 2022) as FourCastNet's `AFNO2D`, a token mixer.

Tokens (B, h*w, D) are laid back on their patch grid (B, h, w, D) and mixed globally in the frequency domain:

    X = rfft2(x)                                  orthonormal, over the patch grid, in float32
    O1 = ReLU(X W1 + b1)                          block-diagonal complex weights: D split into num_blocks blocks;
    O2 = O1 W2 + b2                               ReLU and the biases act on real and imaginary parts separately
    Y = softshrink(O2, lambda)                    real and imaginary parts; lambda 0.01 makes the spectrum sparse
    y = irfft2(Y) + x                             the filter's own residual

Hard thresholding keeps the modes FourCastNet keeps: with `total = h // 2 + 1` and
`kept = int(total * fraction)`, rows [total - kept, total + kept) of the latitude frequency axis and the
first `kept` columns of the longitude axis go through the MLP; every other mode is zero. (This is the
published indexing, reproduced exactly so imported weights give the published outputs: at fraction 1
all latitude frequencies are kept, and longitude frequencies above h // 2 are dropped when w > h.)

In the engine's pre-norm Block, `x + mixer(norm1(x))` with this mixer equals FourCastNet's
`filter(norm1(x)) + x` with `double_skip`, and the MLP half is the same in both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sciformer.config import ModelConfig
from sciformer.engine.context import LayerContext, Mixed
from sciformer.engine.masking import AttentionInputs
from torch import Tensor, nn

from .options import WeatherOptions

INIT_SCALE = 0.02  # FourCastNet's `scale`: AFNO weights and biases start as 0.02 * N(0, 1)


class AFNOMixer(nn.Module):
    """AFNO2D over the patch grid of a weather model: (B, h*w, D) -> (B, h*w, D).

    Parameters keep FourCastNet's names and layouts: `w1` (2, blocks, block, block*factor), `b1`
    (2, blocks, block*factor), `w2` (2, blocks, block*factor, block), `b2` (2, blocks, block); index 0
    is the real part, 1 the imaginary part.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        options = WeatherOptions.from_config(config)
        self.patch_grid = options.patch_grid
        self.num_blocks = options.num_blocks
        self.block_size = config.dim // options.num_blocks
        self.sparsity_threshold = options.sparsity_threshold
        self.hard_thresholding_fraction = options.hard_thresholding_fraction
        hidden = self.block_size * options.hidden_size_factor
        self.w1 = nn.Parameter(INIT_SCALE * torch.randn(2, self.num_blocks, self.block_size, hidden))
        self.b1 = nn.Parameter(INIT_SCALE * torch.randn(2, self.num_blocks, hidden))
        self.w2 = nn.Parameter(INIT_SCALE * torch.randn(2, self.num_blocks, hidden, self.block_size))
        self.b2 = nn.Parameter(INIT_SCALE * torch.randn(2, self.num_blocks, self.block_size))

    def kept_modes(self) -> tuple[slice, slice]:
        """Latitude-frequency rows and longitude-frequency columns that the spectral MLP sees."""
        total = self.patch_grid[0] // 2 + 1
        kept = int(total * self.hard_thresholding_fraction)
        return slice(total - kept, total + kept), slice(0, kept)

    def forward(self, x: Tensor, ctx: LayerContext, attention: AttentionInputs) -> Mixed:
        """The token mixer's contract (see `Domain.token_mixer`): `Mixed(self.mix(x))`, no attention maps."""
        return Mixed(self.mix(x))

    def mix(self, x: Tensor) -> Tensor:
        """Mix tokens (B, T, D) through the AFNO filter; adds the filter's input back (FourCastNet's `x + bias`)."""
        batch, tokens, dim = x.shape
        h, w = self.patch_grid
        if tokens != h * w:
            raise ValueError(f"AFNO mixer expects {h}x{w}={h * w} tokens, got {tokens}")
        with torch.autocast(device_type=x.device.type, enabled=False):  # the FFT and spectral MLP stay float32
            grid = x.float().reshape(batch, h, w, dim)
            spectrum = torch.fft.rfft2(grid, dim=(1, 2), norm="ortho")  # (B, h, w//2+1, D) complex
            spectrum = spectrum.reshape(batch, h, w // 2 + 1, self.num_blocks, self.block_size)
            rows, cols = self.kept_modes()
            kept = spectrum[:, rows, cols]  # (B, h_k, w_k, blocks, block)
            mixed = self._spectral_mlp(kept.real, kept.imag)  # (B, h_k, w_k, blocks, block, 2)
            filtered = torch.zeros(*spectrum.shape, 2, device=x.device, dtype=torch.float32)
            filtered[:, rows, cols] = F.softshrink(mixed, lambd=self.sparsity_threshold)
            spectrum = torch.view_as_complex(filtered).reshape(batch, h, w // 2 + 1, dim)
            grid = torch.fft.irfft2(spectrum, s=(h, w), dim=(1, 2), norm="ortho")  # (B, h, w, D)
        return grid.reshape(batch, tokens, dim).to(x.dtype) + x

    def _spectral_mlp(self, real: Tensor, imag: Tensor) -> Tensor:
        """The block-diagonal complex two-layer MLP: (..., blocks, block) real and imaginary -> stacked (..., 2).

        Each complex product (a + ib)(c + id) is one real product of [a, b] with [[c, d], [-d, c]],
        so a layer is one batched matrix product instead of four.
        """
        w1, b1, w2, b2 = self.w1.float(), self.b1.float(), self.w2.float(), self.b2.float()
        hidden = F.relu(_blocks(torch.cat([real, imag], dim=-1), _as_real(w1)) + torch.cat([b1[0], b1[1]], dim=-1))
        out = _blocks(hidden, _as_real(w2)) + torch.cat([b2[0], b2[1]], dim=-1)  # (..., blocks, 2 * block)
        return torch.stack(out.chunk(2, dim=-1), dim=-1)


def _as_real(weight: Tensor) -> Tensor:
    """Complex block weights (2, blocks, i, o) as real (blocks, 2i, 2o): [[re, im], [-im, re]]."""
    re, im = weight[0], weight[1]
    return torch.cat([torch.cat([re, im], dim=-1), torch.cat([-im, re], dim=-1)], dim=-2)


def _blocks(x: Tensor, weight: Tensor) -> Tensor:
    """Block-diagonal matrix product: x (..., blocks, i) with weight (blocks, i, o) -> (..., blocks, o)."""
    return torch.einsum("...bi,bio->...bo", x, weight)
