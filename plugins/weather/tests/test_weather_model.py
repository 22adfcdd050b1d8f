"""The weather model on the engine: padding and cropping, AFNO in float32 under bfloat16, the block
composition, the head's layout, rollout, batch invariance and configuration errors."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sciformer.build import build_model
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.engine.attention import Attention
from sciformer.engine.context import Embedded, LayerContext
from sciformer.engine.masking import AttentionInputs
from sciformer.errors import ConfigError
from sciformer.plugins import PluginHost
from sciformer_weather import EXAMPLE
from sciformer_weather.afno import AFNOMixer
from sciformer_weather.head import tokens_to_fields
from sciformer_weather.options import DEFAULT_CONFIG, WeatherOptions
from sciformer_weather.rollout import Forecaster, rollout


def config(**options: object) -> ModelConfig:
    base = {"channels": ["t2m"], "grid": [33, 49], "patch": 4, "num_blocks": 4, "mean": [280.0], "std": [2.0]}
    values = {**DEFAULT_CONFIG, "dim": 32, "depth": 2}
    return ModelConfig.from_dict({**values, "domain": "weather", "domain_options": {**base, **options}})


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost()


@pytest.fixture(scope="module")
def fields() -> torch.Tensor:
    """Four hours of real t2m, normalised as the config above does."""
    with h5py.File(EXAMPLE) as handle:
        return (torch.from_numpy(handle["fields"][:4]) - 280.0) / 2.0


def batch_of(features: torch.Tensor, options: WeatherOptions) -> TokenBatch:
    return TokenBatch(padding_mask=torch.ones(features.shape[0], options.num_tokens, dtype=torch.bool), record_ids=[str(i) for i in range(features.shape[0])], features=features)


def test_grid_is_padded_to_patches_and_cropped_back(host: PluginHost, fields: torch.Tensor) -> None:
    for mode in ("constant", "reflect", "replicate", "circular"):
        cfg = config(pad_mode=mode)
        options = WeatherOptions.from_config(cfg)
        assert options.padded_grid == (36, 52) and options.patch_grid == (9, 13)
        model = build_model(cfg, host)
        out = model(batch_of(fields, options))
        assert out.hidden.shape == (4, 117, 32)
        assert out.prediction.shape == (4, 1, 33, 49)


def test_head_layout_is_fourcastnet_rearrange() -> None:
    options = WeatherOptions.from_config(config(channels=["a", "b"], mean=[0, 0], std=[1, 1], grid=[6, 10], patch=[2, 4]))
    h, w = options.patch_grid  # 3 x 3 on the padded 6 x 12 grid
    patches = torch.randn(1, h * w, 2 * 4 * 2)
    fields = tokens_to_fields(patches, options)
    assert fields.shape == (1, 2, 6, 10)
    # "b h w (p1 p2 c) -> b c (h p1) (w p2)": row i*2+a, column j*4+b of channel c
    for i, j, a, b, c in [(0, 0, 0, 0, 0), (2, 1, 1, 3, 1), (1, 2, 0, 1, 0)]:
        assert fields[0, c, i * 2 + a, j * 4 + b] == patches[0, i * w + j, (a * 4 + b) * 2 + c]


def test_afno_runs_in_float32_under_bfloat16_autocast(fields: torch.Tensor) -> None:
    torch.manual_seed(0)
    mixer = AFNOMixer(config())
    x = torch.randn(2, 117, 32)
    reference = mixer.mix(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = mixer.mix(x)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, reference, rtol=0, atol=0)  # autocast does not reach the FFT or spectral MLP


def test_block_composition_is_fourcastnet_double_skip(host: PluginHost) -> None:
    """Engine Block with the AFNO mixer = FourCastNet Block: x1 = filter(norm1(x)) + x, then x1 + mlp(norm2(x1))."""
    torch.manual_seed(1)
    model = build_model(config(), host)
    block = model.blocks[0]
    x = torch.randn(2, 117, 32)
    filtered = block.mixer.mix(block.norm1(x))  # already includes the filter's own input residual
    x1 = filtered + x
    expected = x1 + block.mlp.fc2(F.gelu(block.mlp.fc1(block.norm2(x1))))
    ctx = LayerContext(batch=None, embedded=None, layer=0, state={})  # the AFNO mixer reads nothing from ctx
    torch.testing.assert_close(block(x, ctx, AttentionInputs()).hidden, expected)
    assert isinstance(block.mixer, AFNOMixer)
    assert block.norm1.eps == 1e-6 and isinstance(model.final_norm, torch.nn.Identity)


def test_mixer_can_be_attention_instead(host: PluginHost, fields: torch.Tensor) -> None:
    model = build_model(config(mixer="attention"), host)
    assert isinstance(model.blocks[0].mixer, Attention)
    assert model(batch_of(fields, WeatherOptions.from_config(model.config))).prediction.shape == (4, 1, 33, 49)


def test_a_record_alone_or_in_a_batch_gives_the_same_forecast(host: PluginHost, fields: torch.Tensor) -> None:
    torch.manual_seed(2)
    model = build_model(config(), host).eval()
    options = WeatherOptions.from_config(model.config)
    together = model(batch_of(fields, options)).prediction
    alone = model(batch_of(fields[2:3], options)).prediction
    torch.testing.assert_close(alone[0], together[2], rtol=1e-5, atol=1e-5)


def test_rollout_feeds_each_forecast_back(host: PluginHost, fields: torch.Tensor) -> None:
    torch.manual_seed(3)
    model = build_model(config(), host).eval()
    options = WeatherOptions.from_config(model.config)
    with torch.no_grad():
        steps = rollout(model, fields, 3)
        first = model(batch_of(fields, options)).prediction
        second = model(batch_of(first, options)).prediction
    assert steps.shape == (3, 4, 1, 33, 49)
    torch.testing.assert_close(steps[0], first)
    torch.testing.assert_close(steps[1], second)
    forecaster = Forecaster(model)
    physical = forecaster.forecast(fields.numpy() * 2.0 + 280.0, 2)
    np.testing.assert_allclose(physical[1], steps[1].numpy() * 2.0 + 280.0, rtol=1e-5)
    with pytest.raises(ConfigError, match="multiples"):
        Forecaster(build_model(config(step=6), host)).steps_for([1, 6])


def test_training_step_reaches_the_spectral_weights(host: PluginHost, fields: torch.Tensor) -> None:
    torch.manual_seed(4)
    model = build_model(config(weighted_loss=True, latitudes=list(np.linspace(58, 50, 33))), host)
    batch = batch_of(fields[:2], WeatherOptions.from_config(model.config))
    batch.targets = fields[1:3]
    loss = model.head.loss(model(batch).prediction, batch)
    loss.backward()
    assert model.blocks[0].mixer.w1.grad.abs().sum() > 0
    assert model.embedder.pos_embed.grad.abs().sum() > 0
    weights = model.head.row_weights[:, 0]
    assert weights.mean().item() == pytest.approx(1.0) and weights[0] < weights[-1]  # 58N weighs less than 50N


def test_configuration_errors_name_the_setting() -> None:
    with pytest.raises(ConfigError, match="num_blocks"):
        WeatherOptions.from_config(config(num_blocks=5))
    with pytest.raises(ConfigError, match="grid"):
        WeatherOptions.from_config(ModelConfig(domain="weather", dim=32, domain_options={"patch": 4}))
    with pytest.raises(ConfigError, match="unknown weather domain_options"):
        WeatherOptions.from_config(config(patches=4))
    with pytest.raises(ConfigError, match="hard_thresholding_fraction"):
        WeatherOptions.from_config(config(hard_thresholding_fraction=0.0))
    with pytest.raises(ConfigError, match="std"):
        WeatherOptions.from_config(config(std=[0.0]))


def test_embedded_marks_every_patch_real(host: PluginHost, fields: torch.Tensor) -> None:
    model = build_model(config(), host)
    embedded = model.embedder(batch_of(fields, WeatherOptions.from_config(model.config)))
    assert isinstance(embedded, Embedded) and embedded.pool_mask.all() and embedded.hidden.shape == (4, 117, 32)


def test_input_noise_trains_the_residual_on_noisy_inputs_only(host: PluginHost, fields: torch.Tensor) -> None:
    torch.manual_seed(5)
    model = build_model(config(residual=True, input_noise=0.5), host)
    options = WeatherOptions.from_config(model.config)
    with torch.no_grad():
        model.head.linear.weight.zero_()  # no change predicted: the forecast is the residual base itself
        batch = batch_of(fields, options)
        noisy = model.train()(batch).prediction
        assert torch.equal(noisy, batch.extras["noisy_input"]) and not torch.allclose(noisy, fields)
        clean_batch = batch_of(fields, options)
        assert torch.equal(model.eval()(clean_batch).prediction, fields) and "noisy_input" not in clean_batch.extras


def test_time_features_come_from_record_times(host: PluginHost) -> None:
    from sciformer.reading import read_records

    records = list(read_records(host, "weather", EXAMPLE))[:3]
    model = build_model(config(time_features=True, step_hours=1.0), host).eval()
    tokenizer = host.tokenizer(model.config)
    batch = tokenizer(records)
    assert batch.extras["hour"].tolist() == [0.0, 1.0, 2.0]  # 2019-03-25 00:00, 01:00, 02:00 UTC
    assert model.embedder.proj.in_channels == 3
    with torch.no_grad():
        first = model(batch).prediction
        batch.extras["hour"] = batch.extras["hour"] + 12.0
        assert not torch.allclose(first, model(batch).prediction)  # the hour of day changes the forecast
    with pytest.raises(ConfigError, match="UTC hours"):
        rollout(model, batch.features, 2)
