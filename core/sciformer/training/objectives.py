"""Pre-training objectives applied to a collated batch: BERT-style masking for masked LM."""

from __future__ import annotations

from dataclasses import replace

import torch

from sciformer.data.batch import TokenBatch
from sciformer.domain import VocabularyTokenizer
from sciformer.engine.heads import IGNORE_INDEX


def mask_tokens(batch: TokenBatch, tokenizer: VocabularyTokenizer, probability: float, generator: torch.Generator) -> TokenBatch:
    """Choose `probability` of the real, non-special tokens; of those 80% become <mask>, 10% a random
    token, 10% stay. Targets are the original ids there and IGNORE_INDEX elsewhere."""
    ids = batch.ids
    candidates = batch.padding_mask.clone()
    for special in tokenizer.special_ids:
        candidates &= ids != special
    chosen = (torch.rand(ids.shape, generator=generator) < probability) & candidates
    targets = torch.where(chosen, ids, torch.full_like(ids, IGNORE_INDEX))
    roll = torch.rand(ids.shape, generator=generator)
    masked = ids.clone()
    masked[chosen & (roll < 0.8)] = tokenizer.mask_id
    randomised = chosen & (roll >= 0.8) & (roll < 0.9)
    masked[randomised] = torch.randint(tokenizer.vocab_size, ids.shape, generator=generator)[randomised]
    return replace(batch, ids=masked, targets=targets)
