"""Import of `transformers` Audio Spectrogram Transformer directories (`sciformer import hf-ast DIR --out OUT`).

A directory holds `config.json` (ASTConfig), `model.safetensors` or `pytorch_model.bin` (read with
`weights_only=True`, never unpickling code) and optionally `preprocessor_config.json`
(ASTFeatureExtractor: sampling rate, normalisation mean and std). Both weight layouts are read: the
one of published checkpoints (transformers 4: `encoder.layer.N.attention.attention.query`) and the one
transformers 5 writes (`layers.N.attention.q_proj`). The tables below map each to our names.
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
from sciformer.errors import CheckpointError, InputFileError
from sciformer.plugins import PluginHost
from torch import Tensor

from sciformer_audio.settings import AudioSettings

log = logging.getLogger(__name__)

DOMAIN = "audio"
PREFIXES = ("audio_spectrogram_transformer.",)  # ASTForAudioClassification nests the encoder under this

# ours                                   <- transformers names (one entry per source tensor, q/k/v fused)
GLOBAL_TABLE: dict[str, tuple[str, ...]] = {
    "embedder.cls_token": ("embeddings.cls_token",),
    "embedder.distillation_token": ("embeddings.distillation_token",),
    "embedder.position_table": ("embeddings.position_embeddings",),
    "embedder.patch.weight": ("embeddings.patch_embeddings.projection.weight",),
    "embedder.patch.bias": ("embeddings.patch_embeddings.projection.bias",),
    "final_norm.weight": ("layernorm.weight",),
    "final_norm.bias": ("layernorm.bias",),
    "head.norm.weight": ("classifier.layernorm.weight",),
    "head.norm.bias": ("classifier.layernorm.bias",),
    "head.linear.weight": ("classifier.dense.weight",),
    "head.linear.bias": ("classifier.dense.bias",),
}

# per block i, for {weight, bias}:  ours -> (transformers 4 layout, transformers 5 layout)
LAYER_TABLE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "blocks.{i}.norm1": (("encoder.layer.{i}.layernorm_before",), ("layers.{i}.layernorm_before",)),
    "blocks.{i}.mixer.qkv": (
        ("encoder.layer.{i}.attention.attention.query", "encoder.layer.{i}.attention.attention.key", "encoder.layer.{i}.attention.attention.value"),
        ("layers.{i}.attention.q_proj", "layers.{i}.attention.k_proj", "layers.{i}.attention.v_proj"),
    ),
    "blocks.{i}.mixer.out": (("encoder.layer.{i}.attention.output.dense",), ("layers.{i}.attention.o_proj",)),
    "blocks.{i}.norm2": (("encoder.layer.{i}.layernorm_after",), ("layers.{i}.layernorm_after",)),
    "blocks.{i}.mlp.fc1": (("encoder.layer.{i}.intermediate.dense",), ("layers.{i}.mlp.fc1",)),
    "blocks.{i}.mlp.fc2": (("encoder.layer.{i}.output.dense",), ("layers.{i}.mlp.fc2",)),
}
LEGACY, CURRENT = 0, 1

ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu"}


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file as a dict, or InputFileError naming it."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InputFileError(f"{path}: unreadable ({error})") from error


def load_weights(source: Path) -> dict[str, Tensor]:
    """The directory's tensors, prefixes stripped: safetensors first, else a .bin read with weights_only=True."""
    if (source / "model.safetensors").is_file():
        weights = load_file(str(source / "model.safetensors"))
    elif (source / "pytorch_model.bin").is_file():
        try:
            weights = torch.load(source / "pytorch_model.bin", map_location="cpu", weights_only=True)
        except Exception as error:  # weights_only refuses anything but tensors; several exception types
            raise InputFileError(f"{source / 'pytorch_model.bin'}: not a plain tensor file ({type(error).__name__}: {error})") from error
    else:
        raise InputFileError(f"{source}: no model.safetensors or pytorch_model.bin")
    stripped = {}
    for name, tensor in weights.items():
        for prefix in PREFIXES:
            name = name.removeprefix(prefix)
        stripped[name] = tensor.float()
    return stripped


def config_from_hf(hf: Mapping[str, Any], preprocessor: Mapping[str, Any], num_labels: int) -> ModelConfig:
    """ASTConfig (+ ASTFeatureExtractor settings) -> our ModelConfig; `num_labels` 0 for an encoder alone."""
    if not isinstance(hf.get("patch_size", 16), int):
        raise InputFileError(f"only square integer AST patches are supported, got patch_size {hf.get('patch_size')!r}")
    activation = hf.get("hidden_act", "gelu")
    if activation not in ACTIVATIONS:
        raise InputFileError(f"AST hidden_act {activation!r} has no equivalent here (supported: {sorted(ACTIVATIONS)})")
    normalize = preprocessor.get("do_normalize", True)
    settings = AudioSettings(
        sample_rate=int(preprocessor.get("sampling_rate", 16000)),
        num_mel_bins=int(hf.get("num_mel_bins", 128)),
        max_length=int(hf.get("max_length", 1024)),
        patch_size=int(hf.get("patch_size", 16)),
        frequency_stride=int(hf.get("frequency_stride", 10)),
        time_stride=int(hf.get("time_stride", 10)),
        norm_mean=float(preprocessor.get("mean", -4.2677393)) if normalize else 0.0,
        norm_std=float(preprocessor.get("std", 4.5689974)) if normalize else 0.5,  # 2 * 0.5 = 1: identity
    )
    id2label = {str(k): str(v) for k, v in (hf.get("id2label") or {}).items()}
    named = num_labels > 0 and all(str(i) in id2label for i in range(num_labels))
    labels = tuple(id2label[str(i)] for i in range(num_labels)) if named else ()
    hidden = int(hf.get("hidden_size", 768))
    return ModelConfig(
        domain=DOMAIN,
        dim=hidden,
        depth=int(hf.get("num_hidden_layers", 12)),
        heads=int(hf.get("num_attention_heads", 12)),
        mlp_ratio=int(hf.get("intermediate_size", 3072)) / hidden,
        norm="pre",
        norm_eps=float(hf.get("layer_norm_eps", 1e-12)),
        final_norm=True,
        activation=ACTIVATIONS[activation],
        dropout=float(hf.get("hidden_dropout_prob", 0.0)),
        attention_dropout=float(hf.get("attention_probs_dropout_prob", 0.0)),
        qkv_bias=bool(hf.get("qkv_bias", True)),
        position="learned",
        max_positions=settings.num_tokens,
        task="sequence-classification" if num_labels else None,
        num_labels=num_labels,
        labels=labels,
        pooling="mean",
        domain_options=settings.to_options(),
    )


def map_weights(weights: Mapping[str, Tensor], depth: int, with_head: bool, qkv_bias: bool) -> dict[str, Tensor]:
    """transformers tensors -> our state dict, through GLOBAL_TABLE and LAYER_TABLE; names what is missing."""
    layout = LEGACY if any(k.startswith("encoder.layer.") for k in weights) else CURRENT
    mapping: dict[str, tuple[str, ...]] = {k: v for k, v in GLOBAL_TABLE.items() if with_head or not k.startswith("head.")}
    for i in range(depth):
        for ours, layouts in LAYER_TABLE.items():
            for kind in ("weight", "bias"):
                if kind == "bias" and ours.endswith("qkv") and not qkv_bias:
                    continue
                mapping[f"{ours.format(i=i)}.{kind}"] = tuple(f"{name.format(i=i)}.{kind}" for name in layouts[layout])
    missing = sorted({name for names in mapping.values() for name in names if name not in weights})
    if missing:
        raise CheckpointError(f"AST weights lack {len(missing)} tensor(s), e.g. {missing[:4]}")
    used = {name for names in mapping.values() for name in names}
    unused = sorted(set(weights) - used)
    if unused:
        log.warning("hf-ast: %d tensor(s) not imported, e.g. %s", len(unused), unused[:4])
    return {ours: torch.cat([weights[name] for name in names], dim=0) for ours, names in mapping.items()}


def import_hf_ast(source: Path, out: Path, host: PluginHost | None = None) -> Path:
    """Convert a transformers AST directory into a sciformer checkpoint at `out`; returns `out`."""
    source = Path(source)
    host = host or PluginHost(only={DOMAIN})  # the AST architecture alone: no other plugin's biases
    hf = read_json(source / "config.json")
    preprocessor_path = source / "preprocessor_config.json"
    preprocessor = read_json(preprocessor_path) if preprocessor_path.is_file() else {}
    if not preprocessor:
        log.warning("hf-ast: no preprocessor_config.json; using AST's AudioSet defaults (16 kHz, mean -4.27, std 4.57)")
    weights = load_weights(source)
    classifier = weights.get("classifier.dense.weight")
    config = config_from_hf(hf, preprocessor, 0 if classifier is None else classifier.shape[0])
    state = map_weights(weights, config.depth, classifier is not None, config.qkv_bias)
    model = build_model(config, host)
    model.load_state_dict(state, strict=True)
    return save_checkpoint(model, out, host, extra={"imported_from": "hf-ast", "source": str(source)})
