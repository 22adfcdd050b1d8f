"""Import of transformers ViT directories (ViTModel, ViTForImageClassification) into sciformer checkpoints.

The directory holds `config.json`, the weights (`model.safetensors`, sharded safetensors, or
`pytorch_model.bin` read with weights_only=True) and, when present, `preprocessor_config.json`
(resize, rescale, mean / std). The pooler of ViTModel (dense + tanh on [CLS]) is not part of the
final hidden states and is dropped; sciformer's pooled output is the final-norm [CLS] vector, which
is what ViTForImageClassification classifies.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sciformer.config import ModelConfig
from sciformer.errors import InputFileError
from sciformer.importing import NameTable, find_weights, read_json, read_options, read_state_dict, refuse_unused, write_checkpoint
from sciformer.plugins import PluginHost

log = logging.getLogger(__name__)

FORMAT = "hf-vit"
PREFIX = "vit."  # ViTForImageClassification nests the ViTModel under `vit`

# sciformer name                    <- name in transformers ViT checkpoints (the published layout)
EMBEDDINGS = {
    "embedder.cls_token": "embeddings.cls_token",
    "embedder.position_embedding": "embeddings.position_embeddings",
    "embedder.patch_embedding.weight": "embeddings.patch_embeddings.projection.weight",
    "embedder.patch_embedding.bias": "embeddings.patch_embeddings.projection.bias",
    "final_norm.weight": "layernorm.weight",
    "final_norm.bias": "layernorm.bias",
    "head.linear.weight": "classifier.weight",
    "head.linear.bias": "classifier.bias",
}
LAYERS = {
    "blocks.{i}.norm1.weight": "encoder.layer.{i}.layernorm_before.weight",
    "blocks.{i}.norm1.bias": "encoder.layer.{i}.layernorm_before.bias",
    "blocks.{i}.mixer.qkv.weight": (
        "encoder.layer.{i}.attention.attention.query.weight",
        "encoder.layer.{i}.attention.attention.key.weight",
        "encoder.layer.{i}.attention.attention.value.weight",
    ),
    "blocks.{i}.mixer.qkv.bias": (
        "encoder.layer.{i}.attention.attention.query.bias",
        "encoder.layer.{i}.attention.attention.key.bias",
        "encoder.layer.{i}.attention.attention.value.bias",
    ),
    "blocks.{i}.mixer.out.weight": "encoder.layer.{i}.attention.output.dense.weight",
    "blocks.{i}.mixer.out.bias": "encoder.layer.{i}.attention.output.dense.bias",
    "blocks.{i}.norm2.weight": "encoder.layer.{i}.layernorm_after.weight",
    "blocks.{i}.norm2.bias": "encoder.layer.{i}.layernorm_after.bias",
    "blocks.{i}.mlp.fc1.weight": "encoder.layer.{i}.intermediate.dense.weight",
    "blocks.{i}.mlp.fc1.bias": "encoder.layer.{i}.intermediate.dense.bias",
    "blocks.{i}.mlp.fc2.weight": "encoder.layer.{i}.output.dense.weight",
    "blocks.{i}.mlp.fc2.bias": "encoder.layer.{i}.output.dense.bias",
}
# sciformer name                    <- module name inside transformers >= 5 (a state dict saved from memory)
LAYERS_MODULE_NAMES = {
    "blocks.{i}.norm1.weight": "layers.{i}.layernorm_before.weight",
    "blocks.{i}.norm1.bias": "layers.{i}.layernorm_before.bias",
    "blocks.{i}.mixer.qkv.weight": ("layers.{i}.attention.q_proj.weight", "layers.{i}.attention.k_proj.weight", "layers.{i}.attention.v_proj.weight"),
    "blocks.{i}.mixer.qkv.bias": ("layers.{i}.attention.q_proj.bias", "layers.{i}.attention.k_proj.bias", "layers.{i}.attention.v_proj.bias"),
    "blocks.{i}.mixer.out.weight": "layers.{i}.attention.o_proj.weight",
    "blocks.{i}.mixer.out.bias": "layers.{i}.attention.o_proj.bias",
    "blocks.{i}.norm2.weight": "layers.{i}.layernorm_after.weight",
    "blocks.{i}.norm2.bias": "layers.{i}.layernorm_after.bias",
    "blocks.{i}.mlp.fc1.weight": "layers.{i}.mlp.fc1.weight",
    "blocks.{i}.mlp.fc1.bias": "layers.{i}.mlp.fc1.bias",
    "blocks.{i}.mlp.fc2.weight": "layers.{i}.mlp.fc2.weight",
    "blocks.{i}.mlp.fc2.bias": "layers.{i}.mlp.fc2.bias",
}
TABLE, TABLE_MODULE_NAMES = NameTable(EMBEDDINGS | LAYERS), NameTable(EMBEDDINGS | LAYERS_MODULE_NAMES)
DROPPED = ("pooler.dense.weight", "pooler.dense.bias", "embeddings.mask_token")

ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu"}
PIL_RESAMPLE = {0: "nearest", 2: "bilinear", 3: "bicubic"}  # Pillow's enum values in preprocessor configs
UINT8_RESCALE = 1.0 / 255.0


def import_hf_vit(source: Path, out: Path, host: PluginHost, options: Mapping[str, str]) -> Path:
    """Convert a transformers ViT directory at `source` into a sciformer checkpoint at `out` (no options)."""
    read_options(FORMAT, options, {})
    source = Path(source)
    if not source.is_dir() or not (source / "config.json").is_file():
        raise InputFileError(f"{source}: hf-vit needs a transformers model directory with config.json and weights")
    hf = read_json(source / "config.json")
    if hf.get("model_type", "vit") != "vit":
        raise InputFileError(f"{source}: model_type {hf.get('model_type')!r} is not a ViT (expected 'vit')")
    weights = find_weights(source)
    foreign = {name.removeprefix(PREFIX): tensor for name, tensor in read_state_dict(weights).items()}
    preprocessor = read_json(source / "preprocessor_config.json") if (source / "preprocessor_config.json").is_file() else None
    config = vit_config(hf, has_classifier="classifier.weight" in foreign, preprocessor=preprocessor)
    table = TABLE if any(name.startswith("encoder.layer.") for name in foreign) else TABLE_MODULE_NAMES
    state, used = table.apply(foreign, config.depth)
    refuse_unused(foreign, used, weights, DROPPED)
    return write_checkpoint(config, state, out, host, source, FORMAT, origins=table.origins(config.depth))


def vit_config(hf: dict[str, Any], *, has_classifier: bool, preprocessor: dict[str, Any] | None) -> ModelConfig:
    """The sciformer configuration of a transformers ViTConfig dictionary."""
    activation = hf.get("hidden_act", "gelu")
    if activation not in ACTIVATIONS:
        raise InputFileError(f"hidden_act {activation!r} has no sciformer equivalent (supported: {sorted(ACTIVATIONS)})")
    dim = int(hf["hidden_size"])
    size = hf.get("image_size", 224)
    image_size = [size, size] if isinstance(size, int) else [int(v) for v in size]
    patch = hf.get("patch_size", 16)
    if not isinstance(patch, int):
        if len(set(patch)) != 1:
            raise InputFileError(f"non-square patches {patch} are not supported")
        patch = int(patch[0])
    options = {"patch_size": patch, "image_size": image_size, "channels": int(hf.get("num_channels", 3))}
    options.update(preprocessing(preprocessor, image_size, options["channels"]))
    values: dict[str, Any] = {
        "domain": "vision",
        "dim": dim,
        "depth": int(hf["num_hidden_layers"]),
        "heads": int(hf["num_attention_heads"]),
        "mlp_ratio": int(hf.get("intermediate_size", 4 * dim)) / dim,
        "norm": "pre",
        "norm_eps": float(hf.get("layer_norm_eps", 1e-12)),
        "final_norm": True,
        "activation": ACTIVATIONS[activation],
        "dropout": float(hf.get("hidden_dropout_prob", 0.0)),
        "attention_dropout": float(hf.get("attention_probs_dropout_prob", 0.0)),
        "qkv_bias": bool(hf.get("qkv_bias", True)),
        "position": "learned",
        "pooling": "cls",
        "domain_options": options,
    }
    if has_classifier:
        values.update(head_settings(hf))
    return ModelConfig.from_dict(values)


def head_settings(hf: dict[str, Any]) -> dict[str, Any]:
    """The task, class count and class names of a transformers image classifier's config.json."""
    id2label = {int(k): str(v) for k, v in (hf.get("id2label") or {}).items()}
    count = len(id2label) or int(hf.get("num_labels", 2))
    regression = hf.get("problem_type") == "regression"
    settings: dict[str, Any] = {"task": "sequence-regression" if regression else "sequence-classification", "num_labels": count}
    if id2label and not regression:
        settings["labels"] = [id2label[i] for i in range(count)]
    return settings


def preprocessing(processor: dict[str, Any] | None, image_size: list[int], channels: int) -> dict[str, Any]:
    """domain_options for a transformers image processor config (ViTImageProcessor defaults when absent)."""
    processor = processor or {}
    options: dict[str, Any] = {"resize": None, "crop": None, "mean": None, "std": None}
    if processor.get("do_resize", True):
        size = processor.get("size", {"height": image_size[0], "width": image_size[1]})
        if isinstance(size, int):
            options["resize"] = [size, size]
        elif "height" in size:
            options["resize"] = [int(size["height"]), int(size["width"])]
        elif "shortest_edge" in size:
            options["resize"] = int(size["shortest_edge"])
        else:
            raise InputFileError(f"preprocessor size {size} is not supported")
    resample = processor.get("resample", 2)
    if resample not in PIL_RESAMPLE:
        log.warning("resample %r has no exact equivalent; using bicubic", resample)
    options["resample"] = PIL_RESAMPLE.get(resample, "bicubic")
    if processor.get("do_center_crop", False):
        crop = processor.get("crop_size", {"height": image_size[0], "width": image_size[1]})
        options["crop"] = [crop, crop] if isinstance(crop, int) else [int(crop["height"]), int(crop["width"])]
    if processor.get("do_rescale", True):
        factor = float(processor.get("rescale_factor", UINT8_RESCALE))
        options["rescale"] = None if abs(factor - UINT8_RESCALE) < 1e-12 else factor  # None: uint8 / 255, floats as given
    else:
        options["rescale"] = 1.0
    if processor.get("do_normalize", True):
        options["mean"] = [float(v) for v in processor.get("image_mean", [0.5] * channels)]
        options["std"] = [float(v) for v in processor.get("image_std", [0.5] * channels)]
    return options
