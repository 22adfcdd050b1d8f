"""Per-residue log-probabilities of a masked-LM protein model: with nothing masked, or one residue masked at a time."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
from sciformer.engine.model import SciformerModel
from sciformer.errors import ConfigError
from sciformer.inference import run_encoded
from sciformer.records import Record
from torch import Tensor

from . import alphabet
from .inference import residue_positions
from .tokenizer import ProteinEncoding, ProteinTokenizer


def require_lm(model: SciformerModel) -> None:
    """Raise unless the model has ESM's masked-LM head (needed for likelihoods and variant scores)."""
    if model.config.task != "mlm":
        raise ConfigError(f"this needs a masked-LM protein model (task 'mlm'); the model's task is {model.config.task!r}")


def wild_type_log_probs(model: SciformerModel, tokenizer: ProteinTokenizer, record: Record, batch_tokens: int | None = None) -> Tensor:
    """(L, V) log-softmax over the vocabulary at every residue of the unmasked sequence."""
    require_lm(model)
    encoding = tokenizer.encode(record)
    for _, batch, output in run_encoded(model, tokenizer, [encoding], [record.id], batch_tokens=batch_tokens):
        return output.prediction[0, residue_positions(batch, 0)].float().log_softmax(dim=-1).cpu()
    raise AssertionError("unreachable")


def masked_log_probs(
    model: SciformerModel,
    tokenizer: ProteinTokenizer,
    record: Record,
    positions: Sequence[int],
    batch_tokens: int | None = None,
) -> Tensor:
    """(len(positions), V) log-softmax at each 0-based residue position with that residue masked.

    One forward pass per position (batched): the residue is replaced by `<mask>` in every window
    that holds it, and the prediction is read at its kept copy.
    """
    require_lm(model)
    encoding = tokenizer.encode(record)
    copies = [_masked(encoding, p) for p in positions]
    out = torch.empty(len(positions), alphabet.VOCAB_SIZE)
    for rows, batch, output in run_encoded(model, tokenizer, copies, [record.id] * len(copies), batch_tokens=batch_tokens):
        for row, index in enumerate(rows):
            token = residue_positions(batch, row)[positions[index]]
            out[index] = output.prediction[row, token].float().log_softmax(dim=-1).cpu()
    return out


def _masked(encoding: ProteinEncoding, position: int) -> ProteinEncoding:
    ids = encoding.ids.clone()
    ids[encoding.residue_index == position] = alphabet.MASK
    return dataclasses.replace(encoding, ids=ids)
