"""Checkpoints round-trip exactly and fail clearly; configurations validate."""

from __future__ import annotations

import json

import pytest
import torch
from sciformer.build import build_model
from sciformer.checkpoint import load_checkpoint, read_checkpoint_info, resolve_model, save_checkpoint
from sciformer.config import ModelConfig
from sciformer.errors import CheckpointError, ConfigError


def test_round_trip_is_exact_and_keeps_ties(host, text_config, tmp_path) -> None:
    config = text_config.replace(task="mlm", position="rotary")
    model = build_model(config, host)
    save_checkpoint(model, tmp_path / "ckpt", host, extra={"note": "x"})
    loaded = load_checkpoint(tmp_path / "ckpt", host)
    assert loaded.config == config
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    assert loaded.head.decoder.weight is loaded.embedder.token_embedding.weight
    info = read_checkpoint_info(tmp_path / "ckpt")
    assert (info.plugin, info.extra) == ("text", {"note": "x"})
    assert not list((tmp_path / "ckpt").glob("*.pt")) and not list((tmp_path / "ckpt").glob("*.bin"))


def test_missing_and_mismatched_checkpoints_fail_clearly(host, text_config, tmp_path) -> None:
    with pytest.raises(CheckpointError, match="no such folder"):
        read_checkpoint_info(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="needs config.json and model.safetensors"):
        read_checkpoint_info(tmp_path / "empty")
    save_checkpoint(build_model(text_config, host), tmp_path / "ckpt", host)
    meta = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    meta["model"]["dim"] = 64
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="weights do not"):
        load_checkpoint(tmp_path / "ckpt", host)
    (tmp_path / "ckpt" / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="weights do not load"):
        load_checkpoint(tmp_path / "ckpt", host)
    with pytest.raises(CheckpointError, match="neither a checkpoint directory nor a shipped model"):
        resolve_model("no-such-model", host)
    assert resolve_model("text-who-ordered", host).is_dir()


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"dim": 30, "heads": 4}, "divisible"),
        ({"norm": "sandwich"}, "model.norm must be one of"),
        ({"position": "alibi"}, "model.position"),
        ({"num_labels": -1}, "num_labels"),
        ({"dropout": 1.5}, "dropout"),
        ({"labels": ("a", "b"), "num_labels": 3}, "labels"),
    ],
)
def test_invalid_configurations_name_the_setting(changes, message) -> None:
    with pytest.raises(ConfigError, match=message):
        ModelConfig(domain="text", **changes)


def test_unknown_config_keys_are_named() -> None:
    with pytest.raises(ConfigError, match=r"unknown model setting\(s\) \['widht'\]"):
        ModelConfig.from_dict({"domain": "text", "widht": 3})
