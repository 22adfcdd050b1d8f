"""Dynamic INT8 inference (`--dtype int8`): every Linear of the engine's blocks (a decoder's too), quantized once at load.

PyTorch's dynamic quantization (`torch.ao.quantization.quantize_dynamic`, x86 / oneDNN backend, or
fbgemm where x86 is absent) stores the weights of the blocks' attention (qkv, out) and MLP (fc1, fc2)
layers as qint8 with one scale per output channel (`per_channel_dynamic_qconfig`) and quantizes the
activations on the fly; the GEMMs run in INT8 and return float32. Per-channel scales cost no speed
against one scale per tensor (ViT-S/16 and AST-small, 2 threads: 0.91-1.03x) and keep outputs closer to
float32 (benchmarks/NOTES.md). Attention itself (scaled dot-product), norms, embedders and heads stay float32:
the embedders are not Linear-heavy, and the heads are a small share of the work whose outputs
(logits, probabilities) are what the accuracy gates measure, so they are left exact.

torch 2.13 marks `torch.ao.quantization` and quantized tensors deprecated (successor: torchao, not a
dependency here); those warnings are silenced for the one call, and the path is tested
(tests/test_int8.py) so that its removal shows up as a failure, not as silent float32.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from sciformer.engine.model import SciformerModel


def quantized_engine() -> str:
    """The quantized backend: "x86" (oneDNN + fbgemm) where this build has it, else "fbgemm"."""
    engines = torch.backends.quantized.supported_engines
    return "x86" if "x86" in engines else "fbgemm"


def quantize_for_inference(model: SciformerModel) -> SciformerModel:
    """`model` with the Linear layers of its blocks (and its decoder's) replaced by dynamic INT8 ones, in place; CPU inference only."""
    torch.backends.quantized.engine = quantized_engine()
    model.eval()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*(torch\.ao\.quantization|quantized tensor creation).*")
        warnings.filterwarnings("ignore", message=r".*torch\.quantize_per_(tensor|channel).*")
        per_channel = {nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}
        model.blocks = torch.ao.quantization.quantize_dynamic(model.blocks, per_channel, dtype=torch.qint8)
        if model.decoder is not None:
            model.decoder.blocks = torch.ao.quantization.quantize_dynamic(model.decoder.blocks, per_channel, dtype=torch.qint8)
    return model
