"""Parity with transformers' ViT: import a randomly initialised ViTModel / ViTForImageClassification and compare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from sciformer.checkpoint import load_checkpoint, read_checkpoint_info
from sciformer.errors import InputFileError
from sciformer_vision.hf_vit import import_hf_vit
from transformers import ViTConfig, ViTForImageClassification, ViTModel

from .conftest import batch_of, save_hf_reference

TOLERANCE = 1e-4
BF16_COSINE = 0.9999  # measured lowest: 0.99998 (sciformer), 0.99994 (transformers)
BF16_RELATIVE = 0.025  # measured highest: 0.0099 (sciformer), 0.0114 (transformers)
SMALL = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64, "image_size": 16, "patch_size": 4, "num_channels": 3}


def hf_directory(tmp_path: Path, classifier: bool, **changes: object) -> tuple[Path, torch.nn.Module]:
    """A randomised transformers ViT (image classifier or encoder) saved as a model directory: (folder, model)."""
    config = ViTConfig(**{**SMALL, **changes}, num_labels=5, id2label={i: f"class-{i}" for i in range(5)}, label2id={f"class-{i}": i for i in range(5)})
    folder = tmp_path / ("classifier" if classifier else "encoder")
    return folder, save_hf_reference(ViTForImageClassification if classifier else ViTModel, config, folder, norm="layernorm")


@pytest.mark.parametrize("size", [(16, 16), (24, 20), (12, 12)])
def test_vit_model_final_hidden_states_match(tmp_path, host, size):
    folder, reference = hf_directory(tmp_path, classifier=False)
    out = import_hf_vit(folder, tmp_path / "imported", host, {})
    model = load_checkpoint(out, host)
    tokenizer = host.tokenizer(model.config)
    pixels = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        expected = reference(pixels, interpolate_pos_encoding=size != (16, 16), output_attentions=True)
        ours = model(batch_of(tokenizer, pixels), need_weights=True)
    assert (ours.hidden - expected.last_hidden_state).abs().max() < TOLERANCE
    assert torch.allclose(ours.pooled, expected.last_hidden_state[:, 0], atol=TOLERANCE)
    for mine, theirs in zip(ours.attentions, expected.attentions, strict=True):
        assert (mine - theirs).abs().max() < TOLERANCE


@pytest.mark.parametrize("size", [(16, 16), (20, 28)])
def test_vit_classifier_logits_match(tmp_path, host, size):
    folder, reference = hf_directory(tmp_path, classifier=True)
    out = import_hf_vit(folder, tmp_path / "imported", host, {})
    info = read_checkpoint_info(out)
    assert info.config.task == "sequence-classification" and info.config.labels == tuple(f"class-{i}" for i in range(5))
    assert info.config.norm_eps == 1e-12 and info.extra["import_format"] == "hf-vit"
    model = load_checkpoint(out, host)
    pixels = torch.randn(3, 3, *size, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        expected = reference(pixels, interpolate_pos_encoding=size != (16, 16)).logits
        logits = model(batch_of(host.tokenizer(model.config), pixels)).prediction
    assert (logits - expected).abs().max() < TOLERANCE


def test_bfloat16_is_as_close_to_float32_as_transformers(tmp_path, host):
    """bfloat16 autocast on both sides against transformers' float32 output: final hidden states and logits."""
    folder, reference = hf_directory(tmp_path, classifier=True)
    model = load_checkpoint(import_hf_vit(folder, tmp_path / "imported", host, {}), host)
    pixels = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    batch = batch_of(host.tokenizer(model.config), pixels)
    runs = []
    for bf16 in (False, True):
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            hidden, ours = reference.vit(pixels).last_hidden_state, model(batch)  # after the final norm, as ours.hidden
            runs.append(((hidden, reference.classifier(hidden[:, 0])), (ours.hidden, ours.prediction)))
    (expected, _), (theirs16, ours16) = runs
    for reference_output, their, mine in zip(expected, theirs16, ours16, strict=True):
        (cosine, error), (their_cosine, their_error) = bf16_errors(mine, reference_output), bf16_errors(their, reference_output)
        assert cosine > BF16_COSINE and error < BF16_RELATIVE
        assert their_cosine > BF16_COSINE and their_error < BF16_RELATIVE
        assert error <= 1.5 * their_error + 0.002  # sciformer in bfloat16 is about as close to float32 as transformers is


def bf16_errors(got: torch.Tensor, reference: torch.Tensor) -> tuple[float, float]:
    """Lowest cosine similarity of a record (flattened) and max relative error |got - ref|.max() / |ref|.max()."""
    got, reference = got.float().flatten(1), reference.float().flatten(1)
    cosine = torch.nn.functional.cosine_similarity(got, reference, dim=1).min().item()
    return cosine, ((got - reference).abs().max() / reference.abs().max()).item()


def test_bin_weights_without_qkv_bias_and_grey_channels(tmp_path, host):
    folder, reference = hf_directory(tmp_path, classifier=True, qkv_bias=False, num_channels=1)
    assert json.loads((folder / "config.json").read_text())["qkv_bias"] is False
    from safetensors.torch import load_file

    torch.save(load_file(str(folder / "model.safetensors")), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    model = load_checkpoint(import_hf_vit(folder, tmp_path / "imported", host, {}), host)
    assert model.config.qkv_bias is False and model.config.domain_options["channels"] == 1
    pixels = torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(4))
    with torch.inference_mode():
        logits = model(batch_of(host.tokenizer(model.config), pixels)).prediction
        assert (logits - reference(pixels).logits).abs().max() < TOLERANCE


def test_preprocessor_config_is_carried_into_the_checkpoint(tmp_path, host):
    folder, _ = hf_directory(tmp_path, classifier=False)
    processor = {
        "do_resize": True, "size": {"height": 16, "width": 16}, "resample": 3, "do_rescale": True,
        "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
    }
    (folder / "preprocessor_config.json").write_text(json.dumps(processor))
    options = read_checkpoint_info(import_hf_vit(folder, tmp_path / "imported", host, {})).config.domain_options
    assert options["resize"] == [16, 16] and options["resample"] == "bicubic" and options["rescale"] is None
    assert options["mean"] == [0.485, 0.456, 0.406] and options["std"] == [0.229, 0.224, 0.225]
    (folder / "preprocessor_config.json").unlink()
    defaults = read_checkpoint_info(import_hf_vit(folder, tmp_path / "defaults", host, {})).config.domain_options
    assert defaults["resize"] == [16, 16] and defaults["resample"] == "bilinear" and defaults["mean"] == [0.5, 0.5, 0.5]


def test_foreign_tensors_are_refused(tmp_path, host):
    folder, _ = hf_directory(tmp_path, classifier=False)
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(folder / "model.safetensors"))
    tensors["decoder.0.weight"] = torch.zeros(3)
    save_file(tensors, str(folder / "model.safetensors"))
    with pytest.raises(InputFileError, match="decoder.0.weight"):
        import_hf_vit(folder, tmp_path / "imported", host, {})
    with pytest.raises(InputFileError, match="config.json"):
        import_hf_vit(folder / "model.safetensors", tmp_path / "imported", host, {})


def test_import_command_line(tmp_path, host):
    from click.testing import CliRunner
    from sciformer.cli.main import build_cli

    folder, _ = hf_directory(tmp_path, classifier=True)
    listed = CliRunner().invoke(build_cli(host), ["import", "--list"], obj=host)
    assert "hf-vit" in listed.output and "timm-vit" in listed.output
    result = CliRunner().invoke(build_cli(host), ["import", "hf-vit", str(folder), "--out", str(tmp_path / "cli")], obj=host)
    assert result.exit_code == 0, result.output
    assert read_checkpoint_info(tmp_path / "cli").config.num_labels == 5


def test_sharded_safetensors_are_joined(tmp_path, host):
    _folder, reference = hf_directory(tmp_path, classifier=True)
    sharded = tmp_path / "sharded"
    reference.save_pretrained(sharded, max_shard_size="20KB")
    assert (sharded / "model.safetensors.index.json").is_file()
    model = load_checkpoint(import_hf_vit(sharded, tmp_path / "imported", host, {}), host)
    pixels = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        logits = model(batch_of(host.tokenizer(model.config), pixels)).prediction
        assert (logits - reference(pixels).logits).abs().max() < TOLERANCE
