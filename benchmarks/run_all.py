"""`make bench`: run every benchmark script side by side with its reference and write benchmarks/RESULTS.md.

Each script prints its own lines (throughputs, ratios, agreement of outputs); this collects them with
the machine description. A script that fails is reported with its error and the others still run.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = (
    ("ceiling", ["matmul_ceiling.py"]),
    ("scoring pipeline", ["scoring_pipeline.py", "--model", "text-who-ordered", "--input", str(HERE.parent / "core/sciformer/builtin/text/data/orders.txt"), "--copies", "2000"]),
)
EXTRA = sorted(p.name for p in HERE.glob("bench_*.py"))


def main() -> None:
    """Run each benchmark, print its output as it comes and write RESULTS.md."""
    sys.path.insert(0, str(HERE))
    from common import machine

    sections = [f"# Benchmark results\n\nMeasured {dt.date.today()} on: {machine()}\n", "Reproduce with `make bench`.\n"]
    for title, command in [*SCRIPTS, *((name.removeprefix("bench_").removesuffix(".py").replace("_", " "), [name]) for name in EXTRA)]:
        completed = subprocess.run([sys.executable, *command], cwd=HERE, capture_output=True, text=True)
        body = completed.stdout.strip() if completed.returncode == 0 else f"FAILED (exit {completed.returncode}):\n{completed.stderr.strip()[-2000:]}"
        print(f"== {title}\n{body}\n", flush=True)
        sections.append(f"## {title}\n\n```\n{body}\n```\n")
    (HERE / "RESULTS.md").write_text("\n".join(sections))


if __name__ == "__main__":
    main()
