"""Parity with transformers' PatchTSTForPrediction: random weights imported with `sciformer import hf-patchtst`,
forecasts compared with transformers' `prediction_outputs` (float32, within 1e-4), by a direct model call and
through `sciformer score` on CSV and HDF5 files written here.

The three configurations cover both norms (BatchNorm with random running statistics, LayerNorm), pre- and
post-norm, the std, mean and no scaler, sin-cos and random positions, shared and per-channel embeddings,
flatten, mean and CLS heads, patches that do not tile the context (taken from its end) and `bias: false`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from sciformer.checkpoint import load_checkpoint
from sciformer.cli.main import build_cli
from sciformer.errors import InputFileError
from sciformer.plugins import PluginHost
from sciformer.records import Record
from sciformer_timeseries.importer import patchtst_config
from sciformer_timeseries.series import Window

from .conftest import random_patchtst

pytest.importorskip("transformers")

TOLERANCE = 1e-4
CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "std-batchnorm-flatten": {
        "context_length": 60,
        "prediction_length": 12,
        "num_input_channels": 3,
        "patch_length": 12,
        "patch_stride": 5,
        "scaling": "std",
        "d_model": 32,
        "num_attention_heads": 4,
        "ffn_dim": 64,
        "num_hidden_layers": 2,
        "pooling_type": None,
    },
    "mean-layernorm-postnorm": {
        "context_length": 64,
        "prediction_length": 7,
        "num_input_channels": 2,
        "patch_length": 8,
        "patch_stride": 8,
        "scaling": "mean",
        "d_model": 24,
        "num_attention_heads": 3,
        "ffn_dim": 50,
        "num_hidden_layers": 2,
        "norm_type": "layernorm",
        "pre_norm": False,
        "positional_encoding_type": "random",
        "share_embedding": False,
        "pooling_type": "mean",
    },
    "none-cls-nobias": {
        "context_length": 50,
        "prediction_length": 5,
        "num_input_channels": 1,
        "patch_length": 10,
        "patch_stride": 4,
        "scaling": None,
        "d_model": 16,
        "num_attention_heads": 2,
        "ffn_dim": 32,
        "num_hidden_layers": 1,
        "use_cls_token": True,
        "bias": False,
        "do_mask_input": True,
    },
}


def imported(tmp_path: Path, host: PluginHost, name: str) -> tuple[Any, Path]:
    """A random transformers model of configuration `name` and its import through the CLI."""
    reference = random_patchtst(tmp_path / "hf", **CONFIGURATIONS[name])
    run_cli(host, "import", "hf-patchtst", str(tmp_path / "hf"), "--out", str(tmp_path / "model"))
    return reference, tmp_path / "model"


def run_cli(host: PluginHost, *args: str) -> None:
    """`sciformer ARGS` with `host`'s plugins; the test fails with the command's output unless it succeeds."""
    result = CliRunner().invoke(build_cli(host), list(args), obj=host)
    assert result.exit_code == 0, result.output


def score_file(host: PluginHost, model: Path, source: Path, output: Path, *options: str) -> None:
    """`sciformer score` of `source` into `output` with the model at `model` and the reader `options` (KEY=VALUE)."""
    settings = [word for option in options for word in ("--option", option)]
    run_cli(host, "score", "--model", str(model), "--input", str(source), "--output", str(output), *settings)


def random_walks(count: int, steps: int, channels: int, seed: int = 1) -> np.ndarray:
    """(count, steps, channels) float32 random walks around 280 (a temperature in kelvin)."""
    generator = np.random.default_rng(seed)
    return (280.0 + 3.0 * generator.standard_normal((count, steps, channels)).cumsum(axis=1)).astype(np.float32)


def reference_forecasts(reference: Any, contexts: np.ndarray) -> np.ndarray:
    """transformers' prediction_outputs (B, H, C) for contexts (B, L, C)."""
    with torch.no_grad():
        return reference(past_values=torch.from_numpy(contexts)).prediction_outputs.numpy()


@pytest.mark.parametrize("name", list(CONFIGURATIONS))
def test_model_call_matches_transformers(tmp_path: Path, host: PluginHost, name: str) -> None:
    reference, folder = imported(tmp_path, host, name)
    model = load_checkpoint(folder, host).eval()
    settings = CONFIGURATIONS[name]
    contexts = random_walks(6, settings["context_length"], settings["num_input_channels"])
    batch = host.tokenizer(model.config)([Record(str(i), Window(c, (), str(i))) for i, c in enumerate(contexts)])
    with torch.no_grad():
        ours = model(batch).prediction.numpy()
    expected = reference_forecasts(reference, contexts)
    assert ours.shape == expected.shape == (6, settings["prediction_length"], settings["num_input_channels"])
    np.testing.assert_allclose(ours, expected, atol=TOLERANCE, rtol=0)


def test_score_csv_matches_transformers(tmp_path: Path, host: PluginHost) -> None:
    """A wide CSV of one 3-channel series, windows every 7 steps, scored with the CLI."""
    reference, folder = imported(tmp_path, host, "std-batchnorm-flatten")
    series = random_walks(1, 120, 3)[0]
    table = tmp_path / "series.csv"
    rows = [f"2020-01-01T{t // 60:02d}:{t % 60:02d}," + ",".join(f"{v:.4f}" for v in row) for t, row in enumerate(series)]
    table.write_text("time,a,b,c\n" + "\n".join(rows) + "\n")
    output = tmp_path / "scores.h5"
    score_file(host, folder, table, output, "stride=7", "season=24")
    written = np.asarray([float(v) for row in rows for v in row.split(",")[1:]], dtype=np.float32).reshape(120, 3)
    starts = range(0, 120 - 60 - 12 + 1, 7)
    with h5py.File(output) as results:
        forecasts = results["forecast"][:]
        assert list(results["record_id"].asstr()[:5]) == [f"series@2020-01-01T01:{s:02d}" for s in starts][:5]
        assert set(results["skill"]) == {f"{m}_{f}" for m in ("mse", "mae") for f in ("model", "persistence", "seasonal")} | {
            "samples"
        }
    expected = reference_forecasts(reference, np.stack([written[s : s + 60] for s in starts]))
    np.testing.assert_allclose(forecasts, expected, atol=TOLERANCE, rtol=0)


def test_score_hdf5_matches_transformers(tmp_path: Path, host: PluginHost) -> None:
    """An HDF5 file of two (time, station) variables: each of 3 stations is a 2-channel series."""
    reference, folder = imported(tmp_path, host, "mean-layernorm-postnorm")
    values = random_walks(3, 90, 2).transpose(1, 0, 2)  # (time, station, variable)
    path = tmp_path / "stations.h5"
    with h5py.File(path, "w") as file:
        file["temperature"], file["pressure"] = values[..., 0], values[..., 1]
    output = tmp_path / "scores.h5"
    score_file(host, folder, path, output, "stride=9", "variables=temperature,pressure")
    starts = range(0, 90 - 64 - 7 + 1, 9)
    contexts = np.stack([values[s : s + 64, station] for station in range(3) for s in starts])
    with h5py.File(output) as results:
        assert list(results["record_id"].asstr()[:3]) == [f"{0}@{s + 64}" for s in starts][:3]
        np.testing.assert_allclose(results["forecast"][:], reference_forecasts(reference, contexts), atol=TOLERANCE, rtol=0)


def test_refuses_channel_attention() -> None:
    with pytest.raises(InputFileError, match="channel_attention"):
        patchtst_config({"model_type": "patchtst", "channel_attention": True})


def test_refuses_distribution_head() -> None:
    with pytest.raises(InputFileError, match="distribution head"):
        patchtst_config({"model_type": "patchtst", "loss": "nll"})


def test_imported_checkpoint_keeps_context_and_horizon(tmp_path: Path, host: PluginHost) -> None:
    _, folder = imported(tmp_path, host, "none-cls-nobias")
    model = load_checkpoint(folder, host)
    assert model.config.norm_layer == "batchnorm" and model.config.domain_options["head_pooling"] == "cls"
    table = tmp_path / "short.csv"
    table.write_text("value\n" + "\n".join(str(280 + i % 5) for i in range(55)) + "\n")
    args = ["score", "--model", str(folder), "--input", str(table), "--output", str(tmp_path / "s.h5"), "--option", "context=20"]
    result = CliRunner().invoke(build_cli(host), args, obj=host)
    assert result.exit_code != 0 and "setting of the model" in result.output
