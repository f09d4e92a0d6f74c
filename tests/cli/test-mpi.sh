#!/usr/bin/env bash
# test-mpi.sh - `mpirun -n 2 lbq sweep|analyze` (a -DLBQ_MPI=ON build, cli/mpi.c) gives the
# single-process results: results.json identical once the "timing" object is removed (and its
# elements_read_m/v equal: every tensor is still read once, by one rank), results.tsv and the analyze
# JSON and table byte for byte.  Also: configuration chunks when there are fewer tensors than ranks,
# --checkpoint batches, and errors (one message, every rank exits non-zero, no hang).
# Skipped unless lbq was built with MPI (`lbq --version` says "MPI: yes") and mpirun is present.
source "$(dirname "$0")/lib.sh"

[ -f "$SAMPLE_LATE" ] || skip_all "sample file $SAMPLE_LATE not present"
run --version
grep -q 'MPI: yes' "$OUT" || skip_all "lbq built without MPI (configure with -DLBQ_MPI=ON): $(cat "$OUT")"
command -v mpirun >/dev/null 2>&1 || skip_all "mpirun not found (Debian: openmpi-bin)"

# Open MPI refuses root without these; a container has neither ssh nor many cores
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
MPIRUN=(timeout 300 mpirun --allow-run-as-root --oversubscribe)

# mpi_run N ARGS... : mpirun -n N lbq ARGS with stdout -> $OUT, stderr -> $ERR, status -> $RC
mpi_run() {
    local n=$1; shift
    LAST_CMD="mpirun -n $n lbq $*"
    "${MPIRUN[@]}" -n "$n" "$LBQ" "$@" >"$OUT" 2>"$ERR" </dev/null
    RC=$?
    if [ "$RC" -eq 124 ]; then fail "no hang: $LAST_CMD" "timed out after 300 s"; fi
    _crash_guard
    return 0
}

# results.json without its "timing" object (cJSON_Print: one key per line, tab-indented)
strip_timing() { awk '/^\t"timing":\t\{/ { skip = 1; next } skip && /^\t}/ { skip = 0; next } !skip' "$1"; }
same_results() {    # NAME DIR1 DIR2
    local name=$1 a=$2 b=$3
    if [ ! -s "$a/results.json" ] || [ ! -s "$b/results.json" ]; then fail "$name: results written" "missing $a or $b results.json"; return; fi
    check_num "$name: timing stripped from results.json" "$(strip_timing "$a/results.json" | wc -l)" "<" "$(wc -l <"$a/results.json")"
    if diff <(strip_timing "$a/results.json") <(strip_timing "$b/results.json") >"$T/.diff"; then pass "$name: results.json identical apart from timing"
    else fail "$name: results.json identical apart from timing" "$(head -n 12 "$T/.diff")"; fi
    if cmp -s "$a/results.tsv" "$b/results.tsv"; then pass "$name: results.tsv identical"
    else fail "$name: results.tsv identical" "$(diff "$a/results.tsv" "$b/results.tsv" | head -6)"; fi
}

SWEEP=(--map dtree,linear --bits 2,4 --block 64,128 --no-plot -q)

# ---- sweep: 2 ranks == 1 process ------------------------------------------------------------------
run sweep "$SAMPLE_LATE" -o "$T/D1" "${SWEEP[@]}"
check_rc "sweep, one process: exit 0" 0
mpi_run 2 sweep "$SAMPLE_LATE" -o "$T/D2" "${SWEEP[@]}"
check_rc "mpirun -n 2 sweep: exit 0" 0
check_empty "mpirun -n 2 sweep -q: nothing on stdout" "$OUT"
check_empty "mpirun -n 2 sweep -q: nothing on stderr" "$ERR"
same_results "sweep, 2 ranks vs 1 process" "$T/D1" "$T/D2"
for s in m v; do
    check_eq "sweep, 2 ranks: timing.elements_read_$s summed over ranks = one process's" \
        "$(json_get "$T/D1/results.json" timing.elements_read_$s)" "$(json_get "$T/D2/results.json" timing.elements_read_$s)"
done
check_eq "sweep, 2 ranks: every tensor read once (elements_read_m = elements)" \
    "$(json_get "$T/D2/results.json" timing.elements)" "$(json_get "$T/D2/results.json" timing.elements_read_m)"

# without -q: rank 0's notes only (one "sweep:" line, the partition), no progress bar
mpi_run 2 sweep "$SAMPLE_LATE" -o "$T/D3" --map dtree --bits 4 --block 128 --no-plot
check_rc "mpirun -n 2 sweep (notes): exit 0" 0
check_eq "notes printed once (rank 0)" 1 "$(grep -c '^lbq: sweep: [0-9]* configurations' "$ERR")"
check_grep "rank 0 notes the partition" '^lbq: sweep: 2 MPI ranks, 42 tensors' "$ERR"

# 3 ranks, --checkpoint batches (a gather per batch)
mpi_run 3 sweep "$SAMPLE_LATE" -o "$T/D4" "${SWEEP[@]}" --checkpoint 5
check_rc "mpirun -n 3 sweep --checkpoint 5: exit 0" 0
same_results "sweep --checkpoint 5, 3 ranks vs 1 process" "$T/D1" "$T/D4"

# mpirun -n 1 is the single process
mpi_run 1 sweep "$SAMPLE_LATE" -o "$T/D5" "${SWEEP[@]}"
check_rc "mpirun -n 1 sweep: exit 0" 0
same_results "sweep, mpirun -n 1 vs 1 process" "$T/D1" "$T/D5"

# one tensor, 2 ranks: the configurations are split in two chunks; each rank reads the tensor
ONE=(--tensor blocks.0.mlp.fc1.weight --map dtree,linear,log --bits 2,4 --block 64,128 --no-plot -q)
run sweep "$SAMPLE_LATE" -o "$T/S1" "${ONE[@]}"
check_rc "sweep one tensor, one process: exit 0" 0
mpi_run 2 sweep "$SAMPLE_LATE" -o "$T/S2" "${ONE[@]}"
check_rc "mpirun -n 2 sweep one tensor (configuration chunks): exit 0" 0
same_results "sweep one tensor, 2 configuration chunks vs 1 process" "$T/S1" "$T/S2"
check_eq "configuration chunks: the tensor is read by both ranks" \
    "$(( 2 * $(json_get "$T/S1/results.json" timing.elements_read_m) ))" "$(json_get "$T/S2/results.json" timing.elements_read_m)"

# ---- analyze: 2 ranks == 1 process (JSON and the table byte for byte) ----------------------------------
for q in "--recipe lpmm4" "--quant-v block128-log:b2:sr --seed 7"; do
    # shellcheck disable=SC2086
    run analyze "$SAMPLE_LATE" $q --device cpu -q --json "$T/a1.json"
    check_rc "analyze $q, one process: exit 0" 0
    cp "$OUT" "$T/a1.txt"
    # shellcheck disable=SC2086
    mpi_run 2 analyze "$SAMPLE_LATE" $q --device cpu -q --json "$T/a2.json"
    check_rc "mpirun -n 2 analyze $q: exit 0" 0
    if cmp -s "$T/a1.json" "$T/a2.json"; then pass "analyze $q: JSON identical (2 ranks vs 1 process)"
    else fail "analyze $q: JSON identical (2 ranks vs 1 process)" "$(diff "$T/a1.json" "$T/a2.json" | head -8)"; fi
    if cmp -s "$T/a1.txt" "$OUT"; then pass "analyze $q: table identical and printed once"
    else fail "analyze $q: table identical and printed once" "$(diff "$T/a1.txt" "$OUT" | head -8)"; fi
done

# ---- errors: one message, every rank exits non-zero, nobody hangs --------------------------------------
mpi_run 2 sweep "$T/missing.h5" -o "$T/E1" -q
check_num "missing input: mpirun exits non-zero" "$RC" "!=" 0
check_eq "missing input: one lbq error line" 1 "$(grep -c '^lbq' "$ERR")"
check_grep "missing input: the message" '^lbq: error: .*missing\.h5' "$ERR"
check "missing input: no output directory" test ! -e "$T/E1"
mpi_run 2 sweep "$SAMPLE_LATE" -q
check_num "usage error: mpirun exits non-zero" "$RC" "!=" 0
check_eq "usage error: printed once (rank 0)" 1 "$(grep -c '^lbq sweep: missing -o DIR' "$ERR")"
# rank 0 alone fails (only rank 0 creates the output directory): rank 1 must not wait for ever
mkdir -p "$T/ro" && : >"$T/ro/file"
mpi_run 2 sweep "$SAMPLE_LATE" -o "$T/ro/file/x" --map dtree --bits 4 --block 128 --no-plot -q
check_num "rank 0 output error: mpirun exits non-zero" "$RC" "!=" 0
check_eq "rank 0 output error: one lbq error line" 1 "$(grep -c '^lbq' "$ERR")"
# rank 1 alone fails (MPMD: rank 1 gets another input file)
LAST_CMD="mpirun -n 1 lbq analyze OK : -n 1 lbq analyze MISSING"
"${MPIRUN[@]}" -n 1 "$LBQ" analyze "$SAMPLE_LATE" --recipe lpmm4 --device cpu -q : -n 1 "$LBQ" analyze "$T/missing.h5" --recipe lpmm4 --device cpu -q >"$OUT" 2>"$ERR" </dev/null
RC=$?
_crash_guard
check_num "rank 1 input error: mpirun exits non-zero" "$RC" "!=" 0
check_num "rank 1 input error: no hang" "$RC" "!=" 124
check_eq "rank 1 input error: one lbq error line (rank 1's)" 1 "$(grep -c '^lbq: error: .*missing\.h5' "$ERR")"
check_empty "rank 1 input error: rank 0 printed no table" "$OUT"

# other commands run on rank 0 alone
mpi_run 2 list
check_rc "mpirun -n 2 list: exit 0" 0
check_eq "mpirun -n 2 list: printed once" 1 "$(grep -c '^maps' "$OUT")"

finish
