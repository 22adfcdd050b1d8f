"""Fixtures of the vision plugin's tests."""

from __future__ import annotations

import enum
import importlib.util
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
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


@pytest.fixture(scope="session")
def timm_vision_transformer() -> type[torch.nn.Module]:
    """timm's VisionTransformer class; timm is imported over a torchvision stand-in when torchvision is absent."""
    if importlib.util.find_spec("torchvision") is not None:
        from timm.models.vision_transformer import VisionTransformer
    else:
        stand_in = torchvision_stand_in()
        with pytest.MonkeyPatch.context() as patch:  # the stand-in is gone again once timm is imported
            for name, module in stand_in.items():
                patch.setitem(sys.modules, name, module)
            from timm.models.vision_transformer import VisionTransformer
    return VisionTransformer


class InterpolationMode(enum.Enum):
    """torchvision.transforms.functional.InterpolationMode's members (timm builds lookup tables from them)."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


def unavailable(name: str) -> type:
    """A placeholder class for a torchvision name that raises when used (only the name is needed at import)."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"{name} comes from a torchvision stand-in (torchvision is not installed)")

    return type(name, (), {"__init__": refuse, "__call__": refuse})


def torchvision_stand_in() -> dict[str, types.ModuleType]:
    """Modules with exactly the torchvision names timm 1.0.31 reads when `import timm` runs (torchvision
    cannot be installed beside the CPU torch wheel): ops.misc.FrozenBatchNorm2d (norm layer tables),
    transforms.ToTensor (a base class), transforms.functional.InterpolationMode and six dataset classes.
    None of them is called by the tests; each placeholder class raises if it is."""
    names = ("torchvision", "torchvision.ops", "torchvision.ops.misc", "torchvision.datasets", "torchvision.transforms", "torchvision.transforms.functional")
    modules = {name: types.ModuleType(name) for name in names}
    modules["torchvision.ops.misc"].FrozenBatchNorm2d = unavailable("FrozenBatchNorm2d")
    modules["torchvision.transforms"].ToTensor = unavailable("ToTensor")
    modules["torchvision.transforms.functional"].InterpolationMode = InterpolationMode
    for dataset in ("CIFAR100", "CIFAR10", "MNIST", "KMNIST", "FashionMNIST", "ImageFolder"):
        setattr(modules["torchvision.datasets"], dataset, unavailable(dataset))
    for name, module in modules.items():
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(modules[parent], child, module)
    return modules
