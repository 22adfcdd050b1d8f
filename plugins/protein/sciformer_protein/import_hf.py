"""Import a `transformers` ESM-2 directory (config.json + model.safetensors, sharded safetensors or
pytorch_model.bin) into a sciformer checkpoint. Pickle is only read with `weights_only=True`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from sciformer.config import ModelConfig
from sciformer.errors import CheckpointError
from sciformer.importing import NameTable, find_weights, read_json, read_options, read_state_dict, refuse_unused, write_checkpoint
from sciformer.importing.names import weights_and_biases
from sciformer.plugins import PluginHost

from . import alphabet

DOMAIN = "protein"
FORMAT = "hf-esm"

#: Our parameter name -> the transformers name(s) it comes from; `{i}` is the layer index.
BODY: dict[str, str | tuple[str, ...]] = {
    "embedder.token_embedding.weight": "esm.embeddings.word_embeddings.weight",
    **weights_and_biases(
        {
            "blocks.{i}.norm1": "esm.encoder.layer.{i}.attention.LayerNorm",
            "blocks.{i}.mixer.qkv": tuple(f"esm.encoder.layer.{{i}}.attention.self.{p}" for p in ("query", "key", "value")),
            "blocks.{i}.mixer.out": "esm.encoder.layer.{i}.attention.output.dense",
            "blocks.{i}.norm2": "esm.encoder.layer.{i}.LayerNorm",
            "blocks.{i}.mlp.fc1": "esm.encoder.layer.{i}.intermediate.dense",
            "blocks.{i}.mlp.fc2": "esm.encoder.layer.{i}.output.dense",
            "final_norm": "esm.encoder.emb_layer_norm_after",
        }
    ),
}
LM_HEAD: dict[str, str | tuple[str, ...]] = {
    **weights_and_biases({"head.dense": "lm_head.dense", "head.norm": "lm_head.layer_norm"}),
    "head.bias": "lm_head.bias",
}
UNTIED_DECODER = {"head.decoder.weight": "lm_head.decoder.weight"}
CONTACT_HEAD = weights_and_biases({"embedder.contact_head.regression": "esm.contact_head.regression"})
#: Older LayerNorm parameter names that transformers still writes for ESM (and reads back as weight / bias).
LEGACY_NAMES = {"LayerNorm.gamma": "LayerNorm.weight", "LayerNorm.beta": "LayerNorm.bias"}
#: Tensors that carry nothing our model needs: rotary frequencies (recomputed), position ids, the unused pooler.
IGNORABLE = ("*rotary_embeddings.inv_freq", "*position_ids", "esm.pooler.*", "lm_head.decoder.weight")


def model_config(hf: dict[str, Any], *, lm_head: bool, tied: bool, contact_head: bool, source: Path) -> ModelConfig:
    """Our configuration for a transformers EsmConfig (ESM-2 only: rotary positions, no embedding norm)."""
    problems = []
    if hf.get("position_embedding_type", "absolute") != "rotary":
        problems.append(f"position_embedding_type {hf.get('position_embedding_type', 'absolute')!r} (ESM-1 / ESM-1b); only rotary ESM-2 is supported")
    if hf.get("emb_layer_norm_before"):
        problems.append("emb_layer_norm_before is set (an ESM-1b feature)")
    if hf.get("vocab_size") != alphabet.VOCAB_SIZE:
        problems.append(f"vocab_size {hf.get('vocab_size')} (the ESM alphabet has {alphabet.VOCAB_SIZE})")
    if hf.get("hidden_act", "gelu") != "gelu":
        problems.append(f"hidden_act {hf.get('hidden_act')!r}")
    if hf.get("is_folding_model"):
        problems.append("it is an ESMFold model")
    if problems:
        raise CheckpointError(f"{source}: cannot import: " + "; ".join(problems))
    positions = int(hf.get("max_position_embeddings", 1026))
    return ModelConfig(
        domain=DOMAIN,
        dim=hf["hidden_size"],
        depth=hf["num_hidden_layers"],
        heads=hf["num_attention_heads"],
        mlp_ratio=hf["intermediate_size"] / hf["hidden_size"],
        norm="pre",
        norm_eps=float(hf.get("layer_norm_eps", 1e-5)),
        activation="gelu",
        dropout=float(hf.get("hidden_dropout_prob", 0.0)),
        attention_dropout=float(hf.get("attention_probs_dropout_prob", 0.0)),
        position="rotary",
        max_positions=positions,
        task="mlm" if lm_head else None,
        pooling="mean",
        tie_embeddings=tied,
        domain_options={
            "max_residues": max(1, positions - 4),  # 1026 -> 1022, ESM-2's crop length
            "token_dropout": bool(hf.get("token_dropout", True)),
            "contact_head": contact_head,
        },
    )


def import_hf_esm(source: Path, out: Path, host: PluginHost, options: Mapping[str, str]) -> Path:
    """Convert a transformers ESM-2 directory into a sciformer checkpoint at `out` (no options)."""
    read_options(FORMAT, options, {})
    source = Path(source)
    config_path = source / "config.json"
    if not config_path.is_file():
        raise CheckpointError(f"{source}: not a transformers ESM directory (no config.json)")
    hf = read_json(config_path)
    foreign = read_state_dict(find_weights(source))
    if not any(name.startswith("esm.") for name in foreign):  # saved from EsmModel: no "esm." prefix
        foreign = {name if name.startswith("lm_head.") else f"esm.{name}": t for name, t in foreign.items()}
    foreign = {_modern_name(name): t for name, t in foreign.items()}
    lm_head = "lm_head.dense.weight" in foreign
    decoder = foreign.get("lm_head.decoder.weight")
    embeddings = foreign["esm.embeddings.word_embeddings.weight"]
    tied = decoder is None or (decoder.shape == embeddings.shape and torch.equal(decoder, embeddings))
    contact = "esm.contact_head.regression.weight" in foreign
    config = model_config(hf, lm_head=lm_head, tied=tied, contact_head=contact, source=source)
    table = NameTable({**BODY, **(LM_HEAD if lm_head else {}), **(UNTIED_DECODER if lm_head and not tied else {}), **(CONTACT_HEAD if contact else {})})
    state, used = table.apply(foreign, config.depth)
    refuse_unused(foreign, used, source, IGNORABLE)
    return write_checkpoint(config, state, Path(out), host, source, FORMAT, origins=table.origins(config.depth))


def _modern_name(name: str) -> str:
    """Current transformers name for a legacy LayerNorm parameter name (others unchanged)."""
    for old, new in LEGACY_NAMES.items():
        if name.endswith(old):
            return name[: -len(old)] + new
    return name
