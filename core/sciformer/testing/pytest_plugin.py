"""Registered under the `pytest11` entry point: makes the harness fixtures available to plugin tests."""

from __future__ import annotations

import pytest

from sciformer.plugins import PluginHost


@pytest.fixture
def sciformer_host() -> PluginHost:
    """A PluginHost with the built-ins and every installed plugin."""
    return PluginHost()
