"""The built-in `text` domain: whitespace-separated words, for tests, tutorials and toy tasks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import sciformer
from sciformer.domain import Domain, RecordReader, ShippedModel
from sciformer.reader_options import table_options
from sciformer.readers import read_lines, table_reader
from sciformer.records import ExampleRecords, Record

if TYPE_CHECKING:
    from sciformer.config import ModelConfig
    from sciformer.engine.embedding import TokenEmbedder

    from .vocabulary import WordTokenizer

HERE = Path(__file__).parent
read_table = table_reader("text")


class TextDomain(Domain):
    """Words as tokens: a vocabulary learned from the training records, learned absolute positions."""

    name = "text"
    record_type = "a string of whitespace-separated words"
    summary = "Words as tokens; for tests, tutorials and small language tasks."
    tasks = ("mlm", "clm", "sequence-classification", "sequence-regression")
    default_config: ClassVar[Mapping[str, Any]] = {"dim": 64, "depth": 2, "heads": 2, "position": "learned", "max_positions": 256}

    def readers(self) -> list[RecordReader]:
        """Plain text (one record per line) and CSV / TSV tables."""
        return [
            RecordReader("text-lines", self.name, (".txt",), read_lines, "one record per non-blank line", options={}),
            RecordReader("text-table", self.name, (".csv", ".tsv"), read_table, "a text column and optional target / id columns", options=table_options("text")),
        ]

    def prepare_config(self, config: ModelConfig, records: Sequence[Record]) -> ModelConfig:
        """Build the word vocabulary from training records, unless given."""
        from .vocabulary import build_vocabulary

        if config.option("vocab"):
            return config
        texts = (r.data for r in records if isinstance(r.data, str))
        vocab = build_vocabulary(texts, config.option("min_count", 1), config.option("lowercase", False))
        return config.replace(domain_options={**config.domain_options, "vocab": vocab})

    def tokenizer(self, config: ModelConfig) -> WordTokenizer:
        """The word tokenizer for `domain_options.vocab`."""
        from .vocabulary import WordTokenizer

        return WordTokenizer(config, config.option("vocab", ()), lowercase=config.option("lowercase", False))

    def embedder(self, config: ModelConfig) -> TokenEmbedder:
        """Word embeddings plus the configured absolute positions."""
        from sciformer.engine.embedding import TokenEmbedder

        tokenizer = self.tokenizer(config)
        return TokenEmbedder(config, tokenizer.vocab_size, tokenizer.padding_id, special_ids=tokenizer.special_ids)

    def examples(self) -> ExampleRecords:
        """Short sentences, and records a text tokenizer must reject."""
        return ExampleRecords(
            good=(
                Record("short", "the man ordered the chicken"),
                Record("longer", "the woman ordered the beef and the man ordered the chicken"),
                Record("unknown-words", "a zebra ordered soup"),
            ),
            bad=(Record("empty", "   "), Record("not-text", 42)),
            config={"dim": 32, "depth": 2, "heads": 2, "task": "mlm"},
        )


@sciformer.hookimpl
def sciformer_domains() -> list[Domain]:
    """Declare the text domain."""
    return [TextDomain()]


@sciformer.hookimpl
def sciformer_models() -> list[ShippedModel]:
    """The "who ordered what" causal model (recipes/who-ordered.yaml)."""
    return [
        ShippedModel(
            name="text-who-ordered",
            domain=TextDomain.name,
            path=HERE / "models" / "who-ordered",
            summary="One-layer causal LM that learned who ordered what (toy task).",
            example=HERE / "data" / "orders.txt",
        )
    ]
