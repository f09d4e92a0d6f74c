#!/usr/bin/env bash
# A subset of commands under valgrind memcheck (issue 10): no invalid reads/writes, no uninitialised
# values, no definite leaks.  Small inputs only (valgrind is ~30x slower).  Skipped without valgrind,
# and in sanitizer builds (the two tools do not mix).
source "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null 2>&1 || { echo "valgrind not installed: skipped"; exit 77; }
if nm "$LBQ" 2>/dev/null | grep -q __asan_init; then echo "sanitizer build: skipped"; exit 77; fi
VG=(valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --track-origins=no)
export OMP_NUM_THREADS=1
vg() {   # vg NAME ARGS...: the command must exit 0 under valgrind with no reported error
    local name=$1; shift
    "${VG[@]}" "$LBQ" "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ $rc -eq 0 ]; then pass "$name"; else fail "$name" "exit $rc" "$(grep -m5 -E '==[0-9]+==' "$T/err")"; fi
}
vg "inspect under valgrind" inspect "$FIXTURES/fx-tiny.h5" -q
vg "analyze block/dtree + rank1/linear under valgrind" analyze "$FIXTURES/fx-tiny.h5" --quant-m block64-dtree --quant-v rank1-linear --json "$T/a.json" -q --device cpu
vg "analyze log + fp8:dre under valgrind" analyze "$FIXTURES/fx-tiny.h5" --quant-m block128-fp8e4m3:dre --quant-v block32-log:b2:sr -q --device cpu
vg "quantize under valgrind" quantize "$FIXTURES/fx-tiny.h5" --recipe lpmm4 --quantize-all -o "$T/q.h5" -q
vg "simulate synthetic under valgrind" simulate --source synthetic --quant-v block128-dtree:b2 --size 200 --steps 20 -q
vg "theory under valgrind" theory --bits 2-4
vg "list --json under valgrind" list --json
# an error path: bad input, still clean
"${VG[@]}" "$LBQ" analyze "$FIXTURES/fx-mismatch.h5" --quant block128-dtree -q >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -ne 99 ] && [ $rc -ne 0 ]; then pass "error path under valgrind (exit $rc)"; else fail "error path under valgrind" "exit $rc" "$(grep -m5 -E '==[0-9]+==' "$T/err")"; fi
finish
