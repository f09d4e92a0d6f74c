#!/usr/bin/env bash
# test-sample.sh - the bundled sample (data/README.md) loads and inspect reports what the README
# says about it: 42 parameters, 397,408 elements, steps 20 / 300, exact-zero rows of
# tok_emb.weight (160 of 256 rows at step 20, 126 at step 300), no NaN/Inf, gradient streams of
# T = 48 for three named parameters; the JSON (schema lbq.inspect/1) is valid and complete.
source "$(dirname "$0")/lib.sh"

for f in "$SAMPLE_EARLY" "$SAMPLE_LATE"; do [ -f "$f" ] || skip_all "sample file $f not present"; done

NPARAM=42
NELEM=397408
GRAD_PARAMS="blocks.1.attn.proj.weight blocks.1.mlp.fc1.weight blocks.1.ln1.weight"

# ---- table output --------------------------------------------------------------------------------
run inspect "$SAMPLE_LATE"
check_rc "inspect sample-late: exit 0" 0
check_empty "inspect sample-late: no notices (all attributes present)" "$ERR"
check_grep "inspect sample-late: header says $NPARAM parameters, step 300" "^[^ ]*sample-late\.h5: $NPARAM parameters; step 300, beta1 0\.9, beta2 0\.999" "$OUT"
check_grep "inspect sample-late: total line" "^total: $NPARAM parameters, $NELEM elements" "$OUT"
# one 'm' row per parameter and one 'v' row below it
check_eq "inspect table: one m row per parameter" $NPARAM "$(awk '$1 ~ /^(tok_emb|pos_emb|blocks|ln_f|head)/ { n++ } END { print n + 0 }' "$OUT")"

run inspect "$SAMPLE_EARLY"
check_rc "inspect sample-early: exit 0" 0
check_grep "inspect sample-early: header says $NPARAM parameters, step 20" "sample-early\.h5: $NPARAM parameters; step 20," "$OUT"

# ---- JSON ----------------------------------------------------------------------------------------
for which in late early; do
    f=$SAMPLE_LATE; step=300; zrows=126
    [ $which == early ] && { f=$SAMPLE_EARLY; step=20; zrows=160; }
    J=$T/inspect-$which.json
    run inspect --json "$f"
    check_rc "inspect --json sample-$which: exit 0" 0
    cp "$OUT" "$J"
    json_valid "inspect --json sample-$which: valid JSON" "$J"
    check_eq "sample-$which: schema" lbq.inspect "$(json_get "$J" schema)"
    check_eq "sample-$which: schema_version" 1 "$(json_get "$J" schema_version)"
    check_eq "sample-$which: hparams.step" $step "$(json_get "$J" hparams.step)"
    check_eq "sample-$which: hparams.beta1" 0.9 "$(json_get "$J" hparams.beta1)"
    check_eq "sample-$which: hparams.beta2" 0.999 "$(json_get "$J" hparams.beta2)"
    check_eq "sample-$which: no hyper-parameter defaults used" "[]" "$(json_get "$J" hparams.defaults_used)"
    check_eq "sample-$which: $NPARAM parameters" $NPARAM "$(json_count "$J" params)"
    check_eq "sample-$which: total_elements" $NELEM "$(json_get "$J" total_elements)"
    json_flat "$J" >"$T/flat-$which"

    # every parameter: name, shape, numel = product of the shape, m and v statistics
    bad=$(awk -F '\t' '
        { split($1, p, "."); }
        $1 ~ /^params\.[0-9]+\.shape$/ { s = $2; gsub(/[][ ]/, "", s); n = split(s, d, ","); prod = 1; for (i = 1; i <= n; i++) prod *= d[i]; shape[p[2]] = prod; np[p[2]] = 1 }
        $1 ~ /^params\.[0-9]+\.numel$/ { numel[p[2]] = $2 }
        $1 ~ /^params\.[0-9]+\.name$/ { name[p[2]] = $2 }
        $1 ~ /^params\.[0-9]+\.[mv]\.(min|max|mean_abs|frac_zero|nan|inf)$/ { have[p[2] "." p[3] "." p[4]] = $2 }
        END {
            for (k in np) {
                if (shape[k] != numel[k]) print "params." k ": numel " numel[k] " != product of shape " shape[k]
                if (name[k] == "") print "params." k ": no name"
                split("min max mean_abs frac_zero nan inf", st, " ")
                for (s = 1; s <= 6; s++) for (j = 0; j < 2; j++) {
                    st2 = (j ? "v" : "m")
                    v = have[k "." st2 "." st[s]]
                    if (v == "" || v == "null") print "params." k ": " st2 "." st[s] " missing or null"
                }
            }
        }' "$T/flat-$which")
    check_eq "sample-$which: every parameter has numel = prod(shape) and m/v min,max,mean_abs,frac_zero,nan,inf" "" "$bad"
    # numel sums to the total
    check_eq "sample-$which: sum of numel = total_elements" $NELEM \
        "$(awk -F '\t' '$1 ~ /^params\.[0-9]+\.numel$/ { s += $2 } END { printf "%d", s }' "$T/flat-$which")"
    # README: no NaN/Inf anywhere
    check_eq "sample-$which: no NaN/Inf anywhere" 0 \
        "$(awk -F '\t' '$1 ~ /^params\.[0-9]+\.[mv]\.(nan|inf)$/ { s += $2 } END { print s + 0 }' "$T/flat-$which")"
    # v >= 0 everywhere (it is an EMA of squares), min <= mean_abs <= max for v
    check_eq "sample-$which: v.min >= 0 and v.min <= v.mean_abs <= v.max" "" \
        "$(awk -F '\t' '{ split($1, p, ".") } $1 ~ /\.v\.(min|max|mean_abs)$/ { x[p[2] "." p[4]] = $2; k[p[2]] = 1 }
            END { for (i in k) if (!(x[i ".min"] >= 0 && x[i ".min"] <= x[i ".mean_abs"] && x[i ".mean_abs"] <= x[i ".max"])) print i }' "$T/flat-$which")"

    # tok_emb.weight [256, 96]: rows that never received a gradient have m = v = 0 exactly
    ti=$(awk -F '\t' '$1 ~ /^params\.[0-9]+\.name$/ && $2 == "\"tok_emb.weight\"" { split($1, p, "."); print p[2] }' "$T/flat-$which")
    if [ -z "$ti" ]; then
        fail "sample-$which: tok_emb.weight listed"
    else
        check_eq "sample-$which: tok_emb.weight shape" "[256, 96]" "$(json_get "$J" params.$ti.shape)"
        fz=$(json_get "$J" params.$ti.v.frac_zero)
        check_num "sample-$which: tok_emb.weight v frac_zero > 0" "$fz" ">" 0
        check_close "sample-$which: tok_emb.weight v frac_zero = $zrows/256 rows (README)" "$fz" "$(awk -v z=$zrows 'BEGIN { printf "%.17g", z / 256 }')" 1e-12
        check_close "sample-$which: tok_emb.weight m frac_zero = $zrows/256 rows (README)" "$(json_get "$J" params.$ti.m.frac_zero)" "$(awk -v z=$zrows 'BEGIN { printf "%.17g", z / 256 }')" 1e-12
        check_eq "sample-$which: tok_emb.weight v min is 0" 0 "$(json_get "$J" params.$ti.v.min)"
    fi
    # the output head has no zero rows (README)
    hi=$(awk -F '\t' '$1 ~ /^params\.[0-9]+\.name$/ && $2 == "\"head.weight\"" { split($1, p, "."); print p[2] }' "$T/flat-$which")
    check_eq "sample-$which: head.weight v frac_zero = 0" 0 "$(json_get "$J" params.${hi:-X}.v.frac_zero)"
done

# gradient streams: only sample-late, T = 48, for exactly the three README parameters
J=$T/inspect-late.json
got=$(awk -F '\t' '{ split($1, p, ".") } $1 ~ /^params\.[0-9]+\.name$/ { n[p[2]] = $2 } $1 ~ /^params\.[0-9]+\.grads_T$/ { g[p[2]] = $2 }
       END { for (k in g) if (g[k] != 0) { s = n[k]; gsub(/"/, "", s); print s "=" g[k] } }' "$T/flat-late" | sort | tr '\n' ' ')
check_eq "sample-late: grads_T = 48 for the three README parameters only" \
    "$(for p in $GRAD_PARAMS; do echo "$p=48"; done | sort | tr '\n' ' ')" "$got"
check_eq "sample-early: no gradient streams" 0 \
    "$(awk -F '\t' '$1 ~ /^params\.[0-9]+\.grads_T$/ && $2 != 0 { n++ } END { print n + 0 }' "$T/flat-early")"
check_eq "sample-late: every parameter has param" $NPARAM \
    "$(awk -F '\t' '$1 ~ /^params\.[0-9]+\.has_param$/ && $2 == "true" { n++ } END { print n + 0 }' "$T/flat-late")"
check_eq "sample-early: no parameter has param" 0 \
    "$(awk -F '\t' '$1 ~ /^params\.[0-9]+\.has_param$/ && $2 == "true" { n++ } END { print n + 0 }' "$T/flat-early")"

# both files list the same parameters with the same shapes
check_eq "sample-early and sample-late: same names and shapes" \
    "$(grep -E '^params\.[0-9]+\.(name|shape)' "$T/flat-late")" "$(grep -E '^params\.[0-9]+\.(name|shape)' "$T/flat-early")"

# -o writes the same JSON as stdout, atomically
mkdir -p "$T/o"
run inspect "$SAMPLE_LATE" -o "$T/o/inspect.json"
check_rc "inspect -o: exit 0" 0
check_empty "inspect -o: nothing on stdout" "$OUT"
check_eq "inspect -o writes the --json document" "$(cat "$T/inspect-late.json")" "$(cat "$T/o/inspect.json" 2>/dev/null)"
check_no_tmp "inspect -o: no temporary file" "$T/o"

# --tensor filters
run inspect --json "$SAMPLE_LATE" --tensor 'blocks.1.*'
cp "$OUT" "$T/glob.json"
want=$(grep -E '^params\.[0-9]+\.name' "$T/flat-late" | cut -f2 | tr -d '"' | while read -r n; do [[ $n == blocks.1.* ]] && echo "$n"; done | sort)
check_eq "inspect --tensor 'blocks.1.*': exactly the matching parameters" "$want" \
    "$(json_flat "$T/glob.json" | grep -E '^params\.[0-9]+\.name' | cut -f2 | tr -d '"' | sort)"

finish
