"""What plugins hand the host through hooks: domain declarations, tokenizers, readers, importers, models."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sciformer.records import Record

if TYPE_CHECKING:
    from sciformer.data.batch import TokenBatch


@dataclass(frozen=True)
class DomainSpec:
    """A domain a plugin serves.

    `record_type` says in words what one record is; `default_config` holds model settings (without
    `domain`) a new model of this domain starts from; `tasks` lists the task names its heads support.
    """

    name: str
    record_type: str
    summary: str
    tasks: tuple[str, ...]
    default_config: Mapping[str, Any] = field(default_factory=dict)


class Tokenizer(abc.ABC):
    """Turns records into TokenBatches; runs on the CPU, in DataLoader workers.

    `encode` handles one record and raises BadRecordError naming it and the reason; `collate` pads
    encoded records into a batch. Encodings must be picklable (they cross process boundaries).
    """

    @abc.abstractmethod
    def encode(self, record: Record) -> Any:
        """One record -> its encoding; raises BadRecordError for a record that cannot be used."""

    @abc.abstractmethod
    def collate(self, encoded: Sequence[Any], record_ids: Sequence[str]) -> TokenBatch:
        """Encodings of several records -> one padded TokenBatch (targets included when present)."""

    @abc.abstractmethod
    def num_tokens(self, encoded: Any) -> int:
        """How many tokens the model will see for this encoding (for token-budget batching)."""

    def warning(self, encoded: Any) -> str | None:
        """A note on a usable record that the model saw only in part (for example a sequence cut to the
        model's limit); `sciformer score` writes it in the `error` column of that status-0 row."""
        return None

    def __call__(self, records: Sequence[Record]) -> TokenBatch:
        """Encode and collate records; the first bad record raises."""
        return self.collate([self.encode(r) for r in records], [r.id for r in records])


class VocabularyTokenizer(Tokenizer, abc.ABC):
    """A tokenizer with a discrete vocabulary, as masked and causal language modelling need."""

    vocab_size: int
    padding_id: int
    mask_id: int
    special_ids: tuple[int, ...]

    @abc.abstractmethod
    def tokens(self, ids: Sequence[int]) -> list[str]:
        """Readable token strings for ids (for attention-map labels and debugging)."""


@dataclass(frozen=True)
class RecordReader:
    """Reads one file format of a domain into Records.

    `read(path, options)` yields records lazily; a record it cannot read is yielded with `error` set.
    `options` declares the option keys it accepts, each with a one-line description (listed by
    `sciformer readers DOMAIN`; inference refuses any other key); None leaves them undeclared and
    unchecked. `model_options` names those of its options that are settings of the model rather than
    of the data: inference takes them from the checkpoint. Column options may also arrive under
    `model_columns` (see `sciformer.reader_options`): the model's column names, used where the input has them.
    """

    name: str
    domain: str
    suffixes: tuple[str, ...]
    read: Callable[[Path, Mapping[str, Any]], Iterator[Record]]
    summary: str = ""
    options: Mapping[str, str] | None = None
    model_options: tuple[str, ...] = ()


@dataclass(frozen=True)
class WeightImporter:
    """Converts published weights in a local file or folder into a sciformer checkpoint directory.

    `run(source, out)` writes `out` and returns it.
    """

    name: str
    domain: str
    summary: str
    run: Callable[[Path, Path], Path]


@dataclass(frozen=True)
class ShippedModel:
    """A trained checkpoint a plugin ships, addressable by name wherever a model is asked for.

    `example` is a small input file shipped with it (scored by `make demo`); `example_options` are
    reader options for that file.
    """

    name: str
    domain: str
    path: Path
    summary: str
    example: Path | None = None
    example_options: Mapping[str, Any] = field(default_factory=dict)
