"""ALiBi composes with the text domain through the bias hook alone."""

from __future__ import annotations

import torch
from sciformer.build import build_model
from sciformer.config import ModelConfig
from sciformer.plugins import PluginHost
from sciformer.records import Record
from sciformer_alibi.alibi import AlibiBias, alibi_slopes

WORDS = ["a", "b", "c", "d"]


def config(alibi: bool) -> ModelConfig:
    return ModelConfig(domain="text", dim=32, depth=2, heads=4, position="none", domain_options={"vocab": WORDS, "alibi": alibi})


def test_slopes_follow_the_paper() -> None:
    assert torch.allclose(alibi_slopes(8), torch.tensor([2.0 ** -(i + 1) for i in range(8)]))
    assert torch.allclose(alibi_slopes(4), torch.tensor([0.25, 0.0625, 0.015625, 0.00390625]))
    assert len(alibi_slopes(12)) == 12 and alibi_slopes(12)[8] == 2 ** -0.5


def test_opt_in_and_composition_with_text() -> None:
    host = PluginHost()
    assert not build_model(config(False), host).biases
    model = build_model(config(True), host).eval()
    assert [type(b) for b in model.biases] == [AlibiBias]
    tokenizer = host.tokenizer(model.config)
    records = [Record("1", "a b c d a b c d a b c d"), Record("2", "d c b")]
    with torch.inference_mode():
        fused = model(tokenizer(records))
        reference = model(tokenizer(records), need_weights=True)
        alone = model(tokenizer(records[1:]))
    assert torch.allclose(fused.hidden, reference.hidden, atol=1e-5)
    assert torch.allclose(alone.hidden[0], fused.hidden[1, :3], atol=1e-5)
    # The steepest head attends mostly to nearby tokens: weight falls with distance from the diagonal.
    steep = reference.attentions[0][0, 0]  # (T, T), first record, head 0 (slope 1/4)
    near = torch.diagonal(steep, offset=1).mean()
    far = torch.diagonal(steep, offset=8).mean()
    assert near > 3 * far
