"""Pre-training objectives: masked patch reconstruction on a patch domain registered inline (targets from
the embedder's protocol, from its patch convolution's input, or its output vectors), and the choice
of masked tokens."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pytest
import torch
from safetensors.torch import load_file
from sciformer.checkpoint import load_checkpoint
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.domain import Domain, Tokenizer
from sciformer.engine.context import Embedded
from sciformer.errors import BadRecordError
from sciformer.records import ExampleRecords, Record
from sciformer.training.objectives import MASKED_PATCHES, build_training_model, choose_masked
from sciformer.training.trainer import Trainer, TrainingConfig
from torch import nn

PATCH = 4  # samples per patch


class SignalTokenizer(Tokenizer):
    """Records are 1-D float signals whose length is a multiple of PATCH."""

    def encode(self, record: Record) -> torch.Tensor:
        signal = torch.as_tensor(record.data, dtype=torch.float32)
        if signal.ndim != 1 or signal.numel() % PATCH:
            raise BadRecordError(record.id, f"a signal of a multiple of {PATCH} samples is needed")
        return signal

    def collate(self, encoded: Sequence[torch.Tensor], record_ids: Sequence[str]) -> TokenBatch:
        features = torch.stack(list(encoded))  # (B, L)
        mask = torch.ones(features.shape[0], features.shape[1] // PATCH, dtype=torch.bool)
        return TokenBatch(padding_mask=mask, record_ids=list(record_ids), features=features)

    def num_tokens(self, encoded: torch.Tensor) -> int:
        return encoded.numel() // PATCH


class PlainSignalEmbedder(nn.Module):
    """Linear patch embedding plus learned positions, without the token-target protocol."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.patch = nn.Linear(PATCH, config.dim)
        self.positions = nn.Parameter(torch.randn(config.max_positions, config.dim) * 0.02)

    def forward(self, batch: TokenBatch) -> Embedded:
        hidden = self.patch(batch.features.unflatten(1, (-1, PATCH))) + self.positions[: batch.padding_mask.shape[1]]  # (B, T, D)
        return Embedded(hidden, batch.padding_mask, batch.padding_mask, batch.positions)


class SignalEmbedder(PlainSignalEmbedder):
    """The same, offering its raw patches as reconstruction targets."""

    token_target_dim = PATCH

    def token_targets(self, batch: TokenBatch) -> torch.Tensor:
        """(B, L) -> (B, T, PATCH): the samples each token embeds."""
        return batch.features.unflatten(1, (-1, PATCH))


class ConvSignalEmbedder(nn.Module):
    """Patches through a strided Conv2d over the signal seen as a 1-row image, [CLS] first (the ViT layout)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, config.dim, kernel_size=(1, PATCH), stride=(1, PATCH))
        self.cls = nn.Parameter(torch.zeros(1, 1, config.dim))
        self.positions = nn.Parameter(torch.randn(config.max_positions + 1, config.dim) * 0.02)

    def forward(self, batch: TokenBatch) -> Embedded:
        patches = self.conv(batch.features[:, None, None, :]).flatten(2).transpose(1, 2)  # (B, T, D)
        hidden = torch.cat([self.cls.expand(patches.shape[0], -1, -1), patches], dim=1) + self.positions[: patches.shape[1] + 1]
        real = torch.ones(hidden.shape[:2], dtype=torch.bool)
        pool = real.clone()
        pool[:, 0] = False
        return Embedded(hidden, real, pool, torch.arange(hidden.shape[1]).expand_as(real))


class SignalDomain(Domain):
    """A patch domain for tests."""

    name = "signal"
    record_type = "16 float samples"
    summary = "test signals cut into patches"
    tasks = (MASKED_PATCHES,)
    default_config: ClassVar[Mapping[str, Any]] = {"dim": 16, "depth": 1, "heads": 2, "max_positions": 4}

    def tokenizer(self, config: ModelConfig) -> Tokenizer:
        return SignalTokenizer()

    def embedder(self, config: ModelConfig) -> nn.Module:
        return {"protocol": SignalEmbedder, "patches": ConvSignalEmbedder, "vectors": PlainSignalEmbedder}[config.option("targets")](config)

    def examples(self) -> ExampleRecords:
        return ExampleRecords(good=tuple(waves(2, seed=0)))


@pytest.fixture
def signal_host(register_domain):
    """The core host with the signal domain."""
    return register_domain("signal", SignalDomain)


def waves(count: int, seed: int, length: int = 16) -> list[Record]:
    """Sines of random phase and frequency: a masked patch follows from its neighbours."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(length, dtype=torch.float32)
    records = []
    for i in range(count):
        phase, frequency = float(torch.rand((), generator=generator)) * 2 * math.pi, 0.2 + 0.3 * float(torch.rand((), generator=generator))
        records.append(Record(f"wave-{i}", torch.sin(frequency * t + phase).tolist()))
    return records


def test_choose_masked_takes_the_ratio_of_candidates_only() -> None:
    candidates = torch.tensor([[True] * 10, [False, True, True, False, True, False, False, False, False, False], [False] * 10])
    chosen = choose_masked(candidates, 0.6)
    assert chosen.sum(dim=1).tolist() == [6, 2, 0] and not (chosen & ~candidates).any()
    assert choose_masked(torch.tensor([[True, True, True]]), 0.1).sum() == 1, "at least one token per record"


def test_masked_tokens_get_the_mask_vector(signal_host) -> None:
    config = ModelConfig(domain="signal", dim=16, depth=1, heads=2, max_positions=4, task=MASKED_PATCHES, domain_options={"targets": "protocol"})
    model = build_training_model(config, signal_host, mask_ratio=0.5)
    batch = SignalTokenizer()(waves(3, seed=1))
    torch.manual_seed(0)
    embedded = model.embedder(batch)  # the head's hook masks the embedder's output
    masked = model.head._masked
    assert masked.sum(dim=1).tolist() == [2, 2, 2]
    assert torch.equal(embedded.hidden[masked], model.head.mask_token.expand(6, -1))
    assert torch.equal(model.head._targets, batch.features.unflatten(1, (-1, PATCH)))


def test_conv_patch_targets_are_the_convolution_input(signal_host) -> None:
    """An embedder with one patch Conv2d: the targets are its input patches, [CLS] is never masked."""
    config = ModelConfig(domain="signal", dim=16, depth=1, heads=2, max_positions=4, task=MASKED_PATCHES, domain_options={"targets": "patches"})
    model = build_training_model(config, signal_host, mask_ratio=0.5)
    assert (model.head.target_source, model.head.target_dim) == ("patches", PATCH)
    batch = SignalTokenizer()(waves(3, seed=1))
    embedded = model.embedder(batch)
    masked = model.head._masked
    assert not masked[:, 0].any() and masked.sum(dim=1).tolist() == [2, 2, 2]
    assert torch.equal(model.head._targets[:, 1:], batch.features.unflatten(1, (-1, PATCH)))
    positions = model.embedder.positions[:5].expand(3, -1, -1)  # the mask vector replaces the patch, positions are still added
    assert torch.allclose(embedded.hidden[masked], (model.head.mask_token + positions[masked]))
    assert sorted(model.state_dict()) == sorted(set(model.state_dict())) and not any(k.startswith("head.") and "conv" in k for k in model.state_dict())


@pytest.mark.parametrize("targets", ["protocol", "patches", "vectors"])
def test_masked_patch_pretraining_learns_and_saves_the_encoder(signal_host, tmp_path, targets) -> None:
    """Signals of 8 patches, a quarter masked: with patch targets the masked patches are rebuilt far
    better than by predicting zeros (the signals' mean); the checkpoint is the encoder alone."""
    config = ModelConfig(domain="signal", dim=32, depth=2, heads=2, max_positions=9, task=MASKED_PATCHES, domain_options={"targets": targets})
    torch.manual_seed(0)
    model = build_training_model(config, signal_host, mask_ratio=0.25)
    assert model.head.target_source == targets and model.head.target_dim == (32 if targets == "vectors" else PATCH)
    training = TrainingConfig(max_steps=150, batch_size=16, lr=0.005, eval_every=50, mask_ratio=0.25, keep_state=True)
    trainer = Trainer(model, SignalTokenizer(), signal_host, training, tmp_path / "run")
    train, valid = waves(64, seed=3, length=32), waves(16, seed=2, length=32)
    first = trainer.evaluate(trainer.encode(valid, "valid"))["loss"]
    result = trainer.fit(train, valid)
    assert math.isfinite(result.valid["loss"])
    if targets != "vectors":
        zeros = float(torch.tensor([r.data for r in valid]).pow(2).mean())  # the error of predicting 0 everywhere
        assert result.valid["loss"] < min(0.5 * first, 0.7 * zeros), "reconstruction of masked patches must be learned"
    encoder = load_checkpoint(result.output, signal_host)
    assert encoder.config.task is None and encoder.head is None
    saved = load_file(str(result.output / "model.safetensors"))
    assert not any(name.startswith("head.") for name in saved)
    assert "head.mask_token" in load_file(str(result.output / "state/best.safetensors"))


def test_masking_never_inserts_special_tokens(host, text_config) -> None:
    """BERT masking: ~15% chosen, 80% <mask>, and random replacements drawn from ordinary tokens only."""
    import torch
    from sciformer.records import Record
    from sciformer.training.objectives import mask_tokens

    tokenizer = host.tokenizer(text_config)
    batch = tokenizer([Record(str(i), "the man ordered the chicken the woman ordered the beef") for i in range(400)])
    masked = mask_tokens(batch, tokenizer, 0.15, torch.Generator().manual_seed(0))
    chosen = masked.targets != -100
    assert 0.13 < float(chosen.float().mean()) < 0.17
    assert 0.77 < float((masked.ids[chosen] == tokenizer.mask_id).float().mean()) < 0.83
    changed = chosen & (masked.ids != tokenizer.mask_id) & (masked.ids != batch.ids)
    assert changed.any() and not torch.isin(masked.ids[changed], torch.tensor([*tokenizer.special_ids, tokenizer.mask_id])).any()


def test_masking_groups_mask_whole_spans(host, text_config) -> None:
    """A tokenizer's `masking_groups` masks spans together; the rate holds and 80/10/10 stays per token."""
    import torch
    from sciformer.builtin.text.vocabulary import WordTokenizer
    from sciformer.records import Record
    from sciformer.training.objectives import mask_tokens

    span = 3

    class SpanTokenizer(WordTokenizer):
        def masking_groups(self, batch):
            return batch.positions // span

    tokenizer = SpanTokenizer(text_config, text_config.option("vocab"))
    batch = tokenizer([Record(str(i), "the man ordered the chicken the woman ordered the beef") for i in range(400)])
    masked = mask_tokens(batch, tokenizer, 0.15, torch.Generator().manual_seed(0))
    chosen = masked.targets != -100
    spans = chosen[:, :9].reshape(len(chosen), 3, span)  # ten words: three whole spans, then one alone
    assert (spans.all(dim=2) | ~spans.any(dim=2)).all(), "a span is masked whole or not at all"
    assert 0.12 < float(chosen.float().mean()) < 0.18
    assert 0.75 < float((masked.ids[chosen] == tokenizer.mask_id).float().mean()) < 0.85
    partly = spans.all(dim=2) & ~(masked.ids[:, :9].reshape(len(chosen), 3, span) == tokenizer.mask_id).all(dim=2)
    assert partly.any(), "within a masked span, each token draws its own 80/10/10 replacement"
