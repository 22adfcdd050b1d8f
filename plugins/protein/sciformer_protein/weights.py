"""Renaming foreign weights to sciformer's by a table, and writing the result as a checkpoint.

A table maps each of our parameter names to the foreign name it comes from, or to several foreign
names that are concatenated along the first axis (separate q, k, v projections -> our fused `qkv`).
`{i}` stands for the block index. Foreign tensors that no table entry uses and that are not listed
as ignorable make the import fail: they would mean an architecture this plugin does not reproduce.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from sciformer.build import build_model
from sciformer.checkpoint import save_checkpoint
from sciformer.config import ModelConfig
from sciformer.errors import CheckpointError
from sciformer.plugins import PluginHost
from torch import Tensor

log = logging.getLogger(__name__)

NameTable = Mapping[str, "str | tuple[str, ...]"]


def rename(foreign: Mapping[str, Tensor], table: NameTable, depth: int, ignorable: Sequence[str], source: Path) -> dict[str, Tensor]:
    """Our state dict from `foreign` by `table`; raises CheckpointError for missing or unexplained tensors."""
    ours: dict[str, Tensor] = {}
    used: set[str] = set()
    for our_pattern, their_patterns in table.items():
        patterns = (their_patterns,) if isinstance(their_patterns, str) else their_patterns
        for block in range(depth) if "{i}" in our_pattern else (None,):
            names = [p.format(i=block) for p in patterns]
            missing = [n for n in names if n not in foreign]
            if missing:
                raise CheckpointError(f"{source}: weight(s) {missing} not found; is this the format it claims to be?")
            tensors = [foreign[n].detach().to(torch.float32) for n in names]
            ours[our_pattern.format(i=block)] = torch.cat(tensors, dim=0) if len(tensors) > 1 else tensors[0]
            used.update(names)
    skip = re.compile("|".join(f"(?:{p})" for p in ignorable)) if ignorable else None
    unexplained = sorted(n for n in foreign if n not in used and not (skip and skip.fullmatch(n)))
    if unexplained:
        raise CheckpointError(f"{source}: {len(unexplained)} weight(s) this importer does not know, e.g. {unexplained[:5]}; only ESM-2 architectures are supported")
    return ours


def write_checkpoint(config: ModelConfig, state: dict[str, Tensor], out: Path, host: PluginHost, extra: dict) -> Path:
    """Build the model `config` describes, load `state` strictly, and save it as a checkpoint in `out`."""
    model = build_model(config, host)
    if config.task == "mlm" and config.tie_embeddings:
        state["head.decoder.weight"] = state["embedder.token_embedding.weight"]
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"converted weights do not fit the model (missing {missing[:5]}, unexpected {unexpected[:5]})")
    save_checkpoint(model.eval(), out, host, extra=extra)
    log.info("wrote %s (%d tensors)", out, len(state))
    return out


def same_tensor(a: Tensor, b: Tensor) -> bool:
    """True when two weights hold the same values (a tied decoder saved twice)."""
    return a.shape == b.shape and bool(torch.equal(a, b))
