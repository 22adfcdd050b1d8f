"""Turning a record's target into what a sequence-level head trains on, the same way in every domain."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any

from sciformer.config import ModelConfig
from sciformer.errors import BadRecordError
from sciformer.records import Record


def encode_target(record: Record, config: ModelConfig) -> int | float | None:
    """Class index (classification, by `config.labels` or an integer label) or float (regression).

    Returns None when the record has no target; raises BadRecordError for an unknown class or a
    non-numeric / non-finite regression value.
    """
    target = record.target
    if target is None or config.task not in ("sequence-classification", "sequence-regression"):
        return None
    if config.task == "sequence-regression":
        try:
            value = float(target)
        except (TypeError, ValueError):
            raise BadRecordError(record.id, f"regression target {target!r} is not a number") from None
        if not math.isfinite(value):
            raise BadRecordError(record.id, f"regression target {target!r} is not finite")
        return value
    if config.labels:
        name = label_name(target, config.labels)
        if name is None:
            raise BadRecordError(record.id, f"class {target!r} is not one of the model's labels {list(config.labels)}")
        return config.labels.index(name)
    try:
        index = int(target)
    except (TypeError, ValueError):
        raise BadRecordError(record.id, f"class {target!r} is not an integer and the model has no label names") from None
    if not 0 <= index < config.num_labels:
        raise BadRecordError(record.id, f"class {index} outside 0..{config.num_labels - 1}")
    return index


def whole_number_text(name: str) -> str:
    """`1.0` -> `1` (a float that is a whole number); any other text, `01` included, as it is."""
    try:
        int(name)
        return name
    except ValueError:
        pass
    try:
        number = float(name)
    except ValueError:
        return name
    return str(int(number)) if number.is_integer() else name


def label_name(target: Any, labels: Sequence[str]) -> str | None:
    """The model's label that `target` names: itself, or for a whole number written as a float (`1.0`, as
    tables with gaps store integer columns) the integer's label; None when it names none."""
    text = str(target).strip()
    for name in (text, whole_number_text(text)):
        if name in labels:
            return name
    return None


def for_scoring(record: Record, config: ModelConfig) -> Record:
    """The record as scoring takes it: targets only feed the agreement figure, so a target the model cannot
    compare with (an unknown class, a value that is no finite number) is dropped, with a note in its
    `warning`, and the record is still scored. A NaN regression target is no target, without a note."""
    if record.target is None or record.error:
        return record
    try:
        encode_target(record, config)
    except BadRecordError as error:
        if config.task == "sequence-regression" and str(record.target).strip().lower() in ("nan", "na", "n/a", "null", "none"):
            return dataclasses.replace(record, target=None)
        note = f"target left out of the agreement: {error.reason}"
        return dataclasses.replace(record, target=None, warning="; ".join(n for n in (record.warning, note) if n))
    return record


def class_names(targets: Iterable[Any]) -> tuple[str, ...]:
    """The sorted distinct class names among training targets (integers sort numerically); a whole number
    written as a float names the integer's class (`1.0` is `1`, as `label_name` reads it when scoring)."""
    names = {whole_number_text(str(t).strip()) for t in targets if t is not None}
    numeric = all(n.lstrip("-").isdigit() for n in names)
    return tuple(sorted(names, key=int if numeric else str))


def with_class_names(config: ModelConfig, records: Sequence[Record]) -> ModelConfig:
    """`config` with `labels` / `num_labels` learned from the training records' targets when not given.

    Sequence classification: the distinct targets. Sequence regression: one output when none is given.
    Token classification: the distinct letters of string targets (or items of list targets), less the
    `domain_options.unlabelled` mark (default `.`).
    Records with a reader error are left out; other tasks and given labels are left as they are.
    """
    if config.task == "sequence-regression" and not config.num_labels:
        return config.replace(num_labels=1)  # one value per record (`encode_target`)
    if config.labels:
        return config
    targets = [r.target for r in records if r.error is None]
    if config.task == "sequence-classification":
        labels = class_names(targets)
    elif config.task == "token-classification":
        unlabelled = str(config.option("unlabelled", "."))
        labels = class_names(str(item) for target in targets if target is not None for item in target if str(item) != unlabelled)
    else:
        return config
    return config.replace(labels=labels, num_labels=len(labels))
