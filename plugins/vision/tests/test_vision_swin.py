"""The Swin transformer on the engine: parity with transformers' SwinModel / SwinForImageClassification,
`sciformer score` on an image stack, per-window attention maps stitched per block, rollout, table resizing."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from sciformer.build import build_model
from sciformer.checkpoint import load_checkpoint, read_checkpoint_info
from sciformer.cli.main import build_cli
from sciformer.records import Record
from sciformer_vision.hf_swin import import_hf_swin
from sciformer_vision.relative_positions import resize_table
from sciformer_vision.rollout import image_attention
from sciformer_vision.swin_attention import WindowAttention
from sciformer_vision.tokenizer import ImageTokenizer
from transformers import SwinConfig, SwinForImageClassification, SwinModel

from .conftest import batch_of, save_hf_reference, vision_config

# float32 against transformers (eager attention), 2 images each, largest absolute difference measured on
# the CPU: final hidden states 2.2e-5 (224x224) and 2.7e-5 (240x200: padded windows, odd grids merged),
# pooled output 5.6e-6 / 6.6e-6, logits 6.7e-6 / 6.7e-6 (outputs of order 1-10)
TOLERANCE = 1e-4
SMALL = {"image_size": 224, "patch_size": 4, "num_channels": 3, "embed_dim": 24, "depths": [2, 2, 6, 2], "num_heads": [1, 2, 3, 6], "window_size": 7}
SIZES = [(224, 224), (240, 200)]
IDENTITY_PREPROCESSOR = {"do_resize": False, "do_rescale": False, "do_normalize": True, "image_mean": [0.5] * 3, "image_std": [0.5] * 3}


def hf_directory(tmp_path: Path, classifier: bool) -> tuple[Path, torch.nn.Module]:
    """A randomised transformers Swin saved as a model directory with an image processor that only normalises."""
    config = SwinConfig(**SMALL, num_labels=5, id2label={i: f"class-{i}" for i in range(5)}, label2id={f"class-{i}": i for i in range(5)})
    folder = tmp_path / ("classifier" if classifier else "encoder")
    model = save_hf_reference(SwinForImageClassification if classifier else SwinModel, config, folder)
    (folder / "preprocessor_config.json").write_text(json.dumps(IDENTITY_PREPROCESSOR))
    return folder, model


def fresh(reference: torch.nn.Module) -> torch.nn.Module:
    """A copy of the reference: transformers' SwinLayer keeps the window it clamped for the last image size."""
    return copy.deepcopy(reference)


@pytest.mark.parametrize("size", SIZES)
def test_swin_model_hidden_states_and_pooled_output_match(tmp_path, host, size):
    folder, reference = hf_directory(tmp_path, classifier=False)
    model = load_checkpoint(import_hf_swin(folder, tmp_path / "imported", host, {}), host)
    assert model.config.stages == ((24, 1, 2), (48, 2, 2), (96, 3, 6), (192, 6, 2))
    pixels = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        expected = fresh(reference)(pixels)
        ours = model(batch_of(host.tokenizer(model.config), pixels))
    assert ours.hidden.shape == expected.last_hidden_state.shape
    assert (ours.hidden - expected.last_hidden_state).abs().max() < TOLERANCE
    assert (ours.pooled - expected.pooler_output).abs().max() < TOLERANCE


@pytest.mark.parametrize("size", SIZES)
def test_swin_classifier_logits_match(tmp_path, host, size):
    folder, reference = hf_directory(tmp_path, classifier=True)
    out = import_hf_swin(folder, tmp_path / "imported", host, {})
    info = read_checkpoint_info(out)
    assert info.config.task == "sequence-classification" and info.config.labels == tuple(f"class-{i}" for i in range(5))
    assert info.extra["import_format"] == "hf-swin"
    model = load_checkpoint(out, host)
    pixels = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        expected = fresh(reference)(pixels).logits
        logits = model(batch_of(host.tokenizer(model.config), pixels)).prediction
    assert (logits - expected).abs().max() < TOLERANCE


def test_score_command_embedding_is_the_pooler_output(tmp_path, host):
    folder, reference = hf_directory(tmp_path, classifier=False)
    runner = CliRunner()
    imported = runner.invoke(build_cli(host), ["import", "hf-swin", str(folder), "--out", str(tmp_path / "swin")], obj=host)
    assert imported.exit_code == 0, imported.output
    images = np.random.default_rng(4).random((3, 232, 224, 3), dtype=np.float32)  # (N, H, W, C) in 0..1; transformers needs a last grid >= the window
    np.savez(tmp_path / "images.npz", images=images)
    args = ["score", "--model", str(tmp_path / "swin"), "--input", str(tmp_path / "images.npz"), "--output", str(tmp_path / "out.h5"), "--outputs", "embedding"]
    scored = runner.invoke(build_cli(host), args, obj=host)
    assert scored.exit_code == 0, scored.output
    pixels = (torch.from_numpy(images).permute(0, 3, 1, 2) - 0.5) / 0.5
    with torch.inference_mode():
        expected = fresh(reference)(pixels).pooler_output.numpy()
    with h5py.File(tmp_path / "out.h5") as results:
        assert list(results["status"][:]) == [0, 0, 0]
        np.testing.assert_allclose(results["embedding"][:], expected, atol=TOLERANCE)


def swin_config(window: int = 4):
    """A tiny two-stage Swin for 32x32 grey images: 4x4 patches, an 8x8 grid, 4x4 windows (shifted by 2)."""
    values = {"dim": 16, "depth": 4, "heads": 2, "stage_depths": [2, 2], "stage_heads": [2, 4], "position": "none", "pooling": "mean"}
    return vision_config(**values, domain_options={"patch_size": 4, "image_size": [32, 32], "window_size": window})


def test_stitched_maps_are_distributions_inside_windows(host):
    torch.manual_seed(0)
    model = build_model(swin_config(), host).eval()
    tokenizer = host.tokenizer(model.config)
    pixels = torch.randn(2, 1, 32, 32, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        output = model(batch_of(tokenizer, pixels), need_weights=True)
        fused = model(batch_of(tokenizer, pixels))
    assert torch.allclose(output.hidden, fused.hidden, atol=1e-5)  # the reference path computes what SDPA computes
    assert [tuple(a.shape) for a in output.attentions] == [(2, 2, 64, 64)] * 2 + [(2, 4, 16, 16)] * 2
    for layer, maps in enumerate(output.attentions):
        torch.testing.assert_close(maps.sum(dim=-1), torch.ones(maps.shape[:-1]), atol=1e-5, rtol=0)
        side = 8 if layer < 2 else 4
        window, shift = (4, 2 * (layer % 2)) if layer < 2 else (4, 0)
        rows, cols = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
        rows, cols = (rows - shift) % side, (cols - shift) % side  # positions after the cyclic shift
        cell = (rows // window) * side + cols // window
        region = ((rows >= side - window).long() + (rows >= side - shift).long()) * 3 + (cols >= side - window).long() + (cols >= side - shift).long()
        key = (cell * 9 + (region if shift else 0)).reshape(-1)
        outside = key[:, None] != key[None, :]
        # zero between windows; exp(-100) (transformers' shifted-window mask) between regions of one window
        assert (maps[:, :, outside] < 1e-30).all(), f"layer {layer}: a token attends outside its window"


def test_rollout_runs_on_a_swin(host, mnist):
    torch.manual_seed(0)
    config = vision_config(dim=16, depth=4, heads=2, stage_depths=[2, 2], stage_heads=[2, 4], position="none", pooling="mean", domain_options={"patch_size": 4, "window_size": 2})
    model = build_model(config, host).eval()
    found = image_attention(model, ImageTokenizer(config), Record("digit", mnist[0][0], int(mnist[1][0])))
    assert found.maps.shape == (4, 4, 49, 49) and found.grid == (7, 7) and not found.cls
    assert np.isnan(found.maps[:2, 2:]).all() and not np.isnan(found.maps[2:]).any()  # stage 0 has 2 heads, stage 1 has 4
    rollout = found.rollout()
    assert rollout.shape == (7, 7) and np.isfinite(rollout).all() and abs(rollout.sum() - 1.0) < 1e-6
    assert found.cls_maps(-1).shape == (4, 7, 7)


def test_relative_position_tables_resize_bicubically_on_load(host, timm_vision_transformer):
    from timm.layers.pos_embed_rel import resize_rel_pos_bias_table_simple

    torch.manual_seed(0)
    source = build_model(swin_config(), host)
    target = build_model(swin_config(window=3), host)
    target.load_state_dict(source.state_dict())
    table = source.blocks[0].mixer.relative_position_bias_table.detach()
    resized = target.blocks[0].mixer.relative_position_bias_table.detach()
    assert isinstance(target.blocks[0].mixer, WindowAttention) and resized.shape == (25, 2)
    torch.testing.assert_close(resized, resize_rel_pos_bias_table_simple(table, (3, 3), (25, 2)))
    torch.testing.assert_close(resize_table(resized, 4).shape, table.shape)


def test_import_option_window_size(tmp_path, host):
    folder, _ = hf_directory(tmp_path, classifier=False)
    model = load_checkpoint(import_hf_swin(folder, tmp_path / "imported", host, {"window_size": "6"}), host)
    assert model.config.option("window_size") == 6
    assert model.blocks[0].mixer.relative_position_bias_table.shape == (121, 1)
