"""Training recipes: a YAML file naming the domain, task, data, model and optimisation, with overrides."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
import yaml
from safetensors.torch import load_file

from sciformer.checkpoint import WEIGHTS, read_checkpoint_info, resolve_model
from sciformer.config import ModelConfig
from sciformer.engine.model import SciformerModel
from sciformer.errors import ConfigError, InputFileError
from sciformer.plugins import PluginHost
from sciformer.reading import read_records
from sciformer.records import Record
from sciformer.training.distributed import process_group
from sciformer.training.objectives import build_training_model
from sciformer.training.trainer import Trainer, TrainingConfig, TrainResult

log = logging.getLogger(__name__)

SECTIONS = ("model", "init", "data", "training", "output")
DATA_KEYS = ("train", "valid", "test", "options", "split")


@dataclass(frozen=True)
class Recipe:
    """A parsed recipe; paths are absolute."""

    model: dict[str, Any]
    data: dict[str, Any]
    training: TrainingConfig
    output: Path
    init: str | None = None
    source: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)


def parse_override(text: str) -> tuple[list[str], Any]:
    """`training.lr=1e-4` -> (["training", "lr"], 0.0001); the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"--set expects key=value, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(value)


def read_recipe_file(path: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """A recipe file's YAML as a dict, with `key=value` overrides applied."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise InputFileError(f"recipe not found: {path}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from error
    for override in overrides:
        keys, value = parse_override(override)
        node = raw
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {override}: {key!r} is not a section")
        node[keys[-1]] = value
    return raw


def load_recipe(path: str | Path, overrides: Sequence[str] = ()) -> Recipe:
    """Read a recipe file, apply `key=value` overrides, resolve paths against the recipe's folder."""
    path = Path(path)
    return recipe_from_dict(read_recipe_file(path, overrides), base=path.parent, source=path)


def recipe_from_dict(raw: Mapping[str, Any], base: Path, source: Path | None = None) -> Recipe:
    """Validate a recipe dictionary; relative paths are taken from `base`."""
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"unknown recipe section(s) {unknown}; known: {list(SECTIONS)}")
    model = dict(raw.get("model") or {})
    data = dict(raw.get("data") or {})
    if not model.get("domain"):
        raise ConfigError("recipe needs model.domain")
    unknown = sorted(set(data) - set(DATA_KEYS))
    if unknown:
        raise ConfigError(f"unknown data setting(s) {unknown}; known: {list(DATA_KEYS)}")
    if not data.get("train"):
        raise ConfigError("recipe needs data.train")
    for part in ("train", "valid", "test"):
        if data.get(part):
            data[part] = resolve_path(base, data[part])
    if not raw.get("output"):
        raise ConfigError("recipe needs output (the folder that becomes the trained checkpoint)")
    init = raw.get("init")
    if init and (base / os.path.expandvars(init)).is_dir():
        init = str(resolve_path(base, init))
    return Recipe(model, data, TrainingConfig.from_dict(raw.get("training") or {}), resolve_path(base, raw["output"]), init, source, dict(raw))


def resolve_path(base: Path, value: str) -> Path:
    """`value` with $VARS and ~ expanded, taken from `base` when relative."""
    path = Path(os.path.expandvars(str(value))).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def split_records(records: list[Record], fractions: Mapping[str, float], seed: int) -> dict[str, list[Record]]:
    """Random split with a seed: {"train", "valid", "test"} by the given fractions of the records."""
    order = torch.randperm(len(records), generator=torch.Generator().manual_seed(seed)).tolist()
    parts: dict[str, list[Record]] = {}
    start = 0
    for name in ("valid", "test"):
        count = int(round(fractions.get(name, 0.0) * len(records)))
        parts[name] = [records[i] for i in order[start : start + count]]
        start += count
    parts["train"] = [records[i] for i in order[start:]]
    return parts


def recipe_records(recipe: Recipe, host: PluginHost, domain: str) -> dict[str, list[Record]]:
    """Train / valid / test records: from files where given, the rest split off train by `data.split`."""
    options = recipe.data.get("options") or {}
    loaded = {part: list(read_records(host, domain, recipe.data[part], options)) for part in ("train", "valid", "test") if recipe.data.get(part)}
    split = dict(recipe.data.get("split") or {})
    seed = int(split.pop("seed", recipe.training.seed))
    wanted = {part: float(split.get(part, 0.0)) for part in ("valid", "test") if part not in loaded}
    parts = split_records(loaded["train"], wanted, seed) if any(wanted.values()) else {"train": loaded["train"]}
    for part in ("valid", "test"):
        parts[part] = loaded.get(part, parts.get(part, []))
    return parts


def build_recipe_model(recipe: Recipe, host: PluginHost, train: Sequence[Record]) -> SciformerModel:
    """A new model (defaults from the domain, completed from training data), or one fine-tuned from `init`."""
    domain = recipe.model["domain"]
    if recipe.init:
        init_dir = resolve_model(recipe.init, host)
        base = read_checkpoint_info(init_dir).config.to_dict()
    else:
        init_dir = None
        base = {**host.domain(domain).default_config, "domain": domain}
    options = {**base.get("domain_options", {}), **recipe.model.get("domain_options", {})}
    config = ModelConfig.from_dict({**base, **recipe.model, "domain_options": options})
    config = host.pm.hook.sciformer_prepare_config(config=config, records=train) or config
    model = build_training_model(config, host, recipe.training.mask_ratio)
    if init_dir is not None:
        load_matching(model, init_dir / WEIGHTS)
    return model


def load_matching(model: SciformerModel, weights: Path) -> None:
    """Copy every pretrained tensor whose name and shape match; log what is re-initialised."""
    pretrained = load_file(str(weights))
    own = model.state_dict()
    matched = {k: v for k, v in pretrained.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(matched, strict=False)
    fresh = sorted(set(own) - set(matched))
    if fresh:
        log.info("fine-tuning: %d tensor(s) start fresh: %s", len(fresh), ", ".join(fresh[:6]))


def train_recipe(path: str | Path, host: PluginHost, overrides: Sequence[str] = (), resume: bool = False) -> TrainResult:
    """Run a recipe file end to end and return where the trained model went and its metrics.

    Under torchrun every process runs this; they join one process group (see training/distributed.py).
    """
    recipe = load_recipe(path, overrides)
    parts = recipe_records(recipe, host, recipe.model["domain"])
    with process_group(recipe.training.device) as world:
        torch.manual_seed(recipe.training.seed)  # the same initial weights on every rank
        model = build_recipe_model(recipe, host, parts["train"])
        tokenizer = host.tokenizer(model.config)
        extra = {"reader_options": recipe.data.get("options") or {}, "recipe": recipe.raw}
        trainer = Trainer(model, tokenizer, host, recipe.training, recipe.output, extra=extra, world=world)
        return trainer.fit(parts["train"], parts["valid"], parts["test"], resume=resume)
