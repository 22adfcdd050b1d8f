"""The plugin catalogue (`registry.yaml`) and how it compares with what is installed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sciformer.errors import InputFileError
from sciformer.plugins import PluginHost

REGISTRY_ENV = "SCIFORMER_REGISTRY"
FIELDS = ("name", "domains", "distribution", "path", "entry_point", "summary", "status")


@dataclass(frozen=True)
class RegistryEntry:
    """One catalogued plugin."""

    name: str
    domains: tuple[str, ...]
    distribution: str
    path: str
    entry_point: str
    summary: str
    status: str


def registry_path() -> Path:
    """`$SCIFORMER_REGISTRY`, else the repository's `registry.yaml` beside `core/`."""
    if os.environ.get(REGISTRY_ENV):
        return Path(os.environ[REGISTRY_ENV])
    return Path(__file__).resolve().parents[2] / "registry.yaml"


def load_registry(path: Path | None = None) -> list[RegistryEntry]:
    """Parse the catalogue, naming the entry and field of any mistake."""
    path = path or registry_path()
    if not path.is_file():
        raise InputFileError(f"plugin registry not found at {path} (set {REGISTRY_ENV} to its path)")
    data = yaml.safe_load(path.read_text()) or {}
    entries = []
    for number, item in enumerate(data.get("plugins") or [], start=1):
        missing = [f for f in FIELDS if f not in item]
        if missing:
            raise InputFileError(f"{path}: entry {number} ({item.get('name', '?')}) lacks {missing}")
        entries.append(RegistryEntry(**{**{f: item[f] for f in FIELDS}, "domains": tuple(item["domains"])}))
    return entries


def registry_status(host: PluginHost, entries: list[RegistryEntry]) -> list[dict[str, Any]]:
    """Each entry with whether its plugin is loaded, its installed version, or why it failed."""
    rows = []
    for entry in entries:
        info = host.info.get(entry.name)
        row = {**entry.__dict__, "domains": list(entry.domains), "installed": info is not None, "version": info.version if info else None}
        if entry.name in host.failures:
            row["error"] = host.failures[entry.name]
        rows.append(row)
    return rows
