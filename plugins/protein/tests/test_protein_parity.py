"""Parity with transformers' ESM-2 (random weights, offline): logits, every layer, mean embedding, contacts;
the fair-esm importer; windows that reproduce running each window alone."""

from __future__ import annotations

import argparse

import pytest
import torch
from sciformer.build import build_model
from sciformer.checkpoint import load_checkpoint
from sciformer.errors import CheckpointError
from sciformer.records import Record
from sciformer_protein.contacts import predict_contacts
from sciformer_protein.import_esm import import_fair_esm
from sciformer_protein.import_hf import import_hf_esm
from sciformer_protein.inference import embed, layer_output, residue_positions
from sciformer_protein.marginals import masked_log_probs
from sciformer_protein.windows import kept_window, window_starts

TOLERANCE = 1e-4
RECORDS = [
    Record("a", "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"),
    Record("b", "mk<mask>lvagwxbuzo.-"),
    Record("c", "GGSWL"),
]


def _reference(hf_model, batch):
    with torch.no_grad():
        return hf_model(input_ids=batch.ids, attention_mask=batch.padding_mask.long(), output_hidden_states=True)


def _max_diff(ours: torch.Tensor, theirs: torch.Tensor, mask: torch.Tensor) -> float:
    return (ours - theirs)[mask].abs().max().item()


def test_logits_layers_and_mean_embedding_match_transformers(model, tokenizer, hf_model) -> None:
    batch = tokenizer(RECORDS)
    with torch.no_grad():
        ours = model(batch, output_hidden_states=True)
    theirs = _reference(hf_model, batch)
    real = batch.padding_mask
    assert _max_diff(ours.prediction, theirs.logits, real) < TOLERANCE
    depth = model.config.depth
    assert len(theirs.hidden_states) == depth + 1
    # transformers' hidden_states: the embeddings, each layer's output, the last one after the final norm
    for layer in range(depth + 1):
        assert _max_diff(layer_output(ours, layer, depth), theirs.hidden_states[layer], real) < TOLERANCE, f"layer {layer}"
    residues = batch.extras["keep"]
    weights = residues[..., None].float()
    reference_mean = (theirs.hidden_states[-1] * weights).sum(1) / weights.sum(1)
    assert (ours.pooled - reference_mean).abs().max().item() < TOLERANCE
    streamed = torch.stack([torch.from_numpy(e.mean) for e in embed(model, tokenizer, RECORDS)])
    assert (streamed - reference_mean).abs().max().item() < TOLERANCE


def test_contacts_match_transformers(model, tokenizer, hf_model) -> None:
    for record in RECORDS:
        batch = tokenizer([record])
        with torch.no_grad():
            reference = hf_model.predict_contacts(batch.ids, batch.padding_mask.long())[0]
        ours = torch.from_numpy(predict_contacts(model, tokenizer, record))
        assert ours.shape == reference.shape
        assert (ours - reference).abs().max().item() < TOLERANCE


def test_a_record_alone_equals_it_inside_a_padded_batch(model, tokenizer) -> None:
    with torch.no_grad():
        batched = model(tokenizer(RECORDS)).prediction
        alone = model(tokenizer([RECORDS[2]])).prediction
    assert (batched[2, : alone.shape[1]] - alone[0]).abs().max().item() < TOLERANCE


def _fair_esm_state(hf_model) -> dict[str, torch.Tensor]:
    """The random transformers weights under fair-esm's names, as its ESM-2 `.pt` files store them."""
    hf = {k: v.clone() for k, v in hf_model.state_dict().items()}
    body, head = "encoder.sentence_encoder.", "encoder."
    state = {f"{body}embed_tokens.weight": hf["esm.embeddings.word_embeddings.weight"]}
    for i in range(hf_model.config.num_hidden_layers):
        layer, ours = f"esm.encoder.layer.{i}.", f"{body}layers.{i}."
        pairs = {
            "self_attn.q_proj": "attention.self.query", "self_attn.k_proj": "attention.self.key", "self_attn.v_proj": "attention.self.value",
            "self_attn.out_proj": "attention.output.dense", "self_attn_layer_norm": "attention.LayerNorm",
            "final_layer_norm": "LayerNorm", "fc1": "intermediate.dense", "fc2": "output.dense",
        }
        for theirs, hf_name in pairs.items():
            for kind in ("weight", "bias"):
                state[f"{ours}{theirs}.{kind}"] = hf[f"{layer}{hf_name}.{kind}"]
        state[f"{ours}self_attn.rot_emb.inv_freq"] = torch.ones(8)
    for kind in ("weight", "bias"):
        state[f"{body}emb_layer_norm_after.{kind}"] = hf[f"esm.encoder.emb_layer_norm_after.{kind}"]
        state[f"{head}lm_head.dense.{kind}"] = hf[f"lm_head.dense.{kind}"]
        state[f"{head}lm_head.layer_norm.{kind}"] = hf[f"lm_head.layer_norm.{kind}"]
    state[f"{head}lm_head.weight"] = hf["esm.embeddings.word_embeddings.weight"]
    state[f"{head}lm_head.bias"] = hf["lm_head.bias"]
    return state


def test_fair_esm_checkpoint_imports_with_its_contact_regression(hf_model, host, tmp_path) -> None:
    settings = argparse.Namespace(encoder_layers=2, encoder_embed_dim=64, encoder_attention_heads=4, token_dropout=True)
    source = tmp_path / "esm2_t2_tiny.pt"
    torch.save({"model": _fair_esm_state(hf_model), "cfg": {"model": settings}}, source)
    regression = {f"contact_head.regression.{k}": v.clone() for k, v in hf_model.esm.contact_head.regression.state_dict().items()}
    torch.save({"model": regression}, tmp_path / "esm2_t2_tiny-contact-regression.pt")
    net = load_checkpoint(import_fair_esm(source, tmp_path / "out", host), host)
    tokenizer = host.tokenizer(net.config)
    batch = tokenizer(RECORDS)
    with torch.no_grad():
        ours = net(batch).prediction
        reference = hf_model.predict_contacts(batch.ids[:1, :35], batch.padding_mask[:1, :35].long())[0]
    assert _max_diff(ours, _reference(hf_model, batch).logits, batch.padding_mask) < TOLERANCE
    assert (torch.from_numpy(predict_contacts(net, tokenizer, RECORDS[0])) - reference).abs().max().item() < TOLERANCE


def test_importers_refuse_what_they_cannot_reproduce(hf_dir, host, tmp_path) -> None:
    torch.save({"model": {}, "args": argparse.Namespace(arch="roberta_large")}, tmp_path / "esm1b.pt")
    with pytest.raises(CheckpointError, match="ESM-1 / ESM-1b checkpoint"):
        import_fair_esm(tmp_path / "esm1b.pt", tmp_path / "out", host)
    (tmp_path / "evil.pt").write_bytes(b"\x80\x02cos\nsystem\nq\x00.")
    with pytest.raises(CheckpointError, match="cannot be read safely"):
        import_fair_esm(tmp_path / "evil.pt", tmp_path / "out", host)
    absolute = tmp_path / "esm1b-hf"
    absolute.mkdir()
    (absolute / "config.json").write_text((hf_dir / "config.json").read_text().replace('"rotary"', '"absolute"'))
    (absolute / "model.safetensors").write_bytes((hf_dir / "model.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match="only rotary ESM-2 is supported"):
        import_hf_esm(absolute, tmp_path / "out", host)


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
    from_bin = load_checkpoint(import_hf_esm(binary, tmp_path / "from-bin", host), host)
    batch = host.tokenizer(model.config)(RECORDS)
    with torch.no_grad():
        assert torch.equal(from_bin(batch).prediction, model(batch).prediction)
    headless = tmp_path / "esm-model"
    headless.mkdir()
    (headless / "config.json").write_text((hf_dir / "config.json").read_text())
    torch.save(hf_model.esm.state_dict(), headless / "pytorch_model.bin")  # EsmModel: no "esm." prefix, no LM head
    encoder = load_checkpoint(import_hf_esm(headless, tmp_path / "encoder", host), host)
    assert encoder.config.task is None and encoder.head is None
    with torch.no_grad():
        assert (encoder(batch).pooled - model(batch).pooled).abs().max().item() < TOLERANCE
