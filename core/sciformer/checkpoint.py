"""Checkpoints: a directory with `model.safetensors` and `config.json`; nothing is ever unpickled."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model

from sciformer import __version__
from sciformer.build import build_model
from sciformer.config import ModelConfig
from sciformer.engine.model import SciformerModel
from sciformer.errors import CheckpointError, ConfigError
from sciformer.plugins import PluginHost

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class CheckpointInfo:
    """What `config.json` says about a checkpoint."""

    path: Path
    config: ModelConfig
    plugin: str
    plugin_version: str
    sciformer_version: str
    extra: dict[str, Any]


def save_checkpoint(model: SciformerModel, directory: str | Path, host: PluginHost, extra: dict[str, Any] | None = None) -> Path:
    """Write the model's weights and configuration to `directory` (created if needed)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    plugin = host.domain_plugin(model.config.domain)
    meta = {
        "format_version": FORMAT_VERSION,
        "sciformer_version": __version__,
        "domain": model.config.domain,
        "plugin": {"name": plugin.name, "version": plugin.version},
        "model": model.config.to_dict(),
        "extra": extra or {},
    }
    save_model(model, str(directory / WEIGHTS))
    (directory / CONFIG).write_text(json.dumps(meta, indent=2) + "\n")
    return directory


def read_checkpoint_info(directory: str | Path) -> CheckpointInfo:
    """Parse `config.json` of a checkpoint directory without touching the weights."""
    directory = Path(directory)
    config_path = directory / CONFIG
    if not directory.is_dir():
        raise CheckpointError(f"{directory} is not a checkpoint directory (no such folder)")
    if not config_path.is_file() or not (directory / WEIGHTS).is_file():
        raise CheckpointError(f"{directory} is not a checkpoint: it needs {CONFIG} and {WEIGHTS}")
    try:
        meta = json.loads(config_path.read_text())
        config = ModelConfig.from_dict(meta["model"])
    except (json.JSONDecodeError, KeyError, TypeError, ConfigError) as error:
        raise CheckpointError(f"{config_path}: unreadable configuration ({error})") from error
    plugin = meta.get("plugin", {})
    return CheckpointInfo(directory, config, plugin.get("name", "?"), plugin.get("version", "?"), meta.get("sciformer_version", "?"), meta.get("extra", {}))


def load_checkpoint(directory: str | Path, host: PluginHost, device: str | torch.device = "cpu") -> SciformerModel:
    """Build the model its configuration describes and load the weights (strictly) onto `device`."""
    info = read_checkpoint_info(directory)
    model = build_model(info.config, host)
    try:
        missing, unexpected = load_model(model, str(info.path / WEIGHTS), strict=False, device=str(device))
    except Exception as error:  # safetensors raises several types for corrupt or mismatched files
        raise CheckpointError(f"{info.path / WEIGHTS}: weights do not load ({type(error).__name__}: {error})") from error
    if missing or unexpected:
        raise CheckpointError(f"{info.path}: weights do not match the configuration (missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]})")
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise CheckpointError(f"{info.path / WEIGHTS}: tensor {name!r} holds {bad} non-finite value(s) (NaN or infinity); the checkpoint is damaged")
    return model.to(device).eval()


def weights_sha256(directory: str | Path) -> str:
    """SHA-256 of a checkpoint's weight file (for provenance)."""
    digest = hashlib.sha256()
    with open(Path(directory) / WEIGHTS, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_model(name_or_path: str, host: PluginHost) -> Path:
    """A checkpoint directory, or the path of a shipped model of that name."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    shipped = host.shipped_models()
    if name_or_path in shipped:
        return shipped[name_or_path].path
    raise CheckpointError(f"--model {name_or_path!r} is neither a checkpoint directory nor a shipped model (shipped: {sorted(shipped)})")
