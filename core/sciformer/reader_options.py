"""Reader options at inference: what describes the data comes from the user, what describes the model from its checkpoint.

Reader options describe the DATA: column names, `root`, dataset names, where coordinates come from.
Scoring and every other inference command take them from the user and the input only, checked
against the options the chosen reader declares (`RecordReader.options`). A checkpoint adds two things:

- `model_columns`: the column names of its training data (`data_column`, `id_column`,
  `target_column`, `label_mask_column`). A reader uses each only where the input has that column, so
  a label column is used when present (for agreement figures) and never required.
- `model_options`: reader options that are settings of the model (`RecordReader.model_options`, such
  as the protein mark of unlabelled residues, which must be the tokenizer's), always from the checkpoint.

Checkpoints written before this split store the training run's options whole (`reader_options`); they
are split the same way when read.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sciformer.errors import ConfigError, InputFileError

if TYPE_CHECKING:
    from sciformer.checkpoint import CheckpointInfo
    from sciformer.domain import RecordReader
    from sciformer.plugins import PluginHost

MODEL_COLUMNS = "model_columns"  # the option under which a checkpoint's column names reach a reader
MODEL_OPTIONS = "model_options"
COLUMN_KEYS = ("data_column", "id_column", "target_column", "label_mask_column")
DEFAULT_ID_COLUMN = "id"  # a table's ids come from this column when it has one and no other is named


def table_options(data_default: str) -> dict[str, str]:
    """The options of a CSV / TSV reader of one data column (for `RecordReader.options`)."""
    return {
        "data_column": f"column holding the records (default: the model's data column when the table has it, else {data_default!r})",
        "id_column": f"column of record ids (default: the model's id column or {DEFAULT_ID_COLUMN!r}, when the table has it; else the row number)",
        "target_column": "column of targets (default: the model's target column when the table has it; empty for none)",
    }


def check_options(reader: RecordReader, options: Mapping[str, Any]) -> None:
    """Refuse options the reader does not accept, or that are settings of the model, in one line."""
    if reader.options is None:
        return
    fixed = sorted(key for key in options if key in reader.model_options)
    if fixed:
        raise ConfigError(f"option {fixed[0]} of reader {reader.name} is a setting of the model, taken from its checkpoint")
    refuse_unknown_options(reader, options, "", with_model_options=False)


def refuse_unknown_options(reader: RecordReader, options: Mapping[str, Any], where: str, with_model_options: bool) -> None:
    """ConfigError naming the options `reader` does not know (`where` says whose they are) and those it
    accepts; `with_model_options` when settings of the model may be given too (training)."""
    if reader.options is None:
        return
    unknown = sorted(key for key in options if key not in reader.options)
    if unknown:
        accepted = ", ".join(sorted(key for key in reader.options if with_model_options or key not in reader.model_options)) or "none"
        raise ConfigError(f"{where}reader {reader.name} does not accept option(s) {', '.join(unknown)}; it accepts: {accepted}")


def checkpoint_options(host: PluginHost, domain: str, training_options: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """What a checkpoint keeps of its training run's reader options: `model_columns` and `model_options`."""
    model_keys = {key for reader in host.readers(domain) for key in reader.model_options}
    return {
        MODEL_COLUMNS: {key: training_options[key] for key in COLUMN_KEYS if training_options.get(key)},
        MODEL_OPTIONS: {key: value for key, value in training_options.items() if key in model_keys},
    }


def stored_options(host: PluginHost, info: CheckpointInfo) -> dict[str, dict[str, Any]]:
    """A checkpoint's `model_columns` and `model_options` (split from `reader_options` in older ones)."""
    extra = info.extra
    if MODEL_COLUMNS not in extra and MODEL_OPTIONS not in extra:
        return checkpoint_options(host, info.config.domain, extra.get("reader_options") or {})
    return {MODEL_COLUMNS: dict(extra.get(MODEL_COLUMNS) or {}), MODEL_OPTIONS: dict(extra.get(MODEL_OPTIONS) or {})}


def inference_options(host: PluginHost, info: CheckpointInfo, path: str | Path, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The reader options to read `path` with for the model of `info`: the user's `options`, checked
    against the reader, with the checkpoint's model options and (under `model_columns`) its column names."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"input not found: {path}")
    reader = host.reader_for(info.config.domain, path)
    chosen = dict(options or {})
    check_options(reader, chosen)
    if reader.options is None:  # a reader that declares no options gets the user's alone
        return chosen
    stored = stored_options(host, info)
    chosen.update({key: value for key, value in stored[MODEL_OPTIONS].items() if key in reader.model_options})
    columns = {key: value for key, value in stored[MODEL_COLUMNS].items() if key in reader.options}
    return {**chosen, MODEL_COLUMNS: columns} if columns else chosen


def describe_readers(host: PluginHost, domain: str) -> list[dict[str, Any]]:
    """Each reader of `domain`: name, suffixes, summary and the options it accepts (for `sciformer readers`)."""
    rows = []
    for reader in host.readers(domain):
        if reader.options is None:
            options: dict[str, str] | None = None
        else:
            options = {key: f"{text} [from the model's checkpoint]" if key in reader.model_options else text for key, text in reader.options.items()}
        rows.append({"name": reader.name, "suffixes": list(reader.suffixes), "summary": reader.summary, "options": options})
    return rows
