#!/usr/bin/env bash
# Benchmarks of the molecule plugin: splits, the Morgan-fingerprint ridge baseline, MAT training and
# evaluation on FreeSolv (random split), BBBP (scaffold split) and ESOL (scaffold split).
# Usage: benchmarks/run.sh DATA_DIR WORK_DIR   (DATA_DIR holds esol.csv, freesolv.csv, bbbp.csv)
# Each training takes a few minutes on two CPU cores; OMP_NUM_THREADS=1 avoids thread contention on
# small models. Set SCIFORMER_MOLECULE_CACHE to reuse conformers across runs.
set -euo pipefail
DATA=${1:?data folder}
WORK=${2:?work folder}
HERE=$(cd "$(dirname "$0")" && pwd)
SCIFORMER=${SCIFORMER:-sciformer}
export MOLECULE_SPLITS="$WORK/splits" MOLECULE_RUNS="$WORK/runs" OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

$SCIFORMER molecule split "$DATA/freesolv.csv" --out "$MOLECULE_SPLITS/freesolv" --method random --seed 0
$SCIFORMER molecule split "$DATA/bbbp.csv" --out "$MOLECULE_SPLITS/bbbp" --method scaffold --seed 0
$SCIFORMER molecule split "$DATA/esol.csv" --out "$MOLECULE_SPLITS/esol-scaffold" --method scaffold --seed 0

for name in freesolv:dG_hydration_kcal_per_mol esol-scaffold:logS; do
  $SCIFORMER molecule baseline "$MOLECULE_SPLITS/${name%%:*}" --target-column "${name##*:}" > "$WORK/baseline-${name%%:*}.json"
done
$SCIFORMER molecule baseline "$MOLECULE_SPLITS/bbbp" --target-column p_np --classification > "$WORK/baseline-bbbp.json"
for name in freesolv:dG_hydration_kcal_per_mol esol-scaffold:logS; do
  $SCIFORMER molecule baseline "$MOLECULE_SPLITS/${name%%:*}" --target-column "${name##*:}" --method strongest > "$WORK/strongest-${name%%:*}.json"
done
$SCIFORMER molecule baseline "$MOLECULE_SPLITS/bbbp" --target-column p_np --classification --method strongest > "$WORK/strongest-bbbp.json"

for recipe in freesolv bbbp esol-scaffold; do
  $SCIFORMER train "$HERE/$recipe.yaml"
done
$SCIFORMER molecule evaluate --model "$MOLECULE_RUNS/mat-freesolv" --input "$MOLECULE_SPLITS/freesolv/test.csv" > "$WORK/mat-freesolv.json"
$SCIFORMER molecule evaluate --model "$MOLECULE_RUNS/mat-bbbp" --input "$MOLECULE_SPLITS/bbbp/test.csv" > "$WORK/mat-bbbp.json"
$SCIFORMER molecule evaluate --model "$MOLECULE_RUNS/mat-esol-scaffold" --input "$MOLECULE_SPLITS/esol-scaffold/test.csv" > "$WORK/mat-esol-scaffold.json"
tail -n +1 "$WORK"/*.json
