"""Weather: the AFNO backbone forward of the weather plugin against the published AFNO network written out here.

    .venv/bin/python benchmarks/bench_weather.py [--shapes shipped,fourcastnet] [--repeats 3] [--threads 1]

The reference is the published network, equation by equation, in its own (B, h, w, D) layout: patch
embedding (strided convolution) and learned positions; per block, with the double skip,
`x1 = AFNO(norm1(x)) + x`, `out = x1 + MLP(norm2(x1))`, where
`AFNO(y) = irfft2(softshrink(MLP_complex(rfft2(y)), 0.01) on the kept modes) + y` and the complex
MLP runs block-diagonal over `num_blocks` channel blocks with separate real and imaginary products;
then a bias-free linear head and the (p1 p2 c) -> (c, h p1, w p2) rearrange.

Identical random weights on both sides: the reference's state dict is saved in the published layout
and converted with the plugin's importer (`sciformer import afno`). Both run under
`torch.inference_mode()` in float32 on the same fields, alternating, best of `--repeats` (per shape); the line
gives fields per second and the max abs difference of the forecasts. Target: at least 1x. On a machine
shared with other jobs, `--threads 1` gives steadier figures (see NOTES.md).

Shapes: `shipped` is the shipped model `afno-era5-uk-t2m` (dim 64, depth 4, 8 AFNO blocks, patch 4,
its 33 x 49 grid padded to 36 x 52: 9 x 13 patches; one channel, since the importer needs as many
channels in as out), batch 32. `fourcastnet` is the published global model (720 x 1440, 20 channels,
patch 8: 90 x 180 patches, dim 768, depth 12), batch 1; `fourcastnet-quarter` the same network on a
360 x 720 grid.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from common import start
from sciformer.checkpoint import load_checkpoint
from sciformer.data.batch import TokenBatch
from sciformer.engine.model import SciformerModel
from sciformer.plugins import PluginHost
from sciformer_weather.importer import import_afno
from torch import Tensor, nn


@dataclass(frozen=True)
class Shape:
    """One network and input size: grid (H, W), channels C, patch p, width D, depth, AFNO blocks, batch B."""

    grid: tuple[int, int]
    channels: int
    patch: int
    dim: int
    depth: int
    blocks: int
    batch: int
    repeats: int  # timed runs per side by default: many for short runs, so the best escapes the machine's noise


SHAPES = {
    "shipped": Shape((36, 52), 1, 4, 64, 4, 8, 32, 20),
    "fourcastnet": Shape((720, 1440), 20, 8, 768, 12, 8, 1, 2),
    "fourcastnet-quarter": Shape((360, 720), 20, 8, 768, 12, 8, 1, 3),
}
SPARSITY = 0.01  # softshrink lambda of the published filter
NORM_EPS = 1e-6  # the published LayerNorm eps


# -- the reference, from the published equations ------------------------------------------------------


def mul(x: Tensor, weight: Tensor) -> Tensor:
    """One block-diagonal product: x (..., blocks, i) with weight (blocks, i, o) -> (..., blocks, o)."""
    return torch.einsum("...bi,bio->...bo", x, weight)


class ReferenceFilter(nn.Module):
    """AFNO on (B, h, w, D): block-diagonal complex 2-layer MLP on the kept Fourier modes, softshrink, + input."""

    def __init__(self, dim: int, blocks: int, fraction: float = 1.0) -> None:
        super().__init__()
        self.blocks, self.size, self.fraction = blocks, dim // blocks, fraction
        self.w1 = nn.Parameter(0.02 * torch.randn(2, blocks, self.size, self.size))
        self.b1 = nn.Parameter(0.02 * torch.randn(2, blocks, self.size))
        self.w2 = nn.Parameter(0.02 * torch.randn(2, blocks, self.size, self.size))
        self.b2 = nn.Parameter(0.02 * torch.randn(2, blocks, self.size))

    def forward(self, x: Tensor) -> Tensor:
        bias = x
        batch, h, w, dim = x.shape
        x = torch.fft.rfft2(x.float(), dim=(1, 2), norm="ortho")  # (B, h, w//2+1, D) complex
        x = x.reshape(batch, h, w // 2 + 1, self.blocks, self.size)
        o1_real = torch.zeros(x.shape)
        o1_imag = torch.zeros(x.shape)
        o2_real = torch.zeros(x.shape)
        o2_imag = torch.zeros(x.shape)
        total = h // 2 + 1
        kept = int(total * self.fraction)
        rows, cols = slice(total - kept, total + kept), slice(0, kept)
        re, im = x[:, rows, cols].real, x[:, rows, cols].imag
        o1_real[:, rows, cols] = F.relu(mul(re, self.w1[0]) - mul(im, self.w1[1]) + self.b1[0])
        o1_imag[:, rows, cols] = F.relu(mul(im, self.w1[0]) + mul(re, self.w1[1]) + self.b1[1])
        o2_real[:, rows, cols] = mul(o1_real[:, rows, cols], self.w2[0]) - mul(o1_imag[:, rows, cols], self.w2[1]) + self.b2[0]
        o2_imag[:, rows, cols] = mul(o1_imag[:, rows, cols], self.w2[0]) + mul(o1_real[:, rows, cols], self.w2[1]) + self.b2[1]
        x = F.softshrink(torch.stack([o2_real, o2_imag], dim=-1), lambd=SPARSITY)  # (B, h, wf, blocks, size, 2)
        x = torch.view_as_complex(x).reshape(batch, h, w // 2 + 1, dim)
        x = torch.fft.irfft2(x, s=(h, w), dim=(1, 2), norm="ortho")  # (B, h, w, D)
        return x + bias


class ReferenceMlp(nn.Module):
    """fc1 -> exact GELU -> fc2."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class ReferenceBlock(nn.Module):
    """Double skip: x1 = filter(norm1(x)) + x; out = x1 + mlp(norm2(x1))."""

    def __init__(self, dim: int, blocks: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=NORM_EPS), nn.LayerNorm(dim, eps=NORM_EPS)
        self.filter, self.mlp = ReferenceFilter(dim, blocks), ReferenceMlp(dim)
        for norm in (self.norm1, self.norm2):  # non-trivial norms, so every weight matters
            nn.init.normal_(norm.weight, 1.0, 0.1)
            nn.init.normal_(norm.bias, 0.0, 0.1)

    def forward(self, x: Tensor) -> Tensor:
        x = self.filter(self.norm1(x)) + x
        return x + self.mlp(self.norm2(x))


class ReferenceAfnoNet(nn.Module):
    """Patch embedding + positions -> blocks on (B, h, w, D) -> linear head -> fields (B, C, H, W)."""

    def __init__(self, shape: Shape) -> None:
        super().__init__()
        self.shape = shape
        self.h, self.w = shape.grid[0] // shape.patch, shape.grid[1] // shape.patch
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(shape.channels, shape.dim, shape.patch, stride=shape.patch)
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, self.h * self.w, shape.dim))
        self.blocks = nn.ModuleList(ReferenceBlock(shape.dim, shape.blocks) for _ in range(shape.depth))
        self.head = nn.Linear(shape.dim, shape.channels * shape.patch**2, bias=False)

    def forward(self, fields: Tensor) -> Tensor:
        batch, p, c = fields.shape[0], self.shape.patch, self.shape.channels
        x = self.patch_embed.proj(fields).flatten(2).transpose(1, 2) + self.pos_embed  # (B, h*w, D)
        x = x.reshape(batch, self.h, self.w, self.shape.dim)
        for block in self.blocks:
            x = block(x)
        x = self.head(x).reshape(batch, self.h, self.w, p, p, c)  # b h w p1 p2 c
        return x.permute(0, 5, 1, 3, 2, 4).reshape(batch, c, self.h * p, self.w * p)


# -- the comparison ---------------------------------------------------------------------------------


def sciformer_copy(reference: ReferenceAfnoNet, folder: Path) -> SciformerModel:
    """The reference's weights saved in the published layout, imported with the plugin's importer."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(reference.state_dict(), folder / "backbone.pt")
    (folder / "afno.json").write_text(json.dumps({"img_size": list(reference.shape.grid)}))
    return load_checkpoint(import_afno(folder / "backbone.pt", folder / "imported", PluginHost(), {}), PluginHost()).eval()


def fields_batch(fields: Tensor, tokens: int) -> TokenBatch:
    """A sciformer batch of fields (B, C, H, W); every patch token is real."""
    return TokenBatch(padding_mask=torch.ones(fields.shape[0], tokens, dtype=torch.bool), record_ids=[str(i) for i in range(fields.shape[0])], features=fields)


def timed(run: Callable[[], object]) -> float:
    """Seconds of one run (the caller alternates the sides and takes the best of each)."""
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def compare(name: str, shape: Shape, repeats: int | None) -> str:
    """One result line for one shape: fields/s of both sides, ratio, max abs difference."""
    torch.manual_seed(0)
    reference = ReferenceAfnoNet(shape).eval()
    with tempfile.TemporaryDirectory() as folder:
        ours = sciformer_copy(reference, Path(folder))
    fields = torch.randn(shape.batch, shape.channels, *shape.grid)
    batch = fields_batch(fields, reference.h * reference.w)
    with torch.inference_mode():
        expected, got = reference(fields), ours(batch).prediction  # also the warm-up of both
        ref_times, our_times = [], []
        for _ in range(repeats or shape.repeats):  # alternate, so both sides see the same machine load
            ref_times.append(timed(lambda: reference(fields)))
            our_times.append(timed(lambda: ours(batch)))
    diff = (got - expected).abs().max().item()
    ref_rate, our_rate = shape.batch / min(ref_times), shape.batch / min(our_times)
    h, w = shape.grid
    return (f"AFNO {name} ({h}x{w}x{shape.channels}, patch {shape.patch}, dim {shape.dim}, depth {shape.depth}, batch {shape.batch}) float32: "
            f"reference {ref_rate:,.3g} fields/s, sciformer {our_rate:,.3g} fields/s, ratio {our_rate / ref_rate:.2f}x (target 1x); "
            f"max |forecast diff| {diff:.1e} (forecast max |value| {expected.abs().max().item():.1f})")


def main() -> None:
    """Print one line per shape."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default="shipped,fourcastnet-quarter", help=f"comma-separated, from {list(SHAPES)}")
    args = start(parser, repeats=None)
    for name in args.shapes.split(","):
        if name not in SHAPES:
            raise SystemExit(f"unknown shape {name!r}; known: {list(SHAPES)}")
        print(compare(name, SHAPES[name], args.repeats), flush=True)


if __name__ == "__main__":
    main()
