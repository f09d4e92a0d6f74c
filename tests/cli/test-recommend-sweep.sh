#!/usr/bin/env bash
# test-recommend-sweep.sh - `lbq recommend SWEEP/results.json` (issue 18, item 5): the plan from a
# sweep's per-parameter rows equals the plan from the .h5 for the same candidate set (every choice
# and every number of the plan file, and the table); the directory form; a results.json that lacks
# what the solver needs is refused before any work with one stderr line and exit 3 (an old schema,
# no per-parameter rows, configurations over different tensors, not a sweep), options that only
# apply to an .h5 and candidates the sweep does not hold with exit 2, and no plan written.
source "$(dirname "$0")/lib.sh"

S=$T/sweep
run sweep "$SAMPLE_LATE" -o "$S" --no-plot --no-swamp -q
check_rc "sweep (default grid and the recipes) exits 0" 0

# the plan file without the key that names the sweep (the only key allowed to differ)
plan_flat() { json_flat "$1" | grep -v '^from_sweep	'; }

B=4.5
for cands in "" "fp32,block128-dtree:b4,block128-dtree:b4:fit/block256-log:b3:p0.1,lpmm4,recipe:solo42"; do
    opt=(); what="default candidates"
    [ -n "$cands" ] && { opt=(--candidates "$cands"); what="--candidates $cands"; }
    run recommend "$SAMPLE_LATE" --budget $B "${opt[@]}" -o "$T/p-h5.json"
    check_rc "$what: recommend FILE.h5 exits 0" 0
    cp "$OUT" "$T/t-h5"
    run recommend "$S/results.json" --budget $B "${opt[@]}" -o "$T/p-js.json"
    check_rc "$what: recommend results.json exits 0" 0
    cp "$OUT" "$T/t-js"
    check_eq "$what: from_sweep names the results.json" "$S/results.json" "$(json_get "$T/p-js.json" from_sweep)"
    check_eq "$what: the .h5 plan has no from_sweep" "" "$(json_get "$T/p-h5.json" from_sweep)"
    N1=$(plan_flat "$T/p-h5.json" | wc -l)
    check_num "$what: the plan file has per-tensor rows" "$N1" ">" 400
    check_eq "$what: plan from results.json = plan from the .h5 (every key, every number)" "" \
        "$(diff <(plan_flat "$T/p-h5.json") <(plan_flat "$T/p-js.json") | head -5 | cut -c 1-200)"
    check_eq "$what: the same table (but its first line, which names the sweep)" "" "$(diff <(tail -n +2 "$T/t-h5") <(tail -n +2 "$T/t-js") | head -5)"
    [ -z "$cands" ] && cp "$T/p-js.json" "$T/p-default.json"
done

run recommend "$S" --budget $B -o "$T/p-dir.json" -q
check_rc "recommend DIR (the sweep's directory) exits 0" 0
check_eq "recommend DIR = recommend DIR/results.json" "" "$(diff <(plan_flat "$T/p-dir.json") <(plan_flat "$T/p-default.json") | head -5 | cut -c 1-200)"

# a small hand-made results.json: one configuration, one tensor; the plan takes the row's numbers
cat >"$T/one.json" <<'JSON'
{"schema": "lbq.sweep", "schema_version": 2, "file": "w.h5", "hparams": {"eps": 1e-8},
 "configs": [{"id": 0, "label": "block128-dtree0:b4", "m_spec": "block128-dtree0:b4", "v_spec": "block128-dtree0:b4",
   "params": [{"name": "w", "numel": 256, "kept_fp32": false, "m_plan": "block128-dtree0:b4", "v_plan": "block128-dtree0:b4",
     "m_rel_l2": 0.125, "v_rel_l2": 0.0625, "v_zero_collapse": 0, "update_rel_l2": 0.25, "update_cosine": 0.96875,
     "update_blowup_frac": 0, "bits_per_elem_m": 4.25, "bits_per_elem_v": 4.25}]}]}
JSON
run recommend "$T/one.json" --budget 5 --candidates grid,fp32 -o "$T/p-one.json" -q
check_rc "hand-made results.json: exits 0" 0
check_eq "hand-made: the grid point within 5 bits is chosen" "block128-dtree0:b4" "$(json_get "$T/p-one.json" params.0.candidate)"
check_eq "hand-made: its update rel-L2 from the row" "0.25" "$(json_get "$T/p-one.json" params.0.update_rel_l2)"
check_eq "hand-made: its bits from the row (4.25 x 256)" "1088" "$(json_get "$T/p-one.json" params.0.bits_m)"
run recommend "$T/one.json" --budget 40 --candidates grid,fp32 -o "$T/p-one.json" -q
check_eq "hand-made: with 40 bits fp32 (exact) is chosen" "fp32" "$(json_get "$T/p-one.json" params.0.candidate)"
check_eq "hand-made: fp32 has no error" "0" "$(json_get "$T/p-one.json" params.0.update_rel_l2)"

# refused before any work: exit 3 (input) or 2 (usage), one line, no plan
rm -f "$T/x.json"
sed 's/"schema_version":	3/"schema_version":	1/' "$S/results.json" >"$T/old.json"
check "old-schema copy differs" grep -q '"schema_version":	1' "$T/old.json"
run recommend "$T/old.json" --budget $B -o "$T/x.json"
check_error_contract "schema lbq.sweep/1" 3
check_grep "schema lbq.sweep/1: says so" 'lbq.sweep/1 is older than 2' "$ERR"
sed 's/"params": \[/"no_params": [/' "$T/one.json" >"$T/noparams.json"
run recommend "$T/noparams.json" --budget $B --candidates grid -o "$T/x.json"
check_error_contract "no per-parameter rows" 3
check_grep "no per-parameter rows: says what is missing" 'no per-parameter rows \(configs\[\]\.params\)' "$ERR"
awk '!d && /"name":	"head.bias"/ { sub(/head\.bias/, "not.a.tensor"); d = 1 } 1' "$S/results.json" >"$T/mixed.json"
check "mixed copy differs" grep -q not.a.tensor "$T/mixed.json"
run recommend "$T/mixed.json" --budget $B -o "$T/x.json"
check_error_contract "configurations over different tensors" 3
check_grep "different tensors: names both" "head.bias.*not.a.tensor|not.a.tensor.*head.bias" "$ERR"
run recommend "$T/p-h5.json" --budget $B -o "$T/x.json"
check_error_contract "a plan file is not a sweep" 3
sed 's/"update_rel_l2": 0.25, //' "$T/one.json" >"$T/norel.json"
run recommend "$T/norel.json" --budget 5 --candidates grid -o "$T/x.json"
check_error_contract "a row without update_rel_l2" 3
check_grep "row without update_rel_l2: names the key" "update_rel_l2" "$ERR"
run recommend "$T/one.json" --budget 5 -o "$T/x.json"
check_error_contract "default candidates need the sweep's recipe points" 2
check_grep "no recipe points: says how to go on" "recipe:NAME configurations" "$ERR"
run recommend "$S/results.json" --budget $B --candidates tensor-dtree:b4 -o "$T/x.json"
check_error_contract "a candidate the sweep does not hold" 2
check_grep "candidate not in the sweep: names it" "'tensor-dtree:b4' is not a configuration" "$ERR"
run recommend "$S/results.json" --budget $B --tensor 'head*' -o "$T/x.json"
check_error_contract "--tensor with a results.json" 2
check "no plan written after errors" test ! -e "$T/x.json"
finish
