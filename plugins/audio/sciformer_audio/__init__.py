"""The `audio` domain: the Audio Spectrogram Transformer over Kaldi-compatible log-mel patches."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import sciformer
from sciformer.domain import DomainSpec, RecordReader, ShippedModel, WeightImporter
from sciformer.lazy import LazyFunction

from sciformer_audio.reader_options import FOLDER_OPTIONS, HDF5_OPTIONS, MANIFEST_OPTIONS
from sciformer_audio.suffixes import AUDIO_SUFFIXES, HDF5_SUFFIXES

if TYPE_CHECKING:
    from sciformer.augmentation import Augmentation
    from sciformer.config import ModelConfig
    from sciformer.records import ExampleRecords, Record

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


@sciformer.hookimpl
def sciformer_domains() -> list[DomainSpec]:
    """Declare the audio domain."""
    return [
        DomainSpec(
            name=DOMAIN,
            record_type="a waveform (sound file, HDF5 row or array) with its sample rate",
            summary="Audio Spectrogram Transformer: Kaldi log-mel (or STFT) patches, CLS + distillation tokens.",
            tasks=("sequence-classification", "sequence-regression"),
            default_config={"dim": 192, "depth": 4, "heads": 4, "norm_eps": 1e-6, "position": "learned", "pooling": "mean"},
        )
    ]


@sciformer.hookimpl
def sciformer_readers(domain: str) -> list[RecordReader] | None:
    """Sound files, folders of them, CSV manifests and HDF5 waveform datasets."""
    if domain != DOMAIN:
        return None
    return [
        RecordReader("audio-file", DOMAIN, AUDIO_SUFFIXES, read_audio_file, "one WAV / FLAC / OGG file is one record", options={}),
        RecordReader("audio-folder", DOMAIN, ("/",), read_audio_folder, "every sound file under a folder (folder_labels: class per sub-folder)", options=FOLDER_OPTIONS),
        RecordReader("audio-manifest", DOMAIN, (".csv",), read_manifest, "a CSV naming sound files, paths relative to its folder", options=MANIFEST_OPTIONS),
        RecordReader("audio-hdf5", DOMAIN, HDF5_SUFFIXES, read_hdf5, "rows of an HDF5 waveform dataset with a sample_rate attribute", options=HDF5_OPTIONS),
    ]


@sciformer.hookimpl
def sciformer_prepare_config(config: ModelConfig, records: Sequence[Record]) -> ModelConfig | None:
    """Feature normalisation statistics and class names from training records; every setting made explicit."""
    if config.domain != DOMAIN:
        return None
    from sciformer_audio.statistics import prepare_config

    return prepare_config(config, records)


@sciformer.hookimpl
def sciformer_tokenizer(config: ModelConfig) -> WaveformTokenizer | None:
    """Conditions waveforms (mono, resampled, mean removed, cropped) and batches them padded."""
    if config.domain != DOMAIN:
        return None
    from sciformer_audio.tokenizer import WaveformTokenizer

    return WaveformTokenizer(config)


@sciformer.hookimpl
def sciformer_embedder(config: ModelConfig) -> ASTEmbedder | None:
    """Front end on the device, overlapping 16x16 patches, CLS + distillation tokens, learned 2-D positions."""
    if config.domain != DOMAIN:
        return None
    from sciformer_audio.embedder import ASTEmbedder

    return ASTEmbedder(config)


@sciformer.hookimpl
def sciformer_head(config: ModelConfig, embedder: object) -> ASTHead | None:
    """AST's LayerNorm + Linear head over the pooled special tokens, for sequence tasks."""
    if config.domain != DOMAIN or config.task not in ("sequence-classification", "sequence-regression"):
        return None
    from sciformer_audio.head import ASTHead

    return ASTHead(config)


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
        ShippedModel(
            name="ast-fsdd-small",
            domain=DOMAIN,
            path=path,
            summary="Small AST (8 kHz, 64 mel bins) classifying spoken digits 0-9 of the Free Spoken Digit Dataset.",
            example=example if example.is_file() else None,
            example_options={"data_column": "file", "target_column": "digit", "root": "."},
        )
    ]


@sciformer.hookimpl
def sciformer_augmentations(config: ModelConfig) -> list[Augmentation] | None:
    """`time_shift`: each recording starts earlier or later. (SpecAugment masking is the front end's
    `freq_mask` / `time_mask` option, as it masks the filterbank the model computes.)"""
    if config.domain != DOMAIN:
        return None
    from sciformer_audio.time_shift import time_shift_augmentation

    return [time_shift_augmentation(config)]


@sciformer.hookimpl
def sciformer_examples(domain: str) -> ExampleRecords | None:
    """Tones and noise of different lengths, rates and channels, and audio the tokenizer must reject."""
    if domain != DOMAIN:
        return None
    from sciformer_audio.examples import example_records

    return example_records()
