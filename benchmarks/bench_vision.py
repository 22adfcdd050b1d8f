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

import torch
from common import alternate, machine, min_cosine, ratio_line
from sciformer.checkpoint import load_checkpoint
from sciformer.data.batch import TokenBatch
from sciformer.engine.model import SciformerModel
from sciformer.plugins import PluginHost
from sciformer_vision.hf_vit import import_hf_vit
from sciformer_vision.tokenizer import ImageEncoding, ImageTokenizer
from torch import Tensor
from transformers import ViTConfig, ViTModel

# ViT-S/16 (the DeiT-S shape)
VIT_SMALL = {
    "hidden_size": 384, "num_hidden_layers": 12, "num_attention_heads": 6, "intermediate_size": 1536, "patch_size": 16, "image_size": 224
}
PERTURBATION = 0.02  # on every tensor, the scale of transformers' own initialisation
BF16_VARIANTS = ("sciformer autocast", "sciformer cast + autocast")


def reference_model(folder: Path) -> ViTModel:
    """A random ViT-S/16 (no pooler: sciformer's output is the final-norm [CLS]), saved to `folder`."""
    torch.manual_seed(0)
    model = ViTModel(ViTConfig(**VIT_SMALL), add_pooling_layer=False).eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(PERTURBATION * torch.randn(parameter.shape, generator=generator))
    model.save_pretrained(folder)
    return model


def collate(tokenizer: ImageTokenizer, pixels: Tensor) -> TokenBatch:
    """sciformer's batch of already-preprocessed pixels (B, C, H, W)."""
    return tokenizer.collate([ImageEncoding(p, None) for p in pixels], [str(i) for i in range(len(pixels))])


def main() -> None:
    """Print the float32 and bfloat16 comparison lines."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32, help="images per batch")
    parser.add_argument("--batches", type=int, default=1, help="batches per timed measurement")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds; the best is kept")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(machine())
    host = PluginHost(only={"vision"})
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        reference = reference_model(folder / "hf")
        checkpoint = import_hf_vit(folder / "hf", folder / "ours", host, {})
        ours = load_checkpoint(checkpoint, host).eval()
        cast = load_checkpoint(checkpoint, host).eval().to(torch.bfloat16)
    tokenizer = host.tokenizer(ours.config)
    side = VIT_SMALL["image_size"]
    pixels = torch.randn(args.batch, 3, side, side, generator=torch.Generator().manual_seed(2))

    def run_reference(autocast: bool) -> Callable[[], Tensor]:
        def run() -> Tensor:
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                for _ in range(args.batches):
                    hidden = reference(pixels).last_hidden_state
            return hidden.float()

        return run

    def run_ours(model: SciformerModel, autocast: bool) -> Callable[[], Tensor]:
        def run() -> Tensor:
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                for _ in range(args.batches):
                    hidden = model(collate(tokenizer, pixels)).hidden
            return hidden.float()

        return run

    runs = {
        "reference float32": run_reference(False),
        "sciformer float32": run_ours(ours, False),
        "reference autocast": run_reference(True),
        "sciformer autocast": run_ours(ours, True),
        "sciformer cast + autocast": run_ours(cast, True),
    }
    outputs, seconds = alternate(runs, args.repeats)
    rate = {name: args.batch * args.batches / s for name, s in seconds.items()}
    reference_rate, expected = rate["reference float32"], outputs["reference float32"]
    label = f"ViT-S/16 {side} px, batch {args.batch}"

    hidden_diff = (outputs["sciformer float32"] - expected).abs().max()
    cls_diff = (outputs["sciformer float32"][:, 0] - expected[:, 0]).abs().max()
    agreement = f"max |last hidden diff| {hidden_diff:.1e}, max |CLS diff| {cls_diff:.1e}"
    print(ratio_line(f"{label} float32", reference_rate, rate["sciformer float32"], "img/s", f"(target 1.1x); {agreement}"))

    fastest = max(BF16_VARIANTS, key=rate.__getitem__)
    bf16 = outputs[fastest]
    cls_cosine, hidden_cosine = min_cosine(bf16[:, 0], expected[:, 0]), min_cosine(bf16, expected)
    cosines = f"min cosine to float32 reference: CLS {cls_cosine:.5f}, hidden {hidden_cosine:.5f}"
    variants = ", ".join(f"{name.removeprefix('sciformer ')} {rate[name]:.1f}" for name in BF16_VARIANTS)
    reference_bf16 = rate["reference autocast"]
    context = f"reference under autocast {reference_bf16:.1f} img/s ({rate[fastest] / reference_bf16:.2f}x)"
    name = f"{label} bfloat16 ({fastest.removeprefix('sciformer ')}) vs float32 reference"
    extra = f"(target 2.5x); {cosines}; sciformer {variants} img/s; {context}"
    print(ratio_line(name, reference_rate, rate[fastest], "img/s", extra))


if __name__ == "__main__":
    main()
