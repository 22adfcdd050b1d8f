"""Reading a protein model's outputs: layer representations, per-residue stitching, per-residue classes.

Layers are numbered as ESM numbers them: 0 is the embedding output, i the output of block i, and the
last layer (`depth`, or -1) is taken after the final layer norm, as ESM's `representations` and
transformers' last `hidden_states` entry are.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from sciformer.data.batch import TokenBatch
from sciformer.engine.model import ModelOutput, SciformerModel
from sciformer.errors import BadRecordError, ConfigError
from sciformer.inference import run_encoded
from sciformer.records import Record
from torch import Tensor

from .tokenizer import ProteinEncoding, ProteinTokenizer


def resolve_layer(layer: int, depth: int) -> int:
    """A layer number in 0..depth (negative numbers count from the end, -1 = last)."""
    resolved = layer + depth + 1 if layer < 0 else layer
    if not 0 <= resolved <= depth:
        raise ConfigError(f"layer {layer} does not exist: the model has layers 0..{depth} (or -{depth + 1}..-1)")
    return resolved


def layer_output(output: ModelOutput, layer: int, depth: int) -> Tensor:
    """(B, T, D) representation of one layer (the last one after the final layer norm)."""
    resolved = resolve_layer(layer, depth)
    if resolved == depth:
        return output.hidden
    if output.hidden_states is None:
        raise ValueError("run the model with output_hidden_states=True to read inner layers")
    return output.hidden_states[resolved]


def residue_positions(batch: TokenBatch, row: int) -> Tensor:
    """Token positions holding the kept copy of each residue of record `row`, in residue order."""
    keep = batch.extras["keep"][row]
    positions = keep.nonzero().squeeze(-1)
    order = batch.extras["residue_index"][row, positions].argsort()
    return positions[order]


def encode_all(tokenizer: ProteinTokenizer, records: Iterable[Record]) -> Iterator[tuple[Record, ProteinEncoding | None, str | None]]:
    """Each record with its encoding, or None and the reason it is bad."""
    for record in records:
        try:
            yield record, tokenizer.encode(record), None
        except BadRecordError as error:
            yield record, None, error.reason


@dataclass
class ResiduePrediction:
    """Per-residue classes of one record (one label letter or name per residue) and their probabilities (L, K)."""

    record_id: str
    labels: list[str] | None = None
    probabilities: np.ndarray | None = None
    error: str | None = None


def predict_residues(model: SciformerModel, tokenizer: ProteinTokenizer, records: Iterable[Record], *, batch_tokens: int | None = None) -> Iterator[ResiduePrediction]:
    """Residue-level predictions of a token-classification model, stitched across windows, in input order."""
    if model.config.task != "token-classification":
        raise ConfigError(f"per-residue predictions need a token-classification model; the model's task is {model.config.task!r}")
    names = list(model.config.labels) or [str(i) for i in range(model.config.num_labels)]
    items = list(encode_all(tokenizer, records))
    results = [ResiduePrediction(record.id, error=error) for record, _, error in items]
    good = [i for i, (_, encoding, _) in enumerate(items) if encoding is not None]
    encoded = [items[i][1] for i in good]
    for rows, batch, output in run_encoded(model, tokenizer, encoded, [items[i][0].id for i in good], batch_tokens=batch_tokens):
        for row, index in enumerate(rows):
            probabilities = output.prediction[row, residue_positions(batch, row)].float().softmax(-1).cpu().numpy()  # (L, K)
            results[good[index]].probabilities = probabilities
            results[good[index]].labels = [names[k] for k in probabilities.argmax(-1)]
    yield from results
