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
from sciformer.importing.files import read_model_config
from sciformer.importing.names import weights_and_biases
from sciformer.plugins import PluginHost
from torch import Tensor

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
LAYERS = weights_and_biases(
    {
        "blocks.{i}.norm1": "encoder.layer.{i}.layernorm_before",
        "blocks.{i}.mixer.qkv": tuple(f"encoder.layer.{{i}}.attention.attention.{p}" for p in ("query", "key", "value")),
        "blocks.{i}.mixer.out": "encoder.layer.{i}.attention.output.dense",
        "blocks.{i}.norm2": "encoder.layer.{i}.layernorm_after",
        "blocks.{i}.mlp.fc1": "encoder.layer.{i}.intermediate.dense",
        "blocks.{i}.mlp.fc2": "encoder.layer.{i}.output.dense",
    }
)
# sciformer name                    <- module name inside transformers >= 5 (a state dict saved from memory)
LAYERS_MODULE_NAMES = weights_and_biases(
    {
        "blocks.{i}.norm1": "layers.{i}.layernorm_before",
        "blocks.{i}.mixer.qkv": ("layers.{i}.attention.q_proj", "layers.{i}.attention.k_proj", "layers.{i}.attention.v_proj"),
        "blocks.{i}.mixer.out": "layers.{i}.attention.o_proj",
        "blocks.{i}.norm2": "layers.{i}.layernorm_after",
        "blocks.{i}.mlp.fc1": "layers.{i}.mlp.fc1",
        "blocks.{i}.mlp.fc2": "layers.{i}.mlp.fc2",
    }
)
TABLE, TABLE_MODULE_NAMES = NameTable(EMBEDDINGS | LAYERS), NameTable(EMBEDDINGS | LAYERS_MODULE_NAMES)
DROPPED = ("pooler.dense.weight", "pooler.dense.bias", "embeddings.mask_token")

ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu"}
PIL_RESAMPLE = {0: "nearest", 2: "bilinear", 3: "bicubic"}  # Pillow's enum values in preprocessor configs
UINT8_RESCALE = 1.0 / 255.0


def import_hf_vit(source: Path, out: Path, host: PluginHost, options: Mapping[str, str]) -> Path:
    """Convert a transformers ViT directory at `source` into a sciformer checkpoint at `out` (no options)."""
    read_options(FORMAT, options, {})
    source = Path(source)
    hf = read_hf_config(source, FORMAT, "vit", "a ViT", default="vit")
    weights, foreign = read_weights(source, PREFIX)
    config = vit_config(hf, has_classifier="classifier.weight" in foreign, preprocessor=read_preprocessor(source))
    table = TABLE if any(name.startswith("encoder.layer.") for name in foreign) else TABLE_MODULE_NAMES
    state, used = table.apply(foreign, config.depth)
    refuse_unused(foreign, used, weights, DROPPED)
    return write_checkpoint(config, state, out, host, source, FORMAT, origins=table.origins(config.depth))


def read_hf_config(source: Path, format_name: str, model_type: str, kind: str, default: str | None = None) -> dict[str, Any]:
    """The config.json of the transformers directory `source`, refused unless its model_type (`default` when it
    has none) is `model_type`; `kind` names the architecture in that refusal."""
    hf = read_model_config(source, format_name)
    if hf.get("model_type", default) != model_type:
        raise InputFileError(f"{source}: model_type {hf.get('model_type')!r} is not {kind} (expected {model_type!r})")
    return hf


def read_weights(source: Path, prefix: str) -> tuple[Path, dict[str, Tensor]]:
    """The weights file of the transformers directory `source` and its tensors, less the `prefix` a task model
    (an image classifier) nests its encoder under."""
    weights = find_weights(source)
    return weights, {name.removeprefix(prefix): tensor for name, tensor in read_state_dict(weights).items()}


def read_preprocessor(source: Path) -> dict[str, Any] | None:
    """The image processor settings of the transformers directory `source` (preprocessor_config.json), or None."""
    path = source / "preprocessor_config.json"
    return read_json(path) if path.is_file() else None


def vit_config(hf: dict[str, Any], *, has_classifier: bool, preprocessor: dict[str, Any] | None) -> ModelConfig:
    """The sciformer configuration of a transformers ViTConfig dictionary."""
    activation = engine_activation(hf)
    dim = int(hf["hidden_size"])
    image_size, patch = image_geometry(hf, default_patch=16)
    options = {"patch_size": patch, "image_size": image_size, "channels": int(hf.get("num_channels", 3))}
    options.update(preprocessing(preprocessor, image_size, options["channels"]))
    values: dict[str, Any] = {
        "dim": dim,
        "depth": int(hf["num_hidden_layers"]),
        "heads": int(hf["num_attention_heads"]),
        "mlp_ratio": int(hf.get("intermediate_size", 4 * dim)) / dim,
        "position": "learned",
        "pooling": "cls",
        "domain_options": options,
    }
    return encoder_config(hf, values, activation=activation, norm_eps=1e-12, has_classifier=has_classifier)


def engine_activation(hf: dict[str, Any]) -> str:
    """The engine's name of a transformers config's `hidden_act`."""
    activation = hf.get("hidden_act", "gelu")
    if activation not in ACTIVATIONS:
        raise InputFileError(f"hidden_act {activation!r} has no sciformer equivalent (supported: {sorted(ACTIVATIONS)})")
    return ACTIVATIONS[activation]


def image_geometry(hf: dict[str, Any], default_patch: int) -> tuple[list[int], int]:
    """([height, width], patch side) of a transformers vision config; non-square patches are refused."""
    size = hf.get("image_size", 224)
    image_size = [size, size] if isinstance(size, int) else [int(v) for v in size]
    patch = hf.get("patch_size", default_patch)
    if not isinstance(patch, int):
        if len(set(patch)) != 1:
            raise InputFileError(f"non-square patches {patch} are not supported")
        patch = int(patch[0])
    return image_size, patch


def encoder_config(
    hf: dict[str, Any], values: dict[str, Any], *, activation: str, norm_eps: float, has_classifier: bool
) -> ModelConfig:
    """The vision model of `values` (an architecture's own settings) with what transformers' vision encoders share:
    pre-norm blocks (`layer_norm_eps`, else `norm_eps`), a final norm, `activation`, the dropouts, q-k-v biases,
    and with a classifier the head settings."""
    shared = {
        "domain": "vision",
        "norm": "pre",
        "norm_eps": float(hf.get("layer_norm_eps", norm_eps)),
        "final_norm": True,
        "activation": activation,
        "dropout": float(hf.get("hidden_dropout_prob", 0.0)),
        "attention_dropout": float(hf.get("attention_probs_dropout_prob", 0.0)),
        "qkv_bias": bool(hf.get("qkv_bias", True)),
    }
    return ModelConfig.from_dict({**values, **shared, **(head_settings(hf) if has_classifier else {})})


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
