"""Import a fair-esm ESM-2 checkpoint (`esm2_*.pt`, with its `*-contact-regression.pt` beside it when
present) into a sciformer checkpoint. Files are read with `torch.load(weights_only=True)`; the only
non-tensor object allowed is `argparse.Namespace`, which holds the architecture in these files."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from sciformer.config import ModelConfig
from sciformer.errors import CheckpointError
from sciformer.importing import NameTable, load_safely, read_options, read_state_dict, refuse_unused, write_checkpoint
from sciformer.importing.names import weights_and_biases
from sciformer.plugins import PluginHost
from torch import Tensor

DOMAIN = "protein"
FORMAT = "esm"
PREFIX = re.compile(r"^(?:encoder\.sentence_encoder\.|encoder\.)")  # what fair-esm strips from fairseq names

#: Our parameter name -> the fair-esm name(s) it comes from (after PREFIX is removed); `{i}` is the layer index.
BODY: dict[str, str | tuple[str, ...]] = {
    "embedder.token_embedding.weight": "embed_tokens.weight",
    **weights_and_biases(
        {
            "blocks.{i}.norm1": "layers.{i}.self_attn_layer_norm",
            "blocks.{i}.mixer.qkv": ("layers.{i}.self_attn.q_proj", "layers.{i}.self_attn.k_proj", "layers.{i}.self_attn.v_proj"),
            "blocks.{i}.mixer.out": "layers.{i}.self_attn.out_proj",
            "blocks.{i}.norm2": "layers.{i}.final_layer_norm",
            "blocks.{i}.mlp.fc1": "layers.{i}.fc1",
            "blocks.{i}.mlp.fc2": "layers.{i}.fc2",
            "final_norm": "emb_layer_norm_after",
            "head.dense": "lm_head.dense",
            "head.norm": "lm_head.layer_norm",
        }
    ),
    "head.bias": "lm_head.bias",
}
CONTACT_HEAD = weights_and_biases({"embedder.contact_head.regression": "contact_head.regression"})
#: Tied to embed_tokens in ESM-2 (checked), rotary frequencies (recomputed), fairseq's version counters.
IGNORABLE = ("lm_head.weight", "*rot_emb.inv_freq", "*version")


def architecture(data: Mapping[str, Any], source: Path) -> dict[str, Any]:
    """The ESM-2 architecture settings (`cfg["model"]`) of a fair-esm checkpoint."""
    if "cfg" not in data:
        arch = getattr(data.get("args"), "arch", "?")
        raise CheckpointError(f"{source}: an ESM-1 / ESM-1b checkpoint (arch {arch!r}); only ESM-2 checkpoints are supported")
    model = data["cfg"]["model"]
    settings = vars(model) if isinstance(model, argparse.Namespace) else dict(model)
    needed = ("encoder_layers", "encoder_embed_dim", "encoder_attention_heads")
    missing = [k for k in needed if k not in settings]
    if missing:
        raise CheckpointError(f"{source}: checkpoint configuration lacks {missing}")
    return settings


def model_config(settings: Mapping[str, Any], contact_head: bool) -> ModelConfig:
    """Our configuration for fair-esm's ESM2(num_layers, embed_dim, attention_heads, token_dropout)."""
    return ModelConfig(
        domain=DOMAIN,
        dim=int(settings["encoder_embed_dim"]),
        depth=int(settings["encoder_layers"]),
        heads=int(settings["encoder_attention_heads"]),
        mlp_ratio=4.0,  # ESM2 builds its layers with ffn_embed_dim = 4 * embed_dim
        norm="pre",
        norm_eps=1e-5,
        activation="gelu",
        position="rotary",
        max_positions=1026,
        task="mlm",
        pooling="mean",
        tie_embeddings=True,
        domain_options={"max_residues": 1022, "token_dropout": bool(settings.get("token_dropout", True)), "contact_head": contact_head},
    )


def import_fair_esm(source: Path, out: Path, host: PluginHost, options: Mapping[str, str]) -> Path:
    """Convert a fair-esm ESM-2 `.pt` file (and its contact regression, if beside it) into a checkpoint (no options)."""
    read_options(FORMAT, options, {})
    source = Path(source)
    data = load_safely(source, [argparse.Namespace])  # argparse.Namespace: fair-esm's config object
    if not isinstance(data, Mapping) or "model" not in data:
        raise CheckpointError(f"{source}: not a fair-esm checkpoint (no 'model' state dict)")
    settings = architecture(data, source)
    foreign: dict[str, Tensor] = {PREFIX.sub("", name): tensor for name, tensor in data["model"].items()}
    regression = source.with_name(source.stem + "-contact-regression.pt")
    if regression.is_file():
        foreign.update(read_state_dict(regression, [argparse.Namespace]))
    decoder = foreign.get("lm_head.weight")
    if decoder is not None and not torch.equal(decoder, foreign["embed_tokens.weight"]):
        raise CheckpointError(f"{source}: lm_head.weight differs from embed_tokens.weight; ESM-2 ties them")
    contact = "contact_head.regression.weight" in foreign
    config = model_config(settings, contact)
    table = NameTable({**BODY, **(CONTACT_HEAD if contact else {})})
    state, used = table.apply(foreign, config.depth)
    refuse_unused(foreign, used, source, IGNORABLE)
    return write_checkpoint(config, state, Path(out), host, source, FORMAT, origins=table.origins(config.depth))
