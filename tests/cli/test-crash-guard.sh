#!/usr/bin/env bash
# test-crash-guard.sh - corrupt HDF5 files that make libhdf5 1.10 itself crash or misbehave
# (fuzz/findings/hdf5/, fuzz/README.md findings 6 and 7).  lbq inspect, analyze, quantize, simulate
# and sweep on each: never a death by a signal; a failure is exit 3 with exactly one stderr line
# and no output or temporary file left; the file whose walk crashes inside libhdf5
# (symbol-table-heap-null-read.h5, SIGSEGV in the Release build) gives the crash guard's line
# "lbq: error: FILE: libhdf5 crashed reading this file (corrupt HDF5?)" (cli/cli-util.c).
# The guard itself is unit-tested by tests/test-crash-guard.c.
# Skipped (77) in sanitizer builds: the guard is compiled out there so that ASan reports these
# crashes (they are libhdf5's, not lbq's).
source "$(dirname "$0")/lib.sh"

if nm "$LBQ" 2>/dev/null | grep -q __asan_init; then skip_all "sanitizer build: the crash guard is compiled out"; fi

EXIT_INPUT=3
FINDINGS=$LBQ_SRC/fuzz/findings/hdf5
CRASHING=symbol-table-heap-null-read.h5      # SIGSEGV inside libhdf5 without the guard
FAILING=root-attr-message-overflow.h5        # a clean "cannot walk the file" in the Release build
for f in $CRASHING $FAILING; do [ -f "$FINDINGS/$f" ] || { echo "missing $FINDINGS/$f"; exit 1; }; done

n=0
for file in "$FINDINGS"/*.h5; do
    b=$(basename "$file")
    for c in inspect analyze quantize simulate sweep; do
        n=$((n + 1)); D=$T/case$n; mkdir -p "$D"
        case $c in
        inspect)  A=(inspect "$file" -q -o "$D/out.json") ;;
        analyze)  A=(analyze "$file" -q --recipe lpmm4 --device cpu --json "$D/out.json") ;;
        quantize) A=(quantize "$file" -q --recipe lpmm4 -o "$D/out.h5") ;;
        simulate) A=(simulate "$file" -q --source moments --recipe bnb8 --json "$D/out.json") ;;
        sweep)    A=(sweep "$file" -q -o "$D/out" --map dtree --bits 4 --block 128 --no-plot --no-swamp) ;;
        esac
        run "${A[@]}"
        check_no_crash "$c $b: no death by a signal"
        if [ "$b" == "$CRASHING" ] || [ "$b" == "$FAILING" ] || [ "$RC" != 0 ]; then
            check_error_contract "$c $b" $EXIT_INPUT
            left=$(find "$D" -mindepth 1 ! -path "$D/out" 2>/dev/null | head -3)
            [ -d "$D/out" ] && [ -n "$(ls -A "$D/out")" ] && left="$left $D/out/*"
            if [ -z "$left" ]; then pass "$c $b: no output or temporary file"; else fail "$c $b: no output or temporary file" "left: $left"; fi
        fi
        if [ "$b" == "$CRASHING" ]; then
            check_grep "$c $b: the crash guard's line names the file" "^lbq: error: .*/$b: libhdf5 crashed reading this file \(corrupt HDF5\?\)$" "$ERR"
        fi
    done
done

# the guard names the file only when it knows it: sweep's FILE after an option is not parsed by
# main (cli/main.c), so the line is the generic one; still one line and exit 3
run sweep -q "$FINDINGS/$CRASHING" -o "$T/sw" --map dtree --bits 4 --block 128 --no-plot --no-swamp
check_error_contract "sweep -q FILE" $EXIT_INPUT
check_grep "sweep -q FILE: generic line" "^lbq: error: .*libhdf5 crashed reading" "$ERR"

finish
