"""Shared fixtures of the timeseries tests: a plugin host and random transformers PatchTST models imported into sciformer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from sciformer.plugins import PluginHost


@pytest.fixture(scope="session")
def host() -> PluginHost:
    """Every installed plugin."""
    return PluginHost()


def random_patchtst(folder: Path, seed: int = 0, **settings: Any) -> Any:
    """A transformers PatchTSTForPrediction with random weights (BatchNorm statistics too), saved in `folder` (eval mode)."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(seed)
    model = transformers.PatchTSTForPrediction(transformers.PatchTSTConfig(**settings)).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.normal_(0.0, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.normal_(1.0, 0.2)
                module.bias.normal_(0.0, 0.2)
    model.save_pretrained(folder)
    return model
