"""Training on several processes under torchrun (the process group: sciformer.world): a model prepared for data-parallel
(DDP) or fully sharded (FSDP) training, reductions, and full state dicts, so that checkpoints and
resumable state look the same whatever the world size.

The output folder must be visible to every rank (a shared file system), as for sharded scoring: rank 0
writes checkpoints and state, every rank reads them back on resume.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from sciformer.engine.model import SciformerModel
from sciformer.errors import ConfigError
from sciformer.world import World

log = logging.getLogger(__name__)


def rank_share(chunk: range, world: World) -> list[int]:
    """This rank's micro-batches of one optimizer step: positions rank, rank + size, ... of `chunk`."""
    return list(chunk)[world.rank :: world.size]


class ParallelModel:
    """A SciformerModel prepared for the world: as it is on one process, wrapped in DDP, or sharded
    with FSDP (each block and the root, in place).

    `module` is the model itself (sharded in place under FSDP), `network` what the training forward
    pass goes through. Weights and optimizer moments travel as full, unsharded state keyed by
    parameter names, so every world size reads and writes the same files. `factory` builds a fresh
    model of the same configuration, the unsharded copy that full weights pass through under FSDP.
    """

    def __init__(self, model: SciformerModel, world: World, device: torch.device, *, fsdp: bool = False, factory: Callable[[], SciformerModel]) -> None:
        self.world = world
        self.factory = factory
        self.device = device
        self.sharded = fsdp and world.size > 1
        self.module = model.to(device)
        if fsdp and world.size == 1:
            log.info("training.fsdp: one process, nothing to shard; training the model as it is")
        if self.sharded:
            from torch.distributed.device_mesh import init_device_mesh
            from torch.distributed.fsdp import fully_shard

            mesh = init_device_mesh(device.type, (world.size,))
            for block in model.blocks:
                fully_shard(block, mesh=mesh)
            fully_shard(model, mesh=mesh)
            self.network: nn.Module = model
        elif world.size > 1:
            # find_unused_parameters: plugin heads and embedders may leave parameters out of a forward pass
            ids = [device.index] if device.type == "cuda" else None
            self.network = DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)
        else:
            self.network = model

    def gradient_sync(self, enabled: bool) -> AbstractContextManager:
        """Context for one backward pass: gradients are reduced over ranks only when `enabled`
        (the last micro-batch of an optimizer step)."""
        if isinstance(self.network, DistributedDataParallel) and not enabled:
            return self.network.no_sync()
        if self.sharded:
            self.module.set_requires_gradient_sync(enabled)
        return nullcontext()

    def clip_gradients(self, max_norm: float | None) -> float:
        """Clip the global gradient norm (when `max_norm` is set) and return it."""
        norm = torch.nn.utils.clip_grad_norm_(self.module.parameters(), max_norm or float("inf"))
        if hasattr(norm, "full_tensor"):  # a DTensor under FSDP
            norm = norm.full_tensor()
        return float(norm)

    # -- full state ------------------------------------------------------------------------------

    def gathered(self) -> SciformerModel | None:
        """The model with full weights on rank 0 (None elsewhere): the model itself, or under FSDP a
        CPU copy built from its configuration. Collective under FSDP: every rank must call it."""
        if not self.sharded:
            return self.module if self.world.is_main else None
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        full = get_model_state_dict(self.module, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        if not self.world.is_main:
            return None
        copy = self.factory()
        copy.load_state_dict(full)
        return copy

    def load_weights(self, path: Path) -> None:
        """Load a safetensors file of full weights into the model on every rank."""
        if not self.sharded:
            load_model(self.module, str(path), device=str(self.device))
            return
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        copy = self.factory()
        load_model(copy, str(path))
        set_model_state_dict(self.module, copy.state_dict(), options=StateDictOptions(full_state_dict=True))

    def optimizer_state(self, optimizer: torch.optim.Optimizer) -> dict[str, Any] | None:
        """The optimizer's state with parameter names as keys, full (unsharded); None off rank 0.
        Collective under FSDP."""
        if self.sharded:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

            state = get_optimizer_state_dict(self.module, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
            return state if self.world.is_main else None
        if not self.world.is_main:
            return None
        names = self._index_names(optimizer)
        raw = optimizer.state_dict()
        groups = [{**group, "params": [names[i] for i in group["params"]]} for group in raw["param_groups"]]
        return {"state": {names[i]: slots for i, slots in raw["state"].items()}, "param_groups": groups}

    def load_optimizer_state(self, optimizer: torch.optim.Optimizer, state: Mapping[str, Any]) -> None:
        """Restore what `optimizer_state` returned (on every rank)."""
        if self.sharded:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

            set_optimizer_state_dict(self.module, optimizer, dict(state), options=StateDictOptions(full_state_dict=True))
            return
        indices = {name: index for index, name in self._index_names(optimizer).items()}
        missing = sorted(set(indices) - {p for group in state["param_groups"] for p in group["params"]})
        if missing:
            raise ConfigError(f"the saved optimizer state does not match the model: no entries for {missing[:5]}")
        groups = [{**group, "params": [indices[name] for name in group["params"]]} for group in state["param_groups"]]
        slots = {indices[name]: values for name, values in state["state"].items()}
        optimizer.load_state_dict({"state": slots, "param_groups": groups})

    def _index_names(self, optimizer: torch.optim.Optimizer) -> dict[int, str]:
        """Optimizer parameter index (as in its state_dict) -> parameter name."""
        names = {id(p): name for name, p in self.module.named_parameters()}
        params = [p for group in optimizer.param_groups for p in group["params"]]
        return {index: names[id(p)] for index, p in enumerate(params)}
