"""Scoring from Python in two lines: `model = sciformer.load(NAME); model.predict(inputs)`.

The same checkpoint loading, tokenizer, domain scorer and bad-record handling as `sciformer score`,
in memory and under `torch.inference_mode()`: each input gives one `Prediction`, in input order, and
a record the tokenizer or reader refuses comes back with status 1 and the reason, never an exception.
Files are read whole into the returned list; score large inputs with `sciformer score`.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sciformer import int8_gate
from sciformer.checkpoint import load_checkpoint, read_checkpoint_info, resolve_model
from sciformer.data.results import STATUS_SCORED
from sciformer.engine.model import SciformerModel
from sciformer.errors import ConfigError
from sciformer.inference import DTYPES, default_batch_tokens
from sciformer.plugins import PluginHost
from sciformer.quantization import quantize_for_inference
from sciformer.reader_options import inference_options
from sciformer.reading import read_records
from sciformer.records import Record
from sciformer.scoring.pipeline import CHUNK_RECORDS, score_chunk
from sciformer.scoring.scorer import Scorer, scorer_for

Inputs = str | Record | os.PathLike | Iterable[str | Record]
LEFT_OUT = ("embedding", "logits")  # `embeddings=True` asks for the first; `probabilities` say what logits say


@dataclass(frozen=True)
class Prediction:
    """What a model says about one input.

    `prediction` is the head's `prediction` column with class names for classes (a value, or an
    array of values, for regression), None when the record was not scored; `probabilities` maps
    class names to probabilities (classification); `embedding` is the pooled vector when asked for;
    `outputs` holds the scorer's other columns (per-token classes, forecasts, ...) as numpy arrays.
    """

    id: str
    status: int
    error: str
    prediction: Any = None
    probabilities: dict[str, float] | None = None
    embedding: np.ndarray | None = None
    outputs: dict[str, Any] = field(default_factory=dict)


class Model:
    """A loaded model that scores records in memory; `load` makes one."""

    def __init__(self, net: SciformerModel, host: PluginHost, model_dir: Path, *, device: str, dtype: str, batch_tokens: int, options: Mapping[str, Any]) -> None:
        self.net = net
        self.host = host
        self.model_dir = model_dir
        self.info = read_checkpoint_info(model_dir)
        self.tokenizer = host.tokenizer(self.info.config)
        self.options = dict(options)
        self.scorer: Scorer = scorer_for(host, net, self.options, model_dir)
        self.device, self.dtype, self.batch_tokens = device, dtype, batch_tokens

    @property
    def domain(self) -> str:
        """The model's domain (protein, molecule, text, ...)."""
        return self.info.config.domain

    @property
    def labels(self) -> tuple[str, ...]:
        """Class names of a classifier; empty otherwise."""
        return tuple(self.info.config.labels or ())

    def predict(self, inputs: Inputs, *, embeddings: bool = False) -> list[Prediction]:
        """One Prediction per input, in order.

        `inputs` is record data (a string such as a sequence or SMILES, or a list of them; ids are
        "1", "2", ...), `Record` objects, or a path (`pathlib.Path`) to a file the domain's readers
        read (by suffix, with the `options` given to `load`). `embeddings` adds the pooled vector.
        """
        defaults = [name for name in self.scorer.choose(None) if name not in LEFT_OUT]
        outputs = self.scorer.choose([*defaults, "embedding"] if embeddings else defaults)
        results: list[Prediction] = []
        records = self._records(inputs)
        while chunk := list(itertools.islice(records, CHUNK_RECORDS)):
            columns, _ = score_chunk(self.net, self.tokenizer, chunk, batch_tokens=self.batch_tokens, dtype=self.dtype, outputs=outputs, scorer=self.scorer)
            results.extend(self._predictions(columns, len(chunk)))
        return results

    def _records(self, inputs: Inputs) -> Iterator[Record]:
        if isinstance(inputs, os.PathLike):
            path = Path(inputs)
            yield from read_records(self.host, self.domain, path, inference_options(self.host, self.info, path, self.options))
            return
        items: Iterable[str | Record] = [inputs] if isinstance(inputs, (str, Record)) else inputs
        for number, item in enumerate(items, start=1):
            yield item if isinstance(item, Record) else Record(id=str(number), data=item)

    def _predictions(self, columns: Mapping[str, np.ndarray], count: int) -> Iterator[Prediction]:
        labels = self.labels
        extra = [name for name in columns if name not in ("record_id", "status", "error", "prediction", "probabilities", "embedding")]
        for row in range(count):
            status = int(columns["status"][row])
            scored = status == STATUS_SCORED
            yield Prediction(
                id=str(columns["record_id"][row]),
                status=status,
                error=str(columns["error"][row]),
                prediction=_value(columns["prediction"][row], labels) if scored and "prediction" in columns else None,
                probabilities=dict(zip(labels, columns["probabilities"][row].tolist())) if scored and "probabilities" in columns and labels else None,
                embedding=columns["embedding"][row] if scored and "embedding" in columns else None,
                outputs={name: columns[name][row] for name in extra} if scored else {},
            )

    def __repr__(self) -> str:
        return f"Model({self.model_dir.name!r}, domain={self.domain!r}, task={self.info.config.task!r})"


def load(
    model: str | Path, *, device: str = "cpu", dtype: str = "float32", batch_tokens: int | None = None, options: Mapping[str, Any] | None = None,
    host: PluginHost | None = None,
) -> Model:
    """Load a shipped model by name, or a checkpoint folder, for `predict`.

    `options` are reader options for files given to `predict` (`--option` of the command line); `host`
    defaults to every installed plugin.
    """
    if dtype not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if dtype == "int8" and torch.device(device).type != "cpu":
        raise ConfigError(f"dtype int8 runs on the CPU only, got device {device!r}")
    host = host or PluginHost()
    model_dir = resolve_model(str(model), host)
    if dtype == "int8":
        int8_gate.check(read_checkpoint_info(model_dir))
    net = load_checkpoint(model_dir, host, device)
    if dtype == "int8":
        net = quantize_for_inference(net)
    return Model(net, host, model_dir, device=device, dtype=dtype, batch_tokens=batch_tokens or default_batch_tokens(device), options=options or {})


def _value(value: Any, labels: Sequence[str]) -> Any:
    """A prediction as people read it: a class name, a number, or an array."""
    if isinstance(value, np.ndarray) and value.ndim:
        return value
    if labels and np.issubdtype(type(value), np.integer):
        return labels[int(value)]
    return value.item() if isinstance(value, np.generic) else value
