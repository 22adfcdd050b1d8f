"""PNG drawings of attention over an image: a heat map of patch weights laid over the pixels.

The figures are built without pyplot (no global figure state) and returned, so tests can read
their texts; the `save_*` functions write them as PNG.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage

TITLE_POINTS = 9
GLYPH_WIDTH = 0.6  # average width of a character of matplotlib's default sans-serif, in font sizes
OVERLAY_SIZE = (4.2, 3.9)  # inches: the image, its colour bar and a title of up to three lines
PANEL_INCHES = 2.6  # one head's panel in the grid


def display_image(pixels: np.ndarray) -> np.ndarray:
    """(C, H, W) model input -> (H, W) grey or (H, W, 3) colour in [0, 1] for drawing (min-max scaled)."""
    image = pixels[:3].transpose(1, 2, 0) if pixels.shape[0] >= 3 else pixels[0]
    low, high = float(image.min()), float(image.max())
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def fit_title(title: str, width_inches: float, points: float = TITLE_POINTS) -> str:
    """`title` wrapped line by line to `width_inches` at `points` size, long record ids included."""
    characters = max(12, int(0.95 * width_inches * 72 / (GLYPH_WIDTH * points)))
    return "\n".join(textwrap.fill(line, characters) for line in title.splitlines())


def _draw(axes: Axes, image: np.ndarray, heat: np.ndarray, patch_size: int) -> AxesImage:
    rows, cols = heat.shape
    axes.imshow(image, cmap="gray" if image.ndim == 2 else None, interpolation="nearest")
    extent = (-0.5, cols * patch_size - 0.5, rows * patch_size - 0.5, -0.5)  # the pixels the patches cover
    shown = axes.imshow(heat, cmap="inferno", alpha=0.55, extent=extent, interpolation="nearest")  # one block per patch
    axes.set_xlim(-0.5, image.shape[1] - 0.5)
    axes.set_ylim(image.shape[0] - 0.5, -0.5)
    axes.axis("off")
    return shown


def overlay_figure(
    pixels: np.ndarray, heat: np.ndarray, patch_size: int, title: str, label: str = "attention weight"
) -> Figure:
    """One heat map (rows, cols) over the image, with a colour bar named `label`; `title` wraps to fit."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=OVERLAY_SIZE, layout="constrained")
    axes = figure.subplots()
    shown = _draw(axes, display_image(pixels), heat, patch_size)
    figure.colorbar(shown, ax=axes, fraction=0.046, label=label)
    figure.suptitle(fit_title(title, OVERLAY_SIZE[0]), fontsize=TITLE_POINTS)
    return figure


def head_grid_figure(pixels: np.ndarray, heats: np.ndarray, patch_size: int, title: str) -> Figure:
    """One panel per head: heats (heads, rows, cols) over the image; `title` wraps to fit."""
    from matplotlib.figure import Figure

    count = heats.shape[0]
    columns = min(count, 4)
    lines = math.ceil(count / columns)
    figure = Figure(figsize=(PANEL_INCHES * columns, PANEL_INCHES * lines + 0.6), layout="constrained")
    grid = figure.subplots(lines, columns, squeeze=False)
    image = display_image(pixels)
    for index, axes in enumerate(grid.flat):
        if index < count:
            _draw(axes, image, heats[index], patch_size)
            axes.set_title(f"head {index}", fontsize=TITLE_POINTS)
        else:
            axes.axis("off")
    figure.suptitle(fit_title(title, PANEL_INCHES * columns, points=10), fontsize=10)
    return figure


def save_overlay(
    pixels: np.ndarray, heat: np.ndarray, patch_size: int, path: str | Path, title: str, label: str = "attention weight"
) -> Path:
    """Write `overlay_figure` as a PNG."""
    overlay_figure(pixels, heat, patch_size, title, label).savefig(path, dpi=100)
    return Path(path)


def save_head_grid(pixels: np.ndarray, heats: np.ndarray, patch_size: int, path: str | Path, title: str) -> Path:
    """Write `head_grid_figure` as a PNG."""
    head_grid_figure(pixels, heats, patch_size, title).savefig(path, dpi=100)
    return Path(path)
