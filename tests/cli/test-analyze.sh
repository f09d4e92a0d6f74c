#!/usr/bin/env bash
# test-analyze.sh - `lbq analyze` on the bundled sample (data/sample-late.h5): the issue's acceptance
# checks (zero-point collapse of v with block128-dtree at 4 bits, none with rank1-linear), the
# JSON document (schema lbq.analyze/3), recipes and their fp32 exclusions, memory accounting and
# --params extrapolation, --tensor filtering, and consistency between per-parameter rows, totals,
# the text report and `lbq inspect`.
source "$(dirname "$0")/lib.sh"

[ -f "$SAMPLE_LATE" ] || skip_all "sample file $SAMPLE_LATE not present"
NPARAM=42
NELEM=397408

# reference facts from inspect: name, numel, v zero count per parameter
run inspect -q --json "$SAMPLE_LATE"
[ "$RC" == 0 ] || { echo "inspect of the sample failed"; exit 1; }
json_flat "$OUT" >"$T/insp.flat"
# "name numel vzeros" per parameter
awk -F '\t' '{ split($1, p, ".") }
    $1 ~ /^params\.[0-9]+\.name$/ { n[p[2]] = $2; gsub(/"/, "", n[p[2]]) }
    $1 ~ /^params\.[0-9]+\.numel$/ { e[p[2]] = $2 }
    $1 ~ /^params\.[0-9]+\.v\.frac_zero$/ { z[p[2]] = $2 }
    END { for (i in n) printf "%s %d %d\n", n[i], e[i], int(z[i] * e[i] + 0.5) }' "$T/insp.flat" | sort >"$T/params.txt"
check_eq "reference: inspect lists $NPARAM parameters" $NPARAM "$(wc -l <"$T/params.txt")"
VPOS=$(awk '{ s += $2 - $3 } END { print s }' "$T/params.txt")     # v >= 0 and finite: positive = numel - zeros

# ---- block128-dtree, 4 bits ---------------------------------------------------------------------
J=$T/dtree.json
run analyze "$SAMPLE_LATE" --quant block128-dtree --bits 4 --device cpu --json "$J"
check_no_crash "analyze block128-dtree b4: no crash"
check_rc "analyze block128-dtree b4: exit 0" 0
cp "$OUT" "$T/dtree.txt"
json_valid "analyze --json: valid JSON" "$J"
json_flat "$J" >"$T/dtree.flat"
check_eq "analyze --json: schema" lbq.analyze "$(json_get "$J" schema)"
check_eq "analyze --json: schema_version" 3 "$(json_get "$J" schema_version)"
check_eq "analyze --json: $NPARAM params" $NPARAM "$(json_count "$J" params)"
check_eq "analyze --json: config.m" "block128-dtree:b4" "$(json_get "$J" config.m)"
check_eq "analyze --json: config.v" "block128-dtree:b4" "$(json_get "$J" config.v)"
check_eq "analyze --json: config.recipe is null" null "$(json_get "$J" config.recipe)"
check_eq "analyze --json: hparams.step" 300 "$(json_get "$J" hparams.step)"
for k in m.rel_l2 v.rel_l2 m.max_abs_err v.zero_collapse update.rel_l2 update.cosine update.blowup_frac numel bits_per_elem_m bits_per_elem_v; do
    v=$(json_get "$J" totals.$k)
    check "analyze --json: totals.$k is a number" grep -Eq '^-?[0-9]' <<<"$v"
done
check_eq "totals.numel = $NELEM" $NELEM "$(json_get "$J" totals.numel)"
ZC=$(json_get "$J" totals.v.zero_collapse)
check_num "ACCEPTANCE: block128-dtree b4: totals.v.zero_collapse > 0" "$ZC" ">" 0
P=$(json_get "$J" totals.v.positive); PZ=$(json_get "$J" totals.v.positive_to_zero)
check_eq "totals.v.positive = number of v > 0 (from inspect: numel - zeros)" "$VPOS" "$P"
check_close "totals.v.zero_collapse = positive_to_zero / positive" "$ZC" "$(awk -v a="$PZ" -v b="$P" 'BEGIN { printf "%.17g", a / b }')" 1e-12
check_num "update errors: 0 < totals.update.cosine <= 1" "$(json_get "$J" totals.update.cosine)" "<=" 1
# per-parameter rows sum to the totals
sums=$(awk -F '\t' '$1 ~ /^params\.[0-9]+\.numel$/ { n += $2 } $1 ~ /^params\.[0-9]+\.v\.positive_to_zero$/ { z += $2 } $1 ~ /^params\.[0-9]+\.v\.positive$/ { p += $2 } END { printf "%d %d %d", n, p, z }' "$T/dtree.flat")
check_eq "params sum to totals (numel, v.positive, v.positive_to_zero)" "$NELEM $P $PZ" "$sums"
# the text report says the same
check_grep "text: zero-point line matches the JSON" "^zero-point: $PZ of $P positive v elements dequantize to 0" "$T/dtree.txt"
check_grep "text: TOTAL row" "^TOTAL \(element-weighted\) +$NELEM " "$T/dtree.txt"
check_eq "text: one row per parameter" $NPARAM "$(awk 'NR > 2 && $1 !~ /^(TOTAL|-+|zero-point:|zeros|memory:)/ { n++ } END { print n + 0 }' "$T/dtree.txt")"
# memory: fp32 m+v = 8 bytes per element; block128 at 4 bits = 4 bits per element + one fp32 scale
# per block of 128 (ceil), for m and for v
check_eq "memory.fp32_bytes = 8 * numel" $((8 * NELEM)) "$(json_get "$J" memory.fp32_bytes)"
QB=$(awk '{ b += 4 * $2 + 32 * int(($2 + 127) / 128) } END { printf "%.17g", 2 * b / 8 }' "$T/params.txt")
check_close "memory.quantized_bytes = 2 * sum(4 n + 32 ceil(n/128)) / 8" "$(json_get "$J" memory.quantized_bytes)" "$QB" 1e-12
check_eq "nonfinite_excluded = 0 (README: no NaN/Inf)" 0 "$(json_get "$J" nonfinite_excluded)"

# ---- rank1-linear: the unsigned linear map has no zero level -> no collapse at all ---------------
J=$T/rank1.json
run analyze -q "$SAMPLE_LATE" --quant rank1-linear --device cpu --json "$J"
check_rc "analyze rank1-linear: exit 0" 0
check_eq "ACCEPTANCE: rank1-linear: totals.v.zero_collapse = 0 exactly" 0 "$(json_get "$J" totals.v.zero_collapse)"
check_eq "rank1-linear: totals.v.positive_to_zero = 0" 0 "$(json_get "$J" totals.v.positive_to_zero)"
check_eq "rank1-linear: totals.v.positive as for dtree" "$P" "$(json_get "$J" totals.v.positive)"
check_eq "rank1-linear: config.v" "rank1-linear:b4" "$(json_get "$J" config.v)"

# ---- recipes: each runs; tensors excluded by the recipe's documented rule stay fp32 ---------------
# rules (lbq list): lpmm4 numel <= 4096; bnb8 numel < 4096; torchao4 numel < 4096 or numel % 128;
# solo42 numel < 128 or numel % 4; coat none.
declare -A RULE=( [lpmm4]='$2 <= 4096' [bnb8]='$2 < 4096' [torchao4]='$2 < 4096 || $2 % 128 != 0' [solo42]='$2 < 128 || $2 % 4 != 0' [coat]='0' )
# the specs each recipe uses, as `lbq list --json` documents them
run list --json
cp "$OUT" "$T/list.json"
declare -A MSPEC VSPEC
for i in $(seq 0 $(($(json_count "$T/list.json" recipes) - 1))); do
    n=$(json_get "$T/list.json" recipes.$i.name)
    MSPEC[$n]=$(json_get "$T/list.json" recipes.$i.m)
    VSPEC[$n]=$(json_get "$T/list.json" recipes.$i.v)
done
# compare specs as written by the user and as canonicalized by lbq: same NORM-MAP and flags; the
# canonical text adds :bN (the bits) and, for the log map, :pX (the quantile, default 0.1)
spec_flags() { echo "$1" | tr ':' '\n' | grep -Ev '^(b[0-9]+|p[0-9.eE+-]+)$' | paste -sd: -; }
spec_opt() { echo "$1" | tr ':' '\n' | grep -E "^$2[0-9.eE+-]+\$" | head -n 1 | cut -c2-; }
check_spec() {  # NAME DOCUMENTED CANONICAL
    local name=$1 doc=$2 can=$3 b p
    check_eq "$name: same NORM-MAP and flags as documented ($doc)" "$(spec_flags "$doc")" "$(spec_flags "$can")"
    b=$(spec_opt "$doc" b)
    [ -n "$b" ] && check_eq "$name: bits as documented" "$b" "$(spec_opt "$can" b)"
    p=$(spec_opt "$can" p)
    [ -n "$p" ] && check_close "$name: log quantile p = 0.1 (default)" "$p" 0.1 1e-6
    return 0
}
for r in lpmm4 bnb8 torchao4 solo42 coat; do
    J=$T/recipe-$r.json
    run analyze -q "$SAMPLE_LATE" --recipe $r --device cpu --json "$J"
    cp "$OUT" "$T/recipe-$r.txt"
    check_no_crash "recipe $r: no crash"
    check_rc "recipe $r: exit 0" 0
    check_empty "recipe $r -q: nothing on stderr" "$ERR"
    check_eq "recipe $r: config.recipe" "$r" "$(json_get "$J" config.recipe)"
    check "recipe $r: documented by lbq list" test -n "${MSPEC[$r]:-}"
    check_spec "recipe $r: config.m" "${MSPEC[$r]:-}" "$(json_get "$J" config.m)"
    check_spec "recipe $r: config.v" "${VSPEC[$r]:-}" "$(json_get "$J" config.v)"
    want=$(awk "${RULE[$r]} { print \$1 }" "$T/params.txt" | sort | tr '\n' ' ')
    got=$(json_flat "$J" | awk -F '\t' '{ split($1, p, ".") } $1 ~ /^params\.[0-9]+\.name$/ { n[p[2]] = $2 } $1 ~ /^params\.[0-9]+\.kept_fp32$/ && $2 == "true" { k[p[2]] = 1 }
        END { for (i in k) { s = n[i]; gsub(/"/, "", s); print s } }' | sort | tr '\n' ' ')
    check_eq "recipe $r: exactly the documented tensors are kept in fp32" "$want" "$got"
    bad=$(json_flat "$J" | awk -F '\t' '{ split($1, p, ".") } $1 ~ /^params\.[0-9]+\.kept_fp32$/ { k[p[2]] = ($2 == "true") }
        $1 ~ /^params\.[0-9]+\.[mv]\.rel_l2$/ { e[p[2]] = e[p[2]] " " $2 }
        END { for (i in k) if (k[i] && e[i] != " 0 0") print i ":" e[i] }')
    check_eq "recipe $r: fp32-kept tensors have zero state error" "" "$bad"
    check_num "recipe $r: some state error overall" "$(json_get "$J" totals.m.rel_l2)" ">" 0
    # SOLO edge-case block counts: per-parameter rows sum to the totals; only the log map counts
    for k in blocks all_zero max_below_1e-12 zero_quantile; do
        s=$(json_flat "$J" | awk -F '\t' -v k="$k" '$1 ~ /^params\.[0-9]+\.v\.solo_edge_blocks\./ && $1 ~ ("\\." k "$") { t += $2 } END { print t + 0 }')
        check_eq "recipe $r: v.solo_edge_blocks.$k sums to the total" "$(json_get "$J" "totals.v.solo_edge_blocks.$k")" "$s"
    done
    if [ $r = solo42 ]; then
        check_num "recipe solo42: the sample has all-zero v blocks (zero embedding rows)" "$(json_get "$J" totals.v.solo_edge_blocks.all_zero)" ">" 0
        check_grep "recipe solo42: the text table marks them" "SOLO edge blocks [0-9]+/[0-9]+/[0-9]+" "$T/recipe-solo42.txt"
    else
        check_eq "recipe $r: no log-map blocks" 0 "$(json_get "$J" totals.v.solo_edge_blocks.blocks)"
    fi
done

# ---- --params: extrapolation to 7e9 parameters -----------------------------------------------------
J=$T/params.json
run analyze -q "$SAMPLE_LATE" --recipe lpmm4 --params 7e9 --device cpu --json "$J"
check_rc "--params 7e9: exit 0" 0
check_grep "--params 7e9: prints a GB line" "^at 7e\+09 parameters: .*GB" "$OUT"
# fp32 m+v: 7e9 * 8 bytes = 56 GB; quantized: 7e9 * (bits_m + bits_v) / 8 bytes
check_grep "--params 7e9: fp32 states 56.00 GB" "fp32 states 56\.00 GB" "$OUT"
QGB=$(awk -v a="$(json_get "$J" totals.bits_per_elem_m)" -v b="$(json_get "$J" totals.bits_per_elem_v)" 'BEGIN { printf "%.2f", 7e9 * (a + b) / 8 / 1e9 }')
check_grep "--params 7e9: quantized $QGB GB (from the JSON bits per element)" "quantized $QGB GB" "$OUT"
check_close "--params 7e9: memory.extrapolate_fp32_gb = 56" "$(json_get "$J" memory.extrapolate_fp32_gb)" 56 1e-12
check_eq "--params 7e9: memory.extrapolate_params" 7000000000 "$(json_get "$J" memory.extrapolate_params)"
run analyze -q "$SAMPLE_LATE" --recipe lpmm4 --device cpu
check_no_grep "without --params: no extrapolation line" "^at .* parameters:" "$OUT"
run analyze -q "$SAMPLE_LATE" --recipe lpmm4 --params 0
check_rc "--params 0: exit 2" 2
run analyze -q "$SAMPLE_LATE" --recipe lpmm4 --params many
check_rc "--params many: exit 2" 2
check_eq "--params many: one stderr line" 1 "$(wc -l <"$ERR")"

# ---- --tensor ----------------------------------------------------------------------------------------
for glob in 'blocks.0.*' '*.bias' 'tok_emb.weight' 'blocks.[12].mlp.*'; do
    J=$T/glob.json
    run analyze -q "$SAMPLE_LATE" --quant block128-dtree --bits 4 --device cpu --tensor "$glob" --json "$J"
    check_rc "--tensor '$glob': exit 0" 0
    want=$(while read -r n e z; do [[ $n == $glob ]] && echo "$n"; done <"$T/params.txt" | sort | tr '\n' ' ')
    got=$(json_flat "$J" | grep -E '^params\.[0-9]+\.name	' | cut -f2 | tr -d '"' | sort | tr '\n' ' ')
    check_eq "--tensor '$glob': exactly the matching parameters" "$want" "$got"
    wn=$(while read -r n e z; do [[ $n == $glob ]] && echo "$e"; done <"$T/params.txt" | awk '{ s += $1 } END { print s + 0 }')
    check_eq "--tensor '$glob': totals.numel" "$wn" "$(json_get "$J" totals.numel)"
done
# a single tensor's totals equal its row in the full run (metrics are per element, blocks per tensor)
J=$T/one.json
run analyze -q "$SAMPLE_LATE" --quant block128-dtree --bits 4 --device cpu --tensor tok_emb.weight --json "$J"
check_rc "--tensor tok_emb.weight: exit 0" 0
ti=$(awk -F '\t' '$1 ~ /^params\.[0-9]+\.name$/ && $2 == "\"tok_emb.weight\"" { split($1, p, "."); print p[2] }' "$T/dtree.flat")
for k in m.rel_l2 v.rel_l2 v.positive_to_zero update.rel_l2; do
    check_eq "--tensor tok_emb.weight: totals.$k = its row in the full run" \
        "$(json_get "$T/dtree.json" params.${ti:-X}.$k)" "$(json_get "$J" totals.$k)"
done
run analyze -q "$SAMPLE_LATE" --quant block128-dtree --tensor 'no.such.*'
check_rc "--tensor matching nothing: exit 2" 2
check_eq "--tensor matching nothing: one stderr line" 1 "$(wc -l <"$ERR")"
check_grep "--tensor matching nothing: says so" "no parameter matches" "$ERR"

# ---- one state only ----------------------------------------------------------------------------------
J=$T/monly.json
run analyze -q "$SAMPLE_LATE" --quant-m block128-dtree --device cpu --json "$J"
check_rc "--quant-m only: exit 0" 0
check_eq "--quant-m only: config.v = fp32" fp32 "$(json_get "$J" config.v)"
check_eq "--quant-m only: totals.v.rel_l2 = 0" 0 "$(json_get "$J" totals.v.rel_l2)"
check_eq "--quant-m only: no v collapse" 0 "$(json_get "$J" totals.v.positive_to_zero)"
check_num "--quant-m only: m error > 0" "$(json_get "$J" totals.m.rel_l2)" ">" 0
check_eq "--quant-m only: fp32 v costs 32 bits per element" 32 "$(json_get "$J" totals.bits_per_elem_v)"
J=$T/vonly.json
run analyze -q "$SAMPLE_LATE" --quant-v block128-dtree --device cpu --json "$J"
check_rc "--quant-v only: exit 0" 0
check_eq "--quant-v only: totals.m.rel_l2 = 0" 0 "$(json_get "$J" totals.m.rel_l2)"
check_eq "--quant-v only: v collapse as with --quant" "$PZ" "$(json_get "$J" totals.v.positive_to_zero)"

# ---- usage errors ------------------------------------------------------------------------------------
run analyze -q "$SAMPLE_LATE" --recipe lpmm4 --quant block128-dtree
check_rc "--recipe with --quant: exit 2" 2
check_eq "--recipe with --quant: one stderr line" 1 "$(wc -l <"$ERR")"
run analyze -q "$SAMPLE_LATE"
check_rc "no quantizer: exit 2" 2
check_eq "no quantizer: one stderr line" 1 "$(wc -l <"$ERR")"
run analyze -q --quant block128-dtree
check_rc "no FILE: exit 2" 2
run analyze -q "$SAMPLE_LATE" "$SAMPLE_LATE" --quant block128-dtree
check_rc "two FILEs: exit 2" 2

finish
