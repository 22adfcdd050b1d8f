"""Records of audio -> TokenBatches of padded waveforms; the features themselves are computed on the device.

The tokenizer conditions each record on the CPU (mono, the model's sample rate, mean removed, cropped
to what `max_length` frames cover) and batches the waveforms right-padded with their lengths in
`extras["num_samples"]`. The embedder turns them into filterbanks batched on the model's device.
Every record yields the same number of tokens (CLS, distillation, one per patch), so no token is padding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from sciformer.config import ModelConfig
from sciformer.data.batch import TokenBatch, pad_sequences
from sciformer.domain import Tokenizer
from sciformer.errors import BadRecordError
from sciformer.records import Record
from sciformer.targets import encode_target
from torch import Tensor

from sciformer_audio.settings import AudioSettings
from sciformer_audio.waveform import condition

NUM_SAMPLES = "num_samples"  # extras key: (B,) real samples of each padded waveform



class Encoding(NamedTuple):
    """One record conditioned: the samples the model hears, its target, and its whole length if it was cropped."""

    samples: Tensor
    target: int | float | None
    cropped_from: int | None = None


class WaveformTokenizer(Tokenizer):
    """Conditions audio records for the Audio Spectrogram Transformer (see `waveform.condition`)."""

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self.settings = AudioSettings.from_config(config)

    def encode(self, record: Record) -> Encoding:
        """A record -> (float32 waveform at the model's rate, target); bad audio raises BadRecordError."""
        if record.error:
            raise BadRecordError(record.id, record.error)
        s = self.settings
        samples = condition(record.id, record.data, s.sample_rate, s.window_size, s.max_clipped_fraction)
        cropped_from = samples.shape[0] if samples.shape[0] > s.max_samples else None
        return Encoding(torch.from_numpy(samples[: s.max_samples]), encode_target(record, self.config), cropped_from)

    def collate(self, encoded: Sequence[Encoding], record_ids: Sequence[str]) -> TokenBatch:
        """Right-pad waveforms into `features` (B, S); lengths go to `extras["num_samples"]`."""
        waveforms, _ = pad_sequences([e.samples for e in encoded], value=0.0)
        lengths = torch.tensor([e.samples.shape[0] for e in encoded], dtype=torch.long)
        targets = [e.target for e in encoded]
        target_tensor = torch.tensor(targets) if all(t is not None for t in targets) else None
        padding_mask = torch.ones(len(encoded), self.settings.num_tokens, dtype=torch.bool)
        return TokenBatch(
            padding_mask=padding_mask, record_ids=list(record_ids), features=waveforms, extras={NUM_SAMPLES: lengths}, targets=target_tensor
        )

    def num_tokens(self, encoded: Encoding) -> int:
        """Every record has the same tokens: CLS, distillation and the patch grid."""
        return self.settings.num_tokens

    def warning(self, encoded: Encoding) -> str | None:
        """Says that a recording was cropped to the seconds the model's `max_length` frames cover."""
        if encoded.cropped_from is None:
            return None
        rate = self.settings.sample_rate
        return f"cropped: the model heard the first {self.settings.max_samples / rate:.2f} s of {encoded.cropped_from / rate:.2f} s (max_length {self.settings.max_length} frames)"
