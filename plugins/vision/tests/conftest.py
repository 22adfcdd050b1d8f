"""Fixtures of the vision plugin's tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sciformer.config import ModelConfig
from sciformer.plugins import PluginHost

PLUGIN = Path(__file__).resolve().parents[1]
DATA = PLUGIN / "data"


@pytest.fixture(scope="session")
def host() -> PluginHost:
    """A host with the built-ins and every installed plugin (the vision plugin among them)."""
    return PluginHost()


@pytest.fixture(scope="session")
def mnist() -> tuple[np.ndarray, np.ndarray]:
    """The shipped MNIST subset: images (100, 28, 28) uint8 and labels (100,)."""
    with np.load(DATA / "mnist_100.npz") as archive:
        return archive["images"], archive["labels"]


@pytest.fixture(scope="session")
def make_config() -> Callable[..., ModelConfig]:
    """Factory of tiny ViT configurations (28x28 grey, 7x7 patches); keyword arguments override."""
    return vision_config


def vision_config(**changes: Any) -> ModelConfig:
    """A tiny ViT configuration for 28x28 grey images with 7x7 patches (changes override)."""
    options = {"patch_size": 7, "image_size": [28, 28], "channels": 1, "resize": None, "mean": [0.13], "std": [0.3]}
    options.update(changes.pop("domain_options", {}))
    values = {"domain": "vision", "dim": 32, "depth": 2, "heads": 4, "pooling": "cls", "norm_eps": 1e-6, "domain_options": options}
    values.update(changes)
    return ModelConfig.from_dict(values)
