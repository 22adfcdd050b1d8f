"""The fused SDPA path equals the plain-softmax reference path, with every kind of mask and bias."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.engine import attention as attention_module
from sciformer.engine.attention import Attention
from sciformer.engine.bias import AttentionTerms
from sciformer.engine.context import Embedded, LayerContext, Mixed
from sciformer.engine.cpu_attention import MIN_LENGTH
from sciformer.engine.masking import resolve_attention
from sciformer.engine.positions import RotaryPositions


def run(attention: Attention, x: torch.Tensor, mask: torch.Tensor, causal: bool, terms: list[AttentionTerms], need_weights: bool) -> Mixed:
    """One attention call with the padding `mask`, causality and `terms` resolved as the model resolves them."""
    batch = TokenBatch(padding_mask=mask, record_ids=[str(i) for i in range(mask.shape[0])])
    ctx = LayerContext(batch=batch, embedded=Embedded(torch.zeros(0), mask, mask, batch.positions), layer=0, state={})
    return attention(x, ctx, resolve_attention(mask, causal, terms, need_weights))


CASES = {
    "no-mask": {"pad": False, "causal": False, "bias": False, "mixture": False},
    "padding": {"pad": True, "causal": False, "bias": False, "mixture": False},
    "causal": {"pad": False, "causal": True, "bias": False, "mixture": False},
    "causal-padding": {"pad": True, "causal": True, "bias": False, "mixture": False},
    "bias": {"pad": True, "causal": False, "bias": True, "mixture": False},
    "causal-bias": {"pad": True, "causal": True, "bias": True, "mixture": False},
    "mixture": {"pad": True, "causal": False, "bias": False, "mixture": True},
    "everything": {"pad": True, "causal": True, "bias": True, "mixture": True},
}


@pytest.mark.parametrize("form", ["dot", "cosine"])
@pytest.mark.parametrize("rotary", [False, True], ids=["absolute", "rotary"])
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_fused_equals_reference(case: dict, rotary: bool, form: str) -> None:
    torch.manual_seed(0)
    config = ModelConfig(domain="text", dim=32, heads=4, position="rotary" if rotary else "learned", attention_form=form)
    attention = Attention(config, RotaryPositions(config.head_dim) if rotary else None).eval()
    if form == "cosine":
        with torch.no_grad():
            attention.logit_scale.copy_(torch.tensor([0.5, 2.3, 4.0, 6.0]).view(4, 1, 1))  # 6 is beyond the clamp (log 100)
    x = torch.randn(3, 7, 32)
    mask = torch.ones(3, 7, dtype=torch.bool)
    if case["pad"]:
        mask[1, 5:] = False
        mask[2, 2:] = False
    terms = []
    if case["bias"]:
        terms.append(AttentionTerms(logits=torch.randn(3, 4, 7, 7)))
        terms.append(AttentionTerms(logits=torch.randn(1, 1, 7, 7)))  # a second plugin, broadcast
    if case["mixture"]:
        terms.append(AttentionTerms(mixture=0.3 * torch.rand(3, 1, 7, 7), attention_weight=0.5))
    fused = run(attention, x, mask, case["causal"], terms, need_weights=False)
    assert fused.attention is None
    reference, weights = run(attention, x, mask, case["causal"], terms, need_weights=True)
    fused = fused.hidden
    real = mask[:, :, None].expand_as(fused)
    assert torch.allclose(fused[real], reference[real], atol=1e-5), (fused - reference)[real].abs().max()
    assert weights.shape == (3, 4, 7, 7)
    rows = weights.transpose(1, 2)[mask]  # (real queries, H, T)
    if not case["mixture"]:
        assert torch.allclose(rows.sum(-1), torch.ones(1)), "softmax rows must sum to one"
    if case["pad"]:
        assert float(weights[1, :, :, 5:].abs().max()) == 0.0, "padded keys must get no weight"
    if case["causal"]:
        assert float(weights.triu(diagonal=1).abs().max()) == 0.0, "no weight on future tokens"


def test_mixture_matches_mat_formula() -> None:
    """out = lambda_a softmax(QK^T/sqrt(d)) V + (lambda_d D + lambda_g A) V, padded keys excluded."""
    torch.manual_seed(1)
    config = ModelConfig(domain="text", dim=16, heads=2)
    attention = Attention(config).eval()
    x = torch.randn(2, 5, 16)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    distance_term, adjacency = torch.rand(2, 1, 5, 5), torch.rand(2, 1, 5, 5)
    terms = [AttentionTerms(mixture=0.33 * distance_term + 0.33 * adjacency, attention_weight=0.33)]
    out = run(attention, x, mask, False, terms, need_weights=False).hidden
    q, k, v = attention.qkv(x).view(2, 5, 3, 2, 8).permute(2, 0, 3, 1, 4)
    scores = (q @ k.transpose(-2, -1)) / 8**0.5
    scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
    keys = mask[:, None, None, :].float()
    mixed = 0.33 * scores.softmax(-1) + (0.33 * distance_term + 0.33 * adjacency) * keys
    expected = attention.out((mixed @ v).transpose(1, 2).reshape(2, 5, 16))
    assert torch.allclose(out, expected, atol=1e-5)


def test_resolve_attention_keeps_fast_paths() -> None:
    full = torch.ones(2, 4, dtype=torch.bool)
    plain, causal = resolve_attention(full, False, []), resolve_attention(full, True, [])
    assert (plain.mask, plain.is_causal) == (None, False)
    assert (causal.mask, causal.is_causal) == (None, True)
    padded = full.clone()
    padded[0, 3] = False
    inputs = resolve_attention(padded, False, [])
    assert inputs.mask.dtype == torch.bool and inputs.mask.shape == (2, 1, 1, 4) and not inputs.is_causal
    inputs = resolve_attention(padded, True, [AttentionTerms(logits=torch.zeros(1, 1, 4, 4))])
    assert inputs.mask.is_floating_point() and torch.isinf(inputs.mask[0, 0, 3, 3]) and torch.isinf(inputs.mask[1, 0, 0, 1])


def test_one_additive_mask_for_every_path() -> None:
    """`additive` gives the same -inf pattern whether causality is folded into the mask or left to SDPA."""
    full = torch.ones(1, 4, dtype=torch.bool)
    left_to_sdpa = resolve_attention(full, True, []).additive(4, torch.float32, full.device)
    folded = resolve_attention(full, True, [AttentionTerms(logits=torch.zeros(1, 1, 4, 4))]).additive(4, torch.float32, full.device)
    assert torch.equal(torch.isinf(left_to_sdpa).expand(1, 1, 4, 4), torch.isinf(folded))
    assert torch.equal(torch.isinf(left_to_sdpa), ~torch.ones(4, 4, dtype=torch.bool).tril())


def test_cosine_form_matches_swin_v2_formula() -> None:
    """softmax(cos(q, k) * exp(min(logit_scale, log 100)) + bias) V, per head."""
    torch.manual_seed(4)
    config = ModelConfig(domain="text", dim=16, heads=2, attention_form="cosine")
    attention = Attention(config).eval()
    assert attention.logit_scale.shape == (2, 1, 1) and torch.allclose(attention.logit_scale, torch.tensor(10.0).log())
    with torch.no_grad():
        attention.logit_scale.copy_(torch.tensor([1.0, 5.0]).view(2, 1, 1))
    x, mask, bias = torch.randn(2, 5, 16), torch.ones(2, 5, dtype=torch.bool), torch.randn(1, 2, 5, 5)
    out = run(attention, x, mask, False, [AttentionTerms(logits=bias)], need_weights=False).hidden
    q, k, v = attention.qkv(x).view(2, 5, 3, 2, 8).permute(2, 0, 3, 1, 4)
    cosine = torch.nn.functional.normalize(q, dim=-1) @ torch.nn.functional.normalize(k, dim=-1).transpose(-2, -1)
    scores = cosine * torch.tensor([1.0, 5.0]).exp().clamp(max=100.0).view(2, 1, 1) + bias
    expected = attention.out((scores.softmax(-1) @ v).transpose(1, 2).reshape(2, 5, 16))
    assert torch.allclose(out, expected, atol=1e-5)


def bfloat16_attention(config: ModelConfig) -> Attention:
    """A random attention layer cast to bfloat16."""
    torch.manual_seed(2)
    return Attention(config).eval().to(torch.bfloat16)


@pytest.mark.parametrize("form", ["dot", "cosine"])
@pytest.mark.parametrize("length", [MIN_LENGTH - 1, MIN_LENGTH, 2 * MIN_LENGTH + 5], ids=["below", "at", "above"])
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_attention_layer_takes_grouped_path(
    case: dict, length: int, form: str, monkeypatch: pytest.MonkeyPatch, spy: Callable
) -> None:
    """bfloat16 inference from MIN_LENGTH tokens on goes through grouped_attention and matches SDPA's path."""
    calls = spy(attention_module, "grouped_attention")
    config = ModelConfig(domain="text", dim=32, heads=4, attention_form=form)
    attention = bfloat16_attention(config)
    torch.manual_seed(3)
    x = torch.randn(2, length, 32).to(torch.bfloat16)
    mask = torch.ones(2, length, dtype=torch.bool)
    if case["pad"]:
        mask[1, length // 3 :] = False
    terms = []
    if case["bias"]:
        terms.append(AttentionTerms(logits=torch.randn(2, 4, length, length)))
    if case["mixture"]:
        terms.append(AttentionTerms(mixture=0.3 * torch.rand(2, 1, length, length), attention_weight=0.5))
    with torch.inference_mode():
        got = run(attention, x, mask, case["causal"], terms, need_weights=False).hidden.float()
    assert len(calls) == (1 if length >= MIN_LENGTH else 0)
    with torch.inference_mode(), monkeypatch.context() as patch:
        patch.setattr(attention_module, "use_grouped_attention", lambda q, dropout: False)
        sdpa = run(attention, x, mask, case["causal"], terms, need_weights=False).hidden.float()
    real = mask[:, :, None].expand_as(got)
    assert torch.isfinite(got).all()
    assert torch.allclose(got[real], sdpa[real], atol=2e-2, rtol=2e-2), (got - sdpa)[real].abs().max()


def test_grouped_path_not_used_with_grad_or_maps(monkeypatch: pytest.MonkeyPatch, spy: Callable) -> None:
    """Autograd, attention maps and float32 keep their own paths."""
    calls = spy(attention_module, "grouped_attention")
    config = ModelConfig(domain="text", dim=32, heads=4)
    attention = bfloat16_attention(config)
    x = torch.randn(1, MIN_LENGTH, 32).to(torch.bfloat16)
    mask = torch.ones(1, MIN_LENGTH, dtype=torch.bool)
    run(attention, x, mask, False, [], need_weights=False).hidden.float().sum().backward()
    with torch.inference_mode():
        assert run(attention, x, mask, False, [], need_weights=True).attention is not None
        run(attention.float(), x.float(), mask, False, [], need_weights=False)
    assert calls == []
