"""`sciformer score` for forecasters: a forecast at each lead time and, where the file holds the truth,
latitude-weighted RMSE and ACC per record, lead and channel next to persistence and climatology.

Per record (N rows), leads in time steps of the file (reader option `leads`, default one model step):

    init_time           ()            the input's time, seconds since 1970-01-01 UTC (NaN when unknown)
    forecast            (L, C, H, W)  physical units; lead 1 step is the model's own prediction, later
                                      leads are rollouts from it
    truth               (L, C, H, W)  the file's field at each lead, NaN beyond the file (not by default)
    rmse_<forecaster>   (L, C)        forecaster: model, persistence, climatology; NaN without a truth
    acc_<forecaster>    (L, C)        anomaly correlation against the climatology (needs one)

and in the finished file, `skill/rmse_<forecaster>`, `skill/acc_<forecaster>` (L, C): the means over the
scored rows that have the truth at that lead, `skill/samples` (L,) how many, and the same as JSON in the
root attribute `skill`. Each row is computed from its own record, so chunks, resumed runs and shards
give the same file; the means are taken once, over the joined file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from sciformer.data.batch import TokenBatch
from sciformer.data.results import STATUS_SCORED
from sciformer.engine.heads import ScoreColumn
from sciformer.engine.model import ModelOutput, SciformerModel
from sciformer.errors import ConfigError, InputFileError
from sciformer.scoring.scorer import ENGINE_COLUMNS, Scorer

from .grid import latitude_weights
from .metrics import weighted_acc, weighted_rmse
from .normalise import Normaliser
from .options import WeatherOptions
from .reader import leads_option
from .rollout import rollout, steps_for
from .stats import Climatology

log = logging.getLogger(__name__)

FORECASTERS = ("model", "persistence", "climatology")  # scored against the truth, in this order
CLIMATOLOGY_FILE = "climatology.h5"  # a checkpoint folder's climatology, used when no `climatology` option is given
SKILL_GROUP = "skill"
TIME_UNITS = "seconds since 1970-01-01 00:00:00"


def find_climatology(options: Mapping[str, Any], checkpoint: Path | None, weather: WeatherOptions) -> Climatology | None:
    """The climatology of reader option `climatology` (a file of `sciformer weather stats --climatology`),
    else the checkpoint folder's `climatology.h5`, else None; it must match the model's channels and grid
    and span at least MIN_CLIMATOLOGY_DAYS days (when it knows its span)."""
    if options.get("climatology"):
        path = Path(str(options["climatology"])).expanduser()
        if not path.is_file():
            raise InputFileError(f"climatology file not found: {path}")
    elif checkpoint is not None and (Path(checkpoint) / CLIMATOLOGY_FILE).is_file():
        path = Path(checkpoint) / CLIMATOLOGY_FILE
    else:
        return None
    climatology = Climatology.load(path)
    climatology.check_days(str(path))
    if climatology.channels != weather.channels or tuple(climatology.fields.shape[-2:]) != weather.grid:
        raise ConfigError(
            f"{path}: the climatology (channels {list(climatology.channels)}, grid {list(climatology.fields.shape[-2:])}) does not match "
            f"the model's (channels {list(weather.channels)}, grid {list(weather.grid)})"
        )
    return climatology


def climatology_at(climatology: Climatology, hours: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(B, L, C, H, W) climatological fields for truths at UTC `hours` (B, L); `present` (B, L) marks
    the leads with a truth (the others get the slot of hour 0; their scores are NaN anyway)."""
    count = hours.size
    if climatology.kind == "mean":
        fields = climatology.at(None, count)
    else:
        known = np.isfinite(hours)
        if np.any(present & ~known):
            raise InputFileError("an hour-of-day climatology needs time stamps in the scored file; give a `mean` climatology instead")
        fields = climatology.at(np.where(known, hours, 0.0).reshape(-1), count)
    return fields.reshape(*hours.shape, *fields.shape[1:])


class ForecastScorer(Scorer):
    """Forecasts at each lead and, for records read with the `leads` option, their skill.

    Options: `leads` (time steps of the file, positive multiples of the model step; with it, the reader
    yields every time index with its truths), `climatology` (a climatology file; default the model
    folder's `climatology.h5`). Without a climatology the climatology baseline and every ACC are left out.
    """

    def __init__(self, model: SciformerModel, options: Mapping[str, Any] | None = None, checkpoint: Path | None = None) -> None:
        super().__init__(model, options)
        self.weather = WeatherOptions.from_config(model.config)
        self.normaliser = Normaliser.of(self.weather)
        requested = leads_option(self.options)
        self.leads: tuple[int, ...] = requested or (self.weather.step,)
        self.steps = steps_for(self.leads, self.weather.step)
        self.with_truth = requested is not None  # records then carry their truths
        self.climatology = find_climatology(self.options, checkpoint, self.weather) if self.with_truth else None
        if self.with_truth and self.climatology is None:
            log.warning(
                "no climatology (option `climatology=FILE`, or %s in the model folder): the climatology baseline and ACC are left out; "
                "make one with `sciformer weather stats FILE --period START:STOP --climatology OUT.h5`", CLIMATOLOGY_FILE,
            )
        self.weights = latitude_weights(self.weather.latitudes, self.weather.grid[0])

    @property
    def forecasters(self) -> tuple[str, ...]:
        """The forecasters scored against the truth."""
        return FORECASTERS if self.climatology is not None else tuple(f for f in FORECASTERS if f != "climatology")

    @property
    def skill_names(self) -> tuple[str, ...]:
        """The per-record skill columns (`rmse_model`, ..., `acc_climatology`), none without truths."""
        if not self.with_truth:
            return ()
        kinds = ("rmse", "acc") if self.climatology is not None else ("rmse",)
        return tuple(f"{kind}_{name}" for kind in kinds for name in self.forecasters)

    def _lead_attributes(self) -> dict[str, Any]:
        attributes: dict[str, Any] = {"leads": list(self.leads), "channels": list(self.weather.channels)}
        if self.weather.step_hours:
            attributes["lead_hours"] = [steps * self.weather.step_hours for steps in self.steps]
        return attributes

    def columns(self) -> dict[str, ScoreColumn]:
        """The engine's `embedding` and `token_embeddings`, `init_time`, `forecast`, and with truths `truth` and skill."""
        columns = {name: column for name, column in super().columns().items() if name in ENGINE_COLUMNS}
        fields = (len(self.leads), len(self.weather.channels), *self.weather.grid)
        lead = self._lead_attributes()
        coordinates = {name: self.model.config.domain_options[name] for name in ("latitudes", "longitudes") if self.model.config.domain_options.get(name)}
        if self.weather.units is not None:
            coordinates["channel_units"] = list(self.weather.units)
        columns["init_time"] = ScoreColumn((), dtype="float64", attributes={"units": TIME_UNITS, "what": "the input's (initial) time; NaN when unknown"})
        columns["forecast"] = ScoreColumn(fields, attributes={**lead, **coordinates, "layout": "(lead, channel, lat, lon)", "units": "physical (de-normalised)"})
        if self.with_truth:
            columns["truth"] = ScoreColumn(fields, attributes={**lead, **coordinates, "layout": "(lead, channel, lat, lon)", "units": "physical; NaN beyond the file"}, default=False)
        for name in self.skill_names:
            what = "latitude-weighted RMSE (physical units)" if name.startswith("rmse") else "latitude-weighted anomaly correlation"
            columns[name] = ScoreColumn((len(self.leads), len(self.weather.channels)), attributes={**lead, "layout": "(lead, channel)", "metric": what})
        return columns

    def values(self, outputs: Sequence[str], result: ModelOutput, batch: TokenBatch) -> dict[str, Any]:
        """Engine columns, forecasts (B, L, C, H, W), truths and skill (B, L, C) of one batch."""
        out = super().values([name for name in outputs if name in ENGINE_COLUMNS], result, batch)
        if "init_time" in outputs:
            out["init_time"] = batch.extras["init_time"].cpu().numpy()
        skill = [name for name in outputs if name in self.skill_names]
        if not ({"forecast", "truth"} & set(outputs) or skill):
            return out
        forecasts = self.forecasts(result, batch)
        if "forecast" in outputs:
            out["forecast"] = forecasts
        if "truth" in outputs or skill:
            if "truths" not in batch.extras:
                raise ConfigError("truth and skill columns need records read with the reader option `leads`")
            truths = batch.extras["truths"].float().cpu().numpy()
            if "truth" in outputs:
                out["truth"] = truths
            if skill:
                scores = self.skill(forecasts, truths, batch.extras["input_fields"].float().cpu().numpy(), batch.extras["truth_hours"].cpu().numpy())
                out.update({name: scores[name] for name in skill})
        return out

    def forecasts(self, result: ModelOutput, batch: TokenBatch) -> np.ndarray:
        """(B, L, C, H, W) physical: the model's prediction is the first step, a rollout from it the rest."""
        states = [result.prediction.float()]
        if max(self.steps) > 1:
            hours = batch.extras.get("hour")
            if hours is not None:
                hours = hours + (self.weather.step_hours or 0.0)  # the prediction's valid time
            states.extend(rollout(self.model, states[0], max(self.steps) - 1, hours).unbind(0))
        stacked = torch.stack([states[step - 1] for step in self.steps], dim=1)  # (B, L, C, H, W)
        return self.normaliser.inverse(stacked.float().cpu().numpy())

    def skill(self, forecasts: np.ndarray, truths: np.ndarray, inputs: np.ndarray, truth_hours: np.ndarray) -> dict[str, np.ndarray]:
        """RMSE and ACC (B, L, C) of each forecaster against truths (B, L, C, H, W); NaN where a lead has no truth.

        `inputs` (B, C, H, W) are the initial fields (persistence), `truth_hours` (B, L) the UTC hours of
        the truths (the hour-of-day climatology's slot)."""
        present = np.isfinite(truths).any(axis=(-2, -1))  # (B, L, C)
        guesses = {"model": forecasts, "persistence": np.broadcast_to(inputs[:, None], truths.shape)}
        climatology = None
        if self.climatology is not None:
            climatology = climatology_at(self.climatology, truth_hours, present.any(axis=-1))
            guesses["climatology"] = climatology
        scores = {}
        for name, guess in guesses.items():
            scores[f"rmse_{name}"] = np.where(present, weighted_rmse(guess, truths, self.weights), np.nan).astype(np.float32)
            if climatology is not None:
                scores[f"acc_{name}"] = np.where(present, weighted_acc(guess, truths, climatology, self.weights), np.nan).astype(np.float32)
        return scores

    def summarise(self, results: h5py.File) -> None:
        """`skill/<column>` (L, C): the mean of each skill column over scored rows with a finite value;
        `skill/samples` (L,): the rows with the model's RMSE at each lead; and the root attribute `skill` (JSON)."""
        names = [name for name in self.skill_names if name in results]
        if not names:
            return
        scored = results["status"][:] == STATUS_SCORED  # (N,)
        group = results.require_group(SKILL_GROUP)
        lead = self._lead_attributes()
        means = {}
        for name in names:
            values = results[name][:].astype(np.float64)  # (N, L, C)
            keep = scored[:, None, None] & np.isfinite(values)
            counts = keep.sum(axis=0)
            with np.errstate(invalid="ignore"):
                means[name] = np.where(counts > 0, np.where(keep, values, 0.0).sum(axis=0) / np.maximum(counts, 1), np.nan)
            group.create_dataset(name, data=means[name])
            group[name].attrs.update(lead)
        reference = results[names[0]][:]
        samples = (scored[:, None] & np.isfinite(reference).all(axis=-1)).sum(axis=0)  # (L,)
        group.create_dataset("samples", data=samples.astype(np.int64))
        group["samples"].attrs.update(lead)
        rows = [
            {"lead": lead_steps, "channel": channel, **{name: _number(means[name][i, c]) for name in names}}
            for i, lead_steps in enumerate(self.leads)
            for c, channel in enumerate(self.weather.channels)
        ]
        results.attrs[SKILL_GROUP] = json.dumps({**lead, "samples": samples.tolist(), "scores": rows})
        log.info("skill over %s scored record(s) per lead %s written to %s/", samples.tolist(), list(self.leads), SKILL_GROUP)


def _number(value: float) -> float | None:
    """A JSON number, None for NaN."""
    return float(value) if np.isfinite(value) else None
