#!/usr/bin/env bash
# test-extra-quantizer.sh - "one file plus one registry line, no other edit" (docs/adding-a-quantizer.md).
# lbq-xq is the lbq program built with the map of tests/extra-quantizer/ (map-pow3.c, and the line
# LBQ_MAP(lbq_map_pow3) of registry-extra.def): no other file names pow3.  Every layer must then
# take it by its name and capability slots alone:
#   - lbq list (text and JSON levels, checked against the cubes computed here), spec parsing with
#     the name and an alias, canonical spec text;
#   - analyze (CPU engine) and a quantize round trip (quantize, then analyze the output with the same
#     spec: pow3 has +-1 in both signs, so re-quantization is exact: rel-L2 0 for m and v);
#   - sweep --map pow3 (the sweepable slot), theory --map pow3, the synthetic simulation;
#   - and the shipped lbq, built without that line, refuses pow3 (so the map is there only by it).
# The C tests xq-test-{registry,spec,codebooks,simd,quant-props} run the registry-driven unit tests
# on the same registry (tests/CMakeLists.txt).
source "$(dirname "$0")/lib.sh"

[ -n "${LBQ_XQ:-}" ] && [ -x "$LBQ_XQ" ] || skip_all "LBQ_XQ (the lbq-xq program) not set or not built"
[ -f "$SAMPLE_LATE" ] || skip_all "sample file $SAMPLE_LATE not present"
LBQ_SHIPPED=$LBQ
LBQ=$LBQ_XQ
TENSOR='blocks.0.mlp.fc1.weight'

# ---- the shipped program does not know it --------------------------------------------------------
LBQ=$LBQ_SHIPPED run analyze -q "$SAMPLE_LATE" --quant-v block128-pow3 --tensor "$TENSOR"
check_rc "shipped lbq: pow3 is not a map (exit 2)" 2
check_grep "shipped lbq: the message names pow3" "pow3" "$ERR"
LBQ=$LBQ_XQ

# ---- lbq list -------------------------------------------------------------------------------------
run list
check_rc "list: exit 0" 0
check_grep "list: pow3 with its help" '^  pow3 +bits 1-8 +\+/- +lpmm power-3' "$OUT"
check_grep "list: pow3's aliases" 'aliases: power-3,cube' "$OUT"
run list --json --bits 3
check_rc "list --json --bits 3: exit 0" 0
levels=$(tr -d ' \n\t' <"$OUT" | grep -o '"name":"pow3"[^}]*}' | head -1)
check "list --json: pow3 has an entry" test -n "$levels"
# the levels are fp32 roundings of the cubes: equal to the double-precision cubes within 2^-23 relative
same_levels() {   # NAME WANT GOT (comma-separated)
    local bad
    bad=$(awk -v w="$2" -v g="$3" 'BEGIN {
        nw = split(w, a, ","); ng = split(g, b, ",")
        if (nw != ng || nw != 8) { print "count " ng " want " nw; exit }
        for (i = 1; i <= nw; i++) { d = a[i] - b[i]; if (d < 0) d = -d; m = a[i] < 0 ? -a[i] : a[i]
            if (d > 1.2e-7 * m) print "level " i ": " b[i] " want " a[i] } }')
    check_eq "$1" "" "$bad"
}
want_u=$(awk 'BEGIN { for (i = 0; i < 8; i++) { t = (i + 1) / 8; printf "%s%.17g", (i ? "," : ""), t * t * t } }')
got_u=$(printf '%s' "$levels" | grep -o '"levels_unsigned":\[[^]]*\]' | sed 's/"levels_unsigned":\[//; s/\]//')
same_levels "list --json: pow3 unsigned levels at 3 bits are ((i+1)/8)^3" "$want_u" "$got_u"
want_s=$(awk 'BEGIN { for (i = 0; i < 8; i++) { t = -1 + 2 * i / 7; printf "%s%.17g", (i ? "," : ""), t * t * t } }')
got_s=$(printf '%s' "$levels" | grep -o '"levels_signed":\[[^]]*\]' | sed 's/"levels_signed":\[//; s/\]//')
same_levels "list --json: pow3 signed levels at 3 bits are linspace(-1,1,8)^3" "$want_s" "$got_s"

# ---- spec parsing and analyze --------------------------------------------------------------------
run analyze -q "$SAMPLE_LATE" --quant-v block128-pow3 --tensor "$TENSOR" --device cpu --json "$T/a.json"
check_rc "analyze --quant-v block128-pow3: exit 0" 0
check_eq "analyze: canonical spec text" "block128-pow3:b4" "$(json_get "$T/a.json" config.v)"
rel=$(json_get "$T/a.json" totals.v.rel_l2)
check_num "analyze: v is quantized (rel-L2 > 0)" "${rel:-0}" ">" 0
check_num "analyze: v rel-L2 < 1" "${rel:-1}" "<" 1
run analyze -q "$SAMPLE_LATE" --quant-v rank1-cube:b3 --tensor "$TENSOR" --device cpu --json "$T/a2.json"
check_rc "analyze with the alias 'cube' and rank-1: exit 0" 0
check_eq "analyze: the alias resolves to pow3" "rank1-pow3:b3" "$(json_get "$T/a2.json" config.v)"

# ---- quantize round trip -------------------------------------------------------------------------
run quantize -q "$SAMPLE_LATE" --quant block128-pow3 --bits 4 --tensor "$TENSOR" -o "$T/q.h5"
check_rc "quantize --quant block128-pow3: exit 0" 0
run analyze -q "$T/q.h5" --quant block128-pow3 --bits 4 --device cpu --json "$T/rt.json"
check_rc "analyze the quantized file with the same spec: exit 0" 0
check_eq "round trip: one parameter" 1 "$(json_count "$T/rt.json" params)"
check_eq "round trip: re-quantized m is exact (rel-L2 0)" 0 "$(json_get "$T/rt.json" totals.m.rel_l2)"
check_eq "round trip: re-quantized v is exact (rel-L2 0)" 0 "$(json_get "$T/rt.json" totals.v.rel_l2)"

# ---- sweep (the sweepable slot), theory, simulate -------------------------------------------------
run sweep -q "$SAMPLE_LATE" -o "$T/sw" --map pow3,dtree --norm block,rank1 --bits 3,4 --block 128 --tensor "$TENSOR" --no-plot --no-swamp
check_rc "sweep --map pow3,dtree: exit 0" 0
npow3=$(grep -c '"map":[[:space:]]*"pow3"' "$T/sw/results.json")
check_eq "sweep: 4 pow3 configurations (block/rank1 x 3/4 bits)" 4 "$npow3"
check_grep "sweep: results.tsv has pow3 rows" $'\tpow3\t|^pow3|[^a-z]pow3[^a-z]' "$T/sw/results.tsv"
run theory --map pow3 --bits 2-4
check_rc "theory --map pow3: exit 0" 0
check_grep "theory: a pow3 row" 'pow3' "$OUT"
run simulate -q --source synthetic --quant-v block128-pow3:b2 --betas 0.8:0.9:0.1 --steps 20
check_rc "simulate --source synthetic with pow3: exit 0" 0
check_grep "simulate: the quantizer is named" 'v quantizer block128-pow3:b2' "$OUT"

finish
