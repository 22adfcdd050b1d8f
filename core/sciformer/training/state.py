"""Resumable training state without pickle: tensors in safetensors, the rest in JSON.

The optimizer state is the full (unsharded) one keyed by parameter names, as
`ParallelModel.optimizer_state` gives it, so any world size can resume from it. For tests,
SCIFORMER_PAUSE_AFTER_STEP=k holds a run once the state of step k is saved.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from sciformer.pausing import hold_until

TENSORS = "trainer.safetensors"
SCALARS = "trainer.json"
PREFIX = "optim."
PAUSE_ENV = "SCIFORMER_PAUSE_AFTER_STEP"


def pause_after_step(step: int, report: bool) -> None:
    """With SCIFORMER_PAUSE_AFTER_STEP=`step`, once the state of that optimizer step is saved: say so on standard
    error (when `report`: rank 0) and wait for a signal (SIGKILL ends the run)."""
    if os.environ.get(PAUSE_ENV, "").strip() == str(step):
        hold_until(f"sciformer: paused after step {step} ({PAUSE_ENV})" if report else "", lambda: False)


def save_training_state(directory: Path, optimizer_state: Mapping[str, Any], progress: Mapping[str, Any]) -> None:
    """Write optimizer moments (`{"state": {name: {slot: tensor}}, "param_groups": [...]}`) and loop
    progress into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    for name, slots in optimizer_state["state"].items():
        for slot, value in slots.items():
            tensors[f"{PREFIX}{name}.{slot}"] = torch.as_tensor(value).detach().cpu().contiguous()
    save_file(tensors, str(directory / TENSORS))
    scalars = {"progress": dict(progress), "param_groups": optimizer_state["param_groups"]}
    (directory / SCALARS).write_text(json.dumps(scalars, indent=1))


def load_training_state(directory: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read what `save_training_state` wrote: (optimizer state keyed by parameter names, loop progress)."""
    tensors = load_file(str(directory / TENSORS))
    scalars = json.loads((directory / SCALARS).read_text())
    state: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith(PREFIX):
            name, slot = key[len(PREFIX) :].rsplit(".", 1)  # parameter names hold dots, slot names do not
            state.setdefault(name, {})[slot] = value
    return {"state": state, "param_groups": scalars["param_groups"]}, scalars["progress"]
