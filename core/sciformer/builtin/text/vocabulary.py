"""Whitespace-word vocabulary and tokenizer of the built-in `text` domain."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import torch

from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch, pad_sequences
from sciformer.domain import VocabularyTokenizer
from sciformer.errors import BadRecordError, ConfigError
from sciformer.records import Record
from sciformer.targets import encode_target

SPECIAL_TOKENS = ("<pad>", "<unk>", "<mask>")  # ids 0, 1, 2 in every text vocabulary


def build_vocabulary(texts: Iterable[str], min_count: int = 1, lowercase: bool = False) -> list[str]:
    """Words seen at least `min_count` times, most frequent first (ties alphabetical)."""
    counts = Counter(word for text in texts for word in (text.lower() if lowercase else text).split())
    return sorted((w for w, c in counts.items() if c >= min_count and w not in SPECIAL_TOKENS), key=lambda w: (-counts[w], w))


class WordTokenizer(VocabularyTokenizer):
    """Splits text on whitespace; words outside the vocabulary become `<unk>`."""

    def __init__(self, config: ModelConfig, words: Sequence[str], *, lowercase: bool = False) -> None:
        if not words:
            raise ConfigError("the text domain needs domain_options.vocab (a list of words); train a model to build one")
        self.itos = list(SPECIAL_TOKENS) + [w for w in words if w not in SPECIAL_TOKENS]
        self.stoi = {word: index for index, word in enumerate(self.itos)}
        self.config = config
        self.lowercase = lowercase
        self.max_length = config.max_positions
        self.vocab_size = len(self.itos)
        self.padding_id, self.unknown_id, self.mask_id = 0, 1, 2
        self.special_ids = (self.padding_id, self.mask_id)

    def encode(self, record: Record) -> tuple[torch.Tensor, object]:
        """A record of text -> (ids, target)."""
        if record.error:
            raise BadRecordError(record.id, record.error)
        if not isinstance(record.data, str):
            raise BadRecordError(record.id, f"text record must be a string, got {type(record.data).__name__}")
        words = (record.data.lower() if self.lowercase else record.data).split()
        if not words:
            raise BadRecordError(record.id, "empty text")
        if len(words) > self.max_length:
            raise BadRecordError(record.id, f"{len(words)} words exceed the model's limit of {self.max_length}")
        ids = torch.tensor([self.stoi.get(w, self.unknown_id) for w in words], dtype=torch.long)
        return ids, encode_target(record, self.config)

    def collate(self, encoded: Sequence[tuple[torch.Tensor, object]], record_ids: Sequence[str]) -> TokenBatch:
        """Right-pad ids; targets become a tensor when every record has one."""
        ids, mask = pad_sequences([ids for ids, _ in encoded], value=self.padding_id)
        targets = [target for _, target in encoded]
        target_tensor = torch.tensor(targets) if all(t is not None for t in targets) else None
        return TokenBatch(padding_mask=mask, record_ids=list(record_ids), ids=ids, targets=target_tensor)

    def num_tokens(self, encoded: tuple[torch.Tensor, object]) -> int:
        """Words in the record."""
        return int(encoded[0].shape[0])

    def tokens(self, ids: Sequence[int]) -> list[str]:
        """Words for ids."""
        return [self.itos[int(i)] for i in ids]
