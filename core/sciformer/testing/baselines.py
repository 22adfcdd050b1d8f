"""Running a baseline script as a fresh clone would: on the sample data its plugin ships."""

from __future__ import annotations

import os
from pathlib import Path

from sciformer.baseline_report import BaselineReport, run_script
from sciformer.training.recipe import DATA_ENV


def sample_data_report(script: Path, recipe: Path) -> BaselineReport:
    """Run `python SCRIPT RECIPE` without SCIFORMER_DATA (the recipe reads its plugin's sample data) on
    one thread; the report must parse (finite scores) and name the recipe and some test rows."""
    env = {key: value for key, value in os.environ.items() if key != DATA_ENV}
    report = run_script(script, recipe, {**env, "OMP_NUM_THREADS": "1"})
    assert report.model == recipe.stem, f"the report names {report.model}, the recipe is {recipe.stem}"
    assert report.test_records > 0 and report.candidates, f"{script.name} scored no test rows or tried no candidate"
    return report
