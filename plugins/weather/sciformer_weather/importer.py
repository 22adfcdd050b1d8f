"""Import FourCastNet / AFNO backbone weights from a local state dict (`sciformer import afno SOURCE --out DIR`).

SOURCE is a weights file (.pt, .pth, .tar, .ckpt: a state dict, or a FourCastNet training checkpoint
holding one under `model_state`) or a folder with one such file. An optional `afno.json` beside it
gives what the weights cannot say:

    {"img_size": [720, 1440], "channels": ["u10", "v10", ...], "mean": [...], "std": [...],
     "latitudes": [...], "sparsity_threshold": 0.01, "hard_thresholding_fraction": 1.0, "step": 1}

Without `img_size` the patch grid is taken as a global latitude-longitude grid with twice as many
patches along longitude as along latitude (FourCastNet's 720 x 1440). Without `mean` / `std` the model
takes fields already normalised. Files are read with `torch.load(weights_only=True)`: nothing is unpickled.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from sciformer.build import build_model
from sciformer.checkpoint import save_checkpoint
from sciformer.config import ModelConfig
from sciformer.errors import CheckpointError, InputFileError
from sciformer.plugins import PluginHost
from torch import Tensor

from .options import DOMAIN, TASK

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".pt", ".pth", ".tar", ".ckpt")
SETTINGS_FILE = "afno.json"
SETTINGS_KEYS = ("img_size", "channels", "mean", "std", "latitudes", "longitudes", "sparsity_threshold", "hard_thresholding_fraction", "step", "norm_eps")
FOURCASTNET_NORM_EPS = 1e-6  # FourCastNet builds its LayerNorms with eps 1e-6

#: FourCastNet name -> sciformer name, one row per tensor; `{n}` is a block index.
NAME_TABLE: tuple[tuple[str, str], ...] = (
    ("patch_embed.proj.weight", "embedder.proj.weight"),
    ("patch_embed.proj.bias", "embedder.proj.bias"),
    ("pos_embed", "embedder.pos_embed"),
    ("blocks.{n}.norm1.weight", "blocks.{n}.norm1.weight"),
    ("blocks.{n}.norm1.bias", "blocks.{n}.norm1.bias"),
    ("blocks.{n}.filter.w1", "blocks.{n}.mixer.w1"),
    ("blocks.{n}.filter.b1", "blocks.{n}.mixer.b1"),
    ("blocks.{n}.filter.w2", "blocks.{n}.mixer.w2"),
    ("blocks.{n}.filter.b2", "blocks.{n}.mixer.b2"),
    ("blocks.{n}.norm2.weight", "blocks.{n}.norm2.weight"),
    ("blocks.{n}.norm2.bias", "blocks.{n}.norm2.bias"),
    ("blocks.{n}.mlp.fc1.weight", "blocks.{n}.mlp.fc1.weight"),
    ("blocks.{n}.mlp.fc1.bias", "blocks.{n}.mlp.fc1.bias"),
    ("blocks.{n}.mlp.fc2.weight", "blocks.{n}.mlp.fc2.weight"),
    ("blocks.{n}.mlp.fc2.bias", "blocks.{n}.mlp.fc2.bias"),
    ("head.weight", "head.linear.weight"),
)
#: FourCastNet tensors with no counterpart: the final `norm` is defined but never applied in its forward.
UNUSED = ("norm.weight", "norm.bias")


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(template).replace(re.escape("{n}"), r"(?P<n>\d+)") + "$")


_RULES = tuple((_pattern(foreign), ours) for foreign, ours in NAME_TABLE)


def sciformer_name(name: str) -> str | None:
    """Our parameter name for a FourCastNet one, or None when the table has no row for it."""
    for pattern, ours in _RULES:
        match = pattern.match(name)
        if match:
            return ours.format(**match.groupdict())
    return None


def load_state_dict(path: Path) -> dict[str, Tensor]:
    """A FourCastNet state dict from a local file (weights_only), `module.` prefixes of DDP stripped."""
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for foreign or corrupt files
        raise InputFileError(f"{path}: not a loadable state dict ({type(error).__name__}: {error})") from error
    if isinstance(loaded, Mapping):
        for key in ("model_state", "state_dict", "model"):
            if isinstance(loaded.get(key), Mapping):
                loaded = loaded[key]
                break
    if not isinstance(loaded, Mapping) or not all(isinstance(v, Tensor) for v in loaded.values()):
        raise InputFileError(f"{path}: expected a state dict of tensors (or a checkpoint with `model_state`)")
    return {(k.removeprefix("module.")): v for k, v in loaded.items()}


def _locate(source: Path) -> tuple[Path, dict[str, Any]]:
    """The weights file and the settings of SOURCE (a file or a folder)."""
    folder = source if source.is_dir() else source.parent
    if source.is_dir():
        candidates = sorted(p for p in source.iterdir() if p.suffix.lower() in WEIGHT_SUFFIXES)
        if len(candidates) != 1:
            raise InputFileError(f"{source}: expected exactly one weights file ({'/'.join(WEIGHT_SUFFIXES)}), found {[p.name for p in candidates]}")
        weights = candidates[0]
    else:
        weights = source
    settings: dict[str, Any] = {}
    if (folder / SETTINGS_FILE).is_file():
        try:
            settings = json.loads((folder / SETTINGS_FILE).read_text())
        except json.JSONDecodeError as error:
            raise InputFileError(f"{folder / SETTINGS_FILE}: not valid JSON ({error})") from error
        unknown = sorted(set(settings) - set(SETTINGS_KEYS))
        if unknown:
            raise InputFileError(f"{folder / SETTINGS_FILE}: unknown key(s) {unknown}; known: {list(SETTINGS_KEYS)}")
    return weights, settings


def afno_config(state: Mapping[str, Tensor], settings: Mapping[str, Any]) -> ModelConfig:
    """The sciformer configuration that FourCastNet weights (and their settings) describe."""
    required = ("patch_embed.proj.weight", "pos_embed", "head.weight", "blocks.0.filter.w1", "blocks.0.mlp.fc1.weight")
    missing = [k for k in required if k not in state]
    if missing:
        raise InputFileError(f"not an AFNO / FourCastNet state dict: missing {missing} (found e.g. {sorted(state)[:6]})")
    dim, channels, ph, pw = state["patch_embed.proj.weight"].shape
    out_channels = state["head.weight"].shape[0] // (ph * pw)
    if out_channels != channels:
        raise InputFileError(f"the head predicts {out_channels} channels from {channels}; a rollout needs the same channels in and out")
    depth = len({int(k.split(".")[1]) for k in state if k.startswith("blocks.")})
    _, num_blocks, block_size, hidden = state["blocks.0.filter.w1"].shape
    tokens = state["pos_embed"].shape[1]
    if "img_size" in settings:
        grid = [int(v) for v in settings["img_size"]]
    else:
        rows = math.isqrt(tokens // 2)
        if 2 * rows * rows != tokens:
            raise InputFileError(f"cannot infer the grid from {tokens} patches; give img_size [H, W] in {SETTINGS_FILE}")
        grid = [rows * ph, 2 * rows * pw]
    names = settings.get("channels") or [f"c{i}" for i in range(channels)]
    options: dict[str, Any] = {
        "channels": list(names),
        "grid": grid,
        "patch": [int(ph), int(pw)],
        "mean": list(settings.get("mean") or [0.0] * channels),
        "std": list(settings.get("std") or [1.0] * channels),
        "num_blocks": int(num_blocks),
        "hidden_size_factor": int(hidden // block_size),
        "sparsity_threshold": float(settings.get("sparsity_threshold", 0.01)),
        "hard_thresholding_fraction": float(settings.get("hard_thresholding_fraction", 1.0)),
        "step": int(settings.get("step", 1)),
    }
    for key in ("latitudes", "longitudes"):
        if settings.get(key):
            options[key] = list(settings[key])
    config = ModelConfig(
        domain=DOMAIN,
        dim=int(dim),
        depth=depth,
        heads=1,  # unused: AFNO replaces attention
        mlp_ratio=state["blocks.0.mlp.fc1.weight"].shape[0] / dim,
        norm_eps=float(settings.get("norm_eps", FOURCASTNET_NORM_EPS)),
        final_norm=False,
        activation="gelu",
        position="learned",
        task=TASK,
        domain_options=options,
    )
    patches = math.prod(-(-g // p) for g, p in zip(grid, (ph, pw)))
    if patches != tokens:
        raise InputFileError(f"grid {grid} with patch {ph}x{pw} gives {patches} patches, but pos_embed has {tokens}")
    return config


def convert_state_dict(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Rename FourCastNet tensors to ours by NAME_TABLE; unknown names are an error, UNUSED ones are dropped."""
    converted, unknown = {}, []
    for name, tensor in state.items():
        if name in UNUSED:
            continue
        ours = sciformer_name(name)
        if ours is None:
            unknown.append(name)
        else:
            converted[ours] = tensor
    if unknown:
        raise InputFileError(f"state dict has tensors the AFNO mapping does not know: {sorted(unknown)[:8]}")
    return converted


def import_afno(source: Path, out: Path) -> Path:
    """Write a sciformer checkpoint at `out` from FourCastNet / AFNO weights at `source`."""
    weights, settings = _locate(Path(source))
    state = load_state_dict(weights)
    config = afno_config(state, settings)
    host = PluginHost()
    model = build_model(config, host)
    converted = convert_state_dict(state)
    own = model.state_dict()
    missing = sorted(set(own) - set(converted))
    mismatched = {k: (tuple(v.shape), tuple(own[k].shape)) for k, v in converted.items() if k in own and v.shape != own[k].shape}
    if missing or mismatched:
        raise CheckpointError(f"{weights}: weights do not fit the model (missing {missing[:6]}, shape mismatches {dict(list(mismatched.items())[:4])})")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in converted.items()}, strict=True)
    log.info("imported %d tensors from %s (depth %d, dim %d)", len(converted), weights, config.depth, config.dim)
    return save_checkpoint(model, out, host, extra={"imported_from": str(weights), "import_format": "afno"})
