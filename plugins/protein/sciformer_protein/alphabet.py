"""The ESM alphabet: 33 tokens with the exact ids of ESM-1b / ESM-2, and residue strings -> ids.

The order follows ESM's alphabet construction: four tokens prepended (`<cls>`, `<pad>`, `<eos>`,
`<unk>`), the 27 sequence symbols in ESM's order, one `<null_1>` that pads the table to a multiple of
8, and `<mask>` appended last. Published weights index their embedding rows by these ids.
"""

from __future__ import annotations

import numpy as np
from sciformer.errors import BadRecordError

PREPENDED = ("<cls>", "<pad>", "<eos>", "<unk>")
SYMBOLS = tuple("LAGVSERTIDPKQNFYMHWCXBUZO.-")  # residues, then the ambiguity codes X B U Z O, then gaps
TOKENS: tuple[str, ...] = PREPENDED + SYMBOLS + ("<null_1>", "<mask>")
TOKEN_IDS: dict[str, int] = {token: index for index, token in enumerate(TOKENS)}

CLS, PAD, EOS, UNK = 0, 1, 2, 3
NULL, MASK = TOKEN_IDS["<null_1>"], TOKEN_IDS["<mask>"]
VOCAB_SIZE = len(TOKENS)
SPECIAL_IDS = (CLS, PAD, EOS, NULL, MASK)  # never chosen for masking, never a residue
#: The twenty standard amino acids (one-letter codes, alphabetical).
AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
#: Bracketed tokens a sequence string may contain, as in ESM (`MK<mask>LV`).
INLINE_TOKENS = ("<mask>", "<unk>")


def _lookup_table() -> np.ndarray:
    """(256,) token id of each ASCII byte that is a sequence symbol (either case), -1 for any other byte."""
    table = np.full(256, -1, dtype=np.int64)
    for symbol in SYMBOLS:
        table[ord(symbol)] = table[ord(symbol.lower())] = TOKEN_IDS[symbol]
    return table


BYTE_IDS = _lookup_table()


def residue_ids(sequence: str, record_id: str) -> np.ndarray:
    """Token ids (int64) of a residue string (no BOS / EOS); lower case is accepted.

    Every symbol of the ESM alphabet maps to its own id (including `X B U Z O` and the gaps `.` `-`),
    and `<mask>` / `<unk>` may appear inline. Any other character raises BadRecordError naming its
    1-based position and the character. A plain ASCII sequence is looked up a whole array at a time.
    """
    if sequence.isascii() and "<" not in sequence:
        ids = BYTE_IDS[np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)]
        if (ids >= 0).all():
            return ids
    return np.asarray(_scanned_ids(sequence, record_id), dtype=np.int64)


def _scanned_ids(sequence: str, record_id: str) -> list[int]:
    """`residue_ids` one character at a time: inline tokens, and the error naming the first bad character."""
    ids: list[int] = []
    upper = sequence.upper()
    position = 0
    while position < len(upper):
        char = upper[position]
        if char == "<":
            token = next((t for t in INLINE_TOKENS if upper.startswith(t.upper(), position)), None)
            if token is None:
                raise BadRecordError(record_id, f"unknown bracketed token at position {position + 1}; only {list(INLINE_TOKENS)} may appear inline")
            ids.append(TOKEN_IDS[token])
            position += len(token)
            continue
        index = TOKEN_IDS.get(char) if char in SYMBOLS else None
        if index is None:
            shown = repr(char) if char.isprintable() and not char.isspace() else f"{char!r} (U+{ord(char):04X})"
            raise BadRecordError(record_id, f"invalid character {shown} at position {position + 1}; expected amino-acid letters {''.join(SYMBOLS)}")
        ids.append(index)
        position += 1
    return ids


def token_strings(ids: list[int]) -> list[str]:
    """Readable tokens for ids."""
    return [TOKENS[int(i)] for i in ids]
