"""Variant effect scores as ESM's variant-prediction recipe defines them.

A variant is one or more mutations written `A23G` (wild-type letter, 1-based position, mutant
letter), several joined by ':' (`A23G:K40R`). Its score is the sum over its mutations of
`log p(mutant) - log p(wild type)` at the mutated position, where the log-probabilities come from

- `masked-marginal`: the sequence with that position masked (one forward pass per position), or
- `wild-type-marginal`: the unmasked wild-type sequence (one forward pass in all).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sciformer.engine.model import SciformerModel
from sciformer.errors import BadRecordError, ConfigError
from sciformer.records import Record

from . import alphabet
from .marginals import masked_log_probs, wild_type_log_probs
from .tokenizer import ProteinTokenizer

METHODS = ("masked-marginal", "wild-type-marginal")
MUTATION = re.compile(r"([A-Za-z])(\d+)([A-Za-z])")
LETTERS = set(alphabet.SYMBOLS) - {".", "-"}  # residues and ambiguity codes; gaps are not mutations


@dataclass(frozen=True)
class Mutation:
    """One substitution: wild-type letter, 1-based position, mutant letter."""

    wild_type: str
    position: int
    mutant: str


def parse_variant(text: str, sequence: str, variant_id: str | None = None) -> tuple[Mutation, ...]:
    """Mutations of a variant like `A23G:K40R`, checked against `sequence`; BadRecordError names what is wrong."""
    name = variant_id or text
    mutations: list[Mutation] = []
    for part in text.strip().split(":"):
        match = MUTATION.fullmatch(part.strip())
        if match is None:
            raise BadRecordError(name, f"mutation {part!r} is not written like A23G (wild type, 1-based position, mutant; ':' between mutations)")
        wild_type, position, mutant = match.group(1).upper(), int(match.group(2)), match.group(3).upper()
        for letter in (wild_type, mutant):
            if letter not in LETTERS:
                raise BadRecordError(name, f"mutation {part}: {letter!r} is not an amino-acid letter of the ESM alphabet")
        if not 1 <= position <= len(sequence):
            raise BadRecordError(name, f"mutation {part}: position {position} is outside the sequence (1..{len(sequence)})")
        found = sequence[position - 1].upper()
        if found != wild_type:
            raise BadRecordError(name, f"mutation {part}: the wild-type sequence has {found} at position {position}, not {wild_type}")
        if any(m.position == position for m in mutations):
            raise BadRecordError(name, f"position {position} is mutated twice")
        mutations.append(Mutation(wild_type, position, mutant))
    return tuple(mutations)


@dataclass(frozen=True)
class VariantScore:
    """The score of one variant, or the reason it could not be scored."""

    variant: str
    score: float | None
    error: str | None = None


def score_variants(
    model: SciformerModel,
    tokenizer: ProteinTokenizer,
    sequence: str,
    variants: Iterable[str],
    method: str = "masked-marginal",
    batch_tokens: int | None = None,
) -> list[VariantScore]:
    """Score variants of the wild-type `sequence`; a malformed or mismatching variant gets an error, not a score."""
    if method not in METHODS:
        raise ConfigError(f"unknown scoring method {method!r}; choose one of {list(METHODS)}")
    wild_type = Record("wild-type", sequence)
    tokenizer.encode(wild_type)  # a bad wild-type sequence fails here, before any work
    parsed: list[tuple[str, tuple[Mutation, ...] | None, str | None]] = []
    for variant in variants:
        try:
            parsed.append((variant, parse_variant(variant, sequence), None))
        except BadRecordError as error:
            parsed.append((variant, None, error.reason))
    positions = sorted({m.position - 1 for _, mutations, _ in parsed if mutations for m in mutations})
    if method == "wild-type-marginal":
        table = wild_type_log_probs(model, tokenizer, wild_type, batch_tokens)
        log_probs = {p: table[p] for p in positions}
    else:
        rows = masked_log_probs(model, tokenizer, wild_type, positions, batch_tokens) if positions else []
        log_probs = dict(zip(positions, rows))
    scores = []
    for variant, mutations, error in parsed:
        if mutations is None:
            scores.append(VariantScore(variant, None, error))
            continue
        total = sum(float(log_probs[m.position - 1][alphabet.TOKEN_IDS[m.mutant]] - log_probs[m.position - 1][alphabet.TOKEN_IDS[m.wild_type]]) for m in mutations)
        scores.append(VariantScore(variant, total))
    return scores


def all_substitutions(sequence: str, positions: Sequence[int] | None = None) -> list[str]:
    """Every single substitution to the 20 standard amino acids (a deep mutational scan), e.g. M1A, M1C, ..."""
    chosen = positions or range(1, len(sequence) + 1)
    return [f"{sequence[p - 1].upper()}{p}{aa}" for p in chosen for aa in alphabet.AMINO_ACIDS if aa != sequence[p - 1].upper()]
