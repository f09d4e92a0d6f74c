#!/usr/bin/env bash
# test-quantize.sh - `lbq quantize`: the output is a moment file lbq reads back (same parameters and
# shapes, same hyper-parameters), written atomically; tensors a recipe keeps in fp32 are exact
# copies; and quantization is idempotent where the codebook makes it so (dequantized values
# re-quantize to themselves).
#
# Idempotence, from the definitions (absmax normalization, nearest level): re-quantizing x^ = q[c]*s
# gives back x^ when the re-computed scale equals s, i.e. when the element of largest |x| in each
# scale group was coded to the codebook level of magnitude 1.  For v (>= 0, unsigned codebooks end
# at 1) that always holds; for m it holds when the signed codebook contains both -1 and +1 (linear,
# uniform), not for the signed dynamic tree, whose most negative level is -0.8875 at 4 bits
# (bitsandbytes/lpmm convention), so block128-dtree m is checked only for a small, non-zero error.
source "$(dirname "$0")/lib.sh"

[ -f "$SAMPLE_LATE" ] || skip_all "sample file $SAMPLE_LATE not present"
NPARAM=42

inspect_json() {    # FILE OUTJSON
    run inspect -q --json "$1"
    cp "$OUT" "$2"
    [ "$RC" == 0 ]
}
names_shapes() { json_flat "$1" | grep -E '^params\.[0-9]+\.(name|shape)	'; }

inspect_json "$SAMPLE_LATE" "$T/in.json" || { echo "inspect of the sample failed"; exit 1; }

# ---- --recipe lpmm4 ----------------------------------------------------------------------------
D=$T/q1; mkdir -p "$D"
echo "not an HDF5 file: must be replaced" >"$D/out.h5"
run quantize "$SAMPLE_LATE" --recipe lpmm4 -o "$D/out.h5"
check_no_crash "quantize lpmm4: no crash"
check_rc "quantize lpmm4: exit 0" 0
check "quantize lpmm4: stderr holds only 'lbq: ' notices" awk '!/^lbq: / { exit 1 }' "$ERR"
check_no_grep "quantize lpmm4: no error or warning" "error|warning" "$ERR"
check_no_tmp "quantize lpmm4: no temporary file left" "$D"
check_eq "quantize lpmm4: the output directory holds only OUT" "out.h5" "$(ls -A "$D" | tr '\n' ' ' | sed 's/ $//')"
inspect_json "$D/out.h5" "$T/out.json"
check_rc "inspect OUT: exit 0" 0
check_empty "inspect OUT: no notices (step and betas carried over)" "$ERR"
check_eq "OUT: $NPARAM parameters" $NPARAM "$(json_count "$T/out.json" params)"
check_eq "OUT: same parameter names and shapes as the input" "$(names_shapes "$T/in.json")" "$(names_shapes "$T/out.json")"
for k in step beta1 beta2 eps; do
    check_eq "OUT: hparams.$k carried over" "$(json_get "$T/in.json" hparams.$k)" "$(json_get "$T/out.json" hparams.$k)"
done
check_eq "OUT: m and v stored as float32" "" \
    "$(json_flat "$T/out.json" | awk -F '\t' '$1 ~ /\.dtype\.exp_avg(_sq)?$/ && $2 != "\"float32\"" { print $1 }')"

# lpmm4 keeps tensors with numel <= 4096 in fp32: their statistics are identical to the input's.
# For the others v is rank1-linear: the largest v of a tensor is the row and column maximum at its
# position, so its scale is itself and it is coded as level 1: max v is preserved exactly.
json_flat "$T/in.json" >"$T/in.flat"
json_flat "$T/out.json" >"$T/out.flat"
diffs=$(awk -F '\t' '
    FNR == 1 { file++ }
    { split($1, p, "."); }
    $1 ~ /^params\.[0-9]+\.numel$/ { numel[file, p[2]] = $2 }
    $1 ~ /^params\.[0-9]+\.[mv]\.(min|max|mean_abs|frac_zero)$/ { val[file, p[2] "." p[3] "." p[4]] = $2; key[p[2] "." p[3] "." p[4]] = p[2] }
    END {
        for (k in key) {
            i = key[k]
            if (numel[1, i] <= 4096 && val[1, k] != val[2, k]) print "fp32-kept " k ": " val[1, k] " -> " val[2, k]
            if (numel[1, i] > 4096 && k ~ /\.v\.max$/ && val[1, k] != val[2, k]) print "quantized " k ": " val[1, k] " -> " val[2, k]
        }
    }' "$T/in.flat" "$T/out.flat")
check_eq "lpmm4: fp32-kept tensors unchanged; max v of quantized tensors preserved" "" "$diffs"
nkept=$(awk -F '\t' '$1 ~ /^params\.[0-9]+\.numel$/ && $2 <= 4096 { n++ } END { print n + 0 }' "$T/in.flat")
check_num "lpmm4: the sample has both kept and quantized tensors" "$nkept" ">" 0
check_num "lpmm4: the sample has both kept and quantized tensors (quantized)" "$((NPARAM - nkept))" ">" 0
# quantized tensors really changed: some statistic of m differs
nchg=$(awk -F '\t' 'FNR == 1 { file++ } { split($1, p, ".") }
    $1 ~ /^params\.[0-9]+\.numel$/ { numel[p[2]] = $2 }
    $1 ~ /^params\.[0-9]+\.m\.mean_abs$/ { v[file, p[2]] = $2 }
    END { for (i in numel) if (numel[i] > 4096 && v[1, i] != v[2, i]) n++; print n + 0 }' "$T/in.flat" "$T/out.flat")
check_eq "lpmm4: every quantized tensor's m changed" "$((NPARAM - nkept))" "$nchg"

# ---- idempotence --------------------------------------------------------------------------------
# quantize SPEC, then analyze the output with the same SPEC
roundtrip() {   # NAME SPEC-ARGS...   -> $T/rt.json
    local name=$1; shift
    rm -f "$T/rt.h5" "$T/rt.json"
    run quantize -q "$SAMPLE_LATE" "$@" -o "$T/rt.h5"
    check_rc "$name: quantize exit 0" 0
    run analyze -q "$T/rt.h5" "$@" --device cpu --json "$T/rt.json"
    check_rc "$name: analyze OUT exit 0" 0
    check_eq "$name: analyze OUT sees $NPARAM parameters" $NPARAM "$(json_count "$T/rt.json" params)"
}
roundtrip "block128-dtree 4 bits" --quant block128-dtree --bits 4
check_eq "block128-dtree b4 re-quantized: totals.v.rel_l2 = 0" 0 "$(json_get "$T/rt.json" totals.v.rel_l2)"
check_eq "block128-dtree b4 re-quantized: totals.v.max_abs_err = 0" 0 "$(json_get "$T/rt.json" totals.v.max_abs_err)"
check_eq "block128-dtree b4 re-quantized: no v collapses to 0" 0 "$(json_get "$T/rt.json" totals.v.positive_to_zero)"
# m: not a fixed point with the asymmetric signed tree (see the top), but far below one quantization step
run analyze -q "$SAMPLE_LATE" --quant block128-dtree --bits 4 --device cpu --json "$T/first.json"
m1=$(json_get "$T/first.json" totals.m.rel_l2)
m2=$(json_get "$T/rt.json" totals.m.rel_l2)
check_num "block128-dtree b4: first quantization has an m error" "$m1" ">" 0
check_num "block128-dtree b4 re-quantized: m error is finite" "$m2" ">=" 0
# single-block tensors (numel <= 128) whose largest |m| is positive (max >= -min, from inspect)
# are coded with the +1 level, keep their scale and so are fixed points
json_flat "$T/rt.json" >"$T/rt.flat"
res=$(awk -F '\t' 'FNR == 1 { file++ } { split($1, p, ".") }
    file == 1 && $1 ~ /^params\.[0-9]+\.name$/ { nm[p[2]] = $2 }
    file == 1 && $1 ~ /^params\.[0-9]+\.numel$/ { ne[p[2]] = $2 }
    file == 1 && $1 ~ /^params\.[0-9]+\.m\.min$/ { mn[p[2]] = $2 }
    file == 1 && $1 ~ /^params\.[0-9]+\.m\.max$/ { mx[p[2]] = $2 }
    file == 2 && $1 ~ /^params\.[0-9]+\.name$/ { rn[$2] = p[2] }
    file == 2 && $1 ~ /^params\.[0-9]+\.m\.rel_l2$/ { re[p[2]] = $2 }
    END {
        for (i in nm) if (ne[i] <= 128 && mx[i] + 0 >= -mn[i]) { n++; if (re[rn[nm[i]]] != "0") bad = bad " " nm[i] "=" re[rn[nm[i]]] }
        print n + 0, bad
    }' "$T/in.flat" "$T/rt.flat")
check_num "block128-dtree b4: the sample has single-block tensors with a positive largest |m|" "${res%% *}" ">" 0
check_eq "block128-dtree b4 re-quantized: those tensors have m rel_l2 = 0" "" "$(echo "${res#* }" | sed 's/^ *//')"

for spec in block128-linear block128-uniform block64-linear; do
    roundtrip "$spec 4 bits" --quant $spec --bits 4
    check_eq "$spec b4 re-quantized: totals.m.rel_l2 = 0" 0 "$(json_get "$T/rt.json" totals.m.rel_l2)"
    check_eq "$spec b4 re-quantized: totals.v.rel_l2 = 0" 0 "$(json_get "$T/rt.json" totals.v.rel_l2)"
    check_eq "$spec b4 re-quantized: totals.update.rel_l2 = 0" 0 "$(json_get "$T/rt.json" totals.update.rel_l2)"
done
roundtrip "tensor-dtree v, 8 bits" --quant-v tensor-dtree --bits 8
check_eq "tensor-dtree b8 (v only) re-quantized: totals.v.rel_l2 = 0" 0 "$(json_get "$T/rt.json" totals.v.rel_l2)"
check_eq "tensor-dtree b8 (v only): m stays fp32 (rel_l2 = 0)" 0 "$(json_get "$T/rt.json" totals.m.rel_l2)"

# ---- --tensor, failures keep an existing OUT -----------------------------------------------------
D=$T/q2; mkdir -p "$D"
run quantize -q "$SAMPLE_LATE" --recipe lpmm4 --tensor 'blocks.2.*' -o "$D/part.h5"
check_rc "quantize --tensor: exit 0" 0
inspect_json "$D/part.h5" "$T/part.json"
want=$(json_flat "$T/in.json" | grep -E '^params\.[0-9]+\.name	' | cut -f2 | tr -d '"' | while read -r n; do [[ $n == blocks.2.* ]] && echo "$n"; done | sort)
check_eq "quantize --tensor 'blocks.2.*': exactly the matching parameters" "$want" \
    "$(json_flat "$T/part.json" | grep -E '^params\.[0-9]+\.name	' | cut -f2 | tr -d '"' | sort)"

echo "precious" >"$D/keep.h5"
run quantize -q "$FIXTURES/fx-mismatch.h5" --recipe lpmm4 -o "$D/keep.h5"
check_rc "quantize of a bad input: exit 3" 3
check_eq "quantize of a bad input leaves an existing OUT untouched" precious "$(cat "$D/keep.h5")"
run quantize -q "$SAMPLE_LATE" --recipe nope -o "$D/keep.h5"
check_rc "quantize with a bad option: exit 2" 2
check_eq "quantize with a bad option leaves an existing OUT untouched" precious "$(cat "$D/keep.h5")"
check_no_tmp "quantize failures: no temporary file left" "$D"

run quantize -q "$SAMPLE_LATE" --recipe lpmm4
check_rc "quantize without -o: exit 2" 2
check_eq "quantize without -o: one stderr line" 1 "$(wc -l <"$ERR")"
run quantize -q "$SAMPLE_LATE" -o "$D/x.h5"
check_rc "quantize without a quantizer: exit 2" 2
check "quantize without a quantizer: no output" test ! -e "$D/x.h5"

finish
