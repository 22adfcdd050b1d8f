"""Shared fixtures of the timeseries tests: a plugin host, an untrained forecaster and random transformers PatchTST models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from sciformer.build import build_model
from sciformer.checkpoint import save_checkpoint
from sciformer.config import ModelConfig, merge_settings
from sciformer.plugins import PluginHost
from sciformer.reading import read_records
from sciformer_timeseries import EXAMPLE
from sciformer_timeseries.examples import HARNESS_CONFIG, READ


@pytest.fixture(scope="session")
def host() -> PluginHost:
    """Every installed plugin."""
    return PluginHost()


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory, host: PluginHost) -> Path:
    """An untrained forecaster of the example windows, saved with their context (48) and horizon (12) as model options."""
    domain = host.domain("timeseries")
    config = ModelConfig.from_dict(merge_settings(domain.default_config, HARNESS_CONFIG, {"domain": "timeseries"}))
    config = host.prepare_config(config, list(read_records(host, "timeseries", EXAMPLE, READ)))
    folder = tmp_path_factory.mktemp("forecaster")
    return save_checkpoint(
        build_model(config, host).eval(), folder, host, extra={"model_options": {"context": 48, "horizon": 12}}
    )


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
