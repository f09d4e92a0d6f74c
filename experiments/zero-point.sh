#!/usr/bin/env bash
# Li et al. 2023 (4-bit optimizers), Figure 3 and Table 1: the zero-point problem of v.
# B128/DE maps small v to exactly 0, so 1/sqrt(v) piles up at 1/eps; DE-0 and Linear exclude zero.
source "$(dirname "$0")/common.sh"
d="$OUT/zero-point"
"$LBQ" sweep "$SAMPLE" -o "$d" --map dtree,dtree0,linear --norm block,rank1 --bits 4 --block 128 --state v --no-swamp -q
for q in block128-dtree block128-dtree0 block128-linear rank1-dtree0 rank1-linear; do
  "$LBQ" analyze "$SAMPLE" --quant-v "$q" --bits 4 -q | grep -E "^zero-point|^TOTAL" | sed "s|^|$q: |"
done
echo "figure: $d/fig3-zero-point.png"
