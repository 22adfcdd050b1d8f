"""ALiBi for any sciformer domain, opted into per model with `domain_options: {alibi: true}`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sciformer

if TYPE_CHECKING:
    from sciformer.config import ModelConfig

    from .alibi import AlibiBias

OPTION = "alibi"


@sciformer.hookimpl
def sciformer_attention_biases(config: ModelConfig) -> list[AlibiBias] | None:
    """An ALiBi bias for models whose configuration sets `domain_options.alibi`, whatever their domain."""
    if not config.option(OPTION, False):
        return None
    from .alibi import AlibiBias

    return [AlibiBias(config.heads)]
