"""The `vision` domain: images as patches on sciformer's engine (the Vision Transformer and the Swin transformer)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import sciformer
from sciformer.cli.lazy import LazyCommand
from sciformer.domain import Domain, RecordReader, ShippedModel, WeightImporter
from sciformer.lazy import LazyFunction

from .reader_options import IMAGE_OPTIONS, PIXEL_TABLE_OPTIONS, STACK_OPTIONS
from .suffixes import SUFFIXES

if TYPE_CHECKING:
    import click
    from sciformer.augmentation import Augmentation
    from sciformer.config import ModelConfig
    from sciformer.engine.parts import MixerParts
    from sciformer.records import ExampleRecords, Record

    from .patches import PatchEmbedder
    from .swin_attention import WindowAttention
    from .swin_embedding import SwinEmbedder
    from .swin_merging import PatchMerging
    from .swin_v2_attention import CosineWindowAttention
    from .tokenizer import ImageTokenizer

DOMAIN = "vision"
HERE = Path(__file__).parent
DATA = HERE.parent / "data"

# readers and importers are imported when used, so that listing them imports neither h5py, Pillow nor torch
read_hdf5 = LazyFunction("sciformer_vision.array_readers:read_hdf5")
read_npz = LazyFunction("sciformer_vision.array_readers:read_npz")
read_images = LazyFunction("sciformer_vision.image_files:read_images")
read_pixel_table = LazyFunction("sciformer_vision.pixel_table:read_pixel_table")
import_hf_vit = LazyFunction("sciformer_vision.hf_vit:import_hf_vit")
import_timm_vit = LazyFunction("sciformer_vision.timm_vit:import_timm_vit")
import_hf_swin = LazyFunction("sciformer_vision.hf_swin:import_hf_swin")
import_hf_swinv2 = LazyFunction("sciformer_vision.hf_swinv2:import_hf_swinv2")
import_timm_swin = LazyFunction("sciformer_vision.timm_swin:import_timm_swin")


class VisionDomain(Domain):
    """Images as patches: a ViT-style default (pre-norm, CLS pooling, learned positions), or a Swin
    transformer when `domain_options.window_size` is set (stages from `stage_depths` / `stage_heads`;
    Swin V2 with `domain_options.swin_version: 2`)."""

    name = DOMAIN
    record_type = "an image: an array (H, W) or (H, W, C), channels last, any number of channels"
    summary = "Vision Transformer and Swin V1 / V2: patch embedding, [CLS] or shifted windows; HF / timm ViT and HF Swin import."
    tasks = ("sequence-classification", "sequence-regression")
    default_config: ClassVar[Mapping[str, Any]] = {
        "dim": 128,
        "depth": 4,
        "heads": 4,
        "norm": "pre",
        "norm_eps": 1e-6,  # timm's ViT LayerNorm epsilon
        "activation": "gelu",
        "position": "learned",
        "pooling": "cls",
        "domain_options": {"patch_size": 4},
    }

    def readers(self) -> list[RecordReader]:
        """HDF5 and .npz image stacks, image files or folders (Pillow), and pixel-per-column CSV tables."""
        return [
            RecordReader("vision-hdf5", DOMAIN, (".h5", ".hdf5"), read_hdf5, "image stack (N,H,W[,C]) or (N,C,H,W)", options=STACK_OPTIONS),
            RecordReader("vision-npz", DOMAIN, (".npz",), read_npz, "arrays `images` and optional `labels`", options=STACK_OPTIONS),
            RecordReader("vision-images", DOMAIN, (*SUFFIXES, "/"), read_images, "image files, or a folder of them (subfolder = class)", options=IMAGE_OPTIONS),
            RecordReader("vision-pixel-table", DOMAIN, (".csv", ".tsv"), read_pixel_table, "one image per row, pixel columns p0..pN (sklearn digits)", options=PIXEL_TABLE_OPTIONS),
        ]

    def prepare_config(self, config: ModelConfig, records: Sequence[Record]) -> ModelConfig:
        """Learn channels, image size and pixel mean / std from the training images."""
        from .prepare import prepare_config

        return prepare_config(config, records)

    def tokenizer(self, config: ModelConfig) -> ImageTokenizer:
        """Preprocess images as the configuration says and pad batches to whole patches."""
        from .tokenizer import ImageTokenizer

        return ImageTokenizer(config)

    def embedder(self, config: ModelConfig) -> PatchEmbedder | SwinEmbedder:
        """Strided-convolution patches, [CLS] and learned positions resampled to each image's grid (a ViT),
        or normalised patches laid out on their grid (a Swin)."""
        from .geometry import is_swin

        if is_swin(config):
            from .swin_embedding import SwinEmbedder

            return SwinEmbedder(config)
        from .patches import PatchEmbedder

        return PatchEmbedder(config)

    def token_mixer(self, config: ModelConfig, layer: int, parts: MixerParts) -> WindowAttention | CosineWindowAttention | None:
        """A Swin's window attention, shifted by half a window in every other block of a stage; None for a ViT."""
        from .geometry import WINDOW, is_swin, swin_version

        if not is_swin(config):
            return None
        stage, index = config.stage_at(layer)
        if swin_version(config) == 2:
            from .swin_v2_attention import CosineWindowAttention, pretrained_window, stage_window

            window, shift = stage_window(config, stage, index)
            return CosineWindowAttention(config, window, shift, pretrained_window(config, stage), parts.positions, parts.norm)
        from .swin_attention import WindowAttention

        window = int(config.option(WINDOW))
        return WindowAttention(config, window, window // 2 if index % 2 else 0, parts.positions, parts.norm)

    def downsample(self, config: ModelConfig, stage: int) -> PatchMerging | None:
        """A Swin's patch merging after each stage but the last (V2: the norm after the reduction); None for a ViT."""
        from .geometry import is_swin, swin_version

        if not is_swin(config):
            return None
        from .swin_merging import PatchMerging

        return PatchMerging(config.stages[stage][0], norm_last=swin_version(config) == 2)

    def augmentations(self, config: ModelConfig) -> list[Augmentation]:
        """`random_shift` and `random_affine`: the image moves, its label stays."""
        from .augment import AUGMENTATIONS

        return AUGMENTATIONS

    def examples(self) -> ExampleRecords:
        """Real MNIST and scikit-learn digits of several sizes, and records the tokenizer rejects."""
        from .examples import example_records

        return example_records()


@sciformer.hookimpl
def sciformer_domains() -> list[Domain]:
    """Declare the vision domain."""
    return [VisionDomain()]


@sciformer.hookimpl
def sciformer_weight_importers() -> list[WeightImporter]:
    """`hf-vit`, `hf-swin` and `hf-swinv2` (transformers directories), `timm-vit` and `timm-swin` (timm state dicts)."""
    return [
        WeightImporter("hf-vit", DOMAIN, "transformers ViTModel / ViTForImageClassification directory (config.json + weights)", import_hf_vit),
        WeightImporter("timm-vit", DOMAIN, "timm VisionTransformer state dict (.safetensors / .pth, or a folder with config.json)", import_timm_vit),
        WeightImporter("hf-swin", DOMAIN, "transformers SwinModel / SwinForImageClassification directory (config.json + weights)", import_hf_swin),
        WeightImporter("hf-swinv2", DOMAIN, "transformers Swinv2Model / Swinv2ForImageClassification directory", import_hf_swinv2),
        WeightImporter("timm-swin", DOMAIN, "timm SwinTransformer state dict (.safetensors / .pth, or a folder with config.json)", import_timm_swin),
    ]


@sciformer.hookimpl
def sciformer_models() -> list[ShippedModel]:
    """Small ViTs and Swins trained on MNIST and on scikit-learn's digits (recipes/ in the plugin folder)."""
    return [
        ShippedModel.in_folder(HERE / "models", "vit-mnist-small", DOMAIN, "ViT (dim 64, depth 4, 7x7 patches) trained on MNIST 28x28; 10 digit classes.", DATA / "mnist_100.npz", {"id_column": "t10k_index"}),
        ShippedModel.in_folder(HERE / "models", "vit-digits-small", DOMAIN, "ViT (dim 64, depth 4, 2x2 patches) trained on scikit-learn's 8x8 digits; 10 classes.", DATA / "digits_20.csv", {"id_column": "row"}),
        ShippedModel.in_folder(HERE / "models", "swin-mnist-small", DOMAIN, "Swin (2 stages, widths 40 / 80, 4x4 patches, 7x7 windows) trained on MNIST 28x28; 10 digit classes.", DATA / "mnist_100.npz", {"id_column": "t10k_index"}),
        ShippedModel.in_folder(HERE / "models", "swin-digits-small", DOMAIN, "Swin (2 stages, widths 40 / 80, 2x2 patches, 4x4 windows) trained on scikit-learn's 8x8 digits; 10 classes.", DATA / "digits_20.csv", {"id_column": "row"}),
    ]


@sciformer.hookimpl
def sciformer_cli_commands() -> list[click.Command]:
    """The `sciformer vision` group: attention maps and rollout over an image."""
    help = "Vision tools: attention maps and attention rollout over images."
    return [LazyCommand("vision", "sciformer_vision.cli:vision", help)]
