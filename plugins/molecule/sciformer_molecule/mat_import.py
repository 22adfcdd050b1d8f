"""Import of Molecule Attention Transformer weights (the reference implementation's state dict layout).

The published pretrained model is `make_model(d_atom=28, d_model=1024, N=8, h=16, N_dense=1,
lambda_attention=0.33, lambda_distance=0.33, leaky_relu_slope=0.1, dense_output_nonlinearity='relu',
distance_matrix_kernel='exp', dropout=0.0, aggregation_type='mean')`. The weights do not say how many
heads or which lambdas a model used, so these are the defaults; a JSON file beside the weights
(`WEIGHTS.json`, keys named as `make_model`'s arguments) overrides them for other MAT models, and
`--option KEY=VALUE` (same names) overrides both.

How MAT's layers land in the engine's (all exactly):

- Attention: the three input projections are stacked into the fused `qkv` (q, k, v order); the
  fourth is `out`. MAT's lambdas and distance kernel go to `domain_options` (MoleculeAttentionBias).
- Feed-forward (`N_dense=1`): `activation(W x + b)`, the plugin's `mlp_layer: mat` (mat_layers.py),
  with MAT's `dense_output_nonlinearity` and `leaky_relu_slope` in `domain_options`. `N_dense > 1`
  is refused.
- Layer norm: `a * (x - mean) / (std_unbiased + 1e-6) + b`, the plugin's `norm_layer: mat`.
- Generator: mean pooling over every real token (the dummy node included, as MAT's mask is "any
  non-zero feature") and a single Linear: imported as the sequence head. `aggregation_type='dummy_node'`
  maps to `pooling: cls` (the dummy node is token 0).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

from sciformer.config import ModelConfig
from sciformer.errors import InputFileError
from sciformer.importing import NameTable, read_json, read_options, read_state_dict, refuse_unused, write_checkpoint
from sciformer.plugins import PluginHost
from torch import Tensor

log = logging.getLogger(__name__)

FORMAT = "mat"
MAT_NORM_EPS = 1e-6  # added to the unbiased standard deviation in MAT's LayerNorm

# sciformer name <- MAT name(s); `{i}` is the layer index. MAT's q, k, v projections (linears 0-2) stack into qkv.
TABLE = NameTable(
    {
        "embedder.projection.weight": "src_embed.lut.weight",
        "embedder.projection.bias": "src_embed.lut.bias",
        **{
            f"blocks.{{i}}.mixer.qkv.{kind}": tuple(f"encoder.layers.{{i}}.self_attn.linears.{n}.{kind}" for n in range(3))
            for kind in ("weight", "bias")
        },
        "blocks.{i}.mixer.out.weight": "encoder.layers.{i}.self_attn.linears.3.weight",
        "blocks.{i}.mixer.out.bias": "encoder.layers.{i}.self_attn.linears.3.bias",
        "blocks.{i}.norm1.weight": "encoder.layers.{i}.sublayer.0.norm.a_2",
        "blocks.{i}.norm1.bias": "encoder.layers.{i}.sublayer.0.norm.b_2",
        "blocks.{i}.mlp.fc.weight": "encoder.layers.{i}.feed_forward.linears.0.weight",
        "blocks.{i}.mlp.fc.bias": "encoder.layers.{i}.feed_forward.linears.0.bias",
        "blocks.{i}.norm2.weight": "encoder.layers.{i}.sublayer.1.norm.a_2",
        "blocks.{i}.norm2.bias": "encoder.layers.{i}.sublayer.1.norm.b_2",
        "final_norm.weight": "encoder.norm.a_2",
        "final_norm.bias": "encoder.norm.b_2",
        "head.linear.weight": "generator.proj.weight",
        "head.linear.bias": "generator.proj.bias",
    }
)
# d_atom -> (charge encoding, dummy node): 11 elements + 6 degrees + 5 H counts + charge + ring + aromatic.
FEATURE_LAYOUTS = {28: ("one-hot", True), 27: ("one-hot", False), 26: ("scalar", True), 25: ("scalar", False)}


@dataclass(frozen=True)
class MatHyperparameters:
    """`make_model` arguments that the weights do not reveal (names as MAT spells them)."""

    h: int = 16
    lambda_attention: float = 0.33
    lambda_distance: float = 0.33
    distance_matrix_kernel: str = "exp"
    leaky_relu_slope: float = 0.1
    dense_output_nonlinearity: str = "relu"
    aggregation_type: str = "mean"

    @classmethod
    def beside(cls, weights: Path) -> MatHyperparameters:
        """The published defaults, updated from `WEIGHTS.json` when that file exists."""
        sidecar = weights.with_suffix(".json")
        if not sidecar.is_file():
            return cls()
        values = read_json(sidecar)
        known = {f.name for f in fields(cls)}
        ignored = sorted(set(values) - known)
        if ignored:
            log.info("%s: ignoring settings the weights already determine or the import does not use: %s", sidecar, ignored)
        return replace(cls(), **{k: v for k, v in values.items() if k in known})

    @property
    def feed_forward_activation(self) -> str:
        """The molecule plugin's name for MAT's `dense_output_nonlinearity`."""
        names = {"relu": "leaky_relu", "tanh": "tanh", "none": "none"}
        if self.dense_output_nonlinearity not in names:
            raise InputFileError(f"dense_output_nonlinearity {self.dense_output_nonlinearity!r} is not one of MAT's ({', '.join(names)})")
        return names[self.dense_output_nonlinearity]


def mat_config(state: dict[str, Tensor], hyper: MatHyperparameters) -> ModelConfig:
    """The sciformer configuration of a MAT state dict."""
    if "src_embed.lut.weight" not in state:
        raise InputFileError("not a MAT state dict: 'src_embed.lut.weight' is missing")
    dim, d_atom = state["src_embed.lut.weight"].shape
    if d_atom not in FEATURE_LAYOUTS:
        raise InputFileError(f"MAT d_atom={d_atom} is not a featurization this plugin reproduces (supported: {sorted(FEATURE_LAYOUTS)})")
    layers = sorted({int(m.group(1)) for k in state if (m := re.match(r"encoder\.layers\.(\d+)\.", k))})
    if not layers or layers != list(range(len(layers))):
        raise InputFileError(f"MAT encoder layers must be numbered 0..N-1, found {layers}")
    dense = {k for k in state if re.match(r"encoder\.layers\.0\.feed_forward\.linears\.\d+\.weight", k)}
    if len(dense) != 1:
        raise InputFileError(f"only N_dense=1 MAT models are importable exactly (found {len(dense)} feed-forward linears per layer)")
    if hyper.aggregation_type not in ("mean", "dummy_node"):
        raise InputFileError(f"aggregation_type {hyper.aggregation_type!r} has no engine pooling (mean and dummy_node do)")
    if "encoder.layers.0.self_attn.lambdas" in state:
        raise InputFileError("MAT models with trainable lambdas are not importable (their lambdas are per-layer parameters)")
    charge, dummy = FEATURE_LAYOUTS[d_atom]
    head = "generator.proj.weight" in state
    return ModelConfig(
        domain="molecule",
        dim=dim,
        depth=len(layers),
        heads=hyper.h,
        norm="pre",
        norm_eps=MAT_NORM_EPS,
        norm_layer="mat",
        mlp_layer="mat",
        final_norm=True,
        position="none",
        max_positions=512,
        pooling="mean" if hyper.aggregation_type == "mean" else "cls",
        task="sequence-regression" if head else None,
        num_labels=state["generator.proj.weight"].shape[0] if head else 0,
        domain_options={
            "charge_encoding": charge,
            "dummy_node": dummy,
            "attention_bias": ["mat"],
            "lambda_attention": hyper.lambda_attention,
            "lambda_distance": hyper.lambda_distance,
            "distance_kernel": hyper.distance_matrix_kernel,
            "feed_forward_activation": hyper.feed_forward_activation,
            "feed_forward_slope": float(hyper.leaky_relu_slope),
        },
    )


OPTIONS = {f.name: type(f.default) for f in fields(MatHyperparameters)}  # int, float or str, as the defaults


def import_mat(source: Path, out: Path, host: PluginHost, options: Mapping[str, str]) -> Path:
    """Convert MAT weights at `source` into a sciformer checkpoint directory `out`.

    `options` (h, lambda_attention, ...: MatHyperparameters' fields) override WEIGHTS.json beside the weights."""
    source, out = Path(source), Path(out)
    hyper = replace(MatHyperparameters.beside(source), **read_options(FORMAT, options, OPTIONS))
    state = read_state_dict(source)
    config = mat_config(state, hyper)
    converted, used = TABLE.apply(state, config.depth)
    refuse_unused(state, used, source)
    extra = {"mat_hyperparameters": {f.name: getattr(hyper, f.name) for f in fields(hyper)}}
    return write_checkpoint(config, converted, out, host, source, FORMAT, extra, origins=TABLE.origins(config.depth))
