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

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sciformer.config import ModelConfig
from sciformer.errors import InputFileError
from sciformer.importing import NameTable, find_weights, read_json, read_options, read_state_dict, refuse_unused, write_checkpoint
from sciformer.importing.names import weights_and_biases
from sciformer.plugins import PluginHost
from torch import Tensor

from .options import DOMAIN, TASK

log = logging.getLogger(__name__)

FORMAT = "afno"
SETTINGS_FILE = "afno.json"
SETTINGS_KEYS = ("img_size", "channels", "mean", "std", "latitudes", "longitudes", "sparsity_threshold", "hard_thresholding_fraction", "step", "norm_eps")
FOURCASTNET_NORM_EPS = 1e-6  # FourCastNet builds its LayerNorms with eps 1e-6

#: sciformer name <- FourCastNet name (`weights_and_biases`: a row for the weight and one for the bias); `{i}` is a block index.
TABLE = NameTable(
    {
        "embedder.proj.weight": "patch_embed.proj.weight",
        "embedder.proj.bias": "patch_embed.proj.bias",
        "embedder.pos_embed": "pos_embed",
        **weights_and_biases({"blocks.{i}.norm1": "blocks.{i}.norm1"}),
        "blocks.{i}.mixer.w1": "blocks.{i}.filter.w1",
        "blocks.{i}.mixer.b1": "blocks.{i}.filter.b1",
        "blocks.{i}.mixer.w2": "blocks.{i}.filter.w2",
        "blocks.{i}.mixer.b2": "blocks.{i}.filter.b2",
        **weights_and_biases({module: module for module in ("blocks.{i}.norm2", "blocks.{i}.mlp.fc1", "blocks.{i}.mlp.fc2")}),
        "head.linear.weight": "head.weight",
    }
)
#: FourCastNet tensors with no counterpart: the final `norm` is defined but never applied in its forward.
UNUSED = ("norm.weight", "norm.bias")


def _locate(source: Path) -> tuple[Path, dict[str, Any]]:
    """The weights file and the settings of SOURCE (a file or a folder)."""
    weights = find_weights(source) if source.is_dir() else source
    settings = read_json(weights.parent / SETTINGS_FILE) if (weights.parent / SETTINGS_FILE).is_file() else {}
    unknown = sorted(set(settings) - set(SETTINGS_KEYS))
    if unknown:
        raise InputFileError(f"{weights.parent / SETTINGS_FILE}: unknown key(s) {unknown}; known: {list(SETTINGS_KEYS)}")
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


def import_afno(source: Path, out: Path, host: PluginHost, options: Mapping[str, str]) -> Path:
    """Write a sciformer checkpoint at `out` from FourCastNet / AFNO weights at `source` (no options)."""
    read_options(FORMAT, options, {})
    weights, settings = _locate(Path(source))
    state = read_state_dict(weights)
    config = afno_config(state, settings)
    converted, used = TABLE.apply(state, config.depth)
    refuse_unused(state, used, weights, UNUSED)
    return write_checkpoint(config, converted, out, host, weights, FORMAT, origins=TABLE.origins(config.depth))
