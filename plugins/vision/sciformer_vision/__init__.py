"""The `vision` domain: images as patches on sciformer's engine (the Vision Transformer)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import click

import sciformer
from sciformer.config import ModelConfig
from sciformer.domain import DomainSpec, RecordReader, ShippedModel, WeightImporter
from sciformer.records import ExampleRecords, Record

from .array_readers import read_hdf5, read_npz
from .image_files import SUFFIXES, read_images
from .patches import PatchEmbedder
from .pixel_table import read_pixel_table
from .prepare import prepare_config
from .tokenizer import ImageTokenizer

DOMAIN = "vision"
HERE = Path(__file__).parent
DATA = HERE.parent / "data"


@sciformer.hookimpl
def sciformer_domains() -> list[DomainSpec]:
    """Declare the vision domain (a ViT-style default: pre-norm, CLS pooling, learned positions)."""
    return [
        DomainSpec(
            name=DOMAIN,
            record_type="an image: an array (H, W) or (H, W, C), channels last, any number of channels",
            summary="Vision Transformer: patch embedding, [CLS], resampled learned positions; HF / timm ViT import.",
            tasks=("sequence-classification", "sequence-regression"),
            default_config={
                "dim": 128,
                "depth": 4,
                "heads": 4,
                "norm": "pre",
                "norm_eps": 1e-6,  # timm's ViT LayerNorm epsilon
                "activation": "gelu",
                "position": "learned",
                "pooling": "cls",
                "domain_options": {"patch_size": 4},
            },
        )
    ]


@sciformer.hookimpl
def sciformer_readers(domain: str) -> list[RecordReader] | None:
    """HDF5 and .npz image stacks, image files or folders (Pillow), and pixel-per-column CSV tables."""
    if domain != DOMAIN:
        return None
    return [
        RecordReader("vision-hdf5", DOMAIN, (".h5", ".hdf5"), read_hdf5, "image stack (N,H,W[,C]) or (N,C,H,W); options dataset, layout, target_column, id_column"),
        RecordReader("vision-npz", DOMAIN, (".npz",), read_npz, "arrays `images` and optional `labels`; same options as HDF5"),
        RecordReader("vision-images", DOMAIN, (*SUFFIXES, "/"), read_images, "image files, or a folder of them (subfolder = class)"),
        RecordReader("vision-pixel-table", DOMAIN, (".csv", ".tsv"), read_pixel_table, "one image per row, pixel columns p0..pN (sklearn digits)"),
    ]


@sciformer.hookimpl
def sciformer_prepare_config(config: ModelConfig, records: Sequence[Record]) -> ModelConfig | None:
    """Learn channels, image size, pixel mean / std and class names from the training images."""
    if config.domain != DOMAIN:
        return None
    return prepare_config(config, records)


@sciformer.hookimpl
def sciformer_tokenizer(config: ModelConfig) -> ImageTokenizer | None:
    """Preprocess images as the configuration says and pad batches to whole patches."""
    if config.domain != DOMAIN:
        return None
    return ImageTokenizer(config)


@sciformer.hookimpl
def sciformer_embedder(config: ModelConfig) -> PatchEmbedder | None:
    """Strided-convolution patches, [CLS] and learned positions resampled to each image's grid."""
    if config.domain != DOMAIN:
        return None
    return PatchEmbedder(config)


@sciformer.hookimpl
def sciformer_examples(domain: str) -> ExampleRecords | None:
    """Real MNIST and scikit-learn digits of several sizes, and records the tokenizer rejects."""
    if domain != DOMAIN:
        return None
    from .examples import example_records

    return example_records()


@sciformer.hookimpl
def sciformer_weight_importers() -> list[WeightImporter]:
    """`hf-vit` (transformers ViT directories) and `timm-vit` (timm ViT state dicts)."""
    from .hf_vit import import_hf_vit
    from .timm_vit import import_timm_vit

    return [
        WeightImporter("hf-vit", DOMAIN, "transformers ViTModel / ViTForImageClassification directory (config.json + weights)", import_hf_vit),
        WeightImporter("timm-vit", DOMAIN, "timm VisionTransformer state dict (.safetensors / .pth, or a folder with config.json)", import_timm_vit),
    ]


@sciformer.hookimpl
def sciformer_models() -> list[ShippedModel]:
    """Small ViTs trained on MNIST and on scikit-learn's digits (recipes/ in the plugin folder)."""
    return [
        ShippedModel(
            name="vit-mnist-small",
            domain=DOMAIN,
            path=HERE / "models" / "vit-mnist-small",
            summary="ViT (dim 64, depth 4, 7x7 patches) trained on MNIST 28x28; 10 digit classes.",
            example=DATA / "mnist_100.npz",
            example_options={"id_column": "t10k_index"},
        ),
        ShippedModel(
            name="vit-digits-small",
            domain=DOMAIN,
            path=HERE / "models" / "vit-digits-small",
            summary="ViT (dim 64, depth 4, 2x2 patches) trained on scikit-learn's 8x8 digits; 10 classes.",
            example=DATA / "digits_20.csv",
            example_options={"id_column": "row"},
        ),
    ]


@sciformer.hookimpl
def sciformer_cli_commands() -> list[click.Command]:
    """The `sciformer vision` group: attention maps and rollout over an image."""
    from .cli import vision

    return [vision]
