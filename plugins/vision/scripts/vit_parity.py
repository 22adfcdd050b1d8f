"""Measure the parity of `sciformer import hf-vit` against transformers' ViT (random weights, float32).

Builds a ViT-Tiny-shaped ViTForImageClassification (dim 192, depth 12, 3 heads, patch 16, 224x224,
10 classes) with random weights (transformers' initialisation plus N(0, 0.05) on every weight), saves it, imports it and prints the largest absolute difference of
the final hidden states and the logits at 224x224 and, with interpolate_pos_encoding, at 160x192
and 288x288.

    python plugins/vision/scripts/vit_parity.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import torch
from sciformer.checkpoint import load_checkpoint
from sciformer.plugins import PluginHost
from sciformer_vision.hf_vit import import_hf_vit
from sciformer_vision.tokenizer import ImageEncoding
from transformers import ViTConfig, ViTForImageClassification

SIZES = ((224, 224), (160, 192), (288, 288))


def main() -> None:
    """Import, run both models, print the differences as JSON."""
    torch.manual_seed(0)
    config = ViTConfig(hidden_size=192, num_hidden_layers=12, num_attention_heads=3, intermediate_size=768, num_labels=10)
    reference = ViTForImageClassification(config).eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # every weight perturbed, so none hides behind its initial value
        for parameter in reference.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.05)
    host = PluginHost()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        reference.save_pretrained(folder)
        model = load_checkpoint(import_hf_vit(Path(folder), Path(folder) / "imported"), host)
    tokenizer = host.tokenizer(model.config)
    for size in SIZES:
        pixels = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(1))
        batch = tokenizer.collate([ImageEncoding(p, None) for p in pixels], ["a", "b"])
        with torch.inference_mode():
            interpolate = size != (224, 224)
            logits_ref = reference(pixels, interpolate_pos_encoding=interpolate).logits
            hidden_ref = reference.vit(pixels, interpolate_pos_encoding=interpolate).last_hidden_state
            ours = model(batch)
        hidden = (ours.hidden - hidden_ref).abs().max()
        logits = (ours.prediction - logits_ref).abs().max()
        rows.append({"size": list(size), "hidden_max_abs": float(hidden), "logits_max_abs": float(logits), "logits_scale": float(logits_ref.abs().max())})
    sys.stdout.write(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
