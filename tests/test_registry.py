"""registry.yaml agrees with the plugins in this repository and with what is installed."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

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
        declare = getattr(host.pm.get_plugin(entry.name), "sciformer_domains", lambda: [])
        declared = {d.name for d in declare() or []}
        assert declared == set(entry.domains), f"{entry.name}: registry says {entry.domains}, plugin declares {declared}"


def test_every_repository_plugin_is_catalogued() -> None:
    catalogued = {e.path for e in load_registry(ROOT / "registry.yaml")}
    on_disk = {str(p.parent.relative_to(ROOT)) for p in ROOT.glob("plugins/*/pyproject.toml")}
    assert on_disk <= catalogued, f"plugins missing from registry.yaml: {sorted(on_disk - catalogued)}"
    installed = {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.dist and ep.dist.name.startswith("sciformer")}
    names = {e.name for e in load_registry(ROOT / "registry.yaml")}
    assert installed <= names, f"installed sciformer plugins missing from registry.yaml: {sorted(installed - names)}"
