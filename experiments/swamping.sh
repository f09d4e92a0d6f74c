#!/usr/bin/env bash
# SOLO (Xu et al. 2025), signal-swamping case study: X in R^1000, z ~ U[0,1], x0 = 1, 100 steps,
# final state vs beta for Linear (uniform with zero), DE and the logarithmic map, at 2/3/4 bits;
# and the swamping fractions of real gradient streams under bnb8, 2-bit DE and SOLO 4/2.
source "$(dirname "$0")/common.sh"
d="$OUT/swamping"; mkdir -p "$d"
for map in uniform dtree "log:sr"; do
  for b in 2 3 4; do
    spec="block128-${map%%:*}:b$b${map#${map%%:*}}"
    "$LBQ" simulate --source synthetic --quant-v "$spec" --betas 0.80:0.99:0.01 --steps 100 --json "$d/syn-${map%%:*}-b$b.json" -q | tail -n +3 | awk -v s="$spec" '{printf "%-24s beta %s final %s (fp32 %s)\n", s, $1, $2, $3}' | sed -n '1p;4p;6p;9p;14p;17p;20p'
  done
done
for r in "--recipe bnb8" "--quant block128-dtree --bits 2" "--recipe solo42"; do
  name=$(echo "$r" | tr -c 'a-z0-9' '_')
  "$LBQ" simulate "$SAMPLE" $r --json "$d/grads$name.json" -q
  "$LBQ" plot "$d/grads$name.json" -o "$d/grads$name" -q
done
"$LBQ" theory --bits 2-4
echo "figures: $d/ (and fig4-swamping.png of any sweep)"
