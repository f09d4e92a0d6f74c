#!/usr/bin/env bash
# Error vs bitwidth for every map at B128 (the 4-bit paper's ablations; SOLO's 2-bit regime), and the
# memory-vs-error trade-off with its Pareto front.
source "$(dirname "$0")/common.sh"
d="$OUT/bitwidth"
"$LBQ" sweep "$SAMPLE" -o "$d" --map dtree,dtree0,linear,linsq,log,uniform --norm block,rank1 --bits 2-8 --block 128 --no-swamp -q
awk -F'\t' 'NR==1 || ($7=="TOTAL" && $3=="block")' "$d/results.tsv" | cut -f1,9-12,15,16 | column -t
echo "figures: $d/fig1-error-vs-bits.png, $d/fig7-memory-vs-error.png, $d/fig6-codebooks.png"
