"""Vision: transformers ViTModel against sciformer's imported copy, images per second at batch 32.

    .venv/bin/python benchmarks/bench_vision.py [--batch 32] [--batches 1] [--repeats 3] [--threads N]

ViT-S/16 at 224 px (hidden 384, 12 layers, 6 heads, MLP 1536), random weights (transformers'
initialisation, then every tensor perturbed so no bias or norm stays at its default), built offline,
saved and imported with `hf-vit`. Both sides get the same preprocessed pixels (B, 3, 224, 224);
sciformer's time includes its collate. Each measurement runs `--batches` batches; the sides alternate
within one process and the best of `--repeats` is kept (the machine is shared and noisy).

float32: target 1.1x, outputs checked by the max abs difference of the last hidden states and [CLS].
bfloat16: sciformer under autocast, and cast with `.to(torch.bfloat16)` (the engine then runs its
blocks in bfloat16) plus autocast; the faster is compared with the float32 reference (target 2.5x),
with the smallest cosine of its [CLS] and hidden states to the float32 reference. The reference under
autocast is printed beside it for context.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from common import alternate, bf16_line, fastest_bf16, min_cosine, precision_runs, random_reference, ratio_line, start
from sciformer.checkpoint import load_checkpoint
from sciformer.data.batch import TokenBatch
from sciformer.engine.model import ModelOutput, SciformerModel
from sciformer.plugins import PluginHost
from sciformer_vision.hf_vit import import_hf_vit
from sciformer_vision.tokenizer import ImageEncoding, ImageTokenizer
from torch import Tensor, nn
from transformers import ViTConfig, ViTModel

# ViT-S/16 (the DeiT-S shape)
VIT_SMALL = {
    "hidden_size": 384, "num_hidden_layers": 12, "num_attention_heads": 6, "intermediate_size": 1536, "patch_size": 16, "image_size": 224
}


def reference_model(folder: Path) -> ViTModel:
    """A random ViT-S/16 (no pooler: sciformer's output is the final-norm [CLS]), saved to `folder`."""
    return random_reference(lambda: ViTModel(ViTConfig(**VIT_SMALL), add_pooling_layer=False), folder)


def collate(tokenizer: ImageTokenizer, pixels: Tensor) -> TokenBatch:
    """sciformer's batch of already-preprocessed pixels (B, C, H, W)."""
    return tokenizer.collate([ImageEncoding(p, None) for p in pixels], [str(i) for i in range(len(pixels))])


def time_against_reference(
    build_reference: Callable[[Path], nn.Module], importer: Callable[..., Path], side: int, args: argparse.Namespace,
    reference_output: Callable[[Any], Tensor], our_output: Callable[[ModelOutput], Tensor],
) -> tuple[dict[str, Tensor], dict[str, float]]:
    """Build and save the reference (`build_reference(folder)`), import it with `importer`, and time both sides,
    float32 and the bfloat16 variants, on the same random `side` px images, alternating; returns every side's
    outputs (`reference_output` of the reference's result, `our_output` of sciformer's) and images per second."""
    host = PluginHost(only={"vision"})
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        reference = build_reference(folder / "hf")
        checkpoint = importer(folder / "hf", folder / "ours", host, {})
        ours = load_checkpoint(checkpoint, host).eval()
        cast = load_checkpoint(checkpoint, host).eval().to(torch.bfloat16)
    tokenizer = host.tokenizer(ours.config)
    pixels = torch.randn(args.batch, 3, side, side, generator=torch.Generator().manual_seed(2))

    def reference_step() -> Tensor:
        return reference_output(reference(pixels)).float()

    def our_step(model: SciformerModel) -> Tensor:
        return our_output(model(collate(tokenizer, pixels))).float()

    outputs, seconds = alternate(precision_runs(reference_step, our_step, ours, cast, args.batches), args.repeats)
    return outputs, {name: args.batch * args.batches / s for name, s in seconds.items()}


def main() -> None:
    """Print the float32 and bfloat16 comparison lines."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32, help="images per batch")
    parser.add_argument("--batches", type=int, default=1, help="batches per timed measurement")
    args = start(parser)
    side = VIT_SMALL["image_size"]
    outputs, rate = time_against_reference(reference_model, import_hf_vit, side, args, lambda out: out.last_hidden_state, lambda out: out.hidden)
    reference_rate, expected = rate["reference float32"], outputs["reference float32"]
    label = f"ViT-S/16 {side} px, batch {args.batch}"

    hidden_diff = (outputs["sciformer float32"] - expected).abs().max()
    cls_diff = (outputs["sciformer float32"][:, 0] - expected[:, 0]).abs().max()
    agreement = f"max |last hidden diff| {hidden_diff:.1e}, max |CLS diff| {cls_diff:.1e}"
    print(ratio_line(f"{label} float32", reference_rate, rate["sciformer float32"], "img/s", f"(target 1.1x); {agreement}"))

    bf16 = outputs[fastest_bf16(rate)]
    cosines = f"min cosine to float32 reference: CLS {min_cosine(bf16[:, 0], expected[:, 0]):.5f}, hidden {min_cosine(bf16, expected):.5f}"
    print(bf16_line(label, rate, "img/s", cosines, digits=1))


if __name__ == "__main__":
    main()
