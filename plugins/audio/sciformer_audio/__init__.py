"""The `audio` domain: the Audio Spectrogram Transformer over Kaldi-compatible log-mel patches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import sciformer
from sciformer.domain import Domain, RecordReader, ShippedModel, WeightImporter
from sciformer.lazy import LazyFunction

from sciformer_audio.reader_options import FOLDER_OPTIONS, HDF5_OPTIONS, MANIFEST_OPTIONS
from sciformer_audio.suffixes import AUDIO_SUFFIXES, HDF5_SUFFIXES

if TYPE_CHECKING:
    from sciformer.augmentation import Augmentation
    from sciformer.config import ModelConfig
    from sciformer.records import ExampleRecords, Record
    from torch import nn

    from sciformer_audio.embedder import ASTEmbedder
    from sciformer_audio.head import ASTHead
    from sciformer_audio.tokenizer import WaveformTokenizer

DOMAIN = "audio"
HERE = Path(__file__).parent
DATA = HERE.parent / "data"  # the plugin's small FSDD subset (present in a source checkout)

# readers and importers are imported when used, so that listing them imports no audio library
read_audio_file = LazyFunction("sciformer_audio.reader:read_audio_file")
read_audio_folder = LazyFunction("sciformer_audio.reader:read_audio_folder")
read_manifest = LazyFunction("sciformer_audio.reader:read_manifest")
read_hdf5 = LazyFunction("sciformer_audio.reader:read_hdf5")
import_hf_ast = LazyFunction("sciformer_audio.hf_ast:import_hf_ast")


class AudioDomain(Domain):
    """Waveforms as log-mel patches: the Audio Spectrogram Transformer."""

    name = DOMAIN
    record_type = "a waveform (sound file, HDF5 row or array) with its sample rate"
    summary = "Audio Spectrogram Transformer: Kaldi log-mel (or STFT) patches, CLS + distillation tokens."
    tasks = ("sequence-classification", "sequence-regression")
    default_config: ClassVar[Mapping[str, Any]] = {"dim": 192, "depth": 4, "heads": 4, "norm_eps": 1e-6, "position": "learned", "pooling": "mean"}

    def readers(self) -> list[RecordReader]:
        """Sound files, folders of them, CSV manifests and HDF5 waveform datasets."""
        return [
            RecordReader("audio-file", DOMAIN, AUDIO_SUFFIXES, read_audio_file, "one WAV / FLAC / OGG file is one record", options={}),
            RecordReader("audio-folder", DOMAIN, ("/",), read_audio_folder, "every sound file under a folder (folder_labels: class per sub-folder)", options=FOLDER_OPTIONS),
            RecordReader("audio-manifest", DOMAIN, (".csv",), read_manifest, "a CSV naming sound files, paths relative to its folder", options=MANIFEST_OPTIONS),
            RecordReader("audio-hdf5", DOMAIN, HDF5_SUFFIXES, read_hdf5, "rows of an HDF5 waveform dataset with a sample_rate attribute", options=HDF5_OPTIONS),
        ]

    def prepare_config(self, config: ModelConfig, records: Sequence[Record]) -> ModelConfig:
        """Feature normalisation statistics from training records; every setting made explicit."""
        from sciformer_audio.statistics import prepare_config

        return prepare_config(config, records)

    def tokenizer(self, config: ModelConfig) -> WaveformTokenizer:
        """Conditions waveforms (mono, resampled, mean removed, cropped) and batches them padded."""
        from sciformer_audio.tokenizer import WaveformTokenizer

        return WaveformTokenizer(config)

    def embedder(self, config: ModelConfig) -> ASTEmbedder:
        """Front end on the device, overlapping 16x16 patches, CLS + distillation tokens, learned 2-D positions."""
        from sciformer_audio.embedder import ASTEmbedder

        return ASTEmbedder(config)

    def head(self, config: ModelConfig, embedder: nn.Module) -> ASTHead | None:
        """AST's LayerNorm + Linear head over the pooled special tokens, for sequence tasks."""
        if config.task not in ("sequence-classification", "sequence-regression"):
            return None
        from sciformer_audio.head import ASTHead

        return ASTHead(config)

    def augmentations(self, config: ModelConfig) -> list[Augmentation]:
        """`time_shift`: each recording starts earlier or later; `speed`: each plays faster or slower.
        (SpecAugment masking is the front end's `freq_mask` / `time_mask` option, as it masks the
        filterbank the model computes.)"""
        from sciformer_audio.speed import speed_augmentation
        from sciformer_audio.time_shift import time_shift_augmentation

        return [time_shift_augmentation(config), speed_augmentation()]

    def examples(self) -> ExampleRecords:
        """Tones and noise of different lengths, rates and channels, and audio the tokenizer must reject."""
        from sciformer_audio.examples import example_records

        return example_records()


@sciformer.hookimpl
def sciformer_domains() -> list[Domain]:
    """Declare the audio domain."""
    return [AudioDomain()]


@sciformer.hookimpl
def sciformer_weight_importers() -> list[WeightImporter]:
    """`hf-ast`: transformers AST directories (config.json + safetensors or bin, preprocessor_config.json)."""
    return [WeightImporter("hf-ast", DOMAIN, "transformers Audio Spectrogram Transformer directory", import_hf_ast)]


@sciformer.hookimpl
def sciformer_models() -> list[ShippedModel]:
    """`ast-fsdd-small`: a small AST that recognises spoken digits (recipes/ast-fsdd-small.yaml)."""
    path = HERE / "models" / "ast-fsdd-small"
    if not (path / "config.json").is_file():
        return []
    example = DATA / "fsdd_sample.csv"
    return [
        ShippedModel.in_folder(path.parent, path.name, DOMAIN, "Small AST (8 kHz, 64 mel bins) classifying spoken digits 0-9 of the Free Spoken Digit Dataset.", example if example.is_file() else None, {"data_column": "file", "target_column": "digit", "root": "."})
    ]
