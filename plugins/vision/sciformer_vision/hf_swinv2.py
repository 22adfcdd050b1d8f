"""Import of transformers Swin V2 directories (Swinv2Model, Swinv2ForImageClassification) into sciformer checkpoints.

A Swin V2 is the Swin of hf_swin.py with the engine's cosine attention form (`logit_scale` per head),
res-post-norm blocks (`layernorm_before` normalises the attention output, `layernorm_after` the MLP's),
the continuous position bias MLP in place of the table and the merging norm after the reduction
(`domain_options.swin_version: 2`). transformers' key projection has no bias: the fused `qkv` bias
takes zeros for the keys. `pretrained_window_sizes` is kept per stage.

The option `window_size=N` imports the model for windows of N x N: the bias MLP takes any window, and
a stage without a pretrained window size gets the one it was trained at, so that its relative
coordinates are normalised as in training (transformers' `pretrained_window_sizes`, the V2 paper's
transfer to larger windows).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from sciformer.config import ModelConfig
from sciformer.importing import read_options, refuse_unused, write_checkpoint
from sciformer.plugins import PluginHost

from .geometry import SWIN_VERSION
from .hf_swin import name_table, read_swin_config, swin_config
from .hf_vit import read_preprocessor, read_weights
from .swin_v2_attention import PRETRAINED_WINDOWS

FORMAT = "hf-swinv2"
PREFIX = "swinv2."  # Swinv2ForImageClassification nests the Swinv2Model under `swinv2`
MLP = "continuous_position_bias_mlp"
# sciformer name <- transformers name; {i}: our block, {b}: transformers' stage and block, {p}: weight and bias
BLOCK = {
    "blocks.{i}.mixer.qkv.{p}": ("{b}.attention.self.query.{p}", "{b}.attention.self.key.{p}", "{b}.attention.self.value.{p}"),
    "blocks.{i}.mixer.logit_scale": "{b}.attention.self.logit_scale",
    f"blocks.{{i}}.mixer.{MLP}.0.{{p}}": f"{{b}}.attention.self.{MLP}.0.{{p}}",
    f"blocks.{{i}}.mixer.{MLP}.2.weight": f"{{b}}.attention.self.{MLP}.2.weight",
    "blocks.{i}.mixer.out.{p}": "{b}.attention.output.dense.{p}",
    "blocks.{i}.norm1.{p}": "{b}.layernorm_before.{p}",
    "blocks.{i}.mlp.fc1.{p}": "{b}.intermediate.dense.{p}",
    "blocks.{i}.mlp.fc2.{p}": "{b}.output.dense.{p}",
    "blocks.{i}.norm2.{p}": "{b}.layernorm_after.{p}",
}
DROPPED = ("embeddings.mask_token", "*relative_position_index", "*relative_coords_table")  # buffers older checkpoints saved


def import_hf_swinv2(source: Path, out: Path, host: PluginHost, options: Mapping[str, str]) -> Path:
    """Convert a transformers Swin V2 directory at `source` into a sciformer checkpoint at `out` (option: window_size)."""
    chosen = read_options(FORMAT, options, {"window_size": int})
    source = Path(source)
    hf = read_swin_config(source, FORMAT, "swinv2", "a Swin V2")
    weights, foreign = read_weights(source, PREFIX)
    foreign = with_key_biases(foreign)
    preprocessor = read_preprocessor(source)
    config = swinv2_config(hf, has_classifier="classifier.weight" in foreign, preprocessor=preprocessor, window=chosen.get("window_size"))
    table = name_table(config, BLOCK)
    state, used = table.apply(foreign, config.depth)
    refuse_unused(foreign, used, weights, DROPPED)
    return write_checkpoint(config, state, out, host, source, FORMAT, origins=table.origins(config.depth))


def with_key_biases(foreign: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors plus a zero `key.bias` beside each `query.bias` (V2's key projection has none)."""
    queries = [name for name in foreign if name.endswith(".query.bias")]
    return {**foreign, **{name.replace(".query.bias", ".key.bias"): torch.zeros_like(foreign[name]) for name in queries}}


def swinv2_config(hf: dict[str, Any], *, has_classifier: bool, preprocessor: dict[str, Any] | None, window: int | None = None) -> ModelConfig:
    """The sciformer configuration of a transformers Swinv2Config dictionary (`window` overrides its window
    size; stages without a pretrained window size then keep the published one as theirs)."""
    base = swin_config(hf, has_classifier=has_classifier, preprocessor=preprocessor, window=window)
    pretrained = [int(v) for v in hf.get("pretrained_window_sizes") or [0] * len(base.stages)][: len(base.stages)]
    published = int(hf.get("window_size", 7))
    if window is not None and window != published:
        pretrained = [size or published for size in pretrained]
    options = {**base.domain_options, SWIN_VERSION: 2, PRETRAINED_WINDOWS: pretrained}
    return base.replace(norm="res-post", attention_form="cosine", domain_options=options)
