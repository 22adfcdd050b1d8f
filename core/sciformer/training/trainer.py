"""The trainer: AdamW, warmup + cosine, clipping, accumulation, bfloat16, early stopping, JSONL metrics
and exact resume, on one process or several (DDP or FSDP under torchrun); optionally the domain's
augmentations, label smoothing, class-balanced loss weights and a moving average of the weights.

Data order is a property of the run, not of the world size: each epoch's micro-batches are planned
from the seed alone, and optimizer step k consumes the next `accumulate x world` of them, shared out
over the ranks. So N processes with `accumulate: a` train on the same global batches as one process
with `accumulate: a x N`, every record is used once per epoch, and the position to resume from is
the number of micro-batches consumed, whatever world size wrote or reads it. Each micro-batch seeds
the random generator from its position, so dropout and masking do not depend on which rank runs it.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_model

from sciformer.augmentation import augmented, build_augmentations
from sciformer.checkpoint import WEIGHTS, save_checkpoint
from sciformer.data.batch import TokenBatch
from sciformer.data.budget import fixed_size_batches, token_budget_batches
from sciformer.domain import Tokenizer, VocabularyTokenizer
from sciformer.engine.model import SciformerModel
from sciformer.errors import BadRecordError, ConfigError, TrainingDiverged
from sciformer.inference import bfloat16_autocast, inference_context
from sciformer.plugins import PluginHost
from sciformer.records import Record
from sciformer.training.config import TrainingConfig
from sciformer.training.distributed import ParallelModel, rank_share
from sciformer.training.ema import WeightAverage
from sciformer.training.head_refit import TRAINED, HeadRefit, final_linear, layer_inputs, refit
from sciformer.training.loss_settings import check_loss_options, configure_head_loss
from sciformer.training.metrics import TENSORBOARD_DIR, MetricsLog, tensorboard_writer, truncate_metrics
from sciformer.training.objectives import PRETRAINING_TASKS, build_training_model, encoder_copy, mask_tokens
from sciformer.training.optimization import adamw, optimizer_step
from sciformer.training.progress import TrainingProgress, on_terminal
from sciformer.training.ranking import ranking_metrics
from sciformer.training.rollout import check_rollout_domain, rolled_out
from sciformer.training.selection import evaluation_due, keep_if_best, patience_spent, selection_value
from sciformer.training.state import load_training_state, pause_after_step, save_training_state
from sciformer.world import World

log = logging.getLogger(__name__)

STATE_DIR = "state"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
BEST_WEIGHTS = "best.safetensors"  # in state/: the best full model when the checkpoint holds the encoder only
AUGMENT_SEED = 0x5DEECE66D  # offsets a micro-batch's seed for its augmentation generator


@dataclass
class TrainResult:
    """Where the best model went and how it scored."""

    output: Path
    steps: int
    best_step: int
    valid: dict[str, float]
    test: dict[str, float]


Encoded = Sequence[tuple[str, Any]]


class Trainer:
    """Trains a model on records; `output` becomes a checkpoint of the best model (by validation metric).

    Under torchrun every rank runs the same loop on its share of each step's micro-batches; only
    rank 0 writes files; on a terminal rank 0 shows a live progress bar.
    """

    def __init__(
        self, model: SciformerModel, tokenizer: Tokenizer, host: PluginHost, config: TrainingConfig, output: str | Path,
        extra: dict[str, Any] | None = None, world: World | None = None,
    ) -> None:
        if model.head is None:
            raise ConfigError("the model has no task head to train (set model.task)")
        if model.config.task == "mlm" and not isinstance(tokenizer, VocabularyTokenizer):
            raise ConfigError(f"masked LM needs a vocabulary tokenizer; domain {model.config.domain!r} has none")
        check_loss_options(model.head, config)
        if config.refit_head:
            final_linear(model.head)
        check_rollout_domain(host, model.config, config.rollout_steps)
        self.augmentations = build_augmentations(host, model.config, config.augment)
        self.world = world or World.current()
        self.device = self.world.device(config.device)
        self.parallel = ParallelModel(model, self.world, self.device, fsdp=config.fsdp, factory=lambda: build_training_model(model.config, host))
        self.model = self.parallel.module
        self.average = WeightAverage(self.model, config.ema) if config.ema is not None else None
        self.tokenizer = tokenizer
        self.host = host
        self.config = config
        self.output = Path(output)
        self.extra = extra or {}
        self.metrics = MetricsLog(self.output / METRICS_FILE)
        self.live = TrainingProgress(config.metric, enabled=self.world.is_main and on_terminal())
        self.optimizer = adamw(self.model, config)

    # -- data -------------------------------------------------------------------------------------

    def encode(self, records: Sequence[Record], split: str) -> list[tuple[str, Any]]:
        """Encode records once; bad ones are logged and left out."""
        encoded, bad = [], []
        for record in records:
            try:
                encoded.append((record.id, self.tokenizer.encode(record)))
            except BadRecordError as error:
                bad.append(str(error))
        if bad and self.world.is_main:
            log.warning("%s: %d bad record(s) left out, e.g. %s", split, len(bad), "; ".join(bad[:3]))
        return encoded

    def plan(self, encoded: Encoded, generator: torch.Generator | None) -> list[list[int]]:
        """Micro-batches of indices into `encoded` (the same on every rank)."""
        if self.config.batch_tokens:
            lengths = [self.tokenizer.num_tokens(e) for _, e in encoded]
            return token_budget_batches(lengths, self.config.batch_tokens, generator=generator)
        return fixed_size_batches(len(encoded), self.config.batch_size, generator=generator)

    def collate(self, encoded: Encoded, rows: Sequence[int], mask_seed: int, training: bool = False) -> TokenBatch:
        """A batch of the given rows on the training device (augmented when `training`, masked for MLM)."""
        batch = self.tokenizer.collate([encoded[i][1] for i in rows], [encoded[i][0] for i in rows])
        if training and self.augmentations:
            batch = augmented(batch, self.augmentations, torch.Generator().manual_seed(mask_seed + AUGMENT_SEED))
        if self.model.config.task == "mlm":
            batch = mask_tokens(batch, self.tokenizer, self.config.mlm_probability, torch.Generator().manual_seed(mask_seed))
        return batch.to(self.device)

    def predict(self, network: torch.nn.Module, batch: TokenBatch) -> torch.Tensor:
        """The network's prediction for a batch; with `rollout_steps` above 1, the stacked predictions
        (B, steps, ...) of a rollout from it (training/rollout.py)."""
        if self.config.rollout_steps == 1:
            return network(batch).prediction
        return rolled_out(lambda current: network(current).prediction, batch, self.config.rollout_steps, self.next_input)

    def next_input(self, batch: TokenBatch, prediction: torch.Tensor) -> TokenBatch | None:
        """The batch one model step on, with `prediction` as its input (the domain's `next_input`)."""
        return self.host.domain(self.model.config.domain).next_input(self.model.config, batch, prediction)

    def training_targets(self, encoded: Encoded) -> Iterator[torch.Tensor]:
        """The targets of the training records, batch by batch (unaugmented)."""
        for rows in self.plan(encoded, generator=None):
            yield self.tokenizer.collate([encoded[i][1] for i in rows], [encoded[i][0] for i in rows]).targets

    def averaged(self) -> AbstractContextManager[None]:
        """Within the block the model holds its moving-average weights, when the run keeps one."""
        return self.average.applied(self.model) if self.average is not None else nullcontext()

    def _seed(self, epoch: int, position: int) -> int:
        """The seed of one training micro-batch (its masking and its dropout)."""
        return (self.config.seed * 1_000_003 + epoch) * 100_003 + position

    # -- evaluation -------------------------------------------------------------------------------

    def evaluate(self, encoded: Encoded) -> dict[str, float]:
        """Metrics over encoded records: the head's sums and counts, summed over ranks, then sum / count
        (rmse from mse), and for classifiers the metrics over the whole split (roc_auc, ...) from their
        class scores. Batch i is evaluated by rank i mod world."""
        if not encoded:
            return {}
        world = self.world
        batches = self.plan(encoded, generator=None)
        totals: dict[str, list[float]] = {}
        scores: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.model.eval()
        with inference_context(self.device, self.config.dtype):
            for first in range(0, len(batches), world.size):
                number = first + world.rank
                real = number < len(batches)
                # a rank without a batch this round runs the first one unscored: under FSDP every rank
                # must run each forward pass, and every rank must learn the metric names
                if not real and not self.parallel.sharded and totals:
                    break
                seed = self.config.seed * 7919 + (number if real else 0)
                torch.manual_seed(seed)
                batch = self.collate(encoded, batches[number if real else 0], mask_seed=seed)
                prediction = self.predict(self.model, batch)
                for name, (total, count) in self.model.head.evaluate(prediction, batch).items():
                    slot = totals.setdefault(name, [0.0, 0])
                    if real:
                        slot[0] += total
                        slot[1] += count
                classes = self.model.head.class_scores(prediction, batch)
                if classes is not None:
                    scores.append(tuple(t.cpu() if real else t[:0].cpu() for t in classes))
        self.model.train()
        names = sorted(totals)
        summed = world.sum(torch.tensor([value for name in names for value in totals[name]], dtype=torch.float64)).tolist()
        metrics = {name: summed[2 * i] / max(summed[2 * i + 1], 1) for i, name in enumerate(names)}
        if "mse" in metrics:
            metrics["rmse"] = math.sqrt(metrics["mse"])
        if scores:
            probabilities = world.gather(torch.cat([p for p, _ in scores]))
            metrics.update(ranking_metrics(probabilities, world.gather(torch.cat([t for _, t in scores]))))
        return metrics

    # -- the loop ---------------------------------------------------------------------------------

    def fit(self, train: Sequence[Record], valid: Sequence[Record] = (), test: Sequence[Record] = (), resume: bool = False) -> TrainResult:
        """Train, keep the best checkpoint in `output`, evaluate it on `test`; `resume` continues a stopped run."""
        cfg, world = self.config, self.world
        started = time.perf_counter()
        train_enc, valid_enc, test_enc = self.encode(train, "train"), self.encode(valid, "valid"), self.encode(test, "test")
        if not train_enc:
            raise ConfigError("no usable training records")
        weights = configure_head_loss(self.model.head, cfg, self.training_targets(train_enc), self.model.config.num_labels)
        if weights is not None and world.is_main:
            log.info("class weights: %s", ", ".join(f"{w:.3g}" for w in weights.tolist()))
        per_step = cfg.accumulate * world.size  # micro-batches per optimizer step
        steps_per_epoch = math.ceil(len(self.plan(train_enc, torch.Generator().manual_seed(cfg.seed))) / per_step)
        total_steps = cfg.max_steps or cfg.epochs * steps_per_epoch
        progress = {"step": 0, "epoch": 0, "batch": 0, "best": None, "best_step": 0, "best_metrics": {}, "stale": 0, "epoch_loss": [0.0, 0]}
        torch.manual_seed(cfg.seed)
        state_dir = self.output / STATE_DIR
        if resume:
            if not (state_dir / "model.safetensors").is_file():
                raise ConfigError(f"nothing to resume in {self.output} (no {STATE_DIR}/)")
            self.parallel.load_weights(state_dir / "model.safetensors")
            optimizer_state, progress = load_training_state(state_dir)
            self.parallel.load_optimizer_state(self.optimizer, optimizer_state)
            progress.setdefault("epoch_loss", [0.0, 0])
            if self.average is not None:
                self.average.load(state_dir)
        if world.is_main:
            self.output.mkdir(parents=True, exist_ok=True)
            if resume:
                truncate_metrics(self.output / METRICS_FILE, progress["step"])
                log.info("resuming at step %d (epoch %d, micro-batch %d) on %d process(es)", progress["step"], progress["epoch"], progress["batch"], world.size)
            elif (self.output / METRICS_FILE).exists():
                (self.output / METRICS_FILE).unlink()
            if cfg.tensorboard:
                self.metrics.tensorboard = tensorboard_writer(self.output / TENSORBOARD_DIR, purge_step=progress["step"] + 1)
        world.barrier()
        self.parallel.network.train()
        stop = progress["step"] >= total_steps
        try:
            with self.live.running(total_steps, progress["step"]):
                while not stop and progress["epoch"] < (cfg.epochs if cfg.max_steps is None else 1 << 30):
                    stop = self._epoch(train_enc, valid_enc, progress, total_steps)
            refitted = self._refit_head(train_enc, valid_enc, progress) if cfg.refit_head else None
            return self._finish(test_enc, progress, time.perf_counter() - started, len(train_enc), len(valid_enc), refitted)
        finally:
            self.metrics.close()

    def _epoch(self, train_enc: Encoded, valid_enc: Encoded, progress: dict[str, Any], total_steps: int) -> bool:
        """Train from the current position to the end of its epoch; True when the run is over."""
        cfg = self.config
        per_step = cfg.accumulate * self.world.size
        epoch = progress["epoch"]
        batches = self.plan(train_enc, torch.Generator().manual_seed(cfg.seed * 100_003 + epoch))
        while True:
            chunk = range(progress["batch"], min(progress["batch"] + per_step, len(batches)))
            with self.live.timed(sum(len(batches[position]) for position in chunk)):
                loss = self._step(train_enc, batches, chunk, epoch)
                if not math.isfinite(loss):
                    raise TrainingDiverged(
                        f"the training loss is {loss} at step {progress['step'] + 1}: the run diverged and stops without writing a model; "
                        "lower training.lr, or set training.grad_clip"
                    )
                lr, grad_norm = optimizer_step(self.optimizer, self.parallel.clip_gradients, cfg, progress["step"], total_steps)
                if self.average is not None:
                    self.average.update(self.model, progress["step"])
            progress["step"] += 1
            progress["batch"] = chunk.stop
            progress["epoch_loss"] = [progress["epoch_loss"][0] + loss, progress["epoch_loss"][1] + 1]
            self._log({"split": "train", "step": progress["step"], "epoch": epoch, "loss": loss, "lr": lr, "grad_norm": grad_norm})
            self.live.step(progress["step"], loss, lr)
            at_end = progress["step"] >= total_steps
            epoch_done = chunk.stop >= len(batches)
            if epoch_done:
                self._end_epoch(progress, len(batches))
            stop = at_end
            if evaluation_due(cfg.eval_every, progress["step"], at_end, epoch_done):
                stop = self._checkpoint(valid_enc, progress) or at_end
            if stop or epoch_done:
                return stop

    def _step(self, train_enc: Encoded, batches: Sequence[Sequence[int]], chunk: range, epoch: int) -> float:
        """Forward and backward over the micro-batches `chunk` of the epoch's plan; returns their mean loss.

        Rank r takes the micro-batches r, r + world, ... of the chunk. Each loss is scaled so that the
        gradient averaged over ranks is the mean over the chunk; gradients are reduced only on a rank's
        last micro-batch. A rank left without one (the short last step of an epoch) runs the chunk's
        first with weight zero, so that every rank joins the reduction.
        """
        world = self.world
        mine = rank_share(chunk, world)
        work = mine or [chunk.start]
        weight = world.size / len(chunk) if mine else 0.0
        total = torch.zeros((), dtype=torch.float64)
        for index, position in enumerate(work):
            with self.parallel.gradient_sync(index == len(work) - 1):
                torch.manual_seed(self._seed(epoch, position))
                batch = self.collate(train_enc, batches[position], mask_seed=self._seed(epoch, position), training=True)
                with bfloat16_autocast(self.device, self.config.dtype):
                    prediction = self.predict(self.parallel.network, batch)
                loss = self.model.head.loss(prediction, batch)
                (loss * weight).backward()
            if mine:
                total += loss.detach().double().cpu()
        return float(world.sum(total)) / len(chunk)

    def _end_epoch(self, progress: dict[str, Any], micro_batches: int) -> None:
        """Log the epoch's mean training loss and move the position to the next epoch."""
        loss_sum, steps = progress["epoch_loss"]
        self._log({"split": "epoch", "step": progress["step"], "epoch": progress["epoch"], "loss": loss_sum / max(steps, 1), "steps": steps, "micro_batches": micro_batches})
        progress.update(epoch=progress["epoch"] + 1, batch=0, epoch_loss=[0.0, 0])

    def _checkpoint(self, valid_enc: Encoded, progress: dict[str, Any]) -> bool:
        """Evaluate (with the moving-average weights when kept), keep the best model, save resumable
        state; True when early stopping says stop."""
        state_dir = self.output / STATE_DIR
        if self.world.is_main:
            state_dir.mkdir(parents=True, exist_ok=True)
        with self.averaged():
            metrics = self.evaluate(valid_enc)
            if metrics:
                self._log({"split": "valid", "step": progress["step"], "epoch": progress["epoch"], **metrics})
                self.live.validated(metrics)
            improved = keep_if_best(progress, selection_value(metrics, self.config.metric), metrics, self.config.mode)
            if improved:
                best = self.parallel.gathered()  # collective under FSDP
                if self.world.is_main:
                    self._save_best(best, state_dir)
        # the raw weights, for resuming (collective under FSDP; the best model already is them without an average)
        full = best if improved and self.average is None else self.parallel.gathered()
        optimizer_state = self.parallel.optimizer_state(self.optimizer)  # collective under FSDP
        if self.world.is_main:
            save_model(full, str(state_dir / "model.safetensors"))
            save_training_state(state_dir, optimizer_state, progress)
            if self.average is not None:
                self.average.save(state_dir)
        self.world.barrier()
        pause_after_step(progress["step"], self.world.is_main)
        return patience_spent(progress, self.config.patience)

    def _save_best(self, full: SciformerModel, state_dir: Path) -> None:
        """Write the checkpoint: the model, or for a pre-training task its encoder (and the whole model in state/)."""
        if full.config.task in PRETRAINING_TASKS:
            save_model(full, str(state_dir / BEST_WEIGHTS))
            save_checkpoint(encoder_copy(full, self.host), self.output, self.host, extra=self.extra)
        else:
            save_checkpoint(full, self.output, self.host, extra=self.extra)

    def _best_weights(self) -> Path:
        if self.model.config.task in PRETRAINING_TASKS:
            return self.output / STATE_DIR / BEST_WEIGHTS
        return self.output / WEIGHTS

    def _refit_head(self, train_enc: Encoded, valid_enc: Encoded, progress: dict[str, Any]) -> HeadRefit:
        """Refit the best model's last layer on its frozen training features (training/head_refit.py);
        the checkpoint and the best validation metrics follow the layer chosen on validation."""
        if not valid_enc:
            raise ConfigError("training.refit_head needs validation records to choose on")
        self.parallel.load_weights(self._best_weights())
        linear = final_linear(self.model.head)
        batches = (self.collate(train_enc, rows, mask_seed=0) for rows in self.plan(train_enc, generator=None))
        self.model.eval()
        with inference_context(self.device, self.config.dtype):
            features, targets = layer_inputs(linear, batches, self.model)
        features, targets = features.clone(), targets.clone()  # normal tensors: those made in inference mode cannot enter the fit's autograd
        self.model.train()
        result = refit(linear, features, targets, lambda: self.evaluate(valid_enc)[self.config.metric], self.config.mode == "max")
        if self.world.is_main:
            log.info("refit_head: kept the %s (valid %s: %s)", result.chosen, self.config.metric, ", ".join(f"{k} {v:.4g}" for k, v in result.valid.items()))
        if result.chosen != TRAINED:
            progress["best_metrics"] = self.evaluate(valid_enc)
            if self.world.is_main:
                self._save_best(self.model, self.output / STATE_DIR)
            self.world.barrier()
        return result

    def _finish(
        self, test_enc: Encoded, progress: dict[str, Any], seconds: float, n_train: int, n_valid: int, refitted: HeadRefit | None = None
    ) -> TrainResult:
        self.parallel.load_weights(self._best_weights())
        test_metrics = self.evaluate(test_enc)
        if test_metrics:
            self._log({"split": "test", "step": progress["best_step"], **test_metrics})
        summary = {
            "steps": progress["step"],
            "best_step": progress["best_step"],
            "valid": progress["best_metrics"],
            "test": test_metrics,
            "records": {"train": n_train, "valid": n_valid, "test": len(test_enc)},
            "processes": self.world.size,
            "seconds": round(seconds, 2),
            **({"head_refit": refitted.as_dict()} if refitted is not None else {}),
        }
        self.world.barrier()  # every rank has read the best weights before state/ may go
        if self.world.is_main:
            (self.output / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
            if not self.config.keep_state:
                shutil.rmtree(self.output / STATE_DIR, ignore_errors=True)
        self.model.eval()
        return TrainResult(self.output, progress["step"], progress["best_step"], progress["best_metrics"], test_metrics)

    def _log(self, row: dict[str, Any]) -> None:
        """Write one metrics row (rank 0 only)."""
        if self.world.is_main:
            self.metrics.write(row)
