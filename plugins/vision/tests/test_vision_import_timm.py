"""timm ViT import: state dicts written in timm's naming from a sciformer model, and from transformers' ViT."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file
from sciformer.build import build_model
from sciformer.checkpoint import load_checkpoint
from sciformer.errors import InputFileError
from sciformer_vision.timm_vit import import_timm_vit
from sciformer_vision.tokenizer import ImageEncoding
from transformers import ViTConfig, ViTModel

TOLERANCE = 1e-4


def timm_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A sciformer ViT's weights under the names timm's VisionTransformer uses (written out by hand)."""
    ours = model.state_dict()
    timm = {
        "cls_token": ours["embedder.cls_token"],
        "pos_embed": ours["embedder.position_embedding"],
        "patch_embed.proj.weight": ours["embedder.patch_embedding.weight"],
        "patch_embed.proj.bias": ours["embedder.patch_embedding.bias"],
        "norm.weight": ours["final_norm.weight"],
        "norm.bias": ours["final_norm.bias"],
    }
    if "head.linear.weight" in ours:
        timm["head.weight"], timm["head.bias"] = ours["head.linear.weight"], ours["head.linear.bias"]
    for i in range(model.config.depth):
        for timm_name, our_name in [("norm1", "norm1"), ("attn.qkv", "mixer.qkv"), ("attn.proj", "mixer.out"), ("norm2", "norm2"), ("mlp.fc1", "mlp.fc1"), ("mlp.fc2", "mlp.fc2")]:
            for kind in ("weight", "bias"):
                if f"blocks.{i}.{our_name}.{kind}" in ours:
                    timm[f"blocks.{i}.{timm_name}.{kind}"] = ours[f"blocks.{i}.{our_name}.{kind}"]
    return {name: tensor.clone().contiguous() for name, tensor in timm.items()}


def randomised_model(make_config, host, **changes):
    torch.manual_seed(0)
    model = build_model(make_config(**changes), host).eval()
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.1)
    return model


def batch_of(tokenizer, pixels: torch.Tensor):
    return tokenizer.collate([ImageEncoding(p, None) for p in pixels], [str(i) for i in range(len(pixels))])


def assert_same_outputs(host, model, imported, channels: int = 1) -> None:
    pixels = torch.randn(2, channels, 28, 28, generator=torch.Generator().manual_seed(1))
    tokenizer = host.tokenizer(imported.config)
    with torch.inference_mode():
        expected, got = model(batch_of(tokenizer, pixels)), imported(batch_of(tokenizer, pixels))
    assert (got.hidden - expected.hidden).abs().max() < TOLERANCE
    if expected.prediction is not None:
        assert (got.prediction - expected.prediction).abs().max() < TOLERANCE


def test_round_trip_through_timm_names(tmp_path, host, make_config):
    model = randomised_model(make_config, host, task="sequence-classification", num_labels=4)
    save_file(timm_state_dict(model), str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"architecture": "vit_test", "model_args": {"num_heads": 4}, "label_names": ["a", "b", "c", "d"]}))
    imported = load_checkpoint(import_timm_vit(tmp_path, tmp_path / "out"), host)
    config = imported.config
    assert (config.dim, config.depth, config.heads, config.num_labels, config.labels) == (32, 2, 4, 4, ("a", "b", "c", "d"))
    assert config.domain_options["patch_size"] == 7 and config.domain_options["image_size"] == [28, 28]
    assert_same_outputs(host, model, imported)


def test_layer_scale_is_folded_exactly(tmp_path, host, make_config):
    model = randomised_model(make_config, host)
    timm = timm_state_dict(model)
    generator = torch.Generator().manual_seed(2)
    for i in range(model.config.depth):
        for scale, projection in (("ls1", "attn.proj"), ("ls2", "mlp.fc2")):
            gamma = torch.rand(32, generator=generator) + 0.5
            timm[f"blocks.{i}.{scale}.gamma"] = gamma
            timm[f"blocks.{i}.{projection}.weight"] = timm[f"blocks.{i}.{projection}.weight"] / gamma[:, None]
            timm[f"blocks.{i}.{projection}.bias"] = timm[f"blocks.{i}.{projection}.bias"] / gamma
    torch.save(timm, tmp_path / "vit.pth")
    (tmp_path / "config.json").write_text(json.dumps({"architecture": "vit_test", "model_args": {"num_heads": 4}}))
    assert_same_outputs(host, model, load_checkpoint(import_timm_vit(tmp_path, tmp_path / "out"), host))


@pytest.mark.parametrize("size", [(16, 16), (24, 24)])
def test_transformers_vit_renamed_to_timm_matches(tmp_path, host, size):
    """Where timm's and transformers' ViTs coincide (pre-norm, fused qkv = [q; k; v], LayerNorm eps 1e-6)."""
    config = ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, image_size=16, patch_size=4, layer_norm_eps=1e-6)
    torch.manual_seed(0)
    reference = ViTModel(config, add_pooling_layer=False).eval()
    generator = torch.Generator().manual_seed(6)
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.2)
    hf = reference.state_dict()
    timm = {
        "cls_token": hf["embeddings.cls_token"],
        "pos_embed": hf["embeddings.position_embeddings"],
        "patch_embed.proj.weight": hf["embeddings.patch_embeddings.projection.weight"],
        "patch_embed.proj.bias": hf["embeddings.patch_embeddings.projection.bias"],
        "norm.weight": hf["layernorm.weight"],
        "norm.bias": hf["layernorm.bias"],
    }
    for i in range(2):
        layer = f"layers.{i}."
        for kind in ("weight", "bias"):
            timm[f"blocks.{i}.attn.qkv.{kind}"] = torch.cat([hf[f"{layer}attention.{p}_proj.{kind}"] for p in "qkv"])
            timm[f"blocks.{i}.attn.proj.{kind}"] = hf[f"{layer}attention.o_proj.{kind}"]
            timm[f"blocks.{i}.norm1.{kind}"] = hf[f"{layer}layernorm_before.{kind}"]
            timm[f"blocks.{i}.norm2.{kind}"] = hf[f"{layer}layernorm_after.{kind}"]
            timm[f"blocks.{i}.mlp.fc1.{kind}"] = hf[f"{layer}mlp.fc1.{kind}"]
            timm[f"blocks.{i}.mlp.fc2.{kind}"] = hf[f"{layer}mlp.fc2.{kind}"]
    save_file({k: v.contiguous() for k, v in timm.items()}, str(tmp_path / "model.safetensors"))
    meta = {"architecture": "vit_test_patch4_16", "model_args": {"num_heads": 4}, "pretrained_cfg": {"input_size": [3, 16, 16], "crop_pct": 0.875, "interpolation": "bicubic", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}
    (tmp_path / "config.json").write_text(json.dumps(meta))
    imported = load_checkpoint(import_timm_vit(tmp_path, tmp_path / "out"), host)
    options = imported.config.domain_options
    assert options["resize"] == 18 and options["crop"] == [16, 16] and options["position_antialias"] is True
    assert options["mean"] == [0.485, 0.456, 0.406] and imported.config.task is None
    if size != (16, 16):  # timm resamples positions with antialias=True: give the reference that table at `size`
        reference = resized_reference(reference, config, size)
    pixels = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(7))
    with torch.inference_mode():
        expected = reference(pixels).last_hidden_state
        hidden = imported(batch_of(host.tokenizer(imported.config), pixels)).hidden
    assert (hidden - expected).abs().max() < TOLERANCE


def resized_reference(reference: ViTModel, config: ViTConfig, size: tuple[int, int]) -> ViTModel:
    """The same ViT built for `size`, its position table resampled as timm's resample_abs_pos_embed does."""
    state = reference.state_dict()
    table = state["embeddings.position_embeddings"]  # (1, 1 + 16, D)
    grid = table[:, 1:].reshape(1, 4, 4, -1).permute(0, 3, 1, 2)
    new_grid = (size[0] // 4, size[1] // 4)
    grid = torch.nn.functional.interpolate(grid, size=new_grid, mode="bicubic", antialias=True)
    state["embeddings.position_embeddings"] = torch.cat([table[:, :1], grid.permute(0, 2, 3, 1).reshape(1, -1, table.shape[-1])], dim=1)
    resized = ViTModel(ViTConfig(**{**config.to_dict(), "image_size": list(size)}), add_pooling_layer=False).eval()
    resized.load_state_dict(state)
    return resized


def test_head_count_from_architecture_name_or_width(tmp_path, host, make_config):
    small = randomised_model(make_config, host, dim=48, heads=6)
    save_file(timm_state_dict(small), str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"architecture": "vit_small_patch7_28.test"}))
    assert_same_outputs(host, small, load_checkpoint(import_timm_vit(tmp_path, tmp_path / "small"), host))
    single = randomised_model(make_config, host, dim=64, heads=1)
    save_file(timm_state_dict(single), str(tmp_path / "single.safetensors"))
    imported = load_checkpoint(import_timm_vit(tmp_path / "single.safetensors", tmp_path / "single"), host)
    assert imported.config.heads == 1  # width / 64
    assert_same_outputs(host, single, imported)


@pytest.mark.parametrize("name, what", [("reg_token", "register tokens"), ("fc_norm.weight", "fc_norm"), ("blocks.0.attn.q_norm.weight", "q-k normalisation")])
def test_unsupported_variants_are_refused_by_name(tmp_path, host, make_config, name, what):
    timm = timm_state_dict(randomised_model(make_config, host))
    save_file({**timm, name: torch.zeros(1, 1, 32) if name == "reg_token" else torch.zeros(32)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(InputFileError, match=what):
        import_timm_vit(tmp_path / "bad.safetensors", tmp_path / "bad")
