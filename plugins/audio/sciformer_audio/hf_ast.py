"""Import of `transformers` Audio Spectrogram Transformer directories (`sciformer import hf-ast DIR --out OUT`).

A directory holds `config.json` (ASTConfig), `model.safetensors` or `pytorch_model.bin` (read with
`weights_only=True`, never unpickling code) and optionally `preprocessor_config.json`
(ASTFeatureExtractor: sampling rate, normalisation mean and std). Both weight layouts are read: the
one of published checkpoints (transformers 4: `encoder.layer.N.attention.attention.query`) and the one
transformers 5 writes (`layers.N.attention.q_proj`). The tables below map each to our names.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sciformer.config import ModelConfig
from sciformer.errors import InputFileError
from sciformer.importing import (
    NameTable,
    find_weights,
    read_json,
    read_options,
    read_state_dict,
    unused_tensors,
    write_checkpoint,
)
from sciformer.plugins import PluginHost

from sciformer_audio.settings import AudioSettings

log = logging.getLogger(__name__)

DOMAIN = "audio"
FORMAT = "hf-ast"
PREFIX = "audio_spectrogram_transformer."  # ASTForAudioClassification nests the encoder under this

# ours                                   <- transformers names
GLOBAL_TABLE = {
    "embedder.cls_token": "embeddings.cls_token",
    "embedder.distillation_token": "embeddings.distillation_token",
    "embedder.position_table": "embeddings.position_embeddings",
    "embedder.patch.weight": "embeddings.patch_embeddings.projection.weight",
    "embedder.patch.bias": "embeddings.patch_embeddings.projection.bias",
    "final_norm.weight": "layernorm.weight",
    "final_norm.bias": "layernorm.bias",
    "head.norm.weight": "classifier.layernorm.weight",
    "head.norm.bias": "classifier.layernorm.bias",
    "head.linear.weight": "classifier.dense.weight",
    "head.linear.bias": "classifier.dense.bias",
}

# per block i, for {weight, bias}:  ours -> (transformers 4 layout, transformers 5 layout); q/k/v are fused
LAYER_MODULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
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


def _table(layout: int) -> NameTable:
    layers = {f"{ours}.{kind}": tuple(f"{name}.{kind}" for name in layouts[layout]) for ours, layouts in LAYER_MODULES.items() for kind in ("weight", "bias")}
    return NameTable(GLOBAL_TABLE | layers)


LEGACY, CURRENT = _table(0), _table(1)

ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu"}


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


def import_hf_ast(source: Path, out: Path, host: PluginHost, options: Mapping[str, str]) -> Path:
    """Convert a transformers AST directory into a sciformer checkpoint at `out` (no options); returns `out`."""
    read_options(FORMAT, options, {})
    source = Path(source)
    hf = read_json(source / "config.json")
    preprocessor_path = source / "preprocessor_config.json"
    preprocessor = read_json(preprocessor_path) if preprocessor_path.is_file() else {}
    if not preprocessor:
        log.warning("hf-ast: no preprocessor_config.json; using AST's AudioSet defaults (16 kHz, mean -4.27, std 4.57)")
    weights = {name.removeprefix(PREFIX): tensor for name, tensor in read_state_dict(find_weights(source)).items()}
    classifier = weights.get("classifier.dense.weight")
    config = config_from_hf(hf, preprocessor, 0 if classifier is None else classifier.shape[0])
    table = LEGACY if any(name.startswith("encoder.layer.") for name in weights) else CURRENT
    state, used = table.apply(weights, config.depth)
    unused = unused_tensors(weights, used)
    if unused:
        log.warning("hf-ast: %d tensor(s) not imported, e.g. %s", len(unused), unused[:4])
    return write_checkpoint(config, state, out, host, source, FORMAT, origins=table.origins(config.depth))
