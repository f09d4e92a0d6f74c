#!/bin/bash
# compare-builds.sh REF_LBQ NEW_LBQ [OUTDIR] - `lbq bench` of two builds, alternately, in the same
# minutes (bench/README.md): two rounds of the quantizer and recipe rows (16M elements, 5 reps),
# then the analyze and sweep rows of each; uptime before every run; JSON under OUTDIR.
set -u
[ $# -ge 2 ] || { echo "usage: bench/compare-builds.sh REF_LBQ NEW_LBQ [OUTDIR]" >&2; exit 2; }
for b in "$1" "$2"; do [ -x "$b" ] || { echo "compare-builds.sh: $b: not an executable" >&2; exit 2; }; done
REF=$1 NEW=$2 OUT=${3:-bench-compare}
mkdir -p "$OUT" || exit 2
for round in 1 2; do
  for b in REF NEW; do
    echo "== $b (${!b}) round $round: $(uptime)"
    "${!b}" bench --size 16M --reps 5 --no-sweep --json "$OUT/$b-rows-$round.json" 2>&1 | tail -n +2
  done
done
for b in REF NEW; do
  echo "== $b (${!b}) analyze and sweep: $(uptime)"
  "${!b}" bench --size 16M --reps 3 --quant none --recipes none --json "$OUT/$b-sweep.json" 2>&1 | tail -n 3
done
