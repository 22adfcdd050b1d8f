"""Completing a molecule model's configuration from its training records."""

from __future__ import annotations

import math
from collections.abc import Sequence

from sciformer.config import ModelConfig
from sciformer.records import Record


def prepare_config(config: ModelConfig, records: Sequence[Record]) -> ModelConfig:
    """`target_mean` / `target_std` for regression (unless already set); class names are the core's."""
    if config.task == "sequence-regression" and "target_mean" not in config.domain_options:
        values = [v for v in (_number(r.target) for r in records if r.error is None) if v is not None]
        if len(values) < 2:
            return config
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) or 1.0
        return config.replace(domain_options={**config.domain_options, "target_mean": mean, "target_std": std})
    return config


def _number(value: object) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
