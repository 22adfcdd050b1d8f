"""What `sciformer score` writes for protein models: representations of one layer, the head's columns and
whether the model saw only part of a record.

The scorer option `layer` (`--option layer=K`) picks the layer, numbered as ESM numbers them: 0 is the
embedding output, k the output of block k, -1 (the default, or `depth`) the last block after the final
layer norm. At that layer, with D the model's width and L the record's residues:

    embedding         (D,)      mean over the L residue tokens (no BOS, EOS or padding)
    bos               (D,)      the BOS token of the record's first window (only when asked for)
    token_embeddings  (L * D,)  the L residue vectors in residue order, flattened (only when asked for);
                                no BOS or EOS, and for a windowed record each residue once, from the
                                window that keeps it (tokenizer.py)
    truncated         ()        whether the model saw only the first `max_residues` residues
                                (`long_sequences: truncate`)

`sciformer protein embed` is `sciformer score` asking for `embedding`, `bos`, `truncated` and, with
`--per-residue`, `token_embeddings`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sciformer.data.batch import TokenBatch
from sciformer.engine.heads import ScoreColumn
from sciformer.engine.model import ModelOutput, SciformerModel
from sciformer.errors import ConfigError
from sciformer.scoring.scorer import Scorer

from .inference import layer_output, residue_positions, resolve_layer

LAYER = "layer"
BOS = "bos"
TRUNCATED = "truncated"
LAYER_COLUMNS = ("embedding", BOS, "token_embeddings")  # taken at the `layer` option's layer


class ProteinScorer(Scorer):
    """The engine's scorer with representations of any layer, a `bos` column and a `truncated` flag per record."""

    def __init__(self, model: SciformerModel, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(model, options)
        self.layer = resolve_layer(layer_option(self.options.get(LAYER, -1)), model.config.depth)
        self.hidden_states = self.layer < model.config.depth

    def columns(self) -> dict[str, ScoreColumn]:
        """The engine's columns with `embedding` and `token_embeddings` at the chosen layer, `bos` and
        `truncated` (bool, written by default)."""
        dim = self.model.config.output_dim
        layer = {LAYER: self.layer}
        engine = super().columns()
        engine["embedding"] = ScoreColumn((dim,), attributes={**layer, "pooling": "mean over residues"})
        engine["token_embeddings"] = ScoreColumn(None, attributes={**layer, "dim": dim, "layout": "flattened (residues, dim) per record"}, default=False)
        limit = self.model.config.option("max_residues")
        policy = self.model.config.option("long_sequences", "window")
        truncation = {"max_residues": limit if limit is not None else "default", "long_sequences": policy}
        return {**engine, BOS: ScoreColumn((dim,), attributes=layer, default=False), TRUNCATED: ScoreColumn((), dtype="bool", attributes=truncation)}

    def values(self, outputs: Sequence[str], result: ModelOutput, batch: TokenBatch) -> dict[str, Any]:
        """The head's values, the representations of the chosen layer and the batch's truncation flags."""
        values = super().values([name for name in outputs if name not in (*LAYER_COLUMNS, TRUNCATED)], result, batch)
        if any(name in outputs for name in LAYER_COLUMNS):
            hidden = layer_output(result, self.layer, self.model.config.depth).float()  # (B, T, D)
            residues = [hidden[row, residue_positions(batch, row)] for row in range(hidden.shape[0])]  # (L, D) each
            if "embedding" in outputs:
                values["embedding"] = np.stack([vectors.mean(dim=0).cpu().numpy() for vectors in residues])
            if BOS in outputs:
                values[BOS] = hidden[:, 0].cpu().numpy()
            if "token_embeddings" in outputs:
                values["token_embeddings"] = [vectors.reshape(-1).cpu().numpy() for vectors in residues]
        if TRUNCATED in outputs:
            values[TRUNCATED] = batch.extras[TRUNCATED].cpu().numpy()
        return values


def layer_option(value: Any) -> int:
    """The `layer` option as a layer number (an integer, or text holding one)."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"option layer must be a layer number (0 = embeddings, -1 = last, after the final norm), got {value!r}")
    return value
