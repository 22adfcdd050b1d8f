"""Attention maps of single records: arrays of every layer and head, and PNG heatmaps."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from sciformer.domain import Tokenizer, VocabularyTokenizer
from sciformer.engine.model import SciformerModel
from sciformer.records import Record


def attention_maps(model: SciformerModel, tokenizer: Tokenizer, record: Record) -> tuple[np.ndarray, list[str]]:
    """(layers, heads, T, T) attention of one record through the reference path, and token labels."""
    batch = tokenizer([record])
    with torch.inference_mode():
        output = model(batch, need_weights=True)
    if not output.attentions:
        raise ValueError(f"model of domain {model.config.domain!r} has no attention layers to map")
    maps = torch.stack([a[0] for a in output.attentions]).float().numpy()  # (L, H, T, T)
    length = maps.shape[-1]
    if isinstance(tokenizer, VocabularyTokenizer) and batch.ids is not None and batch.ids.shape[1] == length:
        labels = tokenizer.tokens(batch.ids[0].tolist())
    else:
        labels = [str(i) for i in range(length)]
    return maps, labels


def save_heatmap(weights: np.ndarray, labels: Sequence[str], path: str | Path, title: str) -> Path:
    """Write a (T, T) attention matrix as a PNG heatmap with token labels (rows attend to columns)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = max(4.0, 0.45 * len(labels) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    image = axes.imshow(weights, cmap="viridis", vmin=0.0)
    axes.set_xticks(range(len(labels)), labels, rotation=90)
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("attended token (key)")
    axes.set_ylabel("attending token (query)")
    axes.set_title(title)
    figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)
