"""TokenBatch: what a tokenizer hands the model, and helpers to build one from per-record tensors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor


@dataclass
class TokenBatch:
    """A padded batch of B records.

    Tokens run along T, padded on the right. `ids` (B, T) holds token ids for vocabulary domains;
    `features` holds float inputs for continuous domains (its shape is the domain's: (B, T, F) for
    atoms, (B, C, H, W) for images); `padding_mask` (B, T) is True for real input positions;
    `positions` (B, T) counts from 0 per record; `extras` carries domain tensors whose first axis is B
    (distances, adjacency, ...); `targets` holds training labels; `record_ids` names each row.
    """

    padding_mask: Tensor
    record_ids: list[str]
    ids: Tensor | None = None
    features: Tensor | None = None
    positions: Tensor | None = None
    extras: dict[str, Tensor] = field(default_factory=dict)
    targets: Tensor | None = None

    def __post_init__(self) -> None:
        if self.positions is None:
            length = self.padding_mask.shape[1]
            self.positions = torch.arange(length, device=self.padding_mask.device).expand_as(self.padding_mask)

    @property
    def size(self) -> int:
        """Number of records B."""
        return self.padding_mask.shape[0]

    @property
    def lengths(self) -> Tensor:
        """Real input positions per record, (B,)."""
        return self.padding_mask.sum(dim=1)

    def to(self, device: torch.device | str) -> TokenBatch:
        """The same batch with every tensor on `device`."""

        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device, non_blocking=True)

        return replace(
            self,
            padding_mask=move(self.padding_mask),
            ids=move(self.ids),
            features=move(self.features),
            positions=move(self.positions),
            extras={k: v.to(device, non_blocking=True) for k, v in self.extras.items()},
            targets=move(self.targets),
        )


def pad_sequences(sequences: Sequence[Tensor], value: float = 0) -> tuple[Tensor, Tensor]:
    """Right-pad 1-D or (T, F) tensors to (B, T[, F]); returns (padded, padding_mask)."""
    if not sequences:
        raise ValueError("pad_sequences needs at least one sequence")
    longest = max(s.shape[0] for s in sequences)
    first = sequences[0]
    padded = first.new_full((len(sequences), longest, *first.shape[1:]), value)
    mask = torch.zeros(len(sequences), longest, dtype=torch.bool)
    for row, seq in enumerate(sequences):
        padded[row, : seq.shape[0]] = seq
        mask[row, : seq.shape[0]] = True
    return padded, mask


def pad_square(matrices: Sequence[Tensor], value: float = 0.0) -> Tensor:
    """Pad (T, T[, ...]) matrices, such as distances, to (B, Tmax, Tmax[, ...])."""
    longest = max(m.shape[0] for m in matrices)
    first = matrices[0]
    out = first.new_full((len(matrices), longest, longest, *first.shape[2:]), value)
    for row, m in enumerate(matrices):
        out[row, : m.shape[0], : m.shape[1]] = m
    return out
