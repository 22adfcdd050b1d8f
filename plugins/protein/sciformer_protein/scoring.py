"""What `sciformer score` writes for protein models: the engine's columns and `truncated`, whether the
model saw only the first `max_residues` residues of a record (`long_sequences: truncate`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sciformer.data.batch import TokenBatch
from sciformer.engine.heads import ScoreColumn
from sciformer.engine.model import ModelOutput
from sciformer.scoring.scorer import Scorer

TRUNCATED = "truncated"


class ProteinScorer(Scorer):
    """The engine's scorer plus a `truncated` flag per record."""

    def columns(self) -> dict[str, ScoreColumn]:
        """Every engine column, and `truncated` (bool, written by default)."""
        limit = self.model.config.option("max_residues")
        policy = self.model.config.option("long_sequences", "window")
        attributes = {"max_residues": limit if limit is not None else "default", "long_sequences": policy}
        return {**super().columns(), TRUNCATED: ScoreColumn((), dtype="bool", attributes=attributes)}

    def values(self, outputs: Sequence[str], result: ModelOutput, batch: TokenBatch) -> dict[str, Any]:
        """The engine's values and the batch's truncation flags."""
        values = super().values([name for name in outputs if name != TRUNCATED], result, batch)
        if TRUNCATED in outputs:
            values[TRUNCATED] = batch.extras[TRUNCATED].cpu().numpy()
        return values
