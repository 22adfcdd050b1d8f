"""A plugin host for this plugin's own tools (importers, scripts) when no host is handed in."""

from __future__ import annotations

from sciformer.plugins import PluginHost


def protein_host() -> PluginHost:
    """The built-in plugins and this plugin only, so an import is not changed by other plugins' biases."""
    import sciformer_protein

    host = PluginHost(entry_points=False)
    host.register(sciformer_protein, "protein", distribution="sciformer-protein")
    return host
