"""timm Swin import against timm's own SwinTransformer (embed_dim 24, depths (2, 2), heads (2, 4), window 7), every
parameter randomised, saved as .safetensors / .pth in timm's layout or the original Swin layout.

float32, 2 images, largest absolute difference measured on the CPU (features up to 3.7, logits up to 1.8): features
2.4e-6 / 2.7e-6 / 1.9e-6 at 224 / 112 / 56 px (56: the last grid, 7x7, is one unshifted window; 112 also in the
original layout), pooled output <= 3.6e-7, logits <= 3.0e-7; tested within 1e-4. At 120 px (grids 30 and 15, not
whole windows) they differ by up to 1.3: timm shifts before padding, sciformer (as transformers) pads first."""

from __future__ import annotations

import importlib.util
import re
import sys

import pytest
import torch
from click.testing import CliRunner
from sciformer.checkpoint import load_checkpoint, read_checkpoint_info
from sciformer.cli.main import build_cli
from sciformer.errors import InputFileError
from sciformer_vision.timm_swin import import_timm_swin

from .conftest import batch_of, randomise, save_state, torchvision_stand_in

TOLERANCE = 1e-4
SMALL = {"patch_size": 4, "embed_dim": 24, "depths": (2, 2), "num_heads": (2, 4), "window_size": 7}


@pytest.fixture(scope="module")
def timm_swin_transformer() -> type[torch.nn.Module]:
    """timm's SwinTransformer class, timm imported over the torchvision stand-in when torchvision is absent."""
    if importlib.util.find_spec("torchvision") is not None:
        from timm.models.swin_transformer import SwinTransformer
    else:
        with pytest.MonkeyPatch.context() as patch:  # the stand-in is gone again once timm is imported
            for name, module in torchvision_stand_in().items():
                patch.setitem(sys.modules, name, module)
            from timm.models.swin_transformer import SwinTransformer
    return SwinTransformer


def timm_model(swin_transformer: type[torch.nn.Module], size: int, classes: int, **changes: object) -> torch.nn.Module:
    """timm's own SwinTransformer for `size` px, every parameter drawn at random (norms around 1, tables included)."""
    torch.manual_seed(0)
    model = swin_transformer(img_size=size, num_classes=classes, **{**SMALL, **changes}).eval()
    randomise(model, seed=1)
    return model


def original_layout(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm's state dict as the original Swin release names it: merging at the end of the stage before, `head`, saved index buffers."""
    renamed = {re.sub(r"layers\.(\d+)\.downsample", lambda m: f"layers.{int(m.group(1)) - 1}.downsample", n).replace("head.fc.", "head."): t for n, t in state.items()}
    renamed |= {n.replace("relative_position_bias_table", "relative_position_index"): torch.zeros(49, 49, dtype=torch.long) for n in state if n.endswith("table")}
    return renamed


@pytest.mark.parametrize(
    "size, classes, name, original",
    [(224, 5, "model.safetensors", False), (112, 0, "swin.pth", False), (56, 5, "model.safetensors", False), (112, 5, "swin.pth", True)],
    ids=["224-head", "112-headless", "56-clamped-window", "112-original-layout"],
)
def test_timm_swin_features_and_logits_match(tmp_path, host, timm_swin_transformer, size, classes, name, original):
    reference = timm_model(timm_swin_transformer, size, classes)
    meta = {"architecture": "swin_small_test", "pretrained_cfg": {"input_size": [3, size, size]}, "label_names": [f"c{i}" for i in range(classes)]}
    weights = save_state(reference, tmp_path / "timm" / name, meta, original_layout if original else None)
    out = import_timm_swin(weights.parent, tmp_path / "ours", host, {})
    info = read_checkpoint_info(out)
    assert info.extra["import_format"] == "timm-swin"
    assert info.config.stages == ((24, 2, 2), (48, 4, 2)) and info.config.option("window_size") == 7
    assert info.config.option("image_size") == [size, size]
    model = load_checkpoint(out, host)
    pixels = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        features = reference.forward_features(pixels)  # (B, H, W, C), final norm applied
        logits = reference.forward_head(features)
        ours = model(batch_of(host.tokenizer(model.config), pixels))
    assert (ours.hidden - features.flatten(1, 2)).abs().max() < TOLERANCE
    assert (ours.pooled - features.mean(dim=(1, 2))).abs().max() < TOLERANCE
    if classes:
        assert info.config.labels == tuple(f"c{i}" for i in range(classes))
        assert (ours.prediction - logits).abs().max() < TOLERANCE
    else:
        assert ours.prediction is None


def test_import_command_reads_a_safetensors_file(tmp_path, host, timm_swin_transformer):
    weights = save_state(timm_model(timm_swin_transformer, 112, 3), tmp_path / "swin.safetensors")
    result = CliRunner().invoke(build_cli(host), ["import", "timm-swin", str(weights), "--out", str(tmp_path / "ours")], obj=host)
    assert result.exit_code == 0, result.output
    config = read_checkpoint_info(tmp_path / "ours").config
    assert config.num_labels == 3 and config.option("image_size") == [224, 224]  # timm's default input size without config.json
    assert config.option("mean") == pytest.approx([0.485, 0.456, 0.406])


@pytest.mark.parametrize(
    "changes, meta, message",
    [
        ({"window_size": ((7, 7), (4, 4))}, None, r"layers\.1\.blocks\.0\.attn\.relative_position_bias_table is made for window 4"),
        ({"window_size": (7, 5)}, None, r"layers\.0\.blocks\.0\.attn\.relative_position_bias_table.*non-square windows"),
        ({"head_dim": 8}, None, r"layers\.0\.blocks\.0\.attn\.qkv\.weight"),
        ({"always_partition": True}, {"model_args": {"always_partition": True}}, r"always_partition=True"),
        ({}, {"model_args": {"global_pool": "max"}}, r"global_pool='max'"),
    ],
    ids=["stage-windows", "non-square-window", "head-dim", "always-partition", "max-pool"],
)
def test_refuses_what_it_cannot_reproduce(tmp_path, host, timm_swin_transformer, changes, meta, message):
    weights = save_state(timm_model(timm_swin_transformer, 112, 3, **changes), tmp_path / "timm" / "model.safetensors", meta)
    with pytest.raises(InputFileError, match=message):
        import_timm_swin(weights.parent, tmp_path / "ours", host, {})


def test_refuses_unknown_tensors(tmp_path, host, timm_swin_transformer):
    model = timm_model(timm_swin_transformer, 112, 0)
    state = {**model.state_dict(), "absolute_pos_embed": torch.zeros(1, 784, 24)}
    torch.save(state, tmp_path / "swin.pth")
    with pytest.raises(InputFileError, match="absolute_pos_embed"):
        import_timm_swin(tmp_path / "swin.pth", tmp_path / "ours", host, {})
