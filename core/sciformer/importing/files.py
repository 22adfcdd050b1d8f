"""Reading foreign weight files without unpickling code: safetensors, or torch.load(weights_only=True)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import Tensor

from sciformer.errors import InputFileError

#: File names a model folder keeps its weights under, in order of preference.
WEIGHT_FILES = ("model.safetensors.index.json", "model.safetensors", "pytorch_model.bin", "model.pth", "pytorch_model.pth")
#: Suffixes of a lone weights file in a folder.
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt", ".tar", ".ckpt")
#: Keys a training checkpoint nests its state dict under, looked for in this order.
WRAPPERS = ("model_state", "state_dict", "model", "model_ema")
DDP_PREFIX = "module."


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from `path`, or an InputFileError naming the file."""
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InputFileError(f"{path}: unreadable JSON ({error})") from error
    if not isinstance(value, dict):
        raise InputFileError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def read_model_config(folder: Path, format_name: str) -> dict[str, Any]:
    """The config.json of a transformers model directory, or an InputFileError saying that `format_name` needs one."""
    folder = Path(folder)
    if not folder.is_dir() or not (folder / "config.json").is_file():
        raise InputFileError(f"{folder}: {format_name} needs a transformers model directory with config.json and weights")
    return read_json(folder / "config.json")


def load_safely(path: Path, allowed: Iterable[type] = ()) -> Any:
    """`torch.load(weights_only=True)` of `path`: tensors and plain containers only, plus the `allowed` classes."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: file not found")
    try:
        with torch.serialization.safe_globals(list(allowed)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # the weights-only unpickler refuses code; corrupt files raise several types
        raise InputFileError(f"{path}: not a loadable state dict; torch.load(weights_only=True) refused it ({type(error).__name__}: {error})") from error


def read_state_dict(path: Path, allowed: Iterable[type] = ()) -> dict[str, Tensor]:
    """The tensors of a .safetensors file, a sharded safetensors index, or a torch file read with `load_safely`.

    A training checkpoint's state dict nested under one of WRAPPERS is taken out, and DDP's `module.`
    prefixes are removed.
    """
    path = Path(path)
    if path.name.endswith(".safetensors.index.json"):
        shards = sorted(set(read_json(path).get("weight_map", {}).values()))
        return {name: tensor for shard in shards for name, tensor in _read_safetensors(path.parent / shard).items()}
    if path.suffix == ".safetensors":
        return _read_safetensors(path)
    state = load_safely(path, allowed)
    while isinstance(state, Mapping) and (wrapper := next((k for k in WRAPPERS if isinstance(state.get(k), Mapping)), None)):
        state = state[wrapper]
    if not isinstance(state, Mapping) or not all(isinstance(value, Tensor) for value in state.values()):
        raise InputFileError(f"{path}: expected a state dict of tensors (or a checkpoint holding one under {'/'.join(WRAPPERS)})")
    return {name.removeprefix(DDP_PREFIX): tensor for name, tensor in state.items()}


def _read_safetensors(path: Path) -> dict[str, Tensor]:
    try:
        return load_file(str(path))
    except Exception as error:  # missing, truncated or not safetensors at all
        raise InputFileError(f"{path}: not a readable safetensors file ({type(error).__name__}: {error})") from error


def find_weights(folder: Path) -> Path:
    """The weights file of a model folder: a WEIGHT_FILES name, else the folder's only file with a WEIGHT_SUFFIXES suffix."""
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    candidates = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in WEIGHT_SUFFIXES)
    if len(candidates) != 1:
        found = [p.name for p in candidates]
        raise InputFileError(f"{folder}: expected one weights file ({', '.join(WEIGHT_FILES[1:])} or one *{'/*'.join(WEIGHT_SUFFIXES)}), found {found}")
    return candidates[0]
