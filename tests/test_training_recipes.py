"""Shipped recipes as a fresh clone has them: every one trains two steps on the data its plugin ships,
into runs/<name>/ of the current folder; the full data is one environment variable away; nothing
writes into a package's models/ folder unless the recipe allows it."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sciformer.checkpoint import read_checkpoint_info
from sciformer.cli.main import build_cli
from sciformer.errors import ConfigError, InputFileError
from sciformer.plugins import PluginHost
from sciformer.training.recipe import DATA_ENV, load_recipe, recipe_records, train_recipe

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted([*ROOT.glob("core/sciformer/builtin/*/recipes/*.yaml"), *ROOT.glob("plugins/*/recipes/*.yaml")])
# RDKit conformers of every molecule would take a minute or more
QUICK = {name: ["data.limit=24"] for name in ("mat-esol-small", "mat-freesolv-small", "mat-bbbp-small")}


def fresh_clone(recipe: Path, folder: Path) -> Path:
    """The recipe's `recipes/` and `data/` folders copied alone, at their place in the repository."""
    home = recipe.parents[1]
    for part in ("recipes", "data"):
        if (home / part).is_dir():
            shutil.copytree(home / part, folder / home.relative_to(ROOT) / part)
    return folder / recipe.relative_to(ROOT)


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda path: path.stem)
def test_every_shipped_recipe_trains_from_a_fresh_clone(recipe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`sciformer train RECIPE --set training.max_steps=2` with nothing but the clone's files."""
    host = PluginHost()
    domain = yaml.safe_load(recipe.read_text())["model"]["domain"]
    if domain not in host.domains():
        pytest.skip(f"the {domain} plugin is not installed")
    copy = fresh_clone(recipe, tmp_path / "clone")
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    sets = ["training.max_steps=2", "training.batch_size=4", *QUICK.get(recipe.stem, [])]
    started = time.perf_counter()
    outcome = CliRunner().invoke(build_cli(host), ["train", str(copy), *(f"--set={value}" for value in sets)], obj=host)
    assert outcome.exit_code == 0, outcome.output
    print(f"{recipe.stem}: {time.perf_counter() - started:.1f} s")
    run = tmp_path / "runs" / recipe.stem
    assert json.loads((run / "summary.json").read_text())["steps"] == 2
    assert (run / "model.safetensors").is_file()


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda path: path.stem)
def test_full_data_follows_the_environment(recipe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without SCIFORMER_DATA the data lies in the repository; with it, full_data's paths use it."""
    monkeypatch.delenv(DATA_ENV, raising=False)
    shipped = load_recipe(recipe)
    for part in ("train", "valid", "test"):
        if shipped.data.get(part):
            assert shipped.data[part].is_relative_to(ROOT) and shipped.data[part].exists()
    full = yaml.safe_load(recipe.read_text()).get("full_data")
    if full is None:
        return
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    switched = load_recipe(recipe)
    assert switched.data != shipped.data
    assert {**shipped.data.get("options", {}), **full.get("options", {})}.keys() == switched.data.get("options", {}).keys()


def test_package_models_folder_needs_permission(tmp_path: Path, write_recipe) -> None:
    """An output inside a package's models/ folder is refused unless allow_package_output is true."""
    package = tmp_path / "mypkg"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    recipe = write_recipe(tmp_path)
    target = package / "models" / "shipped"
    with pytest.raises(ConfigError, match="inside an installed package.*allow_package_output=true"):
        load_recipe(recipe, [f"output={target}"])
    with pytest.raises(ConfigError, match="inside an installed package"):
        load_recipe(recipe, [f"output={tmp_path / 'venv/lib/python3.11/site-packages/x/run'}"])
    assert load_recipe(recipe, [f"output={target}", "allow_package_output=true"]).output == target
    with pytest.raises(ConfigError, match="allow_package_output must be true or false"):
        load_recipe(recipe, [f"output={target}", "allow_package_output=yes please"])


def test_output_defaults_to_runs_in_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_recipe) -> None:
    recipe = write_recipe(tmp_path / "recipes")
    monkeypatch.chdir(tmp_path)
    assert load_recipe(recipe, ["output=null"]).output == tmp_path / "runs" / "recipe"
    assert load_recipe(recipe, ["output=elsewhere"]).output == (tmp_path / "recipes" / "elsewhere").resolve()


def test_shipped_recipes_name_no_package_output() -> None:
    """`sciformer train` of a shipped recipe never replaces the shipped model."""
    for recipe in RECIPES:
        assert "output" not in yaml.safe_load(recipe.read_text()), recipe


def test_a_split_may_read_its_file_with_its_own_options(tmp_path: Path) -> None:
    """`valid: {path, options}` reads that split with its options over `data.options`; the others keep theirs."""
    (tmp_path / "train.csv").write_text("text,label\nthe cat,a\nthe dog,b\n")
    (tmp_path / "valid.csv").write_text("sentence,text,label\na bird,ignored,a\n")
    recipe = {"model": {"domain": "text", "task": "sequence-classification"},
              "data": {"train": "train.csv", "valid": {"path": "valid.csv", "options": {"data_column": "sentence"}}, "options": {"target_column": "label"}}}  # fmt: skip
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    parsed = load_recipe(tmp_path / "recipe.yaml")
    assert parsed.data["valid"] == tmp_path / "valid.csv" and parsed.part_options == {"valid": {"data_column": "sentence"}}
    parts = recipe_records(parsed, PluginHost(entry_points=False), "text")
    assert [r.data for r in parts["train"]] == ["the cat", "the dog"] and [(r.data, r.target) for r in parts["valid"]] == [("a bird", "a")]
    for bad in ({"path": "valid.csv", "stop": 3}, {"options": {"start": 1}}):
        recipe["data"]["valid"] = bad
        (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
        with pytest.raises(ConfigError, match="data.valid"):
            load_recipe(tmp_path / "recipe.yaml")


def test_train_fraction_keeps_each_class_share_and_leaves_valid_and_test(tmp_path: Path) -> None:
    """`data.train_fraction` (a learning curve's point) thins the training part only: each class keeps its
    share, the records keep their order, and the split's seed gives the same subset again."""
    rows = [f"record {i},{'a' if i % 4 else 'b'}" for i in range(80)]  # 60 of class a, 20 of class b
    (tmp_path / "train.csv").write_text("text,label\n" + "\n".join(rows) + "\n")
    recipe = {"model": {"domain": "text", "task": "sequence-classification"},
              "data": {"train": "train.csv", "options": {"target_column": "label"}, "split": {"valid": 0.25, "test": 0.25, "seed": 3}}}  # fmt: skip
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    host = PluginHost(entry_points=False)
    whole = recipe_records(load_recipe(tmp_path / "recipe.yaml"), host, "text")
    quarter = recipe_records(load_recipe(tmp_path / "recipe.yaml", ["data.train_fraction=0.25"]), host, "text")
    assert quarter["valid"] == whole["valid"] and quarter["test"] == whole["test"]
    kept = [whole["train"].index(r) for r in quarter["train"]]
    assert kept == sorted(kept) and len(set(kept)) == len(kept)
    for label in "ab":
        total = sum(r.target == label for r in whole["train"])
        assert sum(r.target == label for r in quarter["train"]) == round(total / 4)
    again = recipe_records(load_recipe(tmp_path / "recipe.yaml", ["data.train_fraction=0.25"]), host, "text")
    assert again["train"] == quarter["train"]


def _text_table(folder: Path, labels: list[str], task: str = "sequence-classification", **model: object) -> Path:
    """A recipe training a tiny text `task` model for 2 steps on sentences labelled `labels` (one each)."""
    words = ["the man ordered the chicken", "the woman ordered the beef", "the man ordered the beef", "the woman ordered the chicken"]
    rows = [f"{words[i % 4]},{label}" for i, label in enumerate(labels)]
    (folder / "table.csv").write_text("text,label\n" + "\n".join(rows) + "\n")
    recipe = {"model": {"domain": "text", "task": task, "dim": 16, "depth": 1, "heads": 2, **model},
              "data": {"train": "table.csv", "valid": "table.csv", "options": {"target_column": "label"}},
              "training": {"max_steps": 2, "batch_size": 4}, "output": "run"}  # fmt: skip
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    return folder / "recipe.yaml"


def test_whole_numbers_written_as_floats_are_one_class_and_one_class_is_refused(tmp_path: Path) -> None:
    """`1` and `1.0` (a table with gaps, written by pandas) are one class; a table of one class is refused in one line."""
    host = PluginHost(entry_points=False)
    result = train_recipe(_text_table(tmp_path, ["0", "1", "0.0", "1.0"] * 3), host)
    assert read_checkpoint_info(result.output).config.labels == ("0", "1")
    with pytest.raises(ConfigError, match=r"^the training records hold one class only \('1'\); a classifier needs at least two$"):
        train_recipe(_text_table(tmp_path, ["1", "1.0"] * 4), host)


def test_init_from_another_domain_is_refused_and_another_task_starts_a_new_head(tmp_path: Path) -> None:
    """A text recipe with a molecule model as init: one line. The text classifier fine-tuned as a regressor:
    no labels carried over, one output."""
    host = PluginHost()
    recipe = _text_table(tmp_path, ["0", "1"] * 6)
    classifier = train_recipe(recipe, host)
    raw = yaml.safe_load(recipe.read_text())
    raw["init"] = "mat-esol-small"
    (tmp_path / "foreign.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"^init mat-esol-small is a molecule model; this recipe trains a text model$"):
        train_recipe(tmp_path / "foreign.yaml", host)
    raw.update(init=str(classifier.output), output="regressor")
    raw["model"] = {"domain": "text", "task": "sequence-regression"}
    (tmp_path / "regressor.yaml").write_text(yaml.safe_dump(raw))
    config = read_checkpoint_info(train_recipe(tmp_path / "regressor.yaml", host).output).config
    assert (config.task, config.labels, config.num_labels) == ("sequence-regression", (), 1)


def test_a_misspelled_reader_option_is_refused_naming_the_split_and_the_accepted_ones(tmp_path: Path) -> None:
    recipe = _text_table(tmp_path, ["0", "1"] * 6)
    with pytest.raises(ConfigError, match=r"^data.train: reader \S+ does not accept option\(s\) targt_column; it accepts: .*target_column"):
        train_recipe(recipe, PluginHost(entry_points=False), ["data.options={targt_column: label}"])


def test_no_records_to_train_on_is_said_as_such(tmp_path: Path) -> None:
    """A header-only table, or a split that leaves nothing to train on, is named, not a missing num_labels."""
    recipe = _text_table(tmp_path, [])
    with pytest.raises(ConfigError, match=r"^no records to train on: .*table.csv holds none, or none are left after data.split \(0 to validate, 0 to test\)$"):
        train_recipe(recipe, PluginHost(entry_points=False))
    with pytest.raises(InputFileError, match=r"^input not found: .*missing.csv$"):
        train_recipe(recipe, PluginHost(entry_points=False), ["data.train=missing.csv"])
    assert not (tmp_path / "run").exists()  # a refused run leaves no state behind
