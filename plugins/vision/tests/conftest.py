"""Fixtures of the vision plugin's tests."""

from __future__ import annotations

import enum
import importlib.util
import json
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from sciformer.config import ModelConfig
from sciformer.plugins import PluginHost
from sciformer_vision.tokenizer import ImageEncoding

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


def randomise(model: torch.nn.Module, seed: int, norm: str = "norm") -> None:
    """Every parameter drawn at random (biases and tables included), the weights of `norm` modules around 1, so that
    no weight hides behind its default."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator) * 0.2
            parameter.copy_(noise + 1.0 if norm in name and name.endswith("weight") else noise)


def save_hf_reference(
    model_class: Callable[[Any], torch.nn.Module], config: Any, folder: Path, norm: str = "norm"
) -> torch.nn.Module:
    """The transformers model `model_class(config)` on eager attention, built after seeding torch with 0, `randomise`d
    (seed 1, `norm`) and saved at `folder`."""
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    model = model_class(config).eval()
    randomise(model, seed=1, norm=norm)
    model.save_pretrained(folder)
    return model


def save_state(
    model: torch.nn.Module,
    path: Path,
    meta: dict[str, object] | None = None,
    layout: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
) -> Path:
    """The model's state dict at `path` (safetensors, else torch.save by suffix), renamed by `layout` when given, with
    timm's config.json `meta` beside it when given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    state = layout(state) if layout else state
    if path.suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path)
    if meta is not None:
        (path.parent / "config.json").write_text(json.dumps(meta))
    return path


def batch_of(tokenizer: Any, pixels: torch.Tensor) -> Any:
    """The model input for already-preprocessed pixels (B, C, H, W)."""
    return tokenizer.collate([ImageEncoding(p, None) for p in pixels], [str(i) for i in range(len(pixels))])


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
