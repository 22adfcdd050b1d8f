"""Shared fixtures of the molecule plugin tests."""

from __future__ import annotations

import pytest
from sciformer.config import ModelConfig
from sciformer.plugins import PluginHost


@pytest.fixture(scope="session")
def host() -> PluginHost:
    """A host with the built-ins and the molecule plugin only."""
    return PluginHost(only={"molecule"})


@pytest.fixture
def small_config() -> ModelConfig:
    """A tiny MAT regression model."""
    return ModelConfig(domain="molecule", dim=32, depth=2, heads=4, position="none", max_positions=64, task="sequence-regression", num_labels=1)
