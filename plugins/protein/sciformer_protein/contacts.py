"""Contact maps from attention, as ESM predicts them, exported as arrays and PNG.

Every layer's and head's attention map (BOS / EOS rows and columns removed) is symmetrised
(A + A^T) and APC-corrected (A - rowsum * colsum / total); ESM's logistic regression over these
(layers x heads) features gives a contact probability per residue pair. A model without imported
regression weights can still give the unsupervised map: the mean of the corrected features
(`method="apc"`; a score, not a probability). Windowed long sequences are predicted per window and
averaged where windows overlap; pairs that share no window are NaN.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sciformer.attention_maps import save_matrix_png
from sciformer.engine.model import SciformerModel
from sciformer.errors import ConfigError
from sciformer.inference import run_encoded
from sciformer.records import Record
from torch import Tensor

from .tokenizer import ProteinTokenizer

METHODS = ("regression", "apc")


def symmetrize(x: Tensor) -> Tensor:
    """A + A^T over the last two axes."""
    return x + x.transpose(-1, -2)


def apc(x: Tensor) -> Tensor:
    """Average product correction over the last two axes."""
    row = x.sum(-1, keepdim=True)
    column = x.sum(-2, keepdim=True)
    total = x.sum((-1, -2), keepdim=True)
    return x - row * column / total


def contact_features(maps: Tensor) -> Tensor:
    """(layers, heads, N, N) attention of `<cls> residues <eos>` -> (N-2, N-2, layers * heads) features."""
    residues = maps[..., 1:-1, 1:-1].float()  # drop BOS and EOS
    channels = residues.reshape(-1, *residues.shape[-2:])  # (layers * heads, L, L), layer-major as ESM
    return apc(symmetrize(channels)).permute(1, 2, 0)


def window_features(model: SciformerModel, tokenizer: ProteinTokenizer, record: Record) -> Iterator[tuple[Tensor, Tensor]]:
    """Per window of one sequence: its residue positions (W,) and their contact features (W, W, layers * heads)."""
    encoding = tokenizer.encode(record)
    for _, batch, output in run_encoded(model, tokenizer, [encoding], [record.id], need_weights=True):
        maps = torch.stack([a[0] for a in output.attentions]).float().cpu()  # (layers, heads, T, T)
        slot = tokenizer.slot if encoding.windows > 1 else maps.shape[-1]
        index = batch.extras["residue_index"][0].cpu()
        for window in range(encoding.windows):
            span = slice(window * slot, window * slot + int((batch.padding_mask[0, window * slot : (window + 1) * slot]).sum()))
            yield index[span][1:-1], contact_features(maps[..., span, span])


def predict_contacts(model: SciformerModel, tokenizer: ProteinTokenizer, record: Record, method: str = "regression") -> np.ndarray:
    """(L, L) contact probabilities (`regression`) or APC scores (`apc`) for one sequence."""
    if method not in METHODS:
        raise ConfigError(f"unknown contact method {method!r}; choose one of {list(METHODS)}")
    head = getattr(model.embedder, "contact_head", None)
    if method == "regression" and head is None:
        raise ConfigError("this model has no contact-regression weights (import ESM-2 weights that carry them, or fit them: sciformer protein fit-contacts); use method 'apc' for unsupervised scores")
    length = tokenizer.encode(record).length
    total = torch.zeros(length, length)
    count = torch.zeros(length, length)
    for residues, features in window_features(model, tokenizer, record):
        with torch.inference_mode():
            scores = head(features.to(head.regression.weight.dtype)).float() if method == "regression" else features.mean(-1)
        total[residues[:, None], residues[None, :]] += scores.cpu()
        count[residues[:, None], residues[None, :]] += 1
    return torch.where(count > 0, total / count.clamp(min=1), torch.full_like(total, float("nan"))).numpy()


def save_contact_png(contacts: np.ndarray, path: str | Path, title: str) -> Path:
    """Write an (L, L) contact map as a PNG heatmap (residue numbers from 1)."""

    def draw(axes: Any) -> Any:
        length = contacts.shape[0]
        image = axes.imshow(contacts, cmap="Blues", origin="upper", extent=(0.5, length + 0.5, length + 0.5, 0.5))
        axes.set_xlabel("residue")
        axes.set_ylabel("residue")
        return image

    return save_matrix_png(draw, path, title, (6, 5.2))
