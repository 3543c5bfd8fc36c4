#!/usr/bin/env bash
# The evaluation of the default agent (README "The default agent", BENCHMARKS.md "The default
# agent against DPV and the other heuristics"): every held-out set, without and with values at
# risk, every method, the same fires for every method. Run from the repository root with
# ../shared beside it; writes under $OUT (default runs/default_eval). Without arguments it
# evaluates the shipped default agent; pass checkpoints to evaluate others.
#
#   bash benchmarks/evaluate_default_agent.sh [CKPT ...]
set -euo pipefail
OUT=${OUT:-runs/default_eval}
WORCESTER=${WORCESTER:-../shared/landfire/worcester_vt}
CKPT=()
if [ $# -gt 0 ]; then CKPT=(--checkpoint "$@"); fi
mkdir -p "$OUT"

# values at risk for Worcester, which has none: synthetic houses along its developed land
# (benchmarks/values_raster.py, seed 2), on the whole raster and on its held-out eastern part
python benchmarks/values_raster.py --landfire "$WORCESTER" --seed 2 --out "$OUT/worcester_values.tif"
[ -d "$OUT/worcester_east" ] || python benchmarks/crop_landfire.py --landfire "$WORCESTER" --part east \
    --out "$OUT/worcester_east"
python benchmarks/values_raster.py --landfire "$OUT/worcester_east" --seed 2 --out "$OUT/worcester_east_values.tif"

# held-out tiles: Worcester's eastern 20 % (40 tiles of 32 x 32), synthetic seeds from 10^9
qagent-eval "${CKPT[@]}" --landscapes "$WORCESTER" --grid-size 32 --count 100 --ignitions 400 --figures 0 \
    --out "$OUT/tiles_worcester"
qagent-eval "${CKPT[@]}" --landscapes "$WORCESTER" --grid-size 32 --count 100 --ignitions 400 --figures 0 \
    --values "$OUT/worcester_values.tif" --out "$OUT/tiles_worcester_values"
qagent-eval "${CKPT[@]}" --landscapes synthetic --grid-size 32 --count 100 --ignitions 400 --figures 0 \
    --out "$OUT/tiles_synthetic"
qagent-eval "${CKPT[@]}" --landscapes synthetic --grid-size 32 --count 100 --ignitions 400 --figures 0 \
    --synthetic-values synthetic --out "$OUT/tiles_synthetic_values"
# dense values never trained on: synthetic habitat (value on 60-100 % of the burnable cells)
qagent-eval "${CKPT[@]}" --landscapes synthetic --grid-size 32 --count 100 --ignitions 400 --figures 0 \
    --synthetic-values habitat --out "$OUT/tiles_synthetic_habitat"
# a tile size never trained on
qagent-eval "${CKPT[@]}" --landscapes synthetic --grid-size 64 --count 50 --ignitions 400 --figures 0 \
    --out "$OUT/tiles_synthetic_64"

# whole rasters: all of Worcester (its western 80 % holds the training tiles) and its held-out
# eastern part alone (613 x 110), 20,000 evaluation fires each
for values in none values; do
  extra=(); east_extra=()
  if [ "$values" = values ]; then
    extra=(--values "$OUT/worcester_values.tif"); east_extra=(--values "$OUT/worcester_east_values.tif")
  fi
  qagent-plan "${CKPT[@]}" --landfire "$WORCESTER" --budget 0.05 --ignitions 20000 "${extra[@]}" \
      --out "$OUT/plan_worcester_$values"
  qagent-plan "${CKPT[@]}" --landfire "$OUT/worcester_east" --budget 0.05 --ignitions 20000 "${east_extra[@]}" \
      --out "$OUT/plan_east_$values"
done
# a dense values layer (habitat: canopy cover on the burnable cells), where the valued cells
# are far more than the budget can treat
python benchmarks/values_raster.py --landfire "$WORCESTER" --kind habitat --out "$OUT/worcester_habitat.tif"
python benchmarks/values_raster.py --landfire "$OUT/worcester_east" --kind habitat --out "$OUT/worcester_east_habitat.tif"
qagent-plan "${CKPT[@]}" --landfire "$WORCESTER" --budget 0.05 --ignitions 20000 \
    --values "$OUT/worcester_habitat.tif" --out "$OUT/plan_worcester_habitat"
qagent-plan "${CKPT[@]}" --landfire "$OUT/worcester_east" --budget 0.05 --ignitions 20000 \
    --values "$OUT/worcester_east_habitat.tif" --out "$OUT/plan_east_habitat"
python benchmarks/evaluation_tables.py "$OUT"
