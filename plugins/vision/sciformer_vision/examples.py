"""Example records of the vision domain, cut from the real images shipped in the plugin's data folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sciformer.records import ExampleRecords, Record

from .array_readers import read_npz
from .pixel_table import read_pixel_table

DATA = Path(__file__).resolve().parent.parent / "data"
MNIST_SUBSET = DATA / "mnist_100.npz"
DIGITS_SUBSET = DATA / "digits_20.csv"

#: Small settings that make the plugin harness fast; `resize: null` keeps each image's own size so
#: batches pad (28x28 and 8x8 digits, a 20x16 crop).
HARNESS_CONFIG = {
    "dim": 32,
    "depth": 2,
    "heads": 2,
    "task": "sequence-classification",
    "domain_options": {"patch_size": 4, "resize": None},
}


def example_records() -> ExampleRecords:
    """MNIST and scikit-learn digits of three sizes, and records the tokenizer must reject."""
    mnist = list(read_npz(MNIST_SUBSET, {"id_column": "t10k_index"}))
    digit = next(iter(read_pixel_table(DIGITS_SUBSET, {})))
    crop = mnist[2]
    good = (
        Record(f"mnist-{mnist[0].id}", mnist[0].data, mnist[0].target),
        Record(f"digits-{digit.id}", digit.data, digit.target),
        Record(f"mnist-{mnist[1].id}", mnist[1].data, mnist[1].target),
        Record(f"mnist-{crop.id}-crop-20x16", np.ascontiguousarray(crop.data[4:24, 6:22]), crop.target),
    )
    nan_image = mnist[3].data.astype(np.float32)
    nan_image[10, 10, 0] = np.nan
    bad = (
        Record("nan-pixel", nan_image, mnist[3].target),
        Record("one-dimensional", mnist[4].data.reshape(-1), mnist[4].target),
        Record("smaller-than-a-patch", mnist[5].data[:2, :2], mnist[5].target),
        Record("not-an-image", "a caption, not pixels", 0),
    )
    return ExampleRecords(good=good, bad=bad, config=HARNESS_CONFIG)
