"""Softmax regression on fixed features, as the classification baseline scripts fit it."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn


def fit_softmax(x: Tensor, y: Tensor, classes: int, l2: float) -> nn.Linear:
    """Multinomial logistic regression of `y` (N,) on `x` (N, F) with an L2 penalty on the weights, by full-batch L-BFGS."""
    torch.manual_seed(0)
    linear = nn.Linear(x.shape[1], classes)
    optimizer = torch.optim.LBFGS(linear.parameters(), max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(linear(x), y) + l2 * linear.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return linear


def accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Share of rows whose highest logit is their class."""
    with torch.no_grad():
        return float((model(x).argmax(dim=-1) == y).float().mean())


def standardised(features: Mapping[str, Tensor], reference: str = "train") -> dict[str, Tensor]:
    """Each part's (N, F) features scaled by the mean and standard deviation of the `reference` part."""
    mean, std = features[reference].mean(dim=0), features[reference].std(dim=0).clamp(min=1e-6)
    return {name: (values - mean) / std for name, values in features.items()}
