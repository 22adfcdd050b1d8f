"""What a scoring run may do with its output, decided before any work: the request's numbers and
path are checked, and what an earlier run left there (a chunk folder, a finished file) is continued,
replaced or refused, by the run manifest and the flags."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import torch

from sciformer.data.results import STATUS_BAD, STATUS_SCORED, ChunkStore, is_incomplete, read_manifest
from sciformer.errors import ConfigError, OutputError
from sciformer.inference import DTYPES
from sciformer.scoring.agreement import lead_skill
from sciformer.scoring.manifest import describe_differences
from sciformer.scoring.summary import ScoreSummary


def check_request(output: Path, resume: bool, overwrite: bool, dtype: str, device: str, batch_tokens: int, chunk_records: int, workers: int, time_limit: float | None) -> None:
    """Refuse a request that cannot work before any work: bad numbers, an unusable output path."""
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite exclude each other")
    if dtype not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if dtype == "int8" and not device.startswith("cpu"):
        raise ConfigError(f"--dtype int8 runs on the CPU only, got --device {device}")
    for name, value, least in (("batch_tokens", batch_tokens, 1), ("chunk_records", chunk_records, 1), ("workers", workers, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"{name} must be an integer of at least {least}, got {value!r}")
    if time_limit is not None and not (time_limit >= 0):
        raise ConfigError(f"time_limit must be a number of seconds, 0 or more, got {time_limit!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA device is available")
    if output.is_dir():
        raise OutputError(f"output {output} is a folder; give a file name such as {output / 'results.h5'}")
    if output.exists() and not (resume or overwrite or ChunkStore(output).folder.exists()):
        raise OutputError(f"output {output} exists; pass --overwrite to replace it")
    if output.parent.exists() and not output.parent.is_dir():
        raise OutputError(f"output {output}: {output.parent} is not a folder")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create the folder of output {output}: {error.strerror}") from None


def prepare_output(store: ChunkStore, manifest: dict[str, Any], resume: bool, overwrite: bool) -> ScoreSummary | None:
    """Decide what happens to what an earlier run left at the output: start over, continue, or refuse.

    Returns the summary of a finished file when `resume` finds nothing to do."""
    output = store.output
    found = store.manifest()
    if found is not None:
        if overwrite:
            store.start(manifest)
        elif resume:
            if found != manifest:
                raise OutputError(f"cannot resume {output}: changed since the run that began it: {describe_differences(found, manifest)}; pass --overwrite to start over")
        elif (done := store.done_records()) > 0:
            raise OutputError(f"{output}: an earlier run that did not finish has already scored {done:,} record(s) in {store.folder}; pass --resume to continue it or --overwrite to start over")
        else:
            store.start(manifest)
        return None
    if output.exists() and not overwrite:
        previous = read_manifest(output)
        if not resume:
            raise OutputError(f"output {output} exists; pass --overwrite to replace it")
        if previous is None or is_incomplete(output):
            raise OutputError(f"cannot resume {output}: it was not written by a resumable run (no run manifest or chunk folder); pass --overwrite to start over")
        if previous != manifest:
            raise OutputError(f"cannot resume {output}: changed since the run that wrote it: {describe_differences(previous, manifest)}; pass --overwrite to start over")
        return finished_summary(output)
    store.start(manifest)
    return None


def finished_summary(output: Path) -> ScoreSummary:
    """The summary of a complete results file that a resumed run has nothing to add to."""
    with h5py.File(output, "r") as results:
        statuses = results["status"][:]
        agreement = json.loads(results.attrs.get("summary", "{}")).get("agreement")
        skill = lead_skill(results)
    scored, bad = int((statuses == STATUS_SCORED).sum()), int((statuses == STATUS_BAD).sum())
    return ScoreSummary(output, scored, bad, 0.0, 0, 0.0, 0, up_to_date=True, agreement=agreement, skill=skill)
