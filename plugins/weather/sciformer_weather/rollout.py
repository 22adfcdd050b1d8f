"""Autoregressive rollout: each forecast becomes the next input, for as many model steps as asked."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sciformer.data.batch import TokenBatch
from sciformer.engine.model import SciformerModel
from sciformer.errors import ConfigError
from torch import Tensor

from .normalise import Normaliser
from .options import WeatherOptions


def rollout(model: SciformerModel, fields: Tensor, steps: int, hours: Tensor | None = None) -> Tensor:
    """Normalised fields (B, C, H, W) -> forecasts (steps, B, C, H, W), each fed back as the next input.

    `hours` (B,) are the UTC hours of day of the initial fields, needed by models with time features;
    each step advances them by the model's `step_hours`.
    """
    if steps < 1:
        raise ConfigError(f"a rollout needs at least one step, got {steps}")
    options = WeatherOptions.from_config(model.config)
    mask = torch.ones(fields.shape[0], options.num_tokens, dtype=torch.bool, device=fields.device)
    if options.time_features and hours is None:
        raise ConfigError("this model uses the time of day: give the UTC hours of the initial fields")
    batch = TokenBatch(padding_mask=mask, record_ids=[str(i) for i in range(fields.shape[0])], features=fields)
    if hours is not None:
        batch.extras["hour"] = hours.to(fields.device).float() % 24.0
    outputs = []
    for step in range(steps):
        outputs.append(model(batch).prediction.float())
        if step + 1 < steps:
            batch = next_batch(batch, outputs[-1], options)
    return torch.stack(outputs)


def next_batch(batch: TokenBatch, prediction: Tensor, options: WeatherOptions) -> TokenBatch:
    """The batch one model step later: `prediction` (B, C, H, W) as its fields, its UTC hours and input
    times advanced by the model step (the engine's `next_input` for rollout training)."""
    following = TokenBatch(padding_mask=batch.padding_mask, record_ids=batch.record_ids, features=prediction)
    step_hours = options.step_hours or 0.0
    if "hour" in batch.extras:
        following.extras["hour"] = (batch.extras["hour"] + step_hours) % 24.0
    if "init_time" in batch.extras:
        following.extras["init_time"] = batch.extras["init_time"] + step_hours * 3600.0
    return following


def steps_for(leads: Sequence[int], step: int) -> list[int]:
    """Model steps for lead times given in time indices; each must be a positive multiple of the model
    step (`step` time indices)."""
    bad = [lead for lead in leads if lead < 1 or lead % step]
    if bad:
        raise ConfigError(f"lead times {bad} are not positive multiples of the model step ({step} time steps)")
    return [lead // step for lead in leads]


class Forecaster:
    """A trained model with its normalisation: physical fields in, physical forecasts out."""

    def __init__(self, model: SciformerModel, device: str = "cpu", dtype: str = "float32") -> None:
        self.model = model.to(device).eval()
        self.options = WeatherOptions.from_config(model.config)
        self.normaliser = Normaliser.of(self.options)
        self.device = device
        self.dtype = dtype

    @property
    def step(self) -> int:
        """Time indices one model step advances."""
        return self.options.step

    def steps_for(self, leads: Sequence[int]) -> list[int]:
        """Model steps for lead times given in time indices; each must be a multiple of the model step."""
        return steps_for(leads, self.step)

    def forecast(self, fields: np.ndarray, steps: int, hours: np.ndarray | None = None) -> np.ndarray:
        """(B, C, H, W) physical -> (steps, B, C, H, W) physical; non-finite inputs filled with the channel mean.

        `hours` (B,): UTC hours of day of the inputs, for models with time features."""
        filled = np.where(np.isfinite(fields), fields, self.normaliser.mean)
        inputs = torch.from_numpy(self.normaliser.forward(filled)).to(self.device)
        device_type = torch.device(self.device).type
        with torch.inference_mode(), torch.autocast(device_type, dtype=torch.bfloat16, enabled=self.dtype == "bfloat16"):
            outputs = rollout(self.model, inputs, steps, None if hours is None else torch.as_tensor(hours, dtype=torch.float32))
        return self.normaliser.inverse(outputs.float().cpu().numpy())
