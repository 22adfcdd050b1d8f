"""Training recipes: a YAML file naming the domain, task, data, model and optimisation, with overrides.

Paths are relative to the recipe file, with $VARS and ~ expanded. With SCIFORMER_DATA set (the folder
of the full data sets), a recipe's `full_data:` keys replace those of `data:`, so that a shipped
recipe runs from a fresh clone on the data its plugin ships and on the full data where there is some.

Stages chain through `init:`: a model folder, a shipped model's name, or another recipe file (the
earlier stage, such as pre-training). A recipe file's output is the starting point; when it holds no
finished run, that stage is trained first. A finished output trained from another version of the
stage's recipe is refused rather than silently reused.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import load_file

from sciformer.checkpoint import WEIGHTS, read_checkpoint_info, resolve_model
from sciformer.config import ModelConfig, merge_settings
from sciformer.engine.model import SciformerModel
from sciformer.errors import ConfigError, InputFileError
from sciformer.known_keys import refuse_unknown
from sciformer.plugins import PluginHost
from sciformer.reader_options import checkpoint_options, refuse_unknown_options
from sciformer.reading import read_records
from sciformer.records import Record
from sciformer.scoring.lock import OutputLock
from sciformer.training.config import checked_fields, checked_value
from sciformer.training.objectives import build_training_model
from sciformer.training.run_record import check_resume, keep_run_record, run_record
from sciformer.training.trainer import STATE_DIR, SUMMARY_FILE, Trainer, TrainingConfig, TrainResult
from sciformer.world import process_group

log = logging.getLogger(__name__)

SECTIONS = ("model", "init", "data", "training", "output", "allow_package_output")
DATA_KEYS = ("train", "valid", "test", "options", "split", "limit", "train_fraction")
DATA_ENV = "SCIFORMER_DATA"  # the folder of the full data sets; switches recipes to their `full_data:`
FULL_DATA = "full_data"
RUNS = "runs"  # default output: runs/<recipe name>/ in the current folder
RECIPE_SUFFIXES = (".yaml", ".yml")  # an `init:` with one of these names an earlier stage's recipe


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
    part_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # reader options of one split, over data.options


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
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a recipe is a mapping of sections, got {type(raw).__name__}")
    raw = with_full_data(raw, path)
    for override in overrides:
        keys, value = parse_override(override)
        node = raw
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {override}: {key!r} is not a section")
        node[keys[-1]] = value
    return raw


def with_full_data(raw: dict[str, Any], path: Path) -> dict[str, Any]:
    """The recipe without its `full_data:` section, whose keys replace those of `data:` (reader options
    key by key, $VARS expanded) when SCIFORMER_DATA is set."""
    full = raw.pop(FULL_DATA, None) or {}
    if not isinstance(full, dict):
        raise ConfigError(f"{path}: {FULL_DATA} must be a mapping of data settings")
    if not os.environ.get(DATA_ENV) or not full:
        return raw
    data = dict(raw.get("data") or {})
    full = expanded(full)
    if isinstance(full.get("options"), dict) and isinstance(data.get("options"), dict):
        full["options"] = {**data["options"], **full["options"]}
    return {**raw, "data": {**data, **full}}


def expanded(values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` with $VARS expanded in its strings, nested mappings included."""
    return {key: expanded(v) if isinstance(v, Mapping) else os.path.expandvars(v) if isinstance(v, str) else v for key, v in values.items()}


def load_recipe(path: str | Path, overrides: Sequence[str] = ()) -> Recipe:
    """Read a recipe file, apply `key=value` overrides, resolve paths against the recipe's folder."""
    path = Path(path)
    return recipe_from_dict(read_recipe_file(path, overrides), base=path.parent, source=path)


def recipe_from_dict(raw: Mapping[str, Any], base: Path, source: Path | None = None) -> Recipe:
    """Validate a recipe dictionary; relative paths are taken from `base`."""
    refuse_unknown("recipe section(s)", raw, SECTIONS)
    model = checked_fields("model", section(raw, "model"), ModelConfig)
    data = section(raw, "data")
    if not model.get("domain"):
        raise ConfigError("recipe needs model.domain")
    refuse_unknown("data setting(s)", data, DATA_KEYS)
    if not data.get("train"):
        raise ConfigError("recipe needs data.train")
    check_data(data)
    part_options = {}
    for part in ("train", "valid", "test"):
        if isinstance(data.get(part), Mapping):
            data[part], part_options[part] = data_part(part, data[part])
        if data.get(part):
            data[part] = resolve_path(base, data[part])
    init = raw.get("init")
    if init and ((base / os.path.expandvars(init)).is_dir() or str(init).endswith(RECIPE_SUFFIXES)):
        init = str(resolve_path(base, init))
    training = TrainingConfig.from_dict(raw.get("training") or {})
    return Recipe(model, data, training, recipe_output(raw, base, source), init, source, dict(raw), part_options)


def data_part(part: str, value: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """A split given as `{path: FILE, options: {...}}`: its file and its own reader options (a time
    window such as `{start: 0, stop: 456}`), which override `data.options` for that split alone."""
    refuse_unknown(f"data.{part} setting(s)", value, ("path", "options"))
    options = value.get("options") or {}
    if not value.get("path") or not isinstance(options, Mapping):
        raise ConfigError(f"data.{part} is a file, or {{path: FILE, options: {{reader options}}}}, got {dict(value)!r}")
    return str(value["path"]), dict(options)


def section(raw: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A recipe section as a dict ({} when absent)."""
    value = raw.get(name) or {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"recipe section {name} must be a mapping of settings, got {value!r}")
    return dict(value)


def check_data(data: Mapping[str, Any]) -> None:
    """ConfigError for reader options that are no mapping, a bad split or limit."""
    if not isinstance(data.get("options") or {}, Mapping):
        raise ConfigError(f"data.options must be a mapping of reader options, got {data['options']!r}")
    split = data.get("split") or {}
    if not isinstance(split, Mapping) or set(split) - {"valid", "test", "seed"}:
        raise ConfigError(f"data.split must be a mapping of valid, test (fractions) and seed, got {split!r}")
    fractions = [checked_value(f"data.split.{part}", split.get(part, 0.0), float) for part in ("valid", "test")]
    if not all(0.0 <= share < 1.0 for share in fractions) or sum(fractions) >= 1.0:
        raise ConfigError(f"data.split fractions must lie in [0, 1) and leave records to train on, got {dict(split)}")
    checked_value("data.split.seed", split.get("seed", 0), int)
    limit = checked_value("data.limit", data.get("limit"), int | None)
    if limit is not None and limit < 1:
        raise ConfigError(f"data.limit must be at least 1, got {limit}")
    fraction = checked_value("data.train_fraction", data.get("train_fraction", 1.0), float)
    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f"data.train_fraction must lie in (0, 1], got {fraction}")


def recipe_output(raw: Mapping[str, Any], base: Path, source: Path | None) -> Path:
    """The run's folder: `output:` (relative to the recipe), else runs/<recipe name>/ in the current
    folder. A folder inside an installed package's models/ or site-packages needs allow_package_output."""
    allowed = raw.get("allow_package_output", False)
    if not isinstance(allowed, bool):
        raise ConfigError(f"allow_package_output must be true or false, got {allowed!r}")
    if raw.get("output"):
        output = resolve_path(base, raw["output"])
    elif source is not None:
        output = Path.cwd() / RUNS / source.stem
    else:
        raise ConfigError("recipe needs output (the folder that becomes the trained checkpoint)")
    if inside_package(output) and not allowed:
        raise ConfigError(f"output {output} is inside an installed package; to replace a shipped model, add --set allow_package_output=true")
    return output


def inside_package(path: Path) -> bool:
    """Whether `path` lies in site-packages or in the models/ folder of a Python package."""
    for folder in (path, *path.parents):
        if folder.name in ("site-packages", "dist-packages"):
            return True
        if folder.name == "models" and (folder.parent / "__init__.py").is_file():
            return True
    return False


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
        count = round(fractions.get(name, 0.0) * len(records))
        parts[name] = [records[i] for i in order[start : start + count]]
        start += count
    parts["train"] = [records[i] for i in order[start:]]
    return parts


def recipe_records(recipe: Recipe, host: PluginHost, domain: str) -> dict[str, list[Record]]:
    """Train / valid / test records: from files where given (the first `data.limit` of each, read with
    `data.options` and the split's own options), the rest split off train by `data.split`."""
    options = recipe.data.get("options") or {}
    limit = recipe.data.get("limit")
    files = {part: recipe.data[part] for part in ("train", "valid", "test") if recipe.data.get(part)}
    for part, path in files.items():
        if Path(path).exists():  # a missing file is named when it is read
            refuse_unknown_options(host.reader_for(domain, Path(path)), {**options, **recipe.part_options.get(part, {})}, f"data.{part}: ", with_model_options=True)
    loaded = {
        part: list(itertools.islice(read_records(host, domain, path, {**options, **recipe.part_options.get(part, {})}), limit))
        for part, path in files.items()
    }
    split = dict(recipe.data.get("split") or {})
    seed = int(split.pop("seed", recipe.training.seed))
    wanted = {part: float(split.get(part, 0.0)) for part in ("valid", "test") if part not in loaded}
    parts = split_records(loaded["train"], wanted, seed) if any(wanted.values()) else {"train": loaded["train"]}
    for part in ("valid", "test"):
        parts[part] = loaded.get(part, parts.get(part, []))
    fraction = float(recipe.data.get("train_fraction", 1.0))
    if fraction < 1.0:
        parts["train"] = training_subset(parts["train"], fraction, seed, by_class=recipe.model.get("task") == "sequence-classification")
    return parts


def training_subset(records: list[Record], fraction: float, seed: int, by_class: bool) -> list[Record]:
    """`fraction` of the training records (at least one of each group), in their order: for a learning curve.

    With `by_class`, each class keeps its share (records whose target is no single label form one group).
    """
    groups: dict[Any, list[int]] = {}
    for index, record in enumerate(records):
        key = record.target if by_class and isinstance(record.target, str | int) else None
        groups.setdefault(key, []).append(index)
    generator = torch.Generator().manual_seed(seed)
    kept: list[int] = []
    for members in groups.values():
        order = torch.randperm(len(members), generator=generator).tolist()
        kept += [members[i] for i in order[: max(1, round(fraction * len(members)))]]
    return [records[i] for i in sorted(kept)]


def build_recipe_model(recipe: Recipe, host: PluginHost, train: Sequence[Record]) -> SciformerModel:
    """A new model (defaults from the domain, completed from training data), or one fine-tuned from `init`.

    Fine-tuning takes the labels from the training data (unless the recipe names them): the init
    model's own when every training label is among them, else a new set and a re-initialised head.
    """
    domain = recipe.model["domain"]
    change = ""
    if recipe.init:
        init_dir = resolve_model(recipe.init, host)
        base = read_checkpoint_info(init_dir).config.to_dict()
        if base["domain"] != domain:
            raise ConfigError(f"init {recipe.init} is a {base['domain']} model; this recipe trains a {domain} model")
        task = recipe.model.get("task", base.get("task"))
        if task != base.get("task"):  # another head: nothing of the old one carries over
            change = f"task {base.get('task')} of {recipe.init} -> {task}"
            base = {**base, "labels": [], "num_labels": 0}
    else:
        init_dir = None
        base = {**host.domain(domain).default_config, "domain": domain}
    config = ModelConfig.from_dict(merge_settings(base, recipe.model))
    inherited = config.labels if init_dir is not None and "labels" not in recipe.model else ()
    if inherited:
        config = config.replace(labels=(), num_labels=recipe.model.get("num_labels", 0))
    config = host.prepare_config(config, train)
    if inherited and (not config.labels or set(config.labels) <= set(inherited)):
        config = config.replace(labels=inherited, num_labels=len(inherited))
    elif inherited:
        change = f"labels ({', '.join(inherited)}) of {recipe.init} -> ({', '.join(config.labels)}) of the training data"
    if config.task == "sequence-classification" and len(config.labels) == 1:
        raise ConfigError(f"the training records hold one class only ({config.labels[0]!r}); a classifier needs at least two")
    model = build_training_model(config, host, recipe.training.mask_ratio)
    if init_dir is not None:
        load_matching(model, init_dir / WEIGHTS, change)
    return model


def load_matching(model: SciformerModel, weights: Path, label_change: str = "") -> None:
    """Copy every pretrained tensor whose name and shape match, but none of the head when the labels
    changed (`label_change` says how); one log line names the tensors that start fresh."""
    pretrained = load_file(str(weights))
    own = model.state_dict()
    keep = {k for k, v in pretrained.items() if k in own and own[k].shape == v.shape and not (label_change and k.startswith("head."))}
    matched = {k: pretrained[k] for k in keep}
    model.load_state_dict(matched, strict=False)
    fresh = sorted(set(own) - set(matched))
    names = ", ".join(fresh[:6]) + (", ..." if len(fresh) > 6 else "")
    if label_change:
        log.warning("fine-tuning: %s; re-initialised: %s", label_change, names)
    elif fresh:
        log.info("fine-tuning: %d tensor(s) start fresh: %s", len(fresh), names)


def stage_output(recipe: Recipe, host: PluginHost, chain: tuple[Path, ...]) -> Recipe:
    """`recipe` with an `init:` recipe file replaced by that stage's finished output, training the
    stage first when its output holds no run; ConfigError for an interrupted stage, a stage trained
    from another version of its recipe, or a chain that comes back to itself."""
    if not recipe.init or not recipe.init.endswith(RECIPE_SUFFIXES):
        return recipe
    path = Path(recipe.init)
    if path in chain:
        raise ConfigError(f"init stages form a loop: {' -> '.join(p.name for p in (*chain, path))}")
    stage = load_recipe(path)
    if (stage.output / STATE_DIR).is_dir() and not (stage.output / SUMMARY_FILE).is_file():
        raise ConfigError(f"init stage {path.name} stopped before it finished; resume it: sciformer train {path} --resume")
    if not (stage.output / SUMMARY_FILE).is_file():
        log.info("init stage %s: no finished run in %s; training it first", path.name, stage.output)
        _train(path, host, (), False, (*chain, path))
    recorded = read_checkpoint_info(stage.output).extra.get("recipe")
    if recorded is not None and json.dumps(recorded, sort_keys=True) != json.dumps(stage.raw, sort_keys=True, default=list):
        raise ConfigError(f"init stage {stage.output} was trained from another version of {path.name}; train the stage again or name the folder as init")
    return replace(recipe, init=str(stage.output))


def train_recipe(path: str | Path, host: PluginHost, overrides: Sequence[str] = (), resume: bool = False) -> TrainResult:
    """Run a recipe file end to end (its `init:` stage first, when that has not run) and return where
    the trained model went and its metrics.

    Under torchrun every process runs this; they join one process group (see training/distributed.py).
    """
    return _train(Path(path), host, overrides, resume, (Path(path).resolve(),))


def _train(path: Path, host: PluginHost, overrides: Sequence[str], resume: bool, chain: tuple[Path, ...]) -> TrainResult:
    recipe = stage_output(load_recipe(path, overrides), host, chain)
    record = run_record(recipe.raw, recipe.data)
    state_dir = recipe.output / STATE_DIR
    lock = OutputLock(recipe.output, advice="choose another output")
    with process_group(recipe.training.device) as world:
        try:
            world.agree(lambda: own_output(lock, state_dir, record, resume), "could not take the training output")
            parts = recipe_records(recipe, host, recipe.model["domain"])
            if not parts["train"]:
                raise ConfigError(f"no records to train on: {recipe.data['train']} holds none, or none are left after data.split "
                                  f"({len(parts['valid'])} to validate, {len(parts['test'])} to test)")
            torch.manual_seed(recipe.training.seed)  # the same initial weights on every rank
            model = build_recipe_model(recipe, host, parts["train"])
            tokenizer = host.tokenizer(model.config)
            extra = {**checkpoint_options(host, recipe.model["domain"], recipe.data.get("options") or {}), "recipe": recipe.raw}
            trainer = Trainer(model, tokenizer, host, recipe.training, recipe.output, extra=extra, world=world)
            if not resume and world.is_main:
                keep_run_record(state_dir, record)  # once the run is set to start, not for a recipe refused above
            return trainer.fit(parts["train"], parts["valid"], parts["test"], resume=resume)
        finally:
            lock.release()


def own_output(lock: OutputLock, state_dir: Path, record: dict[str, Any], resume: bool) -> None:
    """Take the training output for this run (one writer at a time); on resume, check what it was started from."""
    state_dir.parent.parent.mkdir(parents=True, exist_ok=True)
    lock.acquire()
    if resume:
        check_resume(state_dir, record)
