"""What a scoring run writes: per-record columns computed batch by batch, then file-level summaries.

The engine's `Scorer` writes the pooled embedding, optional token vectors and the columns the model's
head declares (class probabilities, regression values, per-token classes, forecasts, ...). A plugin
returns its own subclass from `Domain.scorer` to add columns that need more than one forward pass
(multi-step forecasts) or summaries over the whole file (skill scores against the truth).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from sciformer.data.batch import TokenBatch
from sciformer.engine.heads import ScoreColumn
from sciformer.engine.model import ModelOutput, SciformerModel
from sciformer.errors import ConfigError

if TYPE_CHECKING:
    from sciformer.plugins import PluginHost

ENGINE_COLUMNS = ("embedding", "token_embeddings")


class Scorer:
    """The columns of a results file for one model, and how each batch fills them.

    `options` are the run's reader options (`--option key=value`), which a plugin's scorer may read.
    A scorer whose `values` reads `ModelOutput.hidden_states` (every layer's output) sets `hidden_states`,
    and the pipeline asks the model for them.
    """

    hidden_states = False

    def __init__(self, model: SciformerModel, options: Mapping[str, Any] | None = None) -> None:
        self.model = model
        self.options = dict(options or {})

    def columns(self) -> dict[str, ScoreColumn]:
        """Every column this model can write: `embedding` (D,), `token_embeddings` (ragged), the head's; D is
        the width of the final hidden states (the last stage's, for a model with stages)."""
        dim = self.model.config.output_dim
        columns = {
            "embedding": ScoreColumn((dim,)),
            "token_embeddings": ScoreColumn(None, attributes={"dim": dim, "layout": "flattened (tokens, dim) per record"}, default=False),
        }
        head_columns = self.model.head.score_columns() if self.model.head is not None else {}
        clash = sorted(set(columns) & set(head_columns))
        if clash:
            raise ConfigError(f"the head of domain {self.model.config.domain!r} declares reserved output name(s) {clash}")
        return {**columns, **head_columns}

    def choose(self, requested: Sequence[str] | None) -> tuple[str, ...]:
        """The requested outputs, validated; by default every column marked `default`."""
        available = self.columns()
        if not requested:
            return tuple(name for name, column in available.items() if column.default)
        unknown = [name for name in requested if name not in available]
        if unknown:
            raise ConfigError(f"output(s) {unknown} are not available for this {self.model.config.task or 'no-head'} model; available: {list(available)}")
        return tuple(requested)

    def empty(self, outputs: Sequence[str], count: int) -> dict[str, np.ndarray]:
        """Columns for `count` records before scoring: NaN (floats), -1 (integers), False (flags), empty vectors (ragged)."""
        specs = self.columns()
        columns: dict[str, np.ndarray] = {}
        for name in outputs:
            spec = specs[name]
            if spec.shape is None:
                column = np.empty(count, dtype=object)
                column[:] = [np.zeros(0, dtype=spec.dtype)] * count
            else:
                kind = np.dtype(spec.dtype).kind
                fill = np.nan if kind == "f" else (False if kind == "b" else -1)
                column = np.full((count, *spec.shape), fill, dtype=spec.dtype)
            columns[name] = column
        return columns

    def values(self, outputs: Sequence[str], result: ModelOutput, batch: TokenBatch) -> dict[str, Any]:
        """The requested outputs of one batch, one row per record."""
        out: dict[str, Any] = {}
        if "embedding" in outputs:
            out["embedding"] = result.pooled.float().cpu().numpy()
        if "token_embeddings" in outputs:
            hidden = result.hidden.float().cpu()
            mask = result.embedded.pool_mask.cpu()
            out["token_embeddings"] = [hidden[row][mask[row]].reshape(-1).numpy() for row in range(hidden.shape[0])]
        if self.model.head is not None and any(name not in ENGINE_COLUMNS for name in outputs):
            values = self.model.head.score_values(result.prediction, result.embedded, batch)
            out.update({name: value for name, value in values.items() if name in outputs})
        return out

    def attributes(self) -> dict[str, dict[str, Any]]:
        """HDF5 dataset attributes of every column."""
        return {name: dict(spec.attributes) for name, spec in self.columns().items() if spec.attributes}

    def summarise(self, results: h5py.File) -> None:
        """Add file-level summaries to a finished results file (rows in input order); nothing by default."""


def scorer_for(host: PluginHost, model: SciformerModel, options: Mapping[str, Any], checkpoint: Path | None = None) -> Scorer:
    """What `sciformer score` writes for a model: its domain's scorer (`Domain.scorer`), or the engine's."""
    return host.domain(model.config.domain).scorer(model, dict(options), checkpoint) or Scorer(model, options)
