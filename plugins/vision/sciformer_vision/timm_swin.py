"""Import of timm SwinTransformer state dicts into sciformer checkpoints (the same Swin V1 as `hf-swin`).

The source is a `.safetensors` / `.pth` file, or a folder holding one and optionally timm's `config.json`
(`pretrained_cfg`: input size, crop_pct, interpolation, mean, std; `model_args`; `label_names`). Shapes give
width, stage depths, heads per stage (the relative position tables' columns), window, patch size, channels
and MLP width. timm's `layers.{s}.downsample` merges the tokens at the start of stage s >= 1; it becomes
sciformer's `downsamples.{s-1}` after stage s - 1. Checkpoints in the original Swin layout (merging at the end
of a stage, `layers.0.downsample`, `head.weight`) map directly. The head `head.fc` is timm's average pool
then a linear layer, as sciformer's mean pooling and head.

Windows: sciformer clamps a window to a grid no larger than it (one unshifted window), as timm's default
`always_partition=False` does on square grids; `always_partition=True` and `global_pool` other than 'avg' are
refused. Grids that are not whole windows are padded before the cyclic shift, as in transformers, where timm
shifts first; and timm fixes its windows for `img_size` where sciformer clamps per input. Outputs therefore match
timm at the size the model was built for when every stage's grid is a multiple of the window or no larger than
it (Swin-T/S/B at 224 with window 7, at 384 with window 12); `strict_img_size` does not change the weights.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sciformer.config import ModelConfig
from sciformer.errors import InputFileError
from sciformer.importing import NameTable, find_weights, read_json, read_options, read_state_dict, refuse_unused, write_checkpoint
from sciformer.plugins import PluginHost
from torch import Tensor

from .geometry import WINDOW
from .relative_positions import table_window
from .timm_vit import eval_preprocessing

FORMAT = "timm-swin"
TABLE_NAME = "relative_position_bias_table"
# sciformer name <- timm name
EMBEDDINGS = {
    "embedder.patch_embedding.weight": "patch_embed.proj.weight",
    "embedder.patch_embedding.bias": "patch_embed.proj.bias",
    "embedder.norm.weight": "patch_embed.norm.weight",
    "embedder.norm.bias": "patch_embed.norm.bias",
    "final_norm.weight": "norm.weight",
    "final_norm.bias": "norm.bias",
}
# {i}: our block, {b}: timm's `layers.{s}.blocks.{j}`, {p}: weight or bias
BLOCK = {
    "blocks.{i}.norm1.{p}": "{b}.norm1.{p}",
    "blocks.{i}.mixer.qkv.{p}": "{b}.attn.qkv.{p}",
    "blocks.{i}.mixer.out.{p}": "{b}.attn.proj.{p}",
    f"blocks.{{i}}.mixer.{TABLE_NAME}": f"{{b}}.attn.{TABLE_NAME}",
    "blocks.{i}.norm2.{p}": "{b}.norm2.{p}",
    "blocks.{i}.mlp.fc1.{p}": "{b}.mlp.fc1.{p}",
    "blocks.{i}.mlp.fc2.{p}": "{b}.mlp.fc2.{p}",
}
DOWNSAMPLE = ("norm.weight", "norm.bias", "reduction.weight")
DROPPED = ("*relative_position_index", "*attn_mask")  # non-persistent buffers older checkpoints saved
# timm's Swin pretrained_cfg defaults (swin_transformer._cfg): ImageNet mean / std, crop 0.9, bicubic, 224 px.
DEFAULT_PRETRAINED = {
    "input_size": [3, 224, 224], "crop_pct": 0.9, "interpolation": "bicubic", "crop_mode": "center",
    "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
}


def import_timm_swin(source: Path, out: Path, host: PluginHost, options: Mapping[str, str]) -> Path:
    """Convert a timm Swin state dict (file, or folder with config.json) at `source` into a checkpoint at `out`."""
    read_options(FORMAT, options, {})
    source = Path(source)
    weights = find_weights(source) if source.is_dir() else source
    meta = read_json(source / "config.json") if source.is_dir() and (source / "config.json").is_file() else {}
    foreign = read_state_dict(weights)
    original = "layers.0.downsample.reduction.weight" in foreign  # the original layout: merging ends a stage
    config = timm_swin_config(foreign, meta, weights, head_name(original))
    table = name_table(config, original)
    state, used = table.apply(foreign, config.depth)
    refuse_unused(foreign, used, weights, DROPPED)
    return write_checkpoint(config, state, out, host, source, FORMAT, origins=table.origins(config.depth))


def name_table(config: ModelConfig, original: bool) -> NameTable:
    """Every row of a Swin with `config.stage_depths` in timm's layout, or the original one (`original`: merging ends a stage)."""
    rows: dict[str, str] = dict(EMBEDDINGS)
    rows |= {f"head.linear.{p}": f"{head_name(original)}.{p}" for p in ("weight", "bias")}
    layer = 0
    for stage, (_, _, depth) in enumerate(config.stages):
        for index in range(depth):
            where = f"layers.{stage}.blocks.{index}"
            for ours, theirs in BLOCK.items():
                for part in ("weight", "bias") if "{p}" in ours else ("",):
                    rows[ours.format(i=layer, p=part)] = theirs.format(b=where, p=part)
            layer += 1
        if stage < len(config.stages) - 1:
            merging = f"layers.{stage if original else stage + 1}.downsample"
            rows |= {f"downsamples.{stage}.{name}": f"{merging}.{name}" for name in DOWNSAMPLE}
    return NameTable(rows)


def head_name(original: bool) -> str:
    """The classifier's module: `head` in the original layout, `head.fc` (timm's ClassifierHead) in timm's."""
    return "head" if original else "head.fc"


def timm_swin_config(foreign: dict[str, Tensor], meta: dict[str, Any], source: Path, head: str) -> ModelConfig:
    """The sciformer configuration a timm Swin state dict (and optional timm config.json) describes; `head`: the classifier's module."""
    args = meta.get("model_args") or {}
    if args.get("always_partition"):
        raise InputFileError(f"{source}: model_args.always_partition=True (windows never clamped to the grid) is not supported")
    if args.get("global_pool", "avg") != "avg" and (f"{head}.weight" in foreign or args["global_pool"] != ""):
        raise InputFileError(f"{source}: model_args.global_pool={args['global_pool']!r} is not supported (only 'avg', sciformer's mean pooling)")
    proj = required(foreign, "patch_embed.proj.weight", source)  # (D, C, p, p)
    if proj.dim() != 4 or proj.shape[2] != proj.shape[3]:
        raise InputFileError(f"{source}: patch_embed.proj.weight of shape {tuple(proj.shape)} is not a square-patch convolution")
    required(foreign, "patch_embed.norm.weight", source)
    blocks = sorted({(int(m.group(1)), int(m.group(2))) for n in foreign if (m := re.match(r"layers\.(\d+)\.blocks\.(\d+)\.norm1\.weight$", n))})
    stages = 1 + max((s for s, _ in blocks), default=-1)
    depths = [sum(1 for s, _ in blocks if s == stage) for stage in range(stages)]
    if not stages or 0 in depths:
        raise InputFileError(f"{source}: no layers.{{s}}.blocks.{{b}}.norm1.weight for every stage; not a timm SwinTransformer state dict")
    tables = [required(foreign, f"layers.{s}.blocks.0.attn.{TABLE_NAME}", source) for s in range(stages)]
    window = window_of(f"layers.0.blocks.0.attn.{TABLE_NAME}", tables[0], source)
    for name in (f"layers.{s}.blocks.{b}.attn.{TABLE_NAME}" for s, b in blocks):
        if window_of(name, required(foreign, name, source), source) != window:
            raise InputFileError(f"{source}: {name} is made for window {table_window(foreign[name])}, not {window}; one window for all stages is supported")
    dim, channels, patch = int(proj.shape[0]), int(proj.shape[1]), int(proj.shape[2])
    for stage in range(stages):
        name = f"layers.{stage}.blocks.0.attn.qkv.weight"
        if required(foreign, name, source).shape[0] != 3 * dim * 2**stage:
            raise InputFileError(f"{source}: {name} of shape {tuple(foreign[name].shape)}: not the stage width {dim * 2**stage} x 3 (timm's head_dim, or widths that do not double)")
    pretrained = {**DEFAULT_PRETRAINED, **(meta.get("pretrained_cfg") or {})}
    image_size = [int(v) for v in pretrained["input_size"][1:]]
    values: dict[str, Any] = {
        "domain": "vision",
        "dim": dim,
        "depth": sum(depths),
        "heads": int(tables[0].shape[1]),
        "stage_depths": depths,
        "stage_heads": [int(t.shape[1]) for t in tables],
        "mlp_ratio": required(foreign, "layers.0.blocks.0.mlp.fc1.weight", source).shape[0] / dim,
        "norm": "pre",
        "norm_eps": 1e-5,  # timm's Swin: nn.LayerNorm's default everywhere
        "final_norm": True,
        "activation": "gelu",
        "qkv_bias": "layers.0.blocks.0.attn.qkv.bias" in foreign,
        "position": "none",
        "pooling": "mean",
        "domain_options": {"patch_size": patch, "image_size": image_size, "channels": channels, WINDOW: window, **eval_preprocessing(pretrained, image_size, channels)},
    }
    if f"{head}.weight" in foreign:
        count = int(foreign[f"{head}.weight"].shape[0])
        values.update(task="sequence-classification", num_labels=count)
        names = meta.get("label_names") or pretrained.get("label_names")
        if names and len(names) == count:
            values["labels"] = [str(n) for n in names]
    return ModelConfig.from_dict(values)


def required(foreign: dict[str, Tensor], name: str, source: Path) -> Tensor:
    """The tensor `name`, or an InputFileError naming it."""
    if name not in foreign:
        raise InputFileError(f"{source}: {name} is missing; not a timm SwinTransformer state dict")
    return foreign[name]


def window_of(name: str, table: Tensor, source: Path) -> int:
    """The square window a relative position table was made for, or an InputFileError naming the tensor."""
    try:
        return table_window(table)
    except ValueError as error:
        raise InputFileError(f"{source}: {name}: {error} (non-square windows are not supported)") from error
