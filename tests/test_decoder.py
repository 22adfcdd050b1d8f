"""The engine's decoder: blocks equal PyTorch's own `nn.TransformerDecoderLayer` (post- and pre-norm), decoding
is causal and ignores the memory's padding, and a domain with decoder tokens gets an encoder-decoder model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pytest
import torch
from sciformer.build import build_model
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.domain import Domain, Tokenizer
from sciformer.engine.context import Embedded
from sciformer.errors import ConfigError
from sciformer.records import ExampleRecords, Record
from torch import nn

DIM, HEADS = 16, 4


class Steps(nn.Module):
    """Embeds (B, T, 1) values of `extras[key]` linearly; every token real."""

    def __init__(self, config: ModelConfig, key: str) -> None:
        super().__init__()
        self.key = key
        self.linear = nn.Linear(1, config.dim)

    def forward(self, batch: TokenBatch, encoded: Embedded | None = None) -> Embedded:
        values = batch.extras[self.key]
        mask = batch.extras.get(f"{self.key}_mask", torch.ones(values.shape[:2], dtype=torch.bool))
        positions = torch.arange(values.shape[1]).expand(values.shape[0], -1)
        return Embedded(self.linear(values), mask, mask, positions)


class SequenceTokenizer(Tokenizer):
    """Records are (context, continuation) lists of floats."""

    def encode(self, record: Record) -> Any:
        return record.data

    def collate(self, encoded: Sequence[Any], record_ids: Sequence[str]) -> TokenBatch:
        batch = TokenBatch(padding_mask=torch.ones(len(encoded), len(encoded[0][0]), dtype=torch.bool), record_ids=list(record_ids))
        batch.extras["context"] = torch.tensor([e[0] for e in encoded], dtype=torch.float32)[..., None]
        batch.extras["continuation"] = torch.tensor([e[1] for e in encoded], dtype=torch.float32)[..., None]
        return batch

    def num_tokens(self, encoded: Any) -> int:
        return len(encoded[0])


class SequenceDomain(Domain):
    """An encoder over a context, a decoder over its continuation."""

    name = "sequence"
    record_type = "a context and its continuation"
    summary = "test sequences for the decoder"
    tasks = ()
    default_config: ClassVar[Mapping[str, Any]] = {"dim": DIM, "depth": 1, "heads": HEADS}

    def tokenizer(self, config: ModelConfig) -> Tokenizer:
        return SequenceTokenizer()

    def embedder(self, config: ModelConfig) -> nn.Module:
        return Steps(config, "context")

    def decoder_embedder(self, config: ModelConfig) -> nn.Module | None:
        return Steps(config, "continuation")

    def examples(self) -> ExampleRecords:
        return ExampleRecords(good=(Record("a", ([0.0, 1.0], [2.0])),))


@pytest.fixture
def sequence_host(register_domain):
    """The core host with the sequence domain."""
    return register_domain("sequence", SequenceDomain)


def config(norm: str, **changes: Any) -> ModelConfig:
    values = {"domain": "sequence", "dim": DIM, "heads": HEADS, "depth": 1, "decoder_depth": 2, "mlp_ratio": 2.0, "norm": norm,
              "final_norm": norm == "pre", "position": "none", "norm_eps": 1e-5, **changes}  # fmt: skip
    return ModelConfig.from_dict(values)


def batch_of(context: torch.Tensor, continuation: torch.Tensor) -> TokenBatch:
    batch = TokenBatch(padding_mask=torch.ones(context.shape[:2], dtype=torch.bool), record_ids=[str(i) for i in range(len(context))])
    batch.extras.update(context=context, continuation=continuation)
    return batch


def load_reference(layer: nn.TransformerDecoderLayer, block: nn.Module) -> None:
    """Copy a sciformer decoder block's weights into PyTorch's layer (its fused in-projections included)."""
    with torch.no_grad():
        layer.self_attn.in_proj_weight.copy_(block.mixer.qkv.weight)
        layer.self_attn.in_proj_bias.copy_(block.mixer.qkv.bias)
        layer.self_attn.out_proj.weight.copy_(block.mixer.out.weight)
        layer.self_attn.out_proj.bias.copy_(block.mixer.out.bias)
        layer.multihead_attn.in_proj_weight.copy_(torch.cat([block.cross.q.weight, block.cross.kv.weight]))
        layer.multihead_attn.in_proj_bias.copy_(torch.cat([block.cross.q.bias, block.cross.kv.bias]))
        layer.multihead_attn.out_proj.weight.copy_(block.cross.out.weight)
        layer.multihead_attn.out_proj.bias.copy_(block.cross.out.bias)
        for ours, theirs in ((block.mlp.fc1, layer.linear1), (block.mlp.fc2, layer.linear2), (block.norm1, layer.norm1), (block.norm_cross, layer.norm2), (block.norm2, layer.norm3)):
            theirs.weight.copy_(ours.weight)
            theirs.bias.copy_(ours.bias)


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_decoder_blocks_equal_pytorchs_transformer_decoder_layer(sequence_host, norm: str) -> None:
    torch.manual_seed(0)
    model = build_model(config(norm), sequence_host).eval()
    for parameter in model.parameters():  # norms and biases away from their initial values too
        nn.init.normal_(parameter, std=0.3)
    reference = []
    for block in model.decoder.blocks:
        layer = nn.TransformerDecoderLayer(DIM, HEADS, dim_feedforward=2 * DIM, dropout=0.0, activation="gelu", batch_first=True, norm_first=norm == "pre")
        load_reference(layer, block)
        reference.append(layer.eval())
    context, continuation = torch.randn(3, 5, 1), torch.randn(3, 4, 1)
    memory_mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2, [True] * 4 + [False]])
    batch = batch_of(context, continuation)
    batch.extras["context_mask"] = memory_mask
    with torch.inference_mode():
        encoded = model.encode(batch)
        ours = model.decode(batch, encoded)
        expected = model.decoder.embedder(batch).hidden
        causal = nn.Transformer.generate_square_subsequent_mask(4)
        for layer in reference:
            expected = layer(expected, encoded.hidden, tgt_mask=causal, memory_key_padding_mask=~memory_mask)
        expected = model.decoder.final_norm(expected)
        with_maps = model.decode(batch, encoded, need_weights=True)
    assert (ours.decoded.hidden - expected).abs().max() < 1e-5
    assert (with_maps.decoded.hidden - expected).abs().max() < 1e-5  # the reference path agrees with the fused one
    self_map, cross_map = with_maps.decoded.attentions[0], with_maps.decoded.cross_attentions[0]
    assert self_map.shape == (3, HEADS, 4, 4) and torch.all(self_map.triu(1) == 0)  # causal
    assert cross_map.shape == (3, HEADS, 4, 5) and torch.all(cross_map[1, :, :, 3:] == 0) and torch.all(cross_map[2, :, :, 4:] == 0)


def test_decoding_is_causal_and_ignores_padded_memory(sequence_host) -> None:
    torch.manual_seed(1)
    model = build_model(config("pre"), sequence_host).eval()
    context, continuation = torch.randn(1, 5, 1), torch.randn(1, 4, 1)
    with torch.inference_mode():
        whole = model(batch_of(context, continuation)).decoded.hidden
        changed_tail = continuation.clone()
        changed_tail[:, 2:] += 1.0
        tail = model(batch_of(context, changed_tail)).decoded.hidden
        prefix = model(batch_of(context, continuation[:, :2])).decoded.hidden
        padded = batch_of(torch.cat([context, torch.randn(1, 3, 1)], dim=1), continuation)
        padded.extras["context_mask"] = torch.tensor([[True] * 5 + [False] * 3])
        with_padding = model(padded).decoded.hidden
    torch.testing.assert_close(tail[:, :2], whole[:, :2])
    assert not torch.allclose(tail[:, 2:], whole[:, 2:])
    torch.testing.assert_close(prefix, whole[:, :2], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(with_padding, whole, rtol=1e-5, atol=1e-6)


def test_a_decoder_needs_a_domain_with_decoder_tokens(host, text_config) -> None:
    with pytest.raises(ConfigError, match="domain 'text' makes no decoder tokens"):
        build_model(text_config.replace(decoder_depth=1), host)
    with pytest.raises(ConfigError, match="decoder_depth must be a non-negative integer"):
        text_config.replace(decoder_depth=-1)
    assert "decoder_depth" not in text_config.to_dict() and text_config.replace(decoder_depth=2).to_dict()["decoder_depth"] == 2
