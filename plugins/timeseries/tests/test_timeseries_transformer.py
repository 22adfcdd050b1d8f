"""The encoder-decoder forecaster against transformers' TimeSeriesTransformerForPrediction, random weights
imported with `sciformer import hf-timeseries`: the distribution parameters and the training loss of a
teacher-forced pass, the paths sampled autoregressively with a fixed seed, and the mean forecast written by
`sciformer score` on the shipped ERA5 table (float32, within 1e-4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import torch
import yaml
from sciformer.checkpoint import load_checkpoint
from sciformer.data.batch import TokenBatch
from sciformer.errors import ConfigError, InputFileError
from sciformer.plugins import PluginHost
from sciformer.reading import read_records
from sciformer.scoring import score
from sciformer.training.recipe import train_recipe
from sciformer_timeseries import EXAMPLE
from sciformer_timeseries.generate import record_seed, sample_paths
from sciformer_timeseries.import_timeseries import import_hf_timeseries
from sciformer_timeseries.time_features import time_features
from sciformer_timeseries.transformer_embedding import FUTURE_TIME, PAST_TIME

transformers = pytest.importorskip("transformers")

TOLERANCE = 1e-4
CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "univariate-student-t-mean": {"input_size": 1, "scaling": "mean", "distribution_output": "student_t", "lags_sequence": [1, 2, 5]},
    "multivariate-normal-std": {"input_size": 3, "scaling": "std", "distribution_output": "normal", "lags_sequence": [1, 3]},
}
COMMON = {"context_length": 12, "prediction_length": 6, "num_time_features": 2, "d_model": 16, "encoder_layers": 2, "decoder_layers": 2,
          "encoder_attention_heads": 2, "decoder_attention_heads": 2, "encoder_ffn_dim": 24, "decoder_ffn_dim": 24, "num_parallel_samples": 7}  # fmt: skip
FEATURES = "hour_of_day,day_of_week"


def random_reference(folder: Path, settings: dict[str, Any], seed: int = 0) -> Any:
    """A TimeSeriesTransformerForPrediction with every parameter random (norms too), saved in `folder`."""
    torch.manual_seed(seed)
    model = transformers.TimeSeriesTransformerForPrediction(transformers.TimeSeriesTransformerConfig(**COMMON, **settings)).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "embed_positions" not in name:
                parameter.normal_(1.0 if name.endswith("layer_norm.weight") or "layernorm" in name and name.endswith("weight") else 0.0, 0.3)
    model.save_pretrained(folder)
    return model


def inputs(settings: dict[str, Any], batch: int, seed: int) -> dict[str, torch.Tensor]:
    """Random positive series (past, future), observed masks with gaps, and time features, in transformers' shapes."""
    generator = torch.Generator().manual_seed(seed)
    past_length = COMMON["context_length"] + max(settings["lags_sequence"])
    channels = (settings["input_size"],) if settings["input_size"] > 1 else ()
    past = 5.0 + torch.rand(batch, past_length, *channels, generator=generator) * 3.0
    observed = torch.ones_like(past)
    observed[0, -3] = 0.0  # a missing context value: left out of the window's statistics
    return {
        "past_values": past, "past_observed_mask": observed,
        "past_time_features": torch.rand(batch, past_length, 2, generator=generator) - 0.5,
        "future_values": 5.0 + torch.rand(batch, COMMON["prediction_length"], *channels, generator=generator) * 3.0,
        "future_time_features": torch.rand(batch, COMMON["prediction_length"], 2, generator=generator) - 0.5,
    }  # fmt: skip


def sciformer_batch(values: dict[str, torch.Tensor], with_targets: bool = True) -> TokenBatch:
    """The same inputs as a sciformer batch: (B, T, C) values, observed mask, time features, targets."""
    past = values["past_values"] if values["past_values"].dim() == 3 else values["past_values"][..., None]
    observed = values["past_observed_mask"] if values["past_observed_mask"].dim() == 3 else values["past_observed_mask"][..., None]
    batch = TokenBatch(padding_mask=torch.ones(past.shape[0], COMMON["context_length"], dtype=torch.bool),
                       record_ids=[str(i) for i in range(past.shape[0])], features=past)  # fmt: skip
    batch.extras.update({"observed": observed.bool(), PAST_TIME: values["past_time_features"], FUTURE_TIME: values["future_time_features"]})
    if with_targets:
        future = values["future_values"]
        batch.targets = future if future.dim() == 3 else future[..., None]
        batch.extras["target_mask"] = torch.ones_like(batch.targets, dtype=torch.bool)
    return batch


@pytest.fixture(scope="module", params=list(CONFIGURATIONS))
def imported(request, tmp_path_factory: pytest.TempPathFactory, host: PluginHost) -> tuple[Any, Any, dict[str, Any]]:
    settings = CONFIGURATIONS[request.param]
    folder = tmp_path_factory.mktemp(request.param)
    reference = random_reference(folder / "hf", settings)
    model = load_checkpoint(import_hf_timeseries(folder / "hf", folder / "ours", host, {"time_features": FEATURES}), host).eval()
    return reference, model, settings


def test_teacher_forced_distribution_and_loss_match(imported) -> None:
    reference, model, settings = imported
    values = inputs(settings, batch=4, seed=1)
    with torch.inference_mode():
        expected = reference(**values)
        batch = sciformer_batch(values)
        prediction = model(batch).prediction  # (B, H, C, P): the parameters in the series' units
        loss = model.head.loss(prediction, batch)
    loc_w, scale_w = expected.loc, expected.scale  # (B, 1) or (B, 1, C)
    params = [p if p.dim() == 3 else p[..., None] for p in expected.params]
    loc_w, scale_w = (t if t.dim() == 3 else t[..., None] for t in (loc_w, scale_w))
    in_units = [loc_w + scale_w * params[-2], scale_w * params[-1]]
    if settings["distribution_output"] == "student_t":
        in_units.insert(0, params[0])
    torch.testing.assert_close(prediction, torch.stack(in_units, dim=-1), rtol=TOLERANCE, atol=TOLERANCE)
    assert abs(float(loss) - float(expected.loss)) < TOLERANCE * max(1.0, abs(float(expected.loss)))


def test_sampled_paths_match_generate_with_the_same_seed(imported) -> None:
    reference, model, settings = imported
    values = inputs(settings, batch=2, seed=2)
    for row in range(2):
        one = {name: tensor[row : row + 1] for name, tensor in values.items() if name != "future_values"}
        with torch.inference_mode():
            torch.manual_seed(11 + row)
            expected = reference.generate(**one).sequences  # (1, S, H) or (1, S, H, C)
            ours = sample_paths(model, sciformer_batch(one, with_targets=False), COMMON["num_parallel_samples"], [11 + row])
        expected = expected if expected.dim() == 4 else expected[..., None]
        torch.testing.assert_close(ours, expected, rtol=TOLERANCE, atol=TOLERANCE)


def test_score_writes_the_mean_of_the_sampled_paths(tmp_path: Path, host: PluginHost) -> None:
    """Through `sciformer score` on the shipped hourly table (4 channels, time features from its stamps)."""
    settings = {"input_size": 4, "scaling": "std", "distribution_output": "student_t", "lags_sequence": [1, 2, 24]}
    reference = random_reference(tmp_path / "hf", settings, seed=3)
    out = import_hf_timeseries(tmp_path / "hf", tmp_path / "ours", host, {"time_features": FEATURES})
    summary = score(out, EXAMPLE, tmp_path / "scores.h5", host, options={"stride": 200, "seed": 5, "season": 24})
    records = list(read_records(host, "timeseries", EXAMPLE, {"context": 36, "horizon": 6, "stride": 200}))
    assert summary.scored == len(records) >= 3
    with h5py.File(tmp_path / "scores.h5") as handle:
        forecast, ids = handle["forecast"][:], [value.decode() for value in handle["record_id"][:]]
        assert handle["mse_model"].shape == (len(records), 4) and np.isfinite(handle["skill/mse_model"][:]).all()
    for row, record in enumerate(records):
        stamps = time_features(record.data.times, FEATURES.split(","))
        one = {"past_values": torch.from_numpy(record.data.context.copy())[None], "past_observed_mask": torch.ones(1, 36, 4),
               "past_time_features": torch.from_numpy(stamps[:36])[None], "future_time_features": torch.from_numpy(stamps[36:])[None]}  # fmt: skip
        with torch.inference_mode():
            torch.manual_seed(record_seed(5, record.id))
            expected = reference.generate(**one).sequences.mean(dim=1)[0]
        assert ids[row] == record.id
        np.testing.assert_allclose(forecast[row], expected.numpy(), rtol=TOLERANCE, atol=TOLERANCE * float(expected.abs().max()))


def test_import_refuses_what_it_cannot_reproduce(tmp_path: Path, host: PluginHost) -> None:
    random_reference(tmp_path / "hf", CONFIGURATIONS["univariate-student-t-mean"])
    with pytest.raises(ConfigError, match="name them with --option time_features"):
        import_hf_timeseries(tmp_path / "hf", tmp_path / "ours", host, {})
    transformers.TimeSeriesTransformerForPrediction(
        transformers.TimeSeriesTransformerConfig(prediction_length=4, context_length=8, num_static_real_features=1, lags_sequence=[1])
    ).save_pretrained(tmp_path / "static")
    with pytest.raises(InputFileError, match="num_static_real_features"):
        import_hf_timeseries(tmp_path / "static", tmp_path / "other", host, {})


def test_a_recipe_trains_an_encoder_decoder_and_score_samples_it(tmp_path: Path, host: PluginHost) -> None:
    """Trained from a recipe on the shipped table (negative log-likelihood, teacher forcing), then scored:
    forecasts are the means of sampled paths, the same for a record whatever its batch."""
    recipe = {
        "model": {"domain": "timeseries", "task": "forecast", "dim": 16, "depth": 1, "decoder_depth": 1, "heads": 2, "mlp_ratio": 2.0,
                  "norm": "post", "norm_layer": "layernorm", "final_norm": False, "position": "none", "dropout": 0.0,
                  "domain_options": {"architecture": "transformer", "lags_sequence": [1, 24], "time_features": ["hour_of_day"], "num_parallel_samples": 8}},
        "data": {"train": {"path": str(EXAMPLE), "options": {"stop": 400}}, "valid": {"path": str(EXAMPLE), "options": {"start": 300, "stop": 500}},
                 "options": {"context": 72, "horizon": 12, "stride": 24}},
        "training": {"max_steps": 3, "batch_size": 8, "lr": 1e-3},
        "output": str(tmp_path / "model"),
    }  # fmt: skip
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    result = train_recipe(tmp_path / "recipe.yaml", host)
    assert result.steps == 3 and np.isfinite(result.valid["loss"]) and {"mse", "mae"} <= set(result.valid)
    options = load_checkpoint(result.output, host).config.domain_options
    assert options["context_length"] == 48 and options["prediction_length"] == 12  # 72 steps of context = 48 + the longest lag
    whole = score(result.output, EXAMPLE, tmp_path / "all.h5", host, options={"stride": 96})
    alone = score(result.output, EXAMPLE, tmp_path / "one.h5", host, options={"stride": 96}, batch_tokens=48)
    assert whole.scored == alone.scored >= 4
    with h5py.File(tmp_path / "all.h5") as together, h5py.File(tmp_path / "one.h5") as one_by_one:
        np.testing.assert_array_equal(together["forecast"][:], one_by_one["forecast"][:])
        assert together["forecast"].attrs["what"].startswith("mean of 8 sampled paths")
