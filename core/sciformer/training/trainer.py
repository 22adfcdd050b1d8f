"""The single-process trainer: AdamW, warmup + cosine, clipping, accumulation, bfloat16, early stopping,
JSONL metrics and exact resume."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from safetensors.torch import load_model, save_model

from sciformer.checkpoint import save_checkpoint
from sciformer.data.batch import TokenBatch
from sciformer.data.budget import fixed_size_batches, token_budget_batches
from sciformer.domain import Tokenizer, VocabularyTokenizer
from sciformer.engine.model import SciformerModel
from sciformer.errors import BadRecordError, ConfigError
from sciformer.plugins import PluginHost
from sciformer.records import Record
from sciformer.training.objectives import mask_tokens
from sciformer.training.schedule import warmup_cosine
from sciformer.training.state import load_training_state, save_training_state

log = logging.getLogger(__name__)

STATE_DIR = "state"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class TrainingConfig:
    """Optimisation settings of one run (the `training:` section of a recipe)."""

    epochs: int = 10
    max_steps: int | None = None  # optimizer steps; overrides epochs when set
    batch_size: int = 32  # records per micro-batch, unless batch_tokens is set
    batch_tokens: int | None = None  # token budget per micro-batch (length-bucketed)
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 0
    grad_clip: float | None = 1.0
    accumulate: int = 1  # micro-batches per optimizer step
    dtype: str = "float32"  # "bfloat16" runs the forward pass under autocast
    eval_every: int | None = None  # optimizer steps between evaluations; None = once per epoch
    patience: int | None = None  # evaluations without improvement before stopping early
    metric: str = "loss"  # validation metric that selects the best checkpoint
    mode: str = "min"
    seed: int = 0
    mlm_probability: float = 0.15
    device: str = "cpu"
    keep_state: bool = False  # keep the resumable state after a run that finished

    def __post_init__(self) -> None:
        if self.dtype not in ("float32", "bfloat16"):
            raise ConfigError(f"training.dtype must be float32 or bfloat16, got {self.dtype!r}")
        if self.mode not in ("min", "max"):
            raise ConfigError(f"training.mode must be min or max, got {self.mode!r}")
        for name in ("epochs", "batch_size", "accumulate"):
            if getattr(self, name) < 1:
                raise ConfigError(f"training.{name} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ConfigError(f"training.lr must be positive, got {self.lr}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainingConfig":
        """Build from a recipe section, naming unknown keys."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown training setting(s) {unknown}; known: {sorted(known)}")
        return cls(**data)


@dataclass
class TrainResult:
    """Where the best model went and how it scored."""

    output: Path
    steps: int
    best_step: int
    valid: dict[str, float]
    test: dict[str, float]


class Trainer:
    """Trains a model on records; `output` becomes a checkpoint of the best model (by validation metric)."""

    def __init__(self, model: SciformerModel, tokenizer: Tokenizer, host: PluginHost, config: TrainingConfig, output: str | Path, extra: dict[str, Any] | None = None) -> None:
        if model.head is None:
            raise ConfigError("the model has no task head to train (set model.task)")
        if model.config.task == "mlm" and not isinstance(tokenizer, VocabularyTokenizer):
            raise ConfigError(f"masked LM needs a vocabulary tokenizer; domain {model.config.domain!r} has none")
        self.model = model.to(config.device)
        self.tokenizer = tokenizer
        self.host = host
        self.config = config
        self.output = Path(output)
        self.extra = extra or {}
        decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
        no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=config.lr
        )

    # -- data -------------------------------------------------------------------------------------

    def encode(self, records: Sequence[Record], split: str) -> list[tuple[str, Any]]:
        """Encode records once; bad ones are logged and left out."""
        encoded, bad = [], []
        for record in records:
            try:
                encoded.append((record.id, self.tokenizer.encode(record)))
            except BadRecordError as error:
                bad.append(str(error))
        if bad:
            log.warning("%s: %d bad record(s) left out, e.g. %s", split, len(bad), "; ".join(bad[:3]))
        return encoded

    def plan(self, encoded: Sequence[tuple[str, Any]], generator: torch.Generator | None) -> list[list[int]]:
        """Micro-batches of indices into `encoded`."""
        if self.config.batch_tokens:
            lengths = [self.tokenizer.num_tokens(e) for _, e in encoded]
            return token_budget_batches(lengths, self.config.batch_tokens, generator=generator)
        return fixed_size_batches(len(encoded), self.config.batch_size, generator=generator)

    def collate(self, encoded: Sequence[tuple[str, Any]], rows: Sequence[int], mask_seed: int) -> TokenBatch:
        """A batch of the given rows on the training device (masked for MLM)."""
        batch = self.tokenizer.collate([encoded[i][1] for i in rows], [encoded[i][0] for i in rows])
        if self.model.config.task == "mlm":
            batch = mask_tokens(batch, self.tokenizer, self.config.mlm_probability, torch.Generator().manual_seed(mask_seed))
        return batch.to(self.config.device)

    def autocast(self) -> torch.autocast:
        """bfloat16 autocast when asked for, a no-op otherwise."""
        device_type = torch.device(self.config.device).type
        return torch.autocast(device_type, dtype=torch.bfloat16, enabled=self.config.dtype == "bfloat16")

    # -- evaluation -------------------------------------------------------------------------------

    def evaluate(self, encoded: Sequence[tuple[str, Any]]) -> dict[str, float]:
        """Metrics (sum / count of the head's evaluation counts; rmse from mse) over encoded records."""
        if not encoded:
            return {}
        self.model.eval()
        totals: dict[str, list[float]] = {}
        with torch.inference_mode(), self.autocast():
            for number, rows in enumerate(self.plan(encoded, generator=None)):
                batch = self.collate(encoded, rows, mask_seed=self.config.seed * 7919 + number)
                prediction = self.model(batch).prediction
                for name, (total, count) in self.model.head.evaluate(prediction, batch).items():
                    slot = totals.setdefault(name, [0.0, 0])
                    slot[0] += total
                    slot[1] += count
        self.model.train()
        metrics = {name: total / max(count, 1) for name, (total, count) in totals.items()}
        if "mse" in metrics:
            metrics["rmse"] = math.sqrt(metrics["mse"])
        return metrics

    def _improved(self, value: float, best: float | None) -> bool:
        if best is None:
            return True
        return value < best if self.config.mode == "min" else value > best

    # -- the loop ---------------------------------------------------------------------------------

    def fit(self, train: Sequence[Record], valid: Sequence[Record] = (), test: Sequence[Record] = (), resume: bool = False) -> TrainResult:
        """Train, keep the best checkpoint in `output`, evaluate it on `test`; `resume` continues a stopped run."""
        cfg = self.config
        started = time.perf_counter()
        train_enc, valid_enc, test_enc = self.encode(train, "train"), self.encode(valid, "valid"), self.encode(test, "test")
        if not train_enc:
            raise ConfigError("no usable training records")
        steps_per_epoch = math.ceil(len(self.plan(train_enc, torch.Generator().manual_seed(cfg.seed))) / cfg.accumulate)
        total_steps = cfg.max_steps or cfg.epochs * steps_per_epoch
        self.output.mkdir(parents=True, exist_ok=True)
        progress = {"step": 0, "epoch": 0, "batch": 0, "best": None, "best_step": 0, "best_metrics": {}, "stale": 0}
        torch.manual_seed(cfg.seed)
        state_dir = self.output / STATE_DIR
        if resume:
            if not (state_dir / "model.safetensors").is_file():
                raise ConfigError(f"nothing to resume in {self.output} (no {STATE_DIR}/)")
            load_model(self.model, str(state_dir / "model.safetensors"), device=cfg.device)
            progress = load_training_state(state_dir, self.optimizer)
            _truncate_metrics(self.output / METRICS_FILE, progress["step"])
            log.info("resuming at step %d (epoch %d, batch %d)", progress["step"], progress["epoch"], progress["batch"])
        elif (self.output / METRICS_FILE).exists():
            (self.output / METRICS_FILE).unlink()
        self.model.train()
        stop = progress["step"] >= total_steps
        while not stop and progress["epoch"] < (cfg.epochs if cfg.max_steps is None else 1 << 30):
            epoch = progress["epoch"]
            batches = self.plan(train_enc, torch.Generator().manual_seed(cfg.seed * 100_003 + epoch))
            pending = 0
            for position in range(progress["batch"], len(batches)):
                batch = self.collate(train_enc, batches[position], mask_seed=(cfg.seed * 1_000_003 + epoch) * 100_003 + position)
                with self.autocast():
                    prediction = self.model(batch).prediction
                loss = self.model.head.loss(prediction, batch)
                (loss / cfg.accumulate).backward()
                pending += 1
                if pending < cfg.accumulate and position + 1 < len(batches):
                    continue
                pending = 0
                lr = cfg.lr * warmup_cosine(progress["step"], cfg.warmup_steps, total_steps)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip or float("inf"))
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                progress["step"] += 1
                progress["batch"] = position + 1
                self._log({"split": "train", "step": progress["step"], "epoch": epoch, "loss": loss.item(), "lr": lr, "grad_norm": float(grad_norm)})
                at_end = progress["step"] >= total_steps
                if (cfg.eval_every and progress["step"] % cfg.eval_every == 0) or at_end:
                    stop = self._checkpoint(valid_enc, progress) or at_end
                if stop:
                    break
            else:
                progress["epoch"] += 1
                progress["batch"] = 0
                if not cfg.eval_every:
                    stop = self._checkpoint(valid_enc, progress)
        return self._finish(test_enc, progress, time.perf_counter() - started, len(train_enc), len(valid_enc))

    def _checkpoint(self, valid_enc: Sequence[tuple[str, Any]], progress: dict[str, Any]) -> bool:
        """Evaluate, keep the best model, save resumable state; True when early stopping says stop."""
        metrics = self.evaluate(valid_enc)
        if metrics:
            self._log({"split": "valid", "step": progress["step"], "epoch": progress["epoch"], **metrics})
            if self.config.metric not in metrics:
                raise ConfigError(f"training.metric {self.config.metric!r} is not reported; available: {sorted(metrics)}")
            value = metrics[self.config.metric]
        else:
            value = None
        if value is None or self._improved(value, progress["best"]):
            progress.update(best=value, best_step=progress["step"], best_metrics=metrics, stale=0)
            save_checkpoint(self.model, self.output, self.host, extra=self.extra)
        else:
            progress["stale"] += 1
        state_dir = self.output / STATE_DIR
        state_dir.mkdir(parents=True, exist_ok=True)
        save_model(self.model, str(state_dir / "model.safetensors"))
        save_training_state(state_dir, self.optimizer, progress)
        return bool(self.config.patience and progress["stale"] >= self.config.patience)

    def _finish(self, test_enc: Sequence[tuple[str, Any]], progress: dict[str, Any], seconds: float, n_train: int, n_valid: int) -> TrainResult:
        load_model(self.model, str(self.output / "model.safetensors"), device=self.config.device)
        test_metrics = self.evaluate(test_enc)
        if test_metrics:
            self._log({"split": "test", "step": progress["best_step"], **test_metrics})
        summary = {
            "steps": progress["step"],
            "best_step": progress["best_step"],
            "valid": progress["best_metrics"],
            "test": test_metrics,
            "records": {"train": n_train, "valid": n_valid, "test": len(test_enc)},
            "seconds": round(seconds, 2),
        }
        (self.output / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
        if not self.config.keep_state:
            shutil.rmtree(self.output / STATE_DIR, ignore_errors=True)
        self.model.eval()
        return TrainResult(self.output, progress["step"], progress["best_step"], progress["best_metrics"], test_metrics)

    def _log(self, row: dict[str, Any]) -> None:
        with open(self.output / METRICS_FILE, "a") as handle:
            handle.write(json.dumps(row) + "\n")


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop metric rows written after the step a run resumes from."""
    if not path.exists():
        return
    rows = [line for line in path.read_text().splitlines() if line and json.loads(line).get("step", 0) <= step]
    path.write_text("".join(row + "\n" for row in rows))
