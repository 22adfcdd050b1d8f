"""The ESM alphabet and the tokenizer: exact ids, BOS / EOS, case, bad characters, long sequences."""

from __future__ import annotations

import pytest
import torch
from sciformer.engine.heads import IGNORE_INDEX
from sciformer.errors import BadRecordError, ConfigError
from sciformer.records import Record
from sciformer_protein import alphabet
from sciformer_protein.tokenizer import ProteinTokenizer, window_layout
from sciformer_protein.windows import kept_window, window_starts

#: fair-esm's Alphabet.from_architecture("ESM-2").all_toks, pinned token by token.
ESM_TOKENS = [
    "<cls>", "<pad>", "<eos>", "<unk>", "L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P", "K", "Q",
    "N", "F", "Y", "M", "H", "W", "C", "X", "B", "U", "Z", "O", ".", "-", "<null_1>", "<mask>",
]


def test_alphabet_ids_are_esms() -> None:
    assert list(alphabet.TOKENS) == ESM_TOKENS
    assert (alphabet.CLS, alphabet.PAD, alphabet.EOS, alphabet.UNK, alphabet.MASK) == (0, 1, 2, 3, 32)
    assert alphabet.VOCAB_SIZE == 33
    assert alphabet.TOKEN_IDS["L"] == 4 and alphabet.TOKEN_IDS["C"] == 23 and alphabet.TOKEN_IDS["-"] == 30


def test_alphabet_matches_the_transformers_esm_vocabulary(tmp_path) -> None:
    from transformers import EsmTokenizer

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(ESM_TOKENS) + "\n")
    reference = EsmTokenizer(str(vocab))
    sequence = "MKTAYIAKXBUZO.-LV"
    assert reference(sequence)["input_ids"] == [0, *alphabet.residue_ids(sequence, "x"), 2]


def test_tokenizer_adds_bos_eos_and_accepts_lower_case(small_config) -> None:
    tokenizer = ProteinTokenizer(small_config())
    upper, lower = tokenizer.encode(Record("a", "MKV")), tokenizer.encode(Record("b", " mkv\n"))
    assert upper.ids.tolist() == [0, 20, 15, 7, 2] == lower.ids.tolist()
    assert upper.residue_index.tolist() == [-1, 0, 1, 2, -1]
    assert upper.keep.tolist() == [False, True, True, True, False]
    inline = tokenizer.encode(Record("c", "MK<mask>V<unk>"))
    assert inline.ids.tolist() == [0, 20, 15, 32, 7, 3, 2]


@pytest.mark.parametrize(("sequence", "message"), [
    ("MKV1LA", r"invalid character '1' at position 4"),
    ("MK VL", r"invalid character ' ' \(U\+0020\) at position 3"),
    ("MK*", r"invalid character '\*' at position 3"),
    ("MK<cls>", r"unknown bracketed token at position 3"),
])
def test_bad_characters_name_position_and_character(sequence: str, message: str, small_config) -> None:
    with pytest.raises(BadRecordError, match=message) as caught:
        ProteinTokenizer(small_config()).encode(Record("bad-one", sequence))
    assert caught.value.record_id == "bad-one"


def test_empty_and_non_string_records_are_bad(small_config) -> None:
    tokenizer = ProteinTokenizer(small_config())
    with pytest.raises(BadRecordError, match="empty sequence"):
        tokenizer.encode(Record("e", "  "))
    with pytest.raises(BadRecordError, match="must be a sequence string"):
        tokenizer.encode(Record("n", 42))
    with pytest.raises(BadRecordError, match="unreadable"):
        tokenizer.encode(Record("r", "MKV", error="unreadable"))


def test_windows_cover_every_residue_once() -> None:
    starts = window_starts(50, 20, 6)
    assert starts == [0, 14, 28, 30]
    owner = kept_window(50, starts, 20)
    for residue, window in enumerate(owner.tolist()):
        start = starts[window]
        assert start <= residue < start + 20
    assert owner.tolist()[:17] == [0] * 17 and owner.tolist()[-5:] == [3] * 5
    with pytest.raises(ConfigError, match="overlap"):
        window_starts(50, 20, 20)


def test_long_sequences_are_windowed_or_truncated(small_config) -> None:
    sequence = "ACDEFGHIKLMNPQRSTVWY" * 2 + "MKV"  # 43 residues, limit 20
    windowed = ProteinTokenizer(small_config()).encode(Record("long", sequence))
    assert windowed.windows == len(window_starts(43, 20, 6)) and windowed.ids.shape[0] == windowed.windows * 22
    kept = windowed.residue_index[windowed.keep]
    assert sorted(kept.tolist()) == list(range(43))
    assert "".join(alphabet.TOKENS[i] for i in windowed.ids[windowed.keep][kept.argsort()]) == sequence
    truncated = ProteinTokenizer(small_config(domain_options={"max_residues": 20, "long_sequences": "truncate"})).encode(Record("long", sequence))
    assert truncated.windows == 1 and truncated.length == 20 and truncated.ids.shape[0] == 22


def test_collate_pads_and_lays_out_windows(small_config) -> None:
    tokenizer = ProteinTokenizer(small_config())
    short = tokenizer.encode(Record("s", "MKV"))
    plain = tokenizer.collate([short, tokenizer.encode(Record("t", "MKVLA"))], ["s", "t"])
    assert plain.ids.shape == (2, 7) and plain.ids[0, 5:].tolist() == [1, 1]
    assert "slots" not in plain.extras and plain.extras["keep"][0].sum() == 3
    long = tokenizer.encode(Record("l", "A" * 30))
    mixed = tokenizer.collate([short, long], ["s", "l"])
    assert mixed.ids.shape == (2, 2 * 22)
    assert mixed.extras["slots"].tolist() == [[True, False], [True, True]]
    assert mixed.positions[1, 22].item() == 0 and mixed.positions[1, 21].item() == 21


def test_residue_labels_become_token_targets(small_config) -> None:
    config = small_config(task="token-classification", num_labels=3, labels=("C", "E", "H"))
    tokenizer = ProteinTokenizer(config)
    encoding = tokenizer.encode(Record("ss", "MKVLA", target="CH.EE"))
    assert encoding.target.tolist() == [IGNORE_INDEX, 0, 2, IGNORE_INDEX, 1, 1, IGNORE_INDEX]
    batch = tokenizer.collate([encoding, tokenizer.encode(Record("t", "MK", target="CC"))], ["ss", "t"])
    assert batch.targets.shape == (2, 7) and batch.targets[1].tolist() == [IGNORE_INDEX, 0, 0, IGNORE_INDEX] + [IGNORE_INDEX] * 3
    with pytest.raises(BadRecordError, match="4 residue labels for 5 residues"):
        tokenizer.encode(Record("short", "MKVLA", target="CHEE"))
    with pytest.raises(BadRecordError, match="residue label 'X' at position 2"):
        tokenizer.encode(Record("odd", "MKVLA", target="CXEEE"))


def test_sequence_targets_use_label_names(small_config) -> None:
    config = small_config(task="sequence-classification", num_labels=2, labels=("Cytoplasm", "Nucleus"))
    tokenizer = ProteinTokenizer(config)
    batch = tokenizer([Record("a", "MKV", target="Nucleus"), Record("b", "MK", target="Cytoplasm")])
    assert batch.targets.tolist() == [1, 0]
    assert torch.equal(batch.padding_mask.sum(1), torch.tensor([5, 4]))


def test_array_lookup_and_window_layout_equal_a_residue_by_residue_build() -> None:
    """The byte lookup and the vectorised layout against the plain construction, on random sequences of 1 to 70
    residues (lower case and inline tokens too) in windows of 20 with overlap 6."""
    generator = torch.Generator().manual_seed(0)
    symbols = alphabet.SYMBOLS
    for length in [1, 2, 19, 20, 21, 33, 50, 70]:
        picks = torch.randint(len(symbols), (length,), generator=generator).tolist()
        sequence = "".join(symbols[i] for i in picks)
        for text in (sequence, sequence.lower(), sequence[:1] + "<mask>" + sequence[1:]):
            ids = alphabet.residue_ids(text, "r")
            assert ids.tolist() == [alphabet.TOKEN_IDS[t] for t in _symbols(text)]
        residues = alphabet.residue_ids(sequence, "r")
        starts = window_starts(length, 20, 6)
        owner = kept_window(length, starts, 20) if len(starts) > 1 else None
        ids, index, keep = [], [], []
        for number, start in enumerate(starts):
            span = range(start, min(start + 20, length))
            ids += [alphabet.CLS, *residues[span.start : span.stop].tolist(), alphabet.EOS]
            index += [-1, *span, -1]
            keep += [False, *((owner is None or int(owner[r]) == number) for r in span), False]
        layout = window_layout(torch.from_numpy(residues), starts, 20)
        assert [part.tolist() for part in layout] == [ids, index, keep]


def _symbols(text: str) -> list[str]:
    """The tokens of a sequence string, one character or inline token at a time."""
    tokens, position = [], 0
    while position < len(text):
        token = "<mask>" if text.startswith("<mask>", position) else text[position].upper()
        tokens.append(token)
        position += len(token)
    return tokens
