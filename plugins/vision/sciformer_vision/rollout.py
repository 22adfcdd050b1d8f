"""Attention over an image: every layer's and head's maps, and attention rollout (Abnar & Zuidema, 2020).

Rollout treats each layer as mixing tokens by `0.5 * A + 0.5 * I` (attention plus the residual
path), rows renormalised, and multiplies the layers from the first to the last; the [CLS] row of
the product says how much each patch flowed into the [CLS] token that the classifier reads. A Swin
has no [CLS] and pools the mean of its tokens, so its rows are averaged instead; its maps are first
lifted to the patch grid (swin_maps.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sciformer.config import ModelConfig
from sciformer.engine.model import SciformerModel
from sciformer.records import Record

from .swin_maps import lift_to_patches
from .tokenizer import GRID, ImageTokenizer

HEAD_FUSIONS = ("mean", "max", "min")


@dataclass(frozen=True)
class ImageAttention:
    """Attention of one image: `maps` (layers, heads, T, T) over [CLS] + the patch `grid`; `pixels` (C, H, W) as the model saw them.

    `prediction` is the model's answer in words ("predicted 7 (p = 0.98)"), None for a model
    without a classification or regression head. `cls` is False for a Swin: T is the patches alone,
    and heads a stage lacks are NaN."""

    record_id: str
    maps: np.ndarray
    grid: tuple[int, int]
    pixels: np.ndarray
    patch_size: int
    prediction: str | None = None
    cls: bool = True

    def cls_maps(self, layer: int) -> np.ndarray:
        """(heads, rows, cols): how much [CLS] (a Swin: the mean of all patches) attends to each patch, per head, in `layer`."""
        rows, cols = self.grid
        pooled = self.maps[layer, :, 0, 1:] if self.cls else self.maps[layer].mean(axis=-2)
        return pooled.reshape(-1, rows, cols)

    def rollout(self, head_fusion: str = "mean") -> np.ndarray:
        """(rows, cols): attention rollout from [CLS] (a Swin: the mean of all patches) to each patch through every layer."""
        rows, cols = self.grid
        rolled = attention_rollout(self.maps, head_fusion)
        return (rolled[0, 1:] if self.cls else rolled.mean(axis=0)).reshape(rows, cols)


def image_attention(model: SciformerModel, tokenizer: ImageTokenizer, record: Record) -> ImageAttention:
    """Run one image through the model's reference attention path and collect its maps."""
    encoding = tokenizer.encode(record)
    batch = tokenizer.collate([encoding], [record.id])
    device = next(model.parameters()).device
    with torch.inference_mode():
        output = model(batch.to(device), need_weights=True)
    if not output.attentions:
        raise ValueError("the model has no attention layers to map")
    grid = tuple(int(v) for v in batch.extras[GRID][0].tolist())
    swin = tokenizer.geometry.swin
    if swin:
        maps = lift_to_patches([a[0] for a in output.attentions], grid, len(model.config.stages))  # (L, H, P, P)
    else:
        maps = torch.stack([a[0] for a in output.attentions]).float().cpu().numpy()  # (L, H, T, T)
    prediction = None if output.prediction is None else describe_prediction(output.prediction[0].float().cpu(), model.config)
    return ImageAttention(record.id, maps, grid, encoding.pixels.numpy(), tokenizer.geometry.patch_size, prediction, cls=not swin)


def describe_prediction(prediction: torch.Tensor, config: ModelConfig) -> str | None:
    """One image's head output (num_labels,) in words: the most probable class and its probability,
    or the regressed values; None for other tasks."""
    if config.task == "sequence-classification":
        probabilities = prediction.softmax(dim=-1)
        index = int(probabilities.argmax())
        name = config.labels[index] if index < len(config.labels) else f"class {index}"
        return f"predicted {name} (p = {float(probabilities[index]):.2f})"
    if config.task == "sequence-regression":
        return "predicted " + ", ".join(f"{float(value):.4g}" for value in prediction.reshape(-1))
    return None


def attention_rollout(maps: np.ndarray, head_fusion: str = "mean") -> np.ndarray:
    """(T, T) rollout of (layers, heads, T, T) maps: product over layers of row-normalised 0.5 A + 0.5 I (NaN heads skipped)."""
    if head_fusion not in HEAD_FUSIONS:
        raise ValueError(f"head_fusion must be one of {list(HEAD_FUSIONS)}, got {head_fusion!r}")
    length = maps.shape[-1]
    identity = np.eye(length, dtype=np.float64)
    result = identity
    for layer in maps.astype(np.float64):
        fused = getattr(np, f"nan{head_fusion}")(layer, axis=0)  # (T, T)
        mixed = 0.5 * fused + 0.5 * identity
        mixed /= mixed.sum(axis=-1, keepdims=True)
        result = mixed @ result
    return result
