"""The ESM-2 embedder: token embeddings with ESM's token-dropout scaling; positions are rotary (in attention).

With token dropout, ESM-2 trains with `<mask>` embeddings zeroed and rescales every embedding by
`(1 - 0.15 * 0.8) / (1 - observed share of <mask> tokens)`, the share counted over the real tokens
(BOS and EOS included) of the sequence, or of each window for windowed records. The rescaling
applies at inference too, so imported weights reproduce the published outputs.

The embedder also owns the optional contact-regression layer of ESM (a logistic regression over
every layer's and head's symmetrised, APC-corrected attention); it is not used in `forward` but is
saved with the model, because the engine's model has no slot for auxiliary heads.
"""

from __future__ import annotations

import torch
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.engine.context import Embedded
from torch import Tensor, nn

from . import alphabet

MASK_RATIO_TRAIN = 0.15 * 0.8  # share of tokens replaced by <mask> in every ESM training run


class ContactRegression(nn.Module):
    """ESM's contact head: logistic regression over (layers x heads) attention features per residue pair."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.regression = nn.Linear(features, 1)

    def forward(self, features: Tensor) -> Tensor:
        """(..., L, L, layers * heads) -> contact probabilities (..., L, L)."""
        return torch.sigmoid(self.regression(features).squeeze(-1))


class EsmEmbedder(nn.Module):
    """ESM token ids (B, T) -> Embedded; `pool_mask` keeps residue tokens only (no BOS / EOS / padding).

    Settings: `domain_options.token_dropout` (default True, as in ESM-2) and
    `domain_options.contact_head` (default False; set by importers when the weights carry one).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(alphabet.VOCAB_SIZE, config.dim, padding_idx=alphabet.PAD)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        self.token_embedding.weight.data[alphabet.PAD].zero_()
        self.token_dropout = bool(config.option("token_dropout", True))
        self.contact_head = ContactRegression(config.depth * config.heads) if config.option("contact_head", False) else None

    def forward(self, batch: TokenBatch) -> Embedded:
        """Embed `batch.ids`; padding rows are zero, as in ESM."""
        if batch.ids is None:
            raise ValueError("the protein embedder needs a batch with token ids")
        ids, real = batch.ids, batch.padding_mask
        hidden = self.token_embedding(ids)  # (B, T, D)
        if self.token_dropout:
            masked = ids == alphabet.MASK
            hidden = hidden.masked_fill(masked[..., None], 0.0)
            observed = _mask_share(masked, real, batch.extras.get("slots"))  # (B, T)
            hidden = hidden * (1 - MASK_RATIO_TRAIN) / (1 - observed)[..., None]
        hidden = hidden * real[..., None].to(hidden.dtype)
        keep = batch.extras.get("keep")
        if keep is None:  # a batch built without the protein tokenizer: residues are the non-special tokens
            keep = real & ~torch.isin(ids, torch.tensor(alphabet.SPECIAL_IDS, device=ids.device))
        return Embedded(hidden, real, keep & real, batch.positions)


def _mask_share(masked: Tensor, real: Tensor, slots: Tensor | None) -> Tensor:
    """(B, T) share of <mask> among the real tokens of each token's sequence (or window)."""
    batch, length = masked.shape
    windows = 1 if slots is None else slots.shape[1]
    per_window = (batch, windows, length // windows)
    count = masked.view(per_window).sum(-1).to(torch.float32)  # (B, W)
    total = real.view(per_window).sum(-1).clamp(min=1).to(torch.float32)
    return (count / total).repeat_interleave(length // windows, dim=1)  # (B, T)
