"""Training-time data augmentation: transforms of a training batch that a domain plugin offers by name.

A domain declares its augmentations through `Domain.augmentations`; a recipe turns them on
by name with their settings:

    training:
      augment:
        random_affine: {degrees: 10, translate: 0.1, scale: 0.1}

The trainer builds each named transform once and applies them, in the recipe's order, to every
training micro-batch (never to validation, test or scoring), with a random generator seeded from the
micro-batch's position, so runs are reproducible and resume exactly. A domain offers only transforms
that keep the label true (no flips for digits, no crops that cut a molecule).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from sciformer.data.batch import TokenBatch
from sciformer.errors import ConfigError

if TYPE_CHECKING:
    from sciformer.config import ModelConfig
    from sciformer.plugins import PluginHost

#: A built transform: (training batch on the CPU, seeded generator) -> augmented batch.
BatchTransform = Callable[[TokenBatch, torch.Generator], TokenBatch]


@dataclass(frozen=True)
class Augmentation:
    """A named augmentation: `build(**settings)` returns the transform (and raises ConfigError or
    TypeError for settings it does not take)."""

    name: str
    summary: str
    build: Callable[..., BatchTransform]


def available_augmentations(host: PluginHost, config: ModelConfig) -> dict[str, Augmentation]:
    """The augmentations the installed plugins offer for `config`'s domain, by name."""
    return {a.name: a for a in host.augmentations(config)}


def build_augmentations(host: PluginHost, config: ModelConfig, settings: Mapping[str, Any]) -> list[BatchTransform]:
    """The transforms `training.augment` names, built with their settings; ConfigError for an unknown
    name (listing those available) or a setting the augmentation does not take."""
    offered = available_augmentations(host, config)
    transforms = []
    for name, options in settings.items():
        if name not in offered:
            raise ConfigError(f"training.augment: no augmentation {name!r} for domain {config.domain!r}; available: {sorted(offered) or 'none'}")
        if not isinstance(options, Mapping):
            raise ConfigError(f"training.augment.{name} must be a mapping of settings, got {options!r}")
        build = offered[name].build
        try:
            inspect.signature(build).bind(**options)
        except TypeError as error:
            raise ConfigError(f"training.augment.{name}: {error}; takes {list(inspect.signature(build).parameters)}") from None
        transforms.append(build(**options))
    return transforms


def augmented(batch: TokenBatch, transforms: Sequence[BatchTransform], generator: torch.Generator) -> TokenBatch:
    """`batch` passed through each transform in turn."""
    for transform in transforms:
        batch = transform(batch, generator)
    return batch
