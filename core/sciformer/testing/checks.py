"""Conformance checks of one domain, each a function that raises AssertionError with a reason."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from sciformer.build import build_model
from sciformer.checkpoint import load_checkpoint, save_checkpoint
from sciformer.config import ModelConfig, merge_settings
from sciformer.data.batch import TokenBatch
from sciformer.domain import Domain, Tokenizer
from sciformer.engine.bias import AttentionTerms
from sciformer.engine.context import LayerContext, Mixed
from sciformer.engine.model import SciformerModel
from sciformer.errors import BadRecordError
from sciformer.plugins import ENTRY_POINT_GROUP, PluginHost
from sciformer.records import ExampleRecords
from sciformer.scoring import score_chunk
from sciformer.scoring.scorer import scorer_for
from sciformer.training.objectives import mask_tokens


@dataclass
class Subject:
    """The domain under test: its host, examples, a small configuration, a model and its tokenizer."""

    host: PluginHost
    domain: str
    examples: ExampleRecords
    config: ModelConfig

    def model(self, seed: int = 0) -> SciformerModel:
        """A freshly built model of the test configuration."""
        torch.manual_seed(seed)
        return build_model(self.config, self.host)

    def tokenizer(self) -> Tokenizer:
        """The domain's tokenizer for the test configuration."""
        return self.host.tokenizer(self.config)

    def batch(self) -> TokenBatch:
        """All good examples as one padded batch, ready for the model's task."""
        batch = self.tokenizer()(list(self.examples.good))
        if self.config.task == "mlm":
            batch = mask_tokens(batch, self.tokenizer(), 0.3, torch.Generator().manual_seed(0))
        return batch


def make_subject(domain: str, host: PluginHost | None = None, settings: Mapping[str, Any] | None = None) -> Subject:
    """Collect what the harness needs from the plugin's domain alone; `settings` (model settings) go over
    the domain's defaults and the examples' configuration."""
    host = host or PluginHost()
    examples = host.examples(domain)
    assert len(examples.good) >= 2, f"domain {domain!r}: needs at least two good example records"
    config = ModelConfig.from_dict(merge_settings(host.domain(domain).default_config, examples.config, settings or {}, {"domain": domain}))
    config = host.prepare_config(config, list(examples.good))
    return Subject(host, domain, examples, config)


# -- declaration -------------------------------------------------------------------------------------


def check_hooks_match_specs(subject: Subject) -> None:
    """Every hook implementation of the plugin matches a specification."""
    subject.host.pm.check_pending()


def check_domain_declaration(subject: Subject) -> None:
    """The Domain is complete (a Domain object, every description filled) and its default configuration is valid."""
    domain = subject.host.domain(subject.domain).domain
    assert isinstance(domain, Domain), f"sciformer_domains must return Domain objects, got {type(domain).__name__}"
    for field_name in ("name", "record_type", "summary"):
        assert getattr(domain, field_name, "").strip(), f"{type(domain).__name__}.{field_name} is empty"
    assert domain.tasks, f"{type(domain).__name__}.tasks is empty"
    ModelConfig.from_dict({**domain.default_config, "domain": subject.domain})


def check_entry_point(subject: Subject) -> None:
    """An external plugin is installed under the `sciformer` entry-point group and loaded from it."""
    plugin = subject.host.domain_plugin(subject.domain)
    if plugin.builtin:
        return
    names = {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert plugin.name in names, f"plugin {plugin.name!r} has no entry point in group {ENTRY_POINT_GROUP!r}"


# -- tokenization ------------------------------------------------------------------------------------


def check_tokenization(subject: Subject) -> None:
    """Tokenization is deterministic and gives well-formed batches."""
    tokenizer = subject.tokenizer()
    good = list(subject.examples.good)
    first, second = tokenizer(good), tokenizer(good)
    _assert_batches_equal(first, second)
    count = len(good)
    mask = first.padding_mask
    assert mask.dtype == torch.bool and mask.dim() == 2 and mask.shape[0] == count, f"padding_mask must be bool (B, T), got {mask.dtype} {tuple(mask.shape)}"
    assert first.positions.shape == mask.shape and not first.positions.is_floating_point(), "positions must be integer (B, T)"
    assert first.ids is not None or first.features is not None, "a batch needs ids or features"
    if first.ids is not None:
        assert first.ids.dtype == torch.long and first.ids.shape == mask.shape, "ids must be long (B, T)"
    if first.features is not None:
        assert first.features.is_floating_point() and first.features.shape[0] == count, "features must be float with B first"
        assert torch.isfinite(first.features).all(), "features must be finite"
    for name, extra in first.extras.items():
        assert extra.shape[0] == count, f"extra {name!r} must have B first"
    assert first.record_ids == [r.id for r in good]
    assert all(tokenizer.num_tokens(tokenizer.encode(r)) >= 1 for r in good), "num_tokens must be positive"


def check_bad_examples(subject: Subject) -> None:
    """Each bad example raises BadRecordError naming the record."""
    tokenizer = subject.tokenizer()
    for record in subject.examples.bad:
        try:
            if record.error:
                raise BadRecordError(record.id, record.error)
            tokenizer.encode(record)
        except BadRecordError as error:
            assert error.record_id == record.id and record.id in str(error), f"error must name record {record.id!r}: {error}"
            assert error.reason.strip(), f"record {record.id!r}: empty reason"
        else:
            raise AssertionError(f"bad example {record.id!r} was accepted by the tokenizer")


# -- the model ---------------------------------------------------------------------------------------


def check_alone_equals_batch(subject: Subject) -> None:
    """A record scored alone equals the same record inside a padded batch."""
    model = subject.model().eval()
    tokenizer = subject.tokenizer()
    good = list(subject.examples.good)
    with torch.inference_mode():
        together = model(tokenizer(good))
        for row, record in enumerate(good):
            alone = model(tokenizer([record]))
            assert torch.allclose(alone.pooled[0], together.pooled[row], atol=1e-4, rtol=1e-4), f"record {record.id!r}: pooled output changes inside a batch"
            real = int(alone.padding_mask[0].sum())
            mine = together.padding_mask[row]
            assert torch.allclose(alone.hidden[0, :real], together.hidden[row][mine][:real], atol=1e-4, rtol=1e-4), f"record {record.id!r}: token outputs change inside a batch"


def check_biases_and_mixers(subject: Subject) -> None:
    """Attention biases are finite and broadcast to (B, H, T, T); token mixers keep shapes."""
    model = subject.model().eval()
    batch = subject.tokenizer()(list(subject.examples.good))
    seen: list[tuple[str, tuple[int, ...]]] = []

    def watch_bias(module: torch.nn.Module, args: tuple, output: AttentionTerms | None) -> None:
        ctx: LayerContext = args[0]
        if output is None:
            return
        size, length = ctx.padding_mask.shape
        target = (size, subject.config.heads, length, length)
        for name in ("logits", "mixture"):
            tensor = getattr(output, name)
            if tensor is None:
                continue
            assert torch.broadcast_shapes(tensor.shape, target) == target, f"{type(module).__name__}.{name} shape {tuple(tensor.shape)} does not broadcast to {target}"
            pairs = (ctx.padding_mask[:, None, :, None] & ctx.padding_mask[:, None, None, :]).expand(target)
            assert torch.isfinite(torch.broadcast_to(tensor, target)[pairs]).all(), f"{type(module).__name__}.{name} has non-finite values between real tokens"
            seen.append((name, tuple(tensor.shape)))

    def watch_mixer(module: torch.nn.Module, args: tuple, output: Mixed) -> None:
        name = type(module).__name__
        assert isinstance(output, Mixed), f"token mixer {name} must return Mixed(hidden, maps), got {type(output).__name__}"
        assert output.hidden.shape == args[0].shape, f"token mixer {name} changed shape {tuple(args[0].shape)} -> {tuple(output.hidden.shape)}"
        assert output.attention is None, f"token mixer {name} returned attention maps that were not asked for"

    hooks = [bias.register_forward_hook(watch_bias) for bias in model.biases]
    hooks += [block.mixer.register_forward_hook(watch_mixer) for block in model.blocks]
    try:
        with torch.inference_mode():
            output = model(batch)
    finally:
        for hook in hooks:
            hook.remove()
    assert torch.isfinite(output.hidden[output.padding_mask]).all(), "hidden states of real tokens must be finite"


def check_gradients(subject: Subject) -> None:
    """Gradients reach every trainable parameter."""
    model = subject.model().train()
    _disable_dropout(model)
    batch = subject.batch()
    assert model.head is not None, "the harness configuration needs a task (ExampleRecords.config['task'])"
    model.head.loss(model(batch).prediction, batch).backward()
    silent = [name for name, p in model.named_parameters() if p.requires_grad and (p.grad is None or not torch.any(p.grad != 0))]
    assert not silent, f"no gradient reaches: {silent}"


def check_training_lowers_loss(subject: Subject, steps: int = 20) -> None:
    """A short training run on the good examples lowers the loss."""
    model = subject.model().train()
    _disable_dropout(model)
    batch = subject.batch()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        loss = model.head.loss(model(batch).prediction, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(math.isfinite(x) for x in losses), f"non-finite loss: {losses}"
    assert losses[-1] < 0.9 * losses[0], f"loss did not fall: {losses[0]:.4f} -> {losses[-1]:.4f}"


def check_checkpoint_round_trip(subject: Subject) -> None:
    """Save and load give identical weights and identical outputs."""
    model = subject.model().eval()
    batch = subject.batch()
    with tempfile.TemporaryDirectory() as folder:
        save_checkpoint(model, folder, subject.host)
        loaded = load_checkpoint(folder, subject.host)
    assert loaded.config == model.config
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), f"tensor {name} changed in the round trip"
    with torch.inference_mode():
        assert torch.equal(model(batch).hidden, loaded(batch).hidden)


def check_hdf5_round_trip(subject: Subject) -> None:
    """Scoring results (the domain's scorer) written to HDF5 read back equal to the model's outputs, bad records marked."""
    from sciformer.data.results import ChunkStore

    model = subject.model().eval()
    records = list(subject.examples.good) + list(subject.examples.bad)
    columns, _ = score_chunk(model, subject.tokenizer(), records, batch_tokens=1 << 16, scorer=scorer_for(subject.host, model, {}))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.h5"
        store = ChunkStore(path)
        store.start({"domain": subject.domain})
        store.write(0, columns, {})
        store.join(1, {"domain": subject.domain})
        with h5py.File(path) as results:
            assert list(results["status"][:]) == [0] * len(subject.examples.good) + [1] * len(subject.examples.bad)
            assert np.array_equal(results["embedding"][:], columns["embedding"], equal_nan=True)
            assert list(results["record_id"].asstr()[:]) == [r.id for r in records]
    with torch.inference_mode():
        direct = model(subject.tokenizer()(list(subject.examples.good))).pooled.numpy()
    assert np.allclose(columns["embedding"][: len(direct)], direct, atol=1e-4, rtol=1e-4)


def check_precision_and_devices(subject: Subject) -> None:
    """bfloat16 autocast agrees with float32 (cosine of pooled outputs); CUDA agrees with CPU when present."""
    model = subject.model().eval()
    batch = subject.tokenizer()(list(subject.examples.good))
    with torch.inference_mode():
        reference = model(batch).pooled.float()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(batch).pooled.float()
    cosine = torch.nn.functional.cosine_similarity(reference, low, dim=-1)
    assert float(cosine.min()) > 0.98, f"bfloat16 pooled outputs disagree with float32 (cosine {cosine.tolist()})"
    if torch.cuda.is_available():
        with torch.inference_mode():
            on_gpu = model.to("cuda")(batch.to("cuda")).pooled.float().cpu()
        assert torch.allclose(on_gpu, reference, atol=1e-3, rtol=1e-3), "CUDA disagrees with CPU"


CHECKS: dict[str, Callable[[Subject], None]] = {
    "hooks-match-specs": check_hooks_match_specs,
    "domain-declaration": check_domain_declaration,
    "entry-point": check_entry_point,
    "tokenization": check_tokenization,
    "bad-examples": check_bad_examples,
    "alone-equals-batch": check_alone_equals_batch,
    "biases-and-mixers": check_biases_and_mixers,
    "gradients": check_gradients,
    "training-lowers-loss": check_training_lowers_loss,
    "checkpoint-round-trip": check_checkpoint_round_trip,
    "hdf5-round-trip": check_hdf5_round_trip,
    "precision-and-devices": check_precision_and_devices,
}


def run_all(domain: str, host: PluginHost | None = None) -> dict[str, str]:
    """Run every check; returns {check: "ok" or the failure message}."""
    subject = make_subject(domain, host)
    report = {}
    for name, check in CHECKS.items():
        try:
            check(subject)
            report[name] = "ok"
        except AssertionError as error:
            report[name] = str(error) or "failed"
    return report


def _assert_batches_equal(a: TokenBatch, b: TokenBatch) -> None:
    for name in ("padding_mask", "ids", "features", "positions", "targets"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None) and (x is None or torch.equal(x, y)), f"tokenization is not deterministic ({name})"
    assert a.extras.keys() == b.extras.keys() and all(torch.equal(a.extras[k], b.extras[k]) for k in a.extras), "extras are not deterministic"


def _disable_dropout(model: torch.nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0


