"""Retrain every shipped model from its recipe (`make models`): the text toy model and each plugin's."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from sciformer.plugins import PluginHost
from sciformer.training.recipe import train_recipe

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted([*ROOT.glob("core/sciformer/builtin/*/recipes/*.yaml"), *ROOT.glob("plugins/*/recipes/*.yaml")])


def main() -> None:
    """Train each recipe named on the command line, or all of them."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    wanted = set(sys.argv[1:])
    host = PluginHost()
    for recipe in RECIPES:
        if wanted and recipe.stem not in wanted:
            continue
        result = train_recipe(recipe, host)
        logging.info("%s -> %s: valid %s, test %s", recipe.relative_to(ROOT), result.output, result.valid, result.test)


if __name__ == "__main__":
    main()
