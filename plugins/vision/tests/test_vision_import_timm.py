"""timm ViT import against timm's own VisionTransformer, saved as .safetensors / .pth.

float32: hidden states and logits agree within 2e-6 (0.0 without LayerScale, also with positions resampled to
other sizes; folding LayerScale costs rounding).
bfloat16 autocast (how `sciformer score --dtype bfloat16` runs) against the float32 reference, 8 images:
cosine >= 0.9990 and max relative error <= 0.014 for sciformer, <= 0.0097 for timm itself."""

from __future__ import annotations

import pytest
import torch
from sciformer.checkpoint import load_checkpoint
from sciformer.errors import InputFileError
from sciformer_vision.timm_vit import import_timm_vit

from .conftest import batch_of, save_state

TIMM_TOLERANCE = 1e-5  # measured: 0.0 without LayerScale, 1.7e-6 with it
BF16_COSINE = 0.9975  # measured lowest: 0.99906 (5 logits), 0.99995 (hidden states)
BF16_RELATIVE = 0.03  # measured highest: 0.0133 (sciformer), 0.0097 (timm)


def timm_model(vision_transformer: type[torch.nn.Module], **changes: object) -> torch.nn.Module:
    """timm's own VisionTransformer (32x32 RGB, 8x8 patches, width 64, 2 blocks, 4 heads unless changed), every weight
    moved off its initial value."""
    torch.manual_seed(0)
    settings = {"img_size": 32, "patch_size": 8, "embed_dim": 64, "depth": 2, "num_heads": 4, "num_classes": 0, **changes}
    model = vision_transformer(**settings).eval()
    generator = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.1)
    return model


def bf16_errors(got: torch.Tensor, reference: torch.Tensor) -> tuple[float, float]:
    """Lowest cosine similarity of a record (flattened) and max relative error |got - ref|.max() / |ref|.max()."""
    got, reference = got.float().flatten(1), reference.float().flatten(1)
    cosine = torch.nn.functional.cosine_similarity(got, reference, dim=1).min().item()
    return cosine, ((got - reference).abs().max() / reference.abs().max()).item()


def outputs(reference: torch.nn.Module, imported: torch.nn.Module, batch, pixels: torch.Tensor, bf16: bool) -> list[torch.Tensor]:
    """timm's features and head output, sciformer's hidden states and logits (or [CLS] features without a head)."""
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        features = reference.forward_features(pixels)
        ours = imported(batch)
        return [features, reference.forward_head(features), ours.hidden, ours.pooled if ours.prediction is None else ours.prediction]


NORMS = {"qk_norm": True, "scale_attn_norm": True, "scale_mlp_norm": True}


@pytest.mark.parametrize(
    "init_values, classes, name, norms",
    [(None, 0, "model.safetensors", {}), (None, 5, "vit.pth", {}), (0.1, 5, "model.safetensors", {}), (0.1, 0, "vit.pth", {}), (0.1, 5, "model.safetensors", NORMS)],
    ids=["plain", "head", "layer-scale-head", "layer-scale", "inner-norms"],
)
def test_timm_vision_transformer_matches(tmp_path, host, timm_vision_transformer, init_values, classes, name, norms):
    """timm's VisionTransformer (with / without LayerScale, head, q-k / attention / MLP norms) against its import, in float32 and bfloat16."""
    reference = timm_model(timm_vision_transformer, init_values=init_values, num_classes=classes, **norms)
    meta = {"architecture": "vit_test_patch8_32", "num_classes": classes, "model_args": {"num_heads": 4}, "pretrained_cfg": {"input_size": [3, 32, 32]}}
    imported = load_checkpoint(import_timm_vit(save_state(reference, tmp_path / "timm" / name, meta).parent, tmp_path / "out", host, {}), host)
    assert (imported.config.dim, imported.config.depth, imported.config.heads, imported.config.num_labels) == (64, 2, 4, classes)
    assert imported.config.qk_norm == imported.config.attention_norm == imported.config.mlp_norm == bool(norms)
    pixels = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(8))
    batch = batch_of(host.tokenizer(imported.config), pixels)
    features, head, hidden, ours_head = outputs(reference, imported, batch, pixels, bf16=False)
    assert (hidden - features).abs().max() < TIMM_TOLERANCE
    assert (ours_head - head).abs().max() < TIMM_TOLERANCE  # logits, or the [CLS] features of timm's head-less forward
    features_bf16, head_bf16, hidden_bf16, ours_head_bf16 = outputs(reference, imported, batch, pixels, bf16=True)
    for expected, theirs, mine in ((features, features_bf16, hidden_bf16), (head, head_bf16, ours_head_bf16)):
        (their_cosine, their_error), (cosine, error) = bf16_errors(theirs, expected), bf16_errors(mine, expected)
        assert cosine > BF16_COSINE and error < BF16_RELATIVE
        assert their_cosine > BF16_COSINE and their_error < BF16_RELATIVE
        assert error <= 1.5 * their_error + 0.002  # sciformer in bfloat16 is about as close to float32 as timm is


@pytest.mark.parametrize("size", [(32, 32), (48, 48), (40, 24)])
def test_pretrained_cfg_and_positions_resampled_as_timm_does(tmp_path, host, timm_vision_transformer, size):
    """timm's eval transform from pretrained_cfg; at other sizes timm (dynamic_img_size) resamples pos_embed, antialiased."""
    reference = timm_model(timm_vision_transformer, dynamic_img_size=True)
    cfg = {"input_size": [3, 32, 32], "crop_pct": 0.875, "interpolation": "bicubic", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    meta = {"architecture": "vit_test_patch8_32", "model_args": {"num_heads": 4}, "pretrained_cfg": cfg}
    imported = load_checkpoint(import_timm_vit(save_state(reference, tmp_path / "timm" / "model.safetensors", meta).parent, tmp_path / "out", host, {}), host)
    options = imported.config.domain_options
    assert options["resize"] == 36 and options["crop"] == [32, 32] and options["position_antialias"] is True
    assert options["mean"] == [0.485, 0.456, 0.406] and imported.config.task is None
    pixels = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(7))
    features, _, hidden, _ = outputs(reference, imported, batch_of(host.tokenizer(imported.config), pixels), pixels, bf16=False)
    assert (hidden - features).abs().max() < TIMM_TOLERANCE


def test_head_count_from_architecture_name_or_width(tmp_path, host, timm_vision_transformer):
    pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    small = timm_model(timm_vision_transformer, embed_dim=48, num_heads=6)
    folder = save_state(small, tmp_path / "small" / "model.safetensors", {"architecture": "vit_small_patch8_32.test"}).parent
    single = timm_model(timm_vision_transformer, num_heads=1)
    for reference, source, heads in ((small, folder, 6), (single, save_state(single, tmp_path / "single.safetensors"), 1)):  # name; width / 64
        imported = load_checkpoint(import_timm_vit(source, tmp_path / f"out-{heads}", host, {}), host)
        assert imported.config.heads == heads
        features, _, hidden, _ = outputs(reference, imported, batch_of(host.tokenizer(imported.config), pixels), pixels, bf16=False)
        assert (hidden - features).abs().max() < TIMM_TOLERANCE


@pytest.mark.parametrize("variant, what", [({"reg_tokens": 1}, "register tokens"), ({"global_pool": "avg"}, "fc_norm")])
def test_unsupported_variants_are_refused_by_name(tmp_path, host, timm_vision_transformer, variant, what):
    source = save_state(timm_model(timm_vision_transformer, **variant), tmp_path / "bad.safetensors")
    with pytest.raises(InputFileError, match=what):
        import_timm_vit(source, tmp_path / "bad", host, {})


def test_heads_option_on_the_command_line_and_unknown_options_refused(tmp_path, host, timm_vision_transformer):
    """`sciformer import timm-vit FILE --option heads=4`: the head count weights without config.json do not show."""
    from click.testing import CliRunner
    from sciformer.cli.main import build_cli

    source = save_state(timm_model(timm_vision_transformer), tmp_path / "vit.safetensors")  # width 64 alone would say 1 head
    result = CliRunner().invoke(build_cli(host), ["import", "timm-vit", str(source), "--out", str(tmp_path / "cli"), "--option", "heads=4"], obj=host)
    assert result.exit_code == 0, result.output
    assert load_checkpoint(tmp_path / "cli", host).config.heads == 4
    refused = CliRunner().invoke(build_cli(host), ["import", "timm-vit", str(source), "--out", str(tmp_path / "no"), "--option", "depth=3"], obj=host)
    assert refused.exit_code != 0 and "unknown option(s) depth; it accepts heads" in refused.output
    refused = CliRunner().invoke(build_cli(host), ["import", "hf-vit", str(tmp_path), "--out", str(tmp_path / "no"), "--option", "heads=4"], obj=host)
    assert refused.exit_code != 0 and "it takes no options" in refused.output
