"""Attention maps of single records: arrays of every layer and head, and PNG heatmaps."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sciformer.domain import Tokenizer, VocabularyTokenizer
from sciformer.engine.model import SciformerModel
from sciformer.records import Record


def attention_maps(model: SciformerModel, tokenizer: Tokenizer, record: Record) -> tuple[list[np.ndarray], list[str]]:
    """Each attention layer's (heads, T, T) map of one record through the reference path, and the labels
    of the first layer's tokens. In a model with stages (Swin), T and the heads change from stage to stage."""
    batch = tokenizer([record])
    with torch.inference_mode():
        output = model(batch, need_weights=True)
    if not output.attentions:
        raise ValueError(f"model of domain {model.config.domain!r} has no attention layers to map")
    maps = [layer[0].float().numpy() for layer in output.attentions]
    length = maps[0].shape[-1]
    if isinstance(tokenizer, VocabularyTokenizer) and batch.ids is not None and batch.ids.shape[1] == length:
        labels = tokenizer.tokens(batch.ids[0].tolist())
    else:
        labels = [str(i) for i in range(length)]
    return maps, labels


def save_maps(maps: Sequence[np.ndarray], path: Path) -> Path:
    """Every layer's maps in one file: `PATH.npy` (layers, heads, T, T) when all layers agree in shape,
    else `PATH.npz` with one array `layer_<i>` per layer. Returns the file written."""
    if len({layer.shape for layer in maps}) == 1:
        target = path.with_suffix(".npy")
        np.save(target, np.stack(maps))
    else:
        target = path.with_suffix(".npz")
        np.savez(target, **{f"layer_{i}": layer for i, layer in enumerate(maps)})
    return target


def save_heatmap(weights: np.ndarray, labels: Sequence[str], path: str | Path, title: str) -> Path:
    """Write a (T, T) attention matrix as a PNG heatmap with token labels (rows attend to columns)."""

    def draw(axes: Any) -> Any:
        image = axes.imshow(weights, cmap="viridis", vmin=0.0)
        axes.set_xticks(range(len(labels)), labels, rotation=90)
        axes.set_yticks(range(len(labels)), labels)
        axes.set_xlabel("attended token (key)")
        axes.set_ylabel("attending token (query)")
        return image

    size = max(4.0, 0.45 * len(labels) + 2)
    return save_matrix_png(draw, path, title, (size, size))


def save_matrix_png(draw: Callable[[Any], Any], path: str | Path, title: str, size: tuple[float, float]) -> Path:
    """Write one titled plot of `size` inches as a PNG: `draw(axes)` draws a matrix on matplotlib axes and returns
    its image, which a colour bar describes (matplotlib is imported here, with the Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=size)
    image = draw(axes)
    axes.set_title(title)
    figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)
