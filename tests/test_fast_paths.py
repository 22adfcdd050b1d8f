"""The CPU inference fast paths equal the plain ones: grouped bfloat16 attention and the fused fc1 + GELU."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from sciformer.config import ModelConfig
from sciformer.engine import blocks as blocks_module
from sciformer.engine import cpu_attention
from sciformer.engine.blocks import MLP
from sciformer.engine.cpu_attention import MIN_LENGTH, grouped_attention
from sciformer.engine.fused_linear import fused_linear_available
from sciformer.engine.masking import AttentionInputs

BATCH, HEADS, HEAD_DIM = 3, 3, 8


def qkv(length: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """q, k, v (B, H, T, Dh) as strided views of one projection, as the attention makes them."""
    torch.manual_seed(0)
    packed = torch.randn(BATCH, length, 3, HEADS, HEAD_DIM).to(dtype)
    return tuple(packed.permute(2, 0, 3, 1, 4))


def masks(length: int) -> dict[str, tuple[torch.Tensor | None, bool]]:
    """Every mask shape the engine folds, with whether it is causal."""
    torch.manual_seed(1)
    padding = torch.ones(BATCH, length, dtype=torch.bool)
    padding[1, length // 2 :] = False
    keys = padding[:, None, None, :]  # (B, 1, 1, T)
    lower = torch.ones(length, length, dtype=torch.bool).tril()
    per_head = torch.randn(BATCH, HEADS, length, length).masked_fill(~keys, float("-inf"))
    fully_masked = keys & lower  # (B, 1, T, T)
    fully_masked[0, :, 3] = False  # a query row with every key masked
    return {
        "none": (None, False),
        "padding-bool": (keys, False),
        "causal": (None, True),
        "causal-padding-bool": (keys & lower, False),
        "square-bool": (lower, False),
        "float-per-head": (per_head, False),
        "float-shared": (torch.randn(1, 1, length, length), True),
        "fully-masked-row": (fully_masked, False),
    }


@pytest.mark.parametrize("name", list(masks(8)))
@pytest.mark.parametrize("group_bytes", [1, 2 * 8 * 8 * 4, 1 << 30], ids=["one-head", "two-heads", "all-heads"])
def test_grouped_equals_sdpa_float32(name: str, group_bytes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exact up to float32 rounding, whatever the head grouping (3 heads in groups of 1, 2 + 1, 3)."""
    monkeypatch.setattr(cpu_attention, "SCORE_BYTES", group_bytes)
    q, k, v = qkv(8, torch.float32)
    mask, causal = masks(8)[name]
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
    got = grouped_attention(q, k, v, AttentionInputs(mask, causal).additive(q.shape[-2], q.dtype, q.device))
    assert torch.isfinite(got).all()
    assert torch.allclose(got, expected, atol=1e-5), (got - expected).abs().max()


@pytest.mark.parametrize("name", list(masks(8)))
def test_grouped_bfloat16_as_close_as_sdpa(name: str) -> None:
    """In bfloat16, within a few bfloat16 steps of the float32 result, as SDPA's own bfloat16 kernel.

    The explicit path rounds the scores and probabilities to bfloat16 (SDPA keeps them in float32), so
    its error is 2-4x SDPA's: 0.018 against 0.008 at most here, on outputs of magnitude about 1.
    """
    length = MIN_LENGTH
    q, k, v = qkv(length, torch.bfloat16)
    mask, causal = masks(length)[name]
    truth = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=mask, is_causal=causal)
    if mask is not None and mask.is_floating_point():
        mask = mask.to(torch.bfloat16)
    with torch.inference_mode():
        sdpa = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal).float()
        got = grouped_attention(q, k, v, AttentionInputs(mask, causal).additive(q.shape[-2], q.dtype, q.device)).float()
    sdpa_error, error = (sdpa - truth).abs().max(), (got - truth).abs().max()
    assert sdpa_error < 1e-2 and error < 3e-2, (error, sdpa_error)


@pytest.mark.parametrize("activation", ["gelu", "gelu_tanh"])
def test_fused_mlp_equals_plain(activation: str, monkeypatch: pytest.MonkeyPatch, spy: Callable) -> None:
    """float32: the one-call fc1 + GELU gives the plain MLP's output; autograd keeps the plain path."""
    calls = spy(blocks_module, "linear_gelu")
    torch.manual_seed(4)
    mlp = MLP(ModelConfig(domain="text", dim=32, heads=4, activation=activation)).eval()
    x = torch.randn(3, 5, 32)
    plain = mlp(x)  # grad enabled: the plain path
    assert calls == []
    with torch.inference_mode():
        fused = mlp(x)
    assert len(calls) == 1
    assert torch.allclose(fused, plain, atol=1e-5), (fused - plain).abs().max()
    other = mlp.fc2(F.gelu(mlp.fc1(x), approximate="none" if activation == "gelu_tanh" else "tanh"))
    assert not torch.allclose(fused, other, atol=1e-7), "the fused op must use the configured approximation"


@pytest.mark.parametrize("activation", ["gelu", "gelu_tanh"])
def test_fused_mlp_bfloat16(activation: str, monkeypatch: pytest.MonkeyPatch, spy: Callable) -> None:
    """bfloat16 weights and 3-D input, also under autocast: fused, within bfloat16 rounding of the plain path."""
    calls = spy(blocks_module, "linear_gelu")
    torch.manual_seed(5)
    mlp = MLP(ModelConfig(domain="text", dim=32, heads=4, activation=activation)).eval().to(torch.bfloat16)
    x = torch.randn(2, 7, 32).to(torch.bfloat16)
    with torch.no_grad():
        plain = mlp.fc2(mlp.activation(mlp.fc1(x))).float()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        fused = mlp(x)
    assert len(calls) == 1 and fused.dtype == torch.bfloat16
    assert torch.allclose(fused.float(), plain, atol=3e-2, rtol=2e-2), (fused.float() - plain).abs().max()


def test_fused_mlp_skipped_for_relu_and_float32_autocast(monkeypatch: pytest.MonkeyPatch, spy: Callable) -> None:
    """ReLU has no fused form here; float32 weights under bfloat16 autocast are left to autocast."""
    calls = spy(blocks_module, "linear_gelu")
    with torch.inference_mode():
        MLP(ModelConfig(domain="text", dim=16, heads=2, activation="relu"))(torch.randn(2, 16))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = MLP(ModelConfig(domain="text", dim=16, heads=2))(torch.randn(2, 16))
    assert calls == [] and out.dtype == torch.bfloat16


def test_fused_mlp_falls_back_when_the_op_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing private op gives the plain path's output, not an error."""
    torch.manual_seed(6)
    mlp = MLP(ModelConfig(domain="text", dim=16, heads=2)).eval()
    x = torch.randn(4, 16)
    expected = mlp(x)

    def broken(*args, **kwargs):
        raise RuntimeError("no oneDNN kernel")

    monkeypatch.setattr(torch.ops.mkldnn, "_linear_pointwise", broken)
    with torch.inference_mode():
        assert torch.allclose(mlp(x), expected)


def test_probe_is_not_fooled_by_autocast() -> None:
    """The one-time availability probe gives the same answer when it first runs under bfloat16 autocast."""
    fused_linear_available.cache_clear()
    try:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            assert fused_linear_available()
    finally:
        fused_linear_available.cache_clear()
