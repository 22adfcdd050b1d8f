"""Parity with transformers' ESM-2 and fair-esm's own ESM2 (random weights, offline): logits, every layer, mean
embedding, contacts, in float32 and bfloat16; windows that reproduce running each window alone."""

from __future__ import annotations

import argparse
from pathlib import Path

import esm
import pytest
import torch
from sciformer.build import build_model
from sciformer.checkpoint import load_checkpoint
from sciformer.errors import CheckpointError, InputFileError
from sciformer.records import Record
from sciformer.scoring import score_chunk
from sciformer.scoring.scorer import scorer_for
from sciformer_protein.contacts import predict_contacts
from sciformer_protein.import_esm import import_fair_esm
from sciformer_protein.import_hf import import_hf_esm
from sciformer_protein.inference import layer_output, residue_positions
from sciformer_protein.marginals import masked_log_probs
from sciformer_protein.windows import kept_window, window_starts

TOLERANCE = 1e-4  # our model against itself (a record alone and in a batch, windows, ...)
# against the references: at most ten times the max abs differences the README reports
HF_TOLERANCE = {"logits": 1.4e-5, "layer": 1.4e-5, "mean": 6.7e-6, "contacts": 6e-7}  # measured: 1.4e-6, 1.4e-6, 6.7e-7, 6e-8
FAIR_ESM_TOLERANCE = {"logits": 1e-4, "layer": 1e-5, "contacts": 6e-7}  # measured: 1.5e-5, 1.6e-6, 6e-8
# bfloat16 autocast against float32, per record; measured lowest cosine 0.99997, highest max relative error 0.0096
BF16_COSINE = 0.9999
BF16_RELATIVE = 0.02
RECORDS = [
    Record("a", "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"),
    Record("b", "mk<mask>lvagwxbuzo.-"),
    Record("c", "GGSWL"),
]
FAIR_ESM_RECORDS = [Record("a", "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"), Record("b", "MK<mask>LVAGWXBUZO"), Record("c", "GGSWL")]


def _reference(hf_model, batch):
    with torch.no_grad():
        return hf_model(input_ids=batch.ids, attention_mask=batch.padding_mask.long(), output_hidden_states=True)


def _max_diff(ours: torch.Tensor, theirs: torch.Tensor, mask: torch.Tensor) -> float:
    return (ours - theirs)[mask].abs().max().item()


def test_logits_layers_and_mean_embedding_match_transformers(model, tokenizer, hf_model, host) -> None:
    batch = tokenizer(RECORDS)
    with torch.no_grad():
        ours = model(batch, output_hidden_states=True)
    theirs = _reference(hf_model, batch)
    real = batch.padding_mask
    assert _max_diff(ours.prediction, theirs.logits, real) < HF_TOLERANCE["logits"]
    depth = model.config.depth
    assert len(theirs.hidden_states) == depth + 1
    # transformers' hidden_states: the embeddings, each layer's output, the last one after the final norm
    for layer in range(depth + 1):
        assert _max_diff(layer_output(ours, layer, depth), theirs.hidden_states[layer], real) < HF_TOLERANCE["layer"], f"layer {layer}"
    residues = batch.extras["keep"]
    weights = residues[..., None].float()
    reference_mean = (theirs.hidden_states[-1] * weights).sum(1) / weights.sum(1)
    assert (ours.pooled - reference_mean).abs().max().item() < HF_TOLERANCE["mean"]
    streamed = torch.from_numpy(score_chunk(model, tokenizer, RECORDS, outputs=["embedding"], scorer=scorer_for(host, model, {}))[0]["embedding"])
    assert (streamed - reference_mean).abs().max().item() < HF_TOLERANCE["mean"]


def test_contacts_match_transformers(model, tokenizer, hf_model) -> None:
    for record in RECORDS:
        batch = tokenizer([record])
        with torch.no_grad():
            reference = hf_model.predict_contacts(batch.ids, batch.padding_mask.long())[0]
        ours = torch.from_numpy(predict_contacts(model, tokenizer, record))
        assert ours.shape == reference.shape
        assert (ours - reference).abs().max().item() < HF_TOLERANCE["contacts"]


def test_a_record_alone_equals_it_inside_a_padded_batch(model, tokenizer) -> None:
    with torch.no_grad():
        batched = model(tokenizer(RECORDS)).prediction
        alone = model(tokenizer([RECORDS[2]])).prediction
    assert (batched[2, : alone.shape[1]] - alone[0]).abs().max().item() < TOLERANCE


def _fair_esm_files(folder: Path) -> tuple[Path, torch.nn.Module]:
    """fair-esm's own ESM2 (2 layers, width 64, 4 heads, ESM-1b alphabet) with every weight moved off its initial
    value, written as fair-esm's published ESM-2 files: `{"model": state dict under "encoder.sentence_encoder." /
    "encoder.", "cfg": {"model": Namespace}}` and the contact regression in `NAME-contact-regression.pt`."""
    torch.manual_seed(0)
    reference = esm.model.esm2.ESM2(num_layers=2, embed_dim=64, attention_heads=4, alphabet=esm.data.Alphabet.from_architecture("ESM-1b")).eval()
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.1)
    state = reference.state_dict()
    body = {f"encoder.sentence_encoder.{k}": v for k, v in state.items() if not k.startswith(("lm_head.", "contact_head."))}
    head = {f"encoder.{k}": v for k, v in state.items() if k.startswith("lm_head.")}
    settings = argparse.Namespace(encoder_layers=2, encoder_embed_dim=64, encoder_attention_heads=4, token_dropout=True)
    source = folder / "esm2_t2_tiny.pt"
    torch.save({"model": {**body, **head}, "cfg": {"model": settings}}, source)
    torch.save({"model": {k: v for k, v in state.items() if k.startswith("contact_head.")}}, folder / "esm2_t2_tiny-contact-regression.pt")
    return source, reference


def bf16_errors(got: list[torch.Tensor], reference: list[torch.Tensor]) -> tuple[float, float]:
    """Lowest cosine similarity of a record (flattened) and max relative error |got - ref|.max() / |ref|.max()."""
    cosine = min(torch.nn.functional.cosine_similarity(g.float().flatten(), r.flatten(), dim=0).item() for g, r in zip(got, reference, strict=True))
    error = max((g.float() - r).abs().max().item() for g, r in zip(got, reference, strict=True))
    return cosine, error / max(r.abs().max().item() for r in reference)


def test_fair_esm_model_imports_with_its_contact_regression(host, tmp_path) -> None:
    """fair-esm's ESM2 against its import: logits, every layer and contacts on a padded batch, float32 and bfloat16."""
    source, reference = _fair_esm_files(tmp_path)
    with torch.serialization.safe_globals([argparse.Namespace]):  # fair-esm's loader reads the file as published ones
        loaded, alphabet = esm.pretrained.load_model_and_alphabet_local(source)[:2]
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in reference.state_dict().items())
    net = load_checkpoint(import_fair_esm(source, tmp_path / "out", host, {}), host)
    tokenizer = host.tokenizer(net.config)
    batch = tokenizer(FAIR_ESM_RECORDS)
    tokens = alphabet.get_batch_converter()([(r.id, r.data) for r in FAIR_ESM_RECORDS])[2]
    assert torch.equal(batch.ids, tokens)
    lengths = [len(alphabet.tokenize(r.data)) for r in FAIR_ESM_RECORDS]
    results = {}
    for bf16 in (False, True):
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            theirs = loaded(tokens, repr_layers=[0, 1, 2], return_contacts=True)
            ours = net(batch, output_hidden_states=True)
            contacts = [torch.from_numpy(predict_contacts(net, tokenizer, r)) for r in FAIR_ESM_RECORDS]
        outputs = {"logits": (ours.prediction, theirs["logits"])}
        outputs |= {f"layer {i}": (layer_output(ours, i, 2), theirs["representations"][i]) for i in range(3)}
        # per record: its tokens (BOS, residues, EOS) without padding, and its (L, L) contacts
        results[bf16] = {name: ([o[r, : n + 2] for r, n in enumerate(lengths)], [t[r, : n + 2] for r, n in enumerate(lengths)]) for name, (o, t) in outputs.items()}
        results[bf16]["contacts"] = (contacts, [theirs["contacts"][r, :n, :n] for r, n in enumerate(lengths)])
    for name, (ours32, theirs32) in results[False].items():
        difference = max((o - t).abs().max().item() for o, t in zip(ours32, theirs32, strict=True))
        ours16, theirs16 = results[True][name]
        (cosine, error), (their_cosine, their_error) = bf16_errors(ours16, theirs32), bf16_errors(theirs16, theirs32)
        assert difference < FAIR_ESM_TOLERANCE[name.split()[0]], name
        assert cosine > BF16_COSINE and error < BF16_RELATIVE, name
        assert their_cosine > BF16_COSINE and their_error < BF16_RELATIVE, name
        assert error <= 1.5 * their_error + 0.002, name  # sciformer in bfloat16 is about as close to float32 as fair-esm is


def test_bfloat16_is_as_close_to_float32_as_transformers(model, tokenizer, hf_model) -> None:
    """bfloat16 autocast on both sides against transformers' float32 output: logits and last layer, per record."""
    batch = tokenizer(RECORDS)
    expected = _reference(hf_model, batch)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        theirs = _reference(hf_model, batch)
        with torch.no_grad():
            ours = model(batch)
    real = batch.padding_mask
    for mine, their, reference in ((ours.prediction, theirs.logits, expected.logits), (ours.hidden, theirs.hidden_states[-1], expected.hidden_states[-1])):
        (cosine, error), (their_cosine, their_error) = (bf16_errors(_records(t, real), _records(reference, real)) for t in (mine, their))
        assert cosine > BF16_COSINE and error < BF16_RELATIVE
        assert their_cosine > BF16_COSINE and their_error < BF16_RELATIVE
        assert error <= 1.5 * their_error + 0.002  # sciformer in bfloat16 is about as close to float32 as transformers is


def _records(values: torch.Tensor, real: torch.Tensor) -> list[torch.Tensor]:
    """Each record's rows of a (B, T, ...) tensor, without padding."""
    return [row[mask] for row, mask in zip(values, real, strict=True)]


def test_importers_refuse_what_they_cannot_reproduce(hf_dir, host, tmp_path) -> None:
    torch.save({"model": {}, "args": argparse.Namespace(arch="roberta_large")}, tmp_path / "esm1b.pt")
    with pytest.raises(CheckpointError, match="ESM-1 / ESM-1b checkpoint"):
        import_fair_esm(tmp_path / "esm1b.pt", tmp_path / "out", host, {})
    (tmp_path / "evil.pt").write_bytes(b"\x80\x02cos\nsystem\nq\x00.")
    with pytest.raises(InputFileError, match=r"evil\.pt: not a loadable state dict; torch.load\(weights_only=True\) refused it"):
        import_fair_esm(tmp_path / "evil.pt", tmp_path / "out", host, {})
    absolute = tmp_path / "esm1b-hf"
    absolute.mkdir()
    (absolute / "config.json").write_text((hf_dir / "config.json").read_text().replace('"rotary"', '"absolute"'))
    (absolute / "model.safetensors").write_bytes((hf_dir / "model.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match="only rotary ESM-2 is supported"):
        import_hf_esm(absolute, tmp_path / "out", host, {})


def test_windows_reproduce_each_window_run_alone(host, small_config) -> None:
    torch.manual_seed(1)
    config = small_config()
    net = build_model(config, host).eval()
    tokenizer = host.tokenizer(config)
    sequence = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGT"  # 44 residues, 20 per window
    record = Record("long", sequence)
    batch = tokenizer([Record("short", "MKV"), record])
    assert "slots" in batch.extras
    with torch.no_grad():
        output = net(batch, output_hidden_states=True)
    stitched = output.hidden[1, residue_positions(batch, 1)]  # (44, D)
    starts = window_starts(len(sequence), 20, 6)
    owner = kept_window(len(sequence), starts, 20)
    for window, start in enumerate(starts):
        alone = tokenizer([Record("w", sequence[start : start + 20])])
        with torch.no_grad():
            hidden = net(alone).hidden[0, 1:-1]  # (20, D)
        mine = (owner[start : start + 20] == window).nonzero().squeeze(-1)
        assert (stitched[start + mine] - hidden[mine]).abs().max().item() < TOLERANCE
    short_alone = net(tokenizer([Record("short", "MKV")])).prediction[0]
    assert (output.prediction[0, :5] - short_alone).abs().max().item() < TOLERANCE
    masked_long = masked_log_probs(net, tokenizer, record, [25])  # residue 26 belongs to the window starting at 14
    masked_alone = masked_log_probs(net, tokenizer, Record("w", sequence[starts[1] : starts[1] + 20]), [25 - starts[1]])
    assert owner[25] == 1 and (masked_long - masked_alone).abs().max().item() < TOLERANCE
    contacts = predict_contacts(net, tokenizer, record, method="apc")
    assert contacts.shape == (44, 44) and torch.isfinite(torch.from_numpy(contacts[:20, :20])).all()


def test_pytorch_bin_and_headless_esm_model_directories(hf_model, hf_dir, model, host, tmp_path) -> None:
    binary = tmp_path / "bin"
    binary.mkdir()
    (binary / "config.json").write_text((hf_dir / "config.json").read_text())
    torch.save(hf_model.state_dict(), binary / "pytorch_model.bin")
    from_bin = load_checkpoint(import_hf_esm(binary, tmp_path / "from-bin", host, {}), host)
    batch = host.tokenizer(model.config)(RECORDS)
    with torch.no_grad():
        assert torch.equal(from_bin(batch).prediction, model(batch).prediction)
    headless = tmp_path / "esm-model"
    headless.mkdir()
    (headless / "config.json").write_text((hf_dir / "config.json").read_text())
    torch.save(hf_model.esm.state_dict(), headless / "pytorch_model.bin")  # EsmModel: no "esm." prefix, no LM head
    encoder = load_checkpoint(import_hf_esm(headless, tmp_path / "encoder", host, {}), host)
    assert encoder.config.task is None and encoder.head is None
    with torch.no_grad():
        assert (encoder(batch).pooled - model(batch).pooled).abs().max().item() < TOLERANCE
