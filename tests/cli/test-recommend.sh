#!/usr/bin/env bash
# test-recommend.sh - `lbq recommend` and `lbq analyze --plan` (issue 18): the plan within the budget
# and at least as good as every published recipe that fits it (numbers taken from the outputs, and
# the recipes' numbers checked against `lbq analyze --recipe`); the plan's totals recomputed from its
# rows; `analyze --plan` reproduces every tensor's predicted numbers; --budget-gb; --candidates;
# bad input (one stderr line, documented exit code, no output file).
source "$(dirname "$0")/lib.sh"

# per-tensor rows of a plan or an analyze JSON, as "name<TAB>key<TAB>value"
rows() {
    json_flat "$1" | awk -F '\t' '$1 ~ /^params\.[0-9]+\./ { split($1, a, "."); i = a[2]; k = substr($1, length("params." i ".") + 1);
        v = $2; gsub(/"/, "", v); if (k == "name") nm[i] = v; else val[i, k] = v; ks[k] = 1; if (i + 1 > n) n = i + 1 }
        END { for (i = 0; i < n; i++) for (k in ks) if ((i, k) in val) print nm[i] "\t" k "\t" val[i, k] }' | sort
}

B=4.5
run recommend "$SAMPLE_LATE" --budget $B -o "$T/plan.json" -q
check_rc "recommend --budget $B exits 0" 0
cp "$OUT" "$T/table"
json_valid "plan.json is valid JSON" "$T/plan.json"
check_eq "schema lbq.plan" "lbq.plan" "$(json_get "$T/plan.json" schema)"
check_eq "schema_version 1" "1" "$(json_get "$T/plan.json" schema_version)"
check_grep "table: PLAN line" '^PLAN: [0-9.]+ bits/element' "$T/table"
check_grep "table: recipes section" '^published recipes' "$T/table"
NP=$(json_count "$T/plan.json" params)
check_num "plan has a row per tensor" "$NP" "==" "$("$LBQ" inspect "$SAMPLE_LATE" --json | json_count /dev/stdin params 2>/dev/null || echo 42)"
rows "$T/plan.json" >"$T/plan.rows"
# totals recomputed from the rows: element-weighted objective and bits
read -r OBJ BITS N < <(awk -F '\t' '{ v[$1, $2] = $3; nm[$1] = 1 } END { for (t in nm) { n = v[t, "numel"]; N += n; o += n * v[t, "update_rel_l2"]; b += v[t, "bits_m"] + v[t, "bits_v"] }
    printf "%.17g %.17g %.17g\n", o / N, b / (2 * N), N }' "$T/plan.rows")
check_close "totals.update_rel_l2_ew = sum numel*update_rel_l2 / sum numel" "$(json_get "$T/plan.json" totals.update_rel_l2_ew)" "$OBJ" 1e-12
check_close "totals.bits_per_elem = sum (bits_m + bits_v) / (2 sum numel)" "$(json_get "$T/plan.json" totals.bits_per_elem)" "$BITS" 1e-12
check_num "plan memory within the budget" "$BITS" "<=" "$B"
check_num "plan uses the budget (>= 99%)" "$BITS" ">=" "$(awk -v b=$B 'BEGIN { print 0.99 * b }')"
check_no_grep "no vetoed choice: no v collapse in the plan" '	v_zero_collapse	[1-9]' "$T/plan.rows"
# every published recipe: its numbers in the plan equal analyze --recipe's (element-weighted mean of
# the per-tensor update rel-L2; bits (m + v)/2); the plan is at least as good as each one that fits
NREC=$(json_count "$T/plan.json" recipes)
check_num "plan lists the published recipes" "$NREC" ">=" 5
FIT=0
for ((k = 0; k < NREC; k++)); do
    R=$(json_get "$T/plan.json" recipes.$k.name)
    RB=$(json_get "$T/plan.json" recipes.$k.bits_per_elem)
    RO=$(json_get "$T/plan.json" recipes.$k.update_rel_l2_ew)
    run analyze "$SAMPLE_LATE" --recipe "$R" --json "$T/r.json" -q
    check_rc "analyze --recipe $R" 0
    read -r AO AB < <(rows "$T/r.json" | awk -F '\t' '{ v[$1, $2] = $3; nm[$1] = 1 } END { for (t in nm) { n = v[t, "numel"]; N += n; o += n * v[t, "update.rel_l2"] }
        printf "%.17g\n", o / N }'; echo)
    AB=$(awk -v m="$(json_get "$T/r.json" totals.bits_per_elem_m)" -v v="$(json_get "$T/r.json" totals.bits_per_elem_v)" 'BEGIN { printf "%.17g", (m + v) / 2 }')
    check_close "recipe $R: objective = analyze's element-weighted update rel-L2" "$RO" "$AO" 1e-12
    check_close "recipe $R: bits/element = analyze's (m + v)/2" "$RB" "$AB" 1e-12
    if awk -v a="$RB" -v b=$B 'BEGIN { exit !(a <= b) }'; then
        FIT=$((FIT + 1))
        check_num "plan objective <= recipe $R's ($RB bits/element <= $B)" "$OBJ" "<=" "$RO"
    fi
done
check_num "at least one recipe fits $B bits/element (the comparison is not empty)" "$FIT" ">=" 1

# analyze --plan re-evaluates every tensor through the analyze path: the same numbers
run analyze "$SAMPLE_LATE" --plan "$T/plan.json" --json "$T/re.json" -q
check_rc "analyze --plan exits 0" 0
rows "$T/re.json" >"$T/re.rows"
BAD=$(join -t "$(printf '\t')" <(awk -F '\t' '{ print $1 "|" $2 "\t" $3 }' "$T/plan.rows" | sort) \
          <(awk -F '\t' '{ k = $2; sub(/^update\.rel_l2$/, "update_rel_l2", k); sub(/^m\.rel_l2$/, "m_rel_l2", k); sub(/^v\.rel_l2$/, "v_rel_l2", k);
                           sub(/^m\.storage\.bits_per_elem$/, "bits_per_elem_m", k); sub(/^v\.storage\.bits_per_elem$/, "bits_per_elem_v", k); print $1 "|" k "\t" $3 }' "$T/re.rows" | sort) |
      awk -F '\t' '$1 ~ /\|(update_rel_l2|m_rel_l2|v_rel_l2|bits_per_elem_m|bits_per_elem_v|m_plan|v_plan)$/ { n++;
          if ($2 != $3) { d = $2 - $3; if (d < 0) d = -d; m = $3 < 0 ? -$3 : $3; if ($2 ~ /[a-z]/ || d > 1e-12 * m) { bad++; if (bad < 4) print "mismatch " $0 > "/dev/stderr" } } }
          END { print n + 0, bad + 0 }')
read -r NCMP NBAD <<<"$BAD"
check_num "analyze --plan: compared 7 numbers per tensor" "$NCMP" "==" "$((7 * NP))"
check_eq "analyze --plan reproduces the plan's per-tensor numbers (rel 1e-12)" 0 "$NBAD"

# --budget-gb G --params N is the same budget: G = B * 2N / 8e9
run recommend "$SAMPLE_LATE" --budget-gb 1.125 --params 1e9 -o "$T/plan-gb.json" -q
check_rc "--budget-gb 1.125 --params 1e9 exits 0" 0
check_eq "--budget-gb: budget_bits_per_elem 4.5" "4.5" "$(json_get "$T/plan-gb.json" budget_bits_per_elem)"
check_eq "--budget-gb gives the same plan as --budget 4.5" "$(grep -E '	(m|v)	' "$T/plan.rows")" "$(rows "$T/plan-gb.json" | grep -E '	(m|v)	')"

# --candidates: only the listed ones are chosen
run recommend "$SAMPLE_LATE" --budget 6 --candidates 'fp32,block128-dtree:b4/block128-dtree0:b4,lpmm4' -o "$T/plan-c.json" -q
check_rc "--candidates exits 0" 0
check_eq "--candidates: 3 candidates listed" 3 "$(json_get "$T/plan-c.json" candidates | tr -cd '"' | awk '{ print length($0) / 2 }')"
OTHER=$(rows "$T/plan-c.json" | awk -F '\t' '$2 == "candidate" && $3 != "fp32" && $3 != "block128-dtree:b4/block128-dtree0:b4" && $3 != "recipe:lpmm4"' | wc -l)
check_eq "--candidates: every choice is one of them" 0 "$OTHER"

# --curve: plans at budgets 0.25 apart, each within its budget; a larger budget's lower bound is at
# most a smaller budget's objective; the recipes as in the plan
run recommend "$SAMPLE_LATE" --budget $B --curve "$T/curve.tsv" -q
check_rc "--curve exits 0" 0
check_grep "--curve: first line is the gnuplot command" '^# lbq recommend .*plots/recommend.gp' "$T/curve.tsv"
awk -F '\t' '/^#/ { next } /^$/ { blank++; next } blank == 0' "$T/curve.tsv" >"$T/curve0"
check_num "--curve: at least 20 budgets" "$(wc -l <"$T/curve0")" ">=" 20
check_eq "--curve: every plan within its budget" 0 "$(awk -F '\t' '$2 > $1 * (1 + 1e-9)' "$T/curve0" | wc -l)"
check_eq "--curve: lower bound <= objective, and the next budget's bound <= this objective" 0 \
    "$(awk -F '\t' '$4 > $3 * (1 + 1e-12) { bad++ } NR > 1 && $4 > prev * (1 + 1e-12) { bad++ } { prev = $3 } END { print bad + 0 }' "$T/curve0")"
check_eq "--curve: the recipes of the plan" "$(for ((k = 0; k < NREC; k++)); do json_get "$T/plan.json" recipes.$k.name; done | sort | tr '\n' ' ')" \
    "$(awk -F '\t' '/^#/ { next } /^$/ { blank++; next } blank == 2 { print $3 }' "$T/curve.tsv" | sort | tr '\n' ' ')"

# bad input: one stderr line, the documented exit code, no plan written
run recommend "$SAMPLE_LATE" -o "$T/x.json"
check_error_contract "no budget" 2
run recommend "$SAMPLE_LATE" --budget 4 --budget-gb 1 --params 1e9
check_error_contract "--budget and --budget-gb" 2
run recommend "$SAMPLE_LATE" --budget-gb 1
check_error_contract "--budget-gb without --params" 2
run recommend "$SAMPLE_LATE" --budget 4.5 --candidates grid,foo -o "$T/x.json"
check_error_contract "unknown candidate 'foo'" 2
check_grep "unknown candidate: the message names it" "'foo'" "$ERR"
run recommend "$SAMPLE_LATE" --budget 4.5 --candidates block128-dtre -o "$T/x.json"
check_error_contract "candidate spec that does not parse" 2
run recommend "$SAMPLE_LATE" --budget 1 -o "$T/x.json"
check_error_contract "budget below the minimum" 2
check_grep "budget below the minimum: says the minimum achievable" 'minimum achievable [0-9.]+ bits/element' "$ERR"
MIN=$(json_get "$T/plan.json" solver.min_bits_per_elem)
check_grep "budget below the minimum: the minimum is the plan's solver.min_bits_per_elem" "minimum achievable $(printf '%.4f' "$MIN")" "$ERR"
run recommend "$SAMPLE_LATE" --budget 4.5 --candidates block128-linear:b4 -o "$T/x.json"
check_error_contract "only candidates that are vetoed or too big" 2
check "no plan written after errors" test ! -e "$T/x.json"
run recommend "$T/missing.h5" --budget 4.5
check_error_contract "missing FILE" 3

run analyze "$SAMPLE_LATE" --plan "$T/missing.json"
check_error_contract "analyze --plan: unreadable plan" 3
run analyze "$SAMPLE_LATE" --plan "$T/re.json"
check_error_contract "analyze --plan: not a plan" 3
sed 's/"name":	"head.bias"/"name":	"not.a.tensor"/' "$T/plan.json" >"$T/bad-name.json"
check "bad-name plan differs" grep -q not.a.tensor "$T/bad-name.json"
run analyze "$SAMPLE_LATE" --plan "$T/bad-name.json"
check_error_contract "analyze --plan: plan names a tensor not in FILE" 3
check_grep "the message names the tensor" "not.a.tensor" "$ERR"
run analyze "$SAMPLE_LATE" --plan "$T/plan.json" --recipe lpmm4
check_error_contract "analyze --plan with --recipe" 2
# the v zero-floor veto (docs/metrics.md "zero floor"): the default plan's v quantizers cannot send a
# positive v above 1e-5 of its scale to 0, computed here from `lbq list --json`'s levels (a zero level
# and its nearest neighbour: half of it with nearest rounding, all of it with stochastic rounding);
# with the veto off (--v-zero-floor 1) the same budget picks such maps on this data
if [ "$HAVE_PY" = 1 ]; then
    for b in 1 2 3 4 5 6 7 8; do "$LBQ" list --json --bits $b >"$T/levels-$b.json"; done
    run recommend "$SAMPLE_LATE" --budget 4 -o "$T/p4.json" -q
    check_rc "recommend --budget 4" 0
    run recommend "$SAMPLE_LATE" --budget 4 --v-zero-floor 1 -o "$T/p4off.json" -q
    check_rc "recommend --budget 4 --v-zero-floor 1" 0
    floors() {      # floors PLAN: the largest v zero floor of the plan, and the tensor that has it
        python3 - "$1" "$T" <<'EOF2'
import json, sys
plan, T = json.load(open(sys.argv[1])), sys.argv[2]
worst = (0.0, "-")
for p in plan["params"]:
    v = p["v_plan"]
    if v == "fp32": continue
    norm_map, *opts = v.split(":")
    mp = norm_map.split("-", 1)[1]
    bits = next(int(o[1:]) for o in opts if o[0] == "b" and o[1:].isdigit())
    maps = {m["name"]: m for m in json.load(open(f"{T}/levels-{bits}.json"))["maps"]}
    lev = maps[mp].get("levels_unsigned") or []
    if "nz" in opts or 0.0 not in lev: continue
    pos = sorted(x for x in lev if x > 0)
    z = pos[0] if "sr" in opts else pos[0] / 2
    worst = max(worst, (z, p["name"] + " " + v))
print(f"{worst[0]:.6g} {worst[1]}")
EOF2
    }
    read -r Z ZN < <(floors "$T/p4.json")
    check_num "default plan: every v zero floor <= 1e-5 (largest: $ZN)" "$Z" "<=" 1e-5
    read -r Z ZN < <(floors "$T/p4off.json")
    check_num "veto off: the plan takes a v map with a zero floor > 1e-5 ($ZN)" "$Z" ">" 1e-5
    check_eq "plan JSON records the veto" "1e-05" "$(json_get "$T/p4.json" veto.max_v_zero_floor)"
else
    skip "v zero-floor veto" "needs python3"
fi
finish
