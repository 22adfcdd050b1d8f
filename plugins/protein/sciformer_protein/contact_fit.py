"""Fitting ESM's contact regression on a model's attention, and precision of contact maps.

As ESM-2 does: a logistic regression over the symmetrised, APC-corrected attention maps of every
layer and head (`contacts.contact_features`), fitted on residue pairs at least 6 apart whose label is
a Cβ contact (< 8 Å) in a solved structure. The fit standardises the features, minimises the mean
log-loss plus a small L2 penalty with L-BFGS, and folds the scaling back into one linear layer, the
checkpoint's `embedder.contact_head`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sciformer.engine.model import SciformerModel
from sciformer.errors import ConfigError
from sciformer.records import Record
from torch import Tensor

from .contacts import window_features
from .embedding import ContactRegression
from .structures import Chain, contact_map
from .tokenizer import ProteinTokenizer

MIN_SEPARATION = 6  # pairs the regression is fitted on, as ESM's
LONG_RANGE = 24
SCOPES = (("long", LONG_RANGE), ("all", MIN_SEPARATION))  # precision of long-range pairs, and of all pairs fitted on


@dataclass(frozen=True)
class ContactExample:
    """One chain's attention features (L, L, C) and its true contacts (L, L)."""

    name: str
    features: Tensor
    contacts: Tensor


def chain_example(model: SciformerModel, tokenizer: ProteinTokenizer, chain: Chain) -> ContactExample:
    """The chain's contact features, averaged where windows overlap, beside its Cβ contacts."""
    length = len(chain.sequence)
    total: Tensor | None = None
    count = torch.zeros(length, length, 1)
    for residues, features in window_features(model, tokenizer, Record(chain.name, chain.sequence)):
        if total is None:
            total = torch.zeros(length, length, features.shape[-1])
        total[residues[:, None], residues[None, :]] += features
        count[residues[:, None], residues[None, :]] += 1
    assert total is not None
    return ContactExample(chain.name, total / count.clamp(min=1), torch.from_numpy(contact_map(chain)))


def pair_mask(length: int, min_separation: int = MIN_SEPARATION) -> Tensor:
    """(L, L) booleans: the pairs i < j with j - i >= min_separation."""
    index = torch.arange(length)
    return (index[None, :] - index[:, None]) >= min_separation


def fit_contact_regression(examples: list[ContactExample], l2: float = 1e-3, steps: int = 200) -> ContactRegression:
    """A logistic regression from contact features to contacts over the pairs at least 6 apart."""
    features = torch.cat([e.features[pair_mask(len(e.contacts))] for e in examples]).double()
    labels = torch.cat([e.contacts[pair_mask(len(e.contacts))] for e in examples]).double()
    mean, scale = features.mean(0), features.std(0).clamp(min=1e-8)
    standard = (features - mean) / scale
    weight = torch.zeros(features.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=steps, line_search_fn="strong_wolfe")

    def loss() -> Tensor:
        optimizer.zero_grad()
        value = torch.nn.functional.binary_cross_entropy_with_logits(standard @ weight + bias, labels) + l2 * weight.square().sum()
        value.backward()
        return value

    optimizer.step(loss)
    head = ContactRegression(features.shape[1])
    with torch.no_grad():
        head.regression.weight.copy_((weight / scale).float()[None, :])
        head.regression.bias.copy_((bias - (weight * mean / scale).sum()).float()[None])
    return head


def precision_at_l(scores: Tensor | np.ndarray, contacts: Tensor | np.ndarray, min_separation: int = LONG_RANGE, divisor: int = 5) -> float:
    """Share of true contacts among the L / divisor highest-scoring pairs at least `min_separation` apart."""
    scores, contacts = torch.as_tensor(np.asarray(scores)), torch.as_tensor(np.asarray(contacts))
    mask = pair_mask(len(contacts), min_separation) & torch.isfinite(scores)
    top = max(1, len(contacts) // divisor)
    order = torch.argsort(scores[mask], descending=True)[:top]
    return float(contacts[mask][order].double().mean()) if len(order) else float("nan")


def contact_share(contacts: Tensor, min_separation: int) -> float:
    """Share of contacts among the pairs at least `min_separation` apart: the expected precision of a random ranking."""
    return float(contacts[pair_mask(len(contacts), min_separation)].double().mean())


def example_scores(example: ContactExample, head: ContactRegression | None) -> Tensor:
    """(L, L) scores of one example: the head's probabilities, or the mean APC feature without a head."""
    with torch.inference_mode():
        return head(example.features).float() if head is not None else example.features.mean(-1)


@dataclass(frozen=True)
class ContactFit:
    """A fitted head and its precision at L/5 per chain (long-range and all pairs >= 6 apart): regression, APC, random."""

    head: ContactRegression
    fitted_on: tuple[str, ...]
    precision: dict[str, dict[str, float]]


def fit_contacts(model: SciformerModel, tokenizer: ProteinTokenizer, chains: list[Chain], held_out: set[str]) -> ContactFit:
    """Fit the contact regression on every chain not in `held_out` (chain names) and measure every chain."""
    examples = [chain_example(model, tokenizer, chain) for chain in chains]
    fitted = [e for e in examples if e.name not in held_out]
    if not fitted:
        raise ConfigError("every structure is held out; nothing to fit the contact regression on")
    head = fit_contact_regression(fitted)
    precision = {}
    for example in examples:
        regression, unsupervised = example_scores(example, head), example_scores(example, None)
        precision[example.name] = {
            "held_out": float(example.name in held_out),
            **{f"{name}_P@L/5_{scope}": precision_at_l(scores, example.contacts, separation) for name, scores in (("regression", regression), ("apc", unsupervised)) for scope, separation in SCOPES},
            **{f"random_P@L/5_{scope}": contact_share(example.contacts, separation) for scope, separation in SCOPES},
        }
    return ContactFit(head, tuple(e.name for e in fitted), precision)


def install_contact_head(model: SciformerModel, head: ContactRegression) -> SciformerModel:
    """`model` with `head` as its embedder's contact regression, and its configuration saying so."""
    model.embedder.contact_head = head
    model.config = model.config.replace(domain_options={**model.config.domain_options, "contact_head": True})
    return model
