"""Import of transformers Swin directories (SwinModel, SwinForImageClassification) into sciformer checkpoints.

The directory holds `config.json`, the weights (published names, `attention.self.query`, or the
module names of transformers >= 5, `attention.q_proj`) and, when present, `preprocessor_config.json`.
Stage s of `depths` becomes `stage_depths[s]` blocks of width `embed_dim * 2**s`; block j of stage s
is sciformer block `sum(depths[:s]) + j`. The option `window_size=N` imports the model for another
window: every relative position table is resized bicubically (relative_positions.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sciformer.config import ModelConfig
from sciformer.errors import InputFileError
from sciformer.importing import NameTable, read_options, refuse_unused, write_checkpoint
from sciformer.plugins import PluginHost

from .geometry import WINDOW
from .hf_vit import (
    encoder_config,
    engine_activation,
    image_geometry,
    preprocessing,
    read_hf_config,
    read_preprocessor,
    read_weights,
)
from .relative_positions import resize_table

FORMAT = "hf-swin"
PREFIX = "swin."  # SwinForImageClassification nests the SwinModel under `swin`
TABLE_NAME = "relative_position_bias_table"

# published name fragment -> module name inside transformers >= 5 (the order matters: attention.output before output)
MODULE_NAMES = (
    ("attention.self.query", "attention.q_proj"),
    ("attention.self.key", "attention.k_proj"),
    ("attention.self.value", "attention.v_proj"),
    ("attention.self.relative_position_bias_table", "attention.relative_position_bias.relative_position_bias_table"),
    ("attention.output.dense", "attention.o_proj"),
    ("intermediate.dense", "mlp.fc1"),
    ("output.dense", "mlp.fc2"),
)
EMBEDDINGS = {
    "embedder.patch_embedding.weight": "embeddings.patch_embeddings.projection.weight",
    "embedder.patch_embedding.bias": "embeddings.patch_embeddings.projection.bias",
    "embedder.norm.weight": "embeddings.norm.weight",
    "embedder.norm.bias": "embeddings.norm.bias",
    "final_norm.weight": "layernorm.weight",
    "final_norm.bias": "layernorm.bias",
    "head.linear.weight": "classifier.weight",
    "head.linear.bias": "classifier.bias",
}
# sciformer name <- transformers module name; {i}: our block, {b}: transformers' stage and block, {p}: weight and bias
BLOCK = {
    "blocks.{i}.norm1.{p}": "{b}.layernorm_before.{p}",
    "blocks.{i}.mixer.qkv.{p}": ("{b}.attention.q_proj.{p}", "{b}.attention.k_proj.{p}", "{b}.attention.v_proj.{p}"),
    "blocks.{i}.mixer.out.{p}": "{b}.attention.o_proj.{p}",
    f"blocks.{{i}}.mixer.{TABLE_NAME}": f"{{b}}.attention.relative_position_bias.{TABLE_NAME}",
    "blocks.{i}.norm2.{p}": "{b}.layernorm_after.{p}",
    "blocks.{i}.mlp.fc1.{p}": "{b}.mlp.fc1.{p}",
    "blocks.{i}.mlp.fc2.{p}": "{b}.mlp.fc2.{p}",
}
DOWNSAMPLE = {
    "downsamples.{s}.norm.weight": "encoder.layers.{s}.downsample.norm.weight",
    "downsamples.{s}.norm.bias": "encoder.layers.{s}.downsample.norm.bias",
    "downsamples.{s}.reduction.weight": "encoder.layers.{s}.downsample.reduction.weight",
}
DROPPED = ("embeddings.mask_token", "*relative_position_index")


def import_hf_swin(source: Path, out: Path, host: PluginHost, options: Mapping[str, str]) -> Path:
    """Convert a transformers Swin directory at `source` into a sciformer checkpoint at `out` (option: window_size)."""
    chosen = read_options(FORMAT, options, {"window_size": int})
    source = Path(source)
    hf = read_swin_config(source, FORMAT, "swin", "a Swin V1")
    weights, foreign = read_weights(source, PREFIX)
    foreign = {module_name(name): tensor for name, tensor in foreign.items()}
    preprocessor = read_preprocessor(source)
    config = swin_config(hf, has_classifier="classifier.weight" in foreign, preprocessor=preprocessor, window=chosen.get("window_size"))
    table = name_table(config)
    state, used = table.apply(foreign, config.depth)
    refuse_unused(foreign, used, weights, DROPPED)
    window = int(config.option(WINDOW))
    state = {name: resize_table(tensor, window) if name.endswith(TABLE_NAME) else tensor for name, tensor in state.items()}
    return write_checkpoint(config, state, out, host, source, FORMAT, origins=table.origins(config.depth))


def read_swin_config(source: Path, format_name: str, model_type: str, kind: str) -> dict[str, Any]:
    """The config.json of a transformers Swin directory (`read_hf_config`); absolute position embeddings are refused."""
    hf = read_hf_config(source, format_name, model_type, kind)
    if hf.get("use_absolute_embeddings", False):
        raise InputFileError(f"{source}: absolute position embeddings (use_absolute_embeddings) are not supported")
    return hf


def module_name(name: str) -> str:
    """A tensor name in the published layout spelled as transformers >= 5 names its module (others unchanged)."""
    for published, module in MODULE_NAMES:
        name = name.replace(published, module)
    return name


def name_table(config: ModelConfig, block: Mapping[str, str | tuple[str, ...]] = BLOCK) -> NameTable:
    """Every row of a Swin with `config.stage_depths`, spelled out per block (`block`'s rows) and per merging step."""
    rows: dict[str, str | tuple[str, ...]] = dict(EMBEDDINGS)
    layer = 0
    for stage, (_, _, depth) in enumerate(config.stages):
        for index in range(depth):
            where = f"encoder.layers.{stage}.blocks.{index}"
            for ours, theirs in block.items():
                names = (theirs,) if isinstance(theirs, str) else theirs
                for part in ("weight", "bias") if "{p}" in ours else ("",):
                    spelled = tuple(n.format(b=where, p=part) for n in names)
                    rows[ours.format(i=layer, p=part)] = spelled[0] if len(spelled) == 1 else spelled
            layer += 1
        if stage < len(config.stages) - 1:
            rows.update({ours.format(s=stage): theirs.format(s=stage) for ours, theirs in DOWNSAMPLE.items()})
    return NameTable(rows)


def swin_config(hf: dict[str, Any], *, has_classifier: bool, preprocessor: dict[str, Any] | None, window: int | None = None) -> ModelConfig:
    """The sciformer configuration of a transformers SwinConfig dictionary (`window` overrides its window size)."""
    activation = engine_activation(hf)
    image_size, patch = image_geometry(hf, default_patch=4)
    depths = [int(v) for v in hf.get("depths", [2, 2, 6, 2])]
    heads = [int(v) for v in hf.get("num_heads", [3, 6, 12, 24])]
    options = {"patch_size": patch, "image_size": image_size, "channels": int(hf.get("num_channels", 3)), WINDOW: int(window or hf.get("window_size", 7))}
    options.update(preprocessing(preprocessor, image_size, options["channels"]))
    values: dict[str, Any] = {
        "dim": int(hf.get("embed_dim", 96)),
        "depth": sum(depths),
        "heads": heads[0],
        "stage_depths": depths,
        "stage_heads": heads,
        "mlp_ratio": float(hf.get("mlp_ratio", 4.0)),
        "position": "none",
        "pooling": "mean",
        "domain_options": options,
    }
    return encoder_config(hf, values, activation=activation, norm_eps=1e-5, has_classifier=has_classifier)
