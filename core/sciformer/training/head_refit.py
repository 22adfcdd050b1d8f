"""Refitting a classifier's last layer after training (`training.refit_head: true`): multinomial logistic
regression on the frozen features that reach the head's final Linear, its L2 strength chosen on the
validation split.

A short fine-tuning can leave the last layer behind the features it reads: the same features, frozen,
often separate the classes better under a logistic regression fitted to convergence (last-layer
retraining). The candidates are the trained layer and one regression per L2 strength, each fitted on
the training records' features (standardised, then folded back into the layer's weights); the one with
the best validation metric is kept, the trained layer on a tie, so the refit never makes the validation
metric worse. The test split plays no part.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sciformer.data.batch import TokenBatch
from sciformer.errors import ConfigError
from sciformer.linear_probe import fit_softmax

L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1)  # penalty on the squared weights of standardised features
TRAINED = "trained layer"


@dataclass(frozen=True)
class HeadRefit:
    """The candidate kept (`TRAINED` or `l2=...`) and the selection metric of every candidate on validation."""

    chosen: str
    valid: dict[str, float]

    def as_dict(self) -> dict[str, object]:
        """For the run's summary."""
        return {"chosen": self.chosen, "valid": self.valid}


def final_linear(head: nn.Module | None) -> nn.Linear:
    """The Linear whose output is a classification head's prediction; refused for any other head."""
    linear = getattr(head, "linear", None)
    if getattr(head, "regression", True) or not isinstance(linear, nn.Linear) or not hasattr(head, "class_scores"):
        raise ConfigError("training.refit_head needs a sequence-classification head ending in a Linear layer")
    return linear


def layer_inputs(linear: nn.Linear, batches: Iterable[TokenBatch], forward: Callable[[TokenBatch], object]) -> tuple[Tensor, Tensor]:
    """(N, F) float32 inputs of `linear` and (N,) class targets over `batches`, each run through `forward`."""
    captured: list[Tensor] = []
    targets: list[Tensor] = []
    handle = linear.register_forward_pre_hook(lambda _module, args: captured.append(args[0].detach().float().cpu()))
    try:
        for batch in batches:
            forward(batch)
            targets.append(batch.targets.long().cpu())
    finally:
        handle.remove()
    return torch.cat(captured), torch.cat(targets)


def fitted_layer(x: Tensor, y: Tensor, classes: int, l2: float) -> tuple[Tensor, Tensor]:
    """Weight (K, F) and bias (K,) of a logistic regression on standardised `x`, folded back so that
    they apply to `x` itself."""
    mean, std = x.mean(dim=0), x.std(dim=0).clamp(min=1e-6)
    probe = fit_softmax((x - mean) / std, y, classes, l2)
    weight = probe.weight.detach() / std
    return weight, probe.bias.detach() - weight @ mean


def refit(
    linear: nn.Linear, features: Tensor, targets: Tensor, validate: Callable[[], float], higher_is_better: bool, grid: Sequence[float] = L2_GRID
) -> HeadRefit:
    """Try a regression per L2 strength in `linear` against the trained weights, by `validate()` (the
    selection metric on validation, run with the weights in place); leave the best in `linear`."""
    trained = (linear.weight.detach().clone(), linear.bias.detach().clone())
    candidates: dict[str, tuple[Tensor, Tensor]] = {TRAINED: trained}
    candidates.update({f"l2={l2:g}": fitted_layer(features, targets, linear.out_features, l2) for l2 in grid})
    scores: dict[str, float] = {}
    for name, weights in candidates.items():
        _install(linear, weights)
        scores[name] = validate()
    sign = 1.0 if higher_is_better else -1.0
    chosen = max(scores, key=lambda name: (sign * scores[name], name == TRAINED))
    _install(linear, candidates[chosen])
    return HeadRefit(chosen, scores)


def _install(linear: nn.Linear, weights: tuple[Tensor, Tensor]) -> None:
    with torch.no_grad():
        linear.weight.copy_(weights[0].to(linear.weight.dtype))
        linear.bias.copy_(weights[1].to(linear.bias.dtype))
