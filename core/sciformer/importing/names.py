"""Name tables: our parameter names -> the foreign tensors they come from, spelled out per block."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import torch
from torch import Tensor

from sciformer.errors import InputFileError

SHOWN = 6  # names quoted in a message; the count says how many there are


@dataclass(frozen=True)
class NameTable:
    """Rows `our name -> foreign name`, or -> several foreign names concatenated along the first axis
    (separate q, k, v -> our fused qkv). `{i}` in a row stands for the block index."""

    rows: Mapping[str, str | tuple[str, ...]]

    def origins(self, depth: int) -> dict[str, tuple[str, ...]]:
        """Every row spelled out for blocks 0..depth-1: our name -> its foreign names."""
        spelled: dict[str, tuple[str, ...]] = {}
        for ours, theirs in self.rows.items():
            names = (theirs,) if isinstance(theirs, str) else theirs
            for block in range(depth) if "{i}" in ours else (0,):
                spelled[ours.format(i=block)] = tuple(name.format(i=block) for name in names)
        return spelled

    def apply(self, foreign: Mapping[str, Tensor], depth: int) -> tuple[dict[str, Tensor], set[str]]:
        """(our state dict, foreign names used). Rows whose foreign tensors are absent are skipped:
        optional parts stay out, and `check_and_load` names what the model then lacks."""
        state: dict[str, Tensor] = {}
        used: set[str] = set()
        for ours, names in self.origins(depth).items():
            if all(name in foreign for name in names):
                state[ours] = torch.cat([foreign[name] for name in names]) if len(names) > 1 else foreign[names[0]]
                used.update(names)
        return state, used


def weights_and_biases(modules: Mapping[str, str | tuple[str, ...]]) -> dict[str, str | tuple[str, ...]]:
    """NameTable rows for the `weight` and the `bias` of each module: our module -> the foreign module, or the
    foreign modules concatenated (separate q, k, v -> our fused qkv)."""
    rows: dict[str, str | tuple[str, ...]] = {}
    for ours, theirs in modules.items():
        for part in ("weight", "bias"):
            rows[f"{ours}.{part}"] = f"{theirs}.{part}" if isinstance(theirs, str) else tuple(f"{name}.{part}" for name in theirs)
    return rows


def unused_tensors(foreign: Iterable[str], used: Iterable[str], ignorable: Iterable[str] = ()) -> list[str]:
    """Foreign names neither used nor matched by an `ignorable` pattern (fnmatch: `*` matches dots too), sorted."""
    used, patterns = set(used), tuple(ignorable)
    return sorted(n for n in foreign if n not in used and not any(fnmatchcase(n, p) for p in patterns))


def refuse_unused(foreign: Iterable[str], used: Iterable[str], source: Path, ignorable: Iterable[str] = ()) -> None:
    """InputFileError naming the foreign tensors no row maps: they mean an architecture the importer does not reproduce."""
    unused = unused_tensors(foreign, used, ignorable)
    if unused:
        raise InputFileError(f"{source}: {len(unused)} tensor(s) this importer does not know, e.g. {unused[:SHOWN]}")
