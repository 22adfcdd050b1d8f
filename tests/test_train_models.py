"""`make models` (examples/train_models.py): stages train before the recipes that start from them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from click.testing import CliRunner
from sciformer.cli.main import build_cli
from sciformer.plugins import PluginHost

ROOT = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location("train_models", ROOT / "examples" / "train_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stages_come_first_and_init_names_the_stage_recipe(tmp_path) -> None:
    script = load_script()
    (tmp_path / "tune.yaml").write_text("init: pretrain.yaml\nmodel: {domain: text}\n")
    (tmp_path / "pretrain.yaml").write_text("init: base.yaml\nmodel: {domain: text}\n")
    (tmp_path / "base.yaml").write_text("model: {domain: text}\n")
    (tmp_path / "other.yaml").write_text("init: some-shipped-model\nmodel: {domain: text}\n")
    recipes = [tmp_path / name for name in ("other.yaml", "tune.yaml", "pretrain.yaml", "base.yaml")]
    assert [r.name for r in script.stages_first(recipes)] == ["other.yaml", "base.yaml", "pretrain.yaml", "tune.yaml"]
    assert script.init_stage(tmp_path / "tune.yaml") == tmp_path / "pretrain.yaml"
    assert script.init_stage(tmp_path / "other.yaml") is None


def test_every_shipped_recipe_has_its_stages_among_the_recipes() -> None:
    script = load_script()
    ordered = script.stages_first(script.RECIPES)
    for recipe in ordered:
        stage = script.init_stage(recipe)
        if stage is not None:
            assert stage in ordered and ordered.index(stage) < ordered.index(recipe)


def test_steps_after_training_name_shipped_models_and_real_commands() -> None:
    script = load_script()
    host = PluginHost()
    shipped = {model.path.name for model in host.shipped_models().values()}
    for name, arguments in script.AFTER_TRAINING.items():
        assert name in shipped
        group, command = arguments[:2]
        outcome = CliRunner().invoke(build_cli(host), [group, command, "--help"], obj=host)
        assert outcome.exit_code == 0, outcome.output
        for option in (a for a in arguments if a.startswith("--")):
            assert option in outcome.output
