"""Retrain every shipped model from its recipe (`make models`): the text toy model and each plugin's.

Recipes train on the full data sets (SCIFORMER_DATA; by default the shared data folder beside the
repository) and write into the shipped model's folder, which a recipe may only do when allowed. A
recipe whose `init:` is another shipped recipe (a pre-training stage) trains after it, from the
shipped model that stage just wrote. Each model's training curves are saved beside it as curves.png, and a
model that needs a step after training gets it (AFTER_TRAINING: the protein masked-LM model's contact
regression, fitted on the shared structures). The INT8 accuracy gate of each retrained model is measured
on its example records and kept in its checkpoint (examples/int8_gates.py).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from int8_gates import gate_options
from sciformer import int8_gate, int8_measure
from sciformer.plugins import PluginHost
from sciformer.training.curves import plot_curves
from sciformer.training.recipe import DATA_ENV, RECIPE_SUFFIXES, read_recipe_file, train_recipe
from sciformer.training.trainer import METRICS_FILE

log = logging.getLogger("train_models")
ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted([*ROOT.glob("core/sciformer/builtin/*/recipes/*.yaml"), *ROOT.glob("plugins/*/recipes/*.yaml")])
SHARED_DATA = ROOT.parent / "shared" / "data"
CURVES = "curves.png"  # the training curves, saved beside each shipped model
# What a shipped model needs after training, as `sciformer` arguments ({model}: its folder, {data}: SCIFORMER_DATA)
AFTER_TRAINING = {
    "esm2-mlm-small": ["protein", "fit-contacts", "--model", "{model}", "--structures", "{data}/proteins/structures", "--hold-out", "4CUP", "--out", "{model}"],
}


def main() -> None:
    """Train each recipe named on the command line, or all of them, into its shipped model's folder."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not os.environ.get(DATA_ENV):
        if not SHARED_DATA.is_dir():
            sys.exit(f"set {DATA_ENV} to the folder of the full data sets (none at {SHARED_DATA})")
        os.environ[DATA_ENV] = str(SHARED_DATA)
    wanted = set(sys.argv[1:])
    host = PluginHost()
    shipped = {model.path.name: model.path for model in host.shipped_models().values()}
    stages = {init_stage(recipe) for recipe in RECIPES} - {None}
    for recipe in stages_first(RECIPES):
        if wanted and recipe.stem not in wanted:
            continue
        if recipe.stem not in shipped:
            if recipe in stages:
                continue  # a stage that ships no model: trained into runs/ by the recipes that start from it
            sys.exit(f"{recipe.relative_to(ROOT)}: no shipped model folder named {recipe.stem}")
        overrides = [f"output={shipped[recipe.stem]}", "allow_package_output=true"]
        stage = init_stage(recipe)
        if stage is not None and stage.stem in shipped:
            overrides.append(f"init={shipped[stage.stem]}")
        result = train_recipe(recipe, host, overrides)
        plot_curves([result.output / METRICS_FILE], result.output / CURVES, title=recipe.stem)
        example = next((model for model in host.shipped_models().values() if model.path == shipped[recipe.stem]), None)
        if example is not None and example.example is not None:  # the INT8 gate of the new weights (examples/int8_gates.py)
            int8_gate.record(result.output, int8_measure.measure(result.output, example.example, host, gate_options(example.example_options)))
        if recipe.stem in AFTER_TRAINING:
            arguments = [a.format(model=result.output, data=os.environ[DATA_ENV]) for a in AFTER_TRAINING[recipe.stem]]
            subprocess.run([sys.executable, "-m", "sciformer", *arguments], check=True)
        log.info("%s -> %s: valid %s, test %s", recipe.relative_to(ROOT), result.output, result.valid, result.test)


def init_stage(recipe: Path) -> Path | None:
    """The recipe file that `recipe`'s `init:` names as its earlier stage, if any."""
    init = read_recipe_file(recipe).get("init")
    if not init or not str(init).endswith(RECIPE_SUFFIXES):
        return None
    return (recipe.parent / init).resolve()


def stages_first(recipes: list[Path]) -> list[Path]:
    """The recipes ordered so that each init stage comes before the recipes that start from it."""
    ordered: list[Path] = []

    def place(recipe: Path) -> None:
        stage = init_stage(recipe)
        if stage is not None and stage not in ordered:
            place(stage)
        if recipe not in ordered:
            ordered.append(recipe)

    for recipe in recipes:
        place(recipe)
    return ordered


if __name__ == "__main__":
    main()
