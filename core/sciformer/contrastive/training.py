"""Contrastive recipes and their training loop (one process), and the contrastive checkpoint.

A recipe names two encoders (`left`, `right`: a domain, a checkpoint to start from or a new model,
and reader options), the projection width, the paired data and the optimisation (the trainer's
`training:` settings). The output folder holds `left/` and `right/` (ordinary sciformer checkpoints of
the encoders, usable for scoring), `contrastive.safetensors` (projections and logit scale),
`contrastive.json`, `metrics.jsonl` and `summary.json`.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, load_model, save_file

from sciformer.build import build_model
from sciformer.checkpoint import WEIGHTS, load_checkpoint, read_checkpoint_info, resolve_model, save_checkpoint
from sciformer.config import ModelConfig, merge_settings
from sciformer.contrastive.model import ContrastiveModel, info_nce
from sciformer.contrastive.pairs import Pairs, Side, read_pairs
from sciformer.contrastive.retrieval import DEFAULT_KS, embed_encoded, recall_at_k, zero_shot
from sciformer.data.budget import fixed_size_batches
from sciformer.domain import Tokenizer
from sciformer.engine.model import SciformerModel
from sciformer.errors import BadRecordError, CheckpointError, ConfigError
from sciformer.inference import bfloat16_autocast, inference_context
from sciformer.known_keys import refuse_unknown
from sciformer.plugins import PluginHost
from sciformer.reader_options import checkpoint_options
from sciformer.records import Record
from sciformer.training.metrics import MetricsLog
from sciformer.training.optimization import adamw, clip_norm, optimizer_step
from sciformer.training.recipe import load_matching, read_recipe_file, resolve_path, split_records
from sciformer.training.selection import evaluation_due, keep_if_best, patience_spent, selection_value
from sciformer.training.trainer import METRICS_FILE, SUMMARY_FILE, TrainingConfig, TrainResult

log = logging.getLogger(__name__)

SECTIONS = ("left", "right", "projection_dim", "recall_at", "data", "training", "output")
SIDE_KEYS = ("domain", "init", "model", "options")
UNSUPPORTED = {"accumulate": 1, "batch_tokens": None, "fsdp": False, "tensorboard": False}  # trainer settings this loop does not take
HEADS = "contrastive.safetensors"
META = "contrastive.json"
MAX_LABELS = 1000  # right-side captions kept in the checkpoint as zero-shot labels, when there are at most this many


@dataclass(frozen=True)
class EncoderSpec:
    """One side of a contrastive recipe."""

    domain: str
    init: str | None = None  # checkpoint folder or shipped model name to start from
    model: Mapping[str, Any] = field(default_factory=dict)  # ModelConfig settings (over the domain's or the checkpoint's)
    options: Mapping[str, Any] = field(default_factory=dict)  # reader options of this side

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any] | None, base: Path) -> EncoderSpec:
        """Validate a recipe's `left:` / `right:` section."""
        if not data or not data.get("domain"):
            raise ConfigError(f"contrastive recipe needs {name}.domain")
        refuse_unknown(f"{name} setting(s)", data, SIDE_KEYS)
        init = data.get("init")
        if init and (base / str(init)).is_dir():
            init = str(resolve_path(base, init))
        return cls(data["domain"], init, dict(data.get("model") or {}), dict(data.get("options") or {}))

    @property
    def side(self) -> Side:
        """Domain and reader options, as the pair readers take them."""
        return Side(self.domain, self.options)


@dataclass(frozen=True)
class ContrastiveRecipe:
    """A parsed contrastive recipe; paths are absolute."""

    left: EncoderSpec
    right: EncoderSpec
    projection_dim: int
    recall_at: tuple[int, ...]
    data: dict[str, Any]
    training: TrainingConfig
    output: Path
    raw: dict[str, Any]


def load_contrastive_recipe(path: str | Path, overrides: Sequence[str] = ()) -> ContrastiveRecipe:
    """Read a contrastive recipe, apply `key=value` overrides, resolve paths against its folder."""
    path = Path(path)
    raw = read_recipe_file(path, overrides)
    refuse_unknown("contrastive recipe section(s)", raw, SECTIONS)
    base = path.parent
    data = dict(raw.get("data") or {})
    for key in ("file", "left", "right", "pairs"):
        if data.get(key):
            data[key] = resolve_path(base, data[key])
    if not raw.get("output"):
        raise ConfigError("contrastive recipe needs output (the folder for the trained model)")
    training = TrainingConfig.from_dict(raw.get("training") or {})
    for name, default in UNSUPPORTED.items():
        if getattr(training, name) != default:
            raise ConfigError(f"training.{name} is not available for contrastive training (one process, fixed-size batches)")
    projection_dim = int(raw.get("projection_dim", 64))
    recall_at = tuple(int(k) for k in raw.get("recall_at", DEFAULT_KS))
    if projection_dim < 1 or not recall_at or min(recall_at) < 1:
        raise ConfigError(f"projection_dim and recall_at must be positive, got {projection_dim} and {list(recall_at)}")
    return ContrastiveRecipe(
        EncoderSpec.from_dict("left", raw.get("left"), base), EncoderSpec.from_dict("right", raw.get("right"), base),
        projection_dim, recall_at, data, training, resolve_path(base, raw["output"]), dict(raw),
    )


def build_encoder(spec: EncoderSpec, host: PluginHost, records: Sequence[Record]) -> SciformerModel:
    """An encoder (task None): new, with settings learned from its training records, or from `init`."""
    if spec.init:
        init_dir = resolve_model(spec.init, host)
        base = read_checkpoint_info(init_dir).config.to_dict()
        if base["domain"] != spec.domain:
            raise ConfigError(f"init {spec.init!r} is a {base['domain']!r} model, but this side's domain is {spec.domain!r}")
    else:
        init_dir, base = None, {**host.domain(spec.domain).default_config, "domain": spec.domain}
    encoder = {"domain": spec.domain, "task": None, "num_labels": 0, "labels": ()}
    config = ModelConfig.from_dict(merge_settings(base, spec.model, encoder))
    config = host.prepare_config(config, records)
    model = build_model(config, host)
    if init_dir is not None:
        load_matching(model, init_dir / WEIGHTS)
    return model


@dataclass
class EncodedPairs:
    """Pairs with both sides tokenized; `keys` index each row's right item (equal captions share one)."""

    left: list[tuple[str, Any]]
    right: list[tuple[str, Any]]
    left_keys: list[str]
    right_keys: list[str]

    def __len__(self) -> int:
        return len(self.left)


class ContrastiveTrainer:
    """AdamW with warmup + cosine over InfoNCE; evaluates retrieval, keeps the best model in `output`."""

    def __init__(
        self, model: ContrastiveModel, tokenizers: tuple[Tokenizer, Tokenizer], host: PluginHost, config: TrainingConfig, output: Path,
        ks: Sequence[int] = DEFAULT_KS, meta: dict[str, Any] | None = None,
    ) -> None:
        self.device = torch.device(config.device)
        self.model = model.to(self.device)
        self.tokenizers = dict(zip(("left", "right"), tokenizers))
        self.host = host
        self.config = config
        self.output = Path(output)
        self.ks = tuple(ks)
        self.meta = meta or {}
        self.metrics = MetricsLog(self.output / METRICS_FILE)
        self.optimizer = adamw(model, config)

    def encode(self, pairs: Pairs, split: str) -> EncodedPairs:
        """Tokenize both sides once per distinct item; a pair with a bad record on either side is left out."""
        cache: dict[tuple[str, str], Any] = {}
        bad: list[str] = []
        out = EncodedPairs([], [], [], [])
        for left, right, left_key, right_key in zip(pairs.left, pairs.right, pairs.keys("left"), pairs.keys("right")):
            try:
                encoded = [self._encode_once(cache, side, key, record) for side, key, record in (("left", left_key, left), ("right", right_key, right))]
            except BadRecordError as error:
                bad.append(str(error))
                continue
            out.left.append((left.id, encoded[0]))
            out.right.append((right.id, encoded[1]))
            out.left_keys.append(left_key)
            out.right_keys.append(right_key)
        if bad:
            log.warning("%s: %d pair(s) with a bad record left out, e.g. %s", split, len(bad), "; ".join(bad[:3]))
        return out

    def _encode_once(self, cache: dict[tuple[str, str], Any], side: str, key: str, record: Record) -> Any:
        if (side, key) not in cache:
            cache[(side, key)] = self.tokenizers[side].encode(record)
        return cache[(side, key)]

    def _batches(self, pairs: EncodedPairs, rows: Sequence[int]) -> tuple[Any, Any, torch.Tensor]:
        """Left batch, right batch and the rows' right-item keys as integers, on the device."""
        left = self.tokenizers["left"].collate([pairs.left[i][1] for i in rows], [pairs.left[i][0] for i in rows]).to(self.device)
        right = self.tokenizers["right"].collate([pairs.right[i][1] for i in rows], [pairs.right[i][0] for i in rows]).to(self.device)
        index: dict[str, int] = {}
        keys = torch.tensor([index.setdefault(pairs.right_keys[i], len(index)) for i in rows], device=self.device)
        return left, right, keys

    def temperature(self) -> float:
        """The current softmax temperature, 1 / scale."""
        return float(1.0 / self.model.scale().detach())

    def evaluate(self, pairs: EncodedPairs) -> dict[str, float]:
        """Mean InfoNCE over batches and recall@k both ways (with the random baselines)."""
        if not len(pairs):
            return {}
        self.model.eval()
        losses = []
        with inference_context(self.device, self.config.dtype):
            for rows in fixed_size_batches(len(pairs), self.config.batch_size):
                left, right, keys = self._batches(pairs, rows)
                losses.append(float(info_nce(self.model(left, right), keys)))
            vectors = {side: embed_encoded(self.model, side, self.tokenizers[side], getattr(pairs, side), self.config.batch_size, self.device) for side in ("left", "right")}
        self.model.train()
        metrics = {"loss": sum(losses) / len(losses), "temperature": self.temperature()}
        metrics.update(recall_at_k(vectors["left"], pairs.left_keys, vectors["right"], pairs.right_keys, "left_to_right", self.ks).as_metrics())
        metrics.update(recall_at_k(vectors["right"], pairs.right_keys, vectors["left"], pairs.left_keys, "right_to_left", self.ks).as_metrics())
        return metrics

    def zero_shot_accuracy(self, pairs: EncodedPairs, labels: Sequence[str], prior: str | None) -> dict[str, float]:
        """Share of rows whose nearest label embedding is their own right item, beside the majority
        (training's most frequent label) and uniform-guess baselines."""
        known = [i for i, key in enumerate(pairs.right_keys) if key in labels]
        if not known or not labels:
            return {}
        label_encoded = [(f"label-{i}", self.tokenizers["right"].encode(Record(f"label-{i}", text))) for i, text in enumerate(labels)]
        with bfloat16_autocast(self.device, self.config.dtype):
            label_vectors = embed_encoded(self.model, "right", self.tokenizers["right"], label_encoded, self.config.batch_size, self.device)
            record_vectors = embed_encoded(self.model, "left", self.tokenizers["left"], [pairs.left[i] for i in known], self.config.batch_size, self.device)
        predicted = zero_shot(record_vectors, label_vectors)
        truth = [labels.index(pairs.right_keys[i]) for i in known]
        out = {"zero_shot_accuracy": sum(p == t for p, t in zip(predicted, truth)) / len(known), "zero_shot_uniform": 1.0 / len(labels)}
        if prior is not None:
            out["zero_shot_majority"] = sum(pairs.right_keys[i] == prior for i in known) / len(known)
        return out

    def fit(self, train: Pairs, valid: Pairs, test: Pairs) -> TrainResult:
        """Train on `train`, select on `valid` by `training.metric`, score the best model on `test`."""
        cfg = self.config
        started = time.perf_counter()
        train_enc, valid_enc, test_enc = self.encode(train, "train"), self.encode(valid, "valid"), self.encode(test, "test")
        if len(train_enc) < 2:
            raise ConfigError("contrastive training needs at least two usable training pairs")
        labels = sorted(set(train_enc.right_keys)) if all(not k.startswith("id:") for k in train_enc.right_keys) and len(set(train_enc.right_keys)) <= MAX_LABELS else []
        prior = max(labels, key=train_enc.right_keys.count) if labels else None
        self.meta.update(labels=labels)
        steps_per_epoch = math.ceil(len(train_enc) / cfg.batch_size)
        total_steps = cfg.max_steps or cfg.epochs * steps_per_epoch
        self.output.mkdir(parents=True, exist_ok=True)
        (self.output / METRICS_FILE).unlink(missing_ok=True)
        progress = {"step": 0, "best": None, "best_step": 0, "best_metrics": {}, "stale": 0}
        stop, epoch = False, 0
        self.model.train()
        while not stop:
            plan = fixed_size_batches(len(train_enc), cfg.batch_size, generator=torch.Generator().manual_seed(cfg.seed * 100_003 + epoch))
            for position, rows in enumerate(plan):
                if len(rows) < 2:
                    continue  # one pair has no negatives
                torch.manual_seed((cfg.seed * 1_000_003 + epoch) * 100_003 + position)
                left, right, keys = self._batches(train_enc, rows)
                with bfloat16_autocast(self.device, cfg.dtype):
                    logits = self.model(left, right)
                loss = info_nce(logits, keys)
                loss.backward()
                lr, grad_norm = optimizer_step(self.optimizer, partial(clip_norm, self.model), cfg, progress["step"], total_steps)
                progress["step"] += 1
                row = {"split": "train", "step": progress["step"], "epoch": epoch, "loss": loss.item(), "lr": lr, "grad_norm": grad_norm}
                self.metrics.write({**row, "temperature": self.temperature()})
                at_end = progress["step"] >= total_steps
                epoch_end = position == len(plan) - 1
                if evaluation_due(cfg.eval_every, progress["step"], at_end, epoch_end):
                    stop = self._checkpoint(valid_enc, progress, epoch) or at_end
                if stop:
                    break
            epoch += 1
        load_into(self.model, self.output, self.device)
        test_metrics = self.evaluate(test_enc)
        test_metrics.update(self.zero_shot_accuracy(test_enc, labels, prior))
        if test_metrics:
            self.metrics.write({"split": "test", "step": progress["best_step"], **test_metrics})
        summary = {"steps": progress["step"], "best_step": progress["best_step"], "valid": progress["best_metrics"], "test": test_metrics,
                   "pairs": {"train": len(train_enc), "valid": len(valid_enc), "test": len(test_enc)}, "seconds": round(time.perf_counter() - started, 2)}
        (self.output / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
        self.model.eval()
        return TrainResult(self.output, progress["step"], progress["best_step"], progress["best_metrics"], test_metrics)

    def _checkpoint(self, valid_enc: EncodedPairs, progress: dict[str, Any], epoch: int) -> bool:
        """Evaluate; save when the selection metric improved; True when early stopping says stop."""
        metrics = self.evaluate(valid_enc)
        if metrics:
            self.metrics.write({"split": "valid", "step": progress["step"], "epoch": epoch, **metrics})
        if keep_if_best(progress, selection_value(metrics, self.config.metric), metrics, self.config.mode):
            save_contrastive(self.model, self.output, self.host, self.meta)
        return patience_spent(progress, self.config.patience)


def save_contrastive(model: ContrastiveModel, directory: Path, host: PluginHost, meta: Mapping[str, Any]) -> Path:
    """Write the encoders as checkpoints in `left/` and `right/`, the projections and `contrastive.json`."""
    for side in ("left", "right"):
        options = meta.get(f"{side}_options", {})
        encoder = model.encoder(side)
        save_checkpoint(encoder, directory / side, host, extra=checkpoint_options(host, encoder.config.domain, options))
    heads = {"left_projection.weight": model.left_projection.weight, "right_projection.weight": model.right_projection.weight, "logit_scale": model.logit_scale}
    save_file({k: v.detach().float().cpu().contiguous() for k, v in heads.items()}, str(directory / HEADS))
    (directory / META).write_text(json.dumps({"format_version": 1, "projection_dim": model.left_projection.out_features, **meta}, indent=2) + "\n")
    return directory


def load_into(model: ContrastiveModel, directory: Path, device: torch.device) -> None:
    """Load a saved contrastive model's weights into a model of the same shape."""
    for side in ("left", "right"):
        load_model(model.encoder(side), str(directory / side / WEIGHTS), device=str(device))
    heads = load_file(str(directory / HEADS), device=str(device))
    with torch.no_grad():
        model.left_projection.weight.copy_(heads["left_projection.weight"])
        model.right_projection.weight.copy_(heads["right_projection.weight"])
        model.logit_scale.copy_(heads["logit_scale"])


def load_contrastive(directory: str | Path, host: PluginHost, device: str = "cpu") -> tuple[ContrastiveModel, dict[str, Any]]:
    """A trained contrastive model and its `contrastive.json`."""
    directory = Path(directory)
    if not (directory / META).is_file() or not (directory / HEADS).is_file():
        raise CheckpointError(f"{directory} is not a contrastive model: it needs {META}, {HEADS}, left/ and right/")
    meta = json.loads((directory / META).read_text())
    model = ContrastiveModel(load_checkpoint(directory / "left", host, device), load_checkpoint(directory / "right", host, device), int(meta["projection_dim"]))
    load_into(model, directory, torch.device(device))
    return model.to(device).eval(), meta


def split_pairs(pairs: Pairs, split: Mapping[str, Any], seed: int) -> dict[str, Pairs]:
    """Train / valid / test pairs by the `split` fractions, seeded (the same rows a single-domain
    recipe with the same fractions and seed would hold out)."""
    fractions = {part: float(split.get(part, 0.0)) for part in ("valid", "test")}
    rows = split_records([Record(str(i), i) for i in range(len(pairs))], fractions, int(split.get("seed", seed)))
    return {part: pairs.subset([r.data for r in records]) for part, records in rows.items()}


def train_contrastive(path: str | Path, host: PluginHost, overrides: Sequence[str] = ()) -> TrainResult:
    """Run a contrastive recipe end to end: read pairs, split, build both encoders, train, test."""
    recipe = load_contrastive_recipe(path, overrides)
    pairs = read_pairs({k: v for k, v in recipe.data.items() if k != "split"}, recipe.left.side, recipe.right.side, host)
    parts = split_pairs(pairs, recipe.data.get("split") or {}, recipe.training.seed)
    torch.manual_seed(recipe.training.seed)
    left = build_encoder(recipe.left, host, parts["train"].left)
    right = build_encoder(recipe.right, host, parts["train"].right)
    model = ContrastiveModel(left, right, recipe.projection_dim)
    meta = {"left_options": dict(recipe.left.options), "right_options": dict(recipe.right.options), "recall_at": list(recipe.recall_at), "recipe": recipe.raw}
    trainer = ContrastiveTrainer(model, (host.tokenizer(left.config), host.tokenizer(right.config)), host, recipe.training, recipe.output, recipe.recall_at, meta)
    return trainer.fit(parts["train"], parts["valid"], parts["test"])
