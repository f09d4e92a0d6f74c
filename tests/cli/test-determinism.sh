#!/usr/bin/env bash
# test-determinism.sh - results do not depend on the number of OpenMP threads: analyze, sweep,
# simulate and quantize with OMP_NUM_THREADS=1 and 2 give byte-identical JSON once the timing
# fields ("seconds", "threads": one key per line in lbq's pretty-printed JSON) are removed.
# Includes stochastic rounding (solo42's v, log:sr), whose random streams are seeded per element.
source "$(dirname "$0")/lib.sh"

[ -f "$SAMPLE_LATE" ] || skip_all "sample file $SAMPLE_LATE not present"

strip_timing() { grep -Ev '"(seconds|threads)":' "$1"; }

# does OMP_NUM_THREADS=2 actually give two threads? (--version reports the thread count)
run_env OMP_NUM_THREADS=2 -- --version
if ! grep -q 'OpenMP threads: 2' "$OUT"; then
    note "lbq does not run 2 OpenMP threads here ($(cat "$OUT")): comparisons below are still made but cannot catch thread-dependence"
fi

# same_json NAME FILE1 FILE2
same_json() {
    if [ ! -s "$2" ] || [ ! -s "$3" ]; then fail "$1" "missing output: $2 or $3"; return; fi
    if diff <(strip_timing "$2") <(strip_timing "$3") >"$T/.diff"; then pass "$1"
    else fail "$1" "differences (1 thread < > 2 threads):" "$(head -n 12 "$T/.diff")"; fi
}

# ---- analyze -----------------------------------------------------------------------------------------
for r in lpmm4 solo42; do
    for t in 1 2; do
        run_env OMP_NUM_THREADS=$t -- analyze -q "$SAMPLE_LATE" --recipe $r --device cpu --json "$T/analyze-$r-$t.json"
        check_rc "analyze --recipe $r with $t thread(s): exit 0" 0
        cp "$OUT" "$T/analyze-$r-$t.txt"
    done
    same_json "analyze --recipe $r: JSON identical with 1 and 2 threads" "$T/analyze-$r-1.json" "$T/analyze-$r-2.json"
    check_eq "analyze --recipe $r: text report identical with 1 and 2 threads" "$(cat "$T/analyze-$r-1.txt")" "$(cat "$T/analyze-$r-2.txt")"
done
# stochastic rounding with an explicit seed; a different seed must change the result (so the seed
# is really used and the comparison above is not trivially equal)
for t in 1 2; do
    run_env OMP_NUM_THREADS=$t -- analyze -q "$SAMPLE_LATE" --quant-v block128-log:b2:sr --seed 7 --device cpu --json "$T/sr-$t.json"
    check_rc "analyze log:sr seed 7 with $t thread(s): exit 0" 0
done
same_json "analyze block128-log:b2:sr --seed 7: identical with 1 and 2 threads" "$T/sr-1.json" "$T/sr-2.json"
run_env OMP_NUM_THREADS=2 -- analyze -q "$SAMPLE_LATE" --quant-v block128-log:b2:sr --seed 8 --device cpu --json "$T/sr-seed8.json"
check "analyze log:sr: --seed 8 gives a different v error than --seed 7" \
    test "$(json_get "$T/sr-1.json" totals.v.rel_l2)" != "$(json_get "$T/sr-seed8.json" totals.v.rel_l2)"
# repeat with the same thread count
run_env OMP_NUM_THREADS=2 -- analyze -q "$SAMPLE_LATE" --quant-v block128-log:b2:sr --seed 7 --device cpu --json "$T/sr-2b.json"
same_json "analyze log:sr: two runs with 2 threads identical" "$T/sr-2.json" "$T/sr-2b.json"

# ---- sweep (small, with the synthetic swamping runs) ------------------------------------------------
for t in 1 2; do
    run_env OMP_NUM_THREADS=$t -- sweep -q "$SAMPLE_LATE" -o "$T/sweep-$t" --map dtree,log --norm block,rank1 --bits 2,4 --block 64,128 --no-plot
    check_rc "sweep with $t thread(s): exit 0" 0
    check_eq "sweep with $t thread(s): timing.threads reports $t" "$t" "$(json_get "$T/sweep-$t/results.json" timing.threads)"
done
same_json "sweep: results.json identical with 1 and 2 threads" "$T/sweep-1/results.json" "$T/sweep-2/results.json"
if cmp -s "$T/sweep-1/results.tsv" "$T/sweep-2/results.tsv"; then pass "sweep: results.tsv identical with 1 and 2 threads"
else fail "sweep: results.tsv identical with 1 and 2 threads" "$(diff "$T/sweep-1/results.tsv" "$T/sweep-2/results.tsv" | head -6)"; fi
# the sweep's block128-dtree:b4 configuration agrees with analyze on the same spec
run analyze -q "$SAMPLE_LATE" --quant block128-dtree:b4 --device cpu --json "$T/a-dtree.json"
ci=$(json_flat "$T/sweep-1/results.json" | awk -F '\t' '$1 ~ /^configs\.[0-9]+\.label$/ && $2 == "\"block128-dtree:b4\"" { split($1, p, "."); print p[2]; exit }')
for k in m.rel_l2 v.rel_l2 v.positive_to_zero update.rel_l2; do
    check_eq "sweep block128-dtree:b4 totals.$k = analyze's" "$(json_get "$T/a-dtree.json" totals.$k)" "$(json_get "$T/sweep-1/results.json" configs.${ci:-X}.totals.$k)"
done

# ---- simulate (moments source: seeded normal gradients; solo42: stochastic rounding) ----------------
for t in 1 2; do
    run_env OMP_NUM_THREADS=$t -- simulate -q "$SAMPLE_LATE" --source moments --recipe solo42 --steps 8 --tensor 'blocks.1.*' --json "$T/sim-$t.json"
    check_rc "simulate moments solo42 with $t thread(s): exit 0" 0
done
same_json "simulate --source moments --recipe solo42: identical with 1 and 2 threads" "$T/sim-1.json" "$T/sim-2.json"
for t in 1 2; do
    run_env OMP_NUM_THREADS=$t -- simulate -q "$SAMPLE_LATE" --recipe bnb8 --json "$T/simg-$t.json"
    check_rc "simulate grads bnb8 with $t thread(s): exit 0" 0
done
same_json "simulate (grads) --recipe bnb8: identical with 1 and 2 threads" "$T/simg-1.json" "$T/simg-2.json"

# ---- quantize: the written tensors (read back by inspect) ---------------------------------------------
for t in 1 2; do
    mkdir -p "$T/q$t"
    run_env OMP_NUM_THREADS=$t -- quantize -q "$SAMPLE_LATE" --recipe solo42 -o "$T/q$t/out.h5"
    check_rc "quantize solo42 with $t thread(s): exit 0" 0
    run inspect -q --json "$T/q$t/out.h5"
    grep -v '"file":' "$OUT" >"$T/q$t.json"
done
same_json "quantize --recipe solo42: read-back statistics identical with 1 and 2 threads" "$T/q1.json" "$T/q2.json"

finish
