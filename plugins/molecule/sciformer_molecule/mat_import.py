"""Import of Molecule Attention Transformer weights (the reference implementation's state dict layout).

The published pretrained model is `make_model(d_atom=28, d_model=1024, N=8, h=16, N_dense=1,
lambda_attention=0.33, lambda_distance=0.33, leaky_relu_slope=0.1, dense_output_nonlinearity='relu',
distance_matrix_kernel='exp', dropout=0.0, aggregation_type='mean')`. The weights do not say how many
heads or which lambdas a model used, so these are the defaults; a JSON file beside the weights
(`WEIGHTS.json`, keys named as `make_model`'s arguments) overrides them for other MAT models.

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

import json
import logging
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path

import torch
from sciformer.build import build_model
from sciformer.checkpoint import save_checkpoint
from sciformer.config import ModelConfig
from sciformer.errors import InputFileError
from sciformer.plugins import PluginHost
from torch import Tensor

log = logging.getLogger(__name__)

MAT_NORM_EPS = 1e-6  # added to the unbiased standard deviation in MAT's LayerNorm

# One row per MAT tensor: (MAT name, sciformer name, how it is converted). `{i}` is the layer index.
NAME_TABLE: tuple[tuple[str, str, str], ...] = (
    ("src_embed.lut.weight", "embedder.projection.weight", "copy"),
    ("src_embed.lut.bias", "embedder.projection.bias", "copy"),
    ("encoder.layers.{i}.self_attn.linears.0.weight", "blocks.{i}.mixer.qkv.weight", "query rows"),
    ("encoder.layers.{i}.self_attn.linears.0.bias", "blocks.{i}.mixer.qkv.bias", "query rows"),
    ("encoder.layers.{i}.self_attn.linears.1.weight", "blocks.{i}.mixer.qkv.weight", "key rows"),
    ("encoder.layers.{i}.self_attn.linears.1.bias", "blocks.{i}.mixer.qkv.bias", "key rows"),
    ("encoder.layers.{i}.self_attn.linears.2.weight", "blocks.{i}.mixer.qkv.weight", "value rows"),
    ("encoder.layers.{i}.self_attn.linears.2.bias", "blocks.{i}.mixer.qkv.bias", "value rows"),
    ("encoder.layers.{i}.self_attn.linears.3.weight", "blocks.{i}.mixer.out.weight", "copy"),
    ("encoder.layers.{i}.self_attn.linears.3.bias", "blocks.{i}.mixer.out.bias", "copy"),
    ("encoder.layers.{i}.sublayer.0.norm.a_2", "blocks.{i}.norm1.weight", "copy"),
    ("encoder.layers.{i}.sublayer.0.norm.b_2", "blocks.{i}.norm1.bias", "copy"),
    ("encoder.layers.{i}.feed_forward.linears.0.weight", "blocks.{i}.mlp.fc.weight", "copy"),
    ("encoder.layers.{i}.feed_forward.linears.0.bias", "blocks.{i}.mlp.fc.bias", "copy"),
    ("encoder.layers.{i}.sublayer.1.norm.a_2", "blocks.{i}.norm2.weight", "copy"),
    ("encoder.layers.{i}.sublayer.1.norm.b_2", "blocks.{i}.norm2.bias", "copy"),
    ("encoder.norm.a_2", "final_norm.weight", "copy"),
    ("encoder.norm.b_2", "final_norm.bias", "copy"),
    ("generator.proj.weight", "head.linear.weight", "copy"),
    ("generator.proj.bias", "head.linear.bias", "copy"),
)
QKV_PARTS = {"query rows": 0, "key rows": 1, "value rows": 2}
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
        try:
            values = json.loads(sidecar.read_text())
        except json.JSONDecodeError as error:
            raise InputFileError(f"{sidecar}: not valid JSON ({error})") from error
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


def load_mat_state(path: Path) -> dict[str, Tensor]:
    """A MAT state dict from a `.pt` file, read without unpickling code (weights_only=True)."""
    if not path.is_file():
        raise InputFileError(f"MAT weights not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for foreign or corrupt files
        raise InputFileError(f"{path}: not a loadable state dict ({type(error).__name__}: {error})") from error
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise InputFileError(f"{path}: expected a dict of tensors (a MAT state dict)")
    return {k.removeprefix("module."): v.detach().float() for k, v in state.items()}


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


def convert_state(state: dict[str, Tensor], config: ModelConfig) -> dict[str, Tensor]:
    """MAT tensors -> sciformer tensors by NAME_TABLE; every MAT tensor must be used."""
    ours: dict[str, Tensor] = {}
    qkv: dict[str, list[Tensor | None]] = {}
    unused = set(state)
    generator_keys = {k for k in state if k.startswith("generator.")}
    if generator_keys and not config.task:
        unused -= generator_keys
    for layer in [None, *range(config.depth)]:
        for mat_name, our_name, how in NAME_TABLE:
            if ("{i}" in mat_name) != (layer is not None):
                continue
            source, target = mat_name.format(i=layer), our_name.format(i=layer)
            if source not in state:
                if source.startswith("generator.") and not config.task:
                    continue
                raise InputFileError(f"MAT state dict lacks {source!r}")
            tensor = state[source]
            unused.discard(source)
            if how == "copy":
                ours[target] = tensor
            else:
                qkv.setdefault(target, [None, None, None])[QKV_PARTS[how]] = tensor
    for target, parts in qkv.items():
        ours[target] = torch.cat(parts)  # (3D, D) or (3D,) in q, k, v order
    if unused:
        raise InputFileError(f"MAT state dict has tensors this importer does not map: {sorted(unused)[:8]}")
    return ours


def import_mat(source: Path, out: Path, host: PluginHost | None = None, hyper: MatHyperparameters | None = None) -> Path:
    """Convert MAT weights at `source` into a sciformer checkpoint directory `out`."""
    source, out = Path(source), Path(out)
    hyper = hyper or MatHyperparameters.beside(source)
    state = load_mat_state(source)
    config = mat_config(state, hyper)
    host = host or PluginHost()
    model = build_model(config, host)
    converted = convert_state(state, config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(converted))
    if missing:
        raise InputFileError(f"MAT state dict leaves model tensors unset: {missing[:8]}")
    for name, tensor in converted.items():
        if tensor.shape != expected[name].shape:
            raise InputFileError(f"{name}: MAT tensor has shape {tuple(tensor.shape)}, the model needs {tuple(expected[name].shape)}")
    model.load_state_dict(converted, strict=True)
    extra = {"imported_from": str(source), "format": "mat", "mat_hyperparameters": {f.name: getattr(hyper, f.name) for f in fields(hyper)}}
    return save_checkpoint(model, out, host, extra=extra)
