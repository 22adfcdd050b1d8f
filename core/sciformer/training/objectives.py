"""Pre-training objectives: BERT-style masking for masked LM, and masked patch reconstruction for any
domain whose tokens come from patches (images, spectrograms, gridded fields).

Masked patch reconstruction (the `masked-patches` task) replaces a fraction of the patches with a
learned mask vector and reconstructs, with a linear head, what they were; the loss is the mean squared
error over masked patches only (the SimMIM recipe). The target is, in this order of preference:

1. what the embedder offers through this optional protocol:

       class MyPatchEmbedder(nn.Module):
           token_target_dim: int                          # P, e.g. channels * patch * patch
           def token_targets(self, batch) -> Tensor: ...  # (B, T, P), aligned with the output tokens

2. the input patches of the embedder's patch convolution, when it has exactly one `nn.Conv2d` whose
   output grid, flattened row by row, makes its last tokens (the ViT / AST / FourCastNet layout):
   the conv's input is unfolded with its kernel and stride, so overlapping patches work too;
3. the embedder's own output vectors (detached), which any embedder has but which teach less.

Where the embedder has one patch convolution, the mask vector replaces patches in its output, before
the embedder adds positions (SimMIM's place: a masked token still knows where it is; padding patches
do not count); otherwise it replaces tokens of the embedder's output that are in its `pool_mask`
(real, non-special tokens). The head is a training device: the checkpoint of a masked-patches run is
the encoder alone (task None), ready for `init:` fine-tuning and for embeddings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sciformer.build import build_model
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch
from sciformer.domain import Tokenizer, VocabularyTokenizer
from sciformer.engine.context import Embedded
from sciformer.engine.heads import IGNORE_INDEX, Head
from sciformer.engine.model import SciformerModel
from sciformer.errors import ConfigError
from sciformer.plugins import PluginHost

MASKED_PATCHES = "masked-patches"
#: Tasks whose head only serves pre-training: their checkpoints hold the encoder without it.
PRETRAINING_TASKS = (MASKED_PATCHES,)
DEFAULT_MASK_RATIO = 0.6  # SimMIM's best ratio for mask-token replacement with a linear head


#: Chooses the tokens masked-LM training masks: (candidates (B, T) bool, probability, generator) -> chosen (B, T) bool.
MaskingPolicy = Callable[[Tensor, float, torch.Generator], Tensor]


def token_masking(candidates: Tensor, probability: float, generator: torch.Generator) -> Tensor:
    """Each candidate token on its own, with `probability` (BERT's choice)."""
    return (torch.rand(candidates.shape, generator=generator) < probability) & candidates


def group_masking(groups: Tensor) -> MaskingPolicy:
    """Whole groups at once: each (row, group id) of `groups` (B, T) is drawn once, with `probability`,
    and all its candidate tokens follow that draw (spans, k-mers); about `probability` of the tokens are chosen."""

    def choose(candidates: Tensor, probability: float, generator: torch.Generator) -> Tensor:
        rows = torch.arange(groups.shape[0], device=groups.device)[:, None].expand_as(groups)
        _, group_index = torch.unique(torch.stack((rows, groups.long())).flatten(1), dim=1, return_inverse=True)  # (B * T,)
        drawn = torch.rand(int(group_index.max()) + 1, generator=generator) < probability
        return drawn[group_index].view(groups.shape) & candidates

    return choose


def masking_policy(tokenizer: Tokenizer, batch: TokenBatch) -> MaskingPolicy:
    """The tokenizer's choice for this batch: `group_masking` of its `masking_groups`, else `token_masking`."""
    groups = tokenizer.masking_groups(batch)
    return token_masking if groups is None else group_masking(groups)


def mask_tokens(batch: TokenBatch, tokenizer: VocabularyTokenizer, probability: float, generator: torch.Generator) -> TokenBatch:
    """Choose `probability` of the real, non-special tokens (each alone, or by the tokenizer's masking
    groups: `masking_policy`); of those 80% become <mask>, 10% a random ordinary token (never a special
    one or <mask>), 10% stay, decided token by token. Targets are the original ids there and
    IGNORE_INDEX elsewhere."""
    ids = batch.ids
    candidates = batch.padding_mask.clone()
    for special in tokenizer.special_ids:
        candidates &= ids != special
    chosen = masking_policy(tokenizer, batch)(candidates, probability, generator)
    targets = torch.where(chosen, ids, torch.full_like(ids, IGNORE_INDEX))
    roll = torch.rand(ids.shape, generator=generator)
    masked = ids.clone()
    masked[chosen & (roll < 0.8)] = tokenizer.mask_id
    randomised = chosen & (roll >= 0.8) & (roll < 0.9)
    excluded = {*tokenizer.special_ids, tokenizer.mask_id}
    ordinary = torch.tensor([i for i in range(tokenizer.vocab_size) if i not in excluded], dtype=ids.dtype)
    masked[randomised] = ordinary[torch.randint(len(ordinary), ids.shape, generator=generator)][randomised]
    return replace(batch, ids=masked, targets=targets)


def choose_masked(candidates: Tensor, ratio: float) -> Tensor:
    """(B, T) bool: `ratio` of each row's candidate tokens (rounded, at least one where a row has
    any), chosen uniformly with the global random generator."""
    scores = torch.rand(candidates.shape, device=candidates.device).masked_fill(~candidates, 2.0)  # (B, T)
    available = candidates.sum(dim=1, keepdim=True)  # (B, 1)
    wanted = (available.float() * ratio).round().clamp(min=1).long().minimum(available)  # (B, 1)
    rank = scores.argsort(dim=1).argsort(dim=1)  # (B, T): place of each token in its row's order
    return (rank < wanted) & candidates


class MaskedPatchHead(Head):
    """Masks patch tokens with a learned vector and reconstructs their targets with a linear layer;
    MSE over the masked tokens.

    Where the embedder has one patch `nn.Conv2d`, the mask vector replaces patches in the convolution's
    output, before the embedder adds positions (so a masked token still knows where it is); otherwise
    it replaces tokens of the embedder's output. Both happen in forward hooks. The forward pass keeps
    the chosen mask and the targets until `loss` / `evaluate` read them, so those must follow the
    forward pass that produced `prediction`, as the trainer calls them.
    """

    def __init__(self, config: ModelConfig, embedder: nn.Module, mask_ratio: float = DEFAULT_MASK_RATIO) -> None:
        super().__init__()
        if not 0.0 < mask_ratio < 1.0:
            raise ConfigError(f"training.mask_ratio must lie in (0, 1), got {mask_ratio}")
        self.mask_ratio = mask_ratio
        convolutions = [m for m in embedder.modules() if isinstance(m, nn.Conv2d)]
        conv = convolutions[0] if len(convolutions) == 1 else None
        # the patch convolution's geometry, not the module itself (a second owner would duplicate its weights)
        self._unfold = {"kernel_size": conv.kernel_size, "dilation": conv.dilation, "padding": conv.padding, "stride": conv.stride} if conv else {}
        if callable(getattr(embedder, "token_targets", None)):
            self.target_source, self.target_dim = "protocol", int(embedder.token_target_dim)
        elif conv is not None:
            self.target_source, self.target_dim = "patches", conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
        else:
            self.target_source, self.target_dim = "vectors", config.dim
        self.mask_token = nn.Parameter(torch.zeros(conv.out_channels if conv is not None else config.dim))
        nn.init.normal_(self.mask_token, std=0.02)
        self.decoder = nn.Linear(config.dim, self.target_dim)
        self._conv_input: Tensor | None = None  # (B, C, H, W), kept by the convolution hook
        self._grid_masked: Tensor | None = None  # (B, L) patches masked in the convolution's output
        self._masked: Tensor | None = None  # (B, T) bool, masked tokens that count in the loss
        self._targets: Tensor | None = None  # (B, T, P)
        if conv is not None:
            conv.register_forward_hook(self._mask_patches)
        embedder.register_forward_hook(self._mask_embedded)

    def _mask_patches(self, conv: nn.Module, args: tuple, output: Tensor) -> Tensor:
        """Forward hook on the patch convolution: keep its input, put the mask vector in place of
        `mask_ratio` of the patches of its (B, D, GH, GW) output."""
        self._conv_input = args[0]
        size, _dim, rows, cols = output.shape
        grid = choose_masked(torch.ones(size, rows * cols, dtype=torch.bool, device=output.device), self.mask_ratio)  # (B, L)
        self._grid_masked = grid
        vector = self.mask_token.to(output.dtype)[None, :, None, None]  # (1, D, 1, 1)
        return torch.where(grid.view(size, 1, rows, cols), vector, output)

    def _conv_patches(self, tokens: int) -> Tensor:
        """(B, T, P): the convolution's L input patches on the last L tokens, zeros before them."""
        patches = F.unfold(self._conv_input.detach().float(), **self._unfold).transpose(1, 2)  # (B, L, P)
        targets = patches.new_zeros(patches.shape[0], tokens, patches.shape[2])
        targets[:, tokens - patches.shape[1] :] = patches
        return targets

    def _mask_embedded(self, embedder: nn.Module, args: tuple, embedded: Embedded) -> Embedded | None:
        """Forward hook on the embedder: fix the masked tokens and their targets; without a patch
        convolution, put the mask vector in their place."""
        batch = args[0]
        tokens = embedded.padding_mask.shape[1]
        hidden = embedded.hidden
        if self._unfold:  # masked in the convolution's output: its grid is the last L tokens
            grid = self._grid_masked
            if grid.shape[1] > tokens:
                raise ConfigError(f"masked-patches: the patch convolution makes {grid.shape[1]} patches but the embedder gives {tokens} tokens")
            masked = torch.zeros_like(embedded.padding_mask)
            masked[:, tokens - grid.shape[1] :] = grid
            masked &= embedded.padding_mask  # patches of padding do not count
        else:
            masked = choose_masked(embedded.pool_mask, self.mask_ratio)
        if self.target_source == "protocol":
            targets = embedder.token_targets(batch)
            if targets.shape[:2] != masked.shape or targets.shape[-1] != self.target_dim:
                raise ConfigError(f"{type(embedder).__name__}.token_targets gave {tuple(targets.shape)}; expected (B, T, {self.target_dim}) with (B, T) = {tuple(masked.shape)}")
        elif self.target_source == "patches":
            targets = self._conv_patches(tokens)
        else:
            targets = hidden
        self._masked, self._targets = masked, targets.detach().float()
        if self._unfold:
            return None
        return embedded._replace(hidden=torch.where(masked[..., None], self.mask_token.to(hidden.dtype), hidden))

    def forward(self, hidden: Tensor, embedded: Embedded, batch: TokenBatch) -> Tensor:
        """(B, T, D) -> reconstructions (B, T, P)."""
        return self.decoder(hidden)

    def _errors(self, prediction: Tensor) -> Tensor:
        """Squared errors of the masked tokens, (N, P)."""
        if self._masked is None or self._targets is None:
            raise ConfigError("masked-patches: loss asked for before a forward pass chose the masked tokens")
        return (prediction.float()[self._masked] - self._targets[self._masked]) ** 2

    def loss(self, prediction: Tensor, batch: TokenBatch) -> Tensor:
        """Mean squared error over the masked tokens."""
        return self._errors(prediction).mean()

    def evaluate(self, prediction: Tensor, batch: TokenBatch) -> dict[str, tuple[float, int]]:
        """Summed squared error and the number of values over the masked tokens."""
        errors = self._errors(prediction)
        return {"loss": (float(errors.sum()), errors.numel())}


def build_training_model(config: ModelConfig, host: PluginHost, mask_ratio: float = DEFAULT_MASK_RATIO) -> SciformerModel:
    """`build_model`, plus the pre-training tasks the trainer brings (an encoder with their head)."""
    if config.task != MASKED_PATCHES:
        return build_model(config, host)
    model = build_model(config.replace(task=None), host)
    model.head = MaskedPatchHead(config, model.embedder, mask_ratio)
    model.config = config
    return model


def encoder_copy(model: SciformerModel, host: PluginHost) -> SciformerModel:
    """A pre-training model's encoder as an ordinary model (task None, no head), weights copied."""
    encoder = build_model(model.config.replace(task=None), host)
    encoder.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("head.")})
    return encoder
