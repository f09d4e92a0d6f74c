#!/usr/bin/env bash
# test-resume.sh - sweep --resume identity, narrower lists, the directory lock, and what a failed or
# interrupted sweep leaves (issue 16, items 5, 6, 7 and 13; docs/cli.md "lbq sweep").
#
# Each refusal is checked by its exact stderr line and exit code, and the refused run must leave
# results.json as it was.  Needs /usr/bin/python3 with h5py for the cases that edit an HDF5 file
# (skipped otherwise); `flock` (util-linux) for the lock case.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
HAVE_H5PY=0
[ -x "$PY" ] && "$PY" -c 'import h5py' 2>/dev/null && HAVE_H5PY=1
GRID=(--map dtree,linear --bits 4 --block 128 --norm block --no-plot --no-swamp --no-recipes -q)
ONE=(--map dtree --bits 4 --block 128 --norm block --no-plot --no-swamp --no-recipes -q)
cp "$SAMPLE_LATE" "$T/a.h5"
cp "$SAMPLE_EARLY" "$T/b.h5"
A=$(realpath "$T/a.h5") B=$(realpath "$T/b.h5")
D=$T/sw
J=$D/results.json

# the labels of results.json's configurations, in order
labels() { grep -E '^			"label":' "$1" | sed -E 's/.*"label":[[:space:]]*"([^"]*)".*/\1/' | tr '\n' ' '; }

run sweep "$T/a.h5" -o "$D" "${GRID[@]}"
check_rc "fresh sweep" 0
check_grep "results.json has an identity block" '^	"identity":' "$J"
check_grep "identity: the input's fingerprint" '"fingerprint":[[:space:]]*"[0-9a-f]{16}"' "$J"
check_grep "identity: the input's real path" "\"path\":[[:space:]]*\"$A\"" "$J"
cp "$J" "$T/orig.json"

# refusals: one line naming what differs, exit 2, results.json untouched
refuse() {      # refuse NAME RC LINE ARGS...
    local name=$1 rc=$2 line=$3; shift 3
    run "$@"
    check_rc "$name: exit $rc" "$rc"
    check_eq "$name: stderr" "$line" "$(cat "$ERR")"
    check "$name: results.json untouched" cmp -s "$T/orig.json" "$J"
}
refuse "another input file" 2 "lbq: error: $J: cannot --resume: input file differs: $A there, $B in this run" \
    sweep "$T/b.h5" -o "$D" "${GRID[@]}" --resume
refuse "another --state" 2 "lbq: error: $J: cannot --resume: --state differs: both there, m in this run" \
    sweep "$T/a.h5" -o "$D" "${GRID[@]}" --resume --state m
refuse "another --tensor" 2 "lbq: error: $J: cannot --resume: --tensor differs: (none) there, blocks.0.* in this run" \
    sweep "$T/a.h5" -o "$D" "${GRID[@]}" --resume --tensor 'blocks.0.*'
refuse "another --round" 2 "lbq: error: $J: cannot --resume: --round differs: nearest there, stochastic in this run" \
    sweep "$T/a.h5" -o "$D" "${GRID[@]}" --resume --round sr
refuse "another --seed" 2 "lbq: error: $J: cannot --resume: --seed differs: 0 there, 7 in this run" \
    sweep "$T/a.h5" -o "$D" "${GRID[@]}" --resume --seed 7
refuse "another --quantile" 2 "lbq: error: $J: cannot --resume: --quantile differs: 0.10000000149011612 there, 0.05000000074505806 in this run" \
    sweep "$T/a.h5" -o "$D" "${GRID[@]}" --resume --quantile 0.05
refuse "another --v-name" 2 "lbq: error: $J: cannot --resume: --v-name differs: exp_avg_sq there, exp_avg in this run" \
    sweep "$T/a.h5" -o "$D" "${GRID[@]}" --resume --v-name exp_avg
touch -d '2001-01-01 00:00:00' "$T/a.h5"
run sweep "$T/a.h5" -o "$D" "${GRID[@]}" --resume
check_rc "input modified (mtime): exit 2" 2
check_grep "input modified (mtime): named" "^lbq: error: $J: cannot --resume: input file modification time differs: [0-9]+\.[0-9]+ there, 978307200\.000000000 in this run$" "$ERR"
check "input modified: results.json untouched" cmp -s "$T/orig.json" "$J"
touch -d "@$(sed -nE 's/.*"mtime":[[:space:]]*"([0-9.]+)".*/\1/p' "$J")" "$T/a.h5"

# the same size and time but other tensor bytes: the fingerprint, checked before anything is written
if [ "$HAVE_H5PY" = 1 ]; then
    cp -p "$T/a.h5" "$T/a.keep"
    "$PY" - "$T/a.h5" <<'EOF'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    d = f["head.weight/exp_avg"]
    a = d[...]; a.flat[5] += 1.0; d[...] = a
EOF
    touch -d "@$(sed -nE 's/.*"mtime":[[:space:]]*"([0-9.]+)".*/\1/p' "$J")" "$T/a.h5"
    FP=$(sed -nE 's/.*"fingerprint":[[:space:]]*"([0-9a-f]+)".*/\1/p' "$J")
    run sweep "$T/a.h5" -o "$D" --map dtree,linear,uniform --bits 4 --block 128 --norm block --no-plot --no-swamp --no-recipes -q --resume
    check_rc "same size and mtime, other tensor data: exit 2" 2
    check_grep "other tensor data: the fingerprint line" "^lbq: error: $J: cannot --resume: the tensors of $T/a.h5 differ from those it was made from \(fingerprint $FP there, [0-9a-f]{16} in this run\)$" "$ERR"
    check "other tensor data: results.json untouched" cmp -s "$T/orig.json" "$J"
    run sweep "$T/a.h5" -o "$D" "${GRID[@]}" --resume
    check_rc "other tensor data, nothing to evaluate: still refused (exit 2)" 2
    check "other tensor data, nothing to evaluate: results.json untouched" cmp -s "$T/orig.json" "$J"
    mv "$T/a.keep" "$T/a.h5"
else
    skip "fingerprint cases" "needs /usr/bin/python3 with h5py"
fi

# results.json without an identity block (an older lbq, or made by hand): refused, exit 3
if [ "$HAVE_H5PY" = 1 ]; then
    mkdir -p "$T/old"
    "$PY" - "$J" "$T/old/results.json" <<'EOF'
import sys, json
d = json.load(open(sys.argv[1])); del d["identity"]; json.dump(d, open(sys.argv[2], "w"))
EOF
    run sweep "$T/a.h5" -o "$T/old" "${GRID[@]}" --resume
    check_rc "no identity block: exit 3" 3
    check_eq "no identity block: stderr" "lbq: error: $T/old/results.json: no 'identity' block (written by an older lbq or by hand), so what produced it is unknown; cannot --resume (sweep into a new directory)" "$(cat "$ERR")"
    # configurations that are only {"label": ...}, with a valid identity
    mkdir -p "$T/hand"
    "$PY" - "$J" "$T/hand/results.json" <<'EOF'
import sys, json
d = json.load(open(sys.argv[1])); d["configs"] = [{"label": "block128-dtree:b4"}]; json.dump(d, open(sys.argv[2], "w"))
EOF
    run sweep "$T/a.h5" -o "$T/hand" "${GRID[@]}" --resume
    check_rc "configs with a label only: exit 3" 3
    check_eq "configs with a label only: stderr" "lbq: error: $T/hand/results.json: configs[0] ('block128-dtree:b4'): no string 'map'; cannot --resume" "$(cat "$ERR")"
    # a carried configuration whose rows are not the input's parameters
    "$PY" - "$J" "$T/hand/results.json" <<'EOF'
import sys, json
d = json.load(open(sys.argv[1])); d["configs"][1]["params"][3]["name"] = "renamed"; json.dump(d, open(sys.argv[2], "w"))
EOF
    run sweep "$T/a.h5" -o "$T/hand" "${GRID[@]}" --resume
    check_rc "a row naming another parameter: exit 3" 3
    check_grep "a row naming another parameter: named" "^lbq: error: $T/hand/results.json: configs\[1\] \('block128-linear:b4'\): params\[3\] is 'renamed', the input's is '[^']+'; cannot --resume$" "$ERR"
else
    skip "hand-made results.json cases" "needs /usr/bin/python3"
fi

# a narrower list keeps the earlier configurations; no figure of the earlier run stays
: >"$D/fig1-error-vs-bits.png"; : >"$D/fig2-error-vs-block.dat"
run sweep "$T/a.h5" -o "$D" "${ONE[@]}" --resume
check_rc "narrower list: exit 0" 0
check_eq "narrower list: both configurations kept" "block128-dtree:b4 block128-linear:b4 " "$(labels "$J")"
check_eq "narrower list: TSV rows of both (42 + TOTAL each)" "86" "$(tail -n +2 "$D/results.tsv" | wc -l | tr -d ' ')"
check "narrower list: old figures removed" test ! -e "$D/fig1-error-vs-bits.png" -a ! -e "$D/fig2-error-vs-block.dat"
# the carried configurations are copied exactly
sed -n '/^	"configs":/,/^	"codebooks":/p' "$T/orig.json" >"$T/c0"
sed -n '/^	"configs":/,/^	"codebooks":/p' "$J" >"$T/c1"
check "narrower list: configurations byte-identical to the first run's" cmp -s "$T/c0" "$T/c1"
# a wider list evaluates only the new one and keeps the order of this run's list
run sweep "$T/a.h5" -o "$D" --map dtree,uniform --bits 4 --block 128 --norm block --no-plot --no-swamp --no-recipes --resume
check_rc "wider list: exit 0" 0
check_grep "wider list: only the new configuration evaluated" '^lbq: sweep: 2 configurations \(1 to evaluate\) x 42 parameters$' "$ERR"
check_eq "wider list: this list first, then the earlier run's others" "block128-dtree:b4 block128-uniform:b4 block128-linear:b4 " "$(labels "$J")"

# the lock: a second writer is refused before any work
if command -v flock >/dev/null 2>&1; then
    cp "$J" "$T/before.json"
    ( exec 9>>"$D/.lbq-lock"; flock 9; exec sleep 30 ) &      # the sleep itself holds the lock
    LP=$!
    for _ in 1 2 3 4 5 6 7 8 9 10; do flock -n "$D/.lbq-lock" true 2>/dev/null || break; sleep 0.2; done
    run sweep "$T/a.h5" -o "$D" "${GRID[@]}"
    check_rc "a locked directory: exit 4" 4
    check_eq "a locked directory: stderr" "lbq: error: $D: another lbq sweep is writing into this directory ($D/.lbq-lock is locked); wait for it or use another -o" "$(cat "$ERR")"
    check "a locked directory: results.json untouched" cmp -s "$T/before.json" "$J"
    kill "$LP" 2>/dev/null; wait "$LP" 2>/dev/null
    run sweep "$T/a.h5" -o "$D" "${ONE[@]}" --resume
    check_rc "the lock is released with its holder" 0
else
    skip "lock" "no flock(1)"
fi

# a sweep that fails while reading leaves no directory it created
if [ "$HAVE_H5PY" = 1 ]; then
    "$PY" - "$T/bad.h5" <<'EOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    g = f.create_group("w")
    g.create_dataset("exp_avg", data=np.ones((64, 64), np.float32), chunks=(64, 64), compression="gzip")
    g.create_dataset("exp_avg_sq", data=np.ones((64, 64), np.float32), chunks=(64, 64), compression="gzip")
    off = g["exp_avg"].id.get_chunk_info(0).byte_offset
with open(sys.argv[1], "r+b") as fp:
    fp.seek(off); fp.write(b"\xff" * 16)
EOF
    run sweep "$T/bad.h5" -o "$T/new/sub" "${ONE[@]}"
    check "a read failure: exit 3" test "$RC" = 3
    check_grep "a read failure: named" "cannot read exp_avg of 'w'" "$ERR"
    check "a read failure: no directory left (nor its parent this run made)" test ! -e "$T/new"
    mkdir -p "$T/keep"
    run sweep "$T/bad.h5" -o "$T/keep" "${ONE[@]}"
    check "a read failure: an existing directory stays" test -d "$T/keep"
else
    skip "read failure" "needs /usr/bin/python3 with h5py"
fi

# Ctrl-C during the last (here: the only) parameter is not ignored; the directory it made goes.
# The input is one generated 4M-element tensor, so the default grid takes many seconds even on an
# idle machine and the signal at 1.5 s lands while it is being evaluated (a timing race otherwise).
sigint_run() {      # [BIG=FILE] sigint_run DIR ARGS...: start a sweep of $BIG, SIGINT after 1.5 s; rc in $RC
    local dir=$1; shift
    T0=$(date +%s%N)
    "$LBQ" sweep "$BIG" -o "$dir" "$@" >"$OUT" 2>"$ERR" </dev/null &
    local pid=$!
    sleep 1.5
    kill -INT "$pid" 2>/dev/null
    wait "$pid"; RC=$?
    ELAPSED_MS=$((($(date +%s%N) - T0) / 1000000))
}
if [ "$HAVE_H5PY" = 1 ]; then
    BIG="$T/big.h5"
    "$PY" - "$BIG" "$T/big2.h5" <<'EOF2'
import sys, h5py, numpy as np
r = np.random.default_rng(7)
for path, names in ((sys.argv[1], ("w",)), (sys.argv[2], ("w1", "w2"))):
    with h5py.File(path, "w") as f:
        for name in names:
            g = f.create_group(name)
            g.create_dataset("exp_avg", data=r.standard_normal((2048, 2048), np.float32) * 1e-3)
            g.create_dataset("exp_avg_sq", data=(r.standard_normal((2048, 2048), np.float32) * 1e-3) ** 2)
EOF2
    sigint_run "$T/int1" --no-plot --no-swamp
    if [ "$RC" = 0 ]; then
        fail "Ctrl-C during the last parameter: not ignored" "exit 0 after ${ELAPSED_MS} ms, SIGINT sent at 1500 ms"
    elif grep -q 'the results are written' "$ERR"; then      # it came while the results were saved
        check_rc "Ctrl-C while saving: exit 130" 130
        check_grep "Ctrl-C while saving: says so" "^lbq: error: interrupted: the results are written, the figures are not \('lbq plot $T/int1/results.json -o $T/int1' draws them\)$" "$ERR"
        check "Ctrl-C while saving: the results are there" test -s "$T/int1/results.json"
    else
        check_rc "Ctrl-C during the last parameter: exit 130" 130
        check_eq "Ctrl-C during the last parameter: stderr" "lbq: error: interrupted: nothing written (use --checkpoint N to save partial results)" "$(tail -n 1 "$ERR")"
        check "Ctrl-C during the last parameter: no directory left" test ! -e "$T/int1"
    fi
    # two parameters: the signal lands in the first one, inside the first batch (the sweep stops
    # inside that tensor; with one parameter a late signal could find the batch complete and saved)
    BIG="$T/big2.h5" sigint_run "$T/int2" --checkpoint 250 --no-plot --no-swamp
    if [ -e "$T/int2/results.json" ]; then
        fail "Ctrl-C in the first --checkpoint batch" "the first batch of 250 configurations finished within 1.5 s (rc $RC)"
    else
        check_rc "Ctrl-C in the first --checkpoint batch: exit 130" 130
        check_grep "Ctrl-C in the first --checkpoint batch: says so" "^lbq: error: interrupted: nothing written \(the first batch of 250 configurations had not finished\)$" "$ERR"
    fi
else
    skip "Ctrl-C cases" "needs /usr/bin/python3 with h5py"
fi

finish
