"""Swin: transformers SwinModel against sciformer's imported copy, images per second at batch 32.

    .venv/bin/python benchmarks/bench_swin.py [--batch 32] [--batches 1] [--repeats 3] [--threads N] [--quick]

Swin-T at 224 px (embed_dim 96, depths (2, 2, 6, 2), heads (3, 6, 12, 24), window 7, patch 4), random
weights (transformers' initialisation, then every tensor perturbed so no bias, norm or relative position
table stays at its default), built offline, saved and imported with `hf-swin`. Both sides get the same
preprocessed pixels (B, 3, 224, 224); sciformer's time includes its collate. Each measurement runs
`--batches` batches; the sides alternate within one process and the best of `--repeats` is kept.
`--quick` is a smoke run: batch 4, one round.

Goal: at least 1.1x in float32 with equal outputs (max abs difference of the pooled output, the mean of
the final-norm tokens on both sides). bfloat16: sciformer under autocast, and cast with `.to(torch.bfloat16)` plus
autocast; the faster is compared with the float32 reference (no target set), with its smallest cosine
to the float32 reference; the reference under autocast is printed beside it.
"""

from __future__ import annotations

from pathlib import Path

from bench_vision import time_against_reference
from common import BF16_VARIANTS, batch_arguments, fastest_bf16, min_cosine, random_reference, ratio_line
from sciformer_vision.hf_swin import import_hf_swin
from transformers import SwinConfig, SwinModel

# Swin-T (swin-tiny-patch4-window7-224)
SWIN_TINY = {"image_size": 224, "patch_size": 4, "embed_dim": 96, "depths": [2, 2, 6, 2], "num_heads": [3, 6, 12, 24], "window_size": 7}
QUICK_BATCH = 4


def reference_model(folder: Path) -> SwinModel:
    """A random Swin-T with its mean pooler, saved to `folder`."""
    return random_reference(lambda: SwinModel(SwinConfig(**SWIN_TINY)), folder)


def main() -> None:
    """Print the float32 and bfloat16 comparison lines."""
    args = batch_arguments(__doc__, batch=32, unit="images", quick_batch=QUICK_BATCH)
    side = SWIN_TINY["image_size"]
    outputs, rate = time_against_reference(reference_model, import_hf_swin, side, args, lambda out: out.pooler_output, lambda out: out.pooled)
    reference_rate, expected = rate["reference float32"], outputs["reference float32"]
    label = f"Swin-T {side} px, batch {args.batch}"

    pooled_diff = (outputs["sciformer float32"] - expected).abs().max()
    print(ratio_line(f"{label} float32", reference_rate, rate["sciformer float32"], "img/s", f"(target 1.1x); max |pooled diff| {pooled_diff:.1e}"))

    fastest = fastest_bf16(rate)
    variants = ", ".join(f"{name.removeprefix('sciformer ')} {rate[name]:.1f}" for name in BF16_VARIANTS)
    reference_bf16 = rate["reference autocast"]
    extra = (
        f"(no target); min cosine of the pooled output to the float32 reference {min_cosine(outputs[fastest], expected):.5f}; "
        f"sciformer {variants} img/s; reference under autocast {reference_bf16:.1f} img/s ({rate[fastest] / reference_bf16:.2f}x)"
    )
    name = f"{label} bfloat16 ({fastest.removeprefix('sciformer ')}) vs float32 reference"
    print(ratio_line(name, reference_rate, rate[fastest], "img/s", extra))


if __name__ == "__main__":
    main()
