#!/usr/bin/env bash
# test-closed-loop.sh - the smoke version of the closed-loop experiment (experiments/closed-loop/,
# `make closed-loop`): 4 configurations x 1 seed x 30 steps of a tiny byte-level transformer with the
# Adam states quantized by lbq.torch.quantize_states, the fp32 dump analyzed by lbq, the table, the
# rank correlations and the figures.  Checks the outputs' structure and that quantization changed the
# runs; Debian's /usr/bin/python3 with python3-torch and python3-h5py (skipped, 77, only without them).
source "$(dirname "$0")/lib.sh"
if [ -n "${LBQ_SANITIZE_BUILD:-}" ]; then
    skip_all "sanitizer build: python cannot load the ASan-instrumented liblbq.so (this test runs in the main build)"
fi
PY=${LBQ_PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import torch, h5py, numpy' >/dev/null 2>&1; then
    skip_all "$PY cannot import torch, h5py and numpy (apt-get install python3-torch python3-h5py)"
fi
BUILD=${LBQ_BUILD:-$(dirname "$LBQ")}
if [ ! -e "$BUILD/liblbq.so.1" ] && [ -z "${LBQ_LIBRARY:-}" ]; then
    skip_all "no $BUILD/liblbq.so.1 (configured with -DLBQ_SHARED=OFF?)"
fi
if ! ls /usr/lib/python3*/*.py >/dev/null 2>&1; then skip_all "no corpus /usr/lib/python3*/*.py"; fi
out=$T/cl
LBQ_BUILD="$BUILD" OMP_NUM_THREADS=1 "$PY" "$LBQ_SRC/experiments/closed-loop/closed_loop.py" --smoke --lbq "$LBQ" \
    --out "$out" >"$T/log" 2>&1
rc=$?
check "closed_loop.py --smoke exits 0" test $rc -eq 0
[ $rc -eq 0 ] || tail -20 "$T/log"
for f in results.json table.md fp32-dump.h5 loss-curves.png metric-vs-outcome.png closed-loop.gp scatter.tsv \
         curves-fp32.tsv curves-lpmm4.tsv plan-4.json plan-4.txt; do
    check "output $f" test -s "$out/$f"
done
"$PY" - "$out/results.json" >"$T/py" 2>&1 <<'PYEOF'
import json, math, sys
r = json.load(open(sys.argv[1]))
rows = {x["config"]: x for x in r["rows"]}
bad = []
if r["schema"] != "lbq.closed-loop" or r["schema_version"] != 1: bad.append("schema")
if set(rows) != {"fp32", "lpmm4", "v B128/DE", "v Rank-1/Linear", "plan <=4 bits"}: bad.append(f"configs {sorted(rows)}")
pl = rows.get("plan <=4 bits", {}).get("plan") or {}
if not pl or pl["budget_bits_per_elem"] != 4 or not 0 < pl["bits_per_elem"] <= 4 or not pl["choices"]: bad.append(f"plan row {pl}")
if rows["fp32"]["gap_mean"] != 0 or rows["fp32"]["static"] is not None: bad.append("fp32 row")
for n in ("lpmm4", "v Rank-1/Linear", "v B128/DE", "plan <=4 bits"):
    x = rows[n]
    if x["gap_mean"] is None or x["gap_mean"] == 0: bad.append(f"{n}: quantization changed nothing")
    if not x["static"] or not all(v is not None for v in x["static"].values()): bad.append(f"{n}: static metrics")
for run in r["runs"]:
    if len(run["loss"]) != r["settings"]["steps"]: bad.append(f"{run['config']}: {len(run['loss'])} losses")
    if run["config"] == "fp32" and not all(v is not None and math.isfinite(v) for v in run["loss"]): bad.append("fp32 NaN")
if not 0 <= rows["v B128/DE"]["hook_v_zeroed_frac"] <= 1: bad.append("hook statistic")
if rows["v Rank-1/Linear"]["hook_v_zeroed_frac"] != 0: bad.append("rank1-linear sent non-zero v to 0")
for k, c in r["spearman"].items():
    for v in c.values():
        if v is not None and not -1 <= v <= 1: bad.append(f"spearman {k} {v}")
print("; ".join(bad) if bad else "ok")
PYEOF
check "results.json: rows, static metrics, hook statistics, correlations" grep -qx ok "$T/py"
grep -qx ok "$T/py" || cat "$T/py"
check "table.md has the Spearman table" grep -q "Spearman" "$out/table.md"

# a run that fails, dies or hangs stops the experiment with one line naming it (no endless wait)
for mode in exit raise hang; do
    LBQ_CLOSED_LOOP_TEST_FAIL="lpmm4:$mode" LBQ_BUILD="$BUILD" OMP_NUM_THREADS=1 timeout 120 "$PY" \
        "$LBQ_SRC/experiments/closed-loop/closed_loop.py" --smoke --configs lpmm4 --run-timeout 3 --lbq "$LBQ" \
        --out "$T/fail-$mode" >"$T/fail-$mode.log" 2>&1
    rc=$?
    check "a run that does '$mode' fails the experiment (exit 1, not a timeout: $rc)" test $rc -eq 1
    case $mode in
        exit)  want="run lpmm4 seed 0: the worker died without a result (exit status 7" ;;
        raise) want="RuntimeError: test failure injected into lpmm4" ;;
        hang)  want="no result after 3 s (--run-timeout); killed" ;;
    esac
    check "  ... and says so: $want" grep -qF "$want" "$T/fail-$mode.log"
    check "  ... and writes no results.json" test ! -e "$T/fail-$mode/results.json"
done
finish
