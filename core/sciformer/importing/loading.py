"""Filling a freshly built model strictly from converted weights, and saving it as a checkpoint."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from sciformer.build import build_model
from sciformer.checkpoint import save_checkpoint
from sciformer.config import ModelConfig
from sciformer.errors import InputFileError
from sciformer.importing.names import SHOWN
from sciformer.plugins import PluginHost

log = logging.getLogger(__name__)


def check_and_load(model: nn.Module, state: Mapping[str, Tensor], source: Path, origins: Mapping[str, tuple[str, ...]] | None = None) -> None:
    """Load `state` into `model` strictly, cast to the model's dtypes; InputFileError names missing and
    unexpected tensors and shape mismatches (the first few, with counts). `origins` (NameTable.origins)
    adds the foreign names a missing tensor would have come from. A tensor tied to a given one is filled from it."""
    own = model.state_dict(keep_vars=True)
    state = {**state, **_tied(own, state)}
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = sorted(n for n in set(state) & set(own) if tuple(state[n].shape) != tuple(own[n].shape))
    problems = []
    if missing:
        named = [f"{n} (from {', '.join(origins[n])})" if origins and n in origins else n for n in missing[:SHOWN]]
        problems.append(f"{len(missing)} missing: {', '.join(named)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected: {', '.join(unexpected[:SHOWN])}")
    if mismatched:
        shapes = [f"{n} {tuple(state[n].shape)} vs {tuple(own[n].shape)}" for n in mismatched[:SHOWN]]
        problems.append(f"{len(mismatched)} of another shape than the model's: {', '.join(shapes)}")
    if problems:
        raise InputFileError(f"{source}: the weights do not fit the model; tensors {'; '.join(problems)}")
    with torch.no_grad():
        model.load_state_dict({name: tensor.detach().to(own[name].dtype) for name, tensor in state.items()}, strict=True)


def _tied(own: Mapping[str, Tensor], state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Values for the model's names that share a parameter with a name `state` has (tied embeddings)."""
    groups: dict[int, list[str]] = {}
    for name, tensor in own.items():
        groups.setdefault(id(tensor), []).append(name)
    filled = {}
    for names in groups.values():
        given = next((n for n in names if n in state), None)
        if given is not None:
            filled.update({n: state[given] for n in names if n not in state})
    return filled


def write_checkpoint(config: ModelConfig, state: Mapping[str, Tensor], out: Path, host: PluginHost, source: Path, format_name: str,
                     extra: Mapping[str, Any] | None = None, origins: Mapping[str, tuple[str, ...]] | None = None) -> Path:
    """Build the model `config` describes with `host`, `check_and_load` `state` into it and save it at `out`.

    The checkpoint's config.json records `imported_from` (source) and `import_format` besides `extra`; returns `out`.
    """
    model = build_model(config, host)
    check_and_load(model, state, source, origins)
    log.info("imported %d %s tensors from %s", len(state), format_name, source)
    return save_checkpoint(model.eval(), out, host, extra={"imported_from": str(source), "import_format": format_name, **(extra or {})})
