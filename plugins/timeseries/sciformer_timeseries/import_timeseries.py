"""Import of transformers `TimeSeriesTransformerForPrediction` directories (config.json + safetensors).

The mapping: the encoder's and the decoder's `value_embedding` and `layernorm_embedding` -> the embedders
(their sinusoidal position tables are recomputed, not read); each encoder layer -> an engine block (q, k, v
fused, `self_attn_layer_norm` / `final_layer_norm` as norm1 / norm2, post-norm, no final norm); each
decoder layer -> a decoder block whose cross-attention fuses `encoder_attn`'s k and v;
`parameter_projection.proj` -> the distribution head. `lags_sequence`, `scaling` (`mean` / True, `std`,
none), `minimum_scale`, `distribution_output` (student_t, normal) and `num_parallel_samples` carry over.

Time features must be named (`--option time_features=hour_of_day,day_of_week`), as many as the model's
`num_time_features`, since a checkpoint records only their count. Refused: static categorical or real
features, dynamic real features, encoder and decoder of different heads or feed-forward widths, and the
negative binomial output. The checkpoint keeps `context` (context_length + the longest lag) and
`horizon` as reader options of the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sciformer.config import ModelConfig
from sciformer.errors import ConfigError, InputFileError
from sciformer.importing import NameTable, find_weights, read_json, read_options, read_state_dict, refuse_unused, write_checkpoint
from sciformer.plugins import PluginHost
from sciformer.reader_options import MODEL_OPTIONS

from .options import DOMAIN, TASK
from .transformer_options import ARCHITECTURE, DEFAULT_LAGS, TRANSFORMER, TransformerOptions

FORMAT = "hf-timeseries"
ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu"}
SCALINGS = {"mean": "mean", True: "mean", "std": "std", None: "none", False: "none"}
ENCODER, DECODER = "model.encoder.", "model.decoder."
DROPPED = ("model.encoder.embed_positions.weight", "model.decoder.embed_positions.weight")  # recomputed tables


def attention_rows(ours: str, theirs: str) -> dict[str, str | tuple[str, ...]]:
    """Rows of one self-attention: q, k and v fused, then the output projection."""
    return {
        f"{ours}.qkv.weight": tuple(f"{theirs}.{p}_proj.weight" for p in "qkv"),
        f"{ours}.qkv.bias": tuple(f"{theirs}.{p}_proj.bias" for p in "qkv"),
        f"{ours}.out.weight": f"{theirs}.out_proj.weight",
        f"{ours}.out.bias": f"{theirs}.out_proj.bias",
    }


def feed_forward_rows(ours: str, theirs: str, norms: Mapping[str, str]) -> dict[str, str]:
    """Rows of a layer's feed-forward and its norms ({our norm: their norm})."""
    rows = {f"{ours}.mlp.fc{n}.{kind}": f"{theirs}.fc{n}.{kind}" for n in (1, 2) for kind in ("weight", "bias")}
    rows.update({f"{ours}.{mine}.{kind}": f"{theirs}.{their}.{kind}" for mine, their in norms.items() for kind in ("weight", "bias")})
    return rows


def name_table(config: ModelConfig, parameters: int) -> NameTable:
    """Every row: embedders, encoder blocks ({i}), decoder blocks (spelled out) and the head's projections."""
    rows: dict[str, str | tuple[str, ...]] = {}
    for ours, theirs in (("embedder", ENCODER), ("decoder.embedder", DECODER)):
        rows[f"{ours}.value_embedding.weight"] = f"{theirs}value_embedding.value_projection.weight"
        rows.update({f"{ours}.layernorm_embedding.{kind}": f"{theirs}layernorm_embedding.{kind}" for kind in ("weight", "bias")})
    rows.update(attention_rows("blocks.{i}.mixer", ENCODER + "layers.{i}.self_attn"))
    rows.update(feed_forward_rows("blocks.{i}", ENCODER + "layers.{i}", {"norm1": "self_attn_layer_norm", "norm2": "final_layer_norm"}))
    for layer in range(config.decoder_depth):
        ours, theirs = f"decoder.blocks.{layer}", f"{DECODER}layers.{layer}"
        rows.update(attention_rows(f"{ours}.mixer", f"{theirs}.self_attn"))
        for kind in ("weight", "bias"):
            rows[f"{ours}.cross.q.{kind}"] = f"{theirs}.encoder_attn.q_proj.{kind}"
            rows[f"{ours}.cross.kv.{kind}"] = (f"{theirs}.encoder_attn.k_proj.{kind}", f"{theirs}.encoder_attn.v_proj.{kind}")
            rows[f"{ours}.cross.out.{kind}"] = f"{theirs}.encoder_attn.out_proj.{kind}"
        norms = {"norm1": "self_attn_layer_norm", "norm_cross": "encoder_attn_layer_norm", "norm2": "final_layer_norm"}
        rows.update(feed_forward_rows(ours, theirs, norms))
    rows.update({f"head.proj.{n}.{kind}": f"parameter_projection.proj.{n}.{kind}" for n in range(parameters) for kind in ("weight", "bias")})
    return NameTable(rows)


def check_supported(hf: Mapping[str, Any]) -> None:
    """InputFileError for settings sciformer does not reproduce."""
    if hf.get("model_type") != "time_series_transformer":
        raise InputFileError(f"model_type {hf.get('model_type')!r} is not a time-series transformer (expected 'time_series_transformer')")
    problems = {
        "num_static_categorical_features": hf.get("num_static_categorical_features", 0),
        "num_static_real_features": hf.get("num_static_real_features", 0),
        "num_dynamic_real_features": hf.get("num_dynamic_real_features", 0),
        "distribution_output": hf.get("distribution_output", "student_t") not in ("student_t", "normal"),
        "scaling": hf.get("scaling", "mean") not in SCALINGS,
        "activation_function": hf.get("activation_function", "gelu") not in ACTIVATIONS,
        "encoder / decoder heads": hf.get("encoder_attention_heads", 2) != hf.get("decoder_attention_heads", 2),
        "encoder / decoder ffn_dim": hf.get("encoder_ffn_dim", 32) != hf.get("decoder_ffn_dim", 32),
        "scaling_dim / keepdim": hf.get("scaling_dim", 1) != 1 or hf.get("keepdim", True) is not True,
    }
    refused = [name for name, bad in problems.items() if bad]
    if refused:
        raise InputFileError(f"time-series transformer setting(s) {refused} have no sciformer equivalent")


def timeseries_config(hf: Mapping[str, Any], time_features: tuple[str, ...]) -> ModelConfig:
    """The sciformer configuration of a transformers TimeSeriesTransformerConfig dictionary."""
    check_supported(hf)
    if len(time_features) != int(hf.get("num_time_features", 0)):
        raise ConfigError(
            f"the model takes {hf.get('num_time_features', 0)} time feature(s); name them with --option time_features=a,b "
            f"(a checkpoint records only their count), got {list(time_features)}"
        )
    dim = int(hf.get("d_model", 64))
    options: dict[str, Any] = {
        ARCHITECTURE: TRANSFORMER,
        "context_length": int(hf.get("context_length") or hf.get("prediction_length")),
        "prediction_length": int(hf["prediction_length"]),
        "num_channels": int(hf.get("input_size", 1)),
        "lags_sequence": list(hf.get("lags_sequence") or DEFAULT_LAGS),
        "scaling": SCALINGS[hf.get("scaling", "mean")],
        "distribution": hf.get("distribution_output", "student_t"),
        "num_parallel_samples": int(hf.get("num_parallel_samples", 100)),
        "time_features": list(time_features),
    }
    if "minimum_scale" in hf:
        options["minimum_scale"] = float(hf["minimum_scale"])
    return ModelConfig.from_dict({
        "domain": DOMAIN, "task": TASK, "dim": dim, "heads": int(hf.get("encoder_attention_heads", 2)),
        "depth": int(hf.get("encoder_layers", 2)), "decoder_depth": int(hf.get("decoder_layers", 2)),
        "mlp_ratio": int(hf.get("encoder_ffn_dim", 32)) / dim, "norm": "post", "norm_layer": "layernorm", "norm_eps": 1e-5,
        "final_norm": False, "activation": ACTIVATIONS[hf.get("activation_function", "gelu")], "position": "none",
        "dropout": float(hf.get("dropout", 0.1)), "attention_dropout": float(hf.get("attention_dropout", 0.1)),
        "max_positions": options["context_length"] + options["prediction_length"], "domain_options": options,
    })  # fmt: skip


def import_hf_timeseries(source: Path, out: Path, host: PluginHost, options: Mapping[str, str]) -> Path:
    """Convert a transformers TimeSeriesTransformerForPrediction directory at `source` into a sciformer checkpoint
    at `out` (option: time_features)."""
    chosen = read_options(FORMAT, options, {"time_features": lambda text: tuple(name.strip() for name in text.split(",") if name.strip())})
    source = Path(source)
    if not source.is_dir() or not (source / "config.json").is_file():
        raise InputFileError(f"{source}: hf-timeseries needs a transformers model directory with config.json and weights")
    hf = read_json(source / "config.json")
    config = timeseries_config(hf, chosen.get("time_features", ()))
    weights = find_weights(source)
    foreign = read_state_dict(weights)
    settings = TransformerOptions.from_config(config)
    table = name_table(config, 3 if settings.distribution == "student_t" else 2)
    state, used = table.apply(foreign, config.depth)
    refuse_unused(foreign, used, weights, DROPPED)
    model_options = {"context": settings.past_length, "horizon": settings.prediction_length}
    return write_checkpoint(config, state, out, host, source, FORMAT, extra={MODEL_OPTIONS: model_options}, origins=table.origins(config.depth))
