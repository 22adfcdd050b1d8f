"""Import of transformers `PatchTSTForPrediction` directories (config.json + safetensors) into sciformer checkpoints.

The mapping: PatchTST's scaler -> the embedder's instance normalisation (`scaling`, `minimum_scale`);
patchify -> `patch_length` / `patch_stride`, patches from the end of the context; the patch embedding
(shared or per channel), position table (`sincos` -> `sinusoidal`, `random` -> `learned`, copied
as stored) and CLS token -> the embedder; each encoder layer -> an engine block with channel-folded
attention (fused q, k, v), `norm_sublayer1` / `norm_sublayer3` as norm1 / norm2 (`batchnorm` or
`layernorm`), `pre_norm` -> `norm: pre` else `post`, and no final norm; the prediction head (flatten, or
`pooling_type` mean / max, or the CLS token; shared or per channel) -> the forecasting head. Feed-forward
biases a `bias: false` model lacks are zero. Refused: `channel_attention`, a distribution head (`loss` other than
mse), `scaling_dim` other than 1 and `keepdim: false`. `do_mask_input` is ignored, as PatchTSTForPrediction
turns it off. The checkpoint keeps `context` and `horizon` as reader options of the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from sciformer.config import ModelConfig
from sciformer.errors import InputFileError
from sciformer.importing import (
    NameTable,
    find_weights,
    read_model_config,
    read_options,
    read_state_dict,
    refuse_unused,
    write_checkpoint,
)
from sciformer.plugins import PluginHost
from sciformer.reader_options import MODEL_OPTIONS

from .options import DOMAIN, TASK

FORMAT = "hf-patchtst"
ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu"}
SCALINGS = {"std": "std", "mean": "mean", True: "mean", None: "none", False: "none"}
POSITIONS = {"sincos": "sinusoidal", "random": "learned"}
NORM_TYPES = ("batchnorm", "layernorm")
NORM_TENSORS = {
    "batchnorm": ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"),
    "layernorm": ("weight", "bias"),
}
LAYER = "model.encoder.layers.{i}."


def layer_rows(norm_type: str, bias: bool) -> dict[str, str | tuple[str, ...]]:
    """Name-table rows of one encoder layer; attention always has biases (transformers' PatchTSTAttention
    ignores `bias`), the feed-forward only with `bias`."""
    inner = "batchnorm." if norm_type == "batchnorm" else ""
    rows: dict[str, str | tuple[str, ...]] = {
        "blocks.{i}.mixer.qkv.weight": tuple(f"{LAYER}self_attn.{p}_proj.weight" for p in "qkv"),
        "blocks.{i}.mixer.qkv.bias": tuple(f"{LAYER}self_attn.{p}_proj.bias" for p in "qkv"),
        "blocks.{i}.mixer.out.weight": f"{LAYER}self_attn.out_proj.weight",
        "blocks.{i}.mixer.out.bias": f"{LAYER}self_attn.out_proj.bias",
        "blocks.{i}.mlp.fc1.weight": f"{LAYER}ff.0.weight",
        "blocks.{i}.mlp.fc2.weight": f"{LAYER}ff.3.weight",
    }
    if bias:
        rows.update({"blocks.{i}.mlp.fc1.bias": f"{LAYER}ff.0.bias", "blocks.{i}.mlp.fc2.bias": f"{LAYER}ff.3.bias"})
    for ours, theirs in (("norm1", "norm_sublayer1"), ("norm2", "norm_sublayer3")):
        rows.update({f"blocks.{{i}}.{ours}.{name}": f"{LAYER}{theirs}.{inner}{name}" for name in NORM_TENSORS[norm_type]})
    return rows


def embedding_rows(hf: Mapping[str, Any]) -> dict[str, str]:
    """Name-table rows of the patch embedding, positions, CLS token and prediction head."""
    rows = {"embedder.position_enc": "model.encoder.positional_encoder.position_enc"}
    channels = range(int(hf.get("num_input_channels", 1)))
    for kind in ("weight", "bias"):
        if hf.get("share_embedding", True):
            rows[f"embedder.projection.{kind}"] = f"model.encoder.embedder.input_embedding.{kind}"
        else:
            rows.update(
                {f"embedder.projections.{c}.{kind}": f"model.encoder.embedder.input_embedding.{c}.{kind}" for c in channels}
            )
        if hf.get("share_projection", True):
            rows[f"head.projection.{kind}"] = f"head.projection.{kind}"
        else:
            rows.update({f"head.projections.{c}.{kind}": f"head.projections.{c}.{kind}" for c in channels})
    if hf.get("use_cls_token", False):
        rows["embedder.cls_token"] = "model.encoder.positional_encoder.cls_token"
    return rows


def check_supported(hf: Mapping[str, Any]) -> None:
    """InputFileError for PatchTST settings sciformer does not reproduce."""
    if hf.get("model_type", "patchtst") != "patchtst":
        raise InputFileError(f"model_type {hf.get('model_type')!r} is not PatchTST (expected 'patchtst')")
    problems = {
        "channel_attention": hf.get("channel_attention", False),
        "loss (a distribution head)": hf.get("loss", "mse") != "mse",
        "scaling_dim": hf.get("scaling_dim", 1) != 1,
        "keepdim": hf.get("keepdim", True) is not True,
        "norm_type": hf.get("norm_type", "batchnorm") not in NORM_TYPES,
        "positional_encoding_type": hf.get("positional_encoding_type", "sincos") not in POSITIONS,
        "activation_function": hf.get("activation_function", "gelu") not in ACTIVATIONS,
        "scaling": hf.get("scaling", "std") not in SCALINGS,
        "pooling_type": hf.get("pooling_type", "mean") not in ("mean", "max", None),
    }
    refused = [name for name, bad in problems.items() if bad]
    if refused:
        raise InputFileError(f"PatchTST setting(s) {refused} have no sciformer equivalent")


def patchtst_config(hf: Mapping[str, Any]) -> ModelConfig:
    """The sciformer configuration of a transformers PatchTSTConfig dictionary."""
    check_supported(hf)
    dim = int(hf.get("d_model", 128))
    scaling = SCALINGS[hf.get("scaling", "std")]
    cls_token = bool(hf.get("use_cls_token", False))
    pooling = "cls" if cls_token else (hf.get("pooling_type", "mean") or "flatten")
    options: dict[str, Any] = {
        "context_length": int(hf.get("context_length", 32)),
        "prediction_length": int(hf.get("prediction_length", 24)),
        "num_channels": int(hf.get("num_input_channels", 1)),
        "patch_length": int(hf.get("patch_length", 1)),
        "patch_stride": int(hf.get("patch_stride", 1)),
        "scaling": scaling,
        "cls_token": cls_token,
        "share_embedding": bool(hf.get("share_embedding", True)),
        "share_projection": bool(hf.get("share_projection", True)),
        "head_pooling": pooling,
        "head_dropout": float(hf.get("head_dropout", 0.0)),
    }
    if "minimum_scale" in hf:
        options["minimum_scale"] = float(hf["minimum_scale"])
    return ModelConfig.from_dict(
        {
            "domain": DOMAIN,
            "dim": dim,
            "depth": int(hf.get("num_hidden_layers", 3)),
            "heads": int(hf.get("num_attention_heads", 4)),
            "mlp_ratio": int(hf.get("ffn_dim", 512)) / dim,
            "norm": "pre" if hf.get("pre_norm", True) else "post",
            "norm_eps": float(hf.get("norm_eps", 1e-5)),
            "norm_layer": hf.get("norm_type", "batchnorm"),
            "final_norm": False,
            "activation": ACTIVATIONS[hf.get("activation_function", "gelu")],
            "dropout": max(float(hf.get(key, 0.0)) for key in ("positional_dropout", "path_dropout", "ff_dropout")),
            "attention_dropout": float(hf.get("attention_dropout", 0.0)),
            "position": POSITIONS[hf.get("positional_encoding_type", "sincos")],
            "max_positions": options["num_channels"]
            * ((options["context_length"] - options["patch_length"]) // options["patch_stride"] + 1 + int(cls_token)),
            "task": TASK,
            "domain_options": options,
        }
    )


def zero_biases(config: ModelConfig, state: dict[str, torch.Tensor]) -> None:
    """The feed-forward biases of a `bias: false` PatchTST: zeros (the engine's MLP always has them)."""
    for block in range(config.depth):
        state[f"blocks.{block}.mlp.fc1.bias"] = torch.zeros(config.mlp_dim)
        state[f"blocks.{block}.mlp.fc2.bias"] = torch.zeros(config.dim)


def import_hf_patchtst(source: Path, out: Path, host: PluginHost, options: Mapping[str, str]) -> Path:
    """Convert a transformers PatchTSTForPrediction directory at `source` into a sciformer checkpoint at `out` (no options)."""
    read_options(FORMAT, options, {})
    source = Path(source)
    hf = read_model_config(source, FORMAT)
    config = patchtst_config(hf)
    weights = find_weights(source)
    foreign = read_state_dict(weights)
    bias = bool(hf.get("bias", True))
    table = NameTable(embedding_rows(hf) | layer_rows(config.norm_layer, bias))
    state, used = table.apply(foreign, config.depth)
    refuse_unused(foreign, used, weights)
    if not bias:
        zero_biases(config, state)
    model_options = {"context": config.domain_options["context_length"], "horizon": config.domain_options["prediction_length"]}
    return write_checkpoint(
        config, state, out, host, source, FORMAT, extra={MODEL_OPTIONS: model_options}, origins=table.origins(config.depth)
    )
