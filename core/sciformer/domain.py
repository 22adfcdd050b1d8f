"""What plugins hand the host: domains with their components, tokenizers, readers, importers, models."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sciformer.records import ExampleRecords, Record

if TYPE_CHECKING:
    from torch import Tensor, nn

    from sciformer.augmentation import Augmentation
    from sciformer.config import ModelConfig
    from sciformer.data.batch import TokenBatch
    from sciformer.engine.bias import AttentionBias
    from sciformer.engine.heads import Head
    from sciformer.engine.model import SciformerModel
    from sciformer.engine.parts import MixerParts
    from sciformer.plugins import PluginHost
    from sciformer.scoring.scorer import Scorer


class Domain(abc.ABC):
    """A domain a plugin serves and the components it builds, registered once through `sciformer_domains`.

    Class attributes describe it: `name`; `record_type`, in words, what one record is; `summary`;
    `tasks`, the task names its heads support; `default_config`, model settings (without `domain`) a
    new model of this domain starts from. The host calls the methods only with configurations of
    this domain. `tokenizer`, `embedder` and `examples` are required; the others default to the
    engine's behaviour.
    """

    name: ClassVar[str]
    record_type: ClassVar[str]
    summary: ClassVar[str]
    tasks: ClassVar[tuple[str, ...]]
    default_config: ClassVar[Mapping[str, Any]] = {}

    @abc.abstractmethod
    def tokenizer(self, config: ModelConfig) -> Tokenizer:
        """Records -> TokenBatches for this configuration."""

    @abc.abstractmethod
    def embedder(self, config: ModelConfig) -> nn.Module:
        """TokenBatch -> `Embedded` (token vectors, padding and pooling masks, positions)."""

    @abc.abstractmethod
    def examples(self) -> ExampleRecords:
        """Small good records of different lengths, bad records the tokenizer must reject and a small
        model configuration, for the plugin test harness."""

    def readers(self) -> list[RecordReader]:
        """The file formats this domain reads (other plugins may add more through `sciformer_readers`)."""
        return []

    def prepare_config(self, config: ModelConfig, records: Sequence[Record]) -> ModelConfig:
        """Settings learned from the training records (vocabulary, normalisation). Class names of
        classification tasks are filled by the core afterwards when still empty."""
        return config

    def token_mixer(self, config: ModelConfig, layer: int, parts: MixerParts) -> nn.Module | None:
        """A module that replaces attention in block `layer`, or None for the engine's attention.

        It is called as `mixer(x, ctx, attention)` with x (B, T, D), the read-only `LayerContext` and
        the layer's resolved `AttentionInputs` (masking.py), and returns `Mixed(hidden, maps)`: hidden
        (B, T, D) and, when `attention.need_weights`, its (B, H, T, T) maps (else None). `parts.positions`
        moves queries and keys (rotary), or is None, and `parts.norm` makes norms of the configured kind;
        a mixer that attends applies both as the engine's `Attention(config, parts.positions, parts.norm)` does.
        """
        return None

    def downsample(self, config: ModelConfig, stage: int) -> nn.Module | None:
        """The step between stage `stage` and the next of a model with `config.stage_depths` (Swin's patch
        merging), or None to pass tokens on unchanged.

        It maps the stage's `Embedded` (hidden (B, T, D) the stage's output) to the next stage's: hidden
        (B, T', 2D), padding and pool masks, positions and `layout` for T' tokens. Blocks of stage s
        are built with `config.stage_config(s)`; `config.stage_at(layer)` tells a mixer its stage.
        """
        return None

    def decoder_embedder(self, config: ModelConfig) -> nn.Module | None:
        """For encoder-decoder models (`config.decoder_depth` > 0): a module called as
        `embedder(batch, encoded)` -> `Embedded` of the decoder's tokens (a forecast horizon, a target
        sequence), `encoded` being the encoder embedder's `Embedded` (its `layout` may carry what both
        share, such as scaling statistics); the decoder's tokens attend causally to each other and to
        the encoder's output. None, the default, where this domain has no decoder."""
        return None

    def head(self, config: ModelConfig, embedder: nn.Module) -> Head | None:
        """A head for `config.task` beyond the engine's (forecasting, AST's head), or None for the engine's."""
        return None

    def attention_biases(self, config: ModelConfig) -> list[AttentionBias]:
        """This domain's attention biases (other plugins may add theirs through `sciformer_attention_biases`)."""
        return []

    def augmentations(self, config: ModelConfig) -> list[Augmentation]:
        """Training-time augmentations that `training.augment` may name (`sciformer.augmentation`)."""
        return []

    def scorer(self, model: SciformerModel, options: Mapping[str, Any], checkpoint: Path | None) -> Scorer | None:
        """What `sciformer score` writes for this domain's models (a `Scorer` subclass), or None for the engine's."""
        return None

    def next_input(self, config: ModelConfig, batch: TokenBatch, prediction: Tensor) -> TokenBatch | None:
        """For models whose prediction is their own next input (forecasters): the batch one model step
        later with `prediction` (as the head returned it) as its input, for rollout training
        (`training.rollout_steps`); None, the default, where predictions cannot be fed back."""
        return None


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

    def masking_groups(self, batch: TokenBatch) -> Tensor | None:
        """(B, T) integer group ids for masked-LM training: tokens of one row that share an id (a span, a
        k-mer, a word's pieces) are masked together; None (the default) masks each token on its own.
        Padding and special tokens are never masked, whatever their group (`training.objectives.mask_tokens`)."""
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

    `run(source, out, host, options)` builds the model with `host`, writes `out` and returns it.
    `options` are the `--option KEY=VALUE` strings of `sciformer import`; an importer refuses keys it
    does not take, listing those it does (`sciformer.importing.read_options`).
    """

    name: str
    domain: str
    summary: str
    run: Callable[[Path, Path, PluginHost, Mapping[str, str]], Path]  # (source, out, host, options)


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

    @classmethod
    def in_folder(cls, models: Path, name: str, domain: str, summary: str, example: Path | None = None, example_options: Mapping[str, Any] | None = None) -> ShippedModel:
        """The model saved in the folder `name` of `models` (a plugin's models/ folder)."""
        return cls(name, domain, Path(models) / name, summary, example, dict(example_options or {}))
