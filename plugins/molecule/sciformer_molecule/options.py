"""The molecule domain's settings (`ModelConfig.domain_options`), parsed once and validated with clear messages.

Everything preprocessing and the attention biases need is stored here, so a checkpoint rebuilds its
tokenizer, embedder and biases from its configuration alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sciformer.config import ModelConfig, check_choice, check_choices
from sciformer.errors import ConfigError
from sciformer.known_keys import dataclass_from

CHARGE_ENCODINGS = ("one-hot", "scalar")
GEOMETRIES = ("3d", "input", "2d", "topological")
FALLBACKS = ("2d", "topological", "none")
FORCE_FIELDS = ("uff", "mmff", "none")
KERNELS = ("softmax", "exp")
BIASES = ("mat", "gaussian")
FEED_FORWARD_ACTIVATIONS = ("leaky_relu", "tanh", "none")
MOLECULE_FEATURES = ("none", "rdkit2d")
#: The options that take one of a few values: name -> its choices (checked in this order).
CHOICES = {
    "charge_encoding": CHARGE_ENCODINGS,
    "geometry": GEOMETRIES,
    "fallback": FALLBACKS,
    "force_field": FORCE_FIELDS,
    "distance_kernel": KERNELS,
    "feed_forward_activation": FEED_FORWARD_ACTIVATIONS,
    "molecule_features": MOLECULE_FEATURES,
}


@dataclass(frozen=True)
class MoleculeOptions:
    """Featurization and attention settings of a molecule model.

    Defaults follow the published MAT pretrained model: one-hot formal charge and a dummy node
    (28 atom features), UFF-optimised ETKDG conformers with a 2D-coordinate fallback, the `exp`
    distance kernel and lambdas 0.33 / 0.33 / 0.34.
    """

    charge_encoding: str = "one-hot"  # "one-hot" over {-1, 0, +1} (pretrained MAT) or the scalar charge
    dummy_node: bool = True  # MAT's extra node, far from every atom and bonded to none
    strict_elements: bool = False  # True: elements outside B..I are bad records instead of "other"
    geometry: str = "3d"  # "3d" (3D input coordinates, else ETKDG + force field), "input" (MOL block coordinates only), "2d", "topological"
    fallback: str = "2d"  # what "3d" uses when embedding fails: "2d" coordinates (as MAT), "topological", "none"
    force_field: str = "uff"  # MAT optimises with UFF; "mmff" where parameters exist (else UFF); "none"
    conformer_seed: int = 42  # ETKDG random seed: the same molecule always gets the same conformer
    embed_attempts: int = 200  # ETKDG iterations before trying random coordinates, then the fallback
    attention_bias: tuple[str, ...] = ("mat",)  # "mat" mixture, "gaussian" logit bias, or both
    lambda_attention: float = 0.33  # weight of softmax(Q K^T / sqrt(d))
    lambda_distance: float = 0.33  # weight of g(D)
    lambda_adjacency: float | None = None  # weight of the row-normalised adjacency; None = 1 - the other two
    distance_kernel: str = "exp"  # g(D): "softmax" = softmax(-D) over each row, "exp" = exp(-D)
    gaussian_kernels: int = 16  # Gaussian basis size of the additive distance bias
    gaussian_cutoff: float = 10.0  # initial Gaussian centres are spread over [0, cutoff] angstrom
    feed_forward_activation: str = "leaky_relu"  # MAT's dense_output_nonlinearity, for `mlp_layer: mat`
    feed_forward_slope: float = 0.1  # MAT's leaky_relu_slope
    target_mean: float = 0.0  # regression targets are learned as (y - mean) / std (set from training data)
    target_std: float = 1.0
    molecule_features: str = "none"  # "rdkit2d": RDKit's 2D descriptors of the whole molecule go to the head beside the pooled atoms
    feature_hidden: int = 256  # width of the head's layer over the descriptors
    feature_mean: tuple[float, ...] | None = None  # per-descriptor mean and std of the training molecules (set from training data)
    feature_std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        check_choices("domain_options", self, CHOICES)
        biases = (self.attention_bias,) if isinstance(self.attention_bias, str) else tuple(self.attention_bias)
        for name in biases:
            check_choice("domain_options.attention_bias", name, BIASES)
        object.__setattr__(self, "attention_bias", biases)
        if self.gaussian_kernels < 1 or self.gaussian_cutoff <= 0:
            raise ConfigError("domain_options.gaussian_kernels and gaussian_cutoff must be positive")
        if self.embed_attempts < 1:
            raise ConfigError(f"domain_options.embed_attempts must be at least 1, got {self.embed_attempts}")
        if not self.target_std > 0:
            raise ConfigError(f"domain_options.target_std must be positive, got {self.target_std}")
        if self.feature_hidden < 1:
            raise ConfigError(f"domain_options.feature_hidden must be at least 1, got {self.feature_hidden}")
        for name in ("feature_mean", "feature_std"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        if (self.feature_mean is None) != (self.feature_std is None) or (self.feature_mean is not None and len(self.feature_mean) != len(self.feature_std)):
            raise ConfigError("domain_options.feature_mean and feature_std must be given together, one value per descriptor each")

    @property
    def adjacency_weight(self) -> float:
        """lambda_g: given, or whatever the attention and distance weights leave of 1 (as MAT)."""
        if self.lambda_adjacency is not None:
            return float(self.lambda_adjacency)
        return 1.0 - self.lambda_attention - self.lambda_distance

    @classmethod
    def from_config(cls, config: ModelConfig) -> MoleculeOptions:
        """Parse `config.domain_options`, naming any unknown key."""
        return cls.from_mapping(config.domain_options)

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> MoleculeOptions:
        """Parse a mapping of option names to values, naming any unknown key."""
        values = dict(options)
        if isinstance(values.get("attention_bias"), list):
            values["attention_bias"] = tuple(values["attention_bias"])
        return dataclass_from(cls, "molecule domain option(s)", values)
