"""Attention maps and rollout over images, the `sciformer vision attention` command, and the embedder's positions."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from click.testing import CliRunner
from matplotlib.text import Text
from PIL import Image
from sciformer.build import build_model
from sciformer.checkpoint import save_checkpoint
from sciformer.cli.main import build_cli
from sciformer.records import Record
from sciformer_vision.overlay import head_grid_figure, overlay_figure
from sciformer_vision.patches import resample_positions
from sciformer_vision.rollout import attention_rollout, image_attention

DATA = Path(__file__).resolve().parents[1] / "data"


def test_rollout_of_uniform_and_identity_attention():
    tokens = 5
    uniform = np.full((1, 2, tokens, tokens), 1.0 / tokens)
    expected = 0.5 * np.full((tokens, tokens), 1.0 / tokens) + 0.5 * np.eye(tokens)
    np.testing.assert_allclose(attention_rollout(uniform), expected)
    identity = np.broadcast_to(np.eye(tokens), (3, 2, tokens, tokens))
    np.testing.assert_allclose(attention_rollout(identity), np.eye(tokens))
    two_layers = np.concatenate([uniform, uniform])
    np.testing.assert_allclose(attention_rollout(two_layers), expected @ expected)


def test_rollout_rows_are_distributions_and_heads_fuse(make_config, host, mnist):
    torch.manual_seed(0)
    model = build_model(make_config(), host).eval()
    found = image_attention(model, host.tokenizer(model.config), Record("digit", mnist[0][0]))
    assert found.maps.shape == (2, 4, 17, 17) and found.grid == (4, 4)
    np.testing.assert_allclose(found.maps.sum(axis=-1), 1.0, atol=1e-5)
    for fusion in ("mean", "max", "min"):
        rolled = attention_rollout(found.maps, fusion)
        np.testing.assert_allclose(rolled.sum(axis=-1), 1.0, atol=1e-9)
    assert found.rollout().shape == (4, 4) and found.cls_maps(-1).shape == (4, 4, 4)
    np.testing.assert_allclose(found.cls_maps(1)[2].reshape(-1), found.maps[1, 2, 0, 1:])


def test_attention_command_writes_arrays_and_overlays(tmp_path, make_config, host):
    torch.manual_seed(0)
    model = build_model(make_config(task="sequence-classification", num_labels=10), host).eval()
    save_checkpoint(model, tmp_path / "model", host)
    out = tmp_path / "maps"
    result = CliRunner().invoke(build_cli(host), ["vision", "attention", "--model", str(tmp_path / "model"), "--input", str(DATA / "png"), "--limit", "2", "--out", str(out)], obj=host)
    assert result.exit_code == 0, result.output
    stems = sorted(p.name.removesuffix(".rollout.npy") for p in out.glob("*.rollout.npy"))
    assert len(stems) == 2
    for stem in stems:
        assert np.load(out / f"{stem}.attention.npy").shape == (2, 4, 17, 17)
        assert np.load(out / f"{stem}.rollout.npy").shape == (4, 4)
        for png in (f"{stem}.rollout.png", f"{stem}.layer1.png"):
            with Image.open(out / png) as image:
                assert image.size[0] > 100 and image.size[1] > 100
    wrong = CliRunner().invoke(build_cli(host), ["vision", "attention", "--model", "text-who-ordered", "--input", str(DATA / "png"), "--out", str(out)], obj=host)
    assert wrong.exit_code != 0 and "not a vision model" in wrong.output


def test_overlay_titles_name_the_predicted_class_and_fit_the_figure(make_config, host, mnist):
    """The predicted class (with its probability) is in the title; a long record id wraps instead of being cut."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    torch.manual_seed(0)
    config = make_config(task="sequence-classification", num_labels=3, labels=["cat", "dog", "bird"])
    found = image_attention(build_model(config, host).eval(), host.tokenizer(config), Record("digit", mnist[0][0]))
    assert re.fullmatch(r"predicted (cat|dog|bird) \(p = 0\.\d\d\)", found.prediction)
    title = f"scans/{'archive_batch_0042_' * 4}t10k_2.png: {found.prediction}\nattention rollout (mean over heads)"
    overlay = overlay_figure(found.pixels, found.rollout(), found.patch_size, title, "rollout weight")
    grid = head_grid_figure(found.pixels, found.cls_maps(-1), found.patch_size, title)
    assert overlay.axes[1].get_ylabel() == "rollout weight"
    for figure in (overlay, grid):
        FigureCanvasAgg(figure)
        figure.draw_without_rendering()
        assert found.prediction in figure.get_suptitle().replace("\n", " ")
        heading = next(text for text in figure.findobj(Text) if text.get_text() == figure.get_suptitle())
        box = heading.get_window_extent()
        assert 0 <= box.x0 and box.x1 <= figure.bbox.x1 and box.y1 <= figure.bbox.y1


def test_positions_resample_like_transformers_and_stay_put_at_training_size():
    table = torch.randn(16, 8, generator=torch.Generator().manual_seed(0))
    assert resample_positions(table, (4, 4), (4, 4)) is table
    grid = table.reshape(1, 4, 4, 8).permute(0, 3, 1, 2)
    for size in [(6, 5), (2, 3)]:
        expected = torch.nn.functional.interpolate(grid, size=size, mode="bicubic", align_corners=False).permute(0, 2, 3, 1).reshape(-1, 8)
        torch.testing.assert_close(resample_positions(table, (4, 4), size), expected)


def test_mean_pooling_averages_only_own_patches(make_config, host, mnist):
    torch.manual_seed(0)
    model = build_model(make_config(pooling="mean"), host).eval()
    tokenizer = host.tokenizer(model.config)
    records = [Record("full", mnist[0][0]), Record("crop", np.ascontiguousarray(mnist[0][1][:21, :14]))]
    with torch.inference_mode():
        together = model(tokenizer(records))
        alone = model(tokenizer(records[1:]))
    pool_mask = together.embedded.pool_mask
    assert not pool_mask[:, 0].any() and pool_mask[0].sum() == 16 and pool_mask[1].sum() == 6
    expected = together.hidden[1][pool_mask[1]].mean(dim=0)
    torch.testing.assert_close(together.pooled[1], expected)
    torch.testing.assert_close(together.pooled[1], alone.pooled[0], atol=1e-5, rtol=1e-5)
