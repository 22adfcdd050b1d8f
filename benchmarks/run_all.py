"""`make bench`: run every benchmark script side by side with its reference and write benchmarks/RESULTS.md.

`--only SECTION ...` re-runs some sections and replaces them in an existing RESULTS.md.

Each script prints its own lines (throughputs, ratios, agreement of outputs); this collects them with
the machine description. A script that fails is reported with its error and the others still run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = (
    ("ceiling", ["matmul_ceiling.py"]),
    ("cli startup", ["cli_startup.py"]),
    ("scoring pipeline", ["scoring_pipeline.py", "--model", "esm2-deeploc-small", "--input", str(HERE.parent / "plugins/protein/data/deeploc_sample.csv"), "--copies", "10"]),
)
EXTRA = sorted(p.name for p in HERE.glob("bench_*.py"))


def main() -> None:
    """Run each benchmark (or those named with --only), print its output as it comes and write RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="+", metavar="SECTION", help="re-run these sections and replace them in RESULTS.md")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from common import machine

    every = [*SCRIPTS, *((name.removeprefix("bench_").removesuffix(".py").replace("_", " "), [name]) for name in EXTRA)]
    unknown = set(args.only or ()) - {title for title, _ in every}
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {[title for title, _ in every]}")
    results = HERE / "RESULTS.md"
    sections = _read_sections(results) if args.only else {}
    for title, command in every:
        if args.only and title not in args.only:
            continue
        completed = subprocess.run([sys.executable, *command], cwd=HERE, capture_output=True, text=True)
        body = completed.stdout.strip() if completed.returncode == 0 else f"FAILED (exit {completed.returncode}):\n{completed.stderr.strip()[-2000:]}"
        print(f"== {title}\n{body}\n", flush=True)
        sections[title] = f"## {title}\n\n_Measured {dt.date.today()}._\n\n```\n{body}\n```\n"
    header = f"# Benchmark results\n\nMachine: {machine()}\n\nReproduce with `make bench` (one section: `python benchmarks/run_all.py --only NAME`).\n"
    results.write_text("\n".join([header, *(sections[title] for title, _ in every if title in sections)]))


def _read_sections(path: Path) -> dict[str, str]:
    """The `## title` sections of an existing RESULTS.md, by title."""
    if not path.is_file():
        return {}
    parts = path.read_text().split("\n## ")[1:]
    return {part.split("\n", 1)[0]: "## " + part.rstrip("\n") + "\n" for part in parts}


if __name__ == "__main__":
    main()
