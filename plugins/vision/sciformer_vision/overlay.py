"""PNG drawings of attention over an image: a heat map of patch weights laid over the pixels."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def display_image(pixels: np.ndarray) -> np.ndarray:
    """(C, H, W) model input -> (H, W) grey or (H, W, 3) colour in [0, 1] for drawing (min-max scaled)."""
    image = pixels[:3].transpose(1, 2, 0) if pixels.shape[0] >= 3 else pixels[0]
    low, high = float(image.min()), float(image.max())
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def _draw(axes, image: np.ndarray, heat: np.ndarray, patch_size: int, title: str):  # noqa: ANN001, ANN202 (matplotlib types)
    rows, cols = heat.shape
    axes.imshow(image, cmap="gray" if image.ndim == 2 else None, interpolation="nearest")
    extent = (-0.5, cols * patch_size - 0.5, rows * patch_size - 0.5, -0.5)  # the pixels the patches cover
    shown = axes.imshow(heat, cmap="inferno", alpha=0.55, extent=extent, interpolation="nearest")  # one block per patch
    axes.set_xlim(-0.5, image.shape[1] - 0.5)
    axes.set_ylim(image.shape[0] - 0.5, -0.5)
    axes.set_title(title, fontsize=9)
    axes.axis("off")
    return shown


def save_overlay(pixels: np.ndarray, heat: np.ndarray, patch_size: int, path: str | Path, title: str) -> Path:
    """One heat map (rows, cols) over the image, with a colour bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(4.2, 4.0))
    shown = _draw(axes, display_image(pixels), heat, patch_size, title)
    figure.colorbar(shown, ax=axes, fraction=0.046)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)


def save_head_grid(pixels: np.ndarray, heats: np.ndarray, patch_size: int, path: str | Path, title: str) -> Path:
    """One panel per head: heats (heads, rows, cols) over the image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = heats.shape[0]
    columns = min(count, 4)
    lines = math.ceil(count / columns)
    figure, grid = plt.subplots(lines, columns, figsize=(2.6 * columns, 2.6 * lines + 0.4), squeeze=False)
    image = display_image(pixels)
    for index, axes in enumerate(grid.flat):
        if index < count:
            _draw(axes, image, heats[index], patch_size, f"head {index}")
        else:
            axes.axis("off")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)
