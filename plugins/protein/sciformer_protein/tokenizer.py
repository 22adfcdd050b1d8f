"""The protein tokenizer: residue strings -> ESM token ids with BOS and EOS, windowed when too long.

Layout of one record (`ProteinEncoding.ids`): `<cls> residues <eos>`. A record longer than
`max_residues` is either truncated to its first `max_residues` residues (`long_sequences: truncate`,
as ESM's extraction script does) or cut into overlapping windows (`long_sequences: window`, the
default): the windows lie back to back, each exactly `max_residues + 2` tokens (a "slot"), and the
batch carries `extras["slots"]` so attention runs within each window (see attention.py). Every batch
carries `extras["residue_index"]` (0-based residue of each token, -1 for BOS / EOS / padding) and
`extras["keep"]` (the one copy of each residue whose output counts), from which per-residue outputs
are stitched and mean pooling is taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch, pad_sequences
from sciformer.domain import VocabularyTokenizer
from sciformer.engine.heads import IGNORE_INDEX
from sciformer.errors import BadRecordError, ConfigError
from sciformer.records import Record
from sciformer.targets import encode_target
from torch import Tensor

from . import alphabet
from .windows import kept_window, window_starts

LONG_SEQUENCE_MODES = ("window", "truncate")
DEFAULT_MAX_RESIDUES = 1022  # ESM-2 was trained on crops of 1022 residues plus BOS and EOS
DEFAULT_OVERLAP = 256


@dataclass(frozen=True)
class ProteinEncoding:
    """One tokenized record: token ids in the window layout, with what is needed to stitch outputs.

    `target` is a class index or value (sequence tasks), a (N,) tensor of per-token labels with
    IGNORE_INDEX where no label counts (residue tasks), or None.
    """

    ids: Tensor  # (N,) long
    residue_index: Tensor  # (N,) long, -1 for BOS / EOS
    keep: Tensor  # (N,) bool
    windows: int
    length: int  # residues after any truncation
    target: Any = None
    truncated_from: int | None = None  # the record's residues when `long_sequences: truncate` cut it


def window_layout(residues: Tensor, starts: list[int], size: int) -> tuple[Tensor, Tensor, Tensor]:
    """Token ids, residue index and keep flags (N,) of `<cls> window <eos>` for each window start, windows
    back to back; each residue is kept in the window that holds it most centrally."""
    length = len(residues)
    if len(starts) == 1:  # the common case: one window of the whole sequence
        index = torch.cat([torch.tensor([-1]), torch.arange(length), torch.tensor([-1])])
        ids = torch.cat([torch.tensor([alphabet.CLS]), residues, torch.tensor([alphabet.EOS])])
        keep = index >= 0
        return ids, index, keep
    owner = kept_window(length, starts, size)
    spans = [torch.arange(start, min(start + size, length)) for start in starts]
    edge = torch.tensor([-1])
    index = torch.cat([part for span in spans for part in (edge, span, edge)])
    number = torch.cat([torch.full((len(span) + 2,), window) for window, span in enumerate(spans)])
    keep = (index >= 0) & (owner[index.clamp(min=0)] == number)
    ids = torch.where(index >= 0, residues[index.clamp(min=0)], torch.tensor(alphabet.CLS))
    ends = torch.cumsum(torch.tensor([len(span) + 2 for span in spans]), 0) - 1
    ids[ends] = alphabet.EOS
    return ids, index, keep


class ProteinTokenizer(VocabularyTokenizer):
    """ESM tokenization of protein sequences (see the module docstring for the layout).

    Settings from `config.domain_options`: `max_residues` (default 1022), `long_sequences`
    ("window" or "truncate"), `window_overlap` (default 256, at most a quarter of `max_residues`
    when that is smaller), and `unlabelled` (the character that marks residues without a label in
    residue-level targets, default ".").
    """

    vocab_size = alphabet.VOCAB_SIZE
    padding_id = alphabet.PAD
    mask_id = alphabet.MASK
    special_ids = alphabet.SPECIAL_IDS

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self.max_residues = int(config.option("max_residues", DEFAULT_MAX_RESIDUES))
        if self.max_residues < 1:
            raise ConfigError(f"domain_options.max_residues must be positive, got {self.max_residues}")
        self.long_sequences = config.option("long_sequences", "window")
        if self.long_sequences not in LONG_SEQUENCE_MODES:
            raise ConfigError(f"domain_options.long_sequences must be one of {list(LONG_SEQUENCE_MODES)}, got {self.long_sequences!r}")
        self.overlap = int(config.option("window_overlap", min(DEFAULT_OVERLAP, self.max_residues // 4)))
        window_starts(1, self.max_residues, self.overlap)  # validates the overlap
        self.slot = self.max_residues + 2
        self.unlabelled = str(config.option("unlabelled", "."))
        self.residue_task = config.task == "token-classification"

    # -- one record -------------------------------------------------------------------------------

    def encode(self, record: Record) -> ProteinEncoding:
        """A record holding a residue string -> its encoding; raises BadRecordError for a bad record."""
        if record.error:
            raise BadRecordError(record.id, record.error)
        if not isinstance(record.data, str):
            raise BadRecordError(record.id, f"a protein record must be a sequence string, got {type(record.data).__name__}")
        sequence = record.data.strip()
        if not sequence:
            raise BadRecordError(record.id, "empty sequence")
        residues = alphabet.residue_ids(sequence, record.id)
        labels = self._residue_labels(record, len(residues)) if self.residue_task else None
        truncated_from = None
        if len(residues) > self.max_residues and self.long_sequences == "truncate":
            truncated_from = len(residues)
            residues = residues[: self.max_residues]
            labels = labels[: self.max_residues] if labels is not None else None
        length = len(residues)
        starts = window_starts(length, self.max_residues, self.overlap)
        ids_t, index_t, keep_t = window_layout(torch.from_numpy(residues), starts, self.max_residues)
        if labels is not None:
            target: Any = torch.where(keep_t, labels[index_t.clamp(min=0)], torch.full_like(index_t, IGNORE_INDEX))
        else:
            target = encode_target(record, self.config)
        return ProteinEncoding(ids_t, index_t, keep_t, len(starts), length, target, truncated_from)

    def warning(self, encoded: ProteinEncoding) -> str | None:
        """Says that a record was cut to the model's first `max_residues` residues."""
        if encoded.truncated_from is None:
            return None
        return f"truncated: the model saw the first {self.max_residues} of {encoded.truncated_from:,} residues (long_sequences: truncate)"

    def _residue_labels(self, record: Record, length: int) -> Tensor | None:
        """(L,) class indices of a per-residue label string; IGNORE_INDEX for unlabelled residues."""
        if record.target is None:
            return None
        labels = record.target if isinstance(record.target, str) else "".join(map(str, record.target))
        if len(labels) != length:
            raise BadRecordError(record.id, f"{len(labels)} residue labels for {length} residues")
        names = {name: index for index, name in enumerate(self.config.labels)}
        values = []
        for position, label in enumerate(labels, start=1):
            if label == self.unlabelled:
                values.append(IGNORE_INDEX)
            elif label in names:
                values.append(names[label])
            else:
                raise BadRecordError(record.id, f"residue label {label!r} at position {position} is not one of {list(self.config.labels)} (or {self.unlabelled!r} for none)")
        return torch.tensor(values, dtype=torch.long)

    # -- batches ----------------------------------------------------------------------------------

    def collate(self, encoded: Sequence[ProteinEncoding], record_ids: Sequence[str]) -> TokenBatch:
        """Right-pad encodings into a TokenBatch; windowed records get the slot layout."""
        windows = max(e.windows for e in encoded)
        if windows == 1:
            ids, padding_mask = pad_sequences([e.ids for e in encoded], value=alphabet.PAD)
            positions = None
        else:
            length = windows * self.slot
            ids = torch.full((len(encoded), length), alphabet.PAD, dtype=torch.long)
            padding_mask = torch.zeros(len(encoded), length, dtype=torch.bool)
            for row, e in enumerate(encoded):
                ids[row, : e.ids.shape[0]] = e.ids
                padding_mask[row, : e.ids.shape[0]] = True
            positions = (torch.arange(length) % self.slot).expand(len(encoded), length)
        extras = {
            "residue_index": _pad([e.residue_index for e in encoded], ids.shape[1], -1),
            "keep": _pad([e.keep for e in encoded], ids.shape[1], False),
            "truncated": torch.tensor([e.truncated_from is not None for e in encoded]),
        }
        if windows > 1:
            extras["slots"] = torch.arange(windows)[None, :] < torch.tensor([e.windows for e in encoded])[:, None]  # (B, W)
        return TokenBatch(padding_mask=padding_mask, record_ids=list(record_ids), ids=ids, positions=positions, extras=extras, targets=self._targets(encoded, ids.shape[1]))

    def _targets(self, encoded: Sequence[ProteinEncoding], length: int) -> Tensor | None:
        targets = [e.target for e in encoded]
        if any(t is None for t in targets):
            return None
        if self.residue_task:
            return _pad(targets, length, IGNORE_INDEX)
        return torch.tensor(targets)

    def num_tokens(self, encoded: ProteinEncoding) -> int:
        """Tokens of the record including BOS / EOS of every window."""
        return int(encoded.ids.shape[0])

    def tokens(self, ids: Sequence[int]) -> list[str]:
        """Readable tokens for ids."""
        return alphabet.token_strings(list(ids))


def _pad(rows: Sequence[Tensor], length: int, value: int | bool) -> Tensor:
    """Right-pad 1-D tensors to (B, length)."""
    out = rows[0].new_full((len(rows), length), value)
    for row, values in enumerate(rows):
        out[row, : values.shape[0]] = values
    return out
