"""Pseudo-log-likelihood of a sequence under a masked-LM protein model (each residue masked in turn)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sciformer.engine.model import SciformerModel
from sciformer.records import Record

from .marginals import masked_log_probs
from .tokenizer import ProteinTokenizer


@dataclass(frozen=True)
class PseudoLikelihood:
    """Sum over residues of log p(residue | sequence with that residue masked), per residue, and perplexity."""

    record_id: str
    pll: float
    per_residue: np.ndarray  # (L,)

    @property
    def pseudo_perplexity(self) -> float:
        """exp(-PLL / L)."""
        return math.exp(-self.pll / len(self.per_residue))


def pseudo_log_likelihood(model: SciformerModel, tokenizer: ProteinTokenizer, record: Record, batch_tokens: int | None = None) -> PseudoLikelihood:
    """The pseudo-log-likelihood of one sequence (L forward passes, batched); BadRecordError for a bad sequence."""
    encoding = tokenizer.encode(record)
    ids = encoding.ids[encoding.keep]  # kept residue tokens, in residue order
    order = encoding.residue_index[encoding.keep].argsort()
    true_ids = ids[order]
    log_probs = masked_log_probs(model, tokenizer, record, list(range(encoding.length)), batch_tokens)  # (L, V)
    per_residue = log_probs.gather(1, true_ids[:, None]).squeeze(1).numpy()
    return PseudoLikelihood(record.id, float(per_residue.sum()), per_residue)
