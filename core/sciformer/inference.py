"""The one batched-inference loop: token-budget batches on the model's device, bfloat16 autocast when
asked for, inference mode.

Scoring (`sciformer score`, `sciformer.load(...).predict`), the protein tools (embeddings, residue
classes, variant scores, contacts) and the molecule evaluation all run models through `run_encoded`,
with one token budget per device unless the caller names one. The trainer's and the contrastive loop's
evaluations run under the same `inference_context`, over their own plans of batches: every rank of a
distributed run takes its share, and masked-LM batches are masked from their seed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from sciformer.data.batch import TokenBatch
from sciformer.data.budget import token_budget_batches
from sciformer.domain import Tokenizer
from sciformer.engine.model import ModelOutput, SciformerModel

# Token budget per batch when none is given. On the CPU, activations of 4,096 tokens stay in cache:
# ESM-2 35M scores 1.44x faster than at 16,384, small models up to 1.16x (benchmarks/NOTES.md).
DEFAULT_BATCH_TOKENS = {"cpu": 4096, "cuda": 16384}
DTYPES = ("float32", "bfloat16", "int8")  # int8: dynamic INT8 Linear layers, CPU (sciformer.quantization)


def default_batch_tokens(device: str | torch.device) -> int:
    """The token budget per batch for a device when none is given."""
    return DEFAULT_BATCH_TOKENS["cuda" if torch.device(device).type == "cuda" else "cpu"]


def bfloat16_autocast(device: torch.device, dtype: str) -> torch.autocast:
    """bfloat16 autocast on `device` when `dtype` is "bfloat16", a no-op otherwise (training and inference alike)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == "bfloat16")


def inference_context(device: torch.device, dtype: str) -> contextlib.AbstractContextManager[None]:
    """Inference mode, and bfloat16 autocast when `dtype` is "bfloat16": how every forward pass of inference
    runs, the trainer's evaluation included."""
    stack = contextlib.ExitStack()
    stack.enter_context(torch.inference_mode())
    stack.enter_context(bfloat16_autocast(device, dtype))
    return stack


def run_encoded(
    model: SciformerModel,
    tokenizer: Tokenizer,
    encoded: Sequence[Any],
    record_ids: Sequence[str],
    *,
    batch_tokens: int | None = None,
    dtype: str = "float32",
    hidden_states: bool = False,
    need_weights: bool = False,
    between_batches: Callable[[], None] | None = None,
) -> Iterator[tuple[list[int], TokenBatch, ModelOutput]]:
    """Run encodings through `model` in token-budget batches; yields (indices into `encoded`, batch, output).

    Batches go to the model's device; `dtype` "bfloat16" runs them under bfloat16 autocast. Only the
    forward pass runs in inference mode (`inference_context`); a caller that runs the model again on an
    output (a scorer's multi-step forecast) enters the same context.
    `between_batches` is called before each batch (a stop request raises there).
    """
    device = next(model.parameters()).device
    lengths = [tokenizer.num_tokens(e) for e in encoded]
    for rows in token_budget_batches(lengths, batch_tokens or default_batch_tokens(device)):
        if between_batches is not None:
            between_batches()
        batch = tokenizer.collate([encoded[i] for i in rows], [record_ids[i] for i in rows]).to(device)
        with inference_context(device, dtype):
            output = model(batch, output_hidden_states=hidden_states, need_weights=need_weights)
        yield rows, batch, output
