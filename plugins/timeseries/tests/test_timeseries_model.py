"""The PatchTST pieces: patches from the end, instance normalisation, BatchNorm, channel independence, filling and the loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sciformer.build import build_model
from sciformer.config import ModelConfig, merge_settings
from sciformer.errors import ConfigError
from sciformer.plugins import PluginHost
from sciformer.records import Record
from sciformer_timeseries.embedding import patches
from sciformer_timeseries.norms import BatchNorm
from sciformer_timeseries.options import DEFAULT_CONFIG, SeriesOptions
from sciformer_timeseries.revin import instance_statistics
from sciformer_timeseries.tokenizer import fill_missing

SMALL = {
    "dim": 16,
    "depth": 2,
    "heads": 2,
    "domain_options": {"context_length": 30, "prediction_length": 4, "num_channels": 3, "patch_length": 8, "patch_stride": 5},
}


def small_model(host: PluginHost, **settings: object) -> torch.nn.Module:
    """A random 3-channel model (eval mode), `settings` merged over SMALL."""
    torch.manual_seed(0)
    config = ModelConfig.from_dict(merge_settings(DEFAULT_CONFIG, SMALL, settings, {"domain": "timeseries"}))
    return build_model(config, host).eval()


def windows(count: int = 4, seed: int = 0) -> list[Record]:
    """Random-walk windows of 30 steps, 3 channels, with 4-step targets."""
    values = np.random.default_rng(seed).standard_normal((count, 34, 3)).cumsum(axis=1).astype(np.float32) + 10
    return [Record(str(i), v[:30], target=v[30:]) for i, v in enumerate(values)]


def test_patches_end_at_the_last_context_step() -> None:
    options = SeriesOptions(context_length=30, prediction_length=4, num_channels=1, patch_length=8, patch_stride=5)
    cut = patches(torch.arange(30.0).reshape(1, 30, 1), options)
    assert options.num_patches == 5 and options.sequence_start == 2
    assert cut.shape == (1, 1, 5, 8) and cut[0, 0, 0, 0] == 2 and cut[0, 0, -1, -1] == 29


@pytest.mark.parametrize("scaling", ["std", "mean"])
def test_instance_statistics_match_transformers_scalers(scaling: str) -> None:
    transformers = pytest.importorskip("transformers")
    from transformers.models.patchtst.modeling_patchtst import PatchTSTScaler

    values = torch.randn(3, 20, 2) * 4 + 7
    observed = torch.rand(3, 20, 2) > 0.2
    _, loc, scale = PatchTSTScaler(transformers.PatchTSTConfig(scaling=scaling))(values, observed.float())
    floor = SeriesOptions(20, 1, 2, scaling=scaling, patch_length=4).scale_floor
    ours = instance_statistics(values, observed, scaling, floor)
    torch.testing.assert_close(ours[0], loc)
    torch.testing.assert_close(ours[1], scale)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_matches_patchtst_batchnorm(training: bool) -> None:
    transformers = pytest.importorskip("transformers")
    from transformers.models.patchtst.modeling_patchtst import PatchTSTBatchNorm

    torch.manual_seed(0)
    reference = PatchTSTBatchNorm(transformers.PatchTSTConfig(d_model=8, norm_eps=1e-5)).train(training)
    with torch.no_grad():
        reference.batchnorm.running_mean.normal_()
        reference.batchnorm.weight.normal_()
    ours = BatchNorm(8, eps=1e-5).train(training)
    ours.load_state_dict(reference.batchnorm.state_dict())
    x = torch.randn(5, 7, 8)
    torch.testing.assert_close(ours(x), reference(x))
    torch.testing.assert_close(ours.running_mean, reference.batchnorm.running_mean)


@pytest.mark.parametrize("norm_layer", ["batchnorm", "layernorm"])
def test_channels_are_independent(host: PluginHost, norm_layer: str) -> None:
    """Changing one channel's context changes only that channel's forecast."""
    model = small_model(host, norm_layer=norm_layer)
    tokenizer = host.tokenizer(model.config)
    records = windows()
    changed = [Record(r.id, np.concatenate([r.data[:, :2], r.data[:, 2:] * 3 + 1], axis=1), target=r.target) for r in records]
    with torch.no_grad():
        before, after = model(tokenizer(records)).prediction, model(tokenizer(changed)).prediction
    torch.testing.assert_close(before[..., :2], after[..., :2])
    assert not torch.allclose(before[..., 2], after[..., 2])


def test_attention_maps_are_block_diagonal(host: PluginHost) -> None:
    model = small_model(host, norm_layer="layernorm")
    with torch.no_grad():
        maps = model(host.tokenizer(model.config)(windows(2)), need_weights=True).attentions[0]
    per_channel = SeriesOptions.from_config(model.config).tokens_per_channel
    assert maps.shape == (2, 2, 3 * per_channel, 3 * per_channel)
    assert float(maps[:, :, :per_channel, per_channel:].abs().sum()) == 0.0
    torch.testing.assert_close(maps.sum(dim=-1), torch.ones(2, 2, 3 * per_channel))


def test_missing_values_are_filled_forward_and_masked(host: PluginHost) -> None:
    values = np.array([[np.nan, 1.0], [2.0, np.nan], [np.nan, 3.0]], dtype=np.float32)
    np.testing.assert_array_equal(fill_missing(values, np.isfinite(values)), [[2.0, 1.0], [2.0, 1.0], [2.0, 3.0]])
    model = small_model(host)
    record = windows(1)[0]
    record.data[5:9, 1] = np.nan
    record.target[2, 0] = np.nan
    batch = host.tokenizer(model.config)([record])
    assert torch.isfinite(batch.features).all() and int((~batch.extras["observed"]).sum()) == 4
    assert batch.targets[0, 2, 0] == 0 and not batch.extras["target_mask"][0, 2, 0]
    assert torch.isfinite(model.head.loss(model(batch).prediction, batch))


def test_loss_is_on_the_normalised_scale(host: PluginHost) -> None:
    """With the std scaler, an affine change of a window's units leaves the loss unchanged."""
    model = small_model(host)
    tokenizer = host.tokenizer(model.config)
    records = windows()
    rescaled = [Record(r.id, r.data * 100 + 250, target=r.target * 100 + 250) for r in records]
    with torch.no_grad():
        losses = [float(model.head.loss(model(b).prediction, b)) for b in (tokenizer(records), tokenizer(rescaled))]
    assert losses[0] == pytest.approx(losses[1], rel=1e-3)


@pytest.mark.parametrize("season", [1, 7])
def test_residual_model_starts_from_the_seasonal_naive_forecast(host: PluginHost, season: int) -> None:
    """With `residual_season`, an untrained model forecasts the seasonal naive of that period (1: the last value)."""
    from sciformer_timeseries.baselines import seasonal_naive

    model = small_model(host, domain_options={"residual_season": season})
    records = windows()
    with torch.no_grad():
        forecast = model(host.tokenizer(model.config)(records)).prediction
    expected = seasonal_naive(np.stack([r.data for r in records]), 4, season)
    np.testing.assert_allclose(forecast.numpy(), expected, rtol=1e-6)
    model.train()
    batch = host.tokenizer(model.config)(records)
    model.head.loss(model(batch).prediction, batch).backward()
    assert float(model.head.projection.weight.grad.abs().sum()) > 0  # the departure is learned


@pytest.mark.parametrize("season", [0, 31, 2.5])
def test_residual_season_outside_the_context_is_refused(host: PluginHost, season: object) -> None:
    with pytest.raises(ConfigError, match="residual_season"):
        small_model(host, domain_options={"residual_season": season})


def test_residual_model_with_persistence_weights_starts_from_the_blend(host: PluginHost) -> None:
    """With `persistence_weights` w, an untrained model forecasts s_h + w_h (last - s_h), s the seasonal naive."""
    from sciformer_timeseries.baselines import persistence, seasonal_naive

    weights = [1.0, 0.5, 0.25, 0.0]
    model = small_model(host, domain_options={"residual_season": 7, "persistence_weights": weights})
    records = windows()
    with torch.no_grad():
        forecast = model(host.tokenizer(model.config)(records)).prediction.numpy()
    contexts = np.stack([r.data for r in records])
    seasonal, last = seasonal_naive(contexts, 4, 7), persistence(contexts, 4)
    expected = seasonal + np.array(weights)[None, :, None] * (last - seasonal)
    np.testing.assert_allclose(forecast, expected, rtol=1e-6)
    np.testing.assert_allclose(forecast[:, 0], last[:, 0], rtol=1e-6)
    np.testing.assert_allclose(forecast[:, 3], seasonal[:, 3], rtol=1e-6)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"persistence_weights": "fit"}, "needs domain_options.residual_season"),
        ({"persistence_weights": [0.5] * 4}, "with residual_season set"),
        ({"residual_season": 7, "persistence_weights": [0.5] * 3}, "4 numbers from 0 to 1"),
        ({"residual_season": 7, "persistence_weights": [0.5, 0.5, 0.5, 1.5]}, "4 numbers from 0 to 1"),
        ({"residual_season": 7, "persistence_weights": "some"}, "'fit' or 4 numbers"),
        ({"residual_season": 7, "persistence_weights": "fit"}, "resolved from the training windows"),
    ],
)
def test_persistence_weights_are_checked(host: PluginHost, options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        small_model(host, domain_options=options)


def test_persistence_weights_fit_recovers_the_blend_of_the_training_windows(host: PluginHost) -> None:
    """`persistence_weights: fit` is replaced, when training starts, by the least-squares weight of each step:
    exact on windows whose futures are that blend, clipped to [0, 1], 0 where the seasonal naive is the last value."""
    from sciformer_timeseries.baselines import persistence, seasonal_naive
    from sciformer_timeseries.prepare import complete_config

    true_weights = np.array([0.9, 0.6, 1.7, -0.4])
    contexts = np.random.default_rng(1).standard_normal((40, 30, 3)).cumsum(axis=1) + 10
    seasonal, last = seasonal_naive(contexts, 4, 7), persistence(contexts, 4)
    futures = seasonal + true_weights[None, :, None] * (last - seasonal)
    records = [Record(str(i), c.astype(np.float32), target=f.astype(np.float32)) for i, (c, f) in enumerate(zip(contexts, futures))]
    config = ModelConfig.from_dict(merge_settings(DEFAULT_CONFIG, {"domain": "timeseries", "domain_options": {"residual_season": 7, "persistence_weights": "fit"}}))
    fitted = complete_config(config, records).domain_options["persistence_weights"]
    np.testing.assert_allclose(fitted, [0.9, 0.6, 1.0, 0.0], atol=1e-4)
    season_one = merge_settings(DEFAULT_CONFIG, {"domain": "timeseries", "domain_options": {"residual_season": 1, "persistence_weights": "fit"}})
    assert complete_config(ModelConfig.from_dict(season_one), records).domain_options["persistence_weights"] == [0.0] * 4
