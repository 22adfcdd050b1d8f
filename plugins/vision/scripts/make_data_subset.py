"""Write the plugin's small data subset from the shared image data (run once; the result is committed).

`data/mnist_100.npz`: the first 100 images (by t10k index) of the test split that
recipes/vit-mnist-small.yaml holds out, so the demo scores images the model never saw.
`data/digits_20.csv`: the first 20 rows of the test split of recipes/vit-digits-small.yaml.
`data/png/`: five of those MNIST images as PNG files in one folder per class, for the file reader.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from sciformer.plugins import PluginHost
from sciformer.training.recipe import load_recipe, recipe_records

HERE = Path(__file__).resolve().parent.parent


def test_split(recipe: Path) -> list:
    """The held-out test records of a recipe, as the trainer splits them."""
    host = PluginHost()
    loaded = load_recipe(recipe)
    return recipe_records(loaded, host, loaded.model["domain"])["test"]


def main() -> None:
    """Write the three parts of the subset."""
    data = HERE / "data"
    recipe = HERE / "recipes/vit-mnist-small.yaml"
    with np.load(load_recipe(recipe).data["train"]) as source:
        t10k_index = source["t10k_index"]
    mnist = sorted(test_split(recipe), key=lambda r: int(t10k_index[int(r.id)]))[:100]  # record ids: rows of the shared file
    images = np.stack([r.data[..., 0] for r in mnist]).astype(np.uint8)
    labels = np.array([r.target for r in mnist], dtype=np.uint8)
    index = np.array([t10k_index[int(r.id)] for r in mnist], dtype=np.int32)
    np.savez_compressed(data / "mnist_100.npz", images=images, labels=labels, t10k_index=index)
    for record, original in list(zip(mnist, index))[:5]:
        folder = data / "png" / str(record.target)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(record.data[..., 0]).save(folder / f"t10k_{original}.png")
    digits = sorted(test_split(HERE / "recipes/vit-digits-small.yaml"), key=lambda r: int(r.id))[:20]
    with open(data / "digits_20.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row"] + [f"p{i}" for i in range(64)] + ["label"])
        for record in digits:
            writer.writerow([record.id] + [int(v) for v in record.data.reshape(-1)] + [record.target])
    sys.stdout.write(f"wrote {len(mnist)} MNIST images, {len(digits)} digits rows to {data}\n")


if __name__ == "__main__":
    main()
