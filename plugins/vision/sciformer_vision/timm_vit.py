"""Import of timm VisionTransformer state dicts into sciformer checkpoints.

The source is a `.safetensors` / `.pth` file, or a folder holding one and optionally timm's
`config.json` (architecture, `pretrained_cfg` with input size, crop_pct, interpolation, mean, std).
Shapes give width, depth, patch size, channels and MLP width; the head count, which weights do not
show, comes from the `heads=N` option, else `model_args.num_heads`, else the architecture's size name,
else width / 64 (every standard timm ViT). LayerScale (`ls1`, `ls2`) is folded exactly into the output projections;
q-k norms (`qk_norm`), the attention-output norm (`scale_attn_norm`) and the MLP norm (`scale_mlp_norm`)
become the engine's `qk_norm`, `attention_norm` and `mlp_norm`. Class-token ViTs with global_pool='token'
are supported; register tokens, fc_norm / average pooling and attention pooling are refused with the
names that show them.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from sciformer.config import ModelConfig
from sciformer.errors import InputFileError
from sciformer.importing import NameTable, find_weights, read_json, read_options, read_state_dict, refuse_unused, write_checkpoint
from sciformer.importing.names import weights_and_biases
from sciformer.plugins import PluginHost
from torch import Tensor

log = logging.getLogger(__name__)

FORMAT = "timm-vit"

# sciformer name                    <- name in timm's VisionTransformer state dict
EMBEDDINGS = {
    "embedder.cls_token": "cls_token",
    "embedder.position_embedding": "pos_embed",
    "embedder.patch_embedding.weight": "patch_embed.proj.weight",
    "embedder.patch_embedding.bias": "patch_embed.proj.bias",
    "final_norm.weight": "norm.weight",
    "final_norm.bias": "norm.bias",
    "head.linear.weight": "head.weight",
    "head.linear.bias": "head.bias",
}
# Inside `blocks.{i}`: sciformer module <- timm module (a row for the weight and one for the bias of each).
BLOCK = {
    "norm1": "norm1",
    "mixer.qkv": "attn.qkv",
    "mixer.out": "attn.proj",
    "norm2": "norm2",
    "mlp.fc1": "mlp.fc1",
    "mlp.fc2": "mlp.fc2",
}
# The optional norms inside a block.
INNER_NORMS = {"mixer.q_norm": "attn.q_norm", "mixer.k_norm": "attn.k_norm", "mixer.out_norm": "attn.norm", "mlp.norm": "mlp.norm"}
LAYERS = weights_and_biases({f"blocks.{{i}}.{ours}": f"blocks.{{i}}.{theirs}" for ours, theirs in (BLOCK | INNER_NORMS).items()})
TABLE = NameTable(EMBEDDINGS | LAYERS)
# sciformer projection               <- timm LayerScale folded into it: gamma * (W x + b)
LAYER_SCALE = {"blocks.{i}.mixer.out": "blocks.{i}.ls1.gamma", "blocks.{i}.mlp.fc2": "blocks.{i}.ls2.gamma"}
# Biases timm leaves out with proj_bias=False / patch_bias=False; they are zero here.
ZERO_WHEN_ABSENT = ("embedder.patch_embedding.bias", "blocks.{i}.mixer.out.bias", "blocks.{i}.mlp.fc1.bias", "blocks.{i}.mlp.fc2.bias")
UNSUPPORTED = {
    "reg_token": "register tokens",
    "fc_norm": "average pooling with fc_norm",
    "norm_pre": "a pre-norm before the blocks (CLIP-style)",
    "attn_pool": "attention pooling",
    "dist_token": "a distillation token (DeiT)",
    "head_dist": "a distillation head (DeiT)",
    "pre_logits": "a pre-logits layer",
}
SIZE_HEADS = {"tiny": 3, "small": 6, "medium": 8, "base": 12, "large": 16, "huge": 16, "giant": 16, "gigantic": 16}
# timm's ViT pretrained_cfg defaults (vision_transformer._cfg): inception mean / std, crop 0.9, bicubic.
DEFAULT_PRETRAINED = {"crop_pct": 0.9, "interpolation": "bicubic", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "crop_mode": "center"}
RESAMPLE = ("bilinear", "bicubic", "nearest")
OPTIONS = {"heads": int}  # the head count, which the weights do not show


def import_timm_vit(source: Path, out: Path, host: PluginHost, options: Mapping[str, str]) -> Path:
    """Convert a timm ViT state dict (file, or folder with config.json) at `source` into a checkpoint at `out`.

    Option `heads=N` gives the head count (else config.json's, else guessed from the name or width)."""
    settings = read_options(FORMAT, options, OPTIONS)
    source = Path(source)
    weights = find_weights(source) if source.is_dir() else source
    meta = read_json(source / "config.json") if source.is_dir() and (source / "config.json").is_file() else {}
    foreign = read_state_dict(weights)
    refuse_unsupported(foreign, weights)
    config = timm_config(foreign, meta, settings.get("heads"))
    state, used = TABLE.apply(foreign, config.depth)
    used |= fold_layer_scale(state, foreign, config.depth)
    for template in ZERO_WHEN_ABSENT:
        for name in {template.format(i=i) for i in range(config.depth)}:
            if name not in state:
                weight = state[name.replace(".bias", ".weight")]
                state[name] = weight.new_zeros(weight.shape[0])
    state["embedder.position_embedding"] = with_class_position(state["embedder.position_embedding"], config)
    refuse_unused(foreign, used, weights)
    return write_checkpoint(config, state, out, host, source, FORMAT, origins=TABLE.origins(config.depth))


def refuse_unsupported(foreign: dict[str, Tensor], source: Path) -> None:
    """InputFileError naming the first tensors of an architecture variant sciformer's ViT does not have."""
    for marker, what in UNSUPPORTED.items():
        names = [n for n in foreign if (n.startswith(marker) if not marker.startswith(".") else marker + "." in n)]
        if names:
            raise InputFileError(f"{source}: {what} ({names[0]}) is not supported by sciformer's ViT")
    if "cls_token" not in foreign:
        raise InputFileError(f"{source}: no cls_token; only class-token ViTs (global_pool='token') are supported")


def timm_config(foreign: dict[str, Tensor], meta: dict[str, Any], heads: int | None = None) -> ModelConfig:
    """The sciformer configuration a timm ViT state dict (and optional timm config.json) describes; `heads` when given."""
    dim = foreign["cls_token"].shape[-1]
    depth = len({m.group(1) for n in foreign if (m := re.match(r"blocks\.(\d+)\.norm1\.weight$", n))})
    proj = foreign["patch_embed.proj.weight"]  # (D, C, p, p)
    if proj.dim() != 4 or proj.shape[2] != proj.shape[3]:
        raise InputFileError(f"patch_embed.proj.weight of shape {tuple(proj.shape)} is not a square-patch convolution")
    patch, channels = int(proj.shape[2]), int(proj.shape[1])
    pretrained = {**DEFAULT_PRETRAINED, **(meta.get("pretrained_cfg") or {})}
    positions = foreign["pos_embed"].shape[1]
    grid = math.isqrt(positions - 1) if math.isqrt(positions - 1) ** 2 == positions - 1 else math.isqrt(positions)
    if "input_size" in pretrained:
        image_size = [int(v) for v in pretrained["input_size"][1:]]
    else:
        image_size = [grid * patch, grid * patch]
    values: dict[str, Any] = {
        "domain": "vision",
        "dim": dim,
        "depth": depth,
        "heads": heads or head_count(dim, meta),
        "mlp_ratio": foreign["blocks.0.mlp.fc1.weight"].shape[0] / dim,
        "norm": "pre",
        "norm_eps": 1e-6,  # timm ViTs: partial(nn.LayerNorm, eps=1e-6)
        "final_norm": True,
        "activation": "gelu",
        "qkv_bias": "blocks.0.attn.qkv.bias" in foreign,
        "qk_norm": "blocks.0.attn.q_norm.weight" in foreign,
        "attention_norm": "blocks.0.attn.norm.weight" in foreign,
        "mlp_norm": "blocks.0.mlp.norm.weight" in foreign,
        "position": "learned",
        "pooling": "cls",
        "domain_options": {"patch_size": patch, "image_size": image_size, "channels": channels, "position_antialias": True, **eval_preprocessing(pretrained, image_size, channels)},
    }
    if "head.weight" in foreign:
        count = int(foreign["head.weight"].shape[0])
        values.update(task="sequence-classification", num_labels=count)
        names = meta.get("label_names") or pretrained.get("label_names")
        if names and len(names) == count:
            values["labels"] = [str(n) for n in names]
    return ModelConfig.from_dict(values)


def head_count(dim: int, meta: dict[str, Any]) -> int:
    """Heads from config.json's model_args, else the architecture's size name, else dim / 64."""
    declared = (meta.get("model_args") or {}).get("num_heads")
    if declared:
        return int(declared)
    match = re.match(r"vit_([a-z]+)_", str(meta.get("architecture", "")))
    if match and match.group(1) in SIZE_HEADS:
        return SIZE_HEADS[match.group(1)]
    heads = max(1, dim // 64)
    log.warning("timm ViT head count not given (config.json model_args.num_heads); assuming %d (width %d / 64)", heads, dim)
    return heads


def eval_preprocessing(pretrained: dict[str, Any], image_size: list[int], channels: int) -> dict[str, Any]:
    """timm's evaluation transform: resize to size / crop_pct (shorter side when square), centre crop, normalise."""
    crop_pct = float(pretrained.get("crop_pct") or 1.0)
    scaled = [math.floor(v / crop_pct) for v in image_size]
    squash = pretrained.get("crop_mode", "center") == "squash"
    resize: int | list[int] = scaled[0] if scaled[0] == scaled[1] and not squash else scaled
    interpolation = pretrained.get("interpolation", "bicubic")
    mean = [float(v) for v in pretrained.get("mean", [0.5] * channels)]
    std = [float(v) for v in pretrained.get("std", [0.5] * channels)]
    if len(mean) != channels:  # timm keeps RGB statistics for grey models built with in_chans=1
        mean, std = [sum(mean) / len(mean)] * channels, [sum(std) / len(std)] * channels
    return {
        "resize": resize,
        "crop": list(image_size),
        "resample": interpolation if interpolation in RESAMPLE else "bicubic",
        "rescale": None,  # timm's ToTensor: uint8 / 255
        "mean": mean,
        "std": std,
    }


def fold_layer_scale(state: dict[str, Tensor], foreign: dict[str, Tensor], depth: int) -> set[str]:
    """Multiply LayerScale gammas into the projection before them (exact); returns the names folded."""
    used = set()
    for i in range(depth):
        for ours, gamma_name in LAYER_SCALE.items():
            gamma_name = gamma_name.format(i=i)
            if gamma_name not in foreign:
                continue
            gamma = foreign[gamma_name].float()
            prefix = ours.format(i=i)
            state[f"{prefix}.weight"] = state[f"{prefix}.weight"].float() * gamma[:, None]
            if f"{prefix}.bias" in state:
                state[f"{prefix}.bias"] = state[f"{prefix}.bias"].float() * gamma
            else:
                state[f"{prefix}.bias"] = torch.zeros_like(gamma)
            used.add(gamma_name)
    return used


def with_class_position(table: Tensor, config: ModelConfig) -> Tensor:
    """timm's pos_embed with a zero [CLS] entry prepended when it has none (no_embed_class models)."""
    grid = [v // config.option("patch_size") for v in config.option("image_size")]
    patches = grid[0] * grid[1]
    if table.shape[1] == patches + 1:
        return table
    if table.shape[1] == patches:
        return torch.cat([table.new_zeros(1, 1, table.shape[-1]), table], dim=1)
    raise InputFileError(f"pos_embed has {table.shape[1]} entries; a {grid[0]}x{grid[1]} grid needs {patches} or {patches + 1}")
