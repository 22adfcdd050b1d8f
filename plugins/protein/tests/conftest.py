"""Fixtures of the protein plugin tests: a tiny random transformers ESM-2 model and its import."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from sciformer.checkpoint import load_checkpoint
from sciformer.config import ModelConfig
from sciformer.plugins import PluginHost
from sciformer_protein.host import protein_host
from sciformer_protein.import_hf import import_hf_esm


@pytest.fixture(scope="session")
def host() -> PluginHost:
    """The built-ins plus this plugin only."""
    return protein_host()


@pytest.fixture(scope="session")
def hf_model():
    """A transformers EsmForMaskedLM with random weights (2 layers, width 64, 4 heads, rotary, token dropout)."""
    from transformers import EsmConfig, EsmForMaskedLM

    torch.manual_seed(0)
    config = EsmConfig(
        vocab_size=33, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256,
        position_embedding_type="rotary", token_dropout=True, mask_token_id=32, pad_token_id=1,
        max_position_embeddings=40, emb_layer_norm_before=False, layer_norm_eps=1e-5,
    )
    model = EsmForMaskedLM(config).eval()
    model.set_attn_implementation("eager")  # attention maps are needed for contacts
    with torch.no_grad():  # move norms and biases off their initial 1 / 0 so every weight matters
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    return model


@pytest.fixture(scope="session")
def hf_dir(hf_model, tmp_path_factory) -> Path:
    """The random model saved as a transformers directory."""
    path = tmp_path_factory.mktemp("hf-esm")
    hf_model.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def imported(hf_dir, host, tmp_path_factory) -> Path:
    """The transformers directory imported as a sciformer checkpoint."""
    return import_hf_esm(hf_dir, tmp_path_factory.mktemp("imported") / "model", host, {})


@pytest.fixture(scope="session")
def model(imported, host):
    """The imported checkpoint loaded (eval mode, CPU)."""
    return load_checkpoint(imported, host)


@pytest.fixture(scope="session")
def tokenizer(model, host):
    """The tokenizer of the imported model (max_residues 36)."""
    return host.tokenizer(model.config)


@pytest.fixture(scope="session")
def small_config():
    """A factory of tiny protein configurations (width 32, 2 layers, at most 20 residues per window)."""

    def make(**changes) -> ModelConfig:
        values = {"domain": "protein", "dim": 32, "depth": 2, "heads": 4, "position": "rotary", "max_positions": 64, "task": "mlm", "domain_options": {"max_residues": 20, "window_overlap": 6}}
        values.update(changes)
        return ModelConfig(**values)

    return make
