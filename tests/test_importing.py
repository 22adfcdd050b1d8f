"""The weight-import kit: safe reading, name tables, strict loading with named refusals, checkpoints, options."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from sciformer.build import build_model
from sciformer.checkpoint import load_checkpoint, read_checkpoint_info
from sciformer.config import ModelConfig
from sciformer.errors import ConfigError, InputFileError
from sciformer.importing import (
    NameTable,
    check_and_load,
    find_weights,
    read_json,
    read_options,
    read_state_dict,
    refuse_unused,
    unused_tensors,
    write_checkpoint,
)
from sciformer.plugins import PluginHost
from torch import nn


class Payload:
    """A pickled object whose loading would run code (`print` here)."""

    def __reduce__(self) -> tuple:
        return (print, ("unpickled!",))


@pytest.fixture
def tensors() -> dict[str, torch.Tensor]:
    return {"a.weight": torch.arange(6.0).reshape(2, 3), "a.bias": torch.tensor([1.0, -1.0])}


def test_read_state_dict_safetensors_sharded_and_torch(tmp_path: Path, tensors) -> None:
    save_file(tensors, str(tmp_path / "model.safetensors"))
    assert torch.equal(read_state_dict(tmp_path / "model.safetensors")["a.weight"], tensors["a.weight"])
    save_file({"a.weight": tensors["a.weight"]}, str(tmp_path / "one.safetensors"))
    save_file({"a.bias": tensors["a.bias"]}, str(tmp_path / "two.safetensors"))
    index = {"weight_map": {"a.weight": "one.safetensors", "a.bias": "two.safetensors"}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    assert sorted(read_state_dict(tmp_path / "model.safetensors.index.json")) == ["a.bias", "a.weight"]
    # a training checkpoint: DDP names nested under model_state, next to other entries
    torch.save({"epoch": 3, "model_state": {f"module.{k}": v for k, v in tensors.items()}}, tmp_path / "ckpt.tar")
    loaded = read_state_dict(tmp_path / "ckpt.tar")
    assert sorted(loaded) == ["a.bias", "a.weight"] and torch.equal(loaded["a.bias"], tensors["a.bias"])


def test_read_state_dict_refuses_code_and_non_tensors(tmp_path: Path, capsys) -> None:
    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"a.weight": Payload()}, protocol=2))
    with pytest.raises(InputFileError, match=r"evil\.pt: not a loadable state dict; torch.load\(weights_only=True\) refused it"):
        read_state_dict(tmp_path / "evil.pt")
    assert "unpickled!" not in capsys.readouterr().out
    torch.save({"a.weight": [1, 2]}, tmp_path / "lists.pt")
    with pytest.raises(InputFileError, match=r"lists\.pt: expected a state dict of tensors"):
        read_state_dict(tmp_path / "lists.pt")
    (tmp_path / "broken.safetensors").write_bytes(b"\x00" * 4)
    with pytest.raises(InputFileError, match=r"broken\.safetensors: not a readable safetensors file"):
        read_state_dict(tmp_path / "broken.safetensors")
    with pytest.raises(InputFileError, match=r"absent\.pt: file not found"):
        read_state_dict(tmp_path / "absent.pt")


def test_find_weights_and_read_json(tmp_path: Path, tensors) -> None:
    (tmp_path / "notes.txt").write_text("not weights")
    with pytest.raises(InputFileError, match=r"expected one weights file .* found \[\]"):
        find_weights(tmp_path)
    torch.save(tensors, tmp_path / "best.ckpt")
    assert find_weights(tmp_path) == tmp_path / "best.ckpt"
    torch.save(tensors, tmp_path / "last.ckpt")
    with pytest.raises(InputFileError, match=r"found \['best.ckpt', 'last.ckpt'\]"):
        find_weights(tmp_path)
    save_file(tensors, str(tmp_path / "model.safetensors"))
    assert find_weights(tmp_path) == tmp_path / "model.safetensors"  # a known name wins
    (tmp_path / "config.json").write_text('{"hidden_size": 8')
    with pytest.raises(InputFileError, match=r"config\.json: unreadable JSON"):
        read_json(tmp_path / "config.json")


def test_name_table_fuses_spells_out_layers_and_skips_absent_rows() -> None:
    table = NameTable({"emb": "embed", "blocks.{i}.qkv": ("l.{i}.q", "l.{i}.k", "l.{i}.v"), "blocks.{i}.out": "l.{i}.o", "head": "cls"})
    foreign = {"embed": torch.ones(2), **{f"l.{i}.{p}": torch.full((1, 2), float(i)) for i in range(2) for p in "qkvo"}, "extra": torch.zeros(1)}
    state, used = table.apply(foreign, depth=2)
    assert sorted(state) == ["blocks.0.out", "blocks.0.qkv", "blocks.1.out", "blocks.1.qkv", "emb"]  # no `cls`: head skipped
    assert state["blocks.1.qkv"].shape == (3, 2) and bool((state["blocks.1.qkv"] == 1).all())
    assert table.origins(2)["blocks.1.qkv"] == ("l.1.q", "l.1.k", "l.1.v") and table.origins(2)["head"] == ("cls",)
    assert unused_tensors(foreign, used) == ["extra"]
    assert unused_tensors(foreign, used, ["ext*"]) == []
    with pytest.raises(InputFileError, match=r"src\.pt: 1 tensor\(s\) this importer does not know, e.g. \['extra'\]"):
        refuse_unused(foreign, used, Path("src.pt"))


def test_check_and_load_names_missing_unexpected_and_shapes() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    good = {name: torch.full_like(tensor, 0.5, dtype=torch.float64) for name, tensor in model.state_dict().items()}
    check_and_load(model, good, Path("w.pt"))
    assert model[0].weight.dtype == torch.float32 and bool((model[0].weight == 0.5).all())
    partial = {k: v for k, v in good.items() if k != "1.bias"}
    with pytest.raises(InputFileError, match=r"w\.pt: the weights do not fit the model; tensors 1 missing: 1\.bias \(from out\.b\)"):
        check_and_load(model, partial, Path("w.pt"), {"1.bias": ("out.b",)})
    with pytest.raises(InputFileError, match=r"1 unexpected: 2\.weight"):
        check_and_load(model, {**good, "2.weight": torch.zeros(1)}, Path("w.pt"))
    with pytest.raises(InputFileError, match=r"1 of another shape than the model's: 0\.weight \(3, 2\) vs \(2, 3\)"):
        check_and_load(model, {**good, "0.weight": torch.zeros(3, 2)}, Path("w.pt"))
    with pytest.raises(InputFileError, match=r"4 missing: 0\.bias, 0\.weight, 1\.bias, 1\.weight"):
        check_and_load(model, {}, Path("w.pt"))


def test_write_checkpoint_builds_fills_tied_weights_and_saves(tmp_path: Path) -> None:
    host = PluginHost(entry_points=False)
    config = ModelConfig(domain="text", dim=8, depth=1, heads=2, task="mlm", tie_embeddings=True, domain_options={"vocab": ["a", "b"]})
    reference = build_model(config, host)
    foreign = {f"theirs.{name}": tensor for name, tensor in reference.state_dict().items() if name != "head.decoder.weight"}
    table = NameTable({name.removeprefix("theirs."): name for name in foreign})
    state, _ = table.apply(foreign, config.depth)
    out = write_checkpoint(config, state, tmp_path / "ckpt", host, tmp_path / "source.pt", "test", {"note": 1}, table.origins(config.depth))
    loaded = load_checkpoint(out, host)
    assert all(torch.equal(loaded.state_dict()[name], tensor) for name, tensor in reference.state_dict().items())
    assert read_checkpoint_info(out).extra == {"imported_from": str(tmp_path / "source.pt"), "import_format": "test", "note": 1}


def test_read_options_converts_and_refuses_unknown_keys() -> None:
    assert read_options("timm-vit", {"heads": "12"}, {"heads": int}) == {"heads": 12}
    with pytest.raises(ConfigError, match=r"^import timm-vit: unknown option\(s\) depth; it accepts heads$"):
        read_options("timm-vit", {"depth": "3"}, {"heads": int})
    with pytest.raises(ConfigError, match=r"^import hf-vit: unknown option\(s\) heads; it takes no options$"):
        read_options("hf-vit", {"heads": "3"}, {})
    with pytest.raises(ConfigError, match=r"option heads='many' is not a valid int"):
        read_options("timm-vit", {"heads": "many"}, {"heads": int})
