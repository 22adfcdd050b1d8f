"""Shared steps of the weight importers: reading foreign weight files safely, filling a model by table, writing it.

Name tables map a sciformer parameter name (with `{i}` for the block index) to a foreign name, or
to a tuple of foreign names concatenated along the first axis (separate q, k, v -> fused qkv).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from sciformer.build import build_model
from sciformer.checkpoint import save_checkpoint
from sciformer.config import ModelConfig
from sciformer.engine.model import SciformerModel
from sciformer.errors import InputFileError
from sciformer.plugins import PluginHost
from torch import Tensor

log = logging.getLogger(__name__)

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.pth", "pytorch_model.pth")
NameTable = Mapping[str, "str | tuple[str, ...]"]


def read_weights(path: Path) -> dict[str, Tensor]:
    """A state dict from .safetensors (also sharded, by its index) or .bin / .pth read with weights_only=True."""
    if path.name.endswith(".safetensors.index.json"):
        index = json.loads(path.read_text())
        tensors: dict[str, Tensor] = {}
        for shard in sorted(set(index["weight_map"].values())):
            tensors.update(load_file(str(path.parent / shard)))
        return tensors
    if path.suffix == ".safetensors":
        return load_file(str(path))
    if path.suffix in (".bin", ".pth", ".pt"):
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # pickles with code objects are refused here, by design
            raise InputFileError(f"{path}: not a plain tensor state dict (read with weights_only=True): {error}") from error
        for wrapper in ("model", "state_dict", "model_ema"):
            if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
                state = state[wrapper]
        if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
            raise InputFileError(f"{path}: expected a dict of tensors")
        return dict(state)
    raise InputFileError(f"{path}: weights must be .safetensors, .bin or .pth")


def find_weights(folder: Path) -> Path:
    """The weight file inside a model folder (safetensors preferred)."""
    for name in ("model.safetensors.index.json", *WEIGHT_FILES):
        if (folder / name).is_file():
            return folder / name
    candidates = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin", ".pth"))
    if len(candidates) == 1:
        return candidates[0]
    raise InputFileError(f"{folder}: no weight file ({', '.join(WEIGHT_FILES)}) found")


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object, or an InputFileError naming the file."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InputFileError(f"{path}: unreadable JSON ({error})") from error


def map_weights(foreign: Mapping[str, Tensor], table: NameTable, layer_table: NameTable, depth: int) -> tuple[dict[str, Tensor], set[str]]:
    """Apply a name table: returns (sciformer state dict, foreign names used). Absent names are skipped."""
    mapped: dict[str, Tensor] = {}
    used: set[str] = set()
    rows = list(table.items()) + [(ours.format(i=i), _fill(theirs, i)) for i in range(depth) for ours, theirs in layer_table.items()]
    for ours, theirs in rows:
        names = (theirs,) if isinstance(theirs, str) else theirs
        if not all(name in foreign for name in names):
            continue
        mapped[ours] = torch.cat([foreign[name] for name in names]) if len(names) > 1 else foreign[names[0]]
        used.update(names)
    return mapped, used


def _fill(names: str | tuple[str, ...], layer: int) -> str | tuple[str, ...]:
    return names.format(i=layer) if isinstance(names, str) else tuple(n.format(i=layer) for n in names)


def write_model(config: ModelConfig, state: dict[str, Tensor], out: Path, source: Path, format_name: str) -> Path:
    """Build the model of `config`, load `state` strictly (float32) and save a checkpoint at `out`."""
    host = PluginHost()
    model: SciformerModel = build_model(config, host)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise InputFileError(f"{source}: weights do not fill the model (missing {missing[:6]}, unexpected {unexpected[:6]})")
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(own[name].shape):
            raise InputFileError(f"{source}: {name} has shape {tuple(tensor.shape)}, the model needs {tuple(own[name].shape)}")
    model.load_state_dict({name: tensor.float() for name, tensor in state.items()}, strict=True)
    log.info("imported %s weights from %s (%d tensors)", format_name, source, len(state))
    return save_checkpoint(model, out, host, extra={"imported_from": str(source), "import_format": format_name})
