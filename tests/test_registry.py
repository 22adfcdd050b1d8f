"""registry.yaml agrees with the plugins in this repository and with what is installed."""

from __future__ import annotations

from pathlib import Path

import tomllib
from sciformer.plugins import ENTRY_POINT_GROUP, PluginHost
from sciformer.registry import load_registry

ROOT = Path(__file__).resolve().parents[1]


def test_every_catalogued_plugin_exists_and_is_installed() -> None:
    host = PluginHost(only=None)
    entries = load_registry(ROOT / "registry.yaml")
    assert len({e.name for e in entries}) == len(entries), "plugin names must be unique"
    for entry in entries:
        assert (ROOT / entry.path).is_dir(), f"{entry.name}: path {entry.path} does not exist"
        assert entry.name not in host.failures, f"{entry.name} failed to load: {host.failures.get(entry.name)}"
        assert entry.name in host.info, f"{entry.name} is catalogued but not installed"
        assert host.info[entry.name].distribution.replace("_", "-") == entry.distribution
        declare = getattr(host.pm.get_plugin(entry.name), "sciformer_domains", list)
        declared = {d.name for d in declare() or []}
        assert declared == set(entry.domains), f"{entry.name}: registry says {entry.domains}, plugin declares {declared}"


def test_every_repository_plugin_is_catalogued() -> None:
    """Each plugin folder of this repository, and the plugin name its pyproject declares, is in the
    registry (plugins installed from elsewhere are not this repository's to catalogue)."""
    entries = load_registry(ROOT / "registry.yaml")
    catalogued = {e.path: e.name for e in entries}
    for pyproject in ROOT.glob("plugins/*/pyproject.toml"):
        folder = str(pyproject.parent.relative_to(ROOT))
        assert folder in catalogued, f"plugin {folder} is missing from registry.yaml"
        declared = set(tomllib.loads(pyproject.read_text())["project"]["entry-points"][ENTRY_POINT_GROUP])
        assert declared == {catalogued[folder]}, f"{folder} declares plugin(s) {sorted(declared)}; registry.yaml names it {catalogued[folder]}"
