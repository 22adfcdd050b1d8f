"""What a training run was started from, kept in its state folder, so that `--resume` continues that run or refuses.

The record holds the recipe as read (overrides included) and a fingerprint of the contents of each data
file (`scoring.manifest.input_identity`). A resume whose recipe or data differ would silently train a
mixture, or fail deep in loading a state of another shape; it is refused in one line naming what changed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sciformer.errors import ConfigError
from sciformer.scoring.manifest import describe_differences, input_identity

RUN_RECORD = "run.json"
PARTS = ("train", "valid", "test")
#: How a run executes, not what it trains: a resume may change these (a run killed on 2 processes
#: continues on 1 with `accumulate` doubled; docs/training.md, "Exact resume at any world size").
EXECUTION = ("accumulate", "device", "fsdp", "tensorboard", "keep_state")


def run_record(raw: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """The recipe (JSON-normalised, without the EXECUTION settings) and the content fingerprint of each split's data file."""
    recipe = json.loads(json.dumps(raw, sort_keys=True, default=str))
    if isinstance(recipe.get("training"), dict):
        recipe["training"] = {key: value for key, value in recipe["training"].items() if key not in EXECUTION}
    files = {part: input_identity(data[part])["fingerprint"] for part in PARTS if data.get(part) and Path(data[part]).exists()}  # a missing one is named when read
    return {"recipe": recipe, "data": files}


def keep_run_record(state_dir: Path, record: dict[str, Any]) -> None:
    """Write the record of a run that starts now."""
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / RUN_RECORD).write_text(json.dumps(record, indent=1, sort_keys=True))


def check_resume(state_dir: Path, record: dict[str, Any]) -> None:
    """ConfigError unless the stopped run in `state_dir` was started from the same recipe and data as `record`."""
    path = state_dir / RUN_RECORD
    if not state_dir.is_dir():
        return  # nothing to resume: the trainer says so
    if not path.is_file():
        raise ConfigError(f"cannot resume {state_dir.parent}: it keeps no record of the recipe and data it was started from; train again without --resume")
    started = json.loads(path.read_text())
    if started != record:
        before, now = started.get("data", {}), record["data"]
        files = [f"data.{part} ({'its contents changed' if part in before and part in now else 'added or removed'})" for part in PARTS if before.get(part) != now.get(part)]
        settings = describe_differences({"recipe": started.get("recipe")}, {"recipe": record["recipe"]})
        changes = ", ".join([*files, *([settings] if settings else [])])
        raise ConfigError(f"cannot resume {state_dir.parent}: changed since the run began: {changes}; train again without --resume")
