"""Task heads the engine provides, each with its loss and its evaluation counts."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.engine.context import Embedded
from sciformer.errors import ConfigError

IGNORE_INDEX = -100  # token targets with this value do not count (unmasked positions, padding)
CLASSIFICATION_LOSS_OPTIONS = frozenset({"label_smoothing", "class_weights"})  # training settings classifiers honour


def pool(hidden: Tensor, embedded: Embedded, pooling: str) -> Tensor:
    """(B, T, D) -> (B, D): the first token ("cls") or the mean over `embedded.pool_mask` ("mean")."""
    if pooling == "cls":
        return hidden[:, 0]
    weights = embedded.pool_mask.to(hidden.dtype)[..., None]  # (B, T, 1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


@dataclass(frozen=True)
class ScoreColumn:
    """A per-record output of `sciformer score`: one row's shape (None: a variable-length vector per
    record), its dtype, attributes of the HDF5 dataset (class names, units, ...), and whether it is
    written when `--outputs` is not given."""

    shape: tuple[int, ...] | None
    dtype: str = "float32"
    attributes: Mapping[str, Any] = field(default_factory=dict)
    default: bool = True


class Head(nn.Module, abc.ABC):
    """A task head: final hidden states -> predictions, plus the task's loss, evaluation counts and
    the columns it contributes to scoring results."""

    #: The `training:` loss settings this head honours in `loss`; the trainer refuses the others.
    loss_options: frozenset[str] = frozenset()
    label_smoothing: float = 0.0
    class_weights: Tensor | None = None  # (num_labels,), a loss weight per class

    def configure_loss(self, label_smoothing: float = 0.0, class_weights: Tensor | None = None) -> None:
        """Set the training-loss settings that `loss` applies (never `evaluate`)."""
        self.label_smoothing = label_smoothing
        self.class_weights = class_weights

    @abc.abstractmethod
    def forward(self, hidden: Tensor, embedded: Embedded, batch: TokenBatch) -> Tensor:
        """Predictions (logits or values) from final hidden states (B, T, D)."""

    @abc.abstractmethod
    def loss(self, prediction: Tensor, batch: TokenBatch) -> Tensor:
        """Scalar training loss against `batch.targets` (or the ids, for language models)."""

    def evaluate(self, prediction: Tensor, batch: TokenBatch) -> dict[str, tuple[float, int]]:
        """Sums and counts of evaluation metrics for one batch; the trainer reports sum / count."""
        return {"loss": (float(self.loss(prediction, batch)) * batch.size, batch.size)}

    def class_scores(self, prediction: Tensor, batch: TokenBatch) -> tuple[Tensor, Tensor] | None:
        """Class probabilities (N, K) and class indices (N,) of the labelled items of a batch, from
        which the trainer computes metrics over a whole split (ROC-AUC); None for other tasks."""
        return None

    def score_columns(self) -> dict[str, ScoreColumn]:
        """The outputs this head writes when scoring (none by default)."""
        return {}

    def score_values(self, prediction: Tensor, embedded: Embedded, batch: TokenBatch) -> dict[str, np.ndarray | Sequence[np.ndarray]]:
        """One value per record of the batch for each of `score_columns`."""
        return {}


class MaskedLMHead(Head):
    """BERT / ESM masked-LM head: dense, GELU, LayerNorm, then a decoder tied to the embeddings."""

    def __init__(self, config: ModelConfig, embedding: nn.Embedding) -> None:
        super().__init__()
        self.dense = nn.Linear(config.dim, config.dim)
        self.norm = nn.LayerNorm(config.dim, eps=config.norm_eps)
        vocab = embedding.num_embeddings
        self.decoder = nn.Linear(config.dim, vocab, bias=False)
        if config.tie_embeddings:
            self.decoder.weight = embedding.weight
        self.bias = nn.Parameter(torch.zeros(vocab))

    def forward(self, hidden: Tensor, embedded: Embedded, batch: TokenBatch) -> Tensor:
        """(B, T, D) -> logits (B, T, V)."""
        return self.decoder(self.norm(F.gelu(self.dense(hidden)))) + self.bias

    def loss(self, prediction: Tensor, batch: TokenBatch) -> Tensor:
        """Cross-entropy over masked positions (targets elsewhere are IGNORE_INDEX)."""
        return F.cross_entropy(prediction.flatten(0, 1).float(), batch.targets.flatten(), ignore_index=IGNORE_INDEX)

    def evaluate(self, prediction: Tensor, batch: TokenBatch) -> dict[str, tuple[float, int]]:
        """Summed loss and accuracy over the masked positions."""
        return _token_counts(prediction, batch.targets)


class CausalLMHead(Head):
    """GPT-style next-token head, tied to the embeddings."""

    def __init__(self, config: ModelConfig, embedding: nn.Embedding) -> None:
        super().__init__()
        self.decoder = nn.Linear(config.dim, embedding.num_embeddings, bias=False)
        if config.tie_embeddings:
            self.decoder.weight = embedding.weight

    def forward(self, hidden: Tensor, embedded: Embedded, batch: TokenBatch) -> Tensor:
        """(B, T, D) -> next-token logits (B, T, V)."""
        return self.decoder(hidden)

    def loss(self, prediction: Tensor, batch: TokenBatch) -> Tensor:
        """Cross-entropy of token t+1 given tokens up to t, over real tokens only."""
        return F.cross_entropy(prediction[:, :-1].flatten(0, 1).float(), next_token_targets(batch).flatten(), ignore_index=IGNORE_INDEX)

    def evaluate(self, prediction: Tensor, batch: TokenBatch) -> dict[str, tuple[float, int]]:
        """Summed loss and accuracy over the predicted positions."""
        return _token_counts(prediction[:, :-1], next_token_targets(batch))


def next_token_targets(batch: TokenBatch) -> Tensor:
    """(B, T-1) targets: the next id where it is a real token, IGNORE_INDEX elsewhere."""
    targets = batch.ids[:, 1:].clone()
    targets[~batch.padding_mask[:, 1:]] = IGNORE_INDEX
    return targets


class SequenceHead(Head):
    """Pools the sequence (CLS or mean) and maps it to classes or regression outputs."""

    def __init__(self, config: ModelConfig, regression: bool) -> None:
        super().__init__()
        self.pooling = config.pooling
        self.regression = regression
        self.labels = tuple(config.labels)
        self.dropout = nn.Dropout(config.dropout)
        self.linear = nn.Linear(config.dim, config.num_labels)

    def forward(self, hidden: Tensor, embedded: Embedded, batch: TokenBatch) -> Tensor:
        """(B, T, D) -> (B, num_labels)."""
        return self.linear(self.dropout(pool(hidden, embedded, self.pooling)))

    @property
    def loss_options(self) -> frozenset[str]:  # type: ignore[override]
        """Classification honours label smoothing and class weights; regression neither."""
        return frozenset() if self.regression else CLASSIFICATION_LOSS_OPTIONS

    def loss(self, prediction: Tensor, batch: TokenBatch) -> Tensor:
        """Mean squared error (regression) or cross-entropy (classification, with the configured
        label smoothing and class weights)."""
        if self.regression:
            return F.mse_loss(prediction.float(), batch.targets.float().view_as(prediction))
        return classification_loss(prediction, batch.targets.long(), self.label_smoothing, self.class_weights)

    def class_scores(self, prediction: Tensor, batch: TokenBatch) -> tuple[Tensor, Tensor] | None:
        """Each record's class probabilities and class index (classification only)."""
        if self.regression:
            return None
        return prediction.float().softmax(dim=-1), batch.targets.long()

    def score_columns(self) -> dict[str, ScoreColumn]:
        """Regression: `prediction` (N,) or (N, K). Classification: `logits`, `probabilities` (N, K) and
        `prediction` (N,) class indices, with the class names as `labels`."""
        classes = self.linear.out_features
        if self.regression:
            return {"prediction": ScoreColumn(() if classes == 1 else (classes,))}
        labels = {"labels": list(self.labels)} if self.labels else {}
        return {"logits": ScoreColumn((classes,), attributes=labels), "probabilities": ScoreColumn((classes,), attributes=labels), "prediction": ScoreColumn((), "int64", labels)}

    def score_values(self, prediction: Tensor, embedded: Embedded, batch: TokenBatch) -> dict[str, np.ndarray | Sequence[np.ndarray]]:
        """Logits, probabilities and class index (classification) or values (regression) per record."""
        prediction = prediction.float()
        if self.regression:
            return {"prediction": (prediction.squeeze(-1) if prediction.shape[-1] == 1 else prediction).cpu().numpy()}
        return {"logits": prediction.cpu().numpy(), "probabilities": prediction.softmax(dim=-1).cpu().numpy(), "prediction": prediction.argmax(dim=-1).cpu().numpy()}

    def evaluate(self, prediction: Tensor, batch: TokenBatch) -> dict[str, tuple[float, int]]:
        """Summed loss, plus squared error (regression) or correct predictions (classification)."""
        if self.regression:
            counts = super().evaluate(prediction, batch)
            error = (prediction.float() - batch.targets.float().view_as(prediction)) ** 2
            counts["mse"] = (float(error.sum()), error.numel())
            return counts
        loss = F.cross_entropy(prediction.float(), batch.targets.long(), reduction="sum")
        correct = (prediction.argmax(dim=-1) == batch.targets).sum()
        return {"loss": (float(loss), batch.size), "accuracy": (float(correct), batch.size)}


class TokenClassificationHead(Head):
    """One class per token; targets IGNORE_INDEX where a token carries no label."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.labels = tuple(config.labels)
        self.dropout = nn.Dropout(config.dropout)
        self.linear = nn.Linear(config.dim, config.num_labels)

    def forward(self, hidden: Tensor, embedded: Embedded, batch: TokenBatch) -> Tensor:
        """(B, T, D) -> (B, T, num_labels)."""
        return self.linear(self.dropout(hidden))

    loss_options = CLASSIFICATION_LOSS_OPTIONS

    def loss(self, prediction: Tensor, batch: TokenBatch) -> Tensor:
        """Cross-entropy over labelled tokens (with the configured label smoothing and class weights)."""
        return classification_loss(prediction.flatten(0, 1), batch.targets.flatten(), self.label_smoothing, self.class_weights)

    def evaluate(self, prediction: Tensor, batch: TokenBatch) -> dict[str, tuple[float, int]]:
        """Summed loss and accuracy over labelled tokens."""
        return _token_counts(prediction, batch.targets)

    def class_scores(self, prediction: Tensor, batch: TokenBatch) -> tuple[Tensor, Tensor] | None:
        """Class probabilities and class index of every labelled token."""
        labelled = batch.targets != IGNORE_INDEX
        return prediction.float()[labelled].softmax(dim=-1), batch.targets[labelled]

    def score_columns(self) -> dict[str, ScoreColumn]:
        """`token_predictions`: the class index of each pooled token (residues, words), one vector per record."""
        labels = {"labels": list(self.labels)} if self.labels else {}
        return {"token_predictions": ScoreColumn(None, "int64", labels)}

    def score_values(self, prediction: Tensor, embedded: Embedded, batch: TokenBatch) -> dict[str, np.ndarray | Sequence[np.ndarray]]:
        """Class indices over each record's pooled tokens."""
        classes = prediction.argmax(dim=-1).cpu()
        mask = embedded.pool_mask.cpu()
        return {"token_predictions": [classes[row][mask[row]].numpy() for row in range(classes.shape[0])]}


def classification_loss(logits: Tensor, targets: Tensor, label_smoothing: float = 0.0, class_weights: Tensor | None = None) -> Tensor:
    """Cross-entropy of (N, K) logits against (N,) class indices (IGNORE_INDEX items left out), with
    label smoothing and a weight per class (the weighted mean over items) when given."""
    weight = None if class_weights is None else class_weights.to(logits.device, torch.float32)
    return F.cross_entropy(logits.float(), targets, weight=weight, ignore_index=IGNORE_INDEX, label_smoothing=label_smoothing)


def _token_counts(logits: Tensor, targets: Tensor) -> dict[str, tuple[float, int]]:
    labelled = targets != IGNORE_INDEX
    count = int(labelled.sum())
    loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE_INDEX, reduction="sum")
    correct = (logits.argmax(dim=-1) == targets) & labelled
    return {"loss": (float(loss), count), "accuracy": (float(correct.sum()), count)}


def engine_head(config: ModelConfig, embedder: nn.Module) -> Head | None:
    """The engine's head for `config.task`, or None for an encoder without a task."""
    task = config.task
    if task is None:
        return None
    if task in ("mlm", "clm"):
        embedding = getattr(embedder, "token_embedding", None)
        if not isinstance(embedding, nn.Embedding):
            raise ConfigError(f"task {task!r} needs an embedder with a token_embedding (a vocabulary domain)")
        return MaskedLMHead(config, embedding) if task == "mlm" else CausalLMHead(config, embedding)
    if task in ("sequence-classification", "sequence-regression", "token-classification") and config.num_labels < 1:
        raise ConfigError(f"task {task!r} needs model.num_labels >= 1 (set it, or train on labelled records so it is learned)")
    if task == "sequence-classification":
        return SequenceHead(config, regression=False)
    if task == "sequence-regression":
        return SequenceHead(config, regression=True)
    if task == "token-classification":
        return TokenClassificationHead(config)
    raise ConfigError(f"no installed plugin provides a head for task {task!r} in domain {config.domain!r}")
