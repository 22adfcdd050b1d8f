"""What a scoring run writes per record: the pooled embedding, optional token vectors, and the columns
the model's head declares (class probabilities, regression values, per-token classes, forecasts, ...)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from sciformer.engine.heads import ScoreColumn
from sciformer.engine.model import ModelOutput, SciformerModel
from sciformer.errors import ConfigError

ENGINE_COLUMNS = ("embedding", "token_embeddings")


def columns_of(net: SciformerModel) -> dict[str, ScoreColumn]:
    """Every column a model can write: `embedding` (D,), `token_embeddings` (flattened tokens x D), the head's."""
    columns = {
        "embedding": ScoreColumn((net.config.dim,)),
        "token_embeddings": ScoreColumn(None, attributes={"dim": net.config.dim, "layout": "flattened (tokens, dim) per record"}),
    }
    head_columns = net.head.score_columns() if net.head is not None else {}
    clash = sorted(set(columns) & set(head_columns))
    if clash:
        raise ConfigError(f"the head of domain {net.config.domain!r} declares reserved output name(s) {clash}")
    return {**columns, **head_columns}


def choose_outputs(net: SciformerModel, requested: Sequence[str] | None) -> tuple[str, ...]:
    """The requested outputs, validated; by default the embedding and every column of the head."""
    available = columns_of(net)
    if not requested:
        return tuple(name for name in available if name != "token_embeddings")
    unknown = [name for name in requested if name not in available]
    if unknown:
        raise ConfigError(f"output(s) {unknown} are not available for this {net.config.task or 'no-head'} model; available: {list(available)}")
    return tuple(requested)


def empty_outputs(net: SciformerModel, outputs: Sequence[str], count: int) -> dict[str, np.ndarray]:
    """Columns for `count` records before scoring: NaN (floats), -1 (integers), empty vectors (ragged)."""
    specs = columns_of(net)
    columns: dict[str, np.ndarray] = {}
    for name in outputs:
        spec = specs[name]
        if spec.shape is None:
            column = np.empty(count, dtype=object)
            column[:] = [np.zeros(0, dtype=spec.dtype)] * count
        else:
            fill = np.nan if np.dtype(spec.dtype).kind == "f" else -1
            column = np.full((count, *spec.shape), fill, dtype=spec.dtype)
        columns[name] = column
    return columns


def batch_outputs(net: SciformerModel, outputs: Sequence[str], result: ModelOutput, batch: Any) -> dict[str, Any]:
    """The requested outputs of one batch, one row per record."""
    out: dict[str, Any] = {}
    if "embedding" in outputs:
        out["embedding"] = result.pooled.float().cpu().numpy()
    if "token_embeddings" in outputs:
        hidden = result.hidden.float().cpu()
        mask = result.embedded.pool_mask.cpu()
        out["token_embeddings"] = [hidden[row][mask[row]].reshape(-1).numpy() for row in range(hidden.shape[0])]
    if net.head is not None and any(name not in ENGINE_COLUMNS for name in outputs):
        values = net.head.score_values(result.prediction, result.embedded, batch)
        out.update({name: value for name, value in values.items() if name in outputs})
    return out


def column_attributes(net: SciformerModel) -> dict[str, dict[str, Any]]:
    """HDF5 dataset attributes of every column."""
    return {name: dict(spec.attributes) for name, spec in columns_of(net).items() if spec.attributes}
