#!/usr/bin/env bash
# Li et al. 2023, Figure 1 / Table 1: why B128 beats B2048 — smaller blocks isolate outlier rows and
# columns; rank-1 normalization as the reference.
source "$(dirname "$0")/common.sh"
d="$OUT/block-size"
"$LBQ" sweep "$SAMPLE" -o "$d" --map dtree,dtree0,linear --norm block,rank1 --bits 4 --block 32,64,128,256,512,1024,2048,4096 --no-swamp -q
awk -F'\t' 'NR==1 || $7=="TOTAL"' "$d/results.tsv" | cut -f1,9-12 | column -t
echo "figures: $d/fig2-error-vs-block.png, $d/fig5-heatmap.png"
