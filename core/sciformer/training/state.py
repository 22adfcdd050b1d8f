"""Resumable training state without pickle: tensors in safetensors, the rest in JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

TENSORS = "trainer.safetensors"
SCALARS = "trainer.json"


def save_training_state(directory: Path, optimizer: torch.optim.Optimizer, progress: dict[str, Any]) -> None:
    """Write optimizer moments, random states and loop progress into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    optimizer_state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {"rng.torch": torch.get_rng_state()}
    for index, slots in optimizer_state["state"].items():
        for name, value in slots.items():
            tensors[f"optim.{index}.{name}"] = value.detach().cpu().contiguous()
    save_file(tensors, str(directory / TENSORS))
    scalars = {"progress": progress, "param_groups": optimizer_state["param_groups"]}
    (directory / SCALARS).write_text(json.dumps(scalars, indent=1))


def load_training_state(directory: Path, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore what `save_training_state` wrote; returns the loop progress."""
    tensors = load_file(str(directory / TENSORS))
    scalars = json.loads((directory / SCALARS).read_text())
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": scalars["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    return scalars["progress"]
