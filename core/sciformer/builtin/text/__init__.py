"""The built-in `text` domain: whitespace-separated words, for tests, tutorials and toy tasks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import sciformer
from sciformer.domain import DomainSpec, RecordReader, ShippedModel
from sciformer.reader_options import table_options
from sciformer.records import ExampleRecords, Record

from .reader import read_lines, read_table

if TYPE_CHECKING:
    from sciformer.config import ModelConfig
    from sciformer.engine.embedding import TokenEmbedder

    from .vocabulary import WordTokenizer

DOMAIN = "text"
HERE = Path(__file__).parent


@sciformer.hookimpl
def sciformer_domains() -> list[DomainSpec]:
    """Declare the text domain."""
    return [
        DomainSpec(
            name=DOMAIN,
            record_type="a string of whitespace-separated words",
            summary="Words as tokens; for tests, tutorials and small language tasks.",
            tasks=("mlm", "clm", "sequence-classification", "sequence-regression"),
            default_config={"dim": 64, "depth": 2, "heads": 2, "position": "learned", "max_positions": 256},
        )
    ]


@sciformer.hookimpl
def sciformer_readers(domain: str) -> list[RecordReader] | None:
    """Plain text (one record per line) and CSV / TSV tables."""
    if domain != DOMAIN:
        return None
    return [
        RecordReader("text-lines", DOMAIN, (".txt",), read_lines, "one record per non-blank line", options={}),
        RecordReader("text-table", DOMAIN, (".csv", ".tsv"), read_table, "a text column and optional target / id columns", options=table_options("text")),
    ]


@sciformer.hookimpl
def sciformer_prepare_config(config: ModelConfig, records: Sequence[Record]) -> ModelConfig | None:
    """Build the word vocabulary (unless given) and the class names from training records."""
    if config.domain != DOMAIN:
        return None
    from sciformer.targets import class_names

    from .vocabulary import build_vocabulary

    options = dict(config.domain_options)
    if not options.get("vocab"):
        texts = (r.data for r in records if isinstance(r.data, str))
        options["vocab"] = build_vocabulary(texts, options.get("min_count", 1), options.get("lowercase", False))
    changes: dict = {"domain_options": options}
    if config.task == "sequence-classification" and not config.labels:
        labels = class_names(r.target for r in records)
        changes.update(labels=labels, num_labels=len(labels))
    return config.replace(**changes)


@sciformer.hookimpl
def sciformer_tokenizer(config: ModelConfig) -> WordTokenizer | None:
    """The word tokenizer for `domain_options.vocab`."""
    if config.domain != DOMAIN:
        return None
    from .vocabulary import WordTokenizer

    return WordTokenizer(config, config.option("vocab", ()), lowercase=config.option("lowercase", False))


@sciformer.hookimpl
def sciformer_embedder(config: ModelConfig) -> TokenEmbedder | None:
    """Word embeddings plus the configured absolute positions."""
    if config.domain != DOMAIN:
        return None
    from sciformer.engine.embedding import TokenEmbedder

    tokenizer = sciformer_tokenizer(config)
    return TokenEmbedder(config, tokenizer.vocab_size, tokenizer.padding_id, special_ids=tokenizer.special_ids)


@sciformer.hookimpl
def sciformer_examples(domain: str) -> ExampleRecords | None:
    """Short sentences, and records a text tokenizer must reject."""
    if domain != DOMAIN:
        return None
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
def sciformer_models() -> list[ShippedModel]:
    """The "who ordered what" causal model (recipes/who-ordered.yaml)."""
    return [
        ShippedModel(
            name="text-who-ordered",
            domain=DOMAIN,
            path=HERE / "models" / "who-ordered",
            summary="One-layer causal LM that learned who ordered what (toy task).",
            example=HERE / "data" / "orders.txt",
        )
    ]
