"""The engine end to end: padding invariance, positions, norms, heads, bfloat16, biases from plugins."""

from __future__ import annotations

import pytest
import sciformer
import torch
from sciformer.build import build_model
from sciformer.config import ModelConfig
from sciformer.engine.bias import AttentionBias, AttentionTerms
from sciformer.engine.context import LayerContext
from sciformer.records import Record

SENTENCES = ["the man ordered the chicken", "the woman ordered", "beef", "the man ordered the beef the woman ordered the chicken"]
VARIANTS = {
    "learned-pre": {},
    "sinusoidal-post": {"position": "sinusoidal", "norm": "post"},
    "rotary-causal": {"position": "rotary", "causal": True},
    "none-relu": {"position": "none", "activation": "relu"},
    "cosine-res-post": {"attention_form": "cosine", "norm": "res-post"},
}


@pytest.mark.parametrize("changes", VARIANTS.values(), ids=VARIANTS.keys())
@pytest.mark.parametrize("task", [None, "clm", "mlm"])
def test_record_alone_equals_record_in_padded_batch(host, text_config, changes, task) -> None:
    torch.manual_seed(0)
    config = text_config.replace(task=task, **changes)
    model = build_model(config, host).eval()
    tokenizer = host.tokenizer(config)
    records = [Record(str(i), s) for i, s in enumerate(SENTENCES)]
    with torch.inference_mode():
        together = model(tokenizer(records), output_hidden_states=True)
        for row, record in enumerate(records):
            alone = model(tokenizer([record]), output_hidden_states=True)
            length = alone.hidden.shape[1]
            assert torch.allclose(alone.hidden[0], together.hidden[row, :length], atol=1e-5)
            assert torch.allclose(alone.pooled[0], together.pooled[row], atol=1e-5)
            if task:
                assert torch.allclose(alone.prediction[0], together.prediction[row, :length], atol=1e-4)
    assert len(together.hidden_states) == config.depth + 1


def test_bfloat16_autocast_agrees_with_float32(host, text_config) -> None:
    torch.manual_seed(0)
    config = text_config.replace(task="sequence-classification", num_labels=3, dim=64, heads=4)
    model = build_model(config, host).eval()
    batch = host.tokenizer(config)([Record(str(i), s) for i, s in enumerate(SENTENCES)])
    with torch.inference_mode():
        reference = model(batch)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(batch)
    assert low.hidden.dtype in (torch.bfloat16, torch.float32)
    cosine = torch.nn.functional.cosine_similarity(reference.pooled, low.pooled.float(), dim=-1)
    assert float(cosine.min()) > 0.99
    assert torch.allclose(reference.prediction, low.prediction.float(), atol=0.1)


class DistanceBias(AttentionBias):
    """A bias from a test plugin: penalises distance, with a per-layer counter in ctx.state."""

    def __init__(self, slope: float) -> None:
        super().__init__()
        self.slope = torch.nn.Parameter(torch.tensor(slope))

    def forward(self, ctx: LayerContext) -> AttentionTerms:
        ctx.state["calls"] = ctx.state.get("calls", 0) + 1
        positions = ctx.embedded.positions.float()
        distance = (positions[:, None, :, None] - positions[:, None, None, :]).abs()  # (B, 1, T, T)
        return AttentionTerms(logits=-self.slope * distance * (ctx.layer + 1))


class BiasPlugin:
    """Contributes DistanceBias to the text domain, as a third-party plugin would."""

    @sciformer.hookimpl
    def sciformer_attention_biases(self, config: ModelConfig) -> list[AttentionBias] | None:
        """One DistanceBias for text models."""
        return [DistanceBias(0.5)] if config.domain == "text" else None


def test_plugin_bias_changes_attention_and_is_saved(host, text_config) -> None:
    torch.manual_seed(0)
    plain = build_model(text_config, host).eval()
    host.register(BiasPlugin(), "distance-bias")
    try:
        biased = build_model(text_config, host).eval()
    finally:
        host.unregister("distance-bias")
    biased.load_state_dict(plain.state_dict(), strict=False)
    assert "biases.0.slope" in biased.state_dict()
    batch = host.tokenizer(text_config)([Record("a", SENTENCES[0])])
    with torch.inference_mode():
        out_plain = plain(batch, need_weights=True)
        out_biased = biased(batch, need_weights=True)
        fused = biased(batch)
    assert torch.allclose(fused.hidden, out_biased.hidden, atol=1e-5)
    near = lambda maps: float(torch.diagonal(maps[-1][0].mean(0)).mean())
    assert near(out_biased.attentions) > near(out_plain.attentions)


def test_gradients_reach_every_parameter(host, text_config) -> None:
    config = text_config.replace(task="mlm")
    model = build_model(config, host)
    batch = host.tokenizer(config)([Record(str(i), s) for i, s in enumerate(SENTENCES)])
    batch.targets = batch.ids.masked_fill(~batch.padding_mask, -100)
    loss = model.head.loss(model(batch).prediction, batch)
    loss.backward()
    silent = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert silent == []
