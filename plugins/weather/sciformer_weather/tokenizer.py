"""The weather tokenizer: a record's fields -> normalised (C, H, W) tensors; the embedder makes the patches.

Non-finite values (NaN, inf) make a record bad by default (`nan_policy: bad`). With `nan_policy: fill`
they are filled with the channel's training mean (0 after normalisation) in the input, and left out of
the loss in the target (`extras["target_mask"]` is False there).

A record read with the `rollout` option (k) has k targets, encoded as one (k, C, H, W) target.

A scoring record read with the `leads` option carries its truths instead of a target: they are loaded
as they are, in physical units (NaN where a lead has no truth; points that are not finite are left out
of the skill scores, not rejected), with the input in physical units for the persistence baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.domain import Tokenizer
from sciformer.errors import BadRecordError
from sciformer.records import Record
from torch import Tensor

from .matching import mismatch
from .normalise import Normaliser
from .options import WeatherOptions
from .reader import LeadTruths, RolloutTargets
from .sources import FieldRef


class Truths(NamedTuple):
    """The truths of a scoring record: fields (L, C, H, W) and their UTC hours of day (L,), physical
    units, NaN where a lead has no truth; and the input field (C, H, W) in physical units."""

    fields: Tensor
    hours: Tensor
    input: Tensor


class FieldEncoding(NamedTuple):
    """One encoded record: normalised input (C, H, W), target (C, H, W) (a rollout's: (k, C, H, W)) or
    None, target mask or None,
    the input's UTC hour of day and time (seconds since 1970-01-01 UTC; None when unknown), and a
    scoring record's truths (None otherwise)."""

    features: Tensor
    target: Tensor | None
    target_mask: Tensor | None
    hour: float | None = None
    truths: Truths | None = None
    time: int | None = None


class FieldTokenizer(Tokenizer):
    """Loads, checks and normalises fields; every record of a model has the same grid, so nothing is padded."""

    def __init__(self, config: ModelConfig) -> None:
        self.options = WeatherOptions.from_config(config)
        self.normaliser = Normaliser.of(self.options)

    def encode(self, record: Record) -> FieldEncoding:
        """A record -> FieldEncoding; raises BadRecordError for a wrong shape, wrong channels, units or
        coordinates (`matching.py`) or non-finite values."""
        if record.error:
            raise BadRecordError(record.id, record.error)
        hour = record.data.hour if isinstance(record.data, FieldRef) else None
        time = record.data.time if isinstance(record.data, FieldRef) else None
        if self.options.time_features and hour is None:
            raise BadRecordError(record.id, "the model uses the time of day, but the record has no time stamp")
        array = self._load(record, record.data, "input")
        features, _ = self._normalise(record, array, "input")
        if isinstance(record.target, LeadTruths):
            return FieldEncoding(features, None, None, hour, self._truths(record, record.target, array), time)
        if record.target is None:
            return FieldEncoding(features, None, None, hour, time=time)
        if isinstance(record.target, RolloutTargets):
            target, mask = self._rollout_targets(record, record.target)
            return FieldEncoding(features, target, mask, hour, time=time)
        target, mask = self._normalise(record, self._load(record, record.target, "target"), "target")
        return FieldEncoding(features, target, mask, hour, time=time)

    def _rollout_targets(self, record: Record, targets: RolloutTargets) -> tuple[Tensor, Tensor | None]:
        """The normalised targets of each rollout step (k, C, H, W) and, where any has gaps, their mask."""
        steps = [self._normalise(record, self._load(record, ref, f"target {n}"), f"target {n}") for n, ref in enumerate(targets.fields, 1)]
        fields = torch.stack([field for field, _ in steps])
        if all(mask is None for _, mask in steps):
            return fields, None
        return fields, torch.stack([torch.ones_like(field, dtype=torch.bool) if mask is None else mask for field, mask in steps])

    def _truths(self, record: Record, truths: LeadTruths, input_field: np.ndarray) -> Truths:
        """The truth at each lead as loaded (NaN where there is none), their hours, the physical input."""
        missing = np.full((len(self.options.channels), *self.options.grid), np.nan, dtype=np.float32)
        fields = [missing if ref is None else self._load(record, ref, f"truth at lead {lead}") for lead, ref in zip(truths.leads, truths.fields)]
        hours = [np.nan if ref is None or ref.hour is None else ref.hour for ref in truths.fields]
        return Truths(torch.from_numpy(np.stack(fields)), torch.tensor(hours, dtype=torch.float32), torch.from_numpy(input_field))

    def _load(self, record: Record, value: Any, role: str) -> np.ndarray:
        """Load and check one field: (C, H, W) float32 in physical units."""
        if isinstance(value, FieldRef):
            if value.grid.channels != self.options.channels:
                raise BadRecordError(record.id, f"{role} channels {list(value.grid.channels)} differ from the model's {list(self.options.channels)}")
            problem = mismatch(value.grid, self.options, value.spec.path)
            if problem:
                raise BadRecordError(record.id, problem)
            try:
                value = value.load()
            except (OSError, IndexError) as error:
                raise BadRecordError(record.id, f"{role} field cannot be read ({error})") from error
        try:
            array = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError):
            raise BadRecordError(record.id, f"{role} must be a (channel, lat, lon) array of numbers, got {type(value).__name__}") from None
        expected = (len(self.options.channels), *self.options.grid)
        if array.ndim == 2 and expected[0] == 1:
            array = array[None]
        if array.shape != expected:
            raise BadRecordError(record.id, f"{role} has shape {array.shape}; the model takes (channel, lat, lon) = {expected}")
        return array

    def _normalise(self, record: Record, array: np.ndarray, role: str) -> tuple[Tensor, Tensor | None]:
        """Check a field for non-finite values (by the NaN policy) and normalise it; returns it and (fill
        policy only) its finite mask."""
        expected = array.shape
        finite = np.isfinite(array)
        mask = None
        if not finite.all():
            if self.options.nan_policy == "bad":
                counts = (~finite).reshape(expected[0], -1).sum(axis=1)
                where = ", ".join(f"{name}: {int(n)}" for name, n in zip(self.options.channels, counts) if n)
                raise BadRecordError(record.id, f"{role} has non-finite values (NaN/inf) ({where}); set domain_options.nan_policy: fill to mask them")
            array = np.where(finite, array, self.normaliser.mean)
            mask = torch.from_numpy(finite)
        return torch.from_numpy(self.normaliser.forward(array)), mask

    def collate(self, encoded: Sequence[FieldEncoding], record_ids: Sequence[str]) -> TokenBatch:
        """Stack fields (B, C, H, W); targets when every record has one; a target mask when any has gaps;
        `extras["init_time"]` (B,) the inputs' times (float64 seconds since 1970-01-01 UTC, NaN when unknown);
        for scoring records, `extras` `truths` (B, L, C, H, W), `truth_hours` (B, L) and `input_fields`
        (B, C, H, W), physical units."""
        features = torch.stack([e.features for e in encoded])
        tokens = self.options.num_tokens
        batch = TokenBatch(padding_mask=torch.ones(len(encoded), tokens, dtype=torch.bool), record_ids=list(record_ids), features=features)
        batch.extras["init_time"] = torch.tensor([np.nan if e.time is None else e.time for e in encoded], dtype=torch.float64)
        if all(e.hour is not None for e in encoded):
            batch.extras["hour"] = torch.tensor([e.hour for e in encoded], dtype=torch.float32)
        if all(e.target is not None for e in encoded):
            batch.targets = torch.stack([e.target for e in encoded])
            if any(e.target_mask is not None for e in encoded):
                full = torch.ones_like(encoded[0].target, dtype=torch.bool)
                batch.extras["target_mask"] = torch.stack([full if e.target_mask is None else e.target_mask for e in encoded])
        if all(e.truths is not None for e in encoded):
            batch.extras["truths"] = torch.stack([e.truths.fields for e in encoded])
            batch.extras["truth_hours"] = torch.stack([e.truths.hours for e in encoded])
            batch.extras["input_fields"] = torch.stack([e.truths.input for e in encoded])
        return batch

    def num_tokens(self, encoded: FieldEncoding) -> int:
        """Patches per field (the same for every record of a model)."""
        return self.options.num_tokens
