"""What a scoring run writes per record, by model task: the columns and how a batch fills them."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from sciformer.config import ModelConfig
from sciformer.engine.model import ModelOutput
from sciformer.errors import ConfigError

SEQUENCE_TASKS = ("sequence-classification", "sequence-regression")
PER_TOKEN = ("token_embeddings",)


def available_outputs(config: ModelConfig) -> tuple[str, ...]:
    """Every output a model of this configuration can write."""
    names = ["embedding", *PER_TOKEN]
    if config.task == "sequence-classification":
        names += ["logits", "probabilities", "prediction"]
    elif config.task == "sequence-regression":
        names += ["prediction"]
    return tuple(names)


def choose_outputs(config: ModelConfig, requested: Sequence[str] | None) -> tuple[str, ...]:
    """The requested outputs, validated; by default every sequence-level output."""
    available = available_outputs(config)
    if not requested:
        return tuple(name for name in available if name not in PER_TOKEN)
    unknown = [name for name in requested if name not in available]
    if unknown:
        raise ConfigError(f"output(s) {unknown} are not available for a {config.task or 'no-head'} model; available: {list(available)}")
    return tuple(requested)


def empty_outputs(config: ModelConfig, outputs: Sequence[str], count: int) -> dict[str, np.ndarray]:
    """Columns for `count` records before scoring: NaN (floats), -1 (class indices), empty vectors.

    `embedding` (N, D); `logits`, `probabilities` (N, K); `prediction` (N,) class indices for
    classification, (N,) or (N, K) values for regression; `token_embeddings` one flattened (T_i * D)
    float32 vector per record.
    """
    shapes: dict[str, Any] = {
        "embedding": np.full((count, config.dim), np.nan, dtype=np.float32),
        "logits": np.full((count, config.num_labels), np.nan, dtype=np.float32),
        "probabilities": np.full((count, config.num_labels), np.nan, dtype=np.float32),
    }
    if config.task == "sequence-classification":
        shapes["prediction"] = np.full(count, -1, dtype=np.int64)
    else:
        shapes["prediction"] = np.full((count,) if config.num_labels == 1 else (count, config.num_labels), np.nan, dtype=np.float32)
    columns = {name: shapes[name] for name in outputs if name not in PER_TOKEN}
    if "token_embeddings" in outputs:
        empty = np.empty(count, dtype=object)
        empty[:] = [np.zeros(0, dtype=np.float32)] * count
        columns["token_embeddings"] = empty
    return columns


def batch_outputs(config: ModelConfig, outputs: Sequence[str], result: ModelOutput) -> dict[str, Any]:
    """The requested outputs of one batch, one row per record."""
    out: dict[str, Any] = {}
    if "embedding" in outputs:
        out["embedding"] = result.pooled.float().cpu().numpy()
    if "token_embeddings" in outputs:
        hidden = result.hidden.float().cpu()
        mask = result.embedded.pool_mask.cpu()
        out["token_embeddings"] = [hidden[row][mask[row]].reshape(-1).numpy() for row in range(hidden.shape[0])]
    if result.prediction is None or config.task not in SEQUENCE_TASKS:
        return out
    prediction = result.prediction.float()
    if "logits" in outputs:
        out["logits"] = prediction.cpu().numpy()
    if "probabilities" in outputs:
        out["probabilities"] = prediction.softmax(dim=-1).cpu().numpy()
    if "prediction" in outputs:
        if config.task == "sequence-classification":
            out["prediction"] = prediction.argmax(dim=-1).cpu().numpy()
        else:
            out["prediction"] = (prediction.squeeze(-1) if config.num_labels == 1 else prediction).cpu().numpy()
    return out


def column_attributes(config: ModelConfig) -> dict[str, dict[str, Any]]:
    """Dataset attributes: class names on class outputs, the width of flattened token vectors."""
    attributes: dict[str, dict[str, Any]] = {"token_embeddings": {"dim": config.dim, "layout": "flattened (tokens, dim) per record"}}
    if config.labels:
        for name in ("logits", "probabilities", "prediction"):
            attributes[name] = {"labels": list(config.labels)}
    return attributes
