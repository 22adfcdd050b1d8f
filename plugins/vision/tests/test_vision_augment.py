"""Image augmentations: offered through the hook, label-preserving moves, seeded."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from sciformer.augmentation import build_augmentations
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.errors import ConfigError
from sciformer.training.recipe import train_recipe

CONFIG = ModelConfig(domain="vision", domain_options={"patch_size": 2})


def image_batch(images: torch.Tensor) -> TokenBatch:
    return TokenBatch(padding_mask=torch.ones(images.shape[0], 5, dtype=torch.bool), record_ids=[str(i) for i in range(images.shape[0])], features=images, targets=torch.zeros(images.shape[0], dtype=torch.long))


def test_random_shift_moves_whole_pixels_and_repeats_the_border(host) -> None:
    image = torch.zeros(1, 1, 6, 6)
    image[0, 0, 2, 3] = 1.0
    (shift,) = build_augmentations(host, CONFIG, {"random_shift": {"pixels": 1}})
    seen = set()
    for seed in range(40):
        moved = shift(image_batch(image), torch.Generator().manual_seed(seed)).features
        assert moved.shape == image.shape and moved.sum() == 1.0
        row, col = divmod(int(moved.flatten().argmax()), 6)
        seen.add((row - 2, col - 3))
    assert seen == {(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
    edge = torch.ones(1, 1, 4, 4)
    assert torch.equal(shift(image_batch(edge), torch.Generator().manual_seed(0)).features, edge), "uncovered pixels repeat the border"


def test_random_affine_is_seeded_and_the_identity_when_its_ranges_are_zero(host) -> None:
    images = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    (still,) = build_augmentations(host, CONFIG, {"random_affine": {"degrees": 0, "translate": 0, "scale": 0}})
    assert torch.allclose(still(image_batch(images), torch.Generator()).features, images, atol=1e-6)
    (affine,) = build_augmentations(host, CONFIG, {"random_affine": {"degrees": 15, "translate": 0.1, "scale": 0.1}})
    first = affine(image_batch(images), torch.Generator().manual_seed(5)).features
    assert torch.equal(first, affine(image_batch(images), torch.Generator().manual_seed(5)).features)
    assert not torch.allclose(first, images, atol=1e-3)
    with pytest.raises(ConfigError, match=r"random_affine.degrees must lie in \[0, 180\)"):
        build_augmentations(host, CONFIG, {"random_affine": {"degrees": 200}})
    with pytest.raises(ConfigError, match="random_shift.pixels must be a whole number of at least 1"):
        build_augmentations(host, CONFIG, {"random_shift": {"pixels": 0}})


def test_an_augmented_run_is_reproducible(host, tmp_path) -> None:
    """Two runs of one recipe with augmentation and a moving average write identical metrics and weights."""
    recipe = Path(__file__).resolve().parents[1] / "recipes" / "vit-digits-small.yaml"
    settings = ["training.max_steps=4", "training.eval_every=2", "training.ema=0.9", "training.augment={random_affine: {degrees: 10, translate: 0.1}, random_shift: {pixels: 1}}"]
    first = train_recipe(recipe, host, [*settings, f"output={tmp_path / 'a'}"]).output
    second = train_recipe(recipe, host, [*settings, f"output={tmp_path / 'b'}"]).output
    assert (first / "metrics.jsonl").read_text() == (second / "metrics.jsonl").read_text()
    a, b = load_file(str(first / "model.safetensors")), load_file(str(second / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
