"""Swin V2 on the engine: parity with transformers' Swinv2Model / Swinv2ForImageClassification (cosine attention,
res-post-norm blocks, continuous position bias, norm-last merging), `sciformer import hf-swinv2`, fused = reference."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from sciformer.checkpoint import load_checkpoint, read_checkpoint_info
from sciformer.cli.main import build_cli
from sciformer.errors import ConfigError, InputFileError
from sciformer_vision.hf_swinv2 import import_hf_swinv2
from sciformer_vision.swin_v2_attention import CosineWindowAttention
from transformers import Swinv2Config, Swinv2ForImageClassification, Swinv2Model

from .conftest import batch_of, save_hf_reference
from .test_vision_swin import IDENTITY_PREPROCESSOR

# float32 against transformers (eager attention), 2 images each, largest absolute difference measured on the CPU
# (outputs of order 1-10): final hidden states 3.8e-6 (256x256) and 3.3e-6 (256x192: the last stage's 8x6 grid
# padded to its fixed 8x8 window), pooled output 7.2e-7 / 8.3e-7, logits 1.2e-6 / 9.5e-7; with
# pretrained_window_sizes [6, 6, 6, 4], window 7 and no q / v biases, hidden states 2.4e-6 at 240x200
TOLERANCE = 1e-4
SMALL = {"image_size": 256, "patch_size": 4, "num_channels": 3, "embed_dim": 24, "depths": [2, 2, 6, 2], "num_heads": [1, 2, 3, 6]}
SMALL["window_size"] = 8
PRETRAINED = {**SMALL, "image_size": 224, "window_size": 7, "pretrained_window_sizes": [6, 6, 6, 4], "qkv_bias": False}
SIZES = [(256, 256), (256, 192)]
LABELS = {"num_labels": 5, "id2label": {i: f"class-{i}" for i in range(5)}, "label2id": {f"class-{i}": i for i in range(5)}}


def save_reference(folder: Path, settings: dict, classifier: bool) -> torch.nn.Module:
    """A randomised transformers Swin V2 (logit scales and bias MLPs too) saved at `folder`, with an image processor that only normalises."""
    config = Swinv2Config(**settings, **LABELS)
    model = save_hf_reference(Swinv2ForImageClassification if classifier else Swinv2Model, config, folder)
    (folder / "preprocessor_config.json").write_text(json.dumps(IDENTITY_PREPROCESSOR))
    return model


@pytest.fixture(scope="module")
def encoder(tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    folder = tmp_path_factory.mktemp("swinv2") / "encoder"
    return folder, save_reference(folder, SMALL, classifier=False)


def run_both(reference: torch.nn.Module, model: torch.nn.Module, host, size: tuple[int, int], seed: int):
    """(transformers' output, ours) for two random images of `size`."""
    pixels = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        return copy.deepcopy(reference)(pixels), model(batch_of(host.tokenizer(model.config), pixels))


@pytest.mark.parametrize("size", SIZES)
def test_swinv2_model_hidden_states_and_pooled_output_match(tmp_path, host, encoder, size):
    folder, reference = encoder
    model = load_checkpoint(import_hf_swinv2(folder, tmp_path / "imported", host, {}), host)
    assert model.config.stages == ((24, 1, 2), (48, 2, 2), (96, 3, 6), (192, 6, 2))
    expected, ours = run_both(reference, model, host, size, seed=2)
    assert ours.hidden.shape == expected.last_hidden_state.shape
    assert (ours.hidden - expected.last_hidden_state).abs().max() < TOLERANCE
    assert (ours.pooled - expected.pooler_output).abs().max() < TOLERANCE


@pytest.mark.parametrize("size", SIZES)
def test_swinv2_classifier_logits_match(tmp_path, host, size):
    reference = save_reference(tmp_path / "classifier", SMALL, classifier=True)
    out = import_hf_swinv2(tmp_path / "classifier", tmp_path / "imported", host, {})
    info = read_checkpoint_info(out)
    assert info.config.task == "sequence-classification" and info.config.labels == tuple(f"class-{i}" for i in range(5))
    assert info.extra["import_format"] == "hf-swinv2"
    expected, ours = run_both(reference, load_checkpoint(out, host), host, size, seed=3)
    assert (ours.prediction - expected.logits).abs().max() < TOLERANCE


def test_pretrained_window_sizes_and_no_qv_biases(tmp_path, host):
    reference = save_reference(tmp_path / "pretrained", PRETRAINED, classifier=False)
    model = load_checkpoint(import_hf_swinv2(tmp_path / "pretrained", tmp_path / "imported", host, {}), host)
    assert model.config.option("pretrained_window_sizes") == [6, 6, 6, 4] and model.blocks[0].mixer.qkv.bias is None
    expected, ours = run_both(reference, model, host, (240, 200), seed=4)
    assert (ours.hidden - expected.last_hidden_state).abs().max() < TOLERANCE


def test_import_option_window_size_transfers_the_bias_mlp(tmp_path, host, encoder):
    """Imported at 4 x 4 windows, the model equals transformers' at window 4 with the published window (8)
    as each stage's pretrained window size, on the same weights."""
    folder, reference = encoder
    model = load_checkpoint(import_hf_swinv2(folder, tmp_path / "imported", host, {"window_size": "4"}), host)
    assert model.config.option("window_size") == 4 and model.config.option("pretrained_window_sizes") == [8, 8, 8, 8]
    config = Swinv2Config(**{**SMALL, "window_size": 4, "pretrained_window_sizes": [8, 8, 8, 8]}, **LABELS)
    config._attn_implementation = "eager"
    smaller = Swinv2Model(config).eval()
    smaller.load_state_dict(reference.state_dict())
    expected, ours = run_both(smaller, model, host, (256, 192), seed=6)
    assert (ours.hidden - expected.last_hidden_state).abs().max() < TOLERANCE
    with pytest.raises(ConfigError, match="window_size"):
        import_hf_swinv2(folder, tmp_path / "bad", host, {"window_size": "four"})


def test_fused_and_reference_paths_agree(tmp_path, host, encoder):
    folder, _ = encoder
    model = load_checkpoint(import_hf_swinv2(folder, tmp_path / "imported", host, {}), host)
    pixels = torch.randn(2, 3, 256, 192, generator=torch.Generator().manual_seed(5))
    batch = batch_of(host.tokenizer(model.config), pixels)
    with torch.inference_mode():
        fused, reference_path = model(batch), model(batch, need_weights=True)
    assert (fused.hidden - reference_path.hidden).abs().max() < 1e-5
    first, last = reference_path.attentions[0], reference_path.attentions[-1]
    torch.testing.assert_close(first.sum(-1), torch.ones(first.shape[:-1]), atol=1e-5, rtol=0)  # 64x48 grid: whole windows
    sums = last.sum(-1)  # the 8x6 grid in one 8x8 window: the padding cells take their share, as in transformers
    assert sums.shape == (2, 6, 48) and (sums > 0.0).all() and (sums < 1.0).all()


def test_import_command_writes_a_v2_configuration(tmp_path, host, encoder):
    folder, _ = encoder
    result = CliRunner().invoke(build_cli(host), ["import", "hf-swinv2", str(folder), "--out", str(tmp_path / "v2")], obj=host)
    assert result.exit_code == 0, result.output
    model = load_checkpoint(tmp_path / "v2", host)
    config = model.config
    assert (config.attention_form, config.norm) == ("cosine", "res-post")
    assert (config.option("swin_version"), config.option("window_size"), config.option("pretrained_window_sizes")) == (2, 8, [0, 0, 0, 0])
    mixers = [block.mixer for block in model.blocks]
    assert all(isinstance(m, CosineWindowAttention) for m in mixers)
    assert [(m.window, m.shift) for m in mixers[-2:]] == [(8, 0), (8, 0)]  # the last stage's 8x8 grid is one unshifted window
    width = config.dim
    assert float(mixers[0].qkv.bias.detach()[width : 2 * width].abs().max()) == 0.0  # transformers' key projection has no bias


def test_a_swin_v1_directory_is_refused(tmp_path, host):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "swin"}))
    with pytest.raises(InputFileError, match="not a Swin V2"):
        import_hf_swinv2(tmp_path, tmp_path / "out", host, {})
